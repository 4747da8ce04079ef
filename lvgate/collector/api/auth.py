"""API tokens from a file and/or the environment; loopback clients may read without one.

Token file: one token per line, optionally ``name token`` (the name is recorded as who
acknowledged an alarm); ``#`` starts a comment. Environment: ``name:token,token2``.
With no token configured at all, loopback clients may also act (a single-machine setup);
remote clients can never do anything without a token.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Caller:
    name: str | None  # the token's name; None for an anonymous loopback reader
    can_write: bool


def _parse(entries: list[str]) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for i, raw in enumerate(entries, 1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        if ":" in entry:
            name, token = entry.split(":", 1)
        elif " " in entry:
            name, token = entry.split(None, 1)
        else:
            name, token = f"token-{i}", entry
        tokens[token.strip()] = name.strip()
    return tokens


def load_tokens(tokens_file: Path | None, env_name: str) -> dict[str, str]:
    """token -> name. Never logged."""
    tokens: dict[str, str] = {}
    if tokens_file is not None:
        tokens.update(_parse(tokens_file.read_text(encoding="utf-8").splitlines()))
    env = os.environ.get(env_name, "")
    if env:
        tokens.update(_parse(env.split(",")))
    return tokens


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenAuth:
    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens

    def caller(self, client_host: str | None, token: str | None) -> Caller | None:
        """Who is asking, or None when they may not even read."""
        if token:
            for known, name in self.tokens.items():
                if hmac.compare_digest(known.encode(), token.encode()):
                    return Caller(name, True)
            return None
        if is_loopback(client_host):
            return Caller(None, not self.tokens)
        return None
