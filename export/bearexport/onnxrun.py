"""Running an exported ONNX model with ONNX Runtime on the CPU, for checks and timings.

The agent's runtime (`bearagent.runtime`) is what the field box uses; this is the
plain session bear-export needs to check a graph before it has a card, and to
time it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx

from bearexport.errors import DynamicBatchBroken, ExtraMissing

#: Name of the symbolic batch dimension on the graph's input and output.
BATCH_AXIS = "batch"


def _onnxruntime() -> Any:
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ExtraMissing(
            "bear-export checks models with onnxruntime, which is not installed: "
            "pip install 'bearid[cpu]'"
        ) from e
    return ort


def ort_errors() -> tuple[type[Exception], ...]:
    """ONNX Runtime's own exception classes (a graph it cannot load or run)."""
    state = _onnxruntime().capi.onnxruntime_pybind11_state
    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile",
             "NotImplemented", "RuntimeException")  # fmt: skip
    return tuple(getattr(state, n) for n in names if hasattr(state, n))


def session(model: Path | bytes, threads: int = 0, *, quiet: bool = False) -> Any:
    """A CPU ONNX Runtime session on `model`, a file or its bytes (`threads` 0: decide);
    `quiet`: ONNX Runtime logs nothing itself (for graphs expected to fail)."""
    ort = _onnxruntime()
    options = ort.SessionOptions()
    if quiet:
        options.log_severity_level = 4  # fatal only
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(
        model if isinstance(model, bytes) else str(model),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )


def run(
    sess: Any, batch: np.ndarray, input_name: str, output_name: str, max_batch: int = 32
) -> np.ndarray:
    """Embeddings (N, E) float32 of `batch`, run in slices of at most `max_batch`."""
    parts = [
        sess.run([output_name], {input_name: np.ascontiguousarray(batch[i : i + max_batch])})[0]
        for i in range(0, batch.shape[0], max_batch)
    ]
    return np.asarray(np.concatenate(parts), dtype=np.float32)


def batch_dims(model: Path, input_name: str, output_name: str) -> tuple[str, str]:
    """The first dimension of the named graph input and output, as written in the file."""
    graph = onnx.load(str(model), load_external_data=False).graph
    dims = {}
    for value in [*graph.input, *graph.output]:
        shape = value.type.tensor_type.shape.dim
        if shape:
            dims[value.name] = shape[0].dim_param or str(shape[0].dim_value)
    missing = [n for n in (input_name, output_name) if n not in dims]
    if missing:
        raise DynamicBatchBroken(
            f"{model} has no graph input/output named {missing[0]!r} (it has "
            f"{sorted(dims)}); export the model again with `bear-export`"
        )
    return dims[input_name], dims[output_name]


def check_dynamic_batch(model: Path, sample: np.ndarray, input_name: str, output_name: str) -> None:
    """The batch axis is symbolic, and batches of 1 and 8 give the same rows as each other."""
    dims = batch_dims(model, input_name, output_name)
    if dims != (BATCH_AXIS, BATCH_AXIS):
        raise DynamicBatchBroken(
            f"{model} has batch dimensions {dims[0]!r} (input) and {dims[1]!r} (output), not "
            f"the symbolic {BATCH_AXIS!r}: the agent could only run fixed batches. Export again."
        )
    eight = np.concatenate([sample] * (8 // len(sample) + 1))[:8]
    sess = session(model)
    one = np.concatenate([run(sess, eight[i : i + 1], input_name, output_name) for i in range(8)])
    together = run(sess, eight, input_name, output_name)
    worst = float(np.max(np.abs(one - together)))
    if together.shape[0] != 8 or worst > 1e-4:
        raise DynamicBatchBroken(
            f"{model} gives different embeddings for the same chips at batch 1 and batch 8 "
            f"(max |diff| {worst:.2e}): the graph mixes rows of a batch (BatchNorm in training "
            "mode?). Put the model in eval mode and export again."
        )
