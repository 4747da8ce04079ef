"""`lvgate probe modbus`: read registers of a live unit and show every decoding side by side;
with ``--scan``, find which unit ids answer on a bus."""

from __future__ import annotations

import argparse

from lvgate.drivers.modbus.codec import decode_string, raw_number
from lvgate.drivers.modbus.frames import ExceptionReply, FrameError, bits_of, read_request, registers_of
from lvgate.drivers.modbus.transport import Bus, LinkError, RtuOverTcpBus, SerialRtuBus, TcpBus, frame_gap

_COLUMNS = [
    ("uint16", 1, "ABCD"), ("int16", 1, "ABCD"), ("int16", 1, "BADC"),
    ("uint32", 2, "ABCD"), ("uint32", 2, "CDAB"), ("int32", 2, "ABCD"), ("int32", 2, "CDAB"),
    ("float32", 2, "ABCD"), ("float32", 2, "CDAB"), ("float32", 2, "BADC"), ("float32", 2, "DCBA"),
]  # fmt: skip


def add_probe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transport", choices=["tcp", "rtu", "rtu_over_tcp"], default="tcp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="502", help="TCP port, or the serial device for rtu")
    parser.add_argument("--baudrate", type=int, default=9600)
    parser.add_argument("--parity", choices=["N", "E", "O"], default="N")
    parser.add_argument("--bytesize", type=int, choices=[7, 8], default=8)
    parser.add_argument("--stopbits", type=int, choices=[1, 2], default=1)
    parser.add_argument("--unit", type=int, default=1)
    parser.add_argument("--table", choices=["holding", "input", "coil", "discrete"], default="holding")
    parser.add_argument("--address", type=lambda s: int(s, 0), default=0, help="wire (0-based) address")
    parser.add_argument("--count", type=int, default=8, help="registers (or bits) to read")
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--scan", metavar="FIRST-LAST", nargs="?", const="1-247", help="find answering unit ids")


def bus_from_args(args: argparse.Namespace) -> Bus:
    line = (args.baudrate, args.bytesize, args.parity, args.stopbits)
    if args.transport == "rtu":
        return SerialRtuBus(
            args.port, baudrate=args.baudrate, bytesize=args.bytesize, parity=args.parity, stopbits=args.stopbits,
            timeout=args.timeout, retries=0,
        )  # fmt: skip
    if args.transport == "rtu_over_tcp":
        return RtuOverTcpBus(args.host, int(args.port), timeout=args.timeout, retries=0, gap=frame_gap(*line))
    return TcpBus(args.host, int(args.port), timeout=args.timeout, retries=0)


def register_table(start: int, words: list[int]) -> list[str]:
    """One row per register: the raw word, then each type and order starting there."""
    header = ["addr", "hex", *(f"{t} {o}" if o != "ABCD" or t.endswith("32") else t for t, _, o in _COLUMNS)]
    rows = [header]
    for i, word in enumerate(words):
        row = [str(start + i), f"0x{word:04X}"]
        for data_type, size, order in _COLUMNS:
            if i + size > len(words):
                row.append("")
                continue
            value = raw_number(words[i : i + size], data_type, order)
            row.append(f"{value:.6g}" if isinstance(value, float) else str(value))
        rows.append(row)
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    return ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]


async def run_probe(args: argparse.Namespace) -> int:
    bus = bus_from_args(args)
    try:
        if args.scan:
            return await _scan(bus, args)
        pdu = await bus.request(args.unit, read_request(args.table, args.address, args.count))
    except ExceptionReply as exc:
        print(f"unit {args.unit} answered with {exc}")
        return 1
    except (TimeoutError, FrameError, LinkError) as exc:
        print(f"unit {args.unit} on {bus.name}: {type(exc).__name__}: {exc}")
        return 1
    finally:
        await bus.close()
    if args.table in ("coil", "discrete"):
        for i, bit in enumerate(bits_of(pdu, args.count)):
            print(f"{args.address + i:6d}  {bit}")
        return 0
    words = registers_of(pdu)
    for line in register_table(args.address, words):
        print(line)
    print(f"string ABCD: {decode_string(words, 'ABCD')!r}   string BADC: {decode_string(words, 'BADC')!r}")
    return 0


async def _scan(bus: Bus, args: argparse.Namespace) -> int:
    first, _, last = args.scan.partition("-")
    found = 0
    for unit in range(int(first), int(last or first) + 1):
        try:
            await bus.request(unit, read_request(args.table, args.address, 1))
        except ExceptionReply as exc:  # an exception reply is still an answer: the unit exists
            print(f"unit {unit}: answers ({exc})")
            found += 1
        except (TimeoutError, FrameError):
            continue
        else:
            print(f"unit {unit}: answers")
            found += 1
    print(f"{found} unit(s) answered on {bus.name}")
    return 0 if found else 1
