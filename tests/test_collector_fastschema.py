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


def test_member_checks_are_remembered_per_key_not_per_value() -> None:
    # Keys matching a pattern take its subschema; the verdict for a key is worked out once,
    # but every value under that key is still checked.
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "patternProperties": {"^t\\.": {"type": "string"}, "^t\\.x": {"minLength": 2}},
        "additionalProperties": False,
    }
    check = compile_schema(schema)
    assert check is not None
    assert check({"a": 1, "t.y": "s", "t.x": "ok"})
    assert not check({"a": 1, "t.x": "s"})  # both patterns apply to t.x: minLength 2 fails
    assert not check({"t.y": 5})  # same key as before, a value of the wrong type
    assert not check({"b": "s"})  # no property, no pattern: additionalProperties false
    assert not check({"a": True})  # true is not an integer
    assert check({"a": 2.0})  # 2.0 is (Draft 2020-12)


def test_if_conditions_compiled_in_line_keep_their_meaning() -> None:
    schema = {
        "if": {"properties": {"q": {"const": "bad"}}, "required": ["q"]},
        "then": {"properties": {"v": {"type": "null"}}},
        "else": {"required": ["v"]},
    }
    check = compile_schema(schema)
    assert check is not None
    assert check({"q": "bad", "v": None}) and not check({"q": "bad", "v": 1})
    assert check({"q": "good", "v": 1}) and not check({"q": "good"})
    assert not check({}) and check("not an object")  # no q: the else branch; non-objects pass both
