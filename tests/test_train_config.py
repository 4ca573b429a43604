"""TrainConfig: YAML, --set overrides, typos named, and the shipped example configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from beartrain.config import (
    TrainConfig,
    TrainConfigError,
    config_to_yaml,
    load_config,
    parse_overrides,
)

CONFIGS = Path(__file__).resolve().parent.parent / "train" / "configs"


def test_yaml_and_overrides_land_on_their_keys(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("model: {backbone: resnet18}\noptimizer: {lr: 0.01}\n")
    cfg = load_config(
        path,
        parse_overrides(
            ["optimizer.lr=3e-4", "loss.params.circle.m=0.25", "data.split=/s", "train.amp=false"]
        ),
    )
    assert cfg.model.backbone == "resnet18"
    assert cfg.optimizer.lr == 3e-4
    assert cfg.loss.params == {"circle": {"m": 0.25}}
    assert cfg.data.split == Path("/s")
    assert cfg.train.amp is False


def test_a_typo_is_an_error_that_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(TrainConfigError) as e:
        load_config(None, parse_overrides(["optimizer.lrr=0.1"]))
    assert str(e.value) == "invalid training config: optimizer.lrr: Extra inputs are not permitted"
    with pytest.raises(TrainConfigError) as e:
        load_config(None, parse_overrides(["model.embedding_size=64"]))
    assert str(e.value) == (
        "invalid training config: model.embedding_size: Input should be greater than or equal "
        "to 128"
    )
    with pytest.raises(TrainConfigError) as e:
        parse_overrides(["optimizer.lr"])
    assert str(e.value) == ("--set 'optimizer.lr': expected key.sub=value, e.g. optimizer.lr=1e-3")
    with pytest.raises(TrainConfigError, match="is not a weight source"):
        load_config(None, {"model.pretrained": "imagenet"})


def test_resolved_config_round_trips_through_yaml(tmp_path: Path) -> None:
    cfg = load_config(None, {"data.split": "/x", "augment.crop_scale": [0.5, 1.0]})
    (tmp_path / "config.yaml").write_text(config_to_yaml(cfg))
    assert load_config(tmp_path / "config.yaml") == cfg


def test_every_field_has_a_description() -> None:
    def walk(model: type) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            if not field.description:
                missing.append(f"{model.__name__}.{name}")
            sub = field.annotation
            if isinstance(sub, type) and hasattr(sub, "model_fields"):
                missing += walk(sub)
        return missing

    assert walk(TrainConfig) == []


@pytest.mark.parametrize(
    "name", ["cpu-lite0", "cattle-lite0", "reference-baseline", "reference-best"]
)
def test_example_configs_are_valid(name: str) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert cfg.data.split == Path("data/splits/open")
    assert cfg.loss.name in cfg.loss.params


def test_the_search_space_example_names_real_keys() -> None:
    doc = yaml.safe_load((CONFIGS / "search-space.yaml").read_text())
    cfg = load_config(CONFIGS / "cpu-lite0.yaml", {"search": doc["search"]})
    assert "optimizer.lr" in cfg.search.space
    tree = cfg.model_dump(mode="json")
    for key in cfg.search.space:
        node = tree
        for part in key.split("."):
            assert part in node, key
            node = node[part]
