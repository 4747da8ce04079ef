"""Frame splitting and resynchronisation: noise, split reads and merged reads never yield a wrong card."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lvgate.drivers.access.framing import Rejected, Splitter
from lvgate.drivers.access.profile import load_profile
from lvgate.drivers.access.simulator import frames_for
from lvgate.drivers.access.stream import AccessStream, StreamSettings
from lvgate.drivers.access.wiegand import Card, all_formats, formats_named

KEY = b"0123456789abcdef-test-key"
DEFAULT = ("H10301", "H10306", "C1k35s", "H10304")
# Which card formats each converter can carry (the WIE232-A family passes 26-bit only).
CARRIES = {
    "wie232a": ["H10301"],
    "wg2rs232": ["H10301"],
    "s4a_wiegand_ethernet": ["H10301"],
    "seeed_rfid_uart": ["EM4100"],
    "lvgate_ascii": list(DEFAULT),
}


def frames(items: list[bytes | Rejected]) -> list[bytes]:
    return [i for i in items if isinstance(i, bytes)]


def reasons(items: list[bytes | Rejected]) -> list[str]:
    return [i.reason for i in items if isinstance(i, Rejected)]


def test_line_frames_split_anywhere_come_out_whole() -> None:
    wire = b"5A0144\r0DEAD1\r"
    for cut in range(len(wire) + 1):
        splitter = Splitter(end=b"\r")
        got = splitter.feed(wire[:cut], 0) + splitter.feed(wire[cut:], 1)
        assert frames(got) == [b"5A0144", b"0DEAD1"]


def test_two_frames_in_one_read_and_crlf_skipped() -> None:
    splitter = Splitter(end=b"\r", skip=b"\n")
    assert frames(splitter.feed(b"5A0144\r\n0DEAD1\r\n", 0)) == [b"5A0144", b"0DEAD1"]


def test_an_over_long_line_is_rejected_and_the_next_line_is_read() -> None:
    splitter = Splitter(end=b"\r", max_length=8)
    got = splitter.feed(b"X" * 30 + b"\r5A0144\r", 0)
    assert reasons(got) == ["too_long"]
    assert frames(got) == [b"5A0144"]
    assert splitter.rejected["too_long"] == 1


def test_noise_outside_start_end_frames_is_counted_and_skipped() -> None:
    splitter = Splitter(start=b"\x02", end=b"\x03", max_length=14)
    got = splitter.feed(b"\xff\x00junk\x0262E3086CED08\x03more", 0)
    assert frames(got) == [b"62E3086CED08"]
    assert reasons(got) == ["noise", "noise"]


def test_a_new_start_abandons_a_partial_frame() -> None:
    splitter = Splitter(start=b"\x02", end=b"\x03", max_length=14)
    got = splitter.feed(b"\x0262E30\x0262E3086CED08\x03", 0)
    assert reasons(got) == ["partial"]
    assert frames(got) == [b"62E3086CED08"]


def test_a_partial_frame_that_stops_growing_is_dropped() -> None:
    splitter = Splitter(end=b"\r", timeout_ms=500)
    assert splitter.feed(b"5A01", 1000) == []
    assert splitter.expire(1400) == []
    assert reasons(splitter.expire(1500)) == ["partial"]
    assert frames(splitter.feed(b"44\r5A0144\r", 1600)) == [b"44", b"5A0144"]


def _stream(profile: str) -> AccessStream:
    return AccessStream("door-1", load_profile(profile), StreamSettings(formats=formats_named(DEFAULT), hash_key=KEY))


@st.composite
def line_traffic(draw: st.DrawFn, profile_name: str) -> tuple[list[tuple[str, Any]], int]:
    """Segments: ('card', (format, fc, cn)), ('noise', bytes) with no frame marker, or
    ('noise_line', bytes) that ends with the end marker; plus a seed for splitting reads."""
    profile = load_profile(profile_name)
    markers = set((profile.framing.start + profile.framing.end).encode("latin-1"))
    segments: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["card", "card", "noise", "noise_line"]))
        if kind == "card":
            fmt = all_formats()[draw(st.sampled_from(CARRIES[profile_name]))]
            fields = {n: draw(st.integers(0, (1 << length) - 1)) for n, (_, length) in fmt.fields.items()}
            segments.append(("card", (fmt.name, fields)))
        else:
            body = draw(st.binary(min_size=0, max_size=40))
            # Line noise (framing errors on a real line) puts bytes >= 0x80 in: at least one here,
            # since a noise line made only of valid characters would be a valid frame.
            body = bytes(b for b in body if b not in markers) + bytes([draw(st.integers(0x80, 0xFF))])
            body = bytes(b for b in body if b not in markers)
            if kind == "noise_line":
                body += profile.framing.end.encode("latin-1")
            segments.append((kind, body))
    return segments, draw(st.integers(0, 2**32))


def _check_never_a_wrong_card(profile_name: str, traffic: tuple[list[tuple[str, Any]], int]) -> None:
    segments, seed = traffic
    profile = load_profile(profile_name)
    rng = random.Random(seed)
    wire = b""
    sent: list[tuple[str, dict[str, int]]] = []
    must_arrive: list[int] = []
    previous = "noise_line"
    for kind, value in segments:
        if kind == "card":
            fmt, fields = value
            numbers = " ".join(str(fields[k]) for k in ("facility_code", "card_number") if k in fields)
            command = f"card {fmt} {numbers}"
            frame = frames_for(profile, command, rng)
            assert isinstance(frame, bytes)
            wire += frame
            # A card right after unterminated noise may be lost on a line format (never misread).
            if previous != "noise" or profile.framing.start:
                must_arrive.append(len(sent))
            sent.append(value)
        else:
            wire += value
        previous = kind
    stream = _stream(profile_name)
    cards: list[Card] = []
    pos, now = 0, 0
    while pos < len(wire):
        step = rng.randint(1, 16)
        cards += stream.feed(wire[pos : pos + step], now).cards
        pos += step
        now += 1
    expected = [
        (fmt, fields.get("facility_code"), fields["card_number"]) for fmt, fields in (sent[i] for i in must_arrive)
    ]
    got = [(c.format, c.facility_code, c.card_number) for c in cards]
    sent_keys = [(fmt, f.get("facility_code"), f["card_number"]) for fmt, f in sent]
    # Every card decoded was sent, in order (no wrong card) ...
    it = iter(sent_keys)
    assert all(card in it for card in got), (got, sent_keys)
    # ... and every card not glued to unterminated noise arrived.
    it2 = iter(got)
    assert all(card in it2 for card in expected), (got, expected)


@settings(max_examples=60, deadline=None)
@given(line_traffic("wie232a"))
def test_wie232a_stream_never_yields_a_wrong_card(traffic: tuple[list[tuple[str, Any]], int]) -> None:
    _check_never_a_wrong_card("wie232a", traffic)


@settings(max_examples=60, deadline=None)
@given(line_traffic("s4a_wiegand_ethernet"))
def test_s4a_stream_never_yields_a_wrong_card(traffic: tuple[list[tuple[str, Any]], int]) -> None:
    _check_never_a_wrong_card("s4a_wiegand_ethernet", traffic)


@settings(max_examples=60, deadline=None)
@given(line_traffic("seeed_rfid_uart"))
def test_seeed_stx_etx_stream_never_yields_a_wrong_card(traffic: tuple[list[tuple[str, Any]], int]) -> None:
    _check_never_a_wrong_card("seeed_rfid_uart", traffic)


@settings(max_examples=60, deadline=None)
@given(line_traffic("lvgate_ascii"))
def test_controller_stream_never_yields_a_wrong_card(traffic: tuple[list[tuple[str, Any]], int]) -> None:
    _check_never_a_wrong_card("lvgate_ascii", traffic)


@settings(max_examples=60, deadline=None)
@given(line_traffic("wg2rs232"))
def test_wg2rs232_stream_never_yields_a_wrong_card(traffic: tuple[list[tuple[str, Any]], int]) -> None:
    _check_never_a_wrong_card("wg2rs232", traffic)


def test_rejections_are_counted_as_a_reading() -> None:
    stream = _stream("wie232a")
    out = stream.feed(b"\xff\xfe\r5A0144\r", 0)
    assert [c.card_number for c in out.cards] == [324]
    counts = [r.value for r in out.readings if r.key == "frames_rejected"]
    assert counts == [1]
    assert stream.rejected == {"unrecognised": 1}
