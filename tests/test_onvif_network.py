"""MAC/IP in the camera identity from GetNetworkInterfaces, and cameras that do not allow it.

None of the recordings has a GetNetworkInterfaces reply, so the reply below is written here from
the ONVIF Device Management schema (tds:GetNetworkInterfacesResponse, tt:NetworkInterface) and
served by the responder as an extra reply of the recorded Axis camera.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lvgate.drivers.onvif.driver import OnvifDeviceConfig, OnvifPoller
from lvgate.drivers.onvif.network import Ipv4, normalise_mac, parse_network_interfaces, primary
from lvgate.drivers.onvif.safexml import NS, parse
from tests.onvif_responder import PASSWORD, USERNAME, responder

CAMERA = "onvif-nvt_axis-q6045-e"

# eth0 runs on DHCP (the lease is the address in use) and also has a manual address configured;
# wlan0 is switched off. The MAC is written the way some cameras do, upper case with dashes.
NETWORK_REPLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
    xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
 <SOAP-ENV:Body>
  <tds:GetNetworkInterfacesResponse>
   <tds:NetworkInterfaces token="eth0">
    <tt:Enabled>true</tt:Enabled>
    <tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>AC-CC-8E-12-34-5F</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>
    <tt:Link>
     <tt:AdminSettings><tt:AutoNegotiation>true</tt:AutoNegotiation><tt:Speed>100</tt:Speed>
      <tt:Duplex>Full</tt:Duplex></tt:AdminSettings>
     <tt:OperSettings><tt:AutoNegotiation>true</tt:AutoNegotiation><tt:Speed>100</tt:Speed>
      <tt:Duplex>Full</tt:Duplex></tt:OperSettings>
     <tt:InterfaceType>6</tt:InterfaceType>
    </tt:Link>
    <tt:IPv4>
     <tt:Enabled>true</tt:Enabled>
     <tt:Config>
      <tt:Manual><tt:Address>10.20.30.90</tt:Address><tt:PrefixLength>24</tt:PrefixLength></tt:Manual>
      <tt:LinkLocal><tt:Address>169.254.7.21</tt:Address><tt:PrefixLength>16</tt:PrefixLength></tt:LinkLocal>
      <tt:FromDHCP><tt:Address>10.20.30.41</tt:Address><tt:PrefixLength>24</tt:PrefixLength></tt:FromDHCP>
      <tt:DHCP>true</tt:DHCP>
     </tt:Config>
    </tt:IPv4>
   </tds:NetworkInterfaces>
   <tds:NetworkInterfaces token="wlan0">
    <tt:Enabled>false</tt:Enabled>
    <tt:Info><tt:Name>wlan0</tt:Name><tt:HwAddress>accc8e12ffee</tt:HwAddress></tt:Info>
    <tt:IPv4>
     <tt:Enabled>true</tt:Enabled>
     <tt:Config>
      <tt:Manual><tt:Address>192.168.77.3</tt:Address><tt:PrefixLength>24</tt:PrefixLength></tt:Manual>
      <tt:Manual><tt:Address>not-an-address</tt:Address><tt:PrefixLength>24</tt:PrefixLength></tt:Manual>
      <tt:DHCP>false</tt:DHCP>
     </tt:Config>
    </tt:IPv4>
   </tds:NetworkInterfaces>
  </tds:GetNetworkInterfacesResponse>
 </SOAP-ENV:Body>
</SOAP-ENV:Envelope>
"""


def response_element() -> Any:
    doc = parse(NETWORK_REPLY, device="cam-1", operation="GetNetworkInterfaces")
    body = doc.root.find("s:Body", NS)
    assert body is not None
    return body[0]


def test_interfaces_parsed_from_the_schema_shaped_reply() -> None:
    eth0, wlan0 = parse_network_interfaces(response_element())
    assert (eth0.token, eth0.enabled, eth0.name, eth0.mac) == ("eth0", True, "eth0", "ac:cc:8e:12:34:5f")
    assert (eth0.ipv4_enabled, eth0.dhcp) == (True, True)
    assert eth0.manual == (Ipv4("10.20.30.90", 24),)
    assert eth0.from_dhcp == Ipv4("10.20.30.41", 24) and eth0.link_local == Ipv4("169.254.7.21", 16)
    assert eth0.ip == "10.20.30.41"  # DHCP on: the lease is in use, not the configured manual address
    assert (wlan0.token, wlan0.enabled, wlan0.mac, wlan0.dhcp) == ("wlan0", False, "ac:cc:8e:12:ff:ee", False)
    assert wlan0.manual == (Ipv4("192.168.77.3", 24),)  # the unparsable address is dropped
    assert wlan0.ip == "192.168.77.3"
    # the disabled wlan0 is not the camera's address even though it lists first when reordered
    assert primary([wlan0, eth0]) == ("ac:cc:8e:12:34:5f", "10.20.30.41")
    assert primary([]) == (None, None)


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-", ""]), st.booleans())
def test_mac_spellings_normalise_to_the_same_address(raw: bytes, sep: str, upper: bool) -> None:
    spelled = sep.join(f"{b:02x}" for b in raw)
    expected = ":".join(f"{b:02x}" for b in raw)
    assert normalise_mac(spelled.upper() if upper else spelled) == expected


def test_not_a_mac_is_none() -> None:
    for junk in ("", "00:11:22:33:44", "00:11-22:33:44:55", "zz:11:22:33:44:55", "00:11:22:33:44:55:66"):
        assert normalise_mac(junk) is None, junk


def poller_for(port: int) -> OnvifPoller:
    config = OnvifDeviceConfig.model_validate(
        {"id": "cam-1", "host": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD,
         "timeout": 2, "snapshot": False, "events": False}
    )  # fmt: skip
    return OnvifPoller(config)


async def identity_of(**settings: Any) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    async with responder(CAMERA, **settings) as r:
        poller = poller_for(r.port)
        try:
            readings = {x.key: x.value for x in await poller.poll()}
            identity = await poller.identity()
        finally:
            await poller.close()
        assert identity is not None
        return identity, readings, r.camera.requests


async def test_identity_has_mac_and_ip_when_the_camera_allows_it() -> None:
    identity, readings, requests = await identity_of(extra={"GetNetworkInterfaces": NETWORK_REPLY})
    assert "GetNetworkInterfaces" in requests
    assert identity["mac"] == "ac:cc:8e:12:34:5f" and identity["ip"] == "10.20.30.41"
    assert [i["token"] for i in identity["interfaces"]] == ["eth0", "wlan0"]
    assert identity["interfaces"][0]["manual"] == ["10.20.30.90/24"]
    assert identity["model"] == "AXIS Q6045-E" and identity["status_level"] == "streaming"
    assert "GetNetworkInterfaces" not in identity["unsupported"]
    assert readings["status_level"] == "streaming"


async def test_not_authorized_leaves_mac_and_ip_out_and_the_camera_streaming() -> None:
    identity, readings, requests = await identity_of(override={"GetNetworkInterfaces": "denied"})
    assert "GetNetworkInterfaces" in requests  # asked, after the authenticated GetDeviceInformation
    assert requests.index("GetDeviceInformation") < requests.index("GetNetworkInterfaces")
    assert "mac" not in identity and "ip" not in identity and "interfaces" not in identity
    assert identity["status_level"] == "streaming" and readings["status_level"] == "streaming"
    assert identity["model"] == "AXIS Q6045-E"
    assert "GetNetworkInterfaces" in identity["unsupported"]


async def test_unrecorded_404_or_unreadable_reply_is_also_not_an_error_state() -> None:
    for settings in (
        {},  # no reply recorded: the responder answers ter:ActionNotSupported
        {"override": {"GetNetworkInterfaces": "404"}},
        {"override": {"GetNetworkInterfaces": "garbage"}},
        {"override": {"GetNetworkInterfaces": "xxe"}},
    ):
        identity, readings, _ = await identity_of(**settings)
        assert "mac" not in identity, settings
        assert readings["status_level"] == "streaming", settings
        assert "GetNetworkInterfaces" in identity["unsupported"], settings
