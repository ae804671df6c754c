"""GTSRB loading from tiny folders, in both layouts, written by the tests themselves."""

import numpy as np
import pytest

from heatclust_core.data import gtsrb
from heatclust_core.errors import DatasetError
from tests.helpers import HEADER, make_official, make_torchvision, write_ppm


@pytest.mark.parametrize(
    "maker, kind", [(make_official, "official"), (make_torchvision, "torchvision")]
)
def test_both_layouts_load_resized_with_labels(tmp_path, maker, kind):
    root = maker(tmp_path)
    layout = gtsrb.locate(root)
    assert layout.kind == kind
    pool, test = gtsrb.load(layout)
    assert pool.images.shape == (9, 32, 32, 3) and pool.images.dtype == np.uint8
    assert test.images.shape == (6, 32, 32, 3)
    assert sorted(np.unique(pool.labels).tolist()) == [0, 2, 5]
    assert np.bincount(test.labels, minlength=6)[[0, 2, 5]].tolist() == [2, 2, 2]
    # The red channel encodes the class in the files written above.
    for images, labels in ((pool.images, pool.labels), (test.images, test.labels)):
        np.testing.assert_array_equal(images[:, 16, 16, 0], 10 * labels)


def test_official_layout_found_from_its_own_folder(tmp_path):
    make_official(tmp_path)
    assert gtsrb.locate(tmp_path / "GTSRB").kind == "official"


def test_missing_folder_says_where_to_put_it(tmp_path):
    with pytest.raises(DatasetError, match=r"does not exist.*data/GTSRB"):
        gtsrb.locate(tmp_path / "nowhere")


def test_folder_without_images_names_both_expected_layouts(tmp_path):
    with pytest.raises(DatasetError, match=r"Final_Training.*Training"):
        gtsrb.locate(tmp_path)


def test_missing_test_labels_names_the_file(tmp_path):
    make_official(tmp_path)
    (tmp_path / "GTSRB" / "Final_Test" / "Images" / "GT-final_test.csv").unlink()
    with pytest.raises(DatasetError, match=r"GT-final_test\.csv"):
        gtsrb.locate(tmp_path)


def test_corrupt_image_is_named(tmp_path):
    make_official(tmp_path)
    bad = tmp_path / "GTSRB" / "Final_Training" / "Images" / "00002" / "00000_00001.ppm"
    bad.write_bytes(b"P6 not really an image")
    with pytest.raises(DatasetError, match=r"00000_00001\.ppm"):
        gtsrb.load(gtsrb.locate(tmp_path))


def test_fingerprint_changes_when_files_change(tmp_path):
    make_official(tmp_path)
    layout = gtsrb.locate(tmp_path)
    before = gtsrb.fingerprint(layout)
    assert gtsrb.fingerprint(layout) == before
    write_ppm(layout.train_dir / "00000" / "extra.ppm", (0, 0, 0))
    assert gtsrb.fingerprint(layout) != before


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../../outside.ppm"])
def test_an_annotation_naming_a_file_outside_the_folder_is_refused(tmp_path, name):
    make_official(tmp_path)
    gt = tmp_path / "GTSRB" / "Final_Training" / "Images" / "00002" / "GT-00002.csv"
    gt.write_text(HEADER + f"{name};40;36;5;5;35;31;2\n")
    with pytest.raises(DatasetError, match="outside the GTSRB folder"):
        gtsrb.load(gtsrb.locate(tmp_path))


def test_the_parent_of_the_given_folder_is_not_searched(tmp_path):
    make_official(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(DatasetError, match="no GTSRB training images under"):
        gtsrb.locate(tmp_path / "elsewhere")


def test_a_folder_holding_no_readable_image_is_named(tmp_path):
    make_official(tmp_path, classes=(0,))
    training = tmp_path / "GTSRB" / "Final_Training" / "Images" / "00000"
    for path in training.iterdir():
        path.unlink()
    (training / "00000_00000.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"no GTSRB training images found in .*Training"):
        gtsrb.load(gtsrb.locate(tmp_path))
