import numpy as np
import pytest

from heatclust_core.errors import ConfigError
from heatclust_core.explain.point_cloud import point_cloud


def test_keeps_the_fewest_pixels_holding_the_share_of_positive_mass():
    heatmap = np.zeros((4, 4))
    heatmap[0, 0], heatmap[1, 1], heatmap[2, 2], heatmap[3, 3] = 50, 30, 15, 5
    heatmap[0, 3] = -100  # negative relevance never enters
    cloud = point_cloud(heatmap, share=0.9)
    assert cloud.coords.tolist() == [[0, 0], [1, 1], [2, 2]]
    np.testing.assert_allclose(cloud.weights, [50 / 95, 30 / 95, 15 / 95])
    assert point_cloud(heatmap, share=1.0).size == 4
    assert point_cloud(heatmap, share=0.5).size == 1


def test_distance_matrix_is_euclidean_over_its_maximum():
    heatmap = np.zeros((8, 8))
    heatmap[0, 0], heatmap[0, 3], heatmap[4, 0] = 3, 2, 1
    C = point_cloud(heatmap, share=1.0).distance_matrix()
    np.testing.assert_allclose(C, [[0, 3 / 5, 4 / 5], [3 / 5, 0, 1], [4 / 5, 1, 0]])


@pytest.mark.parametrize("share", [0, -0.1, 1.5])
def test_share_outside_zero_one_is_refused(share):
    with pytest.raises(ConfigError) as error:
        point_cloud(np.ones((2, 2)), share)
    assert error.value.parameter == "relevance_share"
