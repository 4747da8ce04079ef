"""Pure parts of the reachability driver: ICMP framing, the certificate reader, debounce,
ping statistics, config and profiles."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import struct
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from lvgate.drivers.reachability.certificate import CertificateError, days_left, not_after
from lvgate.drivers.reachability.config import (
    ReachabilityDeviceConfig,
    available_profiles,
    load_profile,
    plan_of,
)
from lvgate.drivers.reachability.debounce import Debounce
from lvgate.drivers.reachability.icmp import PingResult, checksum, echo_request, parse_echo_reply
from lvgate.drivers.reachability.probe import split_host_port
from lvgate.gateway.config import load_gateway_config
from lvgate.gateway.yaml_source import ConfigError
from lvgate.mqtt_schema.vocabulary import vocabulary

# --------------------------------------------------------------------------- ICMP framing


def test_checksum_of_the_rfc1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum (ones' complement) to ddf2.
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2


@given(st.binary(max_size=64).filter(lambda b: len(b) % 2 == 0))
def test_a_message_with_its_checksum_in_place_sums_to_zero(body: bytes) -> None:
    # The receiver's test (RFC 1071): the checksum over data including the checksum is 0.
    value = checksum(body)
    assert checksum(body + struct.pack("!H", value)) == 0


@given(ident=st.integers(0, 0xFFFF), seq=st.integers(0, 0xFFFF), payload=st.binary(max_size=32))
def test_echo_request_layout(ident: int, seq: int, payload: bytes) -> None:
    packet = echo_request(socket.AF_INET, ident, seq, payload)
    assert packet[0] == 8 and packet[1] == 0
    assert struct.unpack("!HH", packet[4:8]) == (ident, seq)
    assert checksum(packet) == 0  # checksum field filled in correctly
    assert packet[8:] == payload
    assert echo_request(socket.AF_INET6, ident, seq, payload)[:4] == bytes([128, 0, 0, 0])


def _ipv4_header(ihl_words: int = 5) -> bytes:
    first = bytes([0x40 | ihl_words, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1])
    return first + bytes(4 * (ihl_words - 5))


@pytest.mark.parametrize("ihl", [5, 6])
def test_parse_echo_reply_after_an_ip_header(ihl: int) -> None:
    reply = struct.pack("!BBHHH", 0, 0, 0, 0x1234, 7) + b"data"
    assert parse_echo_reply(socket.AF_INET, _ipv4_header(ihl) + reply, True) == (0x1234, 7)
    assert parse_echo_reply(socket.AF_INET, reply, False) == (0x1234, 7)


def test_parse_ignores_requests_short_packets_and_the_other_family() -> None:
    request = struct.pack("!BBHHH", 8, 0, 0, 1, 1)
    assert parse_echo_reply(socket.AF_INET, request, False) is None
    assert parse_echo_reply(socket.AF_INET, b"\0\0\0", False) is None
    assert parse_echo_reply(socket.AF_INET, b"\x45" + bytes(10), True) is None
    v6_reply = struct.pack("!BBHHH", 129, 0, 0, 5, 6)
    assert parse_echo_reply(socket.AF_INET6, v6_reply, False) == (5, 6)
    assert parse_echo_reply(socket.AF_INET, v6_reply, False) is None


@given(st.binary(max_size=80), st.booleans())
def test_parse_never_raises_on_garbage(packet: bytes, has_ip_header: bool) -> None:
    parse_echo_reply(socket.AF_INET, packet, has_ip_header)


def test_ping_statistics() -> None:
    assert PingResult(4, [3.0, 1.0, 2.0]).median_ms == 2.0
    assert PingResult(4, [3.0, 1.0, 2.0, 10.0]).median_ms == 2.5
    assert PingResult(4, [3.0, 1.0, 2.0]).loss_percent == 25.0
    lost = PingResult(3, [])
    assert lost.median_ms is None and lost.loss_percent == 100.0


# --------------------------------------------------------------------------- certificates

_KEY = ec.generate_private_key(ec.SECP256R1())


def _der(not_before: dt.datetime, expiry: dt.datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(expiry)
        .sign(_KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


# Both encodings: UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5).
_times = st.datetimes(min_value=dt.datetime(1951, 1, 1), max_value=dt.datetime(2120, 12, 31)).map(
    lambda t: t.replace(microsecond=0, tzinfo=dt.UTC)
)


@settings(max_examples=60, deadline=None)
@given(_times)
def test_not_after_reads_what_was_written(expiry: dt.datetime) -> None:
    assert not_after(_der(dt.datetime(1950, 6, 1, tzinfo=dt.UTC), expiry)) == expiry


def test_every_truncation_is_a_certificate_error() -> None:
    der = _der(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    for end in range(len(der)):
        with pytest.raises(CertificateError):
            not_after(der[:end])


@given(st.binary(max_size=200))
def test_garbage_is_a_certificate_error_or_a_time(data: bytes) -> None:
    with contextlib.suppress(CertificateError):
        not_after(data)


def test_days_left_rounds_down() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert days_left(now + dt.timedelta(days=10, hours=23), now) == 10
    assert days_left(now + dt.timedelta(days=10), now) == 10
    assert days_left(now + dt.timedelta(days=9, hours=23, minutes=59), now) == 9
    assert days_left(now - dt.timedelta(hours=1), now) == -1


# --------------------------------------------------------------------------- debounce


@settings(max_examples=300)
@given(st.lists(st.booleans(), max_size=60), st.integers(1, 6))
def test_debounce_events_match_the_runs_of_failures(outcomes: list[bool], k: int) -> None:
    debounce = Debounce(k)
    events = [e for e in (debounce.update(ok) for ok in outcomes) if e is not None]
    # Worked out independently: each run of >= k failures is one 'down'; an 'up' follows
    # each such run that a success ends.
    expected: list[str] = []
    run = 0
    for ok in [*outcomes]:
        if ok:
            if run >= k:
                expected.append("up")
            run = 0
        else:
            run += 1
            if run == k:
                expected.append("down")
    assert events == expected


def test_debounce_needs_k_failures_in_a_row() -> None:
    debounce = Debounce(3)
    assert [debounce.update(ok) for ok in (True, False, False, True, False, False)] == [None] * 6
    assert debounce.update(False) == "down"
    assert debounce.update(False) is None
    assert debounce.update(True) == "up"


# --------------------------------------------------------------------------- config and profiles


@pytest.mark.parametrize("name", available_profiles())
def test_every_profile_loads_and_publishes_vocabulary_keys(name: str) -> None:
    profile = load_profile(name)
    assert profile.profile == name
    plan = plan_of(ReachabilityDeviceConfig(id="t", driver="reachability", host="127.0.0.1", profile=name))
    host_keys = vocabulary()["host"].entities
    assert set(plan.keys) <= set(host_keys)


def test_profiles_cover_the_issue() -> None:
    assert {"parking_controller", "signage_player", "nvr_web", "generic_server", "internet_uplink"} <= set(
        available_profiles()
    )


def test_device_checks_replace_the_profile_and_defaults_fill_in() -> None:
    config = ReachabilityDeviceConfig.model_validate(
        {
            "id": "x",
            "driver": "reachability",
            "host": "127.0.0.1",
            "profile": "nvr_web",
            "checks": [{"kind": "tcp", "port": 8000}],
        }
    )
    plan = plan_of(config)
    assert [c.kind for c in plan.checks] == ["tcp"]
    assert plan.timeout == 3 and plan.down_after == 3  # from nvr_web.yaml
    assert plan.keys == ["reachable", "checks_failed", "tcp_connect_time"]


def _write(tmp_path: Path, devices: str) -> Path:
    path = tmp_path / "room.yaml"
    path.write_text("site: s\nroom: r\ngateway_id: g\ndevices:\n" + devices, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_gateway_config(path)
    return [str(p) for p in caught.value.problems]


def test_unknown_profile_is_named_with_a_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, "  - {id: a, driver: reachability, host: 127.0.0.1, profile: nvr_webb}\n")
    problems = _problems(path)
    assert len(problems) == 1
    assert "unknown reachability profile 'nvr_webb' in device 'a' (did you mean 'nvr_web'?)" in problems[0]
    assert problems[0].startswith(f"{path}:5:61: ")  # line 5, column of the value nvr_webb


def test_a_device_without_checks_is_an_error(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, "  - {id: a, driver: reachability, host: 127.0.0.1}\n"))
    assert len(problems) == 1 and "no checks" in problems[0] and "device 'a'" in problems[0]


def test_two_icmp_checks_and_a_bad_status_are_errors(tmp_path: Path) -> None:
    devices = (
        "  - id: a\n    driver: reachability\n    host: 127.0.0.1\n    checks:\n"
        "      - {kind: icmp}\n      - {kind: icmp}\n"
        "  - id: b\n    driver: reachability\n    host: 127.0.0.1\n    checks:\n"
        "      - {kind: http, expect_status: [200, 999]}\n"
        "      - {kind: smtp}\n"
    )
    text = "\n".join(_problems(_write(tmp_path, devices)))
    assert "at most one 'icmp' check" in text
    assert "999 is not an HTTP status code" in text
    assert "smtp" in text


@pytest.mark.parametrize(
    ("target", "expected"),
    [("127.0.0.1:80", ("127.0.0.1", 80)), ("[::1]:8443", ("::1", 8443)), ("nvr.local:554", ("nvr.local", 554))],
)
def test_split_host_port(target: str, expected: tuple[str, int]) -> None:
    assert split_host_port(target) == expected


@pytest.mark.parametrize("target", ["127.0.0.1", "::1:80", "host:0", "host:99999", ":80", "host:x"])
def test_split_host_port_rejects(target: str) -> None:
    with pytest.raises(ValueError):
        split_host_port(target)


@given(st.binary(min_size=13, max_size=13))
def test_a_garbled_expiry_is_a_certificate_error(garbage: bytes) -> None:
    der = _der(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    at = der.index(b"300101000000Z")  # the UTCTime of notAfter, 13 bytes
    with contextlib.suppress(CertificateError):
        not_after(der[:at] + garbage + der[at + 13 :])


def test_the_example_config_loads() -> None:
    from lvgate.paths import data_dir

    config = load_gateway_config(data_dir() / "examples" / "reachability.yaml")
    assert [d.id for d in config.devices] == ["parking-lane-1", "signage-lobby", "nvr-1", "parking-server", "uplink"]
    assert all(isinstance(d, ReachabilityDeviceConfig) and d.host == "127.0.0.1" for d in config.devices)
