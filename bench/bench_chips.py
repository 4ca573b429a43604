"""Decode + preprocess throughput (chips/s, one thread): the agent's per-chip CPU cost
before the model runs. Uses synthetic chips, and the real cattle chips when
../shared/datasets is present.

    .venv/bin/python bench/bench_chips.py [--count 500] [--size 224]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

from bearagent.chips import decode_chip, preprocess
from bearagent.modelcard import InputSpec
from beartrain.synthetic import SyntheticConfig, encode_jpeg, iter_population

CATTLE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cattle-faces" / "identities"


def measure(label: str, files: list[bytes], spec: InputSpec) -> None:
    start = time.perf_counter()
    images = [decode_chip(data) for data in files]
    decoded = time.perf_counter()
    for image in images:
        preprocess(image, spec)
    done = time.perf_counter()
    n = len(files)
    print(
        f"{label:<28} {n:>5} chips  decode {n / (decoded - start):8.0f}/s  "
        f"preprocess {n / (done - decoded):8.0f}/s  both {n / (done - start):8.0f}/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="chips per set")
    parser.add_argument("--size", type=int, default=224, help="network input side")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    spec = InputSpec(
        height=args.size,
        width=args.size,
        colour_order="RGB",
        resize="letterbox",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )
    synthetic = []
    for record, chip in iter_population(SyntheticConfig(individuals=40, size=128)):
        synthetic.append(encode_jpeg(chip, record.captured_at))
        if len(synthetic) == args.count:
            break
    measure("synthetic 128x128 JPEG", synthetic, spec)
    if CATTLE.is_dir():
        real = [p.read_bytes() for p in sorted(CATTLE.rglob("*.jpg"))[: args.count]]
        measure("cattle-faces (real) JPEG", real, spec)
    else:
        print(f"cattle-faces not found at {CATTLE}: real-chip figures skipped")


if __name__ == "__main__":
    main()
