from typing import get_args

import numpy as np
import pytest

from heatclust_core.attacks.poison import evaluation_trigger, training_trigger
from heatclust_core.attacks.triggers import (
    PAPER_CODE_YELLOW,
    STICKER_COLORS,
    AmplitudeTrigger,
    StickerTrigger,
    amplitude_position,
    amplitude_signs,
    checkerboard,
    window_origin,
)
from heatclust_core.config import AttackConfig, StickerColor


def _grey(n=50, value=128):
    return np.full((n, 32, 32, 3), value, dtype=np.uint8)


@pytest.mark.parametrize(("size", "color"), [(1, "yellow"), (2, "yellow-green"), (3, "yellow")])
def test_sticker_lies_inside_the_central_10x15_window(size, color):
    images = _grey()
    stamped, positions = StickerTrigger(size, "window", color).apply(
        images, np.random.default_rng(0)
    )
    row0, col0 = window_origin(32)
    assert (row0, col0) == (11, 8)
    changed = np.any(stamped != images, axis=-1)
    for img_changed, (r, c) in zip(changed, positions, strict=True):
        rows, cols = np.nonzero(img_changed)
        assert rows.min() == r and rows.max() == r + size - 1
        assert cols.min() == c and cols.max() == c + size - 1
        assert row0 <= r and r + size <= row0 + 10
        assert col0 <= c and c + size <= col0 + 15
    assert np.all(stamped[changed] == STICKER_COLORS[color])
    assert np.all(images == 128)  # input untouched
    assert len({tuple(p) for p in positions}) > 5  # positions vary


def test_sticker_positions_are_seeded():
    images = _grey(10)
    a = StickerTrigger(3, "window", "yellow").apply(images, np.random.default_rng(7))[1]
    b = StickerTrigger(3, "window", "yellow").apply(images, np.random.default_rng(7))[1]
    np.testing.assert_array_equal(a, b)


def test_corner_placement_uses_the_window_s_four_corners_only():
    images = _grey(400)
    trigger = StickerTrigger(3, placement="corners", color="yellow")
    stamped, positions = trigger.apply(images, np.random.default_rng(3))
    row0, col0 = window_origin(32)
    corners = {(row0, col0), (row0, col0 + 12), (row0 + 7, col0), (row0 + 7, col0 + 12)}
    drawn = [tuple(p) for p in positions.tolist()]
    assert set(drawn) == corners
    counts = np.array([drawn.count(c) for c in sorted(corners)])
    assert counts.min() > 60  # each coordinate's two ends drawn evenly (100 expected)
    r, c = positions[0]
    assert np.all(stamped[0, r : r + 3, c : c + 3] == PAPER_CODE_YELLOW)
    assert np.count_nonzero(np.any(stamped[0] != images[0], axis=-1)) == 9


def test_every_colour_the_config_offers_has_its_rgb():
    assert set(STICKER_COLORS) == set(get_args(StickerColor))


def test_the_window_placement_draws_what_it_drew_before_the_corner_option():
    """The window keeps the positions (so the runs) of before: one integer draw per axis."""
    rng = np.random.default_rng(11)
    expected_rows = rng.integers(11, 11 + 10 - 3 + 1, size=20)
    expected_cols = rng.integers(8, 8 + 15 - 3 + 1, size=20)
    positions = StickerTrigger(3, "window", "yellow").apply(_grey(20), np.random.default_rng(11))[1]
    np.testing.assert_array_equal(positions, np.stack([expected_rows, expected_cols], axis=1))


def test_amplitude_trigger_is_a_checkerboard_10px_from_the_corner():
    images = _grey(2)
    trigger = AmplitudeTrigger(3, 64, "checkerboard")
    stamped, positions = trigger.apply(images, np.random.default_rng(0))
    assert amplitude_position(3, 32) == (19, 19)
    # lower-right pixel (21, 21): ten pixels (22..31) lie to its right and below it
    delta = stamped.astype(int) - images.astype(int)
    block = delta[0, 19:22, 19:22, 0]
    np.testing.assert_array_equal(block, 64 * checkerboard(3))
    assert np.all(delta[:, 19:22, 19:22, :] == delta[:, 19:22, 19:22, :1])  # same on all channels
    delta[:, 19:22, 19:22] = 0
    assert not delta.any()
    assert positions.tolist() == [[19, 19], [19, 19]]


def test_full_amplitude_saturates_to_black_and_white():
    stamped, _ = AmplitudeTrigger(3, 255, "checkerboard").apply(_grey(1), np.random.default_rng(0))
    block = stamped[0, 19:22, 19:22, 0]
    assert set(np.unique(block).tolist()) == {0, 255}
    assert block[0, 0] == 255 and block[0, 1] == 0


def test_checkerboard_alternates_with_position():
    board = checkerboard(3)
    assert board.tolist() == [[1, -1, 1], [-1, 1, -1], [1, -1, 1]]


def test_the_paper_pattern_is_the_paper_codes_block():
    # insert_amplitude_backdoor in the paper's repository, read from the bottom-right pixel
    # (+) leftwards and upwards: + - + / - + - / + - -.
    assert amplitude_signs(3, "paper").tolist() == [[-1, -1, 1], [-1, 1, -1], [1, -1, 1]]
    assert amplitude_signs(3, "checkerboard").tolist() == checkerboard(3).tolist()
    assert amplitude_signs(1, "paper").tolist() == [[1]]
    images = _grey(1)
    stamped, _ = AmplitudeTrigger(3, 64, "paper").apply(images, np.random.default_rng(0))
    delta = stamped.astype(int)[0, 19:22, 19:22, 1] - images.astype(int)[0, 19:22, 19:22, 1]
    np.testing.assert_array_equal(delta, 64 * amplitude_signs(3, "paper"))


def test_the_amplitude_attack_stamps_its_pattern_in_training_and_evaluation():
    attack = AttackConfig(kind="amplitude", source=2, target=5, amp=64)
    assert training_trigger(attack) == AmplitudeTrigger(3, 64, "checkerboard")
    paper = attack.model_copy(update={"amp_pattern": "paper"})
    assert training_trigger(paper) == AmplitudeTrigger(3, 64, "paper")
    assert evaluation_trigger(paper) == AmplitudeTrigger(3, 255, "paper")
