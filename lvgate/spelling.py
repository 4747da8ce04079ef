"""Suggest the word a user probably meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def _fold(word: str) -> str:
    """Compare words without regard to case or to '-' versus '_'."""
    return word.casefold().replace("-", "_")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(_fold(choice), choice)
    close = difflib.get_close_matches(_fold(word), list(by_folded), n=1, cutoff=0.6)
    return f" (did you mean '{by_folded[close[0]]}'?)" if close else ""
