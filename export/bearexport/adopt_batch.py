"""The batch dimension of an adopted graph: does it take batches of 1 and 8 alike?

A graph exported for one image at a time (MiewID's ONNX export, for one) fixes
its batch at 1. Often only the declaration is fixed: the copy with a symbolic
batch runs any batch and gives the same embeddings, and then it is the one
adopted. When the graph computes with its batch size, a batch of 1 stays, and
the agent must run it one chip per call (``runtime.max_batch = 1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from bearexport import onnx_graph, onnxrun
from bearexport.errors import DynamicBatchBroken, NotAnEmbedder
from bearexport.parity import MIN_COSINE, compare

#: Rows run per call when the graph takes any batch.
_STEP = 32


@dataclass(frozen=True)
class BatchCheck:
    """What the original graph declares, what the adopted copy takes, and a line for people."""

    declared: int | None  # the original's fixed batch; None: symbolic
    max_batch: int | None  # the largest batch the adopted copy takes; None: any
    note: str


def _padded(chips: np.ndarray, size: int) -> np.ndarray:
    if len(chips) >= size:
        return chips
    return np.concatenate([chips, np.repeat(chips[-1:], size - len(chips), axis=0)])


def run_graph(
    sess: Any, input_name: str, chips: np.ndarray, fixed: int | None, names: list[str] | None = None
) -> dict[str, np.ndarray]:
    """Every (or each named) output for all `chips`: slices of the fixed batch (the last
    one padded), else of up to 32 rows."""
    wanted = names or [o.name for o in sess.get_outputs()]
    step = fixed or _STEP
    parts: dict[str, list[np.ndarray]] = {n: [] for n in wanted}
    for start in range(0, len(chips), step):
        part = chips[start : start + step]
        feed = np.ascontiguousarray(_padded(part, fixed) if fixed else part, dtype=np.float32)
        for name, value in zip(wanted, sess.run(wanted, {input_name: feed}), strict=True):
            value = np.asarray(value)
            parts[name].append(value[: len(part)] if value.ndim and fixed else value)
    return {n: np.concatenate(v) if v[0].ndim else v[0] for n, v in parts.items()}


def probe(
    sess: Any, input_name: str, chips: np.ndarray, fixed: int | None, source: Path
) -> dict[str, np.ndarray]:
    """All outputs for one batch (of the fixed size, else one chip), or why the graph fails."""
    try:
        return run_graph(sess, input_name, chips[: fixed or 1], fixed)
    except onnxrun.ort_errors() as e:
        raise NotAnEmbedder(
            f"ONNX Runtime cannot run {source} on a batch of {fixed or 1} image(s) of "
            f"{chips.shape[2]}x{chips.shape[3]} ({_first_line(e)}): check --input"
        ) from e


def _first_line(error: Exception) -> str:
    """ONNX Runtime's message in a few words: the failing node, else its first line."""
    text = str(error)
    node = re.search(r"running (\w+) node\. Name:'([^']*)'", text)
    if node is not None:
        return f"its {node[1]} node {node[2]!r} fails" if node[2] else f"its {node[1]} node fails"
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__


def _one_and_eight(
    sess: Any, input_name: str, output: str, eight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    one = np.concatenate([run_graph(sess, input_name, eight[i : i + 1], None, [output])[output]
                          for i in range(len(eight))])  # fmt: skip
    together = run_graph(sess, input_name, eight, None, [output])[output]
    return one, together


def _same(reference: np.ndarray, *candidates: np.ndarray) -> bool:
    for candidate in candidates:
        if candidate.shape != reference.shape:
            return False
        if compare(reference, candidate, "batch", MIN_COSINE["fp32"]).passed is False:
            return False
    return True


def check_batch(model: onnx.ModelProto, original: Any, chips: np.ndarray, input_name: str,
                output: str, source: Path) -> tuple[BatchCheck, onnx.ModelProto]:  # fmt: skip
    """How the adopted copy batches, and the model to adopt (made symbolic where it can be)."""
    fixed = onnx_graph.fixed_side(onnx_graph.image_input(model, source), 0)
    eight = _padded(chips[:8], 8)
    if fixed is None:
        try:
            one, together = _one_and_eight(original, input_name, output, eight)
        except onnxrun.ort_errors() as e:
            raise DynamicBatchBroken(
                f"{source} declares batches of any size but fails at batch 8 ({_first_line(e)}): "
                "export it again with a working batch axis, or with batch 1"
            ) from e
        if not _same(one, together):
            raise DynamicBatchBroken(
                f"{source} gives other embeddings for the same chips at batch 1 and batch 8: the "
                "graph mixes the rows of a batch (BatchNorm in training mode?); export it again "
                "in eval mode"
            )
        return BatchCheck(
            None, None, "batch: any size; batch 1 and 8 give the same embeddings"
        ), model
    reference = run_graph(original, input_name, eight, fixed, [output])[output]
    candidate = onnx_graph.with_symbolic_batch(model)
    try:
        sess = onnxrun.session(candidate.SerializeToString(), quiet=True)
        works = _same(reference, *_one_and_eight(sess, input_name, output, eight))
        reason = "other embeddings at batch 8" if not works else ""
    except onnxrun.ort_errors() as e:
        works, reason = False, _first_line(e)
    if works:
        return BatchCheck(fixed, None, (
            f"batch: fixed at {fixed} in the graph; bear-export made it symbolic, and batch 1 "
            "and 8 give the original's embeddings: the agent runs its usual batches"
        )), candidate  # fmt: skip
    if fixed == 1:
        return BatchCheck(1, 1, (
            f"batch: fixed at 1, and the graph fails at other sizes ({reason}). Set "
            "runtime.max_batch = 1 in the agent's configuration (it then embeds one chip per "
            "call, slower), or export the model again with a dynamic batch axis"
        )), model  # fmt: skip
    raise DynamicBatchBroken(
        f"{source} takes batches of exactly {fixed} and fails at other sizes ({reason}): the "
        "agent embeds batches of 1 up to runtime.max_batch chips; export it again with a "
        "dynamic batch axis (or with batch 1)"
    )
