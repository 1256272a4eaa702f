"""The clinic's daily close sheet (门诊日结单), A4 portrait.

Plain data in (already-formatted times, masked names, int fen), PDF bytes out:
the day in sections — one per close (日结), then what was entered since the
last close — each with its visits (voided ones with their reasons; a void of
an earlier section's visit taken off as a negative line), its own subtotal
and cash; the whole day's total when there is more than one section; and the
signature lines.  Guarantee: the printed cash total is the sum of its kinds
and of the valid visits' patient amounts (a document where they differ is
refused), and each section's subtotal is the sum of its lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from app.glossary import zh
from app.money import format_yuan
from reports.base import PageGeometry, Renderer, text, text_fields


@dataclass(frozen=True)
class DailyRow:
    time: str
    receipt_number: str
    patient: str  # masked
    registration: int
    injection_fee: int
    patient_share: int
    cash: int
    total: int
    voided: bool = False
    void_reason: str = ""
    late: bool = False  # recorded after the day was closed
    # A visit of an earlier (closed) section voided in this one: its money comes off.
    reversal: bool = False


@dataclass(frozen=True)
class DailySection:
    """A part of the day: what one close closed, or what came after the last one."""

    title: str  # "第 1 次日结 2026-10-15 18:02 王医生" or "日结后录入（尚未日结）"
    rows: list[DailyRow] = field(default_factory=list)


@dataclass(frozen=True)
class DailyDocument:
    clinic_code: str
    clinic_name: str
    day: str
    generated_at: str
    closed: str = ""  # "2026-10-15 18:02 王医生" when closed (the last close)
    rows: list[DailyRow] = field(default_factory=list)  # the day in one section
    sections: list[DailySection] = field(default_factory=list)  # or cut at each close
    doctors: str = ""  # who recorded the day's visits, by name (never a login name)

    def parts(self) -> list[DailySection]:
        return self.sections or [DailySection("", self.rows)]


class DailyMismatch(ValueError):
    """A row's cash is not the sum of its kinds."""


class DailyRenderer(Renderer):
    geometry = PageGeometry(A4, left=15 * mm, right=15 * mm, top=15 * mm, bottom=18 * mm)

    def __init__(self, doc: DailyDocument) -> None:
        super().__init__()
        for row in doc.rows:
            if row.cash != row.registration + row.injection_fee + row.patient_share:
                raise DailyMismatch(row.receipt_number)
        self.doc = doc

    def title(self) -> str:
        return f"{self.doc.clinic_name}门诊日结单"

    def running_header(self) -> tuple[str, str]:
        return self.title(), f"日期：{self.doc.day}"

    def footer_note(self) -> str:
        return f"打印时间：{self.doc.generated_at}    金额单位：元"

    def story(self) -> list[Flowable]:
        d, s = self.doc, self.styles
        parts = d.parts()
        story: list[Flowable] = [
            text(self.title(), s["title"]),
            text_fields(
                (
                    f"卫生站编码：{d.clinic_code}",
                    f"日期：{d.day}",
                    f"日结：{d.closed}" if d.closed else "日结：未日结",
                ),
                s["subtitle"],
            ),
            *([text(f"医师：{d.doctors}", s["subtitle"])] if d.doctors else []),
        ]
        for number, part in enumerate(parts, start=1):
            story.append(Spacer(1, 3 * mm))
            if part.title:
                story.append(text(f"{number}、{part.title}", s["heading"]))
            story += self.section(part.rows)
        if len(parts) > 1:
            day_rows = [r for part in parts for r in part.rows]
            story += [
                Spacer(1, 3 * mm),
                text("全天合计（各次日结与日结后录入之和）", s["heading"]),
                self.sums_table(day_rows),
            ]
        if any(r.late for p in parts for r in p.rows):
            story.append(text("注：标“补录”的就诊在当天第一次日结之后录入。", s["small"]))
        if any(r.reversal for p in parts for r in p.rows):
            story.append(
                text("注：标“冲减”的是已日结的就诊在其后作废，金额从作废所在部分扣除。", s["small"])
            )
        story.append(
            self.signature_block(("收费人", "乡村医生", "复核人"), self.geometry.frame_width)
        )
        return story

    @staticmethod
    def _signed(rows: list[DailyRow]) -> list[tuple[int, DailyRow]]:
        """The rows that count, each with its sign: valid visits +, voids of earlier ones −."""
        return [(-1 if r.reversal else 1, r) for r in rows if r.reversal or not r.voided]

    def sums_table(self, rows: list[DailyRow]) -> Flowable:
        y, signed = format_yuan, self._signed(rows)
        return self.data_table(
            ["人次", zh("registration"), zh("injection"), zh("patient_share"), zh("cash")],
            [
                [
                    str(sum(sign for sign, _ in signed)),
                    y(sum(sign * r.registration for sign, r in signed)),
                    y(sum(sign * r.injection_fee for sign, r in signed)),
                    y(sum(sign * r.patient_share for sign, r in signed)),
                    y(sum(sign * r.cash for sign, r in signed)),
                ]
            ],
            [25, 35, 35, 50, 35],
            numeric_from=0,
        )

    def section(self, rows: list[DailyRow]) -> list[Flowable]:
        s, y = self.styles, format_yuan
        signed = self._signed(rows)
        voided = [r for r in rows if r.voided and not r.reversal]
        out: list[Flowable] = [
            self.sums_table(rows),
            Spacer(1, 3 * mm),
            self.data_table(
                [
                    "时间",
                    "收据号",
                    "患者",
                    *(zh(k) for k in ("registration", "injection", "patient_share", "patient")),
                    zh("total"),
                ],
                [
                    [
                        r.time + ("（补录）" if r.late else "") + ("（冲减）" if sign < 0 else ""),
                        r.receipt_number,
                        self.cell(r.patient, 28 * mm),
                        y(sign * r.registration),
                        y(sign * r.injection_fee),
                        y(sign * r.patient_share),
                        y(sign * r.cash),
                        y(sign * r.total),
                    ]
                    for sign, r in signed
                ],
                [22, 36, 26, 16, 16, 30, 18, 18],
                numeric_from=3,
                total=[
                    "小计",
                    "",
                    "",
                    y(sum(sign * r.registration for sign, r in signed)),
                    y(sum(sign * r.injection_fee for sign, r in signed)),
                    y(sum(sign * r.patient_share for sign, r in signed)),
                    y(sum(sign * r.cash for sign, r in signed)),
                    y(sum(sign * r.total for sign, r in signed)),
                ],
                total_span=3,
            ),
        ]
        if voided:
            out += [
                Spacer(1, 2 * mm),
                text("作废记录", s["body"]),
                self.data_table(
                    ["时间", "收据号", "患者", "金额", "作废原因"],
                    [
                        [
                            r.time,
                            r.receipt_number,
                            self.cell(r.patient, 28 * mm),
                            y(r.cash),
                            self.cell(r.void_reason, 64 * mm),
                        ]
                        for r in voided
                    ],
                    [24, 40, 28, 26, 64],
                    numeric_from=None,
                ),
            ]
        return out


def render_daily(doc: DailyDocument) -> bytes:
    return DailyRenderer(doc).render()
