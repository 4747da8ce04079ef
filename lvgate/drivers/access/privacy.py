"""Keep card numbers private: publish a keyed hash, stable per site and not reversible.

A card number space is small (2^24 for 26-bit cards), so a plain hash could be reversed by
trying every number; HMAC-SHA256 with a per-site secret key cannot be, without the key.
"""

from __future__ import annotations

import hashlib
import hmac

from lvgate.drivers.access.wiegand import Card


def card_hash(key: bytes, card: Card) -> str:
    """Hex HMAC-SHA256 of the card's format, facility code and number under the site key."""
    message = f"{card.format}:{card.facility_code if card.facility_code is not None else ''}:{card.card_number}"
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def masked(number: int) -> str:
    """A card number shown to a technician without --clear: the last two digits only."""
    text = str(number)
    return "*" * max(len(text) - 2, 1) + text[-2:]
