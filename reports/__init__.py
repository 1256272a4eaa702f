"""ReportLab renderers: plain data in (:mod:`reports.data`), PDF ``bytes`` out.

No Flask, no SQLAlchemy, no clock: the application computes every figure and
the generation time and hands them over as frozen dataclasses; the renderers
only lay them out.  Money is int fen, printed exactly by
:func:`reports.format.yuan`.  Text is set in an embedded CJK font
(:mod:`reports.fonts`) so the PDFs print identically from any viewer.
"""

from reports.receipt import render_receipt
from reports.statement import render_statement
from reports.summary import render_district_summary

__all__ = ["render_district_summary", "render_receipt", "render_statement"]
