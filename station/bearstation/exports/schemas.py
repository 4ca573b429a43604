"""The Camtrap DP 1.0 table schemas kept as package data (``bearstation/camtrap_dp``)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

VERSION = "1.0"
TABLES = ("deployments", "media", "observations")


def schema_url(table: str) -> str:
    """The published URL of a table's schema (what a package names)."""
    return f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/{table}-table-schema.json"


def schema_path(table: str) -> Path:
    """The local copy of a table's schema (for offline validation)."""
    return Path(str(resources.files("bearstation") / "camtrap_dp" / f"{table}-table-schema.json"))


def package_profile_path() -> Path:
    """The package-level requirements of Camtrap DP 1.0, as a JSON Schema."""
    return Path(str(resources.files("bearstation") / "camtrap_dp" / "package-profile.json"))


@cache
def table_schema(table: str) -> dict[str, Any]:
    """A table's schema, parsed."""
    schema: dict[str, Any] = json.loads(schema_path(table).read_text(encoding="utf-8"))
    return schema


def field_names(table: str) -> list[str]:
    """A table's columns, in the order of the specification."""
    return [f["name"] for f in table_schema(table)["fields"]]
