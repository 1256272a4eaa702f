"""A document the app hands out: its file name, media type and bytes, together.

Guarantees: every PDF, CSV and XLSX the pages and the API send is a
:class:`Document`, made by its area's ``documents`` module, and leaves through
one function (:func:`app.web.downloads.send_document`), so a statement, a
summary or a receipt is named, typed and served the same way by a page and by
the API.  A document that grows with the number of visits (a CSV) carries its
bytes as chunks, made as they are sent.  Nothing here imports Flask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["pdf", "csv", "xlsx"]
KINDS: tuple[Kind, ...] = ("pdf", "csv", "xlsx")

MEDIA_TYPES: dict[Kind, str] = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Document:
    filename: str
    kind: Kind
    body: bytes | Iterable[bytes]  # bytes, or chunks made while they are sent
    inline: bool = False  # a PDF to open in the browser (for printing), not to save

    @property
    def media_type(self) -> str:
        """The content type, a CSV's charset stated."""
        media_type = MEDIA_TYPES[self.kind]
        return f"{media_type}; charset=utf-8" if self.kind == "csv" else media_type

    @property
    def streamed(self) -> bool:
        return not isinstance(self.body, bytes)
