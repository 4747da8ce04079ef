"""Read YAML while remembering where every key and value stood, and resolve secrets.

PyYAML's composer gives every node a start mark; we build plain Python values from the
nodes ourselves so that any later validation error can be traced back to file:line:col.
Secrets never have to be written in clear: ``${ENV_VAR}`` (or ``${ENV_VAR:-default}``,
the default applying when the variable is unset or empty, as in a shell) inside any
string, ``!secret name`` for a key of ``secrets.yaml`` beside the file, and
``!file path`` for the stripped contents of a file (container/systemd credentials).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lvgate.spelling import did_you_mean

Path_ = tuple[str | int, ...]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True, order=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a config file, with where it is."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ConfigError(Exception):
    """Every problem found in the config files, reported together."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.location)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a loaded document stands in its file."""

    file: str
    values: dict[Path_, Location] = field(default_factory=dict)
    keys: dict[Path_, Location] = field(default_factory=dict)
    secret_paths: set[Path_] = field(default_factory=set)
    # Values that could not be built (a missing secret, an unknown tag): already reported,
    # so validation must not complain about them a second time.
    problem_paths: set[Path_] = field(default_factory=set)

    def is_secret(self, path: Path_) -> bool:
        """True when the value at ``path``, or anything inside it, came from a secret."""
        n = len(path)
        return any(p[:n] == path for p in self.secret_paths)

    def has_problem(self, path: Path_) -> bool:
        """True when the value at ``path`` (or one enclosing it) was already reported."""
        return any(path[: len(p)] == p for p in self.problem_paths)

    def where(self, path: Path_, *, key: bool = False) -> Location:
        """The location of ``path``; the nearest enclosing node that has one otherwise."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Location(self.file, 1, 1))


@dataclass
class LoadedYaml:
    data: Any
    source: SourceMap
    # Problems found while building values; only non-empty with ``load_yaml(keep_going=True)``.
    problems: list[ConfigProblem] = field(default_factory=list)


def _mark(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, file: str, base_dir: Path, environ: Mapping[str, str]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.environ = environ
        self.source = SourceMap(file)
        self.problems: list[ConfigProblem] = []
        self._scalar = yaml.constructor.SafeConstructor()
        self._secrets: dict[str, Any] | None = None
        self._secrets_broken = False

    def problem(self, node: yaml.Node, message: str, path: Path_ | None = None) -> None:
        self.problems.append(ConfigProblem(_mark(self.file, node), message))
        if path is not None:
            self.source.problem_paths.add(path)

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.source.values[path] = _mark(self.file, node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "!secret":
            self.source.secret_paths.add(path)
            return self._secret(node, path)
        if node.tag == "!file":
            self.source.secret_paths.add(path)
            return self._file(node, path)
        if node.tag.startswith("!"):
            self.problem(node, f"unknown tag '{node.tag}' (lvgate knows !secret and !file)", path)
            return None
        value = self._scalar.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            self.source.secret_paths.add(path)
            return self._expand_env(node, value, path)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, "a key must be a plain word, not a list or mapping")
                continue
            key = str(self._scalar.construct_object(key_node))
            if key in result:
                first = self.source.keys[(*path, key)]
                self.problem(key_node, f"duplicate key '{key}' (first given at line {first.line})")
                continue
            self.source.keys[(*path, key)] = _mark(self.file, key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _expand_env(self, node: yaml.Node, text: str, path: Path_) -> str | None:
        missing: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = self.environ.get(name)
            if value is not None and (value or default is None):
                return value
            if default is not None:
                return default
            missing.append(name)
            return ""

        expanded = _ENV_REF.sub(substitute, text)
        for name in dict.fromkeys(missing):
            self.problem(node, f"environment variable '{name}' is not set", path)
        return None if missing else expanded

    def _load_secrets(self, node: yaml.Node, path: Path_, secrets_file: Path) -> dict[str, Any] | None:
        """The secrets file's mapping, or None when it cannot be used (reported once)."""
        if self._secrets is None and not self._secrets_broken:
            try:
                loaded = yaml.safe_load(secrets_file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                self.problem(node, f"!secret needs {secrets_file}, which does not exist", path)
                self._secrets_broken = True
                return None
            except OSError as exc:
                self.problem(node, f"cannot read {secrets_file}: {exc.strerror}", path)
                self._secrets_broken = True
                return None
            except UnicodeDecodeError:
                self.problem(node, f"{secrets_file} is not UTF-8 text", path)
                self._secrets_broken = True
                return None
            except yaml.YAMLError as exc:
                # Never str(exc): PyYAML quotes the offending line, which holds a secret.
                mark = _error_mark(exc)
                where = f" at line {mark.line + 1}" if mark is not None else ""
                self.problem(node, f"{secrets_file} is not valid YAML{where}", path)
                self._secrets_broken = True
                return None
            if loaded is not None and not isinstance(loaded, dict):
                self.problem(node, f"{secrets_file} must be a mapping of name: value", path)
                self._secrets_broken = True
                return None
            self._secrets = loaded or {}
        if self._secrets_broken:
            self.source.problem_paths.add(path)
        return self._secrets

    def _secret(self, node: yaml.ScalarNode, path: Path_) -> Any:
        name = str(node.value)
        secrets_file = self.base_dir / "secrets.yaml"
        secrets = self._load_secrets(node, path, secrets_file)
        if secrets is None:
            return None
        if name not in secrets:
            hint = did_you_mean(name, [str(k) for k in secrets])
            self.problem(node, f"secret '{name}' not found in {secrets_file}{hint}", path)
            return None
        return secrets[name]

    def _file(self, node: yaml.ScalarNode, path: Path_) -> str | None:
        target = Path(os.path.expandvars(str(node.value)))
        if not target.is_absolute():
            target = self.base_dir / target
        try:
            return target.read_text(encoding="utf-8").strip()
        except OSError as exc:
            self.problem(node, f"cannot read secret file {target}: {exc.strerror}", path)
            return None
        except UnicodeDecodeError:
            self.problem(node, f"secret file {target} is not UTF-8 text", path)
            return None


def _runs_off_the_end(exc: yaml.YAMLError) -> bool:
    """An unclosed quote or bracket: PyYAML notices only at the end of the file."""
    problem = str(getattr(exc, "problem", None) or "")
    return getattr(exc, "context_mark", None) is not None and ("end of stream" in problem or "<stream end>" in problem)


def _error_mark(exc: yaml.YAMLError) -> Any:
    """Where to point for a syntax error: where an unclosed quote or bracket opens, else
    where the parser stopped."""
    if _runs_off_the_end(exc):
        return getattr(exc, "context_mark", None)
    return getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)


def _syntax_problem(file: str, text: str, exc: yaml.YAMLError) -> ConfigProblem:
    mark = _error_mark(exc)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc)
    if "'\\t'" in problem or "tab character" in problem:
        lines = text.split("\n")
        before = lines[line - 1][: column - 1] if line <= len(lines) else ""
        if before.strip(" \t") == "":
            message = "tab character in indentation: YAML indents with spaces only"
        else:
            message = "tab character: YAML expects a space here"
    else:
        message = f"YAML syntax error: {problem}"
        context = getattr(exc, "context", None)
        context_mark = getattr(exc, "context_mark", None)
        if context and _runs_off_the_end(exc):
            message += f" ({context} that starts here)"
        elif context and context_mark is not None and context_mark is not mark:
            message += f" ({context} that starts at line {context_mark.line + 1}, column {context_mark.column + 1})"
        elif context:
            message += f" ({context})"
    return ConfigProblem(Location(file, line, column), message)


def load_yaml(
    path: Path | str,
    *,
    display_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    keep_going: bool = False,
) -> LoadedYaml:
    """Load one YAML file into plain values plus a source map. Raises ConfigError.

    A file that cannot be parsed always raises. Problems with single values (a missing
    secret, a duplicate key, an unknown tag) raise too, unless ``keep_going`` is set: then
    they are returned in ``LoadedYaml.problems`` so that schema validation can report its
    own problems alongside them; the values concerned are None and listed in
    ``source.problem_paths``.
    """
    file = display_name or str(path)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(Location(file, 1, 1), f"cannot read file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(Location(file, 1, 1), "file is not UTF-8 text")]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([_syntax_problem(file, text, exc)]) from exc
    if node is None:
        raise ConfigError([ConfigProblem(Location(file, 1, 1), "file is empty: expected a mapping of settings")])
    builder = _Builder(file, path.parent, os.environ if environ is None else environ)
    data = builder.build(node, ())
    if builder.problems and not keep_going:
        raise ConfigError(builder.problems)
    return LoadedYaml(data, builder.source, builder.problems)
