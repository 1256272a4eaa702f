"""The one way a document leaves the app: PDF, CSV or XLSX bytes as a download.

Guarantees: the content type is the document's own (a CSV's charset stated
once), the file name is given both as plain ASCII and as RFC 5987 UTF-8 (so a
Chinese name survives every browser), the answer is never cached (documents
carry money and personal data), and ``inline`` PDFs open in the browser for
printing rather than downloading.  :func:`stream` sends a document that grows
with the number of visits chunk by chunk as it is generated, under the same
headers: memory holds one chunk, never the file, and the request (with its
database session) stays open until the last chunk is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from urllib.parse import quote

from flask import Response, stream_with_context

Kind = Literal["pdf", "csv", "xlsx"]

MIMETYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _file(response: Response, filename: str, inline: bool) -> Response:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _content_type(kind: Kind) -> str:
    return "text/csv; charset=utf-8" if kind == "csv" else MIMETYPES[kind]


def download(body: bytes, kind: Kind, filename: str, *, inline: bool = False) -> Response:
    """``body`` as a file named ``filename`` (which should end in ``.kind``)."""
    return _file(Response(body, content_type=_content_type(kind)), filename, inline)


def stream(chunks: Iterable[bytes], kind: Kind, filename: str) -> Response:
    """``chunks`` sent one by one as they are made, as a file named ``filename``.

    Everything that can refuse the request (scope, a bad month) must have run
    before this is called: once the first chunk is out the status is 200.
    """
    response = Response(stream_with_context(iter(chunks)), content_type=_content_type(kind))
    return _file(response, filename, inline=False)
