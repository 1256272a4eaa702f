"""The CJK font every report is set in.

Guarantee: the font is registered with ReportLab at most once per process,
whatever the number of threads rendering at the same time.  WenQuanYi Micro
Hei is embedded (as subsets) so a PDF prints identically on any viewer and
printer.  Only if no font file can be found do we fall back to the standard
CID font ``STSong-Light``, which is *not* embedded: the viewer must supply an
Adobe-GB1 font, so we log a warning.

Search order: the ``REPORTS_FONT_PATH`` environment variable, then the usual
Debian/Ubuntu, Fedora and Alpine locations of ``wqy-microhei.ttc``, then the
copy of the same file that the ``paperang-p2-fonts-cjk`` package (a dependency,
installed by ``make install``) ships, so a fresh machine without the system
font package still embeds its font.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger(__name__)

FONT_PATH_ENV = "REPORTS_FONT_PATH"
EMBEDDED_FONT_NAME = "WenQuanYiMicroHei"
FALLBACK_FONT_NAME = "STSong-Light"
DEFAULT_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian, Ubuntu
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora, RHEL
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",  # Arch
    "/usr/share/fonts/wqy-microhei.ttc",
    "/usr/local/share/fonts/wqy-microhei.ttc",
)


@dataclass(frozen=True)
class CJKFont:
    name: str
    embedded: bool
    path: str | None = None


# The Python package that ships wqy-microhei.ttc (byte for byte Debian's file).
FONT_PACKAGE = "paperang_p2_fonts_cjk"


def packaged_font_path() -> str | None:
    """Where the font package's ``wqy-microhei.ttc`` is, if the package is installed."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, "fonts", "wqy-microhei.ttc")
        if os.path.isfile(path):
            return path
    return None


def font_candidates() -> list[str]:
    """Paths to try: the environment override, the system's font, the packaged one."""
    override = os.environ.get(FONT_PATH_ENV, "").strip()
    packaged = packaged_font_path()
    return (
        ([override] if override else [])
        + list(DEFAULT_FONT_PATHS)
        + ([packaged] if packaged else [])
    )


def _register_family(name: str) -> None:
    # The font has no bold or italic face; map them to the regular face so a
    # stray <b> in a Paragraph does not fall back to Helvetica (no CJK glyphs).
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(name, bold, italic, name)


def load_cjk_font(candidates: Iterable[str]) -> CJKFont:
    """Register the first usable font of ``candidates`` (or the CID fallback)."""
    for path in candidates:
        if not os.path.isfile(path):
            continue
        try:
            # subfontIndex 0 of the .ttc is the proportional Micro Hei face.
            font = TTFont(EMBEDDED_FONT_NAME, path, subfontIndex=0)
        except TTFError as error:
            log.warning("cannot use font %s: %s", path, error)
            continue
        pdfmetrics.registerFont(font)
        _register_family(EMBEDDED_FONT_NAME)
        return CJKFont(EMBEDDED_FONT_NAME, embedded=True, path=path)
    log.warning(
        "WenQuanYi Micro Hei not found (set %s); PDFs will use %s and will NOT embed their font",
        FONT_PATH_ENV,
        FALLBACK_FONT_NAME,
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT_NAME))
    _register_family(FALLBACK_FONT_NAME)
    return CJKFont(FALLBACK_FONT_NAME, embedded=False)


_lock = threading.Lock()
_font: CJKFont | None = None


def registered_font() -> CJKFont:
    """The process-wide CJK font, registered on first use."""
    global _font
    if _font is None:
        with _lock:
            if _font is None:  # another thread may have won the race
                _font = load_cjk_font(font_candidates())
    return _font


def cjk_font_name() -> str:
    return registered_font().name


def font_is_embedded() -> bool:
    return registered_font().embedded
