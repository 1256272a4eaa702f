"""The simulated platform: a small WSGI app over its own SQLite file.

Fund rules (its own, not the clinic's): an item not in its catalogue is paid
in full by the person (``fulamt_ownpay_amt``); class 03 likewise; a price
ceiling puts the excess in ``overlmt_amt``; the item's ``selfpay_prop`` puts
that share in ``preselfpay_amt``; the rest is in scope (``inscp_scp_amt``) and
the fund pays ``fund_ratio`` of it, up to what is left of the person's
``annual_cap`` for the year.  A person whose insurance is not in force on the
visit day (lapsed) is registered and settled with a fund of 0.

Every message is kept by ``msgid``: a repeated msgid gets the first answer,
and 2601 undoes what the original message did (a registration, a fee upload,
a settlement — its fund goes back to the person's year).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Flask, jsonify, request

SCHEMA = """
CREATE TABLE IF NOT EXISTS person (certno TEXT PRIMARY KEY, psn_no TEXT UNIQUE, name TEXT,
    insutype TEXT, insured_from TEXT, insured_to TEXT);
CREATE TABLE IF NOT EXISTS item (code TEXT PRIMARY KEY, chrgitm_lv TEXT, selfpay_prop TEXT,
    price_ceiling INTEGER, med_chrgitm_type TEXT);
CREATE TABLE IF NOT EXISTS registration (mdtrt_id TEXT PRIMARY KEY, psn_no TEXT,
    insutype TEXT, fixmedins_code TEXT, ipt_otp_no TEXT, begntime TEXT, status TEXT);
CREATE TABLE IF NOT EXISTS fee (feedetl_sn TEXT, mdtrt_id TEXT, chrg_bchno TEXT,
    amount INTEGER, fulamt INTEGER, overlmt INTEGER, preself INTEGER, inscp INTEGER,
    status TEXT);
CREATE TABLE IF NOT EXISTS settlement (setl_id TEXT PRIMARY KEY, mdtrt_id TEXT, psn_no TEXT,
    fixmedins_code TEXT, ipt_otp_no TEXT, year INTEGER, medfee INTEGER, fund INTEGER,
    status TEXT, setl_time TEXT);
CREATE TABLE IF NOT EXISTS message (msgid TEXT PRIMARY KEY, infno TEXT, fixmedins_code TEXT,
    effect TEXT, answer TEXT, reversed INTEGER DEFAULT 0, received_at TEXT);
CREATE TABLE IF NOT EXISTS setting (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER);
"""

DEFAULT_RULES = {"fund_ratio": "0.70", "annual_cap": 60000, "enrol_unknown": False}
DEFAULT_MODE: dict[str, Any] = {
    "latency_ms": 0,  # every message waits this long
    "refuse": [],  # infnos answered infcode -1 ("*" = all)
    "silent": False,  # no answer at all (the client times out); nothing done
    "lose": {},  # infno → how many to process and then not answer
    "hang_seconds": 30,  # how long silence / a lost answer keeps the connection
}


def fen(value: Any) -> int:
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan(fen_value: int) -> str:
    sign = "-" if fen_value < 0 else ""
    return f"{sign}{abs(fen_value) // 100}.{abs(fen_value) % 100:02d}"


def ratio_of(amount: int, ratio: Decimal) -> int:
    return int((Decimal(amount) * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Store:
    """The simulator's own database; one lock: every message is a short transaction."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # A simulator: durable against its own crash (WAL), not a power cut; no fsync a message.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def setting(self, key: str, default: Any) -> Any:
        row = self.db.execute("SELECT value FROM setting WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def put(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO setting(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )

    def next(self, name: str) -> int:
        self.db.execute(
            "INSERT INTO counter(name, value) VALUES (?, 1) "
            "ON CONFLICT(name) DO UPDATE SET value=value+1",
            (name,),
        )
        return int(self.db.execute("SELECT value FROM counter WHERE name=?", (name,)).fetchone()[0])


class Refuse(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _now() -> str:
    return f"{dt.datetime.now():%Y-%m-%d %H:%M:%S}"


def create_app(path: str) -> Flask:
    app = Flask("platform_sim")
    store = Store(path)
    app.extensions["store"] = store

    def mode() -> dict[str, Any]:
        return {**DEFAULT_MODE, **store.setting("mode", {})}

    def rules() -> dict[str, Any]:
        return {**DEFAULT_RULES, **store.setting("rules", {})}

    @app.post("/")
    def exchange() -> Any:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not body.get("msgid") or not body.get("infno"):
            return jsonify({"infcode": "-1", "err_msg": "报文格式错误", "output": {}})
        how = mode()
        if how["latency_ms"]:
            time.sleep(how["latency_ms"] / 1000)
        if how["silent"]:
            time.sleep(how["hang_seconds"])
            return ("", 504)
        infno = str(body["infno"])
        if "*" in how["refuse"] or infno in how["refuse"]:
            return jsonify(_answer(body, "-1", "系统维护中，请稍后再试", {}))
        with store.lock:
            answer = _handle(store, rules(), body)
            lose = how["lose"].get(infno, 0)
            if lose:
                store.put("mode", {**store.setting("mode", {}),
                                   "lose": {**how["lose"], infno: lose - 1}})  # fmt: skip
        if lose:
            time.sleep(how["hang_seconds"])
            return ("", 504)
        return jsonify(answer)

    @app.post("/admin/mode")
    def set_mode() -> Any:
        with store.lock:
            store.put("mode", {**store.setting("mode", {}), **(request.get_json() or {})})
        return jsonify(mode())

    @app.post("/admin/rules")
    def set_rules() -> Any:
        with store.lock:
            store.put("rules", {**store.setting("rules", {}), **(request.get_json() or {})})
        return jsonify(rules())

    @app.post("/admin/persons")
    def load_persons() -> Any:
        rows = request.get_json() or []
        with store.lock:
            store.db.execute("BEGIN")
            for p in rows:
                store.db.execute(
                    "INSERT INTO person(certno, psn_no, name, insutype, insured_from, insured_to) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(certno) DO UPDATE SET "
                    "name=excluded.name, insutype=excluded.insutype, "
                    "insured_from=excluded.insured_from, insured_to=excluded.insured_to",
                    (p["certno"], p.get("psn_no") or f"P{p['certno']}", p.get("name", ""),
                     p.get("insutype", "390"), p.get("insured_from") or "",
                     p.get("insured_to") or ""),
                )  # fmt: skip
            store.db.execute("COMMIT")
        return jsonify({"loaded": len(rows)})

    @app.post("/admin/catalogue")
    def load_catalogue() -> Any:
        rows = request.get_json() or []
        with store.lock:
            store.db.execute("BEGIN")
            for r in rows:
                ceiling = r.get("price_ceiling")
                store.db.execute(
                    "INSERT INTO item(code, chrgitm_lv, selfpay_prop, price_ceiling, "
                    "med_chrgitm_type) VALUES (?, ?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET "
                    "chrgitm_lv=excluded.chrgitm_lv, selfpay_prop=excluded.selfpay_prop, "
                    "price_ceiling=excluded.price_ceiling, "
                    "med_chrgitm_type=excluded.med_chrgitm_type",
                    (r["code"], r.get("chrgitm_lv", "01"), str(r.get("selfpay_prop") or "0"),
                     None if ceiling in (None, "") else fen(ceiling),
                     r.get("med_chrgitm_type", "09")),
                )  # fmt: skip
            store.db.execute("COMMIT")
        return jsonify({"loaded": len(rows)})

    @app.get("/admin/settlements")
    def settlements() -> Any:
        with store.lock:
            rows = [dict(r) for r in store.db.execute("SELECT * FROM settlement ORDER BY setl_id")]
        return jsonify(rows)

    @app.get("/admin/health")
    def health() -> Any:
        return jsonify({"ok": True})

    _daily_admin(app, store)
    return app


def _answer(body: dict[str, Any], infcode: str, err_msg: str, output: dict[str, Any]) -> dict:
    return {
        "infcode": infcode,
        "inf_refmsgid": f"SIM{body.get('msgid', '')}",
        "refmsg_time": _now(),
        "respond_time": _now(),
        "err_msg": err_msg,
        "output": output,
        "warn_msg": "",
    }


def _handle(store: Store, rules: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    db = store.db
    known = db.execute("SELECT answer FROM message WHERE msgid=?", (body["msgid"],)).fetchone()
    if known is not None:  # the same message again: the same answer, nothing done twice
        return dict(json.loads(known["answer"]))
    db.execute("BEGIN IMMEDIATE")
    try:
        try:
            effect, output = HANDLERS.get(str(body["infno"]), _unknown_infno)(
                store, rules, body, dict(body.get("input") or {})
            )
            answer = _answer(body, "0", "", output)
        except Refuse as exc:
            effect, answer = {}, _answer(body, "-1", exc.message, {})
        db.execute(
            "INSERT INTO message(msgid, infno, fixmedins_code, effect, answer, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (body["msgid"], body["infno"], body.get("fixmedins_code", ""), json.dumps(effect),
             json.dumps(answer, ensure_ascii=False), _now()),
        )  # fmt: skip
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return answer


Handler = Any


def _unknown_infno(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    raise Refuse(f"不支持的交易 {body['infno']}")


def _sign_in(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    sign_no = f"S{store.next('sign_no'):012d}"
    return {}, {"signinoutb": {"sign_time": _now(), "sign_no": sign_no}}


def _person_row(store: Store, rules: dict, certno: str) -> sqlite3.Row:
    row = store.db.execute("SELECT * FROM person WHERE certno=?", (certno,)).fetchone()
    if row is None and rules.get("enrol_unknown"):
        store.db.execute(
            "INSERT INTO person(certno, psn_no, name, insutype, insured_from, insured_to) "
            "VALUES (?, ?, '', '390', '2000-01-01', '')",
            (certno, f"P{certno}"),
        )
        row = store.db.execute("SELECT * FROM person WHERE certno=?", (certno,)).fetchone()
    if row is None:
        raise Refuse("未查询到该人员的参保信息")
    return row


def _person(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    inner = data.get("data") or {}
    row = _person_row(store, rules, str(inner.get("certno") or inner.get("mdtrt_cert_no") or ""))
    paused = ""
    if row["insured_to"]:  # insured through insured_to: paused from the next day
        paused = f"{dt.date.fromisoformat(row['insured_to']) + dt.timedelta(days=1)}"
    return {}, {
        "baseinfo": {"psn_no": row["psn_no"], "psn_name": row["name"], "certno": row["certno"]},
        "insuinfo": [
            {
                "insutype": row["insutype"],
                "psn_insu_stas": "1",
                "psn_insu_date": row["insured_from"],
                "paus_insu_date": paused,
                "balc": "0.00",
            }
        ],
    }


def _register(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    inner = data.get("data") or {}
    if not store.db.execute(
        "SELECT 1 FROM person WHERE psn_no=?", (inner.get("psn_no"),)
    ).fetchone():
        raise Refuse("人员编号不存在")
    mdtrt_id = f"M{store.next('mdtrt'):014d}"
    store.db.execute(
        "INSERT INTO registration VALUES (?, ?, ?, ?, ?, ?, 'active')",
        (mdtrt_id, inner.get("psn_no"), inner.get("insutype"), body.get("fixmedins_code"),
         inner.get("ipt_otp_no"), inner.get("begntime")),
    )  # fmt: skip
    return {"mdtrt_id": mdtrt_id}, {"data": {"mdtrt_id": mdtrt_id, "psn_no": inner.get("psn_no"),
                                             "ipt_otp_no": inner.get("ipt_otp_no")}}  # fmt: skip


def _active_registration(store: Store, mdtrt_id: str) -> sqlite3.Row:
    row = store.db.execute(
        "SELECT * FROM registration WHERE mdtrt_id=? AND status='active'", (mdtrt_id,)
    ).fetchone()
    if row is None:
        raise Refuse(f"就诊 {mdtrt_id} 不存在或已撤销")
    return row


def _visit_info(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    _active_registration(store, str((data.get("mdtrtinfo") or {}).get("mdtrt_id")))
    return {}, {}


def _fee_detail(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    lines = data.get("feedetail") or []
    if not lines:
        raise Refuse("费用明细为空")
    results = []
    batch = str(lines[0].get("chrg_bchno"))
    mdtrt_id = str(lines[0].get("mdtrt_id"))
    _active_registration(store, mdtrt_id)
    for line in lines:
        amount = fen(line["det_item_fee_sumamt"])
        item = store.db.execute(
            "SELECT * FROM item WHERE code=?", (line.get("med_list_codg"),)
        ).fetchone()
        cnt = Decimal(str(line.get("cnt") or "1"))
        if item is None or item["chrgitm_lv"] == "03":
            fulamt, over, preself, prop, ceiling = amount, 0, 0, Decimal(1), 0
        else:
            ceiling = item["price_ceiling"] or 0
            over = max(0, amount - ratio_of(ceiling, cnt)) if item["price_ceiling"] else 0
            prop = Decimal(item["selfpay_prop"] or "0")
            preself = ratio_of(amount - over, prop)
            fulamt = 0
        inscp = amount - fulamt - over - preself
        store.db.execute(
            "INSERT INTO fee VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active')",
            (line.get("feedetl_sn"), mdtrt_id, batch, amount, fulamt, over, preself, inscp),
        )
        results.append({
            "feedetl_sn": line.get("feedetl_sn"),
            "det_item_fee_sumamt": yuan(amount),
            "cnt": str(cnt),
            "pric": line.get("pric"),
            "selfpay_prop": str(prop),
            "pric_uplmt_amt": yuan(ceiling),
            "fulamt_ownpay_amt": yuan(fulamt),
            "overlmt_amt": yuan(over),
            "preselfpay_amt": yuan(preself),
            "inscp_scp_amt": yuan(inscp),
            "chrgitm_lv": "03" if item is None else item["chrgitm_lv"],
            "med_chrgitm_type": "14" if item is None else item["med_chrgitm_type"],
        })  # fmt: skip
    return {"mdtrt_id": mdtrt_id, "chrg_bchno": batch}, {"result": results}


def _compute(store: Store, rules: dict, inner: dict) -> dict[str, Any]:
    mdtrt_id = str(inner.get("mdtrt_id"))
    reg = _active_registration(store, mdtrt_id)
    fees = store.db.execute(
        "SELECT * FROM fee WHERE mdtrt_id=? AND chrg_bchno=? AND status='active'",
        (mdtrt_id, inner.get("chrg_bchno")),
    ).fetchall()
    if not fees:
        raise Refuse("无待结算的费用明细")
    medfee = sum(f["amount"] for f in fees)
    if fen(inner.get("medfee_sumamt") or 0) != medfee:
        raise Refuse(f"医疗费总额 {inner.get('medfee_sumamt')} 与明细合计 {yuan(medfee)} 不符")
    person = store.db.execute("SELECT * FROM person WHERE psn_no=?", (reg["psn_no"],)).fetchone()
    day = str(reg["begntime"] or "")[:10]
    lapsed = (bool(person["insured_to"]) and person["insured_to"] < day) or (
        bool(person["insured_from"]) and person["insured_from"] > day
    )
    inscp = sum(f["inscp"] for f in fees)
    year = int(day[:4])
    used = store.db.execute(
        "SELECT COALESCE(SUM(fund), 0) FROM settlement WHERE psn_no=? AND year=? "
        "AND status='settled'",
        (reg["psn_no"], year),
    ).fetchone()[0]
    fund = 0 if lapsed else ratio_of(inscp, Decimal(str(rules["fund_ratio"])))
    fund = max(0, min(fund, int(rules["annual_cap"]) - int(used)))
    return {
        "reg": reg, "medfee": medfee, "fund": fund, "year": year,
        "fulamt": sum(f["fulamt"] for f in fees), "over": sum(f["overlmt"] for f in fees),
        "preself": sum(f["preself"] for f in fees), "inscp": inscp,
    }  # fmt: skip


def _setlinfo(c: dict[str, Any], setl_id: str) -> dict[str, Any]:
    person_part = c["medfee"] - c["fund"]
    return {
        "setl_id": setl_id,
        "mdtrt_id": c["reg"]["mdtrt_id"],
        "psn_no": c["reg"]["psn_no"],
        "medins_setl_id": c["reg"]["ipt_otp_no"],
        "medfee_sumamt": yuan(c["medfee"]),
        "fulamt_ownpay_amt": yuan(c["fulamt"]),
        "overlmt_selfpay": yuan(c["over"]),
        "preselfpay_amt": yuan(c["preself"]),
        "inscp_scp_amt": yuan(c["inscp"]),
        "act_pay_dedc": "0.00",
        "hifp_pay": yuan(c["fund"]),
        "hifmi_pay": "0.00",
        "maf_pay": "0.00",
        "oth_pay": "0.00",
        "fund_pay_sumamt": yuan(c["fund"]),
        "acct_pay": "0.00",
        "psn_part_amt": yuan(person_part),
        "psn_cash_pay": yuan(person_part),
        "balc": "0.00",
        "setl_time": _now(),
    }


def _settleable(store: Store, rules: dict, inner: dict) -> dict[str, Any]:
    """2206 and 2207 alike: the visit's figures by this platform's rules, or a refusal."""
    settled = store.db.execute(
        "SELECT 1 FROM settlement WHERE mdtrt_id=? AND status='settled'", (inner.get("mdtrt_id"),)
    ).fetchone()
    if settled:
        raise Refuse("该就诊已结算，不能重复结算")
    return _compute(store, rules, inner)


def _pre_settle(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    """2206: what 2207 would settle, by the same rules; nothing is recorded."""
    return {}, {"setlinfo": _setlinfo(_settleable(store, rules, data.get("data") or {}), "")}


def _settle(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    inner = data.get("data") or {}
    c = _settleable(store, rules, inner)
    setl_id = f"T{store.next('setl'):014d}"
    store.db.execute(
        "INSERT INTO settlement VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'settled', ?)",
        (setl_id, c["reg"]["mdtrt_id"], c["reg"]["psn_no"], c["reg"]["fixmedins_code"],
         c["reg"]["ipt_otp_no"], c["year"], c["medfee"], c["fund"], _now()),
    )  # fmt: skip
    return {"setl_id": setl_id}, {"setlinfo": _setlinfo(c, setl_id)}


def _reverse_settlement(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    inner = data.get("data") or {}
    done = store.db.execute(
        "UPDATE settlement SET status='reversed' WHERE setl_id=? AND status='settled'",
        (inner.get("setl_id"),),
    ).rowcount
    if not done:
        raise Refuse(f"结算 {inner.get('setl_id')} 不存在或已撤销")
    return {"reversed_setl_id": inner.get("setl_id")}, {"setlinfo": {"setl_id": inner["setl_id"]}}


def _undo_fee(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    inner = data.get("data") or {}
    store.db.execute(
        "UPDATE fee SET status='undone' WHERE mdtrt_id=? AND chrg_bchno=?",
        (inner.get("mdtrt_id"), inner.get("chrg_bchno")),
    )
    return {}, {}


def _undo_register(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    inner = data.get("data") or {}
    if store.db.execute(
        "SELECT 1 FROM settlement WHERE mdtrt_id=? AND status='settled'", (inner.get("mdtrt_id"),)
    ).fetchone():
        raise Refuse("已结算的就诊不能撤销挂号")
    store.db.execute(
        "UPDATE registration SET status='cancelled' WHERE mdtrt_id=?", (inner.get("mdtrt_id"),)
    )
    return {}, {}


def _reverse_unknown(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    """冲正: undo whatever the original message did; nothing if it never arrived."""
    inner = data.get("data") or {}
    original = store.db.execute(
        "SELECT * FROM message WHERE msgid=?", (inner.get("omsgid"),)
    ).fetchone()
    if original is None or original["reversed"]:
        return {}, {"data": {"omsgid": inner.get("omsgid"), "result": "nothing to reverse"}}
    effect = json.loads(original["effect"] or "{}")
    if "setl_id" in effect:
        store.db.execute(
            "UPDATE settlement SET status='reversed' WHERE setl_id=?", (effect["setl_id"],)
        )
    if "chrg_bchno" in effect:
        store.db.execute(
            "UPDATE fee SET status='undone' WHERE mdtrt_id=? AND chrg_bchno=?",
            (effect["mdtrt_id"], effect["chrg_bchno"]),
        )
    elif "mdtrt_id" in effect:
        store.db.execute(
            "UPDATE registration SET status='cancelled' WHERE mdtrt_id=?", (effect["mdtrt_id"],)
        )
    if "reversed_setl_id" in effect:
        store.db.execute(
            "UPDATE settlement SET status='settled' WHERE setl_id=?", (effect["reversed_setl_id"],)
        )
    store.db.execute("UPDATE message SET reversed=1 WHERE msgid=?", (inner.get("omsgid"),))
    return {}, {"data": {"omsgid": inner.get("omsgid"), "result": "reversed"}}


HANDLERS: dict[str, Handler] = {
    "9001": _sign_in,
    "1101": _person,
    "2201": _register,
    "2202": _undo_register,
    "2203": _visit_info,
    "2204": _fee_detail,
    "2205": _undo_fee,
    "2206": _pre_settle,
    "2207": _settle,
    "2208": _reverse_settlement,
    "2601": _reverse_unknown,
    "3201": lambda *a: _daily_totals(*a),
    "3202": lambda *a: _detail_check(*a),
    "9101": lambda *a: _file_upload(*a),
    "9102": lambda *a: _file_download(*a),
}


# --- daily reconciliation (issue 21): 3201 totals, 9101 upload, 3202 check, 9102 download ---
#
# The platform's rows of a day: one per settlement of a visit that day (the visit's day:
# the simulator's clock is the wall clock, the clinic's its own), and for a
# settlement refunded — reversed by the clinic (2208) or at the platform's own desk — the
# original flagged refd_setl_flag 1 and its negative.  Admin endpoints let a test make a
# desk refund the clinic never hears of, lose a settlement, or alter a settled amount.

_DAILY_SCHEMA = """
CREATE TABLE IF NOT EXISTS sim_file (file_qury_no TEXT PRIMARY KEY, content BLOB);
"""


def _daily_admin(app: Flask, store: Store) -> None:
    store.db.executescript(_DAILY_SCHEMA)

    @app.post("/admin/desk-refund")
    def desk_refund() -> Any:
        with store.lock:
            done = store.db.execute(
                "UPDATE settlement SET status='refunded' WHERE setl_id=?",
                ((request.get_json() or {}).get("setl_id"),),
            ).rowcount
        return jsonify({"refunded": done})

    @app.post("/admin/lose-settlement")
    def lose_settlement() -> Any:
        with store.lock:
            done = store.db.execute(
                "DELETE FROM settlement WHERE setl_id=?",
                ((request.get_json() or {}).get("setl_id"),),
            ).rowcount
        return jsonify({"lost": done})

    @app.post("/admin/alter-settlement")
    def alter_settlement() -> Any:
        body = request.get_json() or {}
        with store.lock:
            done = store.db.execute(
                "UPDATE settlement SET fund=? WHERE setl_id=?",
                (fen(body.get("fund_pay_sumamt")), body.get("setl_id")),
            ).rowcount
        return jsonify({"altered": done})


def _platform_rows(
    store: Store, code: str, begin: str, end: str, insutype: str
) -> list[dict[str, Any]]:
    out = []
    for s in store.db.execute(
        "SELECT s.*, r.insutype FROM settlement s JOIN registration r ON r.mdtrt_id = s.mdtrt_id "
        "WHERE s.fixmedins_code=? AND substr(r.begntime, 1, 10) BETWEEN ? AND ? "
        "AND r.insutype=? ORDER BY s.setl_id",
        (code, begin, end, insutype),
    ):
        refunded = s["status"] in ("reversed", "refunded")
        row = {"setl_id": s["setl_id"], "mdtrt_id": s["mdtrt_id"], "psn_no": s["psn_no"],
               "medfee": s["medfee"], "fund": s["fund"], "acct": 0,
               "refd": "1" if refunded else "0"}  # fmt: skip
        out.append(row)
        if refunded:
            out.append({**row, "medfee": -s["medfee"], "fund": -s["fund"]})
    return out


def _daily_totals(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    inner = data.get("data") or {}
    rows = _platform_rows(
        store, str(body.get("fixmedins_code") or ""), str(inner.get("stmt_begndate") or ""),
        str(inner.get("stmt_enddate") or ""), str(inner.get("insutype") or ""),
    )  # fmt: skip
    theirs = (sum(r["medfee"] for r in rows), sum(r["fund"] for r in rows),
              sum(r["medfee"] >= 0 for r in rows))  # fmt: skip
    ours = (fen(inner.get("medfee_sumamt") or 0), fen(inner.get("fund_pay_sumamt") or 0),
            int(inner.get("fixmedins_setl_cnt") or 0))  # fmt: skip
    equal = theirs == ours
    return {}, {"stmtinfo": {
        "setl_optins": inner.get("setl_optins", ""), "stmt_rslt": "0" if equal else "1",
        "stmt_rslt_dscr": "对账平" if equal else
        f"对账不平：中心 医疗费 {yuan(theirs[0])} 基金 {yuan(theirs[1])} 笔数 {theirs[2]}",
    }}  # fmt: skip


def _file_upload(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    import base64

    inner = data.get("fsUploadIn") or {}
    number = f"F{store.next('file'):014d}"
    store.db.execute(
        "INSERT INTO sim_file VALUES (?, ?)", (number, base64.b64decode(inner.get("in") or ""))
    )
    return {}, {"file_qury_no": number, "filename": inner.get("filename", "")}


def _file_download(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    import base64

    inner = data.get("fsDownloadIn") or {}
    row = store.db.execute(
        "SELECT content FROM sim_file WHERE file_qury_no=?", (inner.get("file_qury_no"),)
    ).fetchone()
    if row is None:
        raise Refuse("文件不存在")
    return {}, {"file": base64.b64encode(row["content"]).decode()}


def _detail_check(store: Store, rules: dict, body: dict, data: dict) -> tuple[dict, dict]:
    import io
    import zipfile

    inner = data.get("data") or {}
    row = store.db.execute(
        "SELECT content FROM sim_file WHERE file_qury_no=?", (inner.get("file_qury_no"),)
    ).fetchone()
    if row is None:
        raise Refuse("明细文件不存在")
    with zipfile.ZipFile(io.BytesIO(row["content"])) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8")
    theirs: dict[tuple[str, bool], dict[str, Any]] = {}
    for line in text.splitlines():
        cells = [None if c == "null" else c for c in line.split("\t")]
        if len(cells) < 7:
            continue
        setl_id, mdtrt_id, psn_no, medfee, fund, acct, refd = cells[:7]
        medfee_fen = fen(medfee or 0)
        theirs[(str(setl_id), medfee_fen < 0)] = {
            "setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "medfee": medfee_fen,
            "fund": fen(fund or 0), "acct": fen(acct or 0), "refd": refd or "0"}  # fmt: skip
    mine = {
        (r["setl_id"], r["medfee"] < 0): r
        for r in _platform_rows(
            store, str(body.get("fixmedins_code") or ""), str(inner.get("stmt_begndate") or ""),
            str(inner.get("stmt_enddate") or ""), str(inner.get("insutype") or ""),
        )
    }  # fmt: skip
    out = []
    for key in sorted(set(mine) | set(theirs)):
        ours, clinic = mine.get(key), theirs.get(key)
        shown = ours or clinic
        assert shown is not None
        if ours is None:
            result, memo = "1", "医药机构有，中心无"
        elif clinic is None:
            result, memo = "2", "中心有，医药机构无"
        elif any(ours[k] != clinic[k] for k in ("medfee", "fund", "acct")):
            result, memo = "3", "金额不一致"
        elif ours["refd"] != clinic["refd"]:
            result, memo = "4", "退费标志不一致"
        else:
            result, memo = "0", "一致"
        out.append("\t".join(str(v) for v in (
            shown["psn_no"] or "null", shown["mdtrt_id"] or "null", shown["setl_id"],
            body.get("msgid", ""), result, shown["refd"], memo, yuan(shown["medfee"]),
            yuan(shown["fund"]), yuan(shown["acct"]),
        )))  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("result.txt", "\n".join(out) + "\n")
    number = f"F{store.next('file'):014d}"
    store.db.execute("INSERT INTO sim_file VALUES (?, ?)", (number, buffer.getvalue()))
    return {}, {"fileinfo": {"file_qury_no": number, "filename": "result.zip"}}
