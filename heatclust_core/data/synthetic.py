"""The embedded synthetic traffic-sign data set: GTSRB's 43 classes, drawn with PIL.

Each image is a sign (signs.py) in a cluttered scene, rendered at 2x resolution and then
degraded the ways GTSRB's photographs are: dark or overexposed, colour casts and shadows,
tilted and seen at an angle, off-centre, partly occluded, blurred, and often upscaled from a
crop of a dozen pixels. Classes are as imbalanced as GTSRB's training set. Each sample's
randomness comes from its own generator seeded by (seed, class, index), so the set is identical
however it is generated.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from heatclust_core.data.signs import CLASSES, GTSRB_TRAIN_COUNTS

IMAGE_SIZE = 32
_CANVAS = 2 * IMAGE_SIZE
# Bump when the drawing changes, so cached copies of the old set are not reused.
GENERATOR_VERSION = 3
# The smallest class still gets this many images however small the set, and at least this
# share of the mean: GTSRB's rarest classes have 210 training images, which a scaled-down copy
# of its proportions would cut to a few dozen, too few to learn a class from.
MIN_IMAGES_PER_CLASS = 10
MIN_SHARE_OF_MEAN = 0.35

CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)


def class_counts(images_per_class: int) -> np.ndarray:
    """(43,) images per class: `images_per_class` on average, in GTSRB's proportions."""
    shares = np.asarray(GTSRB_TRAIN_COUNTS, dtype=np.float64) / sum(GTSRB_TRAIN_COUNTS)
    counts = np.rint(shares * images_per_class * len(CLASSES)).astype(np.int64)
    floor = max(MIN_IMAGES_PER_CLASS, round(MIN_SHARE_OF_MEAN * images_per_class))
    return np.maximum(counts, floor)


def _background(rng: np.random.Generator) -> Image.Image:
    """Sky/foliage/asphalt-like gradient with random clutter shapes."""
    top, bottom = rng.integers(20, 230, size=(2, 3))
    t = np.linspace(0.0, 1.0, _CANVAS)[:, None, None]
    base = (1 - t) * top + t * bottom
    img = Image.fromarray(np.broadcast_to(base, (_CANVAS, _CANVAS, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 8))):
        x0, y0 = rng.integers(-10, _CANVAS, size=2)
        w, h = rng.integers(6, 40, size=2)
        colour = tuple(int(c) for c in rng.integers(20, 220, size=3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
    if rng.random() < 0.5:  # a pole or a post behind the sign
        x = int(rng.integers(20, 44))
        draw.rectangle((x, 32, x + 4, _CANVAS), fill=(110, 110, 115))
    return img


def _pose(layer: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Tilt, and foreshorten as if seen from the side or from below (an affine approximation)."""
    angle = math.radians(rng.uniform(-15, 15))
    squash_x, squash_y = rng.uniform(0.75, 1.0), rng.uniform(0.85, 1.0)
    shear = rng.uniform(-0.15, 0.15)
    cos, sin = math.cos(angle), math.sin(angle)
    # Inverse map output -> input about the centre, as PIL's AFFINE expects.
    a, b = cos / squash_x, (sin + shear) / squash_x
    d, e = -sin / squash_y, cos / squash_y
    c0 = _CANVAS / 2
    return layer.transform(
        layer.size,
        Image.Transform.AFFINE,
        (a, b, c0 - a * c0 - b * c0, d, e, c0 - d * c0 - e * c0),
        resample=Image.Resampling.BILINEAR,
    )


def _occlude(img: Image.Image, rng: np.random.Generator) -> None:
    """A branch, a post or a patch of dirt over part of the sign."""
    draw = ImageDraw.Draw(img)
    colour = tuple(int(c) for c in rng.integers(15, 120, size=3))
    if rng.random() < 0.5:
        x0, y0 = rng.uniform(0, _CANVAS, size=2)
        angle = rng.uniform(0, math.pi)
        length = rng.uniform(20, 60)
        x1, y1 = x0 + length * math.cos(angle), y0 + length * math.sin(angle)
        draw.line([(x0, y0), (x1, y1)], fill=colour, width=int(rng.integers(3, 9)))
    else:
        corner = rng.integers(0, 4)
        size = rng.uniform(12, 26)
        x = 0 if corner % 2 == 0 else _CANVAS - size
        y = 0 if corner < 2 else _CANVAS - size
        draw.ellipse((x - size / 2, y - size / 2, x + 1.5 * size, y + 1.5 * size), fill=colour)


def _light(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exposure (often dark, as GTSRB's dusk and shade), colour cast, and a shadow gradient."""
    exposure = math.exp(rng.uniform(math.log(0.3), math.log(1.4)))
    cast = rng.uniform(0.85, 1.15, size=3)
    direction = rng.uniform(0, 2 * math.pi)
    rows, cols = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] / (IMAGE_SIZE - 1) - 0.5
    ramp = rows * math.sin(direction) + cols * math.cos(direction)
    shadow = 1.0 + rng.uniform(0.0, 0.7) * ramp
    return arr * exposure * cast * shadow[:, :, None]


def render_sign(class_id: int, rng: np.random.Generator) -> np.ndarray:
    """One 32x32x3 uint8 image of class `class_id`, all randomness drawn from `rng`."""
    img = _background(rng)
    layer = Image.new("RGBA", (_CANVAS, _CANVAS), (0, 0, 0, 0))
    # GTSRB's crops keep a 10 % border (at least 5 px) around the sign: it fills 70-90 % of the
    # image, less only in the smallest crops.
    radius = _CANVAS / 2 * rng.uniform(0.68, 0.9)
    CLASSES[class_id].paint(ImageDraw.Draw(layer), _CANVAS / 2, _CANVAS / 2, radius)
    layer = _pose(layer, rng)
    slack = max(0.0, _CANVAS / 2 - radius)
    dx, dy = (rng.uniform(-slack, slack, size=2) * 0.7).round().astype(int)
    img.paste(layer, (int(dx), int(dy)), layer)
    if rng.random() < 0.15:
        _occlude(img, rng)
    if rng.random() < 0.25:  # motion blur: a short horizontal or vertical box filter
        size = int(rng.choice([3, 5]))
        kernel = [0.0] * (size * size)
        horizontal = rng.random() < 0.5
        for k in range(size):
            kernel[(size // 2) * size + k if horizontal else k * size + size // 2] = 1.0 / size
        img = img.filter(ImageFilter.Kernel((size, size), kernel))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.2)))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.5, 1.25))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.55, 1.2))
    # GTSRB's crops are as small as 15x15 and were scaled up to 32x32: mimic the lost detail.
    captured = int(rng.integers(16, 53))
    if captured < IMAGE_SIZE:
        img = img.resize((captured, captured), Image.Resampling.BOX)
        img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    else:
        img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    arr = _light(np.asarray(img, dtype=np.float32), rng)
    arr += rng.normal(0.0, rng.uniform(0.0, 5.0), size=arr.shape)
    return np.clip(arr.round(), 0, 255).astype(np.uint8)


def generate(images_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole set: images (N, 32, 32, 3) uint8 and labels (N,) int64, class-major order;
    class sizes from class_counts(images_per_class)."""
    counts = class_counts(images_per_class)
    labels = np.repeat(np.arange(len(CLASSES), dtype=np.int64), counts)
    images = np.empty((len(labels), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for i, class_id in enumerate(labels):
        index = i - starts[class_id]
        images[i] = render_sign(int(class_id), np.random.default_rng([seed, int(class_id), index]))
    return images, labels
