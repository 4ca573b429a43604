"""Reduced-precision variants of an exported FP32 ONNX embedder: FP16 and static INT8.

Both keep float32 inputs and outputs, so the agent's runtime runs them exactly
like the FP32 model; only the weights and the arithmetic inside change.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from bearexport.errors import ExtraMissing

log = logging.getLogger(__name__)


def to_fp16(source: Path, target: Path) -> Path:
    """Write an FP16 copy of `source` with float32 input/output (onnxconverter-common)."""
    try:
        from onnxconverter_common import float16  # type: ignore[import-untyped]
    except ImportError as e:
        raise ExtraMissing(
            "--fp16 needs onnxconverter-common, which is not installed: "
            "pip install 'bearid[export]'"
        ) from e
    model = onnx.load(str(source))
    with warnings.catch_warnings(record=True) as clipped:
        # It warns once per weight too small for FP16; one summary line says the same.
        warnings.simplefilter("always")
        converted = float16.convert_float_to_float16(model, keep_io_types=True)
    if clipped:
        log.info("FP16: %d values outside FP16's range were clipped", len(clipped))
    onnx.save(converted, str(target))
    return target


class _BatchReader:
    """ONNX Runtime's CalibrationDataReader protocol over a preprocessed chip batch."""

    def __init__(self, inputs: np.ndarray, input_name: str, batch: int) -> None:
        self._input_name = input_name
        self._inputs = inputs
        self._batch = batch
        self._iter = self._batches()

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, self._inputs.shape[0], self._batch):
            chunk = self._inputs[start : start + self._batch]
            yield {self._input_name: np.ascontiguousarray(chunk, dtype=np.float32)}

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next calibration batch, or None when all were read."""
        return next(self._iter, None)

    def rewind(self) -> None:
        """Start over (ONNX Runtime reads the data again for some calibration methods)."""
        self._iter = self._batches()


def _quantization() -> Any:
    try:
        from onnxruntime import quantization
    except ImportError as e:
        raise ExtraMissing(
            "--int8 needs onnxruntime's quantization tools, which are not installed: "
            "pip install 'bearid[cpu]'"
        ) from e
    return quantization


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes kept in float: the first and last convolution and the embedding head.

    The usual post-training-quantisation practice: these layers are few and cheap but
    the most sensitive (on tf_efficientnet_lite0 keeping them raises the minimum
    cosine to FP32 from 0.79 to 0.87 on cattle chips, at no loss of speed).
    """
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    heads = [n.name for n in model.graph.node if n.op_type in ("Gemm", "MatMul")]
    return [*convs[:1], *convs[-1:], *heads]


def to_int8(source: Path, target: Path, calibration: np.ndarray, input_name: str) -> Path:
    """Static INT8 quantisation (QDQ, per-channel weights) calibrated on `calibration` chips."""
    q = _quantization()
    reader_cls = type("ChipCalibrationReader", (_BatchReader, q.CalibrationDataReader), {})
    with tempfile.TemporaryDirectory(prefix="bear-export-int8-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # ONNX shape inference and graph clean-up first, as ONNX Runtime recommends; the
        # symbolic pass cannot follow the exporter's Expand nodes, and static shapes suffice.
        q.quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        q.quantize_static(
            str(prepared),
            str(target),
            reader_cls(calibration, input_name, batch=8),
            quant_format=q.QuantFormat.QDQ,
            per_channel=True,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            calibrate_method=q.CalibrationMethod.MinMax,
            nodes_to_exclude=float_nodes(onnx.load(str(prepared))),
        )
    log.info("INT8 model calibrated on %d chips", calibration.shape[0])
    return target
