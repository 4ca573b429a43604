"""Loading a typed configuration: a TOML file, then ``key=value`` overrides, then validation.

Shared by every bearid program that has a config object. Unknown keys are
errors that name the key; every problem is reported with its key and value, so
``check-config`` can print them all at once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bearagent.errors import BearIdError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration."""

    key: str
    value: str
    message: str

    def __str__(self) -> str:
        shown = f" = {self.value}" if self.value else ""
        return f"{self.key}{shown}: {self.message}"


class ConfigError(BearIdError):
    """A configuration that cannot be used; `problems` lists every problem found."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "; ".join(str(p) for p in problems)
        super().__init__(f"configuration {source}: {lines}")


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file's content, or a `ConfigError` naming the file and the line."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError(str(path), [ConfigProblem("(file)", "", "does not exist")]) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), [ConfigProblem("(file)", "", f"not valid TOML: {e}")]) from e


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax when it parses (numbers, booleans, lists), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply ``section.key=value`` to nested `data` in place."""
    key, sep, value = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            "--set", [ConfigProblem(assignment, "", "expected KEY=VALUE, e.g. mqtt.port=8883")]
        )
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError("--set", [ConfigProblem(key, "", f"'{part}' is not a section")])
        node = child
    node[leaf] = parse_value(value.strip())


def validate(model: type[M], data: dict[str, Any], source: str) -> M:
    """Validate `data` as `model`, turning every pydantic error into a `ConfigProblem`."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(source, [_problem(err) for err in e.errors()]) from e


def _problem(err: Any) -> ConfigProblem:
    key = ".".join(str(p) for p in err["loc"])
    value = "" if err["type"] == "missing" else _short(err.get("input"))
    if err["type"] == "extra_forbidden":
        return ConfigProblem(key, value, "unknown key (check its spelling and section)")
    if err["type"] == "missing":
        return ConfigProblem(key, "", "missing")
    return ConfigProblem(key, value, err["msg"])


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{...}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_config(
    model: type[M], path: Path | None, overrides: Sequence[str] = (), source: str | None = None
) -> M:
    """File (optional) + overrides -> validated `model`. Without a file, defaults apply."""
    data = read_toml(path) if path is not None else {}
    for assignment in overrides:
        apply_override(data, assignment)
    return validate(model, data, source or (str(path) if path else "(defaults)"))
