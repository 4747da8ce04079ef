"""Run every benchmark, unattended, then regenerate BENCHMARKS.md from bench/results/*.json.

The convention (all a benchmark has to follow): a module ``bench/<name>.py`` whose name does
not start with ``_``, runnable as ``python -m bench.<name>`` with defaults that finish in a
few minutes, which writes ``bench/results/<name>.json``. The harness runs each in its own
process with a time limit (so one benchmark's event loop, threads or crash cannot touch
another), in a fixed order, with the arguments below that keep ``make bench`` under
15 minutes on a 2-core machine. A module that prints its figures but writes no JSON gets
one written for it with its output. A failing benchmark is reported and the others still run.

    .venv/bin/python -m bench                      # everything (make bench)
    .venv/bin/python -m bench peers soak           # only these
    .venv/bin/python -m bench --report-only        # only regenerate BENCHMARKS.md
    .venv/bin/python -m bench soak --soak-minutes 10   # the full 10-minute soak (make soak)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import REPO_ROOT, RESULTS_DIR, machine_info
from bench._report import write_report
from bench.soak import result_name as soak_result_name

BENCH_DIR = Path(__file__).parent
# Arguments for `make bench` (a benchmark's own defaults may be longer), and a time limit each.
QUICK: dict[str, tuple[list[str], float]] = {
    "gateway_throughput": (["--devices", "10,100,500", "--repeats", "3", "--window", "8", "--warmup", "3"], 300),
    "peers": (["--devices", "100", "--repeats", "3", "--window", "10", "--warmup", "3"], 300),
    "soak": ([], 300),
    "access_latency": (["--events", "100"], 120),
    "reachability": (["--targets", "200", "--rounds", "3"], 120),
    "collector_ingest": (["--messages", "10000", "--validation", "schema", "--repeats", "3"], 600),
    "mqtt_schema_validate": (["--messages", "5000", "--rounds", "3"], 90),
    "snmp_poll": (["--runs", "3"], 120),
    "gateway_snmp": (
        ["--devices", "10,50", "--repeats", "3", "--interval", "2", "--window", "10", "--warmup", "3"],
        360,
    ),
}
DEFAULT_LIMIT_S = 120.0
# Longest first matters less than predictability: a fixed order, ours last-but-one, report last.
ORDER = ["gateway_throughput", "peers", "soak"]


def discover() -> list[str]:
    names = sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_") and p.stem != "__init__")
    return [n for n in names if n not in ORDER] + [n for n in ORDER if n in names]


def run_one(name: str, extra: list[str], soak_minutes: float | None) -> dict[str, object]:
    args, limit = QUICK.get(name, ([], DEFAULT_LIMIT_S))
    args = [*args, *extra]
    result_file = RESULTS_DIR / f"{name}.json"
    if name == "soak" and soak_minutes is not None:
        args += ["--minutes", str(soak_minutes)]
        limit = max(limit, soak_minutes * 60 + 180)
        result_file = RESULTS_DIR / f"{soak_result_name(soak_minutes)}.json"
    before = result_file.stat().st_mtime if result_file.exists() else None
    command = [sys.executable, "-m", f"bench.{name}", *args]
    print(f"bench: {name}: {' '.join(command[1:])} (limit {limit:g} s)", flush=True)
    started = time.monotonic()
    # Its own session and an output file, not pipes: on timeout the whole group (brokers,
    # databases it started) is killed, and no grandchild holding a pipe can hang the harness.
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            status = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            status = -1
        out.seek(0)
        output = out.read()
    if status == -1:
        output = f"stopped after {limit:g} s\n{output}"
    took = time.monotonic() - started
    wrote = result_file.exists() and result_file.stat().st_mtime != before
    if status == 0 and not wrote:
        # It printed its figures without writing JSON: keep them, marked as such.
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        result_file.write_text(
            json.dumps(
                {
                    "benchmark": name,
                    "command": " ".join(command[1:]),
                    "machine": machine_info(),
                    "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "note": "this module writes no JSON; the harness kept its output",
                    "output": output.strip()[-4000:],
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
    state = "ok" if status == 0 else f"FAILED (exit {status})"
    print(f"bench: {name}: {state} in {took:.0f} s", flush=True)
    if status != 0:
        print(output[-3000:], flush=True)
    return {"name": name, "status": status, "seconds": round(took, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("only", nargs="*", help="benchmark names (default: all)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--soak-minutes", type=float, default=None, help="soak length (default: the soak's own, short)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    failures = []
    if not args.report_only:
        names = discover()
        unknown = [n for n in args.only if n not in names]
        if unknown:
            parser.error(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(names)})")
        for name in [n for n in names if not args.only or n in args.only]:
            outcome = run_one(name, [], args.soak_minutes)
            if outcome["status"] != 0:
                failures.append(name)
    path = write_report()
    print(f"bench: {path} regenerated; {time.monotonic() - started:.0f} s in all", flush=True)
    if failures:
        print(f"bench: failed: {', '.join(failures)}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
