"""The embedded synthetic traffic-sign data set, drawn with PIL.

Every image is rendered at 2x resolution and downsampled to 32x32, so digits and rims get the
soft edges of a real low-resolution photograph. Each sample's randomness comes from its own
generator seeded by (seed, class, index), so the set is identical however it is generated.
Class ids of the speed-limit signs follow GTSRB (50 km/h is 2, 80 km/h is 5).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

IMAGE_SIZE = 32
_CANVAS = 2 * IMAGE_SIZE
# Bump when the drawing changes, so cached copies of the old set are not reused.
GENERATOR_VERSION = 1

RED = (200, 25, 30)
WHITE = (245, 245, 240)
BLACK = (20, 20, 20)
BLUE = (25, 70, 170)
YELLOW = (245, 190, 20)

Painter = Callable[[ImageDraw.ImageDraw, float, float, float], None]


@dataclass(frozen=True)
class SignClass:
    name: str
    paint: Painter


def _font(size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(6, round(size)))


def _text(draw: ImageDraw.ImageDraw, cx: float, cy: float, text: str, size: float, fill) -> None:
    draw.text((cx, cy), text, fill=fill, font=_font(size), anchor="mm")


def _circle(draw, cx, cy, r, fill) -> None:
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)


def _polygon(cx, cy, r, n, rotation_deg) -> list[tuple[float, float]]:
    return [
        (
            cx + r * math.cos(math.radians(rotation_deg + 360 * i / n)),
            cy + r * math.sin(math.radians(rotation_deg + 360 * i / n)),
        )
        for i in range(n)
    ]


def _speed_limit(value: int) -> Painter:
    text = str(value)

    def paint(draw, cx, cy, r):
        _circle(draw, cx, cy, r, RED)
        _circle(draw, cx, cy, 0.76 * r, WHITE)
        size = 0.95 * r if len(text) == 2 else 0.72 * r
        _text(draw, cx, cy + 0.03 * r, text, size, BLACK)

    return paint


def _stop(draw, cx, cy, r):
    draw.polygon(_polygon(cx, cy, r, 8, 22.5), fill=WHITE)
    draw.polygon(_polygon(cx, cy, 0.9 * r, 8, 22.5), fill=RED)
    _text(draw, cx, cy, "STOP", 0.62 * r, WHITE)


def _yield(draw, cx, cy, r):
    draw.polygon(_polygon(cx, cy + 0.15 * r, 1.1 * r, 3, 90), fill=RED)
    draw.polygon(_polygon(cx, cy + 0.15 * r, 0.62 * r, 3, 90), fill=WHITE)


def _priority(draw, cx, cy, r):
    draw.polygon(_polygon(cx, cy, r, 4, 0), fill=WHITE)
    draw.polygon(_polygon(cx, cy, 0.62 * r, 4, 0), fill=YELLOW)


def _no_entry(draw, cx, cy, r):
    _circle(draw, cx, cy, r, RED)
    draw.rectangle((cx - 0.68 * r, cy - 0.18 * r, cx + 0.68 * r, cy + 0.18 * r), fill=WHITE)


def _caution(draw, cx, cy, r):
    draw.polygon(_polygon(cx, cy + 0.12 * r, 1.1 * r, 3, -90), fill=RED)
    draw.polygon(_polygon(cx, cy + 0.12 * r, 0.72 * r, 3, -90), fill=WHITE)
    draw.rectangle((cx - 0.07 * r, cy - 0.3 * r, cx + 0.07 * r, cy + 0.2 * r), fill=BLACK)
    _circle(draw, cx, cy + 0.36 * r, 0.08 * r, BLACK)


def _arrow(draw, cx, cy, r, angle_deg):
    """White arrow through the centre pointing at angle_deg (0 = up, clockwise)."""
    a = math.radians(angle_deg)
    ux, uy = math.sin(a), -math.cos(a)
    px, py = -uy, ux
    tail = (cx - 0.55 * r * ux, cy - 0.55 * r * uy)
    neck = (cx + 0.1 * r * ux, cy + 0.1 * r * uy)
    tip = (cx + 0.6 * r * ux, cy + 0.6 * r * uy)
    draw.line([tail, neck], fill=WHITE, width=max(2, round(0.22 * r)))
    head = 0.32 * r
    draw.polygon(
        [
            tip,
            (neck[0] + head * px, neck[1] + head * py),
            (neck[0] - head * px, neck[1] - head * py),
        ],
        fill=WHITE,
    )


def _mandatory(angle_deg: float) -> Painter:
    def paint(draw, cx, cy, r):
        _circle(draw, cx, cy, r, WHITE)
        _circle(draw, cx, cy, 0.93 * r, BLUE)
        _arrow(draw, cx, cy, r, angle_deg)

    return paint


CLASSES: tuple[SignClass, ...] = (
    SignClass("Speed limit (20km/h)", _speed_limit(20)),
    SignClass("Speed limit (30km/h)", _speed_limit(30)),
    SignClass("Speed limit (50km/h)", _speed_limit(50)),
    SignClass("Speed limit (60km/h)", _speed_limit(60)),
    SignClass("Speed limit (70km/h)", _speed_limit(70)),
    SignClass("Speed limit (80km/h)", _speed_limit(80)),
    SignClass("Speed limit (100km/h)", _speed_limit(100)),
    SignClass("Speed limit (120km/h)", _speed_limit(120)),
    SignClass("Priority road", _priority),
    SignClass("Yield", _yield),
    SignClass("Stop", _stop),
    SignClass("No entry", _no_entry),
    SignClass("General caution", _caution),
    SignClass("Keep right", _mandatory(135)),
    SignClass("Ahead only", _mandatory(0)),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)


def _background(rng: np.random.Generator) -> Image.Image:
    """Sky/foliage/asphalt-like gradient with random clutter shapes and sensor noise."""
    top, bottom = rng.integers(40, 220, size=(2, 3))
    t = np.linspace(0.0, 1.0, _CANVAS)[:, None, None]
    base = (1 - t) * top + t * bottom
    img = Image.fromarray(np.broadcast_to(base, (_CANVAS, _CANVAS, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 7))):
        x0, y0 = rng.integers(-10, _CANVAS, size=2)
        w, h = rng.integers(6, 40, size=2)
        colour = tuple(int(c) for c in rng.integers(30, 200, size=3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
    if rng.random() < 0.5:  # a pole or a post behind the sign
        x = int(rng.integers(20, 44))
        draw.rectangle((x, 32, x + 4, _CANVAS), fill=(110, 110, 115))
    return img


def render_sign(class_id: int, rng: np.random.Generator) -> np.ndarray:
    """One 32x32x3 uint8 image of class `class_id`, all randomness drawn from `rng`."""
    img = _background(rng)
    layer = Image.new("RGBA", (_CANVAS, _CANVAS), (0, 0, 0, 0))
    radius = _CANVAS / 2 * rng.uniform(0.55, 0.85)
    CLASSES[class_id].paint(ImageDraw.Draw(layer), _CANVAS / 2, _CANVAS / 2, radius)
    layer = layer.rotate(
        rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR, center=(_CANVAS / 2, _CANVAS / 2)
    )
    slack = max(0.0, _CANVAS / 2 - radius - 2)
    dx, dy = (rng.uniform(-slack, slack, size=2) * 0.6).round().astype(int)
    img.paste(layer, (int(dx), int(dy)), layer)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.3)))
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.55, 1.35))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.7, 1.2))
    img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.float32)
    arr += rng.normal(0.0, rng.uniform(0.0, 6.0), size=arr.shape)
    return np.clip(arr.round(), 0, 255).astype(np.uint8)


def generate(images_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole set: images (N, 32, 32, 3) uint8 and labels (N,) int64, class-major order."""
    n = images_per_class * len(CLASSES)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(len(CLASSES), dtype=np.int64), images_per_class)
    for i, class_id in enumerate(labels):
        index = i % images_per_class
        images[i] = render_sign(int(class_id), np.random.default_rng([seed, int(class_id), index]))
    return images, labels
