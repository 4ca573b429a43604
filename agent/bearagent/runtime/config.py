"""The ``runtime`` section of the agent's configuration: which runtime runs which model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: ONNX Runtime providers tried in this order by default; unavailable ones are skipped.
DEFAULT_PROVIDERS: tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)


class RuntimeConfig(BaseModel):
    """How the agent turns chips into embeddings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["onnxruntime", "tensorrt"] = Field(
        default="onnxruntime",
        description=(
            "Inference runtime: 'onnxruntime' (CPU, CUDA or TensorRT execution providers) or "
            "'tensorrt' (an engine built on this box with `bear-export --trt`)."
        ),
    )
    model: Path = Field(
        default=Path("/var/lib/bearagent/embedder.onnx"),
        description="The exported ONNX embedder; its model card must sit inside and beside it.",
    )
    engine: Path | None = Field(
        default=None,
        description=(
            "TensorRT engine file for backend 'tensorrt'; its sidecar is the same name plus "
            "'.json'. Empty: the model path with the suffix '.engine'."
        ),
    )
    providers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROVIDERS),
        min_length=1,
        description=(
            "ONNX Runtime execution providers in order of preference; those not available "
            "here are skipped with a logged reason."
        ),
    )
    intra_op_threads: int = Field(
        default=0, ge=0, description="Threads inside one operator (0: ONNX Runtime decides)."
    )
    inter_op_threads: int = Field(
        default=1, ge=0, description="Threads running independent operators (0: decide)."
    )
    spin_wait: bool = Field(
        default=False,
        description="Let ONNX Runtime's operator threads spin between operators instead "
        "of sleeping. Faster for a model alone on the machine; beside the agent's decode, "
        "database and watcher threads on a small box it takes their cores (2 cores: about "
        "25% fewer chips/s with spinning).",
    )
    max_batch: int = Field(
        default=32, ge=1, le=4096, description="Largest batch run at once; larger ones are split."
    )
    warm_up: bool = Field(
        default=True, description="Run one dummy batch at start so the first chip is not slow."
    )
    trt_cache_dir: Path | None = Field(
        default=None,
        description=(
            "Where the TensorRT execution provider caches the engines it builds, so a restart "
            "does not rebuild them. Empty: no cache."
        ),
    )

    @field_validator("providers")
    @classmethod
    def _no_duplicates(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each provider may appear only once")
        return v

    def engine_path(self) -> Path:
        """The TensorRT engine file: `engine`, or the model path with suffix ``.engine``."""
        return self.engine if self.engine is not None else self.model.with_suffix(".engine")
