"""``lvgate probe access --port PORT``: show raw frames and what they decode to, live.

Card numbers are masked unless --clear is given (the technician's own test card);
bytes of card frames are then hidden too, since they carry the number.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time

from lvgate.drivers.access.driver import DEFAULT_FORMATS
from lvgate.drivers.access.framing import Rejected
from lvgate.drivers.access.messages import CardMessage, FrameError, parse_frame
from lvgate.drivers.access.privacy import masked
from lvgate.drivers.access.profile import available_profiles, load_profile
from lvgate.drivers.access.serial_link import SerialLink
from lvgate.drivers.access.stream import AccessStream, StreamSettings
from lvgate.drivers.access.wiegand import RAW, all_formats, formats_named
from lvgate.drivers.base import ProfileError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True, help="serial device, e.g. /dev/serial/by-id/usb-FTDI_...")
    parser.add_argument("--profile", "--format", dest="profile", default="lvgate_ascii",
                        help=f"converter format: {', '.join(available_profiles())}")  # fmt: skip
    parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                        help=f"card formats to try, comma separated ({', '.join([*all_formats(), RAW])})")  # fmt: skip
    parser.add_argument("--baudrate", type=int, default=None)
    parser.add_argument("--count", type=int, default=None, help="stop after this many frames (or rejections)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--clear", action="store_true", help="show card numbers and card frame bytes in clear")


def _show(data: bytes) -> str:
    return data.hex(" ") + "  " + repr(data.decode("latin-1"))


async def run_probe(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return 2
    names = [n.strip() for n in args.formats.split(",") if n.strip()]
    unknown = [n for n in names if n not in all_formats() and n != RAW]
    if unknown:
        print(f"unknown card format(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    # A throwaway key: the probe shows hashes only to tell cards apart, never to match the site's.
    key = os.environ.get("LVGATE_PROBE_KEY", secrets.token_hex(16)).encode()
    stream = AccessStream("probe", profile, StreamSettings(formats=formats_named(names), hash_key=key,
                                                           allow_raw=RAW in names))  # fmt: skip
    link = SerialLink(args.port, profile.serial, baudrate=args.baudrate, max_delay=2.0)
    seen = 0
    done = asyncio.Event()
    started = time.monotonic()

    def on_data(data: bytes, ts: int) -> None:
        nonlocal seen
        for item in stream.splitter.feed(data, ts):
            seen += 1
            if isinstance(item, Rejected):
                print(f"rejected {item.reason}: {item.detail}: {_show(item.data)}", flush=True)
            else:
                print(_describe(item, ts), flush=True)
            if args.count is not None and seen >= args.count:
                done.set()

    def _describe(frame: bytes, ts: int) -> str:
        try:
            message = parse_frame(profile, frame)
        except FrameError as exc:
            return f"frame {_show(frame)} -> rejected {exc.reason}: {exc.detail}"
        out = stream.frame(frame, ts)
        raw = _show(frame) if args.clear or not isinstance(message, CardMessage) else f"<{len(frame)} bytes hidden>"
        if out.cards:
            card = out.cards[0]
            number = str(card.card_number) if args.clear else masked(card.card_number)
            fc = "" if card.facility_code is None else f" facility {card.facility_code}"
            return f"frame {raw} -> card {card.format} ({card.bit_count} bits){fc} card {number} valid"
        words = [f"{e.kind} {e.data}" if e.data else e.kind for e in out.events]
        words += [f"{r.key}={r.value}" for r in out.readings if r.key not in ("frames_rejected",)]
        return f"frame {raw} -> {type(message).__name__}: {'; '.join(words) or message}"

    def on_up() -> None:
        print(f"listening on {args.port} ({profile.profile}, {link.baudrate} baud)", flush=True)

    def on_down(reason: str, detail: str) -> None:
        print(f"port {args.port}: {reason}: {detail}", flush=True)

    task = asyncio.create_task(link.run(on_data, on_up, on_down))
    waiter = asyncio.create_task(done.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=args.duration, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, waiter):
            t.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    print(f"{seen} frames in {time.monotonic() - started:.1f} s; rejected: {dict(stream.splitter.rejected) or 'none'}")
    return 0
