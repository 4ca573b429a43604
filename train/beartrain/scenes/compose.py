"""Painting a camera-trap scene: a background, bears (body and face), occluders, night.

A bear is its body (a fur-coloured ellipse behind the head) and its face, the
individual's canonical face (`beartrain.synthetic.render_face`) warped into the
scene with a pose. The face's box, the detector's ground truth, is the bounding
box of the warped face mask (ears included), clipped to the frame. Partial
occlusion draws grass or a branch across the face; a night frame is the infrared
look of camera traps: grey, bright centre, dark corners, strong sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from beartrain.scenes.background import KINDS, draw_background

_CANVAS = 256  # the canonical face's side (beartrain.synthetic.render)


@dataclass(frozen=True)
class FaceArt:
    """An individual's canonical face, ready to be placed: BGR image and float mask."""

    individual: str
    face: np.ndarray
    mask: np.ndarray
    fur: tuple[int, int, int]


@dataclass(frozen=True)
class BearPose:
    """Where and how a bear stands in a frame."""

    art: FaceArt
    cx: float  # face centre, scene pixels
    cy: float
    size: float  # side of the face box, pixels
    angle: float = 0.0  # degrees
    squeeze: float = 1.0  # horizontal scale of the face (a head turned a little)
    gain: float = 1.0  # light on this bear
    facing: int = 1  # which side its body extends to
    occluded: bool = False


@dataclass(frozen=True)
class Look:
    """What the camera makes of the whole frame."""

    night: bool = False
    gain: float = 1.0
    gamma: float = 1.0
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    noise: float = 3.0
    blur: float = 0.0


@dataclass(frozen=True)
class FaceBox:
    """A face in a scene: whose, and its box x1, y1, x2, y2 in scene pixels."""

    individual: str
    x1: float
    y1: float
    x2: float
    y2: float


def backdrop(rng: np.random.Generator, h: int, w: int, distractors: int) -> np.ndarray:
    """A background with `distractors` fur-coloured blobs (stumps, bodies, other animals)."""
    image = draw_background(str(rng.choice(KINDS)), rng, h, w)
    for _ in range(distractors):
        centre = (int(rng.integers(0, w)), int(rng.integers(h // 4, h)))
        axes = (int(rng.integers(w // 25, w // 6)), int(rng.integers(h // 25, h // 7)))
        value = float(rng.uniform(35, 200))
        colour = (value * rng.uniform(0.25, 0.5), value * rng.uniform(0.55, 0.85), value)
        cv2.ellipse(image, centre, axes, float(rng.uniform(-30, 30)), 0, 360, colour, -1,
                    cv2.LINE_AA)  # fmt: skip
    return image


def _body(image: np.ndarray, pose: BearPose) -> None:
    """The bear's body: a darker fur ellipse below and beside the head."""
    s = pose.size
    centre = (round(pose.cx + pose.facing * 0.7 * s), round(pose.cy + 0.85 * s))
    colour = tuple(0.8 * c * pose.gain for c in pose.art.fur)
    axes = (max(1, round(1.35 * s)), max(1, round(0.85 * s)))
    cv2.ellipse(image, centre, axes, 0, 0, 360, colour, -1, cv2.LINE_AA)


def _face(image: np.ndarray, pose: BearPose) -> FaceBox | None:
    """Warp the face into `image`; its visible box, or None when it fell outside."""
    h, w = image.shape[:2]
    zoom = pose.size / (_CANVAS * 0.95)
    matrix = cv2.getRotationMatrix2D((_CANVAS / 2, _CANVAS / 2), pose.angle, zoom)
    matrix = matrix * np.array([[pose.squeeze], [1.0]])
    centre = matrix @ np.array([_CANVAS / 2, _CANVAS / 2, 1.0])  # then move it to (cx, cy)
    matrix[0, 2] += pose.cx - centre[0]
    matrix[1, 2] += pose.cy - centre[1]
    # Warp only into the region the face can reach (a frame is much larger than a face).
    corners = matrix @ np.array([[0, 0, 1], [_CANVAS, 0, 1], [0, _CANVAS, 1], [_CANVAS] * 3]).T
    left, top = (max(0, int(np.floor(v))) for v in corners.min(axis=1))
    right, bottom = (
        min(w, int(np.ceil(corners[0].max())) + 1),
        min(h, int(np.ceil(corners[1].max())) + 1),
    )
    if right <= left or bottom <= top:
        return None
    matrix[:, 2] -= (left, top)
    size = (right - left, bottom - top)
    alpha = cv2.warpAffine(pose.art.mask, matrix, size, flags=cv2.INTER_LINEAR)
    face = cv2.warpAffine(pose.art.face, matrix, size, flags=cv2.INTER_AREA)
    visible = np.argwhere(alpha > 0.5)
    if visible.size == 0:
        return None
    a = alpha[..., None]
    region = image[top:bottom, left:right]
    region[:] = a * face.astype(np.float32) * pose.gain + (1 - a) * region
    offset = np.array([top, left])
    (y1, x1), (y2, x2) = visible.min(axis=0) + offset, visible.max(axis=0) + offset + 1
    return FaceBox(pose.art.individual, float(x1), float(y1), float(x2), float(y2))


def _occlude(image: np.ndarray, box: FaceBox, rng: np.random.Generator) -> None:
    """Grass blades or a branch across part of the face, in the foreground."""
    bw, bh = box.x2 - box.x1, box.y2 - box.y1
    colour = tuple(float(v) for v in rng.integers((20, 50, 30), (70, 130, 90)))
    for _ in range(int(rng.integers(1, 4))):
        x0 = box.x1 + rng.uniform(0, 1) * bw
        y0 = box.y2 + rng.uniform(0, 0.3) * bh
        x1, y1 = x0 + rng.uniform(-0.3, 0.3) * bw, box.y1 + rng.uniform(0.2, 0.7) * bh
        thick = max(2, round(min(bw, bh) * rng.uniform(0.04, 0.1)))
        cv2.line(image, (round(x0), round(y0)), (round(x1), round(y1)), colour, thick,
                 cv2.LINE_AA)  # fmt: skip


def _camera(image: np.ndarray, look: Look, rng: np.random.Generator) -> np.ndarray:
    """Exposure, colour cast or infrared night look, blur and noise."""
    h, w = image.shape[:2]
    levels = np.arange(256, dtype=np.float32) / 255.0
    curve = np.clip(look.gain * 255.0 * levels**look.gamma, 0, 255).astype(np.uint8)
    out = cv2.LUT(np.clip(image, 0, 255).astype(np.uint8), curve).astype(np.float32)
    if look.night:
        grey = cv2.cvtColor(out.astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32)
        yy, xx = np.ogrid[0:h, 0:w]
        falloff = 1.15 - 1.4 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2)
        out = cv2.cvtColor(grey * falloff.astype(np.float32), cv2.COLOR_GRAY2BGR)
    else:
        out *= np.asarray(look.cast, np.float32)[None, None, :]
    if look.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), look.blur)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(look.noise)
    frame: np.ndarray = np.clip(out, 0, 255).astype(np.uint8)
    return frame


def paint(
    background: np.ndarray, poses: list[BearPose], look: Look, rng: np.random.Generator
) -> tuple[np.ndarray, list[FaceBox]]:
    """The frame (BGR uint8) with `poses` painted on `background`, and the faces' boxes."""
    image = background.copy()
    for pose in sorted(poses, key=lambda p: p.size):  # nearer (bigger) bears in front
        _body(image, pose)
    boxes: list[FaceBox] = []
    for pose in sorted(poses, key=lambda p: p.size):
        box = _face(image, pose)
        if box is None:
            continue
        if pose.occluded:
            _occlude(image, box, rng)
        boxes.append(box)
    return _camera(image, look, rng), boxes


def random_look(rng: np.random.Generator, night_share: float) -> Look:
    """A camera's look for one frame: night (infrared) with probability `night_share`."""
    night = bool(rng.random() < night_share)
    cast = tuple(float(c) for c in rng.uniform(0.9, 1.1, 3))
    return Look(
        night=night,
        gain=float(rng.uniform(1.0, 1.5) if night else rng.uniform(0.7, 1.2)),
        gamma=float(rng.uniform(0.8, 1.25)),
        cast=(cast[0], cast[1], cast[2]),
        noise=float(rng.uniform(6, 14) if night else rng.uniform(1, 5)),
        blur=float(rng.choice([0.0, 0.0, rng.uniform(0.5, 1.5)])),
    )
