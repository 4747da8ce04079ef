"""Read YAML while remembering where every key and value stood, and resolve secrets.

PyYAML's composer gives every node a start mark; we build plain Python values from the
nodes ourselves so that any later validation error can be traced back to file:line:col.
Secrets never have to be written in clear: ``${ENV_VAR}`` (or ``${ENV_VAR:-default}``)
inside any string, ``!secret name`` for a key of ``secrets.yaml`` beside the file, and
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

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(ConfigProblem(_mark(self.file, node), message))

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.source.values[path] = _mark(self.file, node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "!secret":
            self.source.secret_paths.add(path)
            return self._secret(node)
        if node.tag == "!file":
            self.source.secret_paths.add(path)
            return self._file(node)
        if node.tag.startswith("!"):
            self.problem(node, f"unknown tag '{node.tag}' (lvgate knows !secret and !file)")
            return None
        value = self._scalar.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            self.source.secret_paths.add(path)
            return self._expand_env(node, value)
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

    def _expand_env(self, node: yaml.Node, text: str) -> str | None:
        missing: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            missing.append(name)
            return ""

        expanded = _ENV_REF.sub(substitute, text)
        for name in missing:
            self.problem(node, f"environment variable '{name}' is not set")
        return None if missing else expanded

    def _secret(self, node: yaml.ScalarNode) -> Any:
        name = str(node.value)
        secrets_file = self.base_dir / "secrets.yaml"
        if self._secrets is None:
            try:
                loaded = yaml.safe_load(secrets_file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                loaded = None
            except yaml.YAMLError as exc:
                self.problem(node, f"cannot read {secrets_file}: {exc}")
                loaded = None
            self._secrets = loaded if isinstance(loaded, dict) else {}
        if name not in self._secrets:
            self.problem(node, f"secret '{name}' not found in {secrets_file}")
            return None
        return self._secrets[name]

    def _file(self, node: yaml.ScalarNode) -> str | None:
        target = Path(os.path.expandvars(str(node.value)))
        if not target.is_absolute():
            target = self.base_dir / target
        try:
            return target.read_text(encoding="utf-8").strip()
        except OSError as exc:
            self.problem(node, f"cannot read secret file {target}: {exc.strerror}")
            return None


def _syntax_problem(file: str, exc: yaml.YAMLError) -> ConfigProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc)
    if "'\\t'" in problem or "\t" in problem:
        message = "tab character in indentation: YAML indents with spaces only"
    else:
        context = getattr(exc, "context", None)
        message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return ConfigProblem(Location(file, line, column), message)


def load_yaml(
    path: Path | str, *, display_name: str | None = None, environ: Mapping[str, str] | None = None
) -> LoadedYaml:
    """Load one YAML file into plain values plus a source map. Raises ConfigError."""
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
        raise ConfigError([_syntax_problem(file, exc)]) from exc
    if node is None:
        raise ConfigError([ConfigProblem(Location(file, 1, 1), "file is empty: expected a mapping of settings")])
    builder = _Builder(file, path.parent, os.environ if environ is None else environ)
    data = builder.build(node, ())
    if builder.problems:
        raise ConfigError(builder.problems)
    return LoadedYaml(data, builder.source)
