"""Sweeps on tiny budgets: grid expansion, resuming, presets, tables computed by hand."""

import json

import numpy as np
import pytest

from heatclust_core.cli import main
from heatclust_core.config import TrainConfig
from heatclust_core.detection.run import detection_path
from heatclust_core.errors import ConfigError
from heatclust_core.storage.run_store import RunStore
from heatclust_core.sweeps import SweepConfig, preset, run_sweep, sweep_table
from heatclust_core.sweeps.executors import LocalExecutor
from heatclust_core.sweeps.runner import load_sweeps
from heatclust_core.sweeps.tables import paper_layout
from tests.helpers import sweep_cell_record, tiny_sweep


class CountingExecutor(LocalExecutor):
    """Runs cells like the local executor and remembers which it was given; can stop early."""

    def __init__(self, stop_after: int | None = None):
        super().__init__(1)
        self.given: list[float] = []
        self.stop_after = stop_after

    def run(self, cells, detect, detectors, store, device, progress):
        self.given += [cell.attack.p for cell in cells]
        for index, cell in enumerate(cells):
            if index == self.stop_after:
                raise KeyboardInterrupt  # the user stops the sweep before this cell
            for _, summary in super().run([cell], detect, detectors, store, device, progress):
                yield index, summary


def test_the_grid_is_every_combination_and_a_seed_sets_attack_and_training():
    sweep = SweepConfig(kinds=("standard", "amplitude"), p=(10.0, 33.0), amp=(64,), seeds=(0, 4))
    cells = sweep.cells()
    assert len(cells) == 8
    assert {(c.attack.kind, c.attack.p, c.attack.seed) for c in cells} == {
        (k, p, s) for k in ("standard", "amplitude") for p in (10.0, 33.0) for s in (0, 4)
    }
    assert all(c.train.seed == c.attack.seed and c.attack.amp == 64 for c in cells)
    assert sweep.sweep_id() == SweepConfig(**sweep.model_dump()).sweep_id()


def test_a_bad_axis_value_is_named():
    with pytest.raises(ConfigError) as error:
        SweepConfig(p=(33.0, 150.0)).cells()
    assert error.value.parameter == "attack.p" and "(0, 100)" in error.value.message


@pytest.mark.slow
def test_a_stopped_sweep_resumes_without_recomputing_finished_cells(tmp_path):
    store = RunStore(tmp_path / "models")
    sweep = tiny_sweep(tmp_path / "data")
    first = CountingExecutor(stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, store, first, "cpu")
    saved = load_sweeps(store).values[0]
    assert first.given == [20.0, 30.0] and [c is not None for c in saved["cells"]] == [True, False]
    assert not saved["complete"]

    second = CountingExecutor()
    record = run_sweep(sweep, store, second, "cpu")
    assert second.given == [30.0] and record["complete"]
    third = CountingExecutor()
    assert run_sweep(sweep, store, third, "cpu")["cells"] == record["cells"]
    assert third.given == []

    # A detector added later reuses the trained runs and computes only the new detections.
    wider = sweep.model_copy(update={"detectors": ("ac", "raw")})
    runs_before = sorted(store.run_ids())
    fourth = CountingExecutor()
    widened = run_sweep(wider, store, fourth, "cpu")
    assert fourth.given == [20.0, 30.0] and sorted(store.run_ids()) == runs_before
    assert set(widened["cells"][0]["detections"]) == {"ac", "raw"}
    assert widened["cells"][0]["detections"]["ac"] == record["cells"][0]["detections"]["ac"]


@pytest.mark.slow
def test_cells_read_back_the_saved_detections(tmp_path):
    store = RunStore(tmp_path / "models")
    sweep = tiny_sweep(tmp_path / "data", p=(25.0,))
    cell = run_sweep(sweep, store, device="cpu")["cells"][0]
    saved = json.loads(
        detection_path(
            store, cell["run_id"], sweep.detect.model_copy(update={"detector": "ac"})
        ).read_text()
    )
    assert cell["detections"]["ac"]["acc"] == saved["acc"]
    assert cell["masr"] == store.load_metrics(cell["run_id"])["masr"]


@pytest.mark.slow
def test_a_damaged_detection_of_a_cell_is_computed_again(tmp_path):
    store = RunStore(tmp_path / "models")
    sweep = tiny_sweep(tmp_path / "data", p=(25.0,))
    cell = run_sweep(sweep, store, device="cpu")["cells"][0]
    path = detection_path(store, cell["run_id"], sweep.detect.model_copy(update={"detector": "ac"}))
    path.write_text(path.read_text()[:100])
    executor = CountingExecutor()
    again = run_sweep(sweep, store, executor, "cpu")
    assert executor.given == [25.0] and again["complete"]
    assert again["cells"][0]["detections"]["ac"]["acc"] == cell["detections"]["ac"]["acc"]
    assert json.loads(path.read_text())["acc"] == cell["detections"]["ac"]["acc"]


def test_table_means_and_variances_match_numbers_computed_by_hand():
    record = {
        "config": {"detectors": ["ac", "hc"]},
        "cells": [
            sweep_cell_record(33.0, 0, 0.90, (0.80, 0.70, 0.90), (1.00, 1.00, 1.00)),
            sweep_cell_record(33.0, 1, 0.80, (0.90, 0.90, 0.90), (0.99, 0.98, 1.00)),
            sweep_cell_record(33.0, 2, 0.70, (0.70, 0.50, 0.90), (0.98, 0.96, 1.00)),
            sweep_cell_record(15.0, 0, 0.60, (0.60, 0.60, 0.60), (0.95, 0.90, 1.00)),
            None,  # not computed yet: left out
        ],
    }
    table = sweep_table(record)
    top, bottom = table.iloc[0], table.iloc[1]
    assert (top["p"], top["seeds"], bottom["p"], bottom["seeds"]) == (33.0, 3, 15.0, 1)
    # ASR in percent: 90, 80, 70 -> mean 80, sample variance ((10)^2 + 0 + (10)^2) / 2 = 100.
    assert top["asr mean"] == pytest.approx(80.0) and top["asr var"] == pytest.approx(100.0)
    # AC TPR: 70, 90, 50 -> mean 70, variance (0 + 400 + 400) / 2 = 400.
    assert top["AC TPR mean"] == pytest.approx(70.0) and top["AC TPR var"] == pytest.approx(400.0)
    # HC ACC: 100, 99, 98 -> mean 99, variance (1 + 0 + 1) / 2 = 1.
    assert top["HC ACC mean"] == pytest.approx(99.0) and top["HC ACC var"] == pytest.approx(1.0)
    assert top["HC TNR var"] == pytest.approx(0.0)
    assert bottom["masr mean"] == pytest.approx(30.0) and np.isnan(bottom["masr var"])
    layout = paper_layout(table, record)
    assert list(layout.columns)[:4] == ["p", "MASR", "MASR var", "AC ACC"]
    assert layout["HC ACC"].tolist() == pytest.approx([99.0, 95.0])


def test_presets_say_their_budget_and_the_full_one_is_the_papers():
    sweep, note = preset("table1")
    assert [c.attack.p for c in sweep.cells()] == [33.0, 15.0, 10.0, 5.0, 2.0]
    assert {c.attack.kind for c in sweep.cells()} == {"standard"}
    assert "reduced budget: 40 epochs (paper: 100)" in note
    full, full_note = preset("table1", full=True)
    assert full.base.train.epochs == 100 and "full budget" in full_note
    # A table's cell trains the network a single `train` of the same attack trains.
    assert sweep.base.train == TrainConfig()
    assert full.base.train == TrainConfig(epochs=100, patience=20)
    table4, _ = preset("table4")
    assert [(c.attack.kind, c.attack.amp, c.attack.p) for c in table4.cells()] == [
        ("amplitude", 128, 33.0),
        ("amplitude", 64, 33.0),
        ("amplitude", 32, 33.0),
    ]
    table5, note5 = preset("table5")
    assert len(table5.cells()) == 6 and "3 seeds (paper: 10)" in note5
    assert len(preset("table5", full=True)[0].cells()) == 20
    with pytest.raises(ConfigError):
        preset("table9")


@pytest.mark.slow
def test_sweep_command_prints_the_table_as_json_and_writes_csv(tmp_path, capsys):
    args = [
        "sweep",
        "--p", "20", "30",
        "--images-per-class", "20",
        "--epochs", "1",
        "--detectors", "ac",
        "--data-dir", str(tmp_path / "data"),
        "--models-dir", str(tmp_path / "models"),
        "--csv", str(tmp_path / "table.csv"),
        "--json", "--quiet",
    ]  # fmt: skip
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert [row["p"] for row in result["table"]] == [20.0, 30.0]
    assert set(result["table"][0]) == {"p", "ASR", "AC ACC", "AC TPR", "AC TNR"}
    assert (tmp_path / "table.csv").read_text().startswith("kind,p,sticker_size,amp,seeds")

    report = tmp_path / "sweep.html"
    args = ["report", "--sweep", result["sweep_id"], "--out", str(report), "--quiet"]
    assert main([*args, "--models-dir", str(tmp_path / "models")]) == 0
    assert "2 of 2 cells computed" in report.read_text()
    assert main([*args, "--models-dir", str(tmp_path / "elsewhere")]) == 2


def test_sweep_command_refuses_a_bad_axis_value_and_writes_nothing(tmp_path, capsys):
    code = main(["sweep", "--p", "33", "150", "--models-dir", str(tmp_path / "models")])
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: --p: must be in (0, 100), got 150.0"
    assert not (tmp_path / "models").exists()


def test_a_preset_runs_the_detectors_asked_for():
    from heatclust_core.cli import build_parser
    from heatclust_core.cli.sweep import sweep_config_from_args

    args = build_parser().parse_args(
        ["sweep", "--preset", "table1", "--detectors", "ac", "ss", "hc"]
    )
    sweep, _ = sweep_config_from_args(args)
    assert sweep.detectors == ("ac", "ss", "hc")
    assert sweep.cells() == preset("table1")[0].cells()
    default, _ = sweep_config_from_args(build_parser().parse_args(["sweep", "--preset", "table1"]))
    assert default.detectors == preset("table1")[0].detectors


def test_a_sweeps_id_does_not_depend_on_where_the_synthetic_set_is_cached(tmp_path):
    here, there = tiny_sweep(tmp_path / "a", p=(33.0,)), tiny_sweep(tmp_path / "b", p=(33.0,))
    assert here.sweep_id() == there.sweep_id()
    assert tiny_sweep(tmp_path / "a", p=(15.0,)).sweep_id() != here.sweep_id()
