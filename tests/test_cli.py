"""The command line end to end on tiny budgets, and its refusals of bad parameters."""

import json
import subprocess
import sys

import pytest

from heatclust_core.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def dirs(tmp_path):
    return ["--data-dir", str(tmp_path / "data"), "--models-dir", str(tmp_path / "models")]


TINY = ["--images-per-class", "40", "--epochs", "1", "--quiet"]


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--source", "5", "--target", "5"], "--target"),
        (["--p", "0"], "--p"),
        (["--p", "150"], "--p"),
        (["--sticker-size", "40"], "--sticker-size"),
        (["--amp", "300"], "--amp"),
        (["--eps", "-1"], "--eps"),
        (["--epochs", "0"], "--epochs"),
        (["--target", "No such sign"], "--target"),
        (["--dataset", "gtsrb"], "--data-dir"),
    ],
)
def test_invalid_parameters_exit_2_with_one_line_and_write_nothing(
    capsys, tmp_path, dirs, argv, flag
):
    if argv == ["--dataset", "gtsrb"]:
        dirs = ["--data-dir", str(tmp_path / "missing"), "--models-dir", str(tmp_path / "models")]
    code, out, err = _run(capsys, "train", *dirs, *TINY, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {flag}:"), err
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere


def test_train_json_then_cached(capsys, dirs, tmp_path):
    code, out, _ = _run(capsys, "train", *dirs, *TINY, "--json")
    assert code == 0
    first = json.loads(out)
    for key in (
        "run_id",
        "clean_accuracy",
        "asr",
        "per_class_asr",
        "masr",
        "n_parameters",
        "cached",
        "seconds",
        "config",
    ):
        assert key in first
    assert first["cached"] is False
    assert (
        first["config"]["attack"] | {"kind": "standard", "source": 2, "target": 5, "p": 33.0}
        == first["config"]["attack"]
    )
    assert set(first["per_class_asr"]) == {str(c) for c in range(15)} - {"5"}
    assert 0.0 <= first["clean_accuracy"] <= 1.0 and 0.0 <= first["masr"] <= 1.0
    run_dir = tmp_path / "models" / first["run_id"]
    assert {p.name for p in run_dir.iterdir()} == {
        "model.safetensors",
        "config.json",
        "metrics.json",
        "train_set.npz",
    }

    code, out, _ = _run(capsys, "train", *dirs, *TINY, "--json")
    second = json.loads(out)
    assert second["cached"] is True and second["run_id"] == first["run_id"]
    assert second["clean_accuracy"] == first["clean_accuracy"]
    assert second["seconds"] < first["seconds"]


@pytest.mark.parametrize("attack", ["label-consistent", "amplitude"])
def test_label_consistent_attacks_train_a_surrogate_first(capsys, dirs, tmp_path, attack):
    code, out, _ = _run(
        capsys, "train", *dirs, *TINY, "--attack", attack, "--amp", "64", "--p", "50", "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["config"]["attack"]["kind"] == attack
    assert result["n_poisoned"] == 15  # 50 % of the 30 target images in the pool
    runs = {p.name for p in (tmp_path / "models").iterdir()}
    assert len(runs) == 2 and result["run_id"] in runs  # the run and its clean surrogate


def test_text_output_and_class_names(capsys, dirs):
    code, out, _ = _run(capsys, "train", *dirs, *TINY, "--source", "Stop", "--target", "Yield")
    assert code == 0
    assert "Stop -> Yield" in out and "clean accuracy" in out and "MASR" in out


def test_module_entry_point_help():
    result = subprocess.run(
        [sys.executable, "-m", "heatclust_core", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for flag in (
        "--attack",
        "--source",
        "--target",
        "--p",
        "--sticker-size",
        "--amp",
        "--eps",
        "--seed",
        "--epochs",
        "--dataset",
        "--data-dir",
        "--json",
    ):
        assert flag in result.stdout
