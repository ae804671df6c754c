"""Self-contained HTML reports: every section, every chart drawn offline in headless chromium."""

import html
import re
import shutil

import pytest

from heatclust_core.cli import main
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.run import run_detection
from heatclust_core.detection.scan import ScanConfig, run_scan
from heatclust_core.presentation.report import run_report, sweep_report
from heatclust_core.storage.atomic import write_json
from heatclust_core.storage.run_store import (
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    TRAIN_SET_FILE,
    RunStore,
)
from tests.helpers import CHROMIUM_FLAGS, sweep_cell_record

RUN_SECTIONS = (
    "Attack success",
    "Poisoned examples",
    "Detectors",
    "Heatmaps",
    "Class scan",
    "Configuration and versions",
)


@pytest.fixture(scope="module")
def reported_run(tiny_run, tmp_path_factory):
    """The session's tiny network in a store of its own (other tests add results to the
    session's run, which would change the report's sections), with an AC and an HC detection
    and a scan (coarse settings)."""
    session_store, run_id = tiny_run
    store = RunStore(tmp_path_factory.mktemp("report") / "models")
    store.path(run_id).mkdir(parents=True)
    for name in (CONFIG_FILE, METRICS_FILE, MODEL_FILE, TRAIN_SET_FILE):
        shutil.copy2(session_store.path(run_id) / name, store.path(run_id) / name)
    run_detection(store, run_id, DetectConfig(detector="ac"), "cpu")
    # A 1-epoch network's diffuse heatmaps take GW at the default epsilon 0.003 ~30 s on 46
    # samples; at 0.02 ~2 s.
    hc = DetectConfig(detector="hc", relevance_share=0.5, mds_samples=6, max_iter=3, epsilon=0.02)
    run_detection(store, run_id, hc, "cpu")
    run_scan(store, run_id, ScanConfig(samples_per_class=12), "cpu")
    return store, run_id


def _sweep_record():
    return {
        "sweep_id": "tiny-0123456789",
        "config": {"detectors": ["ac", "hc"], "name": "tiny"},
        "cells": [
            sweep_cell_record(33.0, 0, 0.9, (0.8, 0.7, 0.9), (1.0, 1.0, 1.0)),
            sweep_cell_record(33.0, 1, 0.8, (0.9, 0.9, 0.9), (0.99, 0.98, 1.0)),
            sweep_cell_record(15.0, 0, 0.6, (0.6, 0.6, 0.6), (0.95, 0.9, 1.0)),
        ],
    }


def test_run_report_holds_every_section_and_no_external_reference(reported_run):
    store, run_id = reported_run
    page = run_report(store, run_id)
    for section in RUN_SECTIONS:
        assert f"<h2>{section}</h2>" in page
    assert page.count("<script") >= 7 and not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<(link|img)[^>]+(href|src)=[\"']https?:", page)
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', page)) == 12  # 6 + 6
    assert run_id in page and "&quot;versions&quot;" in page  # the escaped JSON block
    assert html.escape(store.load_config(run_id).attack.trigger_label) in page
    reading = store.load_metrics(run_id)["poisons_read_as_target"]
    assert f"{reading['without_trigger']:.3f} without it" in page


def test_run_report_says_how_a_pgd_run_reads_noise(tiny_run, tmp_path):
    session_store, run_id = tiny_run
    store = RunStore(tmp_path / "models")
    store.path(run_id).mkdir(parents=True)
    for name in (CONFIG_FILE, MODEL_FILE, TRAIN_SET_FILE):
        shutil.copy2(session_store.path(run_id) / name, store.path(run_id) / name)
    # The reading of a label-consistent run (the tiny run's attack has no PGD change).
    metrics = session_store.load_metrics(run_id)
    metrics["noise_read_as_target"] = {"eps": 0.075, "with_noise": 0.379, "clean": 0.001}
    write_json(store.path(run_id) / METRICS_FILE, metrics)
    page = run_report(store, run_id)
    assert "±0.075 sign noise and no trigger: 0.379 (clean: 0.001;" in html.unescape(page)


def test_report_command_writes_the_file(reported_run, tmp_path, capsys):
    store, run_id = reported_run
    out = tmp_path / "report.html"
    args = ["report", "--run", run_id, "--out", str(out), "--models-dir", str(store.root)]
    assert main(args) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert f"wrote {out}" in capsys.readouterr().out


def test_sweep_report_has_the_table_and_a_chart_per_rate():
    page = sweep_report(_sweep_record(), note="Table 5 on tiny data")
    assert "Table 5 on tiny data" in page and "3 of 3 cells computed" in page
    # success, ACC, TPR, TNR, per-class success
    assert page.count('class="plotly-graph-div"') == 5
    assert "<th>HC ACC</th>" in page and "<th>MASR var</th>" in page


def _open_offline(path, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path="/usr/bin/chromium",
            headless=True,
            offline=True,
            args=CHROMIUM_FLAGS,
        )
        try:
            page = context.new_page()
            requests = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.js-plotly-plot .main-svg').length > 0"
            )
            charts = page.locator(".js-plotly-plot")
            drawn = [charts.nth(i).locator(".main-svg").count() > 0 for i in range(charts.count())]
            headings = page.locator("h2").all_inner_texts()
        finally:
            context.close()
    external = [url for url in requests if not url.startswith(("file:", "data:"))]
    return drawn, headings, external


@pytest.mark.browser
def test_run_report_draws_every_chart_in_chromium_with_the_network_off(
    reported_run, tmp_path, chromium
):
    store, run_id = reported_run
    path = tmp_path / "run.html"
    path.write_text(run_report(store, run_id))
    drawn, headings, external = _open_offline(path, tmp_path)
    # per-class ASR, training, AC clusters, HC clusters, HC MDS, heatmaps, class scan
    assert drawn == [True] * 7
    assert tuple(headings) == RUN_SECTIONS
    assert external == []


@pytest.mark.browser
def test_sweep_report_draws_every_chart_offline(tmp_path, chromium):
    path = tmp_path / "sweep.html"
    path.write_text(sweep_report(_sweep_record()))
    drawn, _, external = _open_offline(path, tmp_path)
    assert drawn == [True] * 5 and external == []
