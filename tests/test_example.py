import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from heatclust_core.cli import main
from heatclust_core.errors import RunNotFoundError, StorageError
from heatclust_core.example.build import ExamplePlan, build_example, default_plan
from heatclust_core.example.check import check_example
from heatclust_core.example.shipped import GALLERY_FILE, example_store, read_gallery, read_manifest
from heatclust_core.explain.tiles import read_tiles, write_tiles
from heatclust_core.pipeline import resolve

REPOSITORY = Path(__file__).resolve().parent.parent
# Building the tiny example (seven trainings and every detector) and checking the shipped one
# take about a minute: the full tier only.
pytestmark = pytest.mark.slow


def test_a_built_example_checks_out_against_the_code(tiny_example):
    example_dir, _, data_dir, plan = tiny_example
    assert check_example(example_dir, data_dir, plan) == []
    manifest = read_manifest(example_dir)
    assert manifest["main_run"] == resolve(plan.run).run_id()
    assert manifest["sweeps"] == [sweep.sweep_id() for sweep in plan.sweeps]
    # The landing page's heatmaps: drawn from the target class, poisoned and clean apart.
    poisoned, clean = read_gallery(example_dir)
    assert poisoned and clean
    assert all(t.poisoned for t in poisoned) and not any(t.poisoned for t in clean)
    target = example_store(example_dir).load_config(manifest["main_run"]).attack.target
    assert {t.label for t in poisoned + clean} == {target}


def test_the_example_keeps_the_target_class_images_and_the_cells_results_only(tiny_example):
    example_dir, work_dir, _, _ = tiny_example
    store = example_store(example_dir)
    main_run = read_manifest(example_dir)["main_run"]
    train_set = store.load_train_set(main_run)
    target = store.load_config(main_run).attack.target
    members = np.flatnonzero(train_set.data.labels == target)
    assert train_set.has_images(members)
    assert train_set.image_available.sum() == len(members) < len(train_set.data.labels)
    assert not train_set.has_images(np.flatnonzero(train_set.data.labels != target)[:1])
    cells = [run for run in store.run_ids() if run != main_run]
    assert len(cells) == 2  # p = 15 % and amp 128; p = 33 % is the main run
    for cell in cells:
        assert not store.has_network(cell)
        assert store.load_metrics(cell)["asr"] >= 0
        with pytest.raises(RunNotFoundError, match="results of run"):
            store.load_model(cell)
    # The surrogate of the amplitude attack stays in the work folder.
    assert len(list(Path(work_dir).glob("[0-9a-f]" * 12))) == 4


def test_the_example_store_refuses_writes(tiny_example):
    example_dir = tiny_example[0]
    store = example_store(example_dir)
    main_run = read_manifest(example_dir)["main_run"]
    with pytest.raises(StorageError, match="read-only"):
        store.delete(main_run)
    assert store.exists(main_run)


def test_check_names_a_rate_a_detection_and_defaults_that_differ(tiny_example, tmp_path):
    import shutil

    example_dir, _, data_dir, plan = tiny_example
    copy = tmp_path / "example"
    shutil.copytree(example_dir, copy)
    main_run = read_manifest(copy)["main_run"]
    metrics_path = copy / "models" / main_run / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics["clean_accuracy"] += 0.1
    metrics_path.write_text(json.dumps(metrics))
    detection_path = next((copy / "models" / main_run / "detections").glob("ac-*.json"))
    detection = json.loads(detection_path.read_text())
    detection["tp"] += 1
    detection_path.write_text(json.dumps(detection))

    tiles = read_tiles(copy / GALLERY_FILE)
    tiles[0] = dataclasses.replace(tiles[0], heatmap=tiles[0].heatmap * 1.1)
    write_tiles(copy / GALLERY_FILE, tiles)

    problems = check_example(copy, data_dir, plan)
    assert any("clean_accuracy: stored" in problem for problem in problems)
    assert any("tp: stored" in problem for problem in problems)
    assert f"gallery: sample {tiles[0].sample}'s heatmap differs" in problems
    (copy / GALLERY_FILE).unlink()
    assert any("no landing-page heatmaps" in p for p in check_example(copy, data_dir, plan))

    other = plan.run.model_copy(update={"train": plan.run.train.model_copy(update={"epochs": 2})})
    changed = ExamplePlan(other, plan.detections, plan.scan, plan.sweeps)
    assert "rebuild it" in check_example(example_dir, data_dir, changed)[0]


def test_rebuilding_from_the_cache_replaces_the_example_whole(tiny_example):
    example_dir, work_dir, data_dir, plan = tiny_example
    before = read_manifest(example_dir)
    manifest = build_example(example_dir, work_dir, plan, device="cpu")
    assert manifest["main_run"] == before["main_run"]
    assert manifest["seconds"]["train"] < 5  # every run came from the work folder's cache
    assert check_example(example_dir, data_dir, plan) == []
    assert not list(example_dir.parent.glob(".example-*"))


def test_example_command_shows_and_checks(tiny_example, capsys):
    example_dir, _, data_dir, _ = tiny_example
    assert main(["example", "--example-dir", str(example_dir), "--json", "--quiet"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["main_run"] == read_manifest(example_dir)["main_run"]
    # The tiny example is not the default configuration's: --check says so and fails.
    code = main(
        [
            "example",
            "--check",
            "--example-dir",
            str(example_dir),
            "--data-dir",
            str(data_dir),
            "--quiet",
        ]
    )
    assert code == 1
    assert "rebuild it" in capsys.readouterr().out


def test_the_shipped_example_is_what_the_code_produces(tmp_path_factory):
    """The repository's example/: its weights give the stored rates on the regenerated data,
    its detections' rates follow from their labels and the ids are the current defaults'."""
    data_dir = tmp_path_factory.mktemp("shipped-data")
    problems = check_example(REPOSITORY / "example", data_dir, default_plan(), device="cpu")
    assert problems == []


def test_the_example_runs_report_is_labelled_and_drawn_from_the_shipped_files(tiny_example):
    from heatclust_core.presentation.report import run_report

    example_dir = tiny_example[0]
    main_run = read_manifest(example_dir)["main_run"]
    html = run_report(example_store(example_dir), main_run)
    assert "The example shipped with HeatClust" in html
    assert "Heatmaps" in html and "Detectors" in html
