"""Parse what a camera sends, safely.

A reply is refused before parsing when it is larger than the bound, and by the parser when
it carries a DOCTYPE at all: that closes external entities (XXE), entity expansion (billion
laughs) and DTD fetching by construction. SOAP never needs a DTD.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

MAX_REPLY_BYTES = 1_000_000

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}


class XmlReplyError(Exception):
    """A reply that is not acceptable XML; the message names the camera and the operation."""

    def __init__(self, device: str, operation: str, problem: str) -> None:
        self.device = device
        self.operation = operation
        self.problem = problem
        super().__init__(f"camera '{device}', {operation}: {problem}")


class ParsedXml:
    """The root element plus every namespace prefix the document declared (for topic names)."""

    def __init__(self, root: Element, prefixes: dict[str, str]) -> None:
        self.root = root
        self.prefixes = prefixes


def parse(data: bytes, *, device: str, operation: str, limit: int = MAX_REPLY_BYTES) -> ParsedXml:
    if len(data) > limit:
        raise XmlReplyError(device, operation, f"reply of {len(data)} bytes exceeds the {limit}-byte bound")
    if not data.strip():
        raise XmlReplyError(device, operation, "empty reply")
    prefixes: dict[str, str] = {}
    root: Element | None = None
    try:
        # Topic expressions use prefixes declared anywhere in the document; a camera
        # rebinding a prefix inside one reply has not been seen, so a flat map suffices.
        for event, item in iterparse(io.BytesIO(data), events=("start", "start-ns"), forbid_dtd=True):
            if event == "start-ns":
                prefix, uri = item
                prefixes.setdefault(prefix, uri)
            elif root is None:
                root = item
    except DefusedXmlException as exc:
        raise XmlReplyError(device, operation, f"refused unsafe XML ({type(exc).__name__})") from exc
    except ET.ParseError as exc:
        raise XmlReplyError(device, operation, f"not well-formed XML ({exc})") from exc
    if root is None:
        raise XmlReplyError(device, operation, "no XML element in reply")
    return ParsedXml(root, prefixes)


def text(element: Element | None, path: str) -> str | None:
    """Stripped text at ``path`` (ElementPath with the NS prefixes), None when absent."""
    if element is None:
        return None
    found = element.find(path, NS)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
