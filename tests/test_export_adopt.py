"""bear-export adopt: a foreign ONNX embedder (no card, its own names, BGR, letterbox, a
fixed batch, external weights) wrapped as a bearid model; the refusals word for word;
and, end to end, the adopted model in `bearagent identify` and `bearagent run` with
thresholds calibrated on the box's gallery."""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner, Result
from onnx import TensorProto, helper, numpy_helper

from bearagent.chips import preprocess_batch
from bearagent.modelcard import (
    ColourOrder,
    InputSpec,
    Interpolation,
    ResizeRule,
    load_model_card,
    sidecar_path,
)
from bearagent.runtime import RuntimeConfig, open_embedder
from bearexport.adopt import AdoptOptions, adopt_model
from bearexport.cli import main
from bearexport.input_options import Preprocessing, input_spec
from bearexport.outputs import PARITY_FILE
from bearexport.parity import REFERENCE_FILE
from beartrain.synthetic import ChipRecord, SyntheticConfig, encode_jpeg, iter_population
from support.agent_world import encounters_of

SIZE, CROP, POOL = 32, (8, 24), 1
DIM = 3 * ((CROP[1] - CROP[0]) // POOL) ** 2
#: A foreign model weighs its channels differently, so colour order matters.
CHANNEL_WEIGHTS = (1.0, 0.5, 0.25)
STATED = ["--mean", "0.40,0.45,0.50", "--std", "0.20,0.25,0.30"]
CPU = ["CPUExecutionProvider"]


def save(graph: onnx.GraphProto, path: Path, *, external: bool = False) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="someone-else", producer_version="9.9")  # fmt: skip
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    if external:  # the weights in a .data file beside it, as MiewID's export ships
        onnx.save(model, str(path), save_as_external_data=True, location=f"{path.name}.data")
    else:
        onnx.save(model, str(path))
    return path


def const(name: str, values: list[int] | np.ndarray) -> onnx.TensorProto:
    array = np.asarray(values, np.int64 if isinstance(values, list) else np.float32)
    return numpy_helper.from_array(array, name=name)


def stated_spec() -> InputSpec:
    """The preprocessing the tests state for the foreign model (BGR, letterbox)."""
    return input_spec((SIZE, SIZE), (0.40, 0.45, 0.50), (0.20, 0.25, 0.30),
                      colour=ColourOrder.BGR, resize=ResizeRule.LETTERBOX,
                      interpolation=Interpolation.LINEAR)  # fmt: skip


def pooled_face(batch: np.ndarray) -> np.ndarray:
    """The foreign model's features before centring, in numpy: the face's pooled pixels."""
    k = (CROP[1] - CROP[0]) // POOL
    face = batch[:, :, CROP[0] : CROP[1], CROP[0] : CROP[1]].reshape(
        len(batch), 3, k, POOL, k, POOL
    )
    weighted = face.mean(axis=(3, 5)) * np.asarray(CHANNEL_WEIGHTS, np.float32)[None, :, None, None]
    return np.asarray(weighted.reshape(len(batch), -1), np.float32)


@functools.cache
def mean_face() -> np.ndarray:
    """The foreign model's centre: the mean pooled face of a population of its own (as a
    model learns its data's mean), so that embeddings of different bears point apart."""
    cfg = SyntheticConfig(individuals=40, min_encounters=1, max_encounters=2, nuisance=0.3,
                          size=64, seed=99)  # fmt: skip
    chips = [chip for _, chip in iter_population(cfg)]
    return np.asarray(pooled_face(preprocess_batch(chips, stated_spec())).mean(axis=0), np.float32)


def foreign_embedder(path: Path, *, batch: int | str = "n", external: bool = False) -> Path:
    """Centred, channel-weighted pooled pixels of the face (not unit length): on synthetic
    chips it tells individuals apart, and it needs no training."""
    nodes = [
        helper.make_node("Slice", ["images", "starts", "ends", "axes"], ["face"]),
        helper.make_node(
            "AveragePool", ["face"], ["pooled"], kernel_shape=[POOL, POOL], strides=[POOL, POOL]
        ),
        helper.make_node("Mul", ["pooled", "channel_weights"], ["weighted"]),
        helper.make_node("Flatten", ["weighted"], ["flat"], axis=1),
        helper.make_node("Sub", ["flat", "mean_face"], ["centred"]),
        helper.make_node("MatMul", ["centred", "projection"], ["features"]),
    ]
    graph = helper.make_graph(
        nodes,
        "foreign_pixels",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, DIM])],
        initializer=[
            const("starts", [CROP[0], CROP[0]]), const("ends", [CROP[1], CROP[1]]),
            const("axes", [2, 3]), const("projection", 7 * np.eye(DIM, dtype=np.float32)),
            const("channel_weights", np.array(CHANNEL_WEIGHTS, np.float32).reshape(1, 3, 1, 1)),
            const("mean_face", mean_face()[None, :]),
        ],
    )  # fmt: skip
    return save(graph, path, external=external)


def pooled_graph(path: Path, *, batch: int | str, flatten: str = "Flatten",
                 input_shape: list[int | str] | None = None) -> Path:  # fmt: skip
    """Global average pool -> linear: with ``flatten='Reshape'`` the fixed batch is baked in."""
    if flatten == "Flatten":
        to_flat = helper.make_node("Flatten", ["pooled"], ["flat"], axis=1)
    else:
        to_flat = helper.make_node("Reshape", ["pooled", "rows"], ["flat"], name="flatten")
    weight = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    rows = batch if isinstance(batch, int) else 1
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["x"], ["pooled"]), to_flat,
         helper.make_node("MatMul", ["flat", "w"], ["emb"], name="head")],
        "pooled",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape or [batch, 3, 16, 16])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, [batch, 8])],
        initializer=[const("w", weight), const("rows", [rows, -1])],
    )  # fmt: skip
    return save(graph, path)


def adopt(*args: str) -> Result:
    return CliRunner().invoke(main, ["adopt", *args])


def test_adopt_reads_names_and_sizes_from_the_graph_and_states_bgr_letterbox(
    tmp_path: Path,
) -> None:
    model = foreign_embedder(tmp_path / "src" / "foreign.onnx", external=True)
    out = tmp_path / "out"
    result = adopt(str(model), "--out", str(out), *STATED, "--colour", "bgr", "--resize",
                   "letterbox", "--seconds", "0.05", "--name", "foreign-v1")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("parity fp32 adopted vs original: 16 chips, max |diff| ")
    assert lines[0].endswith(", required >= 0.9999) ok")
    assert lines[1] == "batch: any size; batch 1 and 8 give the same embeddings"
    assert lines[2].startswith("speed: batch 1: ") and " ms/chip (" in lines[2]
    assert lines[3].startswith("speed: batch 8: ")
    card = load_model_card(out / "embedder.onnx")
    spec = card.input
    assert (spec.name, spec.height, spec.width) == ("images", SIZE, SIZE)
    assert (spec.colour_order, spec.resize, spec.interpolation) == ("BGR", "letterbox", "linear")
    assert spec.mean == (0.50, 0.45, 0.40) and spec.std == (0.30, 0.25, 0.20)  # B, G, R
    assert (card.embedding.name, card.embedding.size, card.embedding.l2_normalised) == (
        "features", DIM, False,
    )  # fmt: skip
    assert (card.decision.method, card.decision.known_threshold) == ("uncalibrated", None)
    assert card.tracks is None and card.training is None
    assert (card.model.name, card.model.backbone) == ("foreign-v1", "foreign_pixels")
    assert card.model.source is not None and card.model.source.startswith(
        "adopted ONNX foreign.onnx (sha256 "
    )
    assert card.model.source.endswith(", someone-else 9.9)")
    assert lines[4] == (
        f"model card (format 2): foreign-v1, 32x32 BGR, embedding {DIM}, decision best: no "
        "thresholds (uncalibrated; the box calibrates them), no tracks, sha256 "
        f"{card.model.sha256}"
    )
    names = {p.name for p in out.iterdir()}
    assert names == {"embedder.onnx", "embedder.onnx.json", PARITY_FILE, REFERENCE_FILE,
                     "speed.json"}  # fmt: skip
    speed = json.loads((out / "speed.json").read_text())
    assert set(speed["ms_per_chip"]) == {"1", "8"} and min(speed["ms_per_chip"].values()) > 0
    assert speed["batch"] == {"declared": None, "max_batch": None, "note": lines[1]}
    (tmp_path / "src" / "foreign.onnx.data").unlink()  # the adopted copy holds its weights
    verified = CliRunner().invoke(main, ["verify", str(out / "embedder.onnx"), "--seconds", "0",
                                         "--batch", "2", "--provider", CPU[0]])  # fmt: skip
    assert verified.exit_code == 0, verified.output
    assert "parity fp32 vs export reference: 8 chips" in verified.output


def letterboxed_bgr(image: np.ndarray, mean_bgr: np.ndarray, std_bgr: np.ndarray) -> np.ndarray:
    """The stated preprocessing written out by hand: keep the aspect, pad with the mean,
    BGR as decoded, (x / 255 - mean) / std."""
    h, w = image.shape[:2]
    scale = min(SIZE / h, SIZE / w)
    new_h, new_w = round(h * scale), round(w * scale)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((3, SIZE, SIZE), np.float32)
    top, left = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    normalised = (resized.astype(np.float32) / 255.0 - mean_bgr) / std_bgr
    out[:, top : top + new_h, left : left + new_w] = normalised.transpose(2, 0, 1)
    return out


def test_the_card_runs_the_foreign_model_on_the_preprocessing_the_user_stated(
    tmp_path: Path,
) -> None:
    model = foreign_embedder(tmp_path / "foreign.onnx")
    options = AdoptOptions(
        Preprocessing.parse(size="32x32", mean="0.40,0.45,0.50", std="0.20,0.25,0.30",
                            colour="bgr", resize="letterbox"), seconds=0.0)  # fmt: skip
    result = adopt_model(model, tmp_path / "out", options)
    rng = np.random.default_rng(7)
    chip = cv2.GaussianBlur(rng.integers(0, 256, (48, 80, 3), dtype=np.uint8), (5, 5), 0)
    by_hand = letterboxed_bgr(
        chip, np.array([0.5, 0.45, 0.4], np.float32), np.array([0.3, 0.25, 0.2], np.float32)
    )
    raw = ort.InferenceSession(str(model)).run(["features"], {"images": by_hand[None]})[0]
    expected = raw / np.linalg.norm(raw)
    adopted = tmp_path / "out" / "embedder.onnx"
    with open_embedder(RuntimeConfig(model=adopted, providers=CPU)) as embedder:
        got = embedder.embed(preprocess_batch([chip], embedder.card.input))
        rgb = result.card.input.model_copy(update={"colour_order": ColourOrder.RGB})
        swapped = embedder.embed(preprocess_batch([chip], rgb))
    assert np.abs(got - expected).max() < 1e-5
    assert float(swapped[0] @ expected[0]) < 0.99  # the colour order is not a detail


def test_adopt_needs_no_torch(tmp_path: Path) -> None:
    model = foreign_embedder(tmp_path / "foreign.onnx")
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from bearexport.cli import main\n"
        f"r = CliRunner().invoke(main, ['adopt', {str(model)!r}, '--out', "
        f"{str(tmp_path / 'out')!r}, '--mean', '0.5,0.5,0.5', '--std', '0.5,0.5,0.5', "
        "'--seconds', '0'])\n"
        "print(r.exit_code, 'torch' in sys.modules, 'timm' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    assert done.stdout == "0 False False\n"


def batch_dim(path: Path) -> int | str:
    dim = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    return str(dim.dim_param) if dim.dim_param else int(dim.dim_value)


def adopt_pooled(tmp_path: Path, source: Path) -> tuple[Path, str]:
    out = tmp_path / "out"
    result = adopt(str(source), "--out", str(out), *STATED, "--seconds", "0")
    assert result.exit_code == 0, result.output
    return out / "embedder.onnx", result.output.splitlines()[1]


def test_a_batch_fixed_only_in_the_declaration_is_made_symbolic(tmp_path: Path) -> None:
    adopted, note = adopt_pooled(tmp_path, pooled_graph(tmp_path / "one.onnx", batch=1))
    assert note == (
        "batch: fixed at 1 in the graph; bear-export made it symbolic, and batch 1 and 8 give "
        "the original's embeddings: the agent runs its usual batches"
    )
    assert batch_dim(adopted) == "batch"
    with open_embedder(RuntimeConfig(model=adopted, providers=CPU, max_batch=8)) as embedder:
        assert embedder.embed(np.ones((8, 3, 16, 16), np.float32)).shape == (8, 8)


def test_a_graph_that_computes_with_batch_1_stays_at_1_and_says_what_the_agent_needs(
    tmp_path: Path,
) -> None:
    source = pooled_graph(tmp_path / "one.onnx", batch=1, flatten="Reshape")
    adopted, note = adopt_pooled(tmp_path, source)
    assert note == (
        "batch: fixed at 1, and the graph fails at other sizes (its MatMul node 'head' "
        "fails). Set runtime.max_batch = 1 in the agent's configuration (it then embeds one "
        "chip per call, slower), or export the model again with a dynamic batch axis"
    )
    assert batch_dim(adopted) == 1
    speed = json.loads((adopted.parent / "speed.json").read_text())
    assert speed["one_chip_per_call"] is True and speed["batch"]["max_batch"] == 1
    with open_embedder(RuntimeConfig(model=adopted, providers=CPU, max_batch=1)) as embedder:
        assert embedder.embed(np.ones((3, 3, 16, 16), np.float32)).shape == (3, 8)


@pytest.mark.slow
def test_a_random_timm_model_exported_by_torch_at_batch_1_is_adopted(tmp_path: Path) -> None:
    """A foreign export as people make them: torch.onnx at batch 1, weights in a .data file."""
    import timm
    import torch

    torch.manual_seed(0)
    net = timm.create_model("test_efficientnet", num_classes=0).eval()
    source = tmp_path / "src" / "net.onnx"
    source.parent.mkdir()
    torch.onnx.export(net, (torch.randn(1, 3, 64, 64),), str(source), input_names=["pixels"],
                      output_names=["embeds"], dynamo=True, external_data=True)  # fmt: skip
    assert (source.parent / "net.onnx.data").exists()
    result = adopt(str(source), "--out", str(tmp_path / "out"), "--mean", "0.485,0.456,0.406",
                   "--std", "0.229,0.224,0.225", "--seconds", "0")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert " ok\n" in result.output
    card = load_model_card(tmp_path / "out" / "embedder.onnx")
    assert (card.input.name, card.embedding.name, card.embedding.size) == ("pixels", "embeds", 256)
    assert (card.input.height, card.input.width) == (64, 64)  # from the graph


def graph_with(path: Path, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
               nodes: list[onnx.NodeProto]) -> Path:  # fmt: skip
    return save(helper.make_graph(nodes, "g", inputs, outputs), path)


def images(name: str = "x", shape: list[int | str] | None = None, elem: int = TensorProto.FLOAT,
           ) -> onnx.ValueInfoProto:  # fmt: skip
    return helper.make_tensor_value_info(name, elem, shape or ["n", 3, 32, 32])


def bad_graphs(folder: Path) -> dict[str, Path]:
    """Graphs that are not embedders, each for its own reason."""
    pool = helper.make_node("AveragePool", ["x"], ["fmap"], kernel_shape=[2, 2], strides=[2, 2])
    gap = [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
           helper.make_node("Flatten", ["p"], ["f"], axis=1)]  # fmt: skip
    out = helper.make_tensor_value_info
    return {
        "feature-map": graph_with(folder / "fmap.onnx", [images()],
                                  [out("fmap", TensorProto.FLOAT, ["n", 3, 16, 16])], [pool]),
        "two-inputs": graph_with(folder / "two.onnx", [images(), images("mask")],
                                 [out("y", TensorProto.FLOAT, ["n", 3, 32, 32])],
                                 [helper.make_node("Mul", ["x", "mask"], ["y"])]),
        "channels-last": graph_with(folder / "nhwc.onnx", [images(shape=["n", 32, 32, 3])],
                                    [out("y", TensorProto.FLOAT, ["n", 32, 32, 3])],
                                    [helper.make_node("Identity", ["x"], ["y"])]),
        "uint8": graph_with(folder / "u8.onnx", [images(elem=TensorProto.UINT8)],
                            [out("y", TensorProto.FLOAT, ["n", 3, 32, 32])],
                            [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)]),
        "classifier": graph_with(folder / "cls.onnx", [images()],
                                 [out("probs", TensorProto.FLOAT, ["n", 3])],
                                 [*gap, helper.make_node("Softmax", ["f"], ["probs"], axis=1)]),
        "two-embeddings": graph_with(folder / "twoemb.onnx", [images()],
                                     [out("f", TensorProto.FLOAT, ["n", 3]),
                                      out("g", TensorProto.FLOAT, ["n", 3])],
                                     [*gap, helper.make_node("Neg", ["f"], ["g"])]),
        "any-size": graph_with(folder / "any.onnx", [images(shape=["n", 3, "h", "w"])],
                               [out("f", TensorProto.FLOAT, ["n", 3])], gap),
        "batch-4": pooled_graph(folder / "four.onnx", batch=4, flatten="Reshape",
                                input_shape=[4, 3, 16, 16]),
    }  # fmt: skip


REFUSALS = {
    "feature-map": ("{m} is not an embedder: for 1 image(s) it gives 'fmap' (1, 3, 16, 16), and "
                    "bear-export adopt needs an output of shape (N, E), one embedding per image"),
    "two-inputs": ("{m} has 2 inputs ('x' (n, 3, 32, 32), 'mask' (n, 3, 32, 32)): an embedder "
                   "takes one input, a batch of images (N, 3, H, W)"),
    "channels-last": ("{m} takes input 'x' (n, 32, 32, 3) (channels last): bearid feeds colour "
                      "images channels first, (N, 3, H, W)"),
    "uint8": ("{m} takes uint8 input 'x' (n, 3, 32, 32): bearid feeds float32 images normalised "
              "by mean and std"),
    "classifier": ("output 'probs' of {m} looks like class probabilities (each row sums to 1): "
                   "adopt the graph's features, not its classifier"),
    "two-embeddings": ("{m} has several outputs of shape (N, E) ('f', 'g'): choose the embedding "
                       "with --output NAME"),
    "any-size": ("{m} takes images of any size: give the size it was trained at with --input "
                 "HEIGHTxWIDTH"),
    "batch-4": ("{m} takes batches of exactly 4 and fails at other sizes (its Reshape node "
                "'flatten' fails): the agent embeds batches of 1 up to runtime.max_batch chips; "
                "export it again with a dynamic batch axis (or with batch 1)"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_graphs_that_are_not_embedders_are_refused_in_so_many_words(
    tmp_path: Path, kind: str
) -> None:
    model = bad_graphs(tmp_path)[kind]
    size = ["--input", "16x16"] if kind == "batch-4" else []
    result = adopt(str(model), "--out", str(tmp_path / "out"), *STATED, *size, "--seconds", "0")
    assert (result.exit_code, result.output) == (1, f"Error: {REFUSALS[kind].format(m=model)}\n")
    assert not (tmp_path / "out" / "embedder.onnx").exists()


def test_output_chooses_among_several_embeddings(tmp_path: Path) -> None:
    model = bad_graphs(tmp_path)["two-embeddings"]
    result = adopt(str(model), "--out", str(tmp_path / "out"), *STATED, "--output", "g",
                   "--seconds", "0")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert load_model_card(tmp_path / "out" / "embedder.onnx").embedding.name == "g"
    unknown = adopt(str(model), "--out", str(tmp_path / "o2"), *STATED, "--output", "h")
    assert unknown.output == f"Error: --output 'h': {model} has outputs 'f', 'g'\n"


OPTION_REFUSALS = [
    (["--input", "64x64"], "--input 64x64 does not fit {m}: its graph takes images of height 32 "
     "('images' (n, 3, 32, 32)); give --input 32x32, or leave it out"),
    (["--input", "224"], "--input '224' is not HEIGHTxWIDTH: give the network's input size in "
     "pixels, e.g. --input 224x224"),
    (["--input", "4x4"], "--input 4x4: height and width must be between 8 and 4096 pixels"),
    (["--mean", "0.5,0.5"], "--mean '0.5,0.5' is not three numbers R,G,B: give the per-channel "
     "value on the 0-1 scale, e.g. --mean 0.485,0.456,0.406"),
    (["--mean", "123.675,116.28,103.53"], "--mean 123.675,116.28,103.53 is not on the 0-1 scale: "
     "divide means given for 0-255 pixels by 255 (123.675,116.28,103.53 is 0.485,0.456,0.406)"),
    (["--std", "0.2,0,0.2"], "--std 0.2,0,0.2: every value must be greater than 0"),
    (["--std", "58.395,57.12,57.375"], "--std 58.395,57.12,57.375 is not on the 0-1 scale: "
     "divide values given for 0-255 pixels by 255 (58.395,57.12,57.375 is 0.229,0.224,0.225)"),
    (["--std", "a,b,c"], "--std 'a,b,c' is not three numbers R,G,B: give the per-channel value "
     "on the 0-1 scale, e.g. --std 0.229,0.224,0.225"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"),
    OPTION_REFUSALS,
    ids=["size", "no-x", "tiny", "two", "0-255", "zero", "std-255", "text"],
)
def test_mistaken_options_are_refused_in_so_many_words(
    tmp_path: Path, options: list[str], message: str
) -> None:  # fmt: skip
    model = foreign_embedder(tmp_path / "foreign.onnx")
    stated = dict(zip(STATED[::2], STATED[1::2], strict=True))
    stated.update(dict(zip(options[::2], options[1::2], strict=True)))
    args = [a for kv in stated.items() for a in kv]
    result = adopt(str(model), "--out", str(tmp_path / "out"), *args)
    assert (result.exit_code, result.output) == (1, f"Error: {message.format(m=model)}\n")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_file_that_is_not_onnx_and_a_missing_weights_file(tmp_path: Path) -> None:
    bad = tmp_path / "chip.onnx"
    bad.write_bytes(b"\xff\xd8\xff\xe0 a JPEG")
    result = adopt(str(bad), "--out", str(tmp_path / "out"), *STATED)
    assert result.output == f"Error: {bad} is not an ONNX model (DecodeError)\n"
    model = foreign_embedder(tmp_path / "m" / "foreign.onnx", external=True)
    (tmp_path / "m" / "foreign.onnx.data").unlink()
    result = adopt(str(model), "--out", str(tmp_path / "out"), *STATED)
    assert result.output == (
        f"Error: {model} keeps its weights in foreign.onnx.data, which is not beside it: copy "
        "that file into the same folder\n"
    )


def test_a_second_adopt_replaces_the_first_and_an_earlier_exports_variants(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "embedder.fp16.onnx").write_bytes(b"old")
    sidecar_path(out / "embedder.fp16.onnx").write_text("{}")
    first, _ = adopt_pooled(tmp_path, pooled_graph(tmp_path / "a.onnx", batch="n"))
    before = load_model_card(first).model.sha256
    adopt_pooled(tmp_path, foreign_embedder(tmp_path / "b.onnx"))
    assert load_model_card(first).model.sha256 != before
    assert not (out / "embedder.fp16.onnx").exists()


# --- end to end: the adopted model on the box, with thresholds from its own gallery ----------


def write_encounters(root: Path, encounters: list[list[tuple[ChipRecord, np.ndarray]]]) -> None:
    for record, chip in (c for encounter in encounters for c in encounter):
        (root / record.path).parent.mkdir(parents=True, exist_ok=True)
        (root / record.path).write_bytes(encode_jpeg(chip, record.captured_at))


def bearagent(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "bearagent"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def identify(config: Path, files: list[Path]) -> dict[str, Any]:
    done = bearagent("identify", *map(str, files), "--encounter", "--config", str(config))
    (line,) = done.stdout.splitlines()
    return dict(json.loads(line))


def run_until_end(config: Path, traps: Path, chips: list[tuple[ChipRecord, np.ndarray]]
                  ) -> dict[str, Any]:  # fmt: skip
    """`bearagent run` on one encounter dropped into a watched folder: its `end` event."""
    agent = subprocess.Popen(
        [str(Path(sys.executable).parent / "bearagent"), "run", "--no-mqtt", "--config",
         str(config)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert agent.stdout is not None
    try:
        camera = traps / "north" / "cam01"
        camera.mkdir(parents=True)
        for record, chip in chips:
            temp = camera / f".{Path(record.path).name}.part"
            temp.write_bytes(encode_jpeg(chip, record.captured_at))
            temp.rename(camera / Path(record.path).name)
        for line in agent.stdout:
            payload = json.loads(line)["payload"]
            if payload.get("type") == "end":
                return dict(payload)
        raise AssertionError("bearagent run stopped without an end event")
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0


def field(individuals: int, encounters: int, first: int = 0) -> SyntheticConfig:
    """Chips with camera-trap variation between encounters (so that a bear's encounters
    are not near-duplicates), in colour and unoccluded."""
    return SyntheticConfig(individuals=individuals, min_encounters=encounters,
                           max_encounters=encounters, nuisance=0.3, infrared_share=0.0,
                           occlusion_share=0.0, size=64, first_index=first)  # fmt: skip


def assert_follows_its_thresholds(result: dict[str, Any], who: str | None) -> None:
    """The status is what the score and the thresholds in force say; a known one is right."""
    score, thresholds = result["score"]["value"], result["thresholds"]
    expected = ("known" if score >= thresholds["known"]
                else "unknown" if score < thresholds["unknown"] else "review")  # fmt: skip
    assert result["status"] == expected
    if result["status"] == "known":
        assert result["name"] == who


@pytest.mark.slow
def test_an_adopted_foreign_embedder_decides_with_thresholds_from_the_gallery(
    tmp_path: Path,
) -> None:
    """Done when: a foreign ONNX embedder adopted with `bear-export adopt` runs in
    `bearagent run` and `bearagent identify` with gallery-calibrated thresholds."""
    source = foreign_embedder(tmp_path / "foreign.onnx")
    adopted = adopt(str(source), "--out", str(tmp_path / "model"), *STATED, "--colour", "bgr",
                    "--resize", "letterbox", "--seconds", "0")  # fmt: skip
    assert adopted.exit_code == 0, adopted.output
    config = tmp_path / "bearagent.toml"
    config.write_text(
        f'[agent]\nid = "box1"\ndatabase = "{tmp_path / "state" / "bearagent.db"}"\n'
        'timezone = "UTC"\n'
        f'[runtime]\nmodel = "{tmp_path / "model" / "embedder.onnx"}"\n'
        f'[watch]\nroots = ["{tmp_path / "traps"}"]\nstable_after_s = 0.3\n'
        "[encounter]\nend_after_s = 1.0\n"
    )
    population = encounters_of(field(individuals=24, encounters=7))
    held_out = {who: encounters[-1] for who, encounters in population.items()}
    who = sorted(held_out)[2]
    query = tmp_path / "query"
    write_encounters(query, [held_out[who]])
    query_files = sorted(query.rglob("*.jpg"))
    stranger = next(iter(encounters_of(field(individuals=1, encounters=1, first=40)).values()))
    write_encounters(tmp_path / "stranger", stranger)
    first, rest = sorted(population)[:3], sorted(population)[3:]
    write_encounters(tmp_path / "few", [e for w in first for e in population[w][:-1]])
    bearagent("gallery", "enroll", str(tmp_path / "few"), "--config", str(config))
    before = identify(config, query_files)
    assert before["status"] == "review"  # no thresholds yet: a person decides
    write_encounters(tmp_path / "more", [e for w in rest for e in population[w][:-1]])
    bearagent("gallery", "enroll", str(tmp_path / "more"), "--config", str(config))
    bearagent("gallery", "calibrate", "--config", str(config))
    known = identify(config, query_files)
    assert known["thresholds"]["source"] == "gallery" and known["score"]["name"] == "best"
    assert_follows_its_thresholds(known, who)
    assert -1.0 <= known["thresholds"]["unknown"] <= 1.0  # the gallery set a real threshold
    unknown = identify(config, sorted((tmp_path / "stranger").rglob("*.jpg")))
    assert unknown["thresholds"] == known["thresholds"]
    assert unknown["status"] == "unknown"  # a stranger flagged by the gallery's threshold
    assert_follows_its_thresholds(unknown, None)
    end = run_until_end(config, tmp_path / "traps", held_out[who])
    decision = end["decision"]
    assert decision["thresholds"] == pytest.approx(known["thresholds"], abs=1e-5)  # gallery
    assert decision["status"] == known["status"]  # run decides the encounter as identify did
    assert decision["score"]["value"] == pytest.approx(known["score"]["value"], abs=1e-5)
    assert end["chip_count"] == len(held_out[who])
