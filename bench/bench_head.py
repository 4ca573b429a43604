"""What training the head buys over the frozen + LDA start, on cached backbone features (issue 23).

A CPU cannot afford a grid of fine-tunings of the whole network, but it can train
the embedding head on the frozen backbone's features in seconds. For each split
(NAME=SPLIT_DIR) and the model section of a config (default cpu-lite0.yaml), the
pretrained backbone embeds train/val/test once (cached), then:

- ``LDA start``: the head fitted by LDA (what ``head_init: lda`` gives, epoch 0);
- each head recipe (``--recipe NAME:loss=arcface,margin=28.6,scale=64,lr=1e-3,epochs=20``):
  the head from LDA trained with that pytorch-metric-learning loss, evaluated on
  val after every epoch; the epoch kept is the best on val (epoch 0 competing, as
  bear-train does); with ``negatives=0.2``, that share of the train individuals
  becomes held-out negatives: their chips are pushed below a cosine margin to
  every class centre instead of being classes (open-set training).

Printed per split: acc@1 per chip / per encounter and the encounter AUROC (best
score) on val and test at epoch 0 and at the kept epoch, the learning curve
(val acc@1 per epoch) and seconds per epoch. No image augmentation (features are
cached): a proxy to choose what the full fine-tuning then confirms.

    .venv/bin/python bench/bench_head.py --split cattle=SPLIT [--split chimp=SPLIT]
        [--config train/configs/cpu-lite0.yaml] [--recipe ...] [--cache /tmp/bench-head]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from pytorch_metric_learning import losses
from torch import nn

from beartrain.config import build_config
from beartrain.data.splitfile import Split, read_split
from beartrain.evaluation import EmbeddedSet
from beartrain.evaluation.protocol import evaluate_subset
from beartrain.model import build_embedder, input_spec
from beartrain.model.head_init import fit_lda
from beartrain.training.data import ChipDataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RECIPES = (
    "arcface:loss=arcface,margin=28.6,scale=64,lr=1e-3,epochs=15",
    "arcface-low-lr:loss=arcface,margin=28.6,scale=64,lr=1e-4,epochs=15",
    "arcface-soft:loss=arcface,margin=10,scale=30,lr=1e-3,epochs=15",
    "arcface+negatives:loss=arcface,margin=28.6,scale=64,lr=1e-3,epochs=15,negatives=0.2",
)


@dataclass(frozen=True)
class Features:
    """Backbone features of a subset with its labels, encounters and known flags."""

    x: np.ndarray
    labels: list[str]
    encounters: list[str]
    known: np.ndarray


def backbone_features(split: Split, config: Path, subset: str, cache: Path) -> Features:
    """The frozen pretrained backbone's pooled features of `subset` (cached)."""
    key = hashlib.sha256(f"{split.root}:{config.read_text()}:{subset}:{len(split.train)}"
                         .encode()).hexdigest()[:16]  # fmt: skip
    path = cache / f"{subset}-{key}.npz"
    rows = split.subset(subset)
    if not path.is_file():
        cfg = build_config(yaml.safe_load(config.read_text()), {"data.split": "."})
        torch.manual_seed(0)
        model = build_embedder(cfg.model).eval()
        data = ChipDataset(split.root, rows, input_spec(cfg.model), label_index={})
        loader = torch.utils.data.DataLoader(data, batch_size=64)
        with torch.no_grad():
            x = torch.cat([model.features(images) for images, _ in loader]).numpy()
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=x)
    x = np.load(path)["x"]
    return Features(x, [r.individual for r in rows], [r.encounter for r in rows],
                    np.array([r.known for r in rows]))  # fmt: skip


def embedded(f: Features, weight: torch.Tensor, bias: torch.Tensor) -> EmbeddedSet:
    z = nn.functional.normalize(torch.from_numpy(f.x).float() @ weight.T + bias, dim=1)
    return EmbeddedSet(z.detach().numpy().astype(np.float32), f.labels, f.encounters, f.known)


def figures(kind: str, train: Features, sub: Features, head: nn.Linear) -> dict[str, float]:
    m = evaluate_subset(kind, embedded(train, head.weight, head.bias),
                        embedded(sub, head.weight, head.bias), (1,), "s").metrics  # fmt: skip
    return {"chip": m["s_chip_acc1"], "enc": m["s_enc_acc1"], "auroc": m["s_enc_auroc"]}


def parse(recipe: str) -> tuple[str, dict[str, str]]:
    name, _, spec = recipe.partition(":")
    return name, dict(item.split("=", 1) for item in spec.split(",") if item)


def train_head(
    kind: str, feats: dict[str, Features], recipe: dict[str, str], dim: int, seed: int = 0
) -> tuple[list[dict[str, float]], int, dict[str, float], float]:
    """Per-epoch val figures, the epoch kept, its test figures, and seconds per epoch."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = feats["train"]
    names = sorted(set(train.labels))
    share = float(recipe.get("negatives", 0))
    negatives = set(rng.choice(names, round(share * len(names)), replace=False).tolist())
    classes = [n for n in names if n not in negatives]
    index = {n: i for i, n in enumerate(classes)}
    y = np.array([index.get(label, -1) for label in train.labels])
    weight, bias = fit_lda(train.x[y >= 0], y[y >= 0].tolist(), dim)
    head = nn.Linear(train.x.shape[1], dim)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight))
        head.bias.copy_(torch.from_numpy(bias))
    loss = losses.ArcFaceLoss(len(classes), dim, margin=float(recipe.get("margin", 28.6)),
                              scale=float(recipe.get("scale", 64)))  # fmt: skip
    x = torch.from_numpy(train.x).float()
    with torch.no_grad():  # ArcFace's class centres at the classes' LDA means, as bear-train does
        emb = nn.functional.normalize(head(x[y >= 0]), dim=1)
        centres = torch.zeros(len(classes), dim).index_add_(0, torch.from_numpy(y[y >= 0]), emb)
        loss.W.copy_(nn.functional.normalize(centres, dim=1).T)
    lr = float(recipe.get("lr", 1e-3))
    groups = [
        {"params": list(head.parameters()), "lr": lr},
        {"params": list(loss.parameters()), "lr": 10 * lr},
    ]
    opt = torch.optim.AdamW(groups, weight_decay=1e-4)
    curve = [figures(kind, train, feats["val"], head)]
    best, best_state = 0, {k: v.clone() for k, v in head.state_dict().items()}
    seconds = []
    for epoch in range(1, int(recipe.get("epochs", 15)) + 1):
        started = time.perf_counter()
        order = rng.permutation(len(x))
        for lo in range(0, len(order), 32):
            b = torch.from_numpy(order[lo : lo + 32])
            yb = torch.from_numpy(y[b.numpy()])
            emb = nn.functional.normalize(head(x[b]), dim=1)
            known = yb >= 0
            value = loss(emb[known], yb[known]) if known.any() else emb.sum() * 0
            if (~known).any():  # held-out negatives: below the margin to every class centre
                cos = emb[~known] @ nn.functional.normalize(loss.W, dim=0)
                value = value + 10 * torch.relu(cos.max(dim=1).values - 0.3).pow(2).mean()
            opt.zero_grad()
            value.backward()
            opt.step()
        seconds.append(time.perf_counter() - started)
        curve.append(figures(kind, train, feats["val"], head))
        if curve[-1]["chip"] > curve[best]["chip"]:
            best, best_state = epoch, {k: v.clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best_state)
    return curve, best, figures(kind, train, feats["test"], head), float(np.mean(seconds))


def bench(name: str, split_dir: Path, config: Path, recipes: list[str], cache: Path) -> None:
    split = read_split(split_dir)
    feats = {s: backbone_features(split, config, s, cache / name) for s in ("train", "val", "test")}
    cfg = build_config(yaml.safe_load(config.read_text()), {"data.split": "."})
    dim = cfg.model.embedding_size
    grouping = split.summary.get("data", {}).get("grouping", "-")
    print(
        f"\n{name}: {split.kind} split (seed {split.seed}), {len(split.train)} train chips; "
        f"backbone {cfg.model.backbone} {cfg.model.input.height}x{cfg.model.input.width}, "
        f"{dim}-d head; leak rule: {grouping}"
    )
    print("  recipe                   | val chip/enc/AUROC at epoch 0 -> kept | test chip/enc/AUROC"
          " at epoch 0 -> kept | kept epoch | s/epoch | val acc@1 per epoch")  # fmt: skip
    for recipe in recipes:
        label, spec = parse(recipe)
        curve, kept, test, seconds = train_head(split.kind, feats, spec, dim)
        start_spec = {**spec, "epochs": "0"}
        _, _, test0, _ = train_head(split.kind, feats, start_spec, dim)

        def f(d: dict[str, float]) -> str:
            return f"{d['chip']:.3f}/{d['enc']:.3f}/{d['auroc']:.3f}"

        print(f"  {label:24s} | {f(curve[0])} -> {f(curve[kept])} | {f(test0)} -> {f(test)} | "
              f"{kept:10d} | {seconds:7.2f} | "
              + " ".join(f"{c['chip']:.3f}" for c in curve))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", action="append", required=True, metavar="NAME=SPLIT_DIR")
    parser.add_argument("--config", type=Path, default=REPO / "train/configs/cpu-lite0.yaml")
    parser.add_argument("--recipe", action="append", default=None)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bench-head"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    torch.set_num_threads(2)
    for item in args.split:
        name, _, folder = item.partition("=")
        bench(name, Path(folder), args.config, list(args.recipe or DEFAULT_RECIPES), args.cache)


if __name__ == "__main__":
    main()
