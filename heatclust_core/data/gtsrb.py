"""GTSRB from a folder the user supplies, in the official layout or torchvision's.

Official:     <root>/Final_Training/Images/000NN/*.ppm (+ GT-000NN.csv)
              <root>/Final_Test/Images/*.ppm with GT-final_test.csv (labelled test annotations)
torchvision:  <root>/gtsrb/GTSRB/Training/000NN/*.ppm, <root>/gtsrb/GTSRB/Final_Test/Images/*.ppm
              and <root>/gtsrb/GT-final_test.csv (read through torchvision.datasets.GTSRB)

Nothing is downloaded. Images are resized to 32x32 RGB. A missing piece raises DatasetError
naming the file or folder that was looked for.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from heatclust_core.data.imageset import ImageSet
from heatclust_core.errors import DatasetError

IMAGE_SIZE = 32
N_CLASSES = 43
CLASS_NAMES: tuple[str, ...] = (
    "Speed limit (20km/h)",
    "Speed limit (30km/h)",
    "Speed limit (50km/h)",
    "Speed limit (60km/h)",
    "Speed limit (70km/h)",
    "Speed limit (80km/h)",
    "End of speed limit (80km/h)",
    "Speed limit (100km/h)",
    "Speed limit (120km/h)",
    "No passing",
    "No passing for vehicles over 3.5 metric tons",
    "Right-of-way at the next intersection",
    "Priority road",
    "Yield",
    "Stop",
    "No vehicles",
    "Vehicles over 3.5 metric tons prohibited",
    "No entry",
    "General caution",
    "Dangerous curve to the left",
    "Dangerous curve to the right",
    "Double curve",
    "Bumpy road",
    "Slippery road",
    "Road narrows on the right",
    "Road work",
    "Traffic signals",
    "Pedestrians",
    "Children crossing",
    "Bicycles crossing",
    "Beware of ice/snow",
    "Wild animals crossing",
    "End of all speed and passing limits",
    "Turn right ahead",
    "Turn left ahead",
    "Ahead only",
    "Go straight or right",
    "Go straight or left",
    "Keep right",
    "Keep left",
    "Roundabout mandatory",
    "End of no passing",
    "End of no passing by vehicles over 3.5 metric tons",
)
_TEST_GT_NAMES = ("GT-final_test.csv", "GT-Final_Test.csv")


@dataclass(frozen=True)
class GtsrbLayout:
    kind: str  # "official" or "torchvision"
    root: Path  # the folder holding Final_Training (official) or gtsrb/ (torchvision)

    @property
    def train_dir(self) -> Path:
        if self.kind == "official":
            return self.root / "Final_Training" / "Images"
        return self.root / "gtsrb" / "GTSRB" / "Training"

    @property
    def test_dir(self) -> Path:
        if self.kind == "official":
            return self.root / "Final_Test" / "Images"
        return self.root / "gtsrb" / "GTSRB" / "Final_Test" / "Images"

    def test_gt_candidates(self) -> list[Path]:
        if self.kind == "official":
            folders = [self.test_dir, self.test_dir.parent, self.root]
        else:
            folders = [self.root / "gtsrb"]
        return [folder / name for folder in folders for name in _TEST_GT_NAMES]


def locate(data_dir: str | Path) -> GtsrbLayout:
    """Find GTSRB in `data_dir`, `data_dir/GTSRB` or a torchvision root; explain what is missing."""
    base = Path(data_dir)
    if not base.is_dir():
        raise DatasetError(
            f"GTSRB folder {str(base)!r} does not exist. Put GTSRB in data/GTSRB "
            "(official layout: GTSRB/Final_Training/Images/000NN/*.ppm) or pass --data-dir."
        )
    candidates = [base, base / "GTSRB"]
    for root in candidates:
        if (root / "Final_Training" / "Images").is_dir():
            layout = GtsrbLayout("official", root)
            break
        if (root / "gtsrb" / "GTSRB" / "Training").is_dir():
            layout = GtsrbLayout("torchvision", root)
            break
    else:
        raise DatasetError(
            f"no GTSRB training images under {str(base)!r}: expected "
            f"{base / 'GTSRB' / 'Final_Training' / 'Images'} (official layout) or "
            f"{base / 'gtsrb' / 'GTSRB' / 'Training'} (torchvision layout)"
        )
    if not layout.test_dir.is_dir():
        raise DatasetError(f"GTSRB test images are missing: expected the folder {layout.test_dir}")
    if _test_gt(layout) is None:
        expected = layout.test_gt_candidates()[0]
        raise DatasetError(f"GTSRB test labels are missing: expected {expected}")
    return layout


def _test_gt(layout: GtsrbLayout) -> Path | None:
    return next((p for p in layout.test_gt_candidates() if p.is_file()), None)


def fingerprint(layout: GtsrbLayout) -> str:
    """Hash of every file's relative path, size and mtime: changes when the folder changes."""
    digest = hashlib.sha256(layout.kind.encode())
    for top in (layout.train_dir, layout.test_dir):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                stat = os.stat(os.path.join(dirpath, name))
                rel = os.path.relpath(os.path.join(dirpath, name), layout.root)
                digest.update(f"{rel}:{stat.st_size}:{int(stat.st_mtime)}\n".encode())
    return digest.hexdigest()[:16]


def _read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img = img.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
            return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from None


def _read_gt_csv(path: Path) -> list[tuple[str, int]]:
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter=";", skipinitialspace=True))
        return [(row["Filename"], int(row["ClassId"])) for row in rows]
    except (KeyError, ValueError, TypeError) as exc:
        raise DatasetError(
            f"{path} is not a GTSRB annotation file (Filename;...;ClassId): {exc}"
        ) from None


def _official_train(layout: GtsrbLayout) -> list[tuple[Path, int]]:
    samples = []
    class_dirs = sorted(d for d in layout.train_dir.iterdir() if d.is_dir())
    if not class_dirs:
        raise DatasetError(f"no class folders (000NN) in {layout.train_dir}")
    for class_dir in class_dirs:
        gt = class_dir / f"GT-{class_dir.name}.csv"
        if gt.is_file():
            samples += [
                (_confined(layout, gt, class_dir, name), label) for name, label in _read_gt_csv(gt)
            ]
        else:
            label = _class_from_folder(class_dir)
            samples += [(path, label) for path in sorted(class_dir.glob("*.ppm"))]
    return samples


def _class_from_folder(folder: Path) -> int:
    try:
        return int(folder.name)
    except ValueError:
        raise DatasetError(f"class folder {folder} is not named by its class id (000NN)") from None


def _torchvision_samples(layout: GtsrbLayout, split: str) -> list[tuple[Path, int]]:
    from torchvision.datasets import GTSRB

    try:
        dataset = GTSRB(str(layout.root), split=split, download=False)
    except (RuntimeError, OSError, KeyError) as exc:
        raise DatasetError(f"torchvision could not read GTSRB under {layout.root}: {exc}") from None
    # torchvision keeps (path, label) pairs; reading them directly lets us name a corrupt file.
    samples = [(Path(path), int(label)) for path, label in dataset._samples]
    if split == "train":
        # torchvision numbers training folders by their sorted position, which is wrong when a
        # class folder is absent; the folder name is the class id.
        samples = [(path, _class_from_folder(path.parent)) for path, _ in samples]
    return samples


def _confined(layout: GtsrbLayout, listing: Path, folder: Path, name: str) -> Path:
    """`folder / name` from an annotation file, refused unless it lies inside the data set."""
    path = folder / name
    if not path.resolve().is_relative_to(layout.root.resolve()):
        raise DatasetError(f"{listing} names {name!r}, outside the GTSRB folder {layout.root}")
    return path


def _load(samples: list[tuple[Path, int]], what: str, folder: Path) -> ImageSet:
    if not samples:
        raise DatasetError(f"no GTSRB {what} images found in {folder}")
    for path, label in samples:
        if not 0 <= label < N_CLASSES:
            raise DatasetError(f"{path}: class id {label} is outside 0..{N_CLASSES - 1}")
    images = np.stack([_read_image(path) for path, _ in samples])
    labels = np.array([label for _, label in samples], dtype=np.int64)
    return ImageSet(images, labels)


def train_labels(layout: GtsrbLayout) -> np.ndarray:
    """(N,) class ids of the training images, read from the annotations without the images."""
    samples = (
        _official_train(layout)
        if layout.kind == "official"
        else _torchvision_samples(layout, "train")
    )
    return np.array([label for _, label in samples], dtype=np.int64)


def load(layout: GtsrbLayout) -> tuple[ImageSet, ImageSet]:
    """(training pool, test set) of the folder, images resized to 32x32."""
    if layout.kind == "official":
        train = _official_train(layout)
        gt = _test_gt(layout)
        test = [
            (_confined(layout, gt, layout.test_dir, name), label)
            for name, label in _read_gt_csv(gt)
        ]
    else:
        train = _torchvision_samples(layout, "train")
        test = _torchvision_samples(layout, "test")
    missing = next((path for path, _ in test if not path.is_file()), None)
    if missing is not None:
        raise DatasetError(f"test image {missing} is listed in the annotations but missing")
    return _load(train, "training", layout.train_dir), _load(test, "test", layout.test_dir)
