"""Helpers several test modules share: tiny GTSRB folders, sweep records, browser flags.

Fixtures live in the conftest.py files; these are plain functions and constants.
"""

from PIL import Image

from heatclust_core.config import DataConfig, RunConfig, TrainConfig
from heatclust_core.sweeps import SweepConfig

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"


def write_ppm(path, colour, size=(40, 36)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format="PPM")


def make_official(root, classes=(0, 2, 5), per_class=3, test_per_class=2):
    train = root / "GTSRB" / "Final_Training" / "Images"
    for c in classes:
        folder = train / f"{c:05d}"
        rows = []
        for i in range(per_class):
            name = f"00000_{i:05d}.ppm"
            write_ppm(folder / name, (10 * c, 100, 200))
            rows.append(f"{name};40;36;5;5;35;31;{c}\n")
        (folder / f"GT-{c:05d}.csv").write_text(HEADER + "".join(rows))
    test = root / "GTSRB" / "Final_Test" / "Images"
    rows = []
    for c in classes:
        for i in range(test_per_class):
            name = f"{c:02d}{i:03d}.ppm"
            write_ppm(test / name, (10 * c, 50, 50))
            rows.append(f"{name};40;36;5;5;35;31;{c}\n")
    (test / "GT-final_test.csv").write_text(HEADER + "".join(rows))
    return root


def make_torchvision(root, classes=(0, 2, 5), per_class=3, test_per_class=2):
    base = root / "gtsrb"
    for c in classes:
        for i in range(per_class):
            write_ppm(
                base / "GTSRB" / "Training" / f"{c:05d}" / f"00000_{i:05d}.ppm", (10 * c, 1, 2)
            )
    rows = []
    for c in classes:
        for i in range(test_per_class):
            name = f"{c:02d}{i:03d}.ppm"
            write_ppm(base / "GTSRB" / "Final_Test" / "Images" / name, (10 * c, 3, 4))
            rows.append(f"{name};40;36;5;5;35;31;{c}\n")
    (base / "GT-final_test.csv").write_text(HEADER + "".join(rows))
    return root


def tiny_sweep(data_dir, **axes) -> SweepConfig:
    base = RunConfig(
        data=DataConfig(data_dir=str(data_dir), images_per_class=20),
        train=TrainConfig(epochs=1),
    )
    return SweepConfig(name="tiny", base=base, detectors=("ac",), **({"p": (20.0, 30.0)} | axes))


def sweep_cell_record(p, seed, asr, ac, hc):
    """A sweep cell's saved summary with AC and HC rates given as (acc, tpr, tnr)."""
    return {
        "run_id": f"run{p}{seed}",
        "kind": "label-consistent",
        "p": p,
        "sticker_size": 3,
        "amp": 128,
        "seed": seed,
        "clean_accuracy": 0.99,
        "asr": asr,
        "masr": asr / 2,
        "per_class_asr": {"0": asr, "1": asr / 2},
        "n_poisoned": 10,
        "detections": {
            "ac": {"acc": ac[0], "tpr": ac[1], "tnr": ac[2], "precision": 1, "f1": 1},
            "hc": {"acc": hc[0], "tpr": hc[1], "tnr": hc[2], "precision": 1, "f1": 1},
        },
    }
