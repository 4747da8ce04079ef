"""Camera replies are parsed safely: no DTD, no entities, bounded size, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lvgate.drivers.onvif.clock import posix_tz_offset
from lvgate.drivers.onvif.safexml import XmlReplyError, parse
from lvgate.drivers.onvif.simulator import BOMB_REPLY, XXE_REPLY
from lvgate.drivers.onvif.soap import password_digest


@pytest.mark.parametrize("payload", [XXE_REPLY, BOMB_REPLY])
def test_xxe_and_entity_expansion_are_refused(payload: bytes) -> None:
    with pytest.raises(XmlReplyError, match=r"camera 'cam-7', GetProfiles: refused unsafe XML"):
        parse(payload, device="cam-7", operation="GetProfiles")


def test_parameter_entity_fetch_is_refused() -> None:
    payload = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><r/>'
    with pytest.raises(XmlReplyError, match="refused unsafe XML"):
        parse(payload, device="cam-7", operation="GetProfiles")


def test_size_bound_and_truncation() -> None:
    with pytest.raises(XmlReplyError, match="exceeds the 100-byte bound"):
        parse(b"<a>" + b"x" * 200 + b"</a>", device="cam-7", operation="GetStreamUri", limit=100)
    with pytest.raises(XmlReplyError, match=r"camera 'cam-7', GetStreamUri: not well-formed"):
        parse(b"<a><b>cut he", device="cam-7", operation="GetStreamUri")
    with pytest.raises(XmlReplyError, match="empty reply"):
        parse(b"  ", device="cam-7", operation="GetStreamUri")


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_give_a_named_error(data: bytes) -> None:
    try:
        parse(data, device="cam-7", operation="PullMessages")
    except XmlReplyError as exc:
        assert str(exc).startswith("camera 'cam-7', PullMessages: ")


def test_password_digest_known_answer() -> None:
    # Worked by hand: SHA-1 over nonce bytes + Created + password, then Base64.
    import base64
    import hashlib

    nonce, created, pw = b"\x01" * 16, "2024-01-01T00:00:00.000Z", "pässword"
    expected = base64.b64encode(hashlib.sha1(nonce + created.encode("utf-8") + pw.encode("utf-8")).digest()).decode()
    assert password_digest(nonce, created, pw) == expected


@pytest.mark.parametrize(
    ("tz", "east_seconds"),
    [
        ("CST-08:00", 8 * 3600),
        ("EST+5:00:00EDT04:00:00,M3.5.0/01:00:00,M10.5.0/02:00:00", -5 * 3600),
        ("COT5", -5 * 3600),
        ("AST4ADT", -4 * 3600),
        ("MoroccoStandardTime0", 0),
        ("CST7:00:00DST01:00:00,M3.2.0/02:00:00,M11.1.0/02:00:00", -7 * 3600),
        ("<+0530>-5:30", 5 * 3600 + 1800),
        ("garbage", None),
    ],
)
def test_posix_timezones_of_the_recordings(tz: str, east_seconds: int | None) -> None:
    assert posix_tz_offset(tz) == east_seconds
