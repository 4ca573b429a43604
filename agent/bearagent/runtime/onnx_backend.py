"""The ONNX Runtime embedder: CPU, CUDA or TensorRT execution providers, chosen by preference.

onnxruntime is imported here only, so that choosing the TensorRT engine backend
(or no runtime at all, for the gallery commands) does not load it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from bearagent.modelcard import ModelCard, load_model_card
from bearagent.runtime.base import Embedder, check_batch, l2_normalise, split_batches
from bearagent.runtime.config import RuntimeConfig
from bearagent.runtime.errors import ModelIncompatible, RuntimeUnavailable
from bearagent.runtime.providers import choose_providers, report_fallbacks

log = logging.getLogger(__name__)


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as e:
        raise RuntimeUnavailable(
            "onnxruntime is not installed: pip install 'bearid[cpu]' (or 'bearid[gpu]' on an "
            "NVIDIA box)"
        ) from e
    return onnxruntime


def _ort_errors(ort: Any) -> tuple[type[Exception], ...]:
    """ONNX Runtime's own exception classes (they derive from Exception only)."""
    state = ort.capi.onnxruntime_pybind11_state
    names = (
        "Fail",
        "InvalidArgument",
        "InvalidGraph",
        "InvalidProtobuf",
        "NoSuchFile",
        "NotImplemented",
        "RuntimeException",
    )
    return tuple(getattr(state, n) for n in names if hasattr(state, n))


class OnnxRuntimeEmbedder(Embedder):
    """Runs the exported ONNX embedder with ONNX Runtime, per a `RuntimeConfig`."""

    def __init__(self, config: RuntimeConfig) -> None:
        ort = _import_onnxruntime()
        self._card = load_model_card(config.model)  # refuses a model without a valid card
        self._max_batch = config.max_batch
        choice = choose_providers(
            config.providers, ort.get_available_providers(), ort.get_all_providers()
        )
        self.skipped_providers = dict(choice.skipped)
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.intra_op_threads
        options.inter_op_num_threads = config.inter_op_threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not config.spin_wait:  # the cores are shared with decode and the database
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        providers = [_with_options(p, config) for p in choice.chosen]
        try:
            self._session: Any = ort.InferenceSession(
                str(config.model), sess_options=options, providers=providers
            )
        except _ort_errors(ort) as e:
            raise ModelIncompatible(
                f"ONNX Runtime cannot load {config.model} ({type(e).__name__}: {e}). "
                "Export the model again with `bear-export`."
            ) from e
        self.providers: list[str] = list(self._session.get_providers())
        self.skipped_providers.update(report_fallbacks(choice.chosen, self.providers))
        _check_graph(self._session, self._card, str(config.model))
        log.info("ONNX Runtime embedder ready: %s on %s", self._card.model.name, self.providers)

    @property
    def card(self) -> ModelCard:
        return self._card

    @property
    def name(self) -> str:
        return f"onnxruntime[{self.providers[0]}]"

    def embed(self, batch: np.ndarray) -> np.ndarray:
        batch = check_batch(batch, self._card)
        size = self._card.embedding.size
        if batch.shape[0] == 0:
            return np.zeros((0, size), dtype=np.float32)
        parts = [self._run(part) for part in split_batches(batch, self._max_batch)]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return out if self._card.embedding.l2_normalised else l2_normalise(out)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        spec = self._card.embedding
        (out,) = self._session.run([spec.name], {self._card.input.name: batch})
        if out.shape != (batch.shape[0], spec.size):
            raise ModelIncompatible(
                f"model {self._card.model.name} returned embeddings of shape {out.shape} for "
                f"{batch.shape[0]} chips; its card says size {spec.size}. Export it again."
            )
        return np.asarray(out, dtype=np.float32)

    def close(self) -> None:
        # ONNX Runtime frees the session when the last reference goes.
        self._session = None


def _with_options(provider: str, config: RuntimeConfig) -> str | tuple[str, dict[str, str]]:
    if provider == "TensorrtExecutionProvider" and config.trt_cache_dir is not None:
        config.trt_cache_dir.mkdir(parents=True, exist_ok=True)
        return provider, {
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(config.trt_cache_dir),
            "trt_timing_cache_enable": "True",
        }
    return provider


def _check_graph(session: Any, card: ModelCard, source: str) -> None:
    """The graph's input and output names and fixed sizes agree with the card."""
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    if card.input.name not in inputs:
        raise ModelIncompatible(
            f"{source} has inputs {sorted(inputs)}, but its card names input "
            f"{card.input.name!r}. Export the model again with `bear-export`."
        )
    if card.embedding.name not in outputs:
        raise ModelIncompatible(
            f"{source} has outputs {sorted(outputs)}, but its card names output "
            f"{card.embedding.name!r}. Export the model again with `bear-export`."
        )
    want_in = [None, 3, card.input.height, card.input.width]
    if not _shape_fits(inputs[card.input.name], want_in):
        raise ModelIncompatible(
            f"{source} takes input of shape {inputs[card.input.name]}, but its card says "
            f"(N, 3, {card.input.height}, {card.input.width}). Export the model again."
        )
    if not _shape_fits(outputs[card.embedding.name], [None, card.embedding.size]):
        raise ModelIncompatible(
            f"{source} outputs shape {outputs[card.embedding.name]}, but its card says "
            f"embedding size {card.embedding.size}. Export the model again."
        )


def _shape_fits(actual: list[Any], wanted: list[int | None]) -> bool:
    """Ranks match, and every fixed (integer) dimension equals the wanted one, if any."""
    if len(actual) != len(wanted):
        return False
    return all(
        not isinstance(a, int) or w is None or a == w for a, w in zip(actual, wanted, strict=True)
    )
