"""A compiled yes/no check for the JSON Schemas of the contract, for the ingest hot path.

jsonschema walks a payload with a generic interpreter (descend, evolve, error objects) and
costs about 1 ms per telemetry message. This compiles a schema, once, into Python source:
straight-line tests of the keywords the contract uses, one function per ``$ref`` target, per
``if`` condition and per member subschema, with the same meaning as Draft 2020-12 (``format``
is an annotation, as in jsonschema's default). It only answers "valid?". A schema with any
other keyword, or a ``$ref`` outside the document, does not compile (None): the caller then
uses jsonschema. The collector calls jsonschema for every message this check refuses, so the
reasons in dead letters still come from the full validator.
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
_OBJECT_KEYWORDS = ("required", "minProperties", "properties", "patternProperties", "additionalProperties")

# Each JSON type as a test of the variable '{0}' (Draft 2020-12: 1.0 is an integer; true is not a number).
_TYPE_TESTS = {
    "object": "isinstance({0}, dict)",
    "array": "isinstance({0}, list)",
    "string": "isinstance({0}, str)",
    "boolean": "isinstance({0}, bool)",
    "null": "{0} is None",
    "number": "(isinstance({0}, (int, float)) and not isinstance({0}, bool))",
    "integer": "((isinstance({0}, int) and not isinstance({0}, bool)) or (isinstance({0}, float) and {0}.is_integer()))",
}


class Unsupported(Exception):
    """The schema uses something this compiler does not implement."""


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


def _member_checks(
    by_key: dict[str, tuple[Check, ...]],
    props: dict[str, Check],
    patterns: list[tuple[Callable[[str], Any], Check]],
    extra: Check | None,
) -> Callable[[str], tuple[Check, ...]]:
    """The subschemas a member with this key must follow, remembered in ``by_key``: the same
    keys arrive in every message, so each pattern runs once per key, not once per member."""

    def checks_for(key: str) -> tuple[Check, ...]:
        listed = [props[key]] if key in props else []
        listed += [check for search, check in patterns if search(key) is not None]
        if not listed and extra is not None:
            listed.append(extra)
        found = tuple(listed)
        if len(by_key) < 10_000:
            by_key[key] = found
        return found

    return checks_for


class _Generator:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.ns: dict[str, Any] = {"MISSING": object(), "json_equal": json_equal}
        self.functions: list[str] = []
        self.refs: dict[str, str] = {}  # pointer -> function name
        Members = tuple[str, dict[str, str], list[tuple[Callable[[str], Any], str]], str | None]
        self.members: dict[str, Members] = {}  # name -> (property, pattern and extra functions)
        self.counter = 0
        self.inlining: list[str] = []  # $ref targets being emitted in line (recursion guard)

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, value: Any) -> str:
        name = self.name("c")
        self.ns[name] = value
        return name

    def function(self, schema: Any, name: str | None = None) -> str:
        """A function ``name(x) -> bool`` for ``schema``; its source goes to ``self.functions``."""
        name = name or self.name("f")
        body = self.emit(schema, "x", 1)
        self.functions.append("\n".join([f"def {name}(x):", *body, "    return True"]))
        return name

    def target(self, pointer: str) -> Any:
        if not pointer.startswith("#/"):
            raise Unsupported(pointer)
        target: Any = self.root
        for part in pointer[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise Unsupported(pointer)
            target = target[part]
        return target

    def ref(self, pointer: str) -> str:
        if pointer in self.refs:
            return self.refs[pointer]
        target = self.target(pointer)
        name = self.refs[pointer] = self.name("ref")  # named before its body: recursion calls it
        self.function(target, name)
        return name

    def check_of(self, schema: Any) -> str:
        """A function name for a subschema (a bare $ref is its target's function)."""
        if isinstance(schema, dict) and set(schema) - _ANNOTATIONS == {"$ref"}:
            return self.ref(schema["$ref"])
        return self.function(schema)

    def emit(self, schema: Any, var: str, depth: int) -> list[str]:
        """Lines (indented ``depth`` levels) that return False when ``var`` does not follow ``schema``."""
        pad = "    " * depth
        if schema is True:
            return []
        if schema is False:
            return [f"{pad}return False"]
        if not isinstance(schema, dict):
            raise Unsupported(repr(schema))
        unknown = set(schema) - _KNOWN
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        out: list[str] = []
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not names or any(n not in _TYPE_TESTS for n in names):
                raise Unsupported(f"type {names}")
            out.append(f"{pad}if not ({' or '.join(_TYPE_TESTS[n].format(var) for n in names)}):")
            out.append(f"{pad}    return False")
        if "const" in schema:
            const = schema["const"]
            if type(const) is str:
                out.append(f"{pad}if not (isinstance({var}, str) and {var} == {self.constant(const)}):")
            elif type(const) in (int, float):  # exact types: True is not 1
                out.append(f"{pad}if not (type({var}) in (int, float) and {var} == {self.constant(const)}):")
            else:
                out.append(f"{pad}if not json_equal({var}, {self.constant(const)}):")
            out.append(f"{pad}    return False")
        if "enum" in schema:
            options = list(schema["enum"])
            strings = self.constant(frozenset(o for o in options if isinstance(o, str)))
            others = [o for o in options if not isinstance(o, str)]
            if others == [None]:
                other_test = f"{var} is None"
            elif others:
                other_test = f"any(json_equal({var}, o) for o in {self.constant(tuple(others))})"
            else:
                other_test = "False"
            out.append(f"{pad}if not (({var} in {strings}) if isinstance({var}, str) else ({other_test})):")
            out.append(f"{pad}    return False")
        if "pattern" in schema:
            search = self.constant(re.compile(schema["pattern"]).search)
            out.append(f"{pad}if isinstance({var}, str) and {search}({var}) is None:")
            out.append(f"{pad}    return False")
        if "minLength" in schema:
            out.append(f"{pad}if isinstance({var}, str) and len({var}) < {self.constant(schema['minLength'])}:")
            out.append(f"{pad}    return False")
        for keyword, compare in (("minimum", "<"), ("maximum", ">")):
            if keyword in schema:
                bound = self.constant(schema[keyword])
                number = _TYPE_TESTS["number"].format(var)
                out.append(f"{pad}if {number} and {var} {compare} {bound}:")
                out.append(f"{pad}    return False")
        if "items" in schema:
            item = self.check_of(schema["items"])
            each = self.name("i")
            out.append(f"{pad}if isinstance({var}, list):")
            out.append(f"{pad}    for {each} in {var}:")
            out.append(f"{pad}        if not {item}({each}):")
            out.append(f"{pad}            return False")
        if any(k in schema for k in _OBJECT_KEYWORDS):
            if schema.get("type") == "object":  # known to be a dict from here on
                out.extend(self.emit_object(schema, var, depth))
            else:
                body = self.emit_object(schema, var, depth + 1)
                if body:
                    out.append(f"{pad}if isinstance({var}, dict):")
                    out.extend(body)
        if "$ref" in schema:
            pointer = schema["$ref"]
            if pointer in self.inlining or len(self.inlining) >= 8:  # recursion: call its function
                out.append(f"{pad}if not {self.ref(pointer)}({var}):")
                out.append(f"{pad}    return False")
            else:  # in line: one call less per value
                self.inlining.append(pointer)
                out.extend(self.emit(self.target(pointer), var, depth))
                self.inlining.pop()
        for sub in schema.get("allOf", []):
            out.extend(self.emit(sub, var, depth))
        if "if" in schema:
            condition = self.test(schema["if"], var)
            then = self.emit(schema.get("then", True), var, depth + 1)
            otherwise = self.emit(schema.get("else", True), var, depth + 1)
            if then or otherwise:
                out.append(f"{pad}if {condition}:")
                out.extend(then or [f"{pad}    pass"])
                if otherwise:
                    out.append(f"{pad}else:")
                    out.extend(otherwise)
        return out

    def test(self, schema: Any, var: str) -> str:
        """An expression: does ``var`` follow ``schema``? In line for the small schemas of 'if'."""
        inline = self.expression(schema, var)
        return inline if inline is not None else f"{self.function(schema)}({var})"

    def expression(self, schema: Any, var: str) -> str | None:
        """``schema`` as one expression, when it uses only type, const, enum of strings, required
        and named properties; else None (the caller makes a function)."""
        if schema is True:
            return "True"
        if not isinstance(schema, dict) or set(schema) - _ANNOTATIONS - {"type", "const", "required", "properties"}:
            return None
        terms: list[str] = []
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not names or any(n not in _TYPE_TESTS for n in names):
                return None
            terms.append(f"({' or '.join(_TYPE_TESTS[n].format(var) for n in names)})")
        if "const" in schema:
            const = schema["const"]
            if type(const) is str:
                terms.append(f"(isinstance({var}, str) and {var} == {self.constant(const)})")
            elif type(const) in (int, float):
                terms.append(f"(type({var}) in (int, float) and {var} == {self.constant(const)})")
            else:
                terms.append(f"json_equal({var}, {self.constant(const)})")
        members: list[str] = []
        if "required" in schema:
            members.append(f"{var}.keys() >= {self.constant(frozenset(schema['required']))}")
        for key, sub in schema.get("properties", {}).items():
            item = f"{var}[{self.constant(key)}]"
            inner = self.expression(sub, item)
            if inner is None:
                return None
            members.append(f"({self.constant(key)} not in {var} or {inner})")
        if members:
            terms.append(f"(not isinstance({var}, dict) or ({' and '.join(members)}))")
        return " and ".join(terms) if terms else "True"

    def emit_object(self, schema: dict[str, Any], var: str, depth: int) -> list[str]:
        """The object keywords, for a ``var`` known to be a dict."""
        pad = "    " * depth
        out: list[str] = []
        if "required" in schema:
            out.append(f"{pad}if not {var}.keys() >= {self.constant(frozenset(schema['required']))}:")
            out.append(f"{pad}    return False")
        if "minProperties" in schema:
            out.append(f"{pad}if len({var}) < {self.constant(schema['minProperties'])}:")
            out.append(f"{pad}    return False")
        props: dict[str, Any] = schema.get("properties", {})
        patterns: dict[str, Any] = schema.get("patternProperties", {})
        extra = schema.get("additionalProperties")
        if not patterns and extra in (None, False):
            # Only the named properties: each looked up and checked in line.
            if extra is False:
                out.append(f"{pad}if not {self.constant(frozenset(props))}.issuperset({var}):")
                out.append(f"{pad}    return False")
            for key, sub in props.items():
                member = self.name("m")
                body = self.emit(sub, member, depth + 1)
                if body:
                    out.append(f"{pad}{member} = {var}.get({self.constant(key)}, MISSING)")
                    out.append(f"{pad}if {member} is not MISSING:")
                    out.extend(body)
            return out
        checks_for = self.name("members")
        by_key = self.constant({})
        # Function names for now; the functions exist once the source runs (see compile()).
        self.members[checks_for] = (
            by_key,
            {key: self.check_of(sub) for key, sub in props.items()},
            [(re.compile(p).search, self.check_of(sub)) for p, sub in patterns.items()],
            self.check_of(extra) if extra is not None else None,
        )
        key, value, check = self.name("k"), self.name("v"), self.name("f")
        out.append(f"{pad}for {key}, {value} in {var}.items():")
        out.append(f"{pad}    for {check} in {by_key}.get({key}) or {checks_for}({key}):")
        out.append(f"{pad}        if not {check}({value}):")
        out.append(f"{pad}            return False")
        return out

    def compile(self) -> Check:
        entry = self.function(self.root, "check")
        # Functions refer to each other by name at call time: define them all, then look up.
        source = "\n\n".join(self.functions)
        exec(compile(source, "<fastschema>", "exec"), self.ns)
        ns = self.ns
        for name, (by_key, props, patterns, extra) in self.members.items():
            ns[name] = _member_checks(
                ns[by_key],
                {key: ns[f] for key, f in props.items()},
                [(search, ns[f]) for search, f in patterns],
                ns[extra] if extra is not None else None,
            )
        check: Check = ns[entry]
        return check


def compile_schema(schema: dict[str, Any]) -> Check | None:
    """A function telling whether a document follows ``schema``; None when not compilable."""
    try:
        return _Generator(schema).compile()
    except (Unsupported, re.error):
        return None
