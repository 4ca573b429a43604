"""The agent never imports torch: every bearagent module, imported in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("torch", "torchvision", "timm", "pytorch_metric_learning")

# Imports every module of bearagent (plus any extra names given), then prints what of
# FORBIDDEN ended up in sys.modules and how many modules it imported.
PROBE = f"""
import importlib, json, pkgutil, sys
import bearagent
names = [m.name for m in pkgutil.walk_packages(bearagent.__path__, "bearagent.")]
for name in names + sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({{"modules": names,
                  "forbidden": sorted(m for m in {FORBIDDEN!r} if m in sys.modules)}}))
"""


def probe(*extra: str) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *extra], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_no_bearagent_module_imports_torch() -> None:
    report = probe()
    assert "bearagent.cli" in report["modules"] and "bearagent.modelcard.io" in report["modules"]
    assert report["forbidden"] == [], f"bearagent pulled in {report['forbidden']}"


def test_the_probe_notices_torch() -> None:
    """The check above can fail: importing torch alongside is reported."""
    assert "torch" in probe("torch")["forbidden"]
