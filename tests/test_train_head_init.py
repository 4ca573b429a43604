"""Grey input, the LDA-started head, frozen BatchNorm statistics, and open-set score candidates."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pytest
import torch
from pytorch_metric_learning import losses
from torch.utils.data import DataLoader, TensorDataset

from bearagent.chips import decode_chip, preprocess
from bearagent.modelcard import TrainingSummary
from bearagent.runtime import RuntimeConfig, open_embedder
from bearexport.outputs import MODEL_FILES
from bearexport.pipeline import ExportOptions, export_checkpoint
from beartrain.checkpoint import save_checkpoint
from beartrain.config import build_config
from beartrain.model import Embedder, build_embedder, input_spec
from beartrain.model.embedder import GrayscaleInput
from beartrain.model.head_init import HeadInitError, fit_lda, init_head_lda
from beartrain.synthetic import SyntheticConfig, write_population
from beartrain.training.epoch import TrainStep, train_one_epoch

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _normalise(rgb: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) RGB in 0..1 -> normalised (N, 3, H, W)."""
    x = (rgb - np.array(MEAN)) / np.array(STD)
    return torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32))


def test_grey_input_makes_a_colour_image_and_its_grey_copy_the_same() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 1, (2, 8, 6, 3))
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    grey_rgb = np.repeat(grey[..., None], 3, axis=3)
    adapter = GrayscaleInput(MEAN, STD)
    out = adapter(_normalise(rgb))
    np.testing.assert_allclose(out.numpy(), _normalise(grey_rgb).numpy(), atol=1e-5)
    # Already grey stays as it is; the three channels carry the same grey.
    np.testing.assert_allclose(adapter(_normalise(grey_rgb)).numpy(), out.numpy(), atol=1e-5)
    assert not adapter.state_dict()  # checkpoints keep their keys


def test_fit_lda_finds_the_direction_that_separates_individuals() -> None:
    """Three individuals apart along axis 0; a far larger spread within each along axis 1."""
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 200)
    x = rng.normal(0, 0.1, (600, 6))
    x[:, 0] += labels * 1.0
    x[:, 1] *= 30.0  # PCA would pick this one
    weight, bias = fit_lda(x, labels.tolist(), dim=2)
    first = weight[0] / np.linalg.norm(weight[0])
    assert abs(first[0]) > 0.99
    projected = x @ weight.T + bias
    assert abs(projected.mean(axis=0)).max() < 1e-9  # centred on the mean feature
    nearest = np.argmin(
        np.abs(projected[:, :1] - np.array([projected[labels == c, 0].mean() for c in range(3)])),
        axis=1,
    )
    assert np.mean(nearest == labels) > 0.95


def test_fit_lda_refuses_more_dimensions_than_features_and_a_single_individual() -> None:
    x = np.random.default_rng(2).normal(size=(20, 4))
    with pytest.raises(HeadInitError, match="embedding_size"):
        fit_lda(x, [0, 1] * 10, dim=8)
    with pytest.raises(HeadInitError, match="2 individuals"):
        fit_lda(x, [0] * 20, dim=2)


def _tiny_model(**model: object) -> Embedder:
    cfg = build_config(
        {
            "model": {
                "backbone": "resnet10t",
                "pretrained": "none",
                "embedding_size": 128,
                "input": {"height": 32, "width": 32},
                **model,
            }
        }
    )
    torch.manual_seed(0)
    return build_embedder(cfg.model).eval()


def test_init_head_lda_sets_the_head_and_centres_arcface_on_the_classes() -> None:
    model = _tiny_model()
    labels = [i % 4 for i in range(64)]
    features = (
        torch.randn(64, 512) + torch.nn.functional.one_hot(torch.tensor(labels), 512).float() * 5
    )
    loss = losses.ArcFaceLoss(num_classes=4, embedding_size=128)
    init_head_lda(model, features, labels, loss)
    weight, bias = fit_lda(features.double().numpy(), labels, 128)
    head = model.head.layers[-1]
    assert isinstance(head, torch.nn.Linear)
    np.testing.assert_allclose(head.weight.detach().numpy(), weight, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(head.bias.detach().numpy(), bias, rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        emb = torch.nn.functional.normalize(head(features), dim=1)
        logits = emb @ loss.W  # cosine to each class centre
    assert (logits.argmax(dim=1) == torch.tensor(labels)).float().mean() == 1.0
    assert torch.allclose(loss.W.norm(dim=0), torch.ones(4), atol=1e-5)


def test_init_head_lda_refuses_a_head_with_hidden_layers() -> None:
    model = _tiny_model(head_widths=[64])
    with pytest.raises(HeadInitError, match="head_widths"):
        init_head_lda(model, torch.randn(8, 512), [0, 1] * 4)


def _bn_buffers(module: torch.nn.Module) -> list[torch.Tensor]:
    return [
        b.clone()
        for name, b in module.named_buffers()
        if "running" in name or "num_batches" in name
    ]


@pytest.mark.parametrize("frozen", [True, False])
def test_frozen_batchnorm_keeps_backbone_statistics_while_weights_learn(frozen: bool) -> None:
    model = _tiny_model()
    images = torch.randn(32, 3, 32, 32) * 3 + 2  # far from the initial statistics
    loader = cast(
        DataLoader[tuple[torch.Tensor, int]],
        DataLoader(TensorDataset(images, torch.arange(32) % 4), batch_size=16),
    )
    step = TrainStep(model, losses.CircleLoss(), None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    before_stats = _bn_buffers(model.backbone)
    before_weights = [p.clone() for p in model.backbone.parameters()]
    train_one_epoch(
        step,
        loader,
        optimizer,
        scheduler,
        torch.device("cpu"),
        amp=False,
        scaler=None,
        progress=False,
        desc="t",
        frozen_norm=model.backbone if frozen else None,
    )
    same_stats = all(
        torch.equal(a, b) for a, b in zip(before_stats, _bn_buffers(model.backbone), strict=True)
    )
    assert same_stats is frozen
    assert any(
        not torch.equal(a, b)
        for a, b in zip(before_weights, model.backbone.parameters(), strict=True)
    )


def test_a_grey_model_exports_and_embeds_a_colour_chip_like_its_grey_copy(tmp_path: Path) -> None:
    chips = tmp_path / "chips"
    write_population(chips, SyntheticConfig(individuals=3, size=64, seed=1))
    cfg = build_config(
        {
            "model": {
                "backbone": "resnet10t",
                "pretrained": "none",
                "embedding_size": 128,
                "grayscale": True,
                "input": {"height": 48, "width": 32},
            }
        }
    )
    torch.manual_seed(0)
    model = build_embedder(cfg.model).eval()
    save_checkpoint(
        tmp_path / "run" / "best.pt",
        config=cfg,
        epoch=1,
        metrics={},
        input_spec=input_spec(cfg.model),
        decision=None,
        tracks=None,
        training=TrainingSummary(individuals=3, images=9, split_kind="open", seed=0),
        model=model,
        label_names=["a", "b", "c"],
    )
    out = tmp_path / "export"
    result = export_checkpoint(tmp_path / "run", out, ExportOptions(chips=chips, parity_chips=8))
    assert result.parity["fp32"].passed
    path = sorted(chips.rglob("*.jpg"))[0]
    colour = decode_chip(path.read_bytes(), source=str(path))
    grey = cv2.cvtColor(cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert np.abs(colour.astype(int) - grey).max() > 20  # the chip really has colour
    spec = result.card.input
    batch = np.stack([preprocess(colour, spec), preprocess(grey, spec)])
    with open_embedder(
        RuntimeConfig(model=out / MODEL_FILES["fp32"], providers=["CPUExecutionProvider"])
    ) as e:
        emb = e.embed(batch)
    assert float(emb[0] @ emb[1]) > 0.999
