"""`bear-export verify MODEL`: does this copy of an export still compute what it should?

Runs the model with the agent's own runtime (so the card and graph are checked
as the agent checks them) on the reference chips stored at export time, and
optionally on real chips (batch 1 against whole batches), then times it. Needs
no torch: this runs on the field box.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bearagent.runtime import DEFAULT_PROVIDERS, Embedder, RuntimeConfig, open_embedder
from bearexport.inputs import chip_batch
from bearexport.outputs import precision_of
from bearexport.parity import MIN_COSINE, REFERENCE_FILE, ParityReport, compare, read_reference

#: What to do when a model no longer matches its export's reference.
VERIFY_ADVICE = (
    "This copy does not compute what was exported: copy the model, its card and "
    f"{REFERENCE_FILE} again from the same bear-export output."
)
#: What to do when a model gives other rows at batch 1 than in a whole batch.
BATCH_ADVICE = "The model mixes the rows of a batch: export it again with bear-export."


@dataclass(frozen=True)
class VerifyReport:
    """Parity and throughput of one model on this box."""

    model: Path
    runtime: str
    parity: ParityReport
    batch_consistency: ParityReport | None
    throughput: dict[int, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every parity check passed."""
        checks = [self.parity, self.batch_consistency]
        return all(c.passed for c in checks if c is not None)

    def lines(self) -> list[str]:
        """The report for the terminal."""
        out = [f"model {self.model} on {self.runtime}", self.parity.line()]
        if self.batch_consistency is not None:
            out.append(self.batch_consistency.line())
        out += [f"throughput batch {b}: {ips:.1f} images/s" for b, ips in self.throughput.items()]
        return out


def images_per_second(embedder: Embedder, sample: np.ndarray, batch: int, seconds: float) -> float:
    """Images per second at `batch` for about `seconds`, after one warm-up batch."""
    data = np.ascontiguousarray(np.concatenate([sample] * (batch // len(sample) + 1))[:batch])
    embedder.embed(data)
    runs, start = 0, time.perf_counter()
    while True:
        embedder.embed(data)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and runs >= 2:
            return runs * batch / elapsed


def _consistency(embedder: Embedder, chips: np.ndarray) -> ParityReport:
    """Real chips one at a time against all in one batch: the same rows either way."""
    whole = embedder.embed(chips)
    single = np.concatenate([embedder.embed(chips[i : i + 1]) for i in range(len(chips))])
    return compare(whole, single, "batch 1 vs whole batch", MIN_COSINE["fp32"])


def verify_model(
    model: Path,
    chips: Path | None = None,
    *,
    chip_count: int = 32,
    batches: tuple[int, ...] = (1, 8, 32),
    seconds: float = 2.0,
    threads: int = 0,
    providers: tuple[str, ...] = DEFAULT_PROVIDERS,
) -> VerifyReport:
    """Check `model` against its stored reference (and real chips), and time it."""
    config = RuntimeConfig(
        model=model,
        providers=list(providers),
        intra_op_threads=threads,
        max_batch=max(batches),
        warm_up=False,
    )
    reference = read_reference(model.parent / REFERENCE_FILE)
    with open_embedder(config) as embedder:
        precision, required = precision_of(model)
        got = embedder.embed(reference.inputs)
        parity = compare(reference.embeddings, got, f"{precision} vs export reference", required)
        sample, consistency = reference.inputs, None
        if chips is not None:
            sample = chip_batch(chips, embedder.card.input, chip_count).inputs
            consistency = _consistency(embedder, sample)
        speed = {b: images_per_second(embedder, sample, b, seconds) for b in batches}
        return VerifyReport(model, embedder.name, parity, consistency, speed)
