"""The ONNX Runtime embedder on real tiny ONNX models: cards, providers, batches, errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from bearagent.chips import decode_chip, preprocess
from bearagent.modelcard import ModelCardMissing, write_model_card
from bearagent.runtime import (
    BACKENDS,
    BadBatch,
    ModelIncompatible,
    RuntimeConfig,
    RuntimeUnavailable,
    UnknownRuntime,
    open_embedder,
)
from bearagent.runtime.providers import choose_providers
from support.gallery_helpers import COLOURS, carded_model, unnormalised_model, write_chip
from support.models import make_card, write_tiny_embedder

CPU = ["CPUExecutionProvider"]


def batch(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3, 64, 96)).astype(np.float32)


def test_embeds_a_real_chip_into_unit_vectors(tmp_path: Path) -> None:
    model = carded_model(tmp_path)
    chip = write_chip(tmp_path / "otis.png", COLOURS["otis"])
    with open_embedder(RuntimeConfig(model=model, providers=CPU)) as embedder:
        x = preprocess(decode_chip(chip.read_bytes()), embedder.card.input)[None]
        out = embedder.embed(x)
        assert embedder.name == "onnxruntime[CPUExecutionProvider]"
        assert embedder.card.model.name == "tiny-test"
    assert out.shape == (1, 8) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_large_batches_are_split_and_give_the_same_embeddings(tmp_path: Path) -> None:
    model = carded_model(tmp_path)
    x = batch(7)
    with open_embedder(RuntimeConfig(model=model, providers=CPU, max_batch=3)) as small:
        split = small.embed(x)
    with open_embedder(RuntimeConfig(model=model, providers=CPU, max_batch=64)) as whole:
        one_go = whole.embed(x)
        assert whole.embed(x[:0]).shape == (0, 8)
    np.testing.assert_allclose(split, one_go, rtol=1e-5, atol=1e-6)


def test_outputs_are_normalised_when_the_card_says_they_are_not(tmp_path: Path) -> None:
    model, _ = unnormalised_model(tmp_path)
    with open_embedder(RuntimeConfig(model=model, providers=CPU)) as embedder:
        out = embedder.embed(batch(4) + 1.0)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_unavailable_providers_are_skipped_with_a_logged_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = carded_model(tmp_path)
    config = RuntimeConfig(model=model, intra_op_threads=1, inter_op_threads=1)
    with caplog.at_level(logging.INFO, logger="bearagent.runtime"):
        embedder = open_embedder(config)
    assert embedder.name == "onnxruntime[CPUExecutionProvider]"
    assert set(embedder.skipped_providers) == {  # type: ignore[attr-defined]
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
    }
    assert (
        "skipping ONNX Runtime provider CUDAExecutionProvider: not in this onnxruntime build; "
        "install 'bearid[gpu]' (onnxruntime-gpu) instead of 'bearid[cpu]'"
    ) in caplog.messages
    embedder.close()


def test_provider_choice_keeps_preference_order() -> None:
    choice = choose_providers(
        ["CUDAExecutionProvider", "CPUExecutionProvider"],
        available=["CPUExecutionProvider", "CUDAExecutionProvider"],
        known=["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    assert choice.chosen == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choice.skipped == {}


def test_a_provider_typo_is_an_error(tmp_path: Path) -> None:
    config = RuntimeConfig(model=carded_model(tmp_path), providers=["CPUExecutionProvder"])
    with pytest.raises(UnknownRuntime, match="unknown ONNX Runtime provider 'CPUExecutionProvder'"):
        open_embedder(config)


def test_no_available_provider_says_to_add_the_cpu_one(tmp_path: Path) -> None:
    config = RuntimeConfig(model=carded_model(tmp_path), providers=["CUDAExecutionProvider"])
    with pytest.raises(RuntimeUnavailable) as e:
        open_embedder(config)
    assert str(e.value).startswith(
        "none of the ONNX Runtime providers in runtime.providers (CUDAExecutionProvider) is "
        "available here"
    )
    assert str(e.value).endswith("add CPUExecutionProvider to runtime.providers")


def test_a_model_without_a_card_is_refused(tmp_path: Path) -> None:
    model = write_tiny_embedder(tmp_path / "embedder.onnx")
    with pytest.raises(ModelCardMissing, match="has no bearid model card"):
        open_embedder(RuntimeConfig(model=model, providers=CPU))


def test_card_and_graph_must_agree(tmp_path: Path) -> None:
    model = write_tiny_embedder(tmp_path / "embedder.onnx", embedding_size=8)
    write_model_card(model, make_card(embedding={"size": 16, "l2_normalised": True}))
    with pytest.raises(ModelIncompatible) as e:
        open_embedder(RuntimeConfig(model=model, providers=CPU))
    assert "but its card says embedding size 16" in str(e.value)
    other = write_tiny_embedder(tmp_path / "other.onnx")
    write_model_card(other, make_card(embedding={"size": 8, "l2_normalised": True, "name": "emb"}))
    with pytest.raises(ModelIncompatible, match=r"has outputs \['embedding'\], but its card"):
        open_embedder(RuntimeConfig(model=other, providers=CPU))


def test_a_batch_of_the_wrong_shape_says_how_to_make_one(tmp_path: Path) -> None:
    with open_embedder(RuntimeConfig(model=carded_model(tmp_path), providers=CPU)) as embedder:
        with pytest.raises(BadBatch, match=r"batch has shape \(2, 3, 32, 32\), but model"):
            embedder.embed(np.zeros((2, 3, 32, 32), np.float32))
        with pytest.raises(BadBatch, match="dtype float64"):
            embedder.embed(np.zeros((1, 3, 64, 96)))


def test_runtime_config_rejects_unknown_keys_and_backends() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        RuntimeConfig.model_validate({"backend": "onnxruntime", "provider": ["x"]})
    with pytest.raises(ValidationError):
        RuntimeConfig.model_validate({"backend": "openvino"})
    assert set(BACKENDS) == {"onnxruntime", "tensorrt"}
    fields = RuntimeConfig.model_fields
    assert all(f.description for f in fields.values())
    assert RuntimeConfig(model=Path("/m/e.onnx")).engine_path() == Path("/m/e.engine")
