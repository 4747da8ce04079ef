"""A compiled yes/no check for the JSON Schemas of the contract, for the ingest hot path.

jsonschema walks a payload with a generic interpreter (descend, evolve, error objects) and
costs about 1 ms per telemetry message. This compiles a schema into nested closures that only
answer "valid?" for the keywords the contract uses, with the same meaning as Draft 2020-12
(``format`` is an annotation, as in jsonschema's default). A schema with any other keyword,
or a ``$ref`` outside the document, does not compile (None): the caller then uses jsonschema.
The collector calls jsonschema for every message this check refuses, so the reasons in dead
letters still come from the full validator.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

_ANNOTATIONS = {"description", "title", "$schema", "$id", "$defs", "format", "$comment", "examples", "default"}
_KNOWN = _ANNOTATIONS | {
    "type", "$ref", "properties", "enum", "required", "additionalProperties", "const", "pattern", "allOf",
    "if", "then", "else", "minLength", "patternProperties", "minimum", "maximum", "items", "minProperties",
}  # fmt: skip


class Unsupported(Exception):
    """The schema uses something this compiler does not implement."""


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": _is_number,
    # Draft 2020-12: 1.0 is an integer.
    "integer": lambda x: _is_number(x) and (isinstance(x, int) or x.is_integer()),
}


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema means it: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b)


def _any_of(tests: list[Check]) -> Check:
    frozen = tuple(tests)

    def any_of(x: Any) -> bool:
        for test in frozen:  # noqa: SIM110 - a loop: no generator per call
            if test(x):
                return True
        return False

    return any_of


def _all_of(checks: list[Check]) -> Check:
    frozen = tuple(checks)

    def all_of(x: Any) -> bool:
        for check in frozen:  # noqa: SIM110 - a loop: no generator per call
            if not check(x):
                return False
        return True

    return all_of


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, pointer: str) -> Check:
        if pointer in self.refs:
            return self.refs[pointer]
        if not pointer.startswith("#/"):
            raise Unsupported(pointer)
        target: Any = self.root
        for part in pointer[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise Unsupported(pointer)
            target = target[part]
        holder: list[Check] = []
        self.refs[pointer] = lambda x: holder[0](x)  # recursion-safe placeholder
        holder.append(self.compile(target))
        self.refs[pointer] = holder[0]
        return holder[0]

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda x: True
        if schema is False:
            return lambda x: False
        if not isinstance(schema, dict):
            raise Unsupported(repr(schema))
        unknown = set(schema) - _KNOWN
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        checks: list[Check] = []
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if any(n not in _TYPES for n in names):
                raise Unsupported(f"type {names}")
            tests = [_TYPES[n] for n in names]
            checks.append(tests[0] if len(tests) == 1 else _any_of(tests))
        if "const" in schema:
            const = schema["const"]
            checks.append(lambda x: json_equal(x, const))
        if "enum" in schema:
            options = list(schema["enum"])
            hashable = [o for o in options if isinstance(o, str)]
            others = [o for o in options if not isinstance(o, str)]
            strings = frozenset(hashable)
            checks.append(lambda x: (x in strings) if isinstance(x, str) else any(json_equal(x, o) for o in others))
        if "pattern" in schema:
            search = re.compile(schema["pattern"]).search
            checks.append(lambda x: not isinstance(x, str) or search(x) is not None)
        if "minLength" in schema:
            min_length = schema["minLength"]
            checks.append(lambda x: not isinstance(x, str) or len(x) >= min_length)
        if "minimum" in schema:
            low = schema["minimum"]
            checks.append(lambda x: not _is_number(x) or x >= low)
        if "maximum" in schema:
            high = schema["maximum"]
            checks.append(lambda x: not _is_number(x) or x <= high)
        if "items" in schema:
            item = self.compile(schema["items"])
            checks.append(lambda x: not isinstance(x, list) or all(item(i) for i in x))
        checks.extend(self._object(schema))
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if "allOf" in schema:
            checks.extend(self.compile(s) for s in schema["allOf"])
        if "if" in schema:
            condition = self.compile(schema["if"])
            then = self.compile(schema.get("then", True))
            otherwise = self.compile(schema.get("else", True))
            checks.append(lambda x: then(x) if condition(x) else otherwise(x))
        return checks[0] if len(checks) == 1 else _all_of(checks)

    def _object(self, schema: dict[str, Any]) -> list[Check]:
        checks: list[Check] = []
        if "required" in schema:
            required = tuple(schema["required"])
            checks.append(lambda x: not isinstance(x, dict) or all(k in x for k in required))
        if "minProperties" in schema:
            least = schema["minProperties"]
            checks.append(lambda x: not isinstance(x, dict) or len(x) >= least)
        props = {k: self.compile(v) for k, v in schema.get("properties", {}).items()}
        patterns = [(re.compile(p).search, self.compile(v)) for p, v in schema.get("patternProperties", {}).items()]
        extra = self.compile(schema["additionalProperties"]) if "additionalProperties" in schema else None
        if not props and not patterns and extra is None:
            return checks

        if not patterns and extra is None:  # e.g. an 'if': look only at the named properties

            def named(x: Any) -> bool:
                if isinstance(x, dict):
                    for key, check in props.items():
                        if key in x and not check(x[key]):
                            return False
                return True

            checks.append(named)
            return checks

        def members(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for key, value in x.items():
                matched = False
                check = props.get(key)
                if check is not None:
                    if not check(value):
                        return False
                    matched = True
                for search, pattern_check in patterns:
                    if search(key) is not None:
                        if not pattern_check(value):
                            return False
                        matched = True
                if not matched and extra is not None and not extra(value):
                    return False
            return True

        checks.append(members)
        return checks


def compile_schema(schema: dict[str, Any]) -> Check | None:
    """A function telling whether a document follows ``schema``; None when not compilable."""
    try:
        return _Compiler(schema).compile(schema)
    except (Unsupported, re.error):
        return None
