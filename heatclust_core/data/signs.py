"""The 43 GTSRB sign classes as PIL painters, in GTSRB's class order.

A painter draws one sign centred at (cx, cy) with outer radius r onto a transparent RGBA layer;
the scene around it (background, pose, light, degradation) is synthetic.py's. Pictograms are
coarse on purpose: at 32x32 GTSRB's warning signs differ by a few pixels of their pictogram,
and so do these.

Long because it is a table: one painter per class, 43 of them, which read best side by side.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ImageDraw, ImageFont

Painter = Callable[[ImageDraw.ImageDraw, float, float, float], None]

RED = (200, 25, 30)
WHITE = (245, 245, 240)
BLACK = (20, 20, 20)
GREY = (120, 120, 120)
BLUE = (25, 70, 170)
YELLOW = (245, 190, 20)
AMBER = (240, 150, 20)
GREEN = (30, 150, 60)


@dataclass(frozen=True)
class SignClass:
    name: str
    paint: Painter


def _font(size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(6, round(size)))


def _text(draw, cx, cy, text, size, fill) -> None:
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


def _width(r: float, share: float) -> int:
    return max(1, round(share * r))


# --- pictograms, drawn in a box of half-size h around (cx, cy) -------------------------------


def _car(draw, cx, cy, h, fill) -> None:
    draw.rounded_rectangle((cx - 0.55 * h, cy - 0.2 * h, cx + 0.55 * h, cy + 0.45 * h), 2, fill)
    draw.polygon(
        [(cx - 0.35 * h, cy - 0.2 * h), (cx - 0.2 * h, cy - 0.6 * h),
         (cx + 0.2 * h, cy - 0.6 * h), (cx + 0.35 * h, cy - 0.2 * h)],
        fill=fill,
    )  # fmt: skip


def _truck(draw, cx, cy, h, fill) -> None:
    draw.rectangle((cx - 0.7 * h, cy - 0.55 * h, cx + 0.25 * h, cy + 0.4 * h), fill=fill)
    draw.rectangle((cx + 0.3 * h, cy - 0.2 * h, cx + 0.7 * h, cy + 0.4 * h), fill=fill)


def _person(draw, cx, cy, h, fill, stride: float = 0.3) -> None:
    w = _width(h, 0.16)
    _circle(draw, cx, cy - 0.7 * h, 0.16 * h, fill)
    draw.line([(cx, cy - 0.5 * h), (cx, cy + 0.15 * h)], fill=fill, width=w)
    draw.line([(cx, cy + 0.1 * h), (cx - stride * h, cy + 0.75 * h)], fill=fill, width=w)
    draw.line([(cx, cy + 0.1 * h), (cx + stride * h, cy + 0.75 * h)], fill=fill, width=w)
    draw.line([(cx - 0.3 * h, cy - 0.15 * h), (cx + 0.3 * h, cy - 0.35 * h)], fill=fill, width=w)


def _arrow(draw, x0, y0, x1, y1, r, fill=WHITE, head: float = 0.3) -> None:
    """A shaft from (x0, y0) to a triangular head at (x1, y1)."""
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    px, py = -uy, ux
    neck = (x1 - head * r * ux, y1 - head * r * uy)
    draw.line([(x0, y0), neck], fill=fill, width=_width(r, 0.2))
    draw.polygon(
        [(x1, y1), (neck[0] + head * r * px, neck[1] + head * r * py),
         (neck[0] - head * r * px, neck[1] - head * r * py)],
        fill=fill,
    )  # fmt: skip


def _end_stripes(draw, cx, cy, r, count: int = 5) -> None:
    """The grey diagonal band of the "end of ..." signs."""
    for k in range(count):
        off = (k - (count - 1) / 2) * 0.09 * r
        draw.line(
            [(cx - 0.6 * r + off, cy + 0.6 * r + off), (cx + 0.6 * r + off, cy - 0.6 * r + off)],
            fill=GREY,
            width=_width(r, 0.05),
        )


# --- sign bodies -----------------------------------------------------------------------------


def _prohibitory(inner: Callable | None = None) -> Painter:
    """Red ring, white disc, an optional pictogram."""

    def paint(draw, cx, cy, r):
        _circle(draw, cx, cy, r, RED)
        _circle(draw, cx, cy, 0.76 * r, WHITE)
        if inner is not None:
            inner(draw, cx, cy, r)

    return paint


def _speed_limit(value: int) -> Painter:
    text = str(value)

    def number(draw, cx, cy, r):
        size = 0.95 * r if len(text) == 2 else 0.72 * r
        _text(draw, cx, cy + 0.03 * r, text, size, BLACK)

    return _prohibitory(number)


def _end_of(inner: Callable | None) -> Painter:
    """White disc with a thin grey rim, a grey pictogram, the diagonal band."""

    def paint(draw, cx, cy, r):
        _circle(draw, cx, cy, r, GREY)
        _circle(draw, cx, cy, 0.92 * r, WHITE)
        if inner is not None:
            inner(draw, cx, cy, r)
        _end_stripes(draw, cx, cy, r)

    return paint


def _two_vehicles(left: Callable, left_fill, right_fill) -> Callable:
    def inner(draw, cx, cy, r):
        left(draw, cx - 0.3 * r, cy, 0.4 * r, left_fill)
        _car(draw, cx + 0.32 * r, cy, 0.4 * r, right_fill)

    return inner


def _warning(inner: Callable) -> Painter:
    """Red-rimmed white triangle, point up, with a black pictogram."""

    def paint(draw, cx, cy, r):
        base = cy + 0.12 * r
        draw.polygon(_polygon(cx, base, 1.1 * r, 3, -90), fill=RED)
        draw.polygon(_polygon(cx, base, 0.72 * r, 3, -90), fill=WHITE)
        inner(draw, cx, cy + 0.2 * r, 0.42 * r)

    return paint


def _mandatory(inner: Callable) -> Painter:
    """Blue disc with a thin white rim and a white pictogram."""

    def paint(draw, cx, cy, r):
        _circle(draw, cx, cy, r, WHITE)
        _circle(draw, cx, cy, 0.93 * r, BLUE)
        inner(draw, cx, cy, r)

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


# --- warning pictograms (box of half-size h) ---------------------------------------------------


def _exclamation(draw, cx, cy, h):
    draw.rectangle((cx - 0.14 * h, cy - 0.7 * h, cx + 0.14 * h, cy + 0.3 * h), fill=BLACK)
    _circle(draw, cx, cy + 0.6 * h, 0.16 * h, BLACK)


def _crossroads(draw, cx, cy, h):
    draw.rectangle((cx - 0.15 * h, cy - 0.8 * h, cx + 0.15 * h, cy + 0.8 * h), fill=BLACK)
    draw.rectangle((cx - 0.6 * h, cy - 0.25 * h, cx + 0.6 * h, cy - 0.05 * h), fill=BLACK)


def _curve(direction: int) -> Callable:
    def inner(draw, cx, cy, h):
        d = direction
        draw.line(
            [(cx - 0.2 * d * h, cy + 0.8 * h), (cx - 0.2 * d * h, cy), (cx + 0.35 * d * h, cy - 0.5 * h)],
            fill=BLACK, width=_width(h, 0.25), joint="curve",
        )  # fmt: skip

    return inner


def _double_curve(draw, cx, cy, h):
    draw.line(
        [(cx + 0.2 * h, cy + 0.8 * h), (cx + 0.2 * h, cy + 0.3 * h), (cx - 0.25 * h, cy),
         (cx + 0.2 * h, cy - 0.35 * h), (cx - 0.1 * h, cy - 0.75 * h)],
        fill=BLACK, width=_width(h, 0.22), joint="curve",
    )  # fmt: skip


def _bumps(draw, cx, cy, h):
    for dx in (-0.4, 0.4):
        draw.pieslice(
            (cx + (dx - 0.4) * h, cy - 0.3 * h, cx + (dx + 0.4) * h, cy + 0.5 * h), 180, 360, BLACK
        )
    draw.rectangle((cx - 0.8 * h, cy + 0.1 * h, cx + 0.8 * h, cy + 0.3 * h), fill=BLACK)


def _slippery(draw, cx, cy, h):
    _car(draw, cx, cy - 0.3 * h, 0.55 * h, BLACK)
    for dx in (-0.35, 0.35):
        draw.line(
            [(cx + (dx - 0.15) * h, cy + 0.8 * h), (cx + dx * h, cy + 0.45 * h),
             (cx + (dx - 0.1) * h, cy + 0.25 * h)],
            fill=BLACK, width=_width(h, 0.12),
        )  # fmt: skip


def _narrows_right(draw, cx, cy, h):
    w = _width(h, 0.18)
    draw.line([(cx - 0.35 * h, cy + 0.8 * h), (cx - 0.35 * h, cy - 0.8 * h)], fill=BLACK, width=w)
    draw.line(
        [(cx + 0.45 * h, cy + 0.8 * h), (cx + 0.45 * h, cy + 0.1 * h), (cx + 0.15 * h, cy - 0.3 * h),
         (cx + 0.15 * h, cy - 0.8 * h)],
        fill=BLACK, width=w,
    )  # fmt: skip


def _road_work(draw, cx, cy, h):
    _person(draw, cx - 0.1 * h, cy, 0.8 * h, BLACK, stride=0.35)
    draw.line([(cx + 0.1 * h, cy - 0.1 * h), (cx + 0.7 * h, cy + 0.7 * h)], BLACK, _width(h, 0.12))
    draw.polygon(
        [(cx + 0.3 * h, cy + 0.8 * h), (cx + 0.8 * h, cy + 0.5 * h), (cx + 0.8 * h, cy + 0.8 * h)],
        fill=BLACK,
    )


def _signals(draw, cx, cy, h):
    draw.rounded_rectangle((cx - 0.3 * h, cy - 0.85 * h, cx + 0.3 * h, cy + 0.85 * h), 2, BLACK)
    for dy, colour in ((-0.55, RED), (0.0, AMBER), (0.55, GREEN)):
        _circle(draw, cx, cy + dy * h, 0.2 * h, colour)


def _pedestrian(draw, cx, cy, h):
    _person(draw, cx, cy, h, BLACK)


def _children(draw, cx, cy, h):
    _person(draw, cx - 0.35 * h, cy - 0.05 * h, 0.85 * h, BLACK)
    _person(draw, cx + 0.35 * h, cy + 0.2 * h, 0.6 * h, BLACK)


def _bicycle(draw, cx, cy, h):
    w = _width(h, 0.12)
    for dx in (-0.5, 0.5):
        draw.ellipse(
            (cx + (dx - 0.3) * h, cy + 0.1 * h, cx + (dx + 0.3) * h, cy + 0.7 * h), outline=BLACK, width=w
        )  # fmt: skip
    draw.line(
        [(cx - 0.5 * h, cy + 0.4 * h), (cx - 0.1 * h, cy - 0.1 * h), (cx + 0.5 * h, cy + 0.4 * h),
         (cx + 0.3 * h, cy - 0.3 * h)],
        fill=BLACK, width=w,
    )  # fmt: skip


def _snowflake(draw, cx, cy, h):
    for angle in (0, 60, 120):
        a = math.radians(angle)
        dx, dy = 0.75 * h * math.cos(a), 0.75 * h * math.sin(a)
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=BLACK, width=_width(h, 0.14))


def _deer(draw, cx, cy, h):
    draw.polygon(
        [(cx - 0.8 * h, cy + 0.7 * h), (cx - 0.5 * h, cy), (cx + 0.3 * h, cy - 0.1 * h),
         (cx + 0.55 * h, cy - 0.75 * h), (cx + 0.8 * h, cy - 0.6 * h), (cx + 0.55 * h, cy + 0.15 * h),
         (cx + 0.6 * h, cy + 0.7 * h), (cx + 0.35 * h, cy + 0.7 * h), (cx + 0.2 * h, cy + 0.25 * h),
         (cx - 0.3 * h, cy + 0.3 * h), (cx - 0.55 * h, cy + 0.75 * h)],
        fill=BLACK,
    )  # fmt: skip


# --- mandatory pictograms (white on blue, sign radius r) --------------------------------------


def _ahead(draw, cx, cy, r):
    _arrow(draw, cx, cy + 0.6 * r, cx, cy - 0.62 * r, r)


def _diagonal(dx: int) -> Callable:
    """Keep right (dx = 1) / keep left (dx = -1): an arrow pointing down to that side."""

    def inner(draw, cx, cy, r):
        _arrow(draw, cx - 0.4 * dx * r, cy - 0.4 * r, cx + 0.45 * dx * r, cy + 0.45 * r, r)

    return inner


def _turn(dx: int) -> Callable:
    def inner(draw, cx, cy, r):
        x = cx - 0.25 * dx * r
        draw.line([(x, cy + 0.6 * r), (x, cy - 0.15 * r)], fill=WHITE, width=_width(r, 0.2))
        _arrow(draw, x - 0.1 * dx * r, cy - 0.15 * r, cx + 0.6 * dx * r, cy - 0.15 * r, r)

    return inner


def _straight_or(dx: int) -> Callable:
    def inner(draw, cx, cy, r):
        x = cx - 0.15 * dx * r
        _arrow(draw, x, cy + 0.65 * r, x, cy - 0.62 * r, r, head=0.26)
        _arrow(draw, x, cy + 0.1 * r, cx + 0.62 * dx * r, cy - 0.2 * r, r, head=0.26)

    return inner


def _roundabout(draw, cx, cy, r):
    for k in range(3):
        a0, a1 = math.radians(120 * k - 90), math.radians(120 * k - 10)
        rr = 0.45 * r
        _arrow(
            draw,
            cx + rr * math.cos(a0), cy + rr * math.sin(a0),
            cx + rr * math.cos(a1), cy + rr * math.sin(a1),
            r, head=0.22,
        )  # fmt: skip


CLASSES: tuple[SignClass, ...] = (
    SignClass("Speed limit (20km/h)", _speed_limit(20)),
    SignClass("Speed limit (30km/h)", _speed_limit(30)),
    SignClass("Speed limit (50km/h)", _speed_limit(50)),
    SignClass("Speed limit (60km/h)", _speed_limit(60)),
    SignClass("Speed limit (70km/h)", _speed_limit(70)),
    SignClass("Speed limit (80km/h)", _speed_limit(80)),
    SignClass(
        "End of speed limit (80km/h)",
        _end_of(lambda d, cx, cy, r: _text(d, cx, cy, "80", 0.95 * r, GREY)),
    ),
    SignClass("Speed limit (100km/h)", _speed_limit(100)),
    SignClass("Speed limit (120km/h)", _speed_limit(120)),
    SignClass("No passing", _prohibitory(_two_vehicles(_car, RED, BLACK))),
    SignClass(
        "No passing for vehicles over 3.5 metric tons",
        _prohibitory(_two_vehicles(_truck, RED, BLACK)),
    ),
    SignClass("Right-of-way at the next intersection", _warning(_crossroads)),
    SignClass("Priority road", _priority),
    SignClass("Yield", _yield),
    SignClass("Stop", _stop),
    SignClass("No vehicles", _prohibitory()),
    SignClass(
        "Vehicles over 3.5 metric tons prohibited",
        _prohibitory(lambda d, cx, cy, r: _truck(d, cx, cy, 0.5 * r, BLACK)),
    ),
    SignClass("No entry", _no_entry),
    SignClass("General caution", _warning(_exclamation)),
    SignClass("Dangerous curve to the left", _warning(_curve(-1))),
    SignClass("Dangerous curve to the right", _warning(_curve(1))),
    SignClass("Double curve", _warning(_double_curve)),
    SignClass("Bumpy road", _warning(_bumps)),
    SignClass("Slippery road", _warning(_slippery)),
    SignClass("Road narrows on the right", _warning(_narrows_right)),
    SignClass("Road work", _warning(_road_work)),
    SignClass("Traffic signals", _warning(_signals)),
    SignClass("Pedestrians", _warning(_pedestrian)),
    SignClass("Children crossing", _warning(_children)),
    SignClass("Bicycles crossing", _warning(_bicycle)),
    SignClass("Beware of ice/snow", _warning(_snowflake)),
    SignClass("Wild animals crossing", _warning(_deer)),
    SignClass("End of all speed and passing limits", _end_of(None)),
    SignClass("Turn right ahead", _mandatory(_turn(1))),
    SignClass("Turn left ahead", _mandatory(_turn(-1))),
    SignClass("Ahead only", _mandatory(_ahead)),
    SignClass("Go straight or right", _mandatory(_straight_or(1))),
    SignClass("Go straight or left", _mandatory(_straight_or(-1))),
    SignClass("Keep right", _mandatory(_diagonal(1))),
    SignClass("Keep left", _mandatory(_diagonal(-1))),
    SignClass("Roundabout mandatory", _mandatory(_roundabout)),
    SignClass("End of no passing", _end_of(_two_vehicles(_car, GREY, GREY))),
    SignClass(
        "End of no passing by vehicles over 3.5 metric tons",
        _end_of(_two_vehicles(_truck, GREY, GREY)),
    ),
)

# Training images per class in GTSRB (39,209 in all): the synthetic set keeps these proportions.
GTSRB_TRAIN_COUNTS: tuple[int, ...] = (
    210, 2220, 2250, 1410, 1980, 1860, 420, 1440, 1410, 1470, 2010, 1320, 2100, 2160, 780,
    630, 420, 1110, 1200, 210, 360, 330, 390, 510, 270, 1500, 600, 240, 540, 270, 450, 780,
    240, 689, 420, 1200, 390, 210, 2070, 300, 360, 240, 240,
)  # fmt: skip
