"""The clinic's daily close sheet (门诊日结单), A4 portrait.

Plain data in (already-formatted times, masked names, int fen), PDF bytes out:
counts and cash by kind, every visit of the day (voided ones with their
reasons, late entries marked), and the signature lines.  Guarantee: the
printed cash total is the sum of its kinds and of the valid visits' patient
amounts (a document where they differ is refused).
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


@dataclass(frozen=True)
class DailyDocument:
    clinic_code: str
    clinic_name: str
    day: str
    generated_at: str
    closed: str = ""  # "2026-10-15 18:02 王建华（D440114000001）" when closed
    rows: list[DailyRow] = field(default_factory=list)
    doctors: str = ""  # who recorded the day's visits, by name (never a login name)


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
        d, s, y = self.doc, self.styles, format_yuan
        valid = [r for r in d.rows if not r.voided]
        voided = [r for r in d.rows if r.voided]
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
            Spacer(1, 3 * mm),
            text("一、收费汇总", s["heading"]),
            self.data_table(
                ["人次", zh("registration"), zh("injection"), zh("patient_share"), zh("cash")],
                [
                    [
                        str(len(valid)),
                        y(sum(r.registration for r in valid)),
                        y(sum(r.injection_fee for r in valid)),
                        y(sum(r.patient_share for r in valid)),
                        y(sum(r.cash for r in valid)),
                    ]
                ],
                [25, 35, 35, 50, 35],
                numeric_from=0,
            ),
            Spacer(1, 4 * mm),
            text("二、就诊明细", s["heading"]),
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
                        r.time + ("（补录）" if r.late else ""),
                        r.receipt_number,
                        self.cell(r.patient, 28 * mm),
                        y(r.registration),
                        y(r.injection_fee),
                        y(r.patient_share),
                        y(r.cash),
                        y(r.total),
                    ]
                    for r in valid
                ],
                [22, 36, 26, 16, 16, 30, 18, 18],
                numeric_from=3,
                total=[
                    "合计",
                    "",
                    "",
                    y(sum(r.registration for r in valid)),
                    y(sum(r.injection_fee for r in valid)),
                    y(sum(r.patient_share for r in valid)),
                    y(sum(r.cash for r in valid)),
                    y(sum(r.total for r in valid)),
                ],
                total_span=3,
            ),
        ]
        if voided:
            story += [
                Spacer(1, 4 * mm),
                text("三、作废记录", s["heading"]),
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
        if any(r.late for r in d.rows):
            story.append(text("注：标“补录”的就诊在日结之后录入。", s["small"]))
        story.append(
            self.signature_block(("收费人", "乡村医生", "复核人"), self.geometry.frame_width)
        )
        return story


def render_daily(doc: DailyDocument) -> bytes:
    return DailyRenderer(doc).render()
