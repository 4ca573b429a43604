"""Parity between two sets of embeddings of the same chips, and the reference file.

Every export compares the exported model with its reference (PyTorch at export
time; the stored reference file at `verify` time) and refuses a model whose
minimum cosine falls below the precision's threshold. The reference inputs and
embeddings are kept beside the model (`REFERENCE_FILE`), so a box without torch
can check its copy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bearexport.errors import ParityFailed

#: Minimum cosine per precision below which an export is refused.
#: Minimum cosine to the PyTorch embedding, per precision. INT8 is looser: on the
#: tf_efficientnet_lite0 embedder static quantisation gives a minimum of about 0.87
#: (mean 0.96) over 64 cattle chips for an accuracy@1 cost of 0.01 (bench/bench_export.py);
#: a worse INT8 model is a broken calibration, not rounding.
MIN_COSINE: dict[str, float] = {"fp32": 0.9999, "fp16": 0.999, "int8": 0.85}
#: The reference inputs and embeddings written beside the exported model.
REFERENCE_FILE = "parity-reference.npz"


@dataclass(frozen=True)
class ParityReport:
    """How close `candidate` embeddings came to the reference, chip by chip."""

    label: str
    chips: int
    max_abs_diff: float
    min_cosine: float
    mean_cosine: float
    required: float

    @property
    def passed(self) -> bool:
        """Whether the minimum cosine reaches the required one."""
        return self.min_cosine >= self.required

    def line(self) -> str:
        """One line for the terminal."""
        verdict = "ok" if self.passed else "FAILED"
        return (
            f"parity {self.label}: {self.chips} chips, max |diff| {self.max_abs_diff:.2e}, "
            f"min cosine {self.min_cosine:.6f} (mean {self.mean_cosine:.6f}, "
            f"required >= {self.required}) {verdict}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON reports."""
        return {**asdict(self), "passed": self.passed}


def compare(
    reference: np.ndarray, candidate: np.ndarray, label: str, required: float
) -> ParityReport:
    """Row-wise max abs difference and cosine between two (N, E) embedding arrays."""
    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if ref.shape != cand.shape or ref.ndim != 2 or ref.shape[0] == 0:
        raise ParityFailed(
            f"parity {label}: the model returned embeddings of shape {cand.shape} where the "
            f"reference has {ref.shape}; export the model again with `bear-export`"
        )
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
    cosines = np.sum(ref * cand, axis=1) / np.maximum(norms, 1e-12)
    return ParityReport(
        label=label,
        chips=int(ref.shape[0]),
        max_abs_diff=float(np.max(np.abs(ref - cand))),
        min_cosine=float(np.min(cosines)),
        mean_cosine=float(np.mean(cosines)),
        required=required,
    )


def export_advice(precision: str) -> str:
    """What to do when an export of `precision` fails parity (nothing was written)."""
    if precision == "fp32":
        return (
            "Nothing was written. Check that the model is in eval mode and has no random or "
            "data-dependent layers."
        )
    steps = [
        f"accept it with a lower --min-cosine-{precision} if its accuracy cost is acceptable",
        f"or export without --{precision}",
    ]
    if precision == "int8":
        steps.insert(0, "calibrate on more representative chips (--calibration-chips)")
    text = ", ".join(steps)
    return f"Nothing was written. {text[0].upper()}{text[1:]}."


def require(report: ParityReport, advice: str) -> ParityReport:
    """`report` if it passed, else `ParityFailed` with the figures and `advice`."""
    if report.passed:
        return report
    raise ParityFailed(
        f"parity check failed for {report.label}: minimum cosine {report.min_cosine:.6f} is "
        f"below the required {report.required} (max |diff| {report.max_abs_diff:.2e} over "
        f"{report.chips} chips). {advice}"
    )


@dataclass(frozen=True)
class Reference:
    """Preprocessed chips and the embeddings the original model gave them."""

    inputs: np.ndarray
    embeddings: np.ndarray
    names: list[str]


def write_reference(path: Path, reference: Reference) -> None:
    """Store the reference as a compressed .npz (no pickles: loadable safely anywhere)."""
    with path.open("wb") as f:
        np.savez_compressed(
            f,
            inputs=reference.inputs.astype(np.float32),
            embeddings=reference.embeddings.astype(np.float32),
            names=np.asarray(reference.names, dtype=str),
        )


def read_reference(path: Path) -> Reference:
    """Read a reference written by `write_reference`."""
    if not path.is_file():
        raise ParityFailed(
            f"no parity reference {path}: verify needs the {REFERENCE_FILE} that bear-export "
            "writes beside the model; copy it along with the model, or export again"
        )
    with np.load(path, allow_pickle=False) as data:
        return Reference(
            inputs=np.asarray(data["inputs"], dtype=np.float32),
            embeddings=np.asarray(data["embeddings"], dtype=np.float32),
            names=[str(n) for n in data["names"]],
        )
