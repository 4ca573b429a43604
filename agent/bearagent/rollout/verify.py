"""Checking an offered model the way the agent checks its model at start, and warming it up.

The offer's card is written beside the fetched file as its sidecar; then the file goes
through `bearagent.runtime.open_embedder` exactly as at start (card inside and beside the
file, the file's SHA-256, the graph's inputs and outputs against the card, a warm-up
batch), and one more batch must give finite embeddings of the card's size. Anything that
fails is a `ModelRefused` whose message the station shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from bearagent.modelcard import ModelCardError, card_from_json, sidecar_path, write_sidecar
from bearagent.rollout.errors import ModelRefused
from bearagent.runtime import RuntimeConfig, RuntimeErrorBase, open_embedder
from bearagent.runtime.base import Embedder

#: Rows of the check batch after the warm-up (more than one: batched graphs differ).
CHECK_ROWS = 2


def write_offered_card(path: Path, card: dict[str, Any], sha256: str) -> None:
    """Write the offer's card as the sidecar of the fetched model file (after checking it)."""
    try:
        parsed = card_from_json(json.dumps(card), f"the offer of {sha256[:12]}...")
    except ModelCardError as e:
        raise ModelRefused(str(e)) from e
    if parsed.model.sha256 != sha256:
        raise ModelRefused(
            f"the offer's card names SHA-256 {str(parsed.model.sha256)[:12]}..., the offered file "
            f"is {sha256[:12]}...: publish the model again with the card written by bear-export"
        )
    write_sidecar(parsed, sidecar_path(path))


def open_offered(path: Path, runtime: RuntimeConfig) -> Embedder:
    """The runtime on the fetched model at `path` (its sidecar written), warmed up and checked.

    Uses this box's runtime settings (providers, threads); only ONNX Runtime can take a
    model from the station (a TensorRT engine is built on the box by hand).
    """
    if runtime.backend != "onnxruntime":
        raise ModelRefused(
            f"this box runs runtime.backend = {runtime.backend!r}: a TensorRT engine is built on "
            "the box (`bear-export --trt`), it cannot be rolled out; switch the box to "
            "'onnxruntime' or install the new engine by hand"
        )
    try:
        embedder = open_embedder(runtime.model_copy(update={"model": path, "warm_up": True}))
    except (ModelCardError, RuntimeErrorBase) as e:
        raise ModelRefused(f"{e}") from e
    except Exception as e:  # ONNX Runtime's own errors on a graph that cannot run
        raise ModelRefused(f"warm-up failed ({type(e).__name__}: {e})") from e
    try:
        _check_outputs(embedder)
    except BaseException:
        embedder.close()
        raise
    return embedder


def _check_outputs(embedder: Embedder) -> None:
    """One more batch: embeddings of the card's size, every value finite."""
    spec = embedder.card.input
    batch = np.random.default_rng(0).random((CHECK_ROWS, 3, spec.height, spec.width))
    try:
        out = embedder.embed(batch.astype(np.float32))
    except (ModelCardError, RuntimeErrorBase) as e:
        raise ModelRefused(f"{e}") from e
    except Exception as e:  # ONNX Runtime's own errors
        raise ModelRefused(f"warm-up failed ({type(e).__name__}: {e})") from e
    size = embedder.card.embedding.size
    if out.shape != (CHECK_ROWS, size) or not np.isfinite(out).all():
        raise ModelRefused(
            f"model {embedder.card.model.name} gives embeddings of shape {out.shape} with "
            f"non-finite values: its card says size {size}; export it again"
        )
