"""docs/mqtt.md and docs/schemas/ are generated from the contract and never drift from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lvgate.cli import main
from lvgate.mqtt_schema.catalog import COMMANDS, all_topics
from lvgate.mqtt_schema.docs import render_markdown, schema_files
from lvgate.mqtt_schema.validate import schema_for_topic, validate_message
from lvgate.mqtt_schema.vocabulary import vocabulary

DOCS = Path(__file__).resolve().parents[1] / "docs"
REGENERATE = "regenerate with: lvgate mqtt-schema docs --write-to docs"


def test_committed_mqtt_md_is_the_generated_text() -> None:
    assert (DOCS / "mqtt.md").read_text(encoding="utf-8") == render_markdown(), REGENERATE


def test_committed_schema_files_are_the_generated_schemas() -> None:
    files = schema_files()
    assert sorted(p.name for p in (DOCS / "schemas").glob("*.schema.json")) == sorted(files), REGENERATE
    for name, text in files.items():
        assert (DOCS / "schemas" / name).read_text(encoding="utf-8") == text, f"{name}: {REGENERATE}"


def test_every_example_in_the_document_validates_against_its_topic_s_schema() -> None:
    text = render_markdown()
    # "Example on `topic`:" followed by a ```json block, as a reader sees it.
    found = re.findall(r"Example on `([^`]+)`:\n\n```json\n(.*?)\n```", text, flags=re.S)
    topics = [topic for topic, _ in found]
    assert len(found) == len(all_topics()) - 2 + 2 * len(COMMANDS)
    for topic, body in found:
        assert schema_for_topic("lvgate", topic) is not None, topic
        assert validate_message("lvgate", topic, body.encode()) == [], topic
    assert len(set(topics)) == len(topics)


def test_the_document_names_every_topic_device_class_key_and_event_word() -> None:
    text = render_markdown()
    for spec in all_topics():
        assert f"`{{base}}/{{gateway}}/{spec.pattern}`" in text
    for name, dc in vocabulary().items():
        assert f"### `{name}`: {dc.title}" in text
        for key, kind in dc.entities.items():
            row = next(line for line in text.splitlines() if line.startswith(f"| `{key}` | {kind.type} |"))
            if kind.unit:
                assert f"| {kind.unit} |" in row
            for state in kind.states:
                assert f"`{state}`" in row
        for word in dc.events:
            assert f"`{word}`" in text


def test_cli_docs_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mqtt-schema", "docs"]) == 0
    assert capsys.readouterr().out == render_markdown()


def test_cli_docs_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "gone.schema.json").write_text("{}")
    assert main(["mqtt-schema", "docs", "--write-to", str(tmp_path)]) == 0
    assert (tmp_path / "mqtt.md").read_text(encoding="utf-8") == render_markdown()
    assert not (tmp_path / "schemas" / "gone.schema.json").exists()
    telemetry = json.loads((tmp_path / "schemas" / "telemetry.schema.json").read_text(encoding="utf-8"))
    assert telemetry["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_cli_validate_exit_codes_and_problems(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = '{"schema_version":1,"state":"online","ts":"2026-03-01T08:15:00.250Z"}'
    assert main(["mqtt-schema", "validate", "lvgate/gw/ups-1/availability", good]) == 0
    assert capsys.readouterr().out == "OK: availability\n"
    bad = '{"schema_version":1,"state":"up","ts":"2026-03-01T08:15:00.250Z"}'
    assert main(["mqtt-schema", "validate", "lvgate/gw/ups-1/availability", bad]) == 1
    assert capsys.readouterr().out == "$.state: 'up' is not one of ['online', 'offline']\n"
    payload_file = tmp_path / "p.json"
    payload_file.write_text(good)
    assert main(["mqtt-schema", "validate", "--base", "site/x", "site/x/gw/d/availability", f"@{payload_file}"]) == 0
    assert main(["mqtt-schema", "validate", "lvgate/gw/d/availability", f"@{tmp_path / 'missing'}"]) == 2
