"""Numeric OIDs as tuples of ints: parsing, ordering, subtree tests. No MIB files involved."""

from __future__ import annotations

Oid = tuple[int, ...]


def parse_oid(text: str) -> Oid:
    """'1.3.6.1.2.1.1.2.0' or '.1.3.6...' -> (1, 3, 6, ...). ValueError on anything else."""
    cleaned = text.strip().lstrip(".")
    if not cleaned:
        raise ValueError("empty OID")
    try:
        arcs = tuple(int(part) for part in cleaned.split("."))
    except ValueError:
        raise ValueError(f"'{text}' is not a numeric OID") from None
    if any(arc < 0 for arc in arcs):
        raise ValueError(f"'{text}' has a negative arc")
    return arcs


def format_oid(oid: Oid) -> str:
    return ".".join(str(arc) for arc in oid)


def in_subtree(oid: Oid, prefix: Oid) -> bool:
    """True when ``oid`` lies strictly below ``prefix`` (the prefix itself is not a row)."""
    return len(oid) > len(prefix) and oid[: len(prefix)] == prefix


def index_of(oid: Oid, prefix: Oid) -> Oid:
    """The row index: the arcs of ``oid`` after the column ``prefix``."""
    return oid[len(prefix) :]


def instance_name(index: Oid) -> str:
    """A topic- and key-safe instance suffix for a table row index: arcs joined by '_'."""
    return "_".join(str(arc) for arc in index)
