"""Trigger recovery on small seeded images: a pasted patch is read off the flagged samples'
heatmaps and found in every image that holds it; a false alarm yields no patch."""

import numpy as np
import pytest

from heatclust_core.detection.trigger import (
    best_matches,
    densest_windows,
    enriched_patches,
    paste_patch,
    recover_trigger,
    trigger_summary,
)

STICKER = np.array([200, 220, 40], dtype=np.uint8)  # yellow-green


def _images(rng, n=60, side=16):
    return rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)


def _paste(images, ids, size, rng, colour=STICKER):
    corners = rng.integers(0, images.shape[1] - size + 1, size=(len(ids), 2))
    for i, (r, c) in zip(ids, corners, strict=True):
        images[i, r : r + size, c : c + size] = colour
    return corners


def _heatmaps(rng, corners, size, side=16, offset=0):
    """Noise with a bump over each corner's size x size window (moved by `offset` px)."""
    maps = rng.random((len(corners), side, side)) * 0.1
    for m, (r, c) in zip(maps, corners, strict=True):
        r, c = min(r + offset, side - size), min(c + offset, side - size)
        m[r : r + size, c : c + size] += 1.0
    return maps


def test_densest_window_and_best_match_find_the_pasted_patch():
    rng = np.random.default_rng(0)
    images = _images(rng, n=5)
    corners = _paste(images, range(5), 3, rng)
    assert np.array_equal(densest_windows(_heatmaps(rng, corners, 3), 3), corners)
    patch = np.broadcast_to(STICKER / 255, (3, 3, 3))
    distance, position = best_matches(images, patch)
    assert np.all(distance == 0) and np.array_equal(position, corners)


def test_the_patch_of_the_flagged_samples_is_found_in_the_poisons_they_missed():
    rng = np.random.default_rng(1)
    images, others = _images(rng), _images(rng, n=1000)
    poisons = np.arange(20)
    corners = _paste(images, poisons, 3, rng)
    flagged = poisons[:15]  # the detector missed five poisons
    # Relevance a pixel off the sticker in a third of them: the others' windows hold it.
    heatmaps = np.concatenate(
        [_heatmaps(rng, corners[:10], 3), _heatmaps(rng, corners[10:15], 3, offset=1)]
    )
    search = recover_trigger(images, flagged, heatmaps, others)
    assert search.found and search.size == 3 and search.holders == 15
    assert np.allclose(search.patch, STICKER / 255, atol=1e-6)
    assert np.array_equal(np.flatnonzero(search.matched), poisons)
    assert search.support == 1.0 and search.background == pytest.approx(5 / 45)
    assert search.class_share == pytest.approx(20 / 60) and search.other_share == 0
    assert np.array_equal(search.position[poisons], corners)


def test_the_sticker_is_found_where_the_poisons_are_a_minority_of_the_flags():
    rng = np.random.default_rng(6)
    images, others = _images(rng), _images(rng, n=1000)
    corners = _paste(images, np.arange(12), 3, rng)
    flagged = np.concatenate([np.arange(8), np.arange(30, 50)])  # 8 poisons, 20 clean
    heatmaps = _heatmaps(rng, np.concatenate([corners[:8], rng.integers(0, 14, (20, 2))]), 3)
    search = recover_trigger(images, flagged, heatmaps, others)
    assert search.found and search.holders == 8
    assert search.support == pytest.approx(8 / 28)
    assert np.array_equal(np.flatnonzero(search.matched), np.arange(12))


def test_the_largest_shared_patch_is_the_stickers_size():
    rng = np.random.default_rng(2)
    images, others = _images(rng), _images(rng, n=1000)
    corners = _paste(images, np.arange(20), 2, rng)
    search = recover_trigger(images, np.arange(20), _heatmaps(rng, corners, 2), others, max_size=5)
    assert search.found and search.size == 2
    assert np.array_equal(np.flatnonzero(search.matched), np.arange(20))


def test_a_false_alarm_shares_no_patch_and_adds_nothing():
    rng = np.random.default_rng(3)
    images, others = _images(rng), _images(rng, n=1000)
    flagged = np.arange(30, 45)  # clean samples, relevance wherever
    corners = rng.integers(0, 14, size=(15, 2))
    search = recover_trigger(images, flagged, _heatmaps(rng, corners, 3), others)
    assert not search.found and search.patch is None and not search.matched.any()
    assert search.holders == 1
    summary = {
        "found": False,
        "size": search.size,
        "holders": search.holders,
        "support": search.support,
        "background": search.background,
        "other_share": search.other_share,
    }
    assert trigger_summary(summary).endswith("nothing added")


def test_a_patch_as_common_in_the_other_classes_is_no_trigger():
    # A flat patch every image holds, a class's own or not (a background, say).
    rng = np.random.default_rng(4)
    images, others = _images(rng), _images(rng, n=1000)
    corners = _paste(images, np.arange(60), 3, rng)
    _paste(others, np.arange(1000), 3, rng)
    search = recover_trigger(images, np.arange(10), _heatmaps(rng, corners[:10], 3), others)
    assert search.holders == 10 and search.other_share == 1.0 and not search.found


def test_a_patch_merely_more_common_in_the_class_is_no_trigger():
    # A third of the class holds it and 2 % of the other classes: 16x, as a class's own flat
    # colours can be; a pasted sticker is hundreds of times more common in its class.
    rng = np.random.default_rng(8)
    images, others = _images(rng), _images(rng, n=1000)
    corners = _paste(images, np.arange(20), 3, rng)
    _paste(others, np.arange(20), 3, rng)
    search = recover_trigger(images, np.arange(20), _heatmaps(rng, corners, 3), others)
    assert search.holders == 20 and search.other_share == pytest.approx(0.02)
    assert not search.found


def test_a_patch_too_few_flagged_samples_hold_is_no_trigger():
    rng = np.random.default_rng(7)
    images, others = _images(rng), _images(rng, n=1000)
    corners = _paste(images, np.arange(4), 3, rng)
    search = recover_trigger(images, np.arange(4), _heatmaps(rng, corners, 3), others)
    assert search.holders == 4 and not search.found


def test_without_other_classes_to_compare_no_patch_is_a_trigger():
    # Flat images (every window near every candidate) and no control: nothing is claimed.
    rng = np.random.default_rng(9)
    images = np.full((40, 16, 16, 3), 255, dtype=np.uint8)
    corners = _paste(images, np.arange(10), 3, rng)
    empty = np.zeros((0, 16, 16, 3), dtype=np.uint8)
    search = recover_trigger(images, np.arange(10), _heatmaps(rng, corners, 3), empty)
    assert search.holders == 10 and search.other_share == 0 and not search.found


def test_heatmaps_must_match_the_flags():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="3 flagged samples but 2 heatmaps"):
        recover_trigger(_images(rng, n=5), np.arange(3), np.zeros((2, 16, 16)), _images(rng))


GREY = np.array([128, 128, 128], dtype=np.uint8)


def _class_with_patches(rng, stickered: int):
    """60 images of a class: the first `stickered` hold the sticker, the next 20 a grey patch
    (as 300 of the 1,000 other images do), relevance peaked on whichever they hold."""
    images, others = _images(rng), _images(rng, n=1000)
    sticker = _paste(images, np.arange(stickered), 3, rng)
    grey = _paste(images, np.arange(stickered, stickered + 20), 3, rng, GREY)
    _paste(others, np.arange(300), 3, rng, GREY)
    rest = rng.integers(0, 14, size=(60 - stickered - 20, 2))
    heatmaps = _heatmaps(rng, np.concatenate([sticker, grey, rest]), 3)
    return images, heatmaps, others


def test_a_pasted_sticker_is_the_most_enriched_patch_and_a_colour_every_class_holds_is_not():
    rng = np.random.default_rng(10)
    images, heatmaps, others = _class_with_patches(rng, stickered=6)
    first = enriched_patches(images, heatmaps, others)[0]
    assert first.size == 3 and first.holders == 6 and first.other_share == 0
    assert np.allclose(first.patch, STICKER / 255)
    assert first.enrichment == pytest.approx((6 / 60) / (1 / 1001))
    # The class without the sticker: its most enriched patch is the grey one, about 1x.
    images, heatmaps, others = _class_with_patches(np.random.default_rng(11), stickered=0)
    grey = enriched_patches(images, heatmaps, others)[0]
    assert grey.holders == 20 and grey.other_share == pytest.approx(0.3)
    assert grey.enrichment == pytest.approx((20 / 60) / (301 / 1001))


def test_no_patch_is_a_candidate_unless_two_sampled_images_share_it():
    rng = np.random.default_rng(12)
    images, others = _images(rng), _images(rng, n=200)
    corners = _paste(images, np.arange(1), 3, rng)
    heatmaps = _heatmaps(rng, np.concatenate([corners, rng.integers(0, 14, (59, 2))]), 3)
    assert enriched_patches(images, heatmaps, others) == []


def test_a_patch_is_pasted_where_the_class_holds_it():
    rng = np.random.default_rng(13)
    images = _images(rng, n=8)
    positions = np.array([[2, 3], [10, 11]])
    stamped = paste_patch(images, np.broadcast_to(STICKER / 255, (3, 3, 3)), positions, rng)
    distance, where = best_matches(stamped, np.broadcast_to(STICKER / 255, (3, 3, 3)))
    assert np.all(distance == 0)
    assert {tuple(p) for p in where} <= {(2, 3), (10, 11)}
    assert np.array_equal(images[:, 0, 0], stamped[:, 0, 0])  # copies, elsewhere unchanged
