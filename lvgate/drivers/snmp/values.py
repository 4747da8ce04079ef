"""SNMP values as plain Python, keeping what the type says (counters stay counters)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    INTEGER = "integer"
    GAUGE = "gauge"  # Gauge32 / Unsigned32
    COUNTER32 = "counter32"
    COUNTER64 = "counter64"
    TIMETICKS = "timeticks"
    STRING = "string"
    OID = "oid"
    IPADDRESS = "ipaddress"
    NULL = "null"
    # Exceptions in a response (RFC 3416): the value is None.
    NO_SUCH_OBJECT = "noSuchObject"
    NO_SUCH_INSTANCE = "noSuchInstance"
    END_OF_MIB_VIEW = "endOfMibView"


MISSING = frozenset({Kind.NO_SUCH_OBJECT, Kind.NO_SUCH_INSTANCE, Kind.END_OF_MIB_VIEW})


@dataclass(frozen=True, slots=True)
class SnmpValue:
    kind: Kind
    value: int | str | bytes | None

    @property
    def missing(self) -> bool:
        return self.kind in MISSING

    def as_number(self) -> int | None:
        """The value as an int when the agent sent a number (or a numeric string), else None."""
        if isinstance(self.value, int):
            return self.value
        if isinstance(self.value, str):
            try:
                return int(self.value.strip())
            except ValueError:
                return None
        return None

    def as_float(self) -> float | None:
        """The value as a float: numbers, and strings such as '23.4' that some agents send."""
        if isinstance(self.value, int):
            return float(self.value)
        if isinstance(self.value, str):
            try:
                return float(self.value.strip())
            except ValueError:
                return None
        return None

    def as_text(self) -> str:
        if self.value is None:
            return ""
        if isinstance(self.value, bytes):
            return self.value.hex()
        return str(self.value)
