"""``lvgate mqtt-schema``: check a message against the contract, print or write the documentation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_mqtt_schema_parser(sub: Any) -> None:
    """Add ``mqtt-schema`` to the ``lvgate`` subcommands (``sub`` is argparse's subparsers action)."""
    parser: argparse.ArgumentParser = sub.add_parser("mqtt-schema", help="the MQTT contract: validate, docs")

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)
    actions = parser.add_subparsers(dest="mqtt_schema_command", metavar="ACTION")

    validate = actions.add_parser("validate", help="check one message; exit 0 if valid, 1 with its problems")
    validate.add_argument("topic")
    validate.add_argument("payload", help="the payload text; '-' reads it from stdin, '@FILE' from a file")
    validate.add_argument("--base", default="lvgate", help="base topic (default: lvgate)")
    validate.set_defaults(func=cmd_validate)

    docs = actions.add_parser("docs", help="print docs/mqtt.md as generated from the contract")
    docs.add_argument("--write-to", type=Path, metavar="DIR", help="write mqtt.md and schemas/ into DIR instead")
    docs.set_defaults(func=cmd_docs)


def _read_payload(text: str) -> bytes:
    if text == "-":
        return sys.stdin.buffer.read()
    if text.startswith("@"):
        return Path(text[1:]).read_bytes()
    return text.encode("utf-8")


def cmd_validate(args: argparse.Namespace) -> int:
    from lvgate.mqtt_schema.validate import schema_for_topic, validate_message

    try:
        payload = _read_payload(args.payload)
    except OSError as exc:
        print(f"cannot read the payload: {exc}", file=sys.stderr)
        return 2
    problems = validate_message(args.base, args.topic, payload)
    if problems:
        for problem in problems:
            print(problem)
        return 1
    print(f"OK: {schema_for_topic(args.base, args.topic)}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from lvgate.mqtt_schema.docs import render_markdown, write_docs

    if args.write_to is None:
        sys.stdout.write(render_markdown())
        return 0
    for path in write_docs(args.write_to):
        print(path)
    return 0
