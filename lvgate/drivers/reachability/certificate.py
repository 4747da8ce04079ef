"""Read a certificate's expiry (notAfter) from its DER bytes.

``ssl`` only decodes a peer certificate it has verified; a device with a self-signed
certificate is checked with verification off, where only the DER bytes are available. The
expiry sits at a fixed place of the X.509 structure (RFC 5280 section 4.1), so a few lines of
DER walking read it without a crypto library on the gateway.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


class CertificateError(ValueError):
    """The bytes are not a DER certificate this reader understands."""


def _element(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise CertificateError(f"truncated DER at byte {pos}")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise CertificateError(f"bad DER length at byte {pos - 1}")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise CertificateError(f"DER element at byte {pos} runs past the end")
    return tag, pos, pos + length


def _expect(data: bytes, pos: int, tag: int, what: str) -> tuple[int, int]:
    found, start, end = _element(data, pos)
    if found != tag:
        raise CertificateError(f"expected {what} (tag 0x{tag:02x}) at byte {pos}, found tag 0x{found:02x}")
    return start, end


def _parse_time(tag: int, text: str) -> datetime:
    if not text.endswith("Z"):
        raise CertificateError(f"certificate time {text!r} is not in UTC")
    try:
        if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: years 50-99 are 19xx (RFC 5280 4.1.2.5.1)
            if not text[:2].isdigit():
                raise ValueError(text)
            year = int(text[:2])
            text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
        return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise CertificateError(f"bad certificate time {text!r}") from exc


def not_after(der: bytes) -> datetime:
    """The end of the validity period of an X.509 certificate in DER form."""
    cert_start, _ = _expect(der, 0, 0x30, "Certificate")
    pos, _ = _expect(der, cert_start, 0x30, "TBSCertificate")
    if pos < len(der) and der[pos] == 0xA0:  # [0] version, absent in v1 certificates
        pos = _element(der, pos)[2]
    for _ in range(3):  # serialNumber, signature algorithm, issuer
        pos = _element(der, pos)[2]
    validity_start, _ = _expect(der, pos, 0x30, "Validity")
    pos = _element(der, validity_start)[2]  # notBefore
    tag, start, end = _element(der, pos)
    if tag not in (0x17, 0x18):
        raise CertificateError(f"expected UTCTime or GeneralizedTime at byte {pos}, found tag 0x{tag:02x}")
    return _parse_time(tag, der[start:end].decode("ascii", errors="replace"))


def days_left(expiry: datetime, now: datetime) -> int:
    """Whole days until ``expiry`` (rounded down), negative once it has passed."""
    return math.floor((expiry - now).total_seconds() / 86400)
