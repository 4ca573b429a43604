"""Drafting a detector card for someone else's ONNX export, from what the file says.

ultralytics writes its class names and image size into the ONNX metadata
(``names``, ``imgsz``); the output's shape tells the layout (`yolov8` [1, 4+nc, N],
`yolov5` [1, N, 5+nc], `nms` [1, N, 6]). What the file cannot say (the role, which
classes to keep) comes from the options. Run it as

    python -m bearagent.detection.draft best.onnx --keep face

and check the sidecar it writes (``best.onnx.json``) before use.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Literal

import click
import onnx

from bearagent.detection.card import DetectorCard, OutputFormat
from bearagent.detection.cardio import card_json, metadata_of, parse_card
from bearagent.detection.errors import DetectorCardInvalid
from bearagent.modelcard.io import sha256_file, sidecar_path


def _literal(meta: dict[str, str], key: str) -> Any:
    try:
        return ast.literal_eval(meta[key]) if key in meta else None
    except (ValueError, SyntaxError):
        return None


def _graph_shapes(path: Path) -> tuple[list[int | str], list[int | str]]:
    graph = onnx.load(str(path), load_external_data=False).graph

    def dims(value: Any) -> list[int | str]:
        return [d.dim_value or d.dim_param for d in value.type.tensor_type.shape.dim]

    return dims(graph.input[0]), dims(graph.output[0])


def _layout(shape: list[int | str], classes: int, nms: bool) -> OutputFormat:
    """The layout an output shape has (a few hundred rows of 6: NMS inside, as max_det)."""
    few_rows = isinstance(shape[1], int) and shape[1] <= 1000 if len(shape) == 3 else False
    if len(shape) == 3 and shape[2] == 6 and (nms or few_rows or classes != 1):
        return "nms"
    if len(shape) == 3 and shape[1] == 4 + classes:
        return "yolov8"
    if len(shape) == 3 and shape[2] == 5 + classes:
        return "yolov5"
    raise DetectorCardInvalid(
        f"output shape {shape} fits none of the layouts for {classes} classes: write the card "
        "by hand (docs/detector.md)"
    )


def draft_card(
    path: Path,
    *,
    keep: list[str],
    role: Literal["face", "animal"] = "face",
    classes: list[str] | None = None,
    name: str | None = None,
) -> DetectorCard:
    """A card for the ONNX detector `path` from its metadata and shapes (see the module doc)."""
    meta = metadata_of(path)
    names = _literal(meta, "names")
    if classes is None and isinstance(names, dict):
        classes = [str(names[k]) for k in sorted(names)]
    if not classes:
        raise DetectorCardInvalid(
            f"{path} names no classes in its metadata (an ultralytics export does): give them "
            "with --classes, in the model's output order"
        )
    inputs, output = _graph_shapes(path)
    size = _literal(meta, "imgsz") or [d for d in inputs[2:]]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        raise DetectorCardInvalid(f"{path}: no fixed input size; write the card by hand")
    args = _literal(meta, "args")
    nms = isinstance(args, dict) and bool(args.get("nms"))
    draft = {
        "model": {"name": name or path.stem, "source": meta.get("description", "")},
        "role": role,
        "input": {"height": size[0], "width": size[1]},
        "output": {"format": _layout(output, len(classes), nms)},
        "classes": classes,
        "keep_classes": keep,
    }
    return parse_card(json.dumps(draft), f"drafted for {path}")


@click.command("draft", cls=click.Command)
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--keep", multiple=True, required=True, help="A class to keep (repeatable).")
@click.option("--role", type=click.Choice(["face", "animal"]), default="face", show_default=True)
@click.option("--classes", help="Comma-separated class names, when the file names none.")
@click.option("--name", help="The card's model name (default: the file name).")
def main(
    model: Path, keep: tuple[str, ...], role: str, classes: str | None, name: str | None
) -> None:
    """Write MODEL.json, a detector card drafted from MODEL's metadata and output shape."""
    try:
        card = draft_card(
            model,
            keep=list(keep),
            role="animal" if role == "animal" else "face",
            classes=classes.split(",") if classes else None,
            name=name,
        )
    except DetectorCardInvalid as e:
        raise click.ClickException(str(e)) from e
    sidecar_path(model).write_text(card_json(card.with_sha256(sha256_file(model))))
    click.echo(f"wrote {sidecar_path(model)}:\n{card_json(card)}")


if __name__ == "__main__":
    main()
