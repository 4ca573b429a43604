"""Reading a foreign ONNX graph for `bear-export adopt`: its image input, its outputs, its
batch dimension, and a single-file copy of it.

No torch: this runs wherever ONNX Runtime does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, external_data_helper

from bearexport.errors import NotAnEmbedder
from bearexport.onnxrun import BATCH_AXIS

#: Largest model kept in one file (protobuf's limit).
MAX_SINGLE_FILE = (2 << 30) - 1
#: A dimension: its fixed size, its symbolic name, or None when the graph does not say.
Dim = int | str | None


@dataclass(frozen=True)
class Tensor:
    """A graph input or output: its name, element type and dimensions."""

    name: str
    elem_type: int
    dims: tuple[Dim, ...] | None  # None: the graph gives no shape

    def describe(self) -> str:
        """``name (N, 3, 224, 224)`` with ``?`` for unknown dimensions."""
        if self.dims is None:
            return f"{self.name!r} (shape not given)"
        shown = ", ".join("?" if d is None else str(d) for d in self.dims)
        return f"{self.name!r} ({shown})"


def _dims(value: onnx.ValueInfoProto) -> tuple[Dim, ...] | None:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    out: list[Dim] = []
    for d in tensor.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append(None)
    return tuple(out)


def _tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of the graph and its subgraphs: initializers and attribute values."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for sub in [*([attribute.g] if attribute.HasField("g") else []), *attribute.graphs]:
                yield from _tensors(sub)


def load_single_file(path: Path) -> onnx.ModelProto:
    """The model with any external weights (e.g. MiewID's ``.data`` file) read in."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError as e:
        raise NotAnEmbedder(f"{path} does not exist") from e
    except Exception as e:  # onnx raises DecodeError and others for a non-ONNX file
        raise NotAnEmbedder(f"{path} is not an ONNX model ({type(e).__name__})") from e
    for tensor in _tensors(model.graph):
        if not external_data_helper.uses_external_data(tensor):
            continue
        info = external_data_helper.ExternalDataInfo(tensor)
        if not (path.parent / info.location).is_file():
            raise NotAnEmbedder(
                f"{path} keeps its weights in {info.location}, which is not beside it: copy "
                "that file into the same folder"
            )
    external_data_helper.load_external_data_for_model(model, str(path.parent))
    if model.ByteSize() > MAX_SINGLE_FILE:
        raise NotAnEmbedder(
            f"{path} holds {model.ByteSize() / 2**30:.1f} GiB of weights: bearid keeps a model "
            "and its card in one file, which ONNX limits to 2 GiB"
        )
    return model


def image_input(model: onnx.ModelProto, source: Path) -> Tensor:
    """The graph's one image input (N, 3, H, W) float32, or `NotAnEmbedder` saying why not."""
    weights = {t.name for t in model.graph.initializer}
    inputs = [
        Tensor(v.name, v.type.tensor_type.elem_type, _dims(v))
        for v in model.graph.input
        if v.name not in weights
    ]
    if len(inputs) != 1:
        names = ", ".join(t.describe() for t in inputs) or "none"
        raise NotAnEmbedder(
            f"{source} has {len(inputs)} inputs ({names}): an embedder takes one input, a "
            "batch of images (N, 3, H, W)"
        )
    (tensor,) = inputs
    if tensor.elem_type != TensorProto.FLOAT:
        kind = TensorProto.DataType.Name(tensor.elem_type).lower()
        raise NotAnEmbedder(
            f"{source} takes {kind} input {tensor.describe()}: bearid feeds float32 images "
            "normalised by mean and std"
        )
    dims = tensor.dims
    if dims is None or len(dims) != 4:
        raise NotAnEmbedder(
            f"{source} takes input {tensor.describe()}: an embedder takes images (N, 3, H, W)"
        )
    if dims[1] not in (3, None) and not isinstance(dims[1], str):
        layout = " (channels last)" if dims[3] == 3 else ""
        raise NotAnEmbedder(
            f"{source} takes input {tensor.describe()}{layout}: bearid feeds colour images "
            "channels first, (N, 3, H, W)"
        )
    return tensor


def outputs(model: onnx.ModelProto) -> list[Tensor]:
    """The graph's outputs."""
    return [Tensor(v.name, v.type.tensor_type.elem_type, _dims(v)) for v in model.graph.output]


def fixed_side(tensor: Tensor, axis: int) -> int | None:
    """The fixed size of `tensor` on `axis`, or None when it is symbolic or unknown."""
    dim = tensor.dims[axis] if tensor.dims is not None else None
    return dim if isinstance(dim, int) and dim > 0 else None


def with_symbolic_batch(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose input and outputs have the symbolic batch axis, without stale shapes.

    Works when the batch size is only declared; a graph that computes with it
    (a Reshape to ``[1, -1]``, say) still fails at other sizes: the caller checks.
    """
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    weights = {t.name for t in copy.graph.initializer}
    for value in [*copy.graph.input, *copy.graph.output]:
        if value.name in weights or not value.type.tensor_type.HasField("shape"):
            continue
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = BATCH_AXIS
    del copy.graph.value_info[:]  # intermediate shapes inferred for the fixed batch
    return copy
