"""How to split: kind, seed, and the shares of val, test and held-out individuals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beartrain.data.splitfile import SplitKind
from beartrain.splits.errors import SplitConfigError

KINDS: tuple[SplitKind, ...] = ("open", "disjoint")


@dataclass(frozen=True)
class SplitConfig:
    """A split request.

    Open: ``val_share`` and ``test_share`` are the shares of the known individuals'
    chips that go to val and test (whole encounters), and ``holdout_share`` the
    share of individuals held out of train entirely. Disjoint: ``val_share`` and
    ``test_share`` are shares of individuals; ``holdout_share`` does not apply.
    """

    kind: SplitKind = "open"
    seed: int = 0
    val_share: float = 0.15
    test_share: float = 0.15
    holdout_share: float = 0.2

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        for name in ("val_share", "test_share", "holdout_share"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                problems.append(f"{name} must be at least 0 and below 1, got {value}")
        if self.val_share + self.test_share >= 1.0:
            problems.append(
                f"val_share + test_share must stay below 1 to leave chips for train, got "
                f"{self.val_share} + {self.test_share}"
            )
        if self.kind == "open" and self.holdout_share > 0 and self.val_share + self.test_share == 0:
            problems.append("held-out individuals need val or test: set val_share or test_share")
        if problems:
            raise SplitConfigError("invalid split: " + "; ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        """The settings, for split.json."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "seed": self.seed,
            "val_share": self.val_share,
            "test_share": self.test_share,
        }
        if self.kind == "open":
            out["holdout_share"] = self.holdout_share
        return out
