"""One check item against the evidence: Normal, Abnormal or Not checked. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lvgate.collector.alarms.rules import Scalar
from lvgate.collector.maintenance.checklists import Method
from lvgate.collector.maintenance.state import Evidence

Result = Literal["normal", "abnormal", "not_checked"]


@dataclass(frozen=True, slots=True)
class Verdict:
    result: Result
    evidence: tuple[Evidence, ...]  # the readings behind it: the failing ones when abnormal
    note: str


def _as_bool(value: Scalar) -> bool | None:
    # The SQLite history keeps booleans as 0.0/1.0.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    return None


def passes(method: Method, value: Scalar) -> bool | None:
    """Does one value satisfy the method? None when the value is of the wrong kind."""
    if method.states:
        return str(value) in method.states if isinstance(value, str) else None
    if isinstance(method.equals, bool):
        got = _as_bool(value)
        return None if got is None else got is method.equals
    if method.equals is not None:
        return value == method.equals
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return (method.min is None or value >= method.min) and (method.max is None or value <= method.max)


def matching(entity: str, readings: dict[str, Evidence]) -> list[Evidence]:
    """The entity and every instance of it (``psu_status``, ``psu_status.7402``), in key order."""
    return [readings[k] for k in sorted(readings) if k == entity or k.startswith(entity + ".")]


def judge(method: Method, readings: dict[str, Evidence], online: Evidence | None, now_ms: int) -> Verdict:
    if method.manual:
        raise ValueError("manual items are judged by a technician")
    if method.online is not None:
        if online is None:
            return Verdict("not_checked", (), "no availability reported")
        ok = online.value is method.online
        return Verdict("normal" if ok else "abnormal", (online,), "" if ok else "device offline")
    assert method.entity is not None
    found = matching(method.entity, readings)
    if not found:
        return Verdict("not_checked", (), f"no reading of {method.entity}")
    bad: list[Evidence] = []
    unknown: list[str] = []
    for ev in found:
        if ev.value is None or ev.quality != "good":
            unknown.append(f"{ev.entity}: no good value")
        elif now_ms - ev.ts_ms > method.max_age_s * 1000:
            unknown.append(f"{ev.entity}: older than {method.max_age_s:g} s")
        else:
            passed = passes(method, ev.value)
            if passed is None:
                unknown.append(f"{ev.entity}: unexpected value {ev.value!r}")
            elif not passed:
                bad.append(ev)
    if bad:
        return Verdict("abnormal", tuple(bad), f"outside {method.describe()}")
    if unknown:
        return Verdict("not_checked", tuple(found), "; ".join(unknown))
    return Verdict("normal", tuple(found), "")
