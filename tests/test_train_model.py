"""The embedder: backbones and their weights, the head, and each training component's step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from beartrain.config import ModelSection, TrainConfig, build_config
from beartrain.model import (
    BackboneError,
    WeightsError,
    build_embedder,
    create_backbone,
    map_package_state,
    package_weights_path,
)
from beartrain.training import (
    ComponentError,
    TrainStep,
    build_loss,
    build_miner,
    build_optimizer,
    build_sampler,
    build_scheduler,
)

REPO = Path(__file__).resolve().parent.parent


def _tiny(**model: object) -> ModelSection:
    return ModelSection.model_validate(
        {"backbone": "resnet10t", "pretrained": "none", "embedding_size": 128, **model}
    )


def test_package_weights_map_onto_timm_lite0_parameter_by_parameter() -> None:
    backbone = create_backbone("tf_efficientnet_lite0", "package")
    source = torch.load(package_weights_path("tf_efficientnet_lite0"), weights_only=True)
    mine = [v for k, v in backbone.state_dict().items() if "num_batches" not in k]
    source_tensors = [
        v for k, v in source.items() if not k.startswith("_fc.") and "num_batches" not in k
    ]
    assert len(mine) == len(source_tensors) == 245
    for a, b in zip(mine, source_tensors, strict=True):
        assert a.shape == b.shape
        assert torch.equal(a, b)


def test_package_weights_refuse_another_variant_and_other_backbones() -> None:
    lite1 = torch.load(package_weights_path("tf_efficientnet_lite1"), weights_only=True)
    lite0 = create_backbone("tf_efficientnet_lite0", "none")
    with pytest.raises(WeightsError, match="another EfficientNet-Lite variant"):
        map_package_state(lite1, lite0)
    with pytest.raises(WeightsError) as e:
        create_backbone("resnet18", "package")
    assert str(e.value) == (
        "pretrained: package has weights only for tf_efficientnet_lite0/1/2, "
        "not 'resnet18': use pretrained: hub, file:PATH or none"
    )


def test_unknown_backbone_and_offline_hub_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BackboneError) as e:
        create_backbone("resnet_typo", "none")
    assert str(e.value).startswith("timm has no model named 'resnet_typo'")
    code = (
        "from beartrain.model import create_backbone\n"
        "try:\n    create_backbone('resnet10t', 'hub')\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    ).stdout
    assert out.startswith("BackboneError could not download pretrained weights for resnet10t")
    assert "offline, use pretrained: package (tf_efficientnet_lite0/1/2), pretrained: " in out


def test_file_weights_load_a_saved_state_dict(tmp_path: Path) -> None:
    source = create_backbone("resnet10t", "none")
    torch.save(source.state_dict(), tmp_path / "w.pt")
    loaded = create_backbone("resnet10t", f"file:{tmp_path / 'w.pt'}")
    for a, b in zip(source.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    torch.save({"unrelated": torch.zeros(3)}, tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match=r"no tensor in .* fits the backbone"):
        create_backbone("resnet10t", f"file:{tmp_path / 'bad.pt'}")


@pytest.mark.parametrize("widths", [[], [64], [96, 64]])
def test_embeddings_are_unit_length_with_any_head_depth(widths: list[int]) -> None:
    model = build_embedder(_tiny(head_widths=widths, embedding_size=160)).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, 48, 48))
    assert out.shape == (3, 160)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))
    assert model.embedding_size == 160


def _config(**sections: object) -> TrainConfig:
    return build_config({"model": _tiny().model_dump(mode="json"), **sections})


@pytest.mark.parametrize("loss", ["contrastive", "triplet_margin", "circle", "arcface"])
@pytest.mark.parametrize("miner", ["none", "easy", "semi_hard", "hard"])
def test_every_loss_and_miner_builds_and_takes_a_step(loss: str, miner: str) -> None:
    torch.manual_seed(0)
    cfg = _config(loss={"name": loss}, miner={"name": miner, "margin": 0.5})
    model = build_embedder(cfg.model)
    loss_fn = build_loss(cfg.loss, num_classes=4, embedding_size=128)
    step = TrainStep(model, loss_fn, build_miner(cfg.miner))
    optimizer = build_optimizer(cfg.optimizer, model, loss_fn)
    images, labels = torch.randn(8, 3, 32, 32), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    before = [p.detach().clone() for p in model.head.parameters()]
    value = step(images, labels)
    value.backward()
    optimizer.step()
    assert torch.isfinite(value)
    changed = any(
        not torch.equal(a, b) for a, b in zip(before, model.head.parameters(), strict=True)
    )
    # An easy/semi-hard miner may find no tuple in a random batch: then nothing moves.
    assert changed or (miner != "none" and float(value) == 0.0)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_optimizer_groups_have_their_own_learning_rates(name: str) -> None:
    cfg = _config(
        loss={"name": "arcface"},
        optimizer={"name": name, "lr": 0.01, "backbone_lr_ratio": 50, "loss_lr": 0.2},
        schedule={"warmup_epochs": 1, "min_lr_ratio": 0.1},
    )
    model = build_embedder(cfg.model)
    loss_fn = build_loss(cfg.loss, 4, 128)
    optimizer = build_optimizer(cfg.optimizer, model, loss_fn)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.0002, 0.01, 0.2])
    assert type(optimizer).__name__.lower() == name
    scheduler = build_scheduler(cfg.schedule, optimizer, steps_per_epoch=4, epochs=3)
    lrs = []
    for _ in range(12):
        lrs.append(optimizer.param_groups[1]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:4] == pytest.approx([0.0025, 0.005, 0.0075, 0.01])  # warmup
    assert lrs[4] == pytest.approx(0.01)  # cosine starts at the peak ...
    assert lrs[4:] == sorted(lrs[4:], reverse=True)  # ... and only decreases
    assert lrs[-1] > 0.001  # towards min_lr_ratio * lr, not reached before the end


def test_backbone_can_stay_frozen_while_the_head_warms_up() -> None:
    cfg = _config(schedule={"warmup_epochs": 0, "freeze_backbone_epochs": 1.5})
    model = build_embedder(cfg.model)
    optimizer = build_optimizer(cfg.optimizer, model, build_loss(cfg.loss, 4, 128))
    scheduler = build_scheduler(cfg.schedule, optimizer, steps_per_epoch=4, epochs=3)
    backbone, head = [], []
    for _ in range(8):
        backbone.append(optimizer.param_groups[0]["lr"])
        head.append(optimizer.param_groups[1]["lr"])
        optimizer.step()
        scheduler.step()
    assert backbone[:6] == [0.0] * 6  # 1.5 epochs of 4 steps
    assert backbone[6] == pytest.approx(head[6] / cfg.optimizer.backbone_lr_ratio)
    assert all(lr > 0 for lr in head)


def test_sampler_settings_that_cannot_work_are_explained() -> None:
    cfg = _config(sampler={"batch_size": 10, "m_per_class": 4})
    with pytest.raises(ComponentError) as e:
        build_sampler(cfg.sampler, [0, 0, 1, 1, 2, 2])
    assert str(e.value) == "sampler.batch_size (10) must be a multiple of sampler.m_per_class (4)"
    cfg = _config(sampler={"batch_size": 16, "m_per_class": 4})
    with pytest.raises(ComponentError, match="needs at least 4 individuals in train, there are 3"):
        build_sampler(cfg.sampler, [0, 0, 1, 1, 2, 2])
    batches = list(
        build_sampler(
            _config(sampler={"batch_size": 4, "m_per_class": 2}).sampler, [0, 0, 0, 1, 1, 1, 2, 2]
        )
    )
    assert len(batches) == 8


def test_wrong_loss_parameters_name_the_section() -> None:
    cfg = _config(loss={"name": "circle", "params": {"circle": {"margin": 0.3}}})
    with pytest.raises(ComponentError, match=r"check loss.params.circle against"):
        build_loss(cfg.loss, 4, 128)


def test_the_embedder_exports_to_onnx_opset_17(tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    model = build_embedder(_tiny()).eval()
    x = torch.randn(2, 3, 64, 64)
    path = tmp_path / "e.onnx"
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["input"],
        output_names=["embedding"],
        opset_version=17,
        dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
        dynamo=False,
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), model(x), atol=1e-4, rtol=1e-4)
