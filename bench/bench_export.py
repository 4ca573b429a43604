"""bear-export on this CPU: PyTorch eager vs ONNX Runtime (FP32, FP16, INT8) for the
tf_efficientnet_lite0 embedder: latency at batch 1, images/s at batch 8 and 32 (2
threads), file sizes, parity, and the accuracy@1 each precision gives on the cattle
open-set gallery/query chips when ../shared/datasets is present.

    .venv/bin/python bench/bench_export.py [--run RUN_DIR] [--seconds 3] [--size 160]

Without --run, the embedder is the frozen ImageNet backbone (offline package weights)
with a freshly initialised linear head: the export, parity and speed figures are those
of any trained lite0 embedder; the accuracy figures compare precisions, not training.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bearagent.modelcard import InputSpec, TrainingSummary
from bearexport import onnxrun
from bearexport.inputs import list_chips, load_chip_files
from bearexport.outputs import MODEL_FILES
from bearexport.pipeline import ExportOptions, ExportResult, export_checkpoint
from beartrain.checkpoint import load_checkpoint, save_checkpoint
from beartrain.config import build_config
from beartrain.evaluation.metrics import accuracy_at_k
from beartrain.model import build_embedder, input_spec

CATTLE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cattle-faces"
THREADS = 2
Embed = Callable[[np.ndarray], np.ndarray]


def make_run(folder: Path, size: int) -> Path:
    """A checkpoint of the frozen pretrained lite0 backbone with a linear 256-d head."""
    model_cfg = {"backbone": "tf_efficientnet_lite0", "pretrained": "package"}
    cfg = build_config({"model": {**model_cfg, "input": {"height": size, "width": size}}})
    torch.manual_seed(0)
    save_checkpoint(
        folder / "best.pt",
        config=cfg,
        epoch=0,
        metrics={},
        input_spec=input_spec(cfg.model),
        decision=None,
        tracks=None,
        training=TrainingSummary(individuals=0, images=0, split_kind="open", seed=0),
        model=build_embedder(cfg.model).eval(),
        label_names=[],
    )
    return folder


def speed(embed: Embed, sample: np.ndarray, batch: int, seconds: float) -> tuple[float, float]:
    """(median latency in ms, images/s) of `embed` at `batch` over about `seconds`."""
    data = np.ascontiguousarray(np.concatenate([sample] * (batch // len(sample) + 1))[:batch])
    embed(data)
    times: list[float] = []
    while sum(times) < seconds or len(times) < 3:
        start = time.perf_counter()
        embed(data)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3, batch * len(times) / sum(times)


def runners(run: Path, out: Path, result: ExportResult) -> dict[str, Embed]:
    """PyTorch eager and one ONNX Runtime session per exported precision, all on 2 threads."""
    torch.set_num_threads(THREADS)
    model = load_checkpoint(run).build_model()

    def eager(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out: np.ndarray = model(torch.from_numpy(batch)).numpy()
        return out

    found: dict[str, Embed] = {"pytorch eager": eager}
    names = (result.card.input.name, result.card.embedding.name)
    for precision in result.parity:
        found[f"onnxruntime {precision}"] = _ort(out / MODEL_FILES[precision], names)
    return found


def _ort(model: Path, names: tuple[str, str]) -> Embed:
    sess = onnxrun.session(model, threads=THREADS)
    return lambda batch: onnxrun.run(sess, batch, *names)


def accuracy(embed: Embed, spec: InputSpec) -> float | None:
    """accuracy@1 of the cattle open-set queries against its gallery (None without data)."""
    root = CATTLE / "openset"
    if not root.is_dir():
        return None
    sets = {}
    for part in ("gallery", "query"):
        files = list_chips(root / part)
        chips = load_chip_files(files, spec, root / part)
        labels = [name.split("/")[0] for name in chips.names]
        sets[part] = (
            np.concatenate([embed(chips.inputs[i : i + 32]) for i in range(0, len(labels), 32)]),
            labels,
        )
    return accuracy_at_k(*sets["query"], *sets["gallery"], ks=(1,))[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--run", type=Path, help="bear-train run folder (default: frozen lite0)")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per figure")
    parser.add_argument("--size", type=int, default=160, help="input side without --run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; best kept")
    parser.add_argument(
        "--min-cosine-int8", type=float, default=0.0, help="refuse INT8 below (0: report only)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        run = args.run or make_run(Path(tmp) / "run", args.size)
        chips = CATTLE / "identities" if CATTLE.is_dir() else None
        out = Path(tmp) / "export"
        cosines = {"fp32": 0.9999, "fp16": 0.999, "int8": args.min_cosine_int8}
        options = ExportOptions(
            chips=chips, fp16=True, int8=True, parity_chips=64, min_cosine=cosines
        )
        start = time.perf_counter()
        result = export_checkpoint(run, out, options)
        print(
            f"export (fp32+fp16+int8, parity on {'cattle' if chips else 'synthetic'} chips): "
            f"{time.perf_counter() - start:.1f} s"
        )
        for report in result.parity.values():
            print(report.line())
        report_speed(run, out, result, args.seconds, args.rounds)


def best_speeds(
    runtimes: dict[str, Embed], sample: np.ndarray, batch: int, seconds: float, rounds: int
) -> dict[str, tuple[float, float]]:
    """Best (latency ms, images/s) of each runtime over interleaved rounds.

    The machine is shared: interleaving and keeping each runtime's best round
    compares them under the same, least disturbed, conditions.
    """
    best: dict[str, tuple[float, float]] = {}
    for _ in range(rounds):
        for label, embed in runtimes.items():
            latency, ips = speed(embed, sample, batch, seconds / rounds)
            old = best.get(label, (float("inf"), 0.0))
            best[label] = (min(old[0], latency), max(old[1], ips))
    return best


def report_speed(run: Path, out: Path, result: ExportResult, seconds: float, rounds: int) -> None:
    """Print one Markdown table row per runtime."""
    reference = np.load(out / "parity-reference.npz")["inputs"]
    runtimes = runners(run, out, result)
    figures = {b: best_speeds(runtimes, reference, b, seconds, rounds=rounds) for b in (1, 8, 32)}
    print(
        f"\n| runtime ({THREADS} threads) | size MB | batch 1 ms | b8 img/s | b32 img/s | acc@1 |"
    )
    print("|---|---|---|---|---|---|")
    for label, embed in runtimes.items():
        size = result.sizes.get(label.split()[-1])
        acc = accuracy(embed, result.card.input)
        print(
            f"| {label} | {size / 1e6 if size else float('nan'):.1f} | "
            f"{figures[1][label][0]:.1f} | {figures[8][label][1]:.1f} | "
            f"{figures[32][label][1]:.1f} | {'n/a' if acc is None else f'{acc:.3f}'} |"
        )


if __name__ == "__main__":
    main()
