"""The command line end to end on tiny budgets, and its refusals of bad parameters."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from heatclust_core.attacks.metrics import noise_read_as_target
from heatclust_core.cli import main
from heatclust_core.config import DataConfig
from heatclust_core.data.loading import load_dataset
from heatclust_core.storage.run_store import RunStore


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def dirs(tmp_path, tiny_data_dir):
    return ["--data-dir", str(tiny_data_dir), "--models-dir", str(tmp_path / "models")]


TINY = ["--images-per-class", "20", "--epochs", "1", "--quiet"]


def _target_pool(data_dir) -> int:
    """Images of the target class (80 km/h) in the tiny set's train+validation pool."""
    data = DataConfig(data_dir=str(data_dir), images_per_class=20)
    return int(load_dataset(data).pool.class_counts(43)[5])


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
        (["--p", "90"], "--p"),  # more poisons than the tiny set's source class holds
        (["--seed", "5000000000"], "--seed"),
        # the amplitude attack's caveat is not said before a refusal
        (["--attack", "amplitude", "--target", "No such sign"], "--target"),
    ],
)
def test_invalid_parameters_exit_2_with_one_line_and_write_nothing(
    capsys, tmp_path, dirs, argv, flag
):
    if argv == ["--dataset", "gtsrb"]:
        dirs = ["--data-dir", str(tmp_path / "missing"), "--models-dir", str(tmp_path / "models")]
    before = sorted(tmp_path.rglob("*"))  # the data folder with the tiny set's cache
    code, out, err = _run(capsys, "train", *dirs, *TINY, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {flag}:"), err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


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
        "poisons_read_as_target",
        "noise_read_as_target",
        "n_parameters",
        "cached",
        "seconds",
        "config",
        "caveats",
    ):
        assert key in first
    assert first["cached"] is False
    assert first["caveats"] == []  # the standard attack's sticker survives the augmentations
    assert (
        first["config"]["attack"] | {"kind": "standard", "source": 2, "target": 5, "p": 33.0}
        == first["config"]["attack"]
    )
    assert set(first["per_class_asr"]) == {str(c) for c in range(43)} - {"5"}
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


@pytest.mark.slow
@pytest.mark.parametrize("attack", ["label-consistent", "amplitude"])
def test_label_consistent_attacks_train_a_surrogate_first(capsys, dirs, tmp_path, attack):
    code, out, err = _run(
        capsys, "train", *dirs, *TINY, "--attack", attack, "--amp", "64", "--p", "50", "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["config"]["attack"]["kind"] == attack
    # The amplitude attack trains without the resampling transforms, so nothing to warn of.
    augment = result["config"]["train"]["augment"]
    assert augment["resampling"] == ("off" if attack == "amplitude" else "on")
    assert augment["random_resized_crop"] == (attack != "amplitude")
    assert result["caveats"] == [] and "note:" not in err
    assert result["n_poisoned"] == round(0.5 * _target_pool(dirs[1]))
    # The stored reading is the trained network's: recomputed from the saved run, the same.
    store = RunStore(tmp_path / "models")
    config = store.load_config(result["run_id"])
    recomputed = noise_read_as_target(
        store.load_model(result["run_id"]),
        load_dataset(config.data).test,
        config.attack,
        torch.device("cpu"),
    )
    assert result["noise_read_as_target"] == recomputed and recomputed["eps"] == 0.075
    # The cached run's summary for people says it too.
    _, printed, _ = _run(
        capsys, "train", *dirs, *TINY, "--attack", attack, "--amp", "64", "--p", "50"
    )
    assert "sign noise and no trigger" in printed
    runs = {p.name for p in (tmp_path / "models").iterdir()}
    assert len(runs) == 2 and result["run_id"] in runs  # the run and its clean surrogate


@pytest.mark.slow
def test_an_amplitude_sweep_trains_its_cells_without_resampling(capsys, dirs, tmp_path):
    argv = ["--images-per-class", "20", "--epochs", "1", "--quiet", "--attack", "amplitude"]
    code, out, err = _run(
        capsys,
        "sweep",
        *dirs,
        *argv,
        "--amp",
        "64",
        "32",
        "--p",
        "50",
        "--detectors",
        "ac",
        "--json",
    )
    assert code == 0
    record = json.loads(out)
    assert record["caveats"] == [] and "note:" not in err
    store = RunStore(tmp_path / "models")
    for cell in record["cells"]:
        augment = store.load_config(cell["run_id"]).train.augment
        assert augment.resampling == "off" and not augment.random_resized_crop


def test_text_output_and_class_names(capsys, dirs):
    code, out, _ = _run(capsys, "train", *dirs, *TINY, "--source", "Yield", "--target", "Stop")
    assert code == 0
    assert "Yield -> Stop" in out and "clean accuracy" in out and "MASR" in out
    assert "Training poisons read as the target:" in out


@pytest.mark.slow  # a fresh interpreter imports torch and the whole package
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


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-run")
    dirs = ["--data-dir", str(root / "data"), "--models-dir", str(root / "models")]
    assert main(["train", *dirs, *TINY, "--json"]) == 0
    run_id = next(p.name for p in (root / "models").iterdir() if not p.name.startswith("."))
    return run_id, root / "models"


@pytest.mark.parametrize(
    "extra",
    [
        ["--detector", "raw"],
        ["--detector", "raw", "--reducer", "ica"],
        ["--detector", "ac", "--flag-rule", "relative-size"],
        ["--detector", "ac", "--reducer", "ica"],
        ["--detector", "ss", "--expected-share", "0.3"],
        [
            "--detector",
            "hc",
            "--relevance-share",
            "0.5",
            "--barycenter-size",
            "8",
            "--max-iter",
            "2",
            "--epsilon",
            "0.05",
        ],
    ],
)
def test_detect_json_reports_rates_counts_and_stage_times(capsys, tiny_run, extra):
    run_id, models = tiny_run
    code, out, _ = _run(
        capsys, "detect", "--run", run_id, "--models-dir", str(models), "--quiet", "--json", *extra
    )
    assert code == 0
    result = json.loads(out)
    clean = _target_pool(models.parent / "data")
    poisoned = round(33 / 67 * clean)  # standard attack: poisons are 33 % of the class after
    assert result["class"] == 5 and result["n_samples"] == clean + poisoned
    assert result["n_poisoned"] == poisoned == result["tp"] + result["fn"]
    assert result["tp"] + result["tn"] + result["fp"] + result["fn"] == clean + poisoned
    assert result["acc"] == pytest.approx((result["tp"] + result["tn"]) / (clean + poisoned))
    for key in ("tpr", "tnr", "precision", "f1", "flagged_cluster"):
        assert key in result
    assert {"features", "clustering", "total"} <= set(result["seconds"])
    if result["detector"] == "hc":  # samples x k solves per iteration, plus the seeding's
        assert 1 <= result["kmeans_iterations"] <= 2
        assert result["gw_solves"] >= result["kmeans_iterations"] * 2 * result["n_samples"]
    saved = list((models / run_id / "detections").glob(f"{result['detector']}-*.json"))
    assert saved


def test_remediate_json_compares_the_run_before_and_after(capsys, tiny_run):
    run_id, models = tiny_run
    args = ["--run", run_id, "--models-dir", str(models), "--quiet", "--detector", "ss"]
    code, out, _ = _run(
        capsys, "remediate", *args, "--mode", "finetune", "--finetune-epochs", "1", "--json"
    )
    assert code == 0
    result = json.loads(out)
    for key in (
        "run_id",
        "removed",
        "removed_poisoned",
        "clean_accuracy_before",
        "clean_accuracy_after",
        "asr_before",
        "asr_after",
        "masr_before",
        "masr_after",
        "der",
    ):
        assert key in result
    assert result["run_id"] != run_id and (models / result["run_id"]).is_dir()
    assert "removed_index" not in result  # saved in the run folder, not printed
    code, out, _ = _run(capsys, "remediate", *args, "--mode", "finetune", "--finetune-epochs", "1")
    assert code == 0 and "DER" in out and "(cached)" in out
    code, _, err = _run(capsys, "remediate", *args, "--finetune-lr", "0")
    assert code == 2 and "--finetune-lr" in err and "must be in (0, 1]" in err


@pytest.mark.slow
def test_scan_ranks_every_class_large_enough_to_split(capsys, tiny_run):
    run_id, models = tiny_run
    code, out, _ = _run(
        capsys, "scan", "--run", run_id, "--models-dir", str(models), "--quiet", "--json"
    )
    assert code == 0
    ranking = json.loads(out)["ranking"]
    data = DataConfig(data_dir=str(models.parent / "data"), images_per_class=20)
    counts = load_dataset(data).pool.class_counts(43)
    moved = round(33 / 67 * counts[5])  # the standard attack relabels 50 km/h images as 80 km/h
    counts[2] -= moved
    counts[5] += moved
    # Classes with fewer than 10 training samples are too small to split and are left out.
    assert sorted(entry["class"] for entry in ranking) == np.flatnonzero(counts >= 10).tolist()
    scores = [entry["score"] for entry in ranking]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--k", "1"], "--k"),
        (["--relevance-share", "0"], "--relevance-share"),
        (["--relevance-share", "1.5"], "--relevance-share"),
        (["--epsilon", "0"], "--epsilon"),
        (["--class", "99"], "--class"),
        (["--seed", "5000000000"], "--seed"),
    ],
)
def test_detect_refuses_bad_parameters(capsys, tiny_run, argv, flag):
    run_id, models = tiny_run
    before = sorted(p.name for p in (models / run_id).rglob("*"))
    code, out, err = _run(
        capsys, "detect", "--run", run_id, "--models-dir", str(models), "--quiet", *argv
    )
    assert code == 2 and out == ""
    assert err.strip().startswith(f"error: {flag}:"), err
    assert sorted(p.name for p in (models / run_id).rglob("*")) == before


def test_detect_on_a_missing_run_names_the_run(capsys, tmp_path):
    code, _, err = _run(capsys, "detect", "--run", "nope", "--models-dir", str(tmp_path), "--quiet")
    assert code == 2 and err.startswith("error: --run:") and "nope" in err


def test_scan_refuses_a_seed_out_of_range(capsys, tiny_run):
    run_id, models = tiny_run
    code, out, err = _run(
        capsys, "scan", "--run", run_id, "--models-dir", str(models), "--seed", "5000000000"
    )
    assert code == 2 and out == "" and err.strip().startswith("error: --seed:"), err


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--workers", "0"], "--workers"),
        (["--p", "99.9"], "--p"),
        (["--attack", "amplitude", "--workers", "0"], "--workers"),
    ],
)
def test_sweep_refuses_before_writing_its_record(capsys, tmp_path, dirs, argv, flag):
    code, out, err = _run(capsys, "sweep", *dirs, "--images-per-class", "20", "--quiet", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"error: {flag}:"), err
    assert not (tmp_path / "models").exists()


def test_report_to_a_folder_or_an_unwritable_place_is_one_line(capsys, tiny_run, tmp_path):
    run_id, models = tiny_run
    (tmp_path / "file").write_text("x")
    for out_path in (tmp_path, tmp_path / "file" / "report.html"):
        code, out, err = _run(
            capsys, "report", "--run", run_id, "--models-dir", str(models), "--out", str(out_path)
        )
        assert code == 1 and out == "", err
        assert len(err.strip().splitlines()) == 1 and "cannot write" in err, err


def test_the_command_line_finds_the_apps_folders_through_the_environment(
    capsys, tiny_run, tmp_path, monkeypatch
):
    run_id, models = tiny_run
    monkeypatch.setenv("HEATCLUST_MODELS_DIR", str(models))
    out_path = tmp_path / "report.html"
    code, _, err = _run(capsys, "report", "--run", run_id, "--out", str(out_path), "--quiet")
    assert code == 0, err
    assert run_id in out_path.read_text()


@pytest.mark.slow
def test_a_data_folder_written_two_ways_is_one_run(capsys, tmp_path):
    models = ["--models-dir", str(tmp_path / "models")]
    first = [*TINY, "--json", *models]
    code, out, _ = _run(capsys, "train", "--data-dir", str(tmp_path / "data"), *first)
    assert code == 0 and not json.loads(out)["cached"]
    code, out, _ = _run(capsys, "train", "--data-dir", f"{tmp_path}/./data/", *first)
    assert code == 0 and json.loads(out)["cached"]


@pytest.mark.parametrize("command", ["detect", "scan", "report"])
def test_a_damaged_run_is_one_line_naming_the_file(capsys, tiny_run, tmp_path, command):
    import shutil

    run_id, models = tiny_run
    copy = tmp_path / "models"
    shutil.copytree(models / run_id, copy / run_id)
    metrics = copy / run_id / "metrics.json"
    metrics.write_text(metrics.read_text()[:50])
    extra = ["--out", str(tmp_path / "r.html")] if command == "report" else []
    code, out, err = _run(
        capsys, command, "--run", run_id, "--models-dir", str(copy), "--quiet", *extra
    )
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "metrics.json is damaged" in err, err
