"""Training and evaluation see chips exactly as the agent does (`bearagent.chips`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from bearagent.chips import decode_chip, preprocess, preprocess_batch
from bearagent.modelcard import InputSpec
from beartrain.config import AugmentSection, ModelSection
from beartrain.data.splitfile import SplitRow
from beartrain.model import build_embedder, input_spec
from beartrain.training import ChipDataset, embed_rows

NO_AUGMENT = AugmentSection(
    rotation_deg=0, brightness=0, contrast=0, saturation=0, hue=0, crop_scale=(1, 1), blur_prob=0
)


def _chips(folder: Path) -> list[SplitRow]:
    rng = np.random.default_rng(0)
    rows = []
    for i, (h, w) in enumerate([(70, 50), (64, 64), (40, 90)]):
        noise = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        image = cv2.GaussianBlur(noise, (5, 5), 0)  # smooth, like a photo
        (folder / "bear-000").mkdir(parents=True, exist_ok=True)
        path = f"bear-000/chip{i}.jpg"
        cv2.imwrite(str(folder / path), image)
        rows.append(SplitRow(path, "bear-000", "cam01", None, f"e{i}", True))
    return rows


@pytest.mark.parametrize("resize", ["stretch", "letterbox", "center_crop"])
def test_eval_and_unaugmented_training_tensors_equal_the_agents_preprocess(
    tmp_path: Path, resize: str
) -> None:
    rows = _chips(tmp_path)
    model = ModelSection.model_validate(
        {
            "backbone": "resnet10t",
            "pretrained": "none",
            "input": {"height": 48, "width": 56, "resize": resize},
        }
    )
    spec = input_spec(model)
    assert spec.mean == pytest.approx((0.485, 0.456, 0.406))  # resnet10t's own normalisation
    for augment in (None, NO_AUGMENT):
        dataset = ChipDataset(tmp_path, rows, spec, augment=augment)
        for i, row in enumerate(rows):
            tensor, label = dataset[i]
            expected = preprocess(decode_chip((tmp_path / row.path).read_bytes()), spec)
            np.testing.assert_allclose(tensor.numpy(), expected, atol=1e-5, rtol=0)
            assert label == 0


def test_augmented_chips_keep_shape_and_the_shared_normalisation(tmp_path: Path) -> None:
    rows = _chips(tmp_path)
    spec = InputSpec(
        height=32,
        width=32,
        colour_order="RGB",
        resize="stretch",
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
    )
    torch.manual_seed(0)
    augmented = ChipDataset(tmp_path, rows, spec, augment=AugmentSection(blur_prob=1.0))
    plain = ChipDataset(tmp_path, rows, spec)
    tensor, _ = augmented[0]
    assert tensor.shape == (3, 32, 32) and tensor.dtype == torch.float32
    assert not torch.allclose(tensor, plain[0][0])
    # Same normalisation: values stay within what (x/255 - 0.5) / 0.25 can produce.
    assert tensor.min() >= -2.0 - 1e-6 and tensor.max() <= 2.0 + 1e-6


def test_evaluation_embeddings_are_the_model_on_the_agents_input(tmp_path: Path) -> None:
    rows = _chips(tmp_path)
    section = ModelSection.model_validate(
        {
            "backbone": "resnet10t",
            "pretrained": "none",
            "embedding_size": 128,
            "input": {"height": 48, "width": 48},
        }
    )
    model = build_embedder(section).eval()
    spec = input_spec(section)
    embedded = embed_rows(model, tmp_path, rows, spec, torch.device("cpu"), batch_size=2)
    images = [decode_chip((tmp_path / r.path).read_bytes()) for r in rows]
    with torch.no_grad():
        expected = model(torch.from_numpy(preprocess_batch(images, spec))).numpy()
    np.testing.assert_allclose(embedded.embeddings, expected, atol=1e-5)
    assert embedded.labels == ["bear-000"] * 3
    assert embedded.encounters == ["e0", "e1", "e2"]
