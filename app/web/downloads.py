"""The one way a document leaves the app: PDF, CSV or XLSX bytes as a download.

Guarantees: the content type is the document's own (a CSV's charset stated
once), the file name is given both as plain ASCII and as RFC 5987 UTF-8 (so a
Chinese name survives every browser), the answer is never cached (documents
carry money and personal data), and ``inline`` PDFs open in the browser for
printing rather than downloading.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from flask import Response

Kind = Literal["pdf", "csv", "xlsx"]

MIMETYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def download(body: bytes, kind: Kind, filename: str, *, inline: bool = False) -> Response:
    """``body`` as a file named ``filename`` (which should end in ``.kind``)."""
    content_type = "text/csv; charset=utf-8" if kind == "csv" else MIMETYPES[kind]
    response = Response(body, content_type=content_type)
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
