"""The camera's network interfaces (GetNetworkInterfaces) for the asset list: MAC and IPv4.

ONVIF schema (tt:NetworkInterface): a ``token`` attribute, ``Enabled``, ``Info/HwAddress``, and
``IPv4/Config`` with any number of ``Manual`` addresses, one ``LinkLocal``, one ``FromDHCP`` and
the ``DHCP`` flag saying which of them is in use. Addresses and MACs that do not parse are
dropped rather than put into the register.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from lvgate.drivers.onvif.safexml import NS, text

_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-]?)(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")


@dataclass(frozen=True, slots=True)
class Ipv4:
    address: str
    prefix_length: int | None

    def __str__(self) -> str:
        return self.address if self.prefix_length is None else f"{self.address}/{self.prefix_length}"


@dataclass(frozen=True, slots=True)
class NetworkInterface:
    token: str | None
    enabled: bool | None
    name: str | None
    mac: str | None
    ipv4_enabled: bool | None
    dhcp: bool | None
    manual: tuple[Ipv4, ...]
    from_dhcp: Ipv4 | None
    link_local: Ipv4 | None

    @property
    def ip(self) -> str | None:
        """The address in use: the DHCP lease under DHCP, else the first manual one, link-local last."""
        order = [self.from_dhcp, *self.manual] if self.dhcp else [*self.manual, self.from_dhcp]
        found = next((a for a in [*order, self.link_local] if a is not None), None)
        return found.address if found is not None else None

    def as_dict(self) -> dict[str, object]:
        return {
            "token": self.token,
            "enabled": self.enabled,
            "name": self.name,
            "mac": self.mac,
            "ipv4_enabled": self.ipv4_enabled,
            "dhcp": self.dhcp,
            "manual": [str(a) for a in self.manual],
            "from_dhcp": str(self.from_dhcp) if self.from_dhcp else None,
            "link_local": str(self.link_local) if self.link_local else None,
        }


def _bool(value: str | None) -> bool | None:
    return {"true": True, "1": True, "false": False, "0": False}.get((value or "").lower())


def normalise_mac(value: str | None) -> str | None:
    """``00-40-8C-FA-B7-54`` or ``00408cfab754`` -> ``00:40:8c:fa:b7:54``; None when not a MAC."""
    if value is None or not _MAC.match(value):
        return None
    digits = re.sub(r"[:-]", "", value).lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _ipv4(el: Element | None) -> Ipv4 | None:
    address = text(el, "tt:Address")
    if address is None:
        return None
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        return None
    prefix = text(el, "tt:PrefixLength")
    length = int(prefix) if prefix is not None and prefix.isdigit() and int(prefix) <= 32 else None
    return Ipv4(str(parsed), length)


def parse_interface(el: Element) -> NetworkInterface:
    config = el.find("tt:IPv4/tt:Config", NS)
    manual = tuple(a for a in (_ipv4(m) for m in (config.findall("tt:Manual", NS) if config is not None else [])) if a)
    return NetworkInterface(
        token=el.get("token"),
        enabled=_bool(text(el, "tt:Enabled")),
        name=text(el, "tt:Info/tt:Name") or None,
        mac=normalise_mac(text(el, "tt:Info/tt:HwAddress")),
        ipv4_enabled=_bool(text(el, "tt:IPv4/tt:Enabled")),
        dhcp=_bool(text(config, "tt:DHCP")),
        manual=manual,
        from_dhcp=_ipv4(config.find("tt:FromDHCP", NS)) if config is not None else None,
        link_local=_ipv4(config.find("tt:LinkLocal", NS)) if config is not None else None,
    )


def parse_network_interfaces(response: Element) -> list[NetworkInterface]:
    return [parse_interface(el) for el in response.findall("tds:NetworkInterfaces", NS)]


def primary(interfaces: list[NetworkInterface]) -> tuple[str | None, str | None]:
    """(mac, ip) of the first enabled interface that has an IPv4 address, else of the first one."""
    usable = [i for i in interfaces if i.enabled is not False and i.ipv4_enabled is not False]
    chosen = next((i for i in usable if i.ip), usable[0] if usable else None)
    if chosen is None:
        return None, None
    return chosen.mac, chosen.ip
