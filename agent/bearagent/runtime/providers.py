"""Choosing ONNX Runtime execution providers from a preference list, with reasons."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from bearagent.runtime.errors import RuntimeUnavailable, UnknownRuntime

log = logging.getLogger(__name__)

#: What to install to get a GPU provider that this onnxruntime build lacks.
_GPU_HINT = "install 'bearid[gpu]' (onnxruntime-gpu) instead of 'bearid[cpu]'"


@dataclass(frozen=True)
class ProviderChoice:
    """The providers to ask ONNX Runtime for, and why each other preferred one was skipped."""

    chosen: list[str]
    skipped: dict[str, str] = field(default_factory=dict)


def choose_providers(
    preferred: Sequence[str], available: Sequence[str], known: Sequence[str]
) -> ProviderChoice:
    """Keep the preferred providers that are `available`, in order; log why others are not.

    A name ONNX Runtime has never heard of is a typo in the configuration and an
    error; a real provider missing from this build is skipped with a reason.
    """
    unknown = [p for p in preferred if p not in known]
    if unknown:
        raise UnknownRuntime(
            f"unknown ONNX Runtime provider {unknown[0]!r} in runtime.providers: use names "
            f"such as {', '.join(p for p in known if p != 'AzureExecutionProvider')}"
        )
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    for name in preferred:
        if name in available:
            chosen.append(name)
            continue
        gpu = name in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
        reason = "not in this onnxruntime build" + (f"; {_GPU_HINT}" if gpu else "")
        skipped[name] = reason
        log.info("skipping ONNX Runtime provider %s: %s", name, reason)
    if not chosen:
        raise RuntimeUnavailable(
            f"none of the ONNX Runtime providers in runtime.providers "
            f"({', '.join(preferred)}) is available here (available: {', '.join(available)}): "
            "add CPUExecutionProvider to runtime.providers"
        )
    return ProviderChoice(chosen, skipped)


def report_fallbacks(requested: Sequence[str], active: Sequence[str]) -> dict[str, str]:
    """Providers that were requested but that the session did not take, with a reason.

    ONNX Runtime drops a provider whose libraries fail to load (no GPU, missing
    CUDA or TensorRT libraries) and goes on with the next; say so in the log.
    """
    dropped: dict[str, str] = {}
    for name in requested:
        if name not in active:
            reason = "could not be initialised (no usable GPU, or its CUDA/TensorRT libraries)"
            dropped[name] = reason
            log.warning("ONNX Runtime provider %s %s; using %s", name, reason, ", ".join(active))
    return dropped
