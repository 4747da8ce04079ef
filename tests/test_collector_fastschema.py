"""The compiled schema check must give jsonschema's verdict: it is only a shortcut for 'valid'."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from lvgate.collector.fastschema import compile_schema, json_equal
from lvgate.collector.validate import check_message
from lvgate.mqtt_schema.examples import examples
from lvgate.mqtt_schema.schemas import schemas

EXAMPLES = examples()
NAMES = sorted(EXAMPLES)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.sampled_from(
        ["", "good", "bad", "uncertain", "ups", "switch", "x y", "2026-03-01T08:15:00.250Z", "2026-13-01T08:15:00Z"]
    )
)  # fmt: skip


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{path[-1]}_x"] = value
    else:
        parent[path[-1]] = value
    return doc


def test_every_contract_schema_compiles() -> None:
    assert all(compile_schema(s) is not None for s in schemas().values())


def test_examples_pass() -> None:
    for name in NAMES:
        _, doc = EXAMPLES[name]
        check = compile_schema(schemas()[name])
        assert check is not None and check(doc), name


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(NAMES), st.data(), st.sampled_from(["set", "delete", "add"]), SCALARS)
def test_same_verdict_as_jsonschema(name: str, data: st.DataObject, action: str, value: Any) -> None:
    _, doc = EXAMPLES[name]
    schema = schemas()[name]
    path = data.draw(st.sampled_from(_paths(doc)))
    mutated = _mutate(doc, path, action, value)
    check = compile_schema(schema)
    assert check is not None
    assert check(mutated) == Draft202012Validator(schema).is_valid(mutated)


def test_unknown_keyword_does_not_compile() -> None:
    assert compile_schema({"type": "object", "dependentRequired": {"a": ["b"]}}) is None
    assert compile_schema({"$ref": "https://example.invalid/x.json"}) is None


def test_json_equality() -> None:
    assert (
        json_equal(1, 1.0) and not json_equal(True, 1) and not json_equal(0, None) and json_equal([1, "a"], [1.0, "a"])
    )


def test_rejected_telemetry_keeps_jsonschema_reason() -> None:
    topic, doc = EXAMPLES["telemetry"]
    bad = copy.deepcopy(doc)
    key = next(iter(bad["readings"]))
    bad["readings"][key]["q"] = "excellent"
    try:
        check_message("lvgate", topic, json.dumps(bad).encode(), mode="schema", max_bytes=1 << 20)
    except ValueError as exc:
        assert f"$.readings.{key}.q" in str(exc)
    else:
        raise AssertionError("a reading of quality 'excellent' was accepted")
    good = check_message("lvgate", topic, json.dumps(doc).encode(), mode="schema", max_bytes=1 << 20)
    assert good is not None and good.body == doc
