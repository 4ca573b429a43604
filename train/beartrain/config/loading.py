"""Loading ``bear-train fit``'s configuration: YAML at the CLI edge, ``--set`` overrides.

``--set optimizer.lr=0.001`` overrides any field; values are parsed as YAML
scalars. Errors name the offending key or file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from beartrain.config.sections import TrainConfig, TrainConfigError


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for key ``a.b.c``, creating sections as needed."""
    *parents, leaf = key.split(".")
    node = tree
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise TrainConfigError(f"--set {key}: {part!r} is a value, not a section")
        node = child
    node[leaf] = value


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": 1, "c": "x"}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise TrainConfigError(
                f"--set {item!r}: expected key.sub=value, e.g. optimizer.lr=1e-3"
            )
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


def build_config(tree: dict[str, Any], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Validate a config tree plus dotted overrides; errors name the offending key."""
    tree = yaml.safe_load(yaml.safe_dump(tree))  # a deep copy that the overrides may change
    for key, value in (overrides or {}).items():
        set_dotted(tree, key, value)
    try:
        return TrainConfig.model_validate(tree)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise TrainConfigError(f"invalid training config: {problems}") from e


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config (None: the defaults) and apply dotted overrides."""
    tree: Any = {}
    if path is not None:
        try:
            tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise TrainConfigError(f"cannot read config {path}: {e.strerror}") from e
        except yaml.YAMLError as e:
            raise TrainConfigError(f"config {path} is not valid YAML: {e}") from e
        if not isinstance(tree, dict):
            raise TrainConfigError(f"config {path} must be a mapping of sections")
    return build_config(tree, overrides)


def config_to_yaml(cfg: TrainConfig) -> str:
    """The fully resolved config as YAML (paths and enums as plain strings)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
