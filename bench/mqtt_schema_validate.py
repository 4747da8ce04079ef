"""CPU cost of checking MQTT messages against the contract (``validate_message``).

A consumer that checks everything it receives (the end-to-end test, a collector in strict
mode) pays this per message. Measures this process's CPU time (kernel accounting) for
validating the documented examples: a UPS telemetry message with 7 readings, a retained
state, an availability; the first call per schema (building its validator) is reported apart.

    .venv/bin/python -m bench.mqtt_schema_validate [--messages 20000]

Writes bench/results/mqtt_schema_validate.json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path

from lvgate.mqtt_schema import examples, payloads
from lvgate.mqtt_schema.validate import validate_message, validator


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    found = examples.examples()
    cases = {name: (found[name][0], payloads.dumps(found[name][1])) for name in ("telemetry", "state", "availability")}
    first_use: dict[str, float] = {}
    for name in cases:
        start = _cpu_s()
        validator(name)
        first_use[name] = round((_cpu_s() - start) * 1000, 2)

    per_message: dict[str, dict[str, float]] = {}
    for name, (topic, body) in cases.items():
        assert validate_message("lvgate", topic, body) == []
        rounds = []
        for _ in range(args.rounds):
            start = _cpu_s()
            for _ in range(args.messages):
                validate_message("lvgate", topic, body)
            rounds.append((_cpu_s() - start) / args.messages * 1e6)
        per_message[name] = {"median": round(statistics.median(rounds), 2), "min": round(min(rounds), 2)}
        print(f"{name:13} {len(body):5} bytes: {per_message[name]['median']:8.1f} µs CPU per message (median)")
    print("first use (builds the validator), ms CPU:", first_use)
    path = Path(__file__).parent / "results" / "mqtt_schema_validate.json"
    path.parent.mkdir(exist_ok=True)
    result = {
        "what": "CPU time of validate_message per message, this process (os.times)",
        "messages_per_round": args.messages,
        "rounds": args.rounds,
        "us_cpu_per_message": per_message,
        "first_use_ms_cpu": first_use,
        "payload_bytes": {name: len(body) for name, (_, body) in cases.items()},
        "run_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "versions": {"python": platform.python_version(), "jsonschema": metadata.version("jsonschema")},
    }
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written {path}")


if __name__ == "__main__":
    main()
