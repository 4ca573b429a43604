"""The sidecar of a TensorRT engine: what it was built for, checked before it is loaded.

A TensorRT engine only runs on the GPU model and TensorRT version it was built
with, so `bear-export --trt` builds it on the field box and writes
``<engine>.json`` beside it. The agent compares the sidecar with the box and the
configured ONNX model before deserialising anything. This module needs neither
TensorRT nor a GPU, so the checks are tested everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bearagent.modelcard import ModelCard, sha256_file
from bearagent.runtime.errors import EngineMismatch

#: The sidecar format this bearid writes and reads.
ENGINE_SIDECAR_VERSION = 1


class EngineSidecar(BaseModel):
    """What a TensorRT engine was built from and for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = Field(description="Engine sidecar format version.")
    tensorrt_version: str = Field(min_length=1, description="TensorRT version that built it.")
    gpu_name: str = Field(min_length=1, description="GPU it was built on, e.g. 'NVIDIA L4'.")
    compute_capability: str = Field(
        pattern=r"^\d+\.\d+$", description="That GPU's compute capability, e.g. '8.9'."
    )
    precision: Literal["fp32", "fp16", "int8"] = Field(description="Precision of the engine.")
    onnx_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the ONNX model it was built from."
    )
    engine_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the engine.")
    min_batch: int = Field(ge=1, description="Smallest batch of its optimisation profile.")
    opt_batch: int = Field(ge=1, description="Batch the profile is tuned for.")
    max_batch: int = Field(ge=1, description="Largest batch of its optimisation profile.")
    built_at: datetime = Field(description="When it was built (ISO 8601, with offset).")
    card: ModelCard = Field(description="The ONNX model's card, with its sha256.")


@dataclass(frozen=True)
class DeviceInfo:
    """The box an engine is about to run on."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str


def engine_sidecar_path(engine: Path) -> Path:
    """Where the sidecar of `engine` lives: the file name plus ``.json``."""
    return engine.with_name(engine.name + ".json")


def _rebuild(engine: Path) -> str:
    return f"rebuild the engine on this box with `bear-export --trt MODEL --out {engine.parent}`"


def read_engine_sidecar(engine: Path) -> EngineSidecar:
    """Read and validate the sidecar of `engine`, or say how to make a good one."""
    path = engine_sidecar_path(engine)
    if not engine.is_file():
        raise EngineMismatch(f"TensorRT engine {engine} does not exist: {_rebuild(engine)}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise EngineMismatch(
            f"TensorRT engine {engine} has no sidecar {path.name}: {_rebuild(engine)}"
        ) from e
    try:
        return EngineSidecar.model_validate_json(text)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise EngineMismatch(
            f"sidecar {path} is invalid ({where}: {first['msg']}): {_rebuild(engine)}"
        ) from e


def write_engine_sidecar(engine: Path, sidecar: EngineSidecar) -> Path:
    """Write `sidecar` beside `engine` (for `bear-export --trt`); returns its path."""
    path = engine_sidecar_path(engine)
    path.write_text(sidecar.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def check_engine(engine: Path, sidecar: EngineSidecar, device: DeviceInfo, model: Path) -> None:
    """Refuse an engine built elsewhere, damaged, or made from another ONNX model."""
    built = f"TensorRT engine {engine} was built"
    if sidecar.tensorrt_version != device.tensorrt_version:
        raise EngineMismatch(
            f"{built} with TensorRT {sidecar.tensorrt_version}, but this box has TensorRT "
            f"{device.tensorrt_version}: {_rebuild(engine)}"
        )
    if (sidecar.gpu_name, sidecar.compute_capability) != (
        device.gpu_name,
        device.compute_capability,
    ):
        raise EngineMismatch(
            f"{built} for {sidecar.gpu_name} (compute capability {sidecar.compute_capability}), "
            f"but this box has {device.gpu_name} ({device.compute_capability}): "
            f"{_rebuild(engine)}"
        )
    if sha256_file(engine) != sidecar.engine_sha256:
        raise EngineMismatch(
            f"TensorRT engine {engine} does not match the sha256 in its sidecar (replaced or "
            f"damaged): {_rebuild(engine)}"
        )
    if model.is_file() and sha256_file(model) != sidecar.onnx_sha256:
        raise EngineMismatch(
            f"{built} from another ONNX model than {model} (sha256 "
            f"{sidecar.onnx_sha256[:12]}...): {_rebuild(engine)}"
        )
