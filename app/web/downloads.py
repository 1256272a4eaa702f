"""The one way a document leaves the app: :func:`send_document`, pages and API alike.

Guarantees: the content type is the document's own (a CSV's charset stated
once), the file name is given both as plain ASCII and as RFC 5987 UTF-8 (so a
Chinese name survives every browser), the answer is never cached (documents
carry money and personal data), and ``inline`` PDFs open in the browser for
printing rather than downloading.  A document whose body is chunks (one that
grows with the number of visits) is sent chunk by chunk as it is generated,
under the same headers: memory holds one chunk, never the file, and the
request (with its database session) stays open until the last chunk is sent.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, stream_with_context

from app.document import KINDS, MEDIA_TYPES, Document, Kind

__all__ = ["KINDS", "MEDIA_TYPES", "Document", "Kind", "send_document"]


def send_document(document: Document) -> Response:
    """``document`` as a file download (or inline, for a PDF to print).

    A streamed document: everything that can refuse the request (scope, a bad
    month) must have run before this is called: once the first chunk is out
    the status is 200.
    """
    if isinstance(document.body, bytes):
        response = Response(document.body, content_type=document.media_type)
    else:
        body = stream_with_context(iter(document.body))
        response = Response(body, content_type=document.media_type)
    filename = document.filename
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    disposition = "inline" if document.inline else "attachment"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
