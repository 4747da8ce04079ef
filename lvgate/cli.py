"""The ``lvgate`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from lvgate import __version__
from lvgate.drivers.base import Driver
from lvgate.gateway.yaml_source import ConfigError

log = logging.getLogger("lvgate")


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pymodbus logs every retry at WARNING/ERROR; lvgate reports device failures itself, once.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


async def run_until_signal(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await main(stop)


def cmd_check(args: argparse.Namespace) -> int:
    from lvgate.gateway.config import load_gateway_config

    failed = False
    for path in args.config:
        if _looks_like_collector_config(path):
            failed |= not _check_collector(path)
            continue
        try:
            config = load_gateway_config(path)
        except ConfigError as exc:
            failed = True
            for problem in exc.problems:
                print(problem)
            continue
        settings = config.settings
        print(f"{path}: OK: site '{settings.site}', room '{settings.room}', gateway '{settings.gateway_id}', "
              f"{len(config.devices)} devices")  # fmt: skip
        for device in config.devices:
            driver = config.driver_of(device)
            state = "" if device.enabled else " (disabled)"
            print(f"  {device.id}{state}: {driver.describe(device)}")
            describe_plan = getattr(driver, "describe_plan", None)  # optional: drivers that plan requests
            if args.plan and describe_plan is not None:
                for line in describe_plan(device):
                    print(f"      {line}")
    return 1 if failed else 0


def _looks_like_collector_config(path: Path) -> bool:
    """A collector file has collector settings and no devices (read without validating)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # the gateway loader reports it properly
    collector_keys = {"collector_id", "storage", "role", "alarms", "api", "database", "validation"}
    return isinstance(data, dict) and "devices" not in data and bool(collector_keys & data.keys())


def _check_collector(path: Path) -> bool:
    from lvgate.collector.config import load_collector_config

    try:
        config = load_collector_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        return False
    settings = config.settings
    storage = "InfluxDB " + settings.storage.influxdb.url if settings.storage.influxdb else "SQLite history"
    if not settings.writes_history:
        storage += " (read only: role book)"
    book = "alarm book" if settings.runs_alarm_book else "no alarm book"
    group = f"shared group '{settings.mqtt.shared_group}'" if settings.mqtt.shared_group else "every message"
    print(
        f"{path}: OK: collector '{settings.collector_id}' (role {settings.role}, {book}), "
        f"broker {settings.mqtt.host}:{settings.mqtt.port} ({group}), {storage}, database {config.database}"
    )
    return True


def cmd_run(args: argparse.Namespace) -> int:
    from lvgate.gateway.config import load_gateway_config
    from lvgate.gateway.runtime import Gateway

    try:
        config = load_gateway_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1

    async def main(stop: asyncio.Event) -> None:
        await Gateway(config).run(stop)  # built inside the loop: drivers bind to it

    asyncio.run(run_until_signal(main))
    return 0


def cmd_collector(args: argparse.Namespace) -> int:
    from lvgate.collector.config import load_collector_config
    from lvgate.collector.service import Collector, quiet_gc

    try:
        config = load_collector_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1

    async def main(stop: asyncio.Event) -> None:
        collector = Collector(config)
        quiet_gc()
        await collector.run(stop)

    asyncio.run(run_until_signal(main))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from lvgate.simulate import simulate_room

    if args.config is None:
        print("lvgate simulate: give -c ROOM.yaml, or a driver: lvgate simulate {modbus,...} --help", file=sys.stderr)
        return 2
    return simulate_room(args.config)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _add_driver_tools(simulate: argparse.ArgumentParser, probe: argparse.ArgumentParser) -> None:
    """`lvgate simulate <driver>` and `lvgate probe <driver>` for every driver that offers them."""
    from lvgate.drivers.registry import drivers

    sim_sub = simulate.add_subparsers(dest="driver", metavar="DRIVER")
    probe_sub = probe.add_subparsers(dest="driver", metavar="DRIVER")
    installed = drivers()
    for name in installed:
        driver = installed.get(name)
        if driver is None:
            continue
        # Ask on a scratch parser first so drivers without a tool are not listed at all.
        if driver.add_simulate_arguments(argparse.ArgumentParser(add_help=False)):
            sim_parser = sim_sub.add_parser(name, help=f"simulate {name} devices on loopback")
            driver.add_simulate_arguments(sim_parser)
            sim_parser.set_defaults(func=_driver_simulate(driver))
        if driver.add_probe_arguments(argparse.ArgumentParser(add_help=False)):
            probe_parser = probe_sub.add_parser(name, help=f"probe a live {name} device")
            driver.add_probe_arguments(probe_parser)
            probe_parser.set_defaults(func=_driver_probe(driver))


def _driver_simulate(driver: Driver) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            return await driver.simulate(args, stop)

        return asyncio.run(main())

    return run


def _driver_probe(driver: Driver) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return asyncio.run(driver.probe(args))

    return run


def cmd_demo(args: argparse.Namespace) -> int:
    from lvgate.demo import run_demo

    return asyncio.run(run_demo(duration=args.duration, workdir=args.workdir, broker=args.broker))


def build_parser(*, driver_tools: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lvgate", description="Edge gateway and collector for low-voltage systems.")
    parser.add_argument("--version", action="version", version=f"lvgate {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="validate config files and show what each device will do")
    check.add_argument("config", nargs="+", type=Path)
    check.add_argument("--plan", action="store_true", help="also print each device's read requests")
    check.set_defaults(func=cmd_check)

    run = sub.add_parser("run", help="run the edge gateway")
    run.add_argument("-c", "--config", required=True, type=Path)
    run.set_defaults(func=cmd_run)

    collector = sub.add_parser("collector", help="run the central collector")
    collector.add_argument("-c", "--config", required=True, type=Path)
    collector.set_defaults(func=cmd_collector)

    simulate = sub.add_parser("simulate", help="serve simulated devices on loopback")
    simulate.add_argument("-c", "--config", type=Path, help="serve every loopback device of this gateway config")
    simulate.set_defaults(func=cmd_simulate)
    probe = sub.add_parser("probe", help="talk to a live device and show what it answers")
    probe.set_defaults(func=lambda args: _usage(probe))
    if driver_tools:
        _add_driver_tools(simulate, probe)

    demo = sub.add_parser("demo", help="run a whole simulated equipment room end to end")
    demo.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    demo.add_argument("--workdir", type=Path, default=None, help="keep configs, queues and history here")
    demo.add_argument("--broker", choices=["auto", "mosquitto", "builtin"], default="auto")
    demo.set_defaults(func=cmd_demo)

    from lvgate.mqtt_schema.cli import add_mqtt_schema_parser

    add_mqtt_schema_parser(sub)

    from lvgate.collector.maintenance.cli import add_maintenance_parsers

    add_maintenance_parsers(sub)
    return parser


# What technicians type for the reachability checks: `lvgate probe ping|tcp|http TARGET`.
PROBE_SHORTHANDS = {"ping": "reachability", "tcp": "reachability", "http": "reachability"}


def main(argv: list[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    probe_at = words.index("probe") if "probe" in words else -1
    if 0 <= probe_at < len(words) - 1 and words[probe_at + 1] in PROBE_SHORTHANDS:
        words.insert(probe_at + 1, PROBE_SHORTHANDS[words[probe_at + 1]])
        argv = words
    # Only the technician tools need every driver imported; `run` must stay light.
    args = build_parser(driver_tools=bool({"probe", "simulate"} & set(words))).parse_args(argv)
    setup_logging(args.log_level)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
