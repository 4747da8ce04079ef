"""Access device config: the card hash key comes from a secret and is never shown."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from lvgate.drivers.access.driver import AccessDeviceConfig
from lvgate.drivers.access.privacy import card_hash, masked
from lvgate.drivers.access.wiegand import Card
from lvgate.gateway.config import load_gateway_config
from lvgate.gateway.yaml_source import ConfigError

HEAD = """site: s1
room: r1
gateway_id: gw
devices:
  - id: door-1
    driver: access
    profile: wie232a
    port: /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0
"""


def write(tmp_path: Path, device_lines: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(HEAD + device_lines, encoding="utf-8")
    return path


def test_key_from_env_is_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARD_KEY", "k" * 20)
    config = load_gateway_config(write(tmp_path, "    card_hash_key: ${CARD_KEY}\n"))
    device = config.devices[0]
    assert isinstance(device, AccessDeviceConfig)
    assert device.card_hash_key.get_secret_value() == "k" * 20
    assert "k" * 20 not in repr(device) and "k" * 20 not in str(device.model_dump())
    assert device.publish_card_numbers is False


def test_key_from_secrets_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("card_key: s3cr3t-key-for-site-1\n", encoding="utf-8")
    config = load_gateway_config(write(tmp_path, "    card_hash_key: !secret card_key\n"))
    device = config.devices[0]
    assert isinstance(device, AccessDeviceConfig)
    assert device.card_hash_key.get_secret_value() == "s3cr3t-key-for-site-1"


def test_a_short_key_is_refused_without_echoing_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARD_KEY", "short-k3y")
    with pytest.raises(ConfigError) as caught:
        load_gateway_config(write(tmp_path, "    card_hash_key: ${CARD_KEY}\n"))
    text = str(caught.value)
    assert "card_hash_key" in text and "at least 16 characters" in text
    assert "short-k3y" not in text


def test_a_missing_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_gateway_config(write(tmp_path, ""))
    assert "missing required key 'card_hash_key' in device 'door-1'" in str(caught.value)


def test_card_hash_is_hmac_sha256_under_the_site_key() -> None:
    card = Card("H10301", 26, 324, 90)
    expected = hmac.new(b"site-a-key-0123456", b"H10301:90:324", hashlib.sha256).hexdigest()
    assert card_hash(b"site-a-key-0123456", card) == expected
    assert card_hash(b"site-b-key-0123456", card) != expected  # not comparable across sites


def test_masked_keeps_only_the_last_two_digits() -> None:
    assert masked(51234) == "***34"
    assert masked(7) == "*7"


def test_the_doors_example_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LVGATE_CARD_KEY", "example-key-0123456789")
    config = load_gateway_config(Path(__file__).parent.parent / "edge_config" / "examples" / "doors.yaml")
    assert [d.id for d in config.devices] == ["door-b1-main", "reader-b1-store"]
