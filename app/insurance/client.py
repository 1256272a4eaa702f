"""HTTP to the platform's gateway: one POST per envelope, with time-outs, never a blind retry.

Guarantees:

* every call has a connect and a read time-out (``INSURANCE_CONNECT_TIMEOUT``,
  ``INSURANCE_READ_TIMEOUT``): a silent platform never holds a doctor's page;
* the outcome of a call is exactly one of: an answer (parsed JSON), or
  :class:`Unreachable` — the request never left this host (connection refused
  or not made in time), so trying again cannot settle anything twice — or
  :class:`Unknown` — it may have arrived (a read time-out, a connection cut
  after sending, a garbled answer), so the caller reverses it with 2601 before
  trying its step again;
* urllib3's own retries are off: whether a repeat is safe is the caller's
  decision (:data:`app.insurance.rules.SAFE_TO_REPEAT`), not the transport's;
* no request or answer is ever logged here: the caller stores both with the
  visit (:mod:`app.insurance.operations`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from app.insurance.rules import NoSigner, Signer, signer_from_config


class Unreachable(Exception):
    """The request never reached the platform."""


class Unknown(Exception):
    """The request may have reached the platform; its answer was lost."""


@dataclass(frozen=True)
class Gateway:
    """A configured platform: where it is and how to talk to it (deployment settings)."""

    url: str
    admvs: str = ""  # mdtrtarea_admvs / insuplc_admdvs; empty = the clinic's district
    recer_sys_code: str = "YIYUAN"
    infver: str = "V1.0"
    signer: Signer = field(default_factory=NoSigner)
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 8
    # After a failure, recording does not wait on the platform for this long
    # (the visit goes straight to pending): an outage costs a doctor one wait.
    pause_after_failure: float = 30.0


def gateway_from_config(config: Mapping[str, Any]) -> Gateway | None:
    """The gateway of the settings, or ``None``: no platform, the monthly-file way."""
    url = (config.get("INSURANCE_GATEWAY_URL") or "").strip()
    if not url:
        return None

    def number(name: str, default: float) -> float:
        value = config.get(name)
        return default if value is None or value == "" else float(value)

    return Gateway(
        url=url,
        admvs=config.get("INSURANCE_ADMVS") or "",
        recer_sys_code=config.get("INSURANCE_RECER_SYS_CODE") or "YIYUAN",
        infver=config.get("INSURANCE_INFVER") or "V1.0",
        signer=signer_from_config(
            config.get("INSURANCE_SIGNER") or "none", config.get("INSURANCE_SIGN_KEY") or ""
        ),
        connect_timeout=number("INSURANCE_CONNECT_TIMEOUT", 3),
        read_timeout=number("INSURANCE_READ_TIMEOUT", 10),
        max_attempts=int(number("INSURANCE_MAX_ATTEMPTS", 8)),
        pause_after_failure=number("INSURANCE_PAUSE_AFTER_FAILURE", 30),
    )


_local = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per thread (a requests.Session is not shared across threads)."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=4)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


def _never_sent(exc: requests.ConnectionError) -> bool:
    """A connection that was never made: refused, unresolvable, or not made in time."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NewConnectionError | ConnectTimeoutError | NameResolutionError):
            return True
        reason = getattr(seen, "reason", None)
        if isinstance(reason, BaseException) and reason is not seen:
            seen = reason
            continue
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = nested if nested is not seen else None
    return False


def post(gateway: Gateway, body: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """POST one envelope; ``(answer, elapsed ms)``, or :class:`Unreachable` / :class:`Unknown`."""
    started = time.monotonic()
    data = json.dumps(body, ensure_ascii=False).encode()
    try:
        response = _session().post(
            gateway.url,
            data=data,
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=(gateway.connect_timeout, gateway.read_timeout),
        )
    except requests.ConnectTimeout as exc:
        raise Unreachable(f"no connection within {gateway.connect_timeout:g} s") from exc
    except requests.ReadTimeout as exc:
        raise Unknown(f"no answer within {gateway.read_timeout:g} s") from exc
    except requests.ConnectionError as exc:
        if _never_sent(exc):
            raise Unreachable("connection refused or not made") from exc
        raise Unknown("connection lost after sending") from exc
    except requests.RequestException as exc:
        raise Unknown(f"transport error: {type(exc).__name__}") from exc
    elapsed = int((time.monotonic() - started) * 1000)
    if response.status_code >= 500 or response.status_code in (408, 429):
        # A gateway in trouble: the message may or may not have reached the platform.
        raise Unknown(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        # Refused by the gateway itself (bad address, not allowed): nothing was processed.
        raise Unreachable(f"HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError as exc:
        raise Unknown("the answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise Unknown("the answer is not a JSON object")
    return answer, elapsed
