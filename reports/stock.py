"""A clinic's monthly drug stock statement (药品进销存月报表), A4 landscape.

Plain data in (quantities already written in the catalogue's unit, money in
fen), PDF bytes out: one row per item in the shape of the platform's stock
interface (期初 · 3503 采购入库 · 3505 销售出库 · 3501/3502 盘存调整 · 期末), the
flags with the visits behind them, and the signature lines.  Guarantee: each
row's closing is its opening plus purchases, less sales, plus adjustments (a
document where it is not is refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from app.money import format_yuan
from reports.base import PageGeometry, Renderer, text, text_fields


@dataclass(frozen=True)
class StockLine:
    national_code: str
    code: str
    name: str
    unit: str
    opening: int  # thousandths
    delivered: int
    delivered_amount: int  # fen
    dispensed: int
    adjusted: int
    closing: int


@dataclass(frozen=True)
class StockFlagLine:
    what: str  # the flag in words
    visits: str  # the receipts behind it


@dataclass(frozen=True)
class StockDocument:
    clinic_code: str
    clinic_name: str
    month: str
    generated_at: str
    lines: list[StockLine] = field(default_factory=list)
    flags: list[StockFlagLine] = field(default_factory=list)


class StockMismatch(ValueError):
    """A row's closing stock is not its opening plus the month's moves."""


def _q(milli: int) -> str:
    sign = "-" if milli < 0 else ""
    whole, frac = divmod(abs(milli), 1000)
    return sign + (str(whole) if not frac else f"{whole}.{frac:03d}".rstrip("0"))


class StockRenderer(Renderer):
    geometry = PageGeometry(landscape(A4), left=12 * mm, right=12 * mm, top=15 * mm, bottom=18 * mm)

    def __init__(self, doc: StockDocument) -> None:
        super().__init__()
        for line in doc.lines:
            if line.closing != line.opening + line.delivered - line.dispensed + line.adjusted:
                raise StockMismatch(line.code)
        self.doc = doc

    def title(self) -> str:
        return f"{self.doc.clinic_name}药品进销存月报表"

    def running_header(self) -> tuple[str, str]:
        return self.title(), f"月份：{self.doc.month}"

    def footer_note(self) -> str:
        return f"打印时间：{self.doc.generated_at}    数量单位：目录计价单位    金额单位：元"

    def story(self) -> list[Flowable]:
        d, s = self.doc, self.styles
        story: list[Flowable] = [
            text(self.title(), s["title"]),
            text_fields((f"卫生站编码：{d.clinic_code}", f"月份：{d.month}"), s["subtitle"]),
            Spacer(1, 3 * mm),
            text("一、进销存（医保平台 3501–3505 口径）", s["heading"]),
            self.data_table(
                [
                    "医保目录编码",
                    "机构编码",
                    "名称",
                    "单位",
                    "期初库存",
                    "采购入库(3503)",
                    "入库金额",
                    "销售出库(3505)",
                    "盘存调整(3501)",
                    "期末库存",
                ],
                [
                    [
                        self.cell(line.national_code, 44 * mm),
                        line.code,
                        self.cell(line.name, 46 * mm),
                        line.unit,
                        _q(line.opening),
                        _q(line.delivered),
                        format_yuan(line.delivered_amount),
                        _q(line.dispensed),
                        _q(line.adjusted),
                        _q(line.closing),
                    ]
                    for line in d.lines
                ],
                [44, 20, 46, 12, 22, 24, 22, 24, 24, 22],
                numeric_from=4,
                total=[
                    "合计",
                    "",
                    "",
                    "",
                    "",
                    "",
                    format_yuan(sum(line.delivered_amount for line in d.lines)),
                    "",
                    "",
                    "",
                ],
                total_span=6,
            ),
            Spacer(1, 4 * mm),
            text("二、风险提示", s["heading"]),
        ]
        if d.flags:
            story.append(
                self.data_table(
                    ["提示", "涉及收据"],
                    [[self.cell(f.what, 120 * mm), self.cell(f.visits, 140 * mm)] for f in d.flags],
                    [120, 140],
                    numeric_from=None,
                )
            )
        else:
            story.append(text("本月无进销存风险提示。", s["small"]))
        story.append(
            self.signature_block(("制表人", "乡村医生", "审核人"), self.geometry.frame_width)
        )
        return story


def render_stock(doc: StockDocument) -> bytes:
    return StockRenderer(doc).render()
