"""The preprocessing a user states on the command line: input size, mean, std, colour, resize.

``bear-export adopt`` needs them all (an ONNX file does not say how its images were
prepared); ``bear-export --timm`` takes them from timm's pretrained config and lets
each be overridden. Values are parsed here, so both commands refuse the same
mistakes with the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bearagent.modelcard import ColourOrder, InputSpec, Interpolation, ResizeRule
from bearexport.errors import ExportOptionError

#: Pixel range of an input side (the card's own limits).
MIN_SIDE, MAX_SIDE = 8, 4096
RGB = tuple[float, float, float]


def parse_size(text: str) -> tuple[int, int]:
    """``HEIGHTxWIDTH`` (e.g. ``440x440``) as (height, width)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if match is None:
        raise ExportOptionError(
            f"--input {text!r} is not HEIGHTxWIDTH: give the network's input size in pixels, "
            "e.g. --input 224x224"
        )
    height, width = int(match[1]), int(match[2])
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise ExportOptionError(
            f"--input {height}x{width}: height and width must be between {MIN_SIDE} and "
            f"{MAX_SIDE} pixels"
        )
    return height, width


def _three_numbers(text: str, option: str, example: str) -> RGB:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or not all(v == v and abs(v) != float("inf") for v in values):
        raise ExportOptionError(
            f"{option} {text!r} is not three numbers R,G,B: give the per-channel value on the "
            f"0-1 scale, e.g. {option} {example}"
        )
    return values[0], values[1], values[2]


def parse_mean(text: str) -> RGB:
    """``R,G,B`` channel means on the 0-1 scale."""
    mean = _three_numbers(text, "--mean", "0.485,0.456,0.406")
    if not all(0.0 <= v <= 1.0 for v in mean):
        raise ExportOptionError(
            f"--mean {text} is not on the 0-1 scale: divide means given for 0-255 pixels by "
            "255 (123.675,116.28,103.53 is 0.485,0.456,0.406)"
        )
    return mean


def parse_std(text: str) -> RGB:
    """``R,G,B`` channel standard deviations on the 0-1 scale."""
    std = _three_numbers(text, "--std", "0.229,0.224,0.225")
    if not all(v > 0.0 for v in std):
        raise ExportOptionError(f"--std {text}: every value must be greater than 0")
    if not all(v <= 1.0 for v in std):
        raise ExportOptionError(
            f"--std {text} is not on the 0-1 scale: divide values given for 0-255 pixels by "
            "255 (58.395,57.12,57.375 is 0.229,0.224,0.225)"
        )
    return std


@dataclass(frozen=True)
class Preprocessing:
    """What the user stated; None: not stated (adopt: the default; --timm: timm's value)."""

    size: tuple[int, int] | None = None
    mean: RGB | None = None  # in R, G, B order, whatever the colour order
    std: RGB | None = None
    colour: ColourOrder | None = None
    resize: ResizeRule | None = None
    interpolation: Interpolation | None = None

    @classmethod
    def parse(
        cls,
        *,
        size: str | None = None,
        mean: str | None = None,
        std: str | None = None,
        colour: str | None = None,
        resize: str | None = None,
        interpolation: str | None = None,
    ) -> Preprocessing:
        """Parse the command-line texts (None where an option was not given)."""
        return cls(
            size=parse_size(size) if size is not None else None,
            mean=parse_mean(mean) if mean is not None else None,
            std=parse_std(std) if std is not None else None,
            colour=ColourOrder(colour.upper()) if colour is not None else None,
            resize=ResizeRule(resize) if resize is not None else None,
            interpolation=Interpolation(interpolation) if interpolation is not None else None,
        )


def input_spec(
    size: tuple[int, int],
    mean_rgb: RGB,
    std_rgb: RGB,
    *,
    colour: ColourOrder,
    resize: ResizeRule,
    interpolation: Interpolation,
    name: str = "input",
) -> InputSpec:
    """The card's `InputSpec`; mean and std are given in R, G, B order and stored in
    the network's colour order."""
    if colour is ColourOrder.BGR:
        mean_rgb, std_rgb = _reversed(mean_rgb), _reversed(std_rgb)
    return InputSpec(
        height=size[0],
        width=size[1],
        colour_order=colour,
        resize=resize,
        interpolation=interpolation,
        mean=mean_rgb,
        std=std_rgb,
        name=name,
    )


def _reversed(values: RGB) -> RGB:
    return values[2], values[1], values[0]
