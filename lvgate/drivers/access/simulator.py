"""``lvgate simulate access``: send card reads and door changes in a converter's format.

Commands (from --steps, separated by ';', or one per line on stdin with --stdin):
  card FORMAT FC CN | card FORMAT CN     a valid card read (e.g. card H10301 90 324)
  bits 0101...                           a card frame as given (parity errors, odd lengths)
  door open|closed, rex, lock on|off, tamper on|off, power on|off
  grant, heartbeat, time [ISO 8601]      controller messages (profiles that have them)
  garbage N                              N random bytes that contain no frame marker
  raw HEX                                bytes as given
  sleep SECONDS
Without --steps or --stdin a demo loop runs: heartbeats, a card read and a door cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from datetime import UTC, datetime

import serial

from lvgate.drivers.access.messages import card_text, render, spec_for, wrap
from lvgate.drivers.access.profile import AccessProfile, available_profiles, load_profile
from lvgate.drivers.access.wiegand import all_formats
from lvgate.drivers.base import ProfileError

_SWITCHES = {
    "door": ("door_open", {"open": True, "closed": False}),
    "lock": ("lock_engaged", {"on": True, "off": False}),
    "tamper": ("tamper", {"on": True, "off": False}),
    "power": ("power_ok", {"on": True, "off": False}),
}
DEMO = "heartbeat; card H10301 90 324; grant; door open; sleep 2; door closed; heartbeat; sleep 3"


class CommandError(ValueError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", required=True, help="serial device or pty to write to (the gateway reads the other end)"
    )
    parser.add_argument("--profile", "--format", dest="profile", default="lvgate_ascii",
                        help=f"converter format: {', '.join(available_profiles())}")  # fmt: skip
    parser.add_argument("--steps", help="commands separated by ';' (see lvgate/drivers/access/simulator.py)")
    parser.add_argument("--stdin", action="store_true", help="read commands from standard input, one per line")
    parser.add_argument("--seed", type=int, default=None, help="seed for 'garbage' bytes")


def frames_for(profile: AccessProfile, command: str, rng: random.Random) -> bytes | float:
    """The bytes one command sends, or the seconds to wait for ``sleep``."""
    words = command.split()
    if not words:
        return b""
    verb, rest = words[0].lower(), words[1:]
    if verb == "sleep":
        return float(rest[0])
    if verb == "raw":
        return bytes.fromhex("".join(rest))
    if verb == "garbage":
        markers = set((profile.framing.start + profile.framing.end).encode("latin-1"))
        return bytes(b for b in rng.randbytes(int(rest[0]) * 2) if b not in markers)[: int(rest[0])]
    if verb == "card":
        fmt = all_formats().get(rest[0]) if rest else None
        if fmt is None:
            raise CommandError(f"card needs a format: one of {', '.join(all_formats())}")
        numbers = [int(n) for n in rest[1:]]
        fields = dict(zip(("facility_code", "card_number"), numbers, strict=False))
        if "facility_code" not in fmt.fields:
            fields = {"card_number": numbers[0]}
        return wrap(profile, card_text(profile, fmt, fields))
    if verb == "bits":
        spec = spec_for(profile, "card")
        if spec is None:
            raise CommandError(f"profile '{profile.profile}' cannot send cards")
        return wrap(profile, render(spec, bits=rest[0], value=int(rest[0], 2), count=len(rest[0])))
    if verb in ("grant", "heartbeat"):
        spec = spec_for(profile, verb)
        if spec is None:
            raise CommandError(f"profile '{profile.profile}' has no {verb} message")
        return wrap(profile, render(spec))
    if verb == "time":
        spec = spec_for(profile, "clock")
        if spec is None:
            raise CommandError(f"profile '{profile.profile}' has no clock message")
        stamp = rest[0] if rest else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return wrap(profile, render(spec, time=stamp))
    if verb == "rex" or verb in _SWITCHES:
        entity, states = ("request_to_exit", {"": True}) if verb == "rex" else _SWITCHES[verb]
        value = states.get(rest[0] if rest else "")
        if value is None:
            raise CommandError(f"{verb} needs one of {', '.join(states)}")
        spec = spec_for(profile, "input", entity)
        if spec is None or spec.states is None:
            raise CommandError(f"profile '{profile.profile}' has no {entity} message")
        text = next(k for k, v in spec.states.items() if v is value)
        sent = wrap(profile, render(spec, state=text))
        if verb == "rex":  # a press is a pulse
            released = next(k for k, v in spec.states.items() if v is False)
            sent += wrap(profile, render(spec, state=released))
        return sent
    raise CommandError(f"unknown command '{verb}'")


class PortWriter:
    """Writes to the port, reopening it when it went away (an unplugged adapter, a restarted pty)."""

    def __init__(self, path: str, profile: AccessProfile) -> None:
        self.path = path
        self.profile = profile
        self.port: serial.Serial | None = None

    def _open(self) -> serial.Serial:
        settings = self.profile.serial
        return serial.Serial(
            self.path, settings.baudrate, settings.bytesize, settings.parity, settings.stopbits, write_timeout=2
        )

    async def write(self, data: bytes, attempts: int = 50) -> None:
        for attempt in range(attempts):
            try:
                if self.port is None:
                    self.port = self._open()
                self.port.write(data)
                self.port.flush()
                return
            except (serial.SerialException, OSError):
                if self.port is not None:
                    self.port.close()
                    self.port = None
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.1)

    def close(self) -> None:
        if self.port is not None:
            self.port.close()


async def _commands(args: argparse.Namespace, stop: asyncio.Event) -> list[str] | None:
    if args.steps:
        return [c.strip() for c in args.steps.split(";")]
    return None if args.stdin else [c.strip() for c in DEMO.split(";")]


async def run_simulator(args: argparse.Namespace, stop: asyncio.Event) -> int:
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return 1
    rng = random.Random(args.seed)
    writer = PortWriter(args.port, profile)
    loop = asyncio.get_running_loop()
    print(f"simulating {profile.manufacturer} {profile.model} ({profile.profile}) on {args.port}", flush=True)
    try:
        steps = await _commands(args, stop)
        demo = not args.steps and not args.stdin
        while not stop.is_set():
            if steps is None:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    break
                batch = [line.strip()]
            else:
                batch = steps
            for command in batch:
                if stop.is_set():
                    break
                try:
                    action = frames_for(profile, command, rng)
                except (CommandError, ValueError, IndexError) as exc:
                    print(f"error: {command!r}: {exc}", flush=True)
                    continue
                if isinstance(action, float):
                    await asyncio.sleep(action)
                elif action:
                    await writer.write(action)
                    print(f"sent {command}", flush=True)
            if steps is not None and not demo:
                break
    finally:
        writer.close()
    return 0
