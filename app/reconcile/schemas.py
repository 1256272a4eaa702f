"""The shape of one row of the fund's settlement detail file (load: shape only).

Columns are named as the national medical-insurance platform names its
settlement fields; money is yuan (negative on a reversed settlement);
``setl_time`` is Asia/Shanghai local time.  The platform's fuller columns
(:data:`OPTIONAL_COLUMNS`) are read when present; any others (names …) are
ignored and never stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from app.fields import Text, Yuan
from app.localtime import SHANGHAI

COLUMNS = (
    "fixmedins_code",
    "setl_id",
    "mdtrt_id",
    "certno",
    "setl_time",
    "medfee_sumamt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_cash_pay",
)

# The platform's fuller settlement columns (issue 21): read when the file has
# them, an empty cell or ``null`` is none; they give a difference its reason.
OPTIONAL_TEXT = ("medins_setl_id", "psn_no", "insutype", "med_type", "refd_setl_flag")
OPTIONAL_MONEY = (
    "acct_pay",
    "psn_part_amt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
)
OPTIONAL_COLUMNS = OPTIONAL_TEXT + OPTIONAL_MONEY

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


class LocalTime(fields.Field):
    """A local (Asia/Shanghai) time, as text or a spreadsheet datetime, loaded aware."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": "must be a time such as 2026-10-15 09:30:00",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, str):
            for fmt in _TIME_FORMATS:
                try:
                    moment = dt.datetime.strptime(value.strip(), fmt)
                    break
                except ValueError:
                    continue
            else:
                raise self.make_error("invalid")
        else:
            raise self.make_error("invalid")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=SHANGHAI)
        if (
            not dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
            <= moment
            <= dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
        ):
            raise self.make_error("invalid")
        return moment.astimezone(dt.UTC)


def _money() -> Yuan:
    return Yuan(required=True, allow_negative=True)


class SettlementRowSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the platform's other columns are not ours to keep

    fixmedins_code = Text(required=True, validate=validate.Length(min=1, max=30))
    setl_id = Text(required=True, validate=validate.Length(min=1, max=40))
    mdtrt_id = Text(required=True, validate=validate.Length(min=1, max=40))
    certno = Text(required=True, validate=validate.Length(min=1, max=30))
    setl_time = LocalTime(required=True)
    medfee_sumamt = _money()
    inscp_scp_amt = _money()
    act_pay_dedc = _money()
    hifp_pay = _money()
    fund_pay_sumamt = _money()
    psn_cash_pay = _money()
    medins_setl_id = Text(load_default="", validate=validate.Length(max=40))
    psn_no = Text(load_default="", validate=validate.Length(max=30))
    insutype = Text(load_default="", validate=validate.Length(max=6))
    med_type = Text(load_default="", validate=validate.Length(max=6))
    refd_setl_flag = Text(load_default="", validate=validate.OneOf(("", "0", "1")))
    acct_pay = Yuan(load_default=0, allow_negative=True)
    psn_part_amt = Yuan(load_default=0, allow_negative=True)
    fulamt_ownpay_amt = Yuan(load_default=0, allow_negative=True)
    overlmt_selfpay = Yuan(load_default=0, allow_negative=True)
    preselfpay_amt = Yuan(load_default=0, allow_negative=True)
    hifmi_pay = Yuan(load_default=0, allow_negative=True)
    maf_pay = Yuan(load_default=0, allow_negative=True)
    oth_pay = Yuan(load_default=0, allow_negative=True)
