"""A Markdown reference of a configuration schema, generated from its field descriptions."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        value = field.default_factory()
    else:
        return "(required)"
    return f"`{json.dumps(value, default=str)}`"


def _as_section(annotation: Any) -> type[BaseModel] | None:
    """The annotation when it is a nested section (a pydantic model), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _section(lines: list[str], prefix: str, model: type[BaseModel]) -> None:
    rows, subsections = [], []
    for key, field in model.model_fields.items():
        section = _as_section(field.annotation)
        if section is not None:
            subsections.append((f"{prefix}.{key}", section))
        else:
            desc = (field.description or "").replace("|", "\\|")
            rows.append(f"| `{prefix}.{key}` | {_default(field)} | {desc} |")
    lines += [f"## [{prefix}]", "", (model.__doc__ or "").strip(), ""]
    if rows:
        lines += ["| key | default | description |", "|---|---|---|", *rows, ""]
    for name, sub in subsections:
        _section(lines, name, sub)


def render_reference(model: type[BaseModel], title: str) -> str:
    """Markdown: one table per section (nested ones too), one row per key, with its
    default and description."""
    lines = [f"# {title}", "", (model.__doc__ or "").strip(), ""]
    for name, field in model.model_fields.items():
        section = _as_section(field.annotation)
        if section is not None:
            _section(lines, name, section)
    return "\n".join(lines)
