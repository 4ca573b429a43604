"""The import graph points one way: bearexport -> beartrain -> bearagent, and nothing
installed imports the development harness. Every module of a package is imported in a
fresh interpreter, and each one that pulls in a forbidden package is named."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Imports every module of the package argv[1] (plus the extra modules argv[3:]), and
# reports, for each forbidden package (argv[2], comma-separated), the first module
# after whose import it was in sys.modules, and every module that failed to import.
PROBE = """
import importlib, json, pkgutil, sys, traceback
package, forbidden, extra = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
root = importlib.import_module(package)
names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")]
culprits, failed = {}, {}
for name in names + extra:
    try:
        importlib.import_module(name)
    except Exception:
        failed[name] = traceback.format_exc(limit=3)
    for bad in forbidden:
        if bad in sys.modules and bad not in culprits:
            culprits[bad] = name
print(json.dumps({"modules": names, "culprits": culprits, "failed": failed}))
"""

#: What each package must never import (directly or through another).
RULES = {
    "bearagent": ("beartrain", "bearexport", "bearstation", "bearid_dev", "torch"),
    "beartrain": ("bearexport", "bearstation", "bearid_dev"),
    "bearexport": ("bearstation", "bearid_dev"),
}


def probe(package: str, forbidden: tuple[str, ...], *extra: str) -> dict[str, dict[str, str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, package, ",".join(forbidden), *extra],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    report: dict[str, dict[str, str]] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize("package", sorted(RULES))
def test_a_package_imports_nothing_it_must_not(package: str) -> None:
    report = probe(package, RULES[package])
    assert len(report["modules"]) > 3, f"walked only {report['modules']}"
    assert report["failed"] == {}, f"modules of {package} that do not import: {report['failed']}"
    pulled = [f"{module} imports {bad}" for bad, module in report["culprits"].items()]
    assert pulled == [], f"{package} must not import {', '.join(RULES[package])}: {pulled}"


def test_the_probe_names_the_module_that_pulls_in_a_forbidden_package() -> None:
    """The check can fail: a module importing bearexport is caught and named."""
    report = probe("bearagent", ("bearexport",), "bearexport.pipeline")
    assert report["culprits"] == {"bearexport": "bearexport.pipeline"}
