"""Gallery tiles: input, heatmap in a colour map, overlay."""

import numpy as np
import pytest

from heatclust_core.explore.gallery import SCALE, colour_table, colourise, gallery_tile
from heatclust_core.explore.view import COLOUR_MAPS, GALLERY_MODES


def test_bwr_is_diverging_red_for_blue_against_white_at_zero():
    heatmap = np.array([[1.0, 0.0, -1.0]])
    red, middle, blue = colourise(heatmap, "bwr")[0]
    assert int(red[0]) > int(red[2]) + 50
    assert int(blue[2]) > int(blue[0]) + 50
    assert middle.min() > 200  # near white


def test_sequential_maps_show_positive_relevance_only():
    heatmap = np.array([[-5.0, 0.0, 2.0]])
    tiles = colourise(heatmap, "gray")[0]
    np.testing.assert_array_equal(tiles[0], tiles[1])  # negative relevance looks like none
    assert colour_table("gray")[0].sum() < colour_table("gray")[-1].sum()


@pytest.mark.parametrize("mode", GALLERY_MODES)
@pytest.mark.parametrize("cmap", list(COLOUR_MAPS))
def test_every_mode_and_map_gives_an_enlarged_rgb_tile(mode, cmap):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    tile = gallery_tile(image, rng.normal(size=(8, 8)), mode, cmap)
    assert tile.shape == (8 * SCALE, 8 * SCALE, 3) and tile.dtype == np.uint8
    if mode == "input":
        np.testing.assert_array_equal(tile[::SCALE, ::SCALE], image)


def test_the_overlay_keeps_the_image_where_there_is_no_relevance():
    image = np.full((4, 4, 3), 100, dtype=np.uint8)
    heatmap = np.zeros((4, 4))
    heatmap[0, 0] = 1.0
    tile = gallery_tile(image, heatmap, "overlay", "bwr")
    np.testing.assert_array_equal(tile[-1, -1], [100, 100, 100])
    assert tile[0, 0, 0] > tile[0, 0, 2]  # the relevant pixel turns red


def test_a_thumbnail_is_a_jpeg_data_uri_of_the_image():
    import base64
    import io

    from PIL import Image

    from heatclust_core.explore.gallery import thumbnail_uri

    image = np.zeros((32, 32, 3), dtype=np.uint8)
    image[:, :16] = 200
    uri = thumbnail_uri(image)
    assert uri.startswith("data:image/jpeg;base64,") and len(uri) < 3000
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert decoded.shape == (32, 32, 3)
    assert np.abs(decoded.astype(int) - image).mean() < 10
