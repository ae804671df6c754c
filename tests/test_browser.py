"""Smoke tests in a real browser: `streamlit run`, headless Debian chromium driven by Playwright:
the shipped example drawn at once on every page, and attack form -> job -> Inspect with its
charts drawn."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import CHROMIUM_FLAGS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
JOB_TIMEOUT_MS = 180_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("streamlit did not come up")


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = dict(os.environ)
    for name in ("data", "models", "state"):
        env[f"HEATCLUST_{name.upper()}_DIR"] = str(tmp_path / name)
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless=true",
            "--server.address=127.0.0.1",
            f"--server.port={port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _launch(playwright, chromium: Path, tmp_path: Path):
    """Headless chromium with a fresh profile and the project's flags."""
    return playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=str(chromium),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1400, "height": 1000},
    )


def _set_number(page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    page.wait_for_function(
        "([label, value]) => [...document.querySelectorAll('input')].some("
        "i => i.getAttribute('aria-label') === label && i.value === value)",
        arg=[label, value],
    )


def test_attack_form_job_and_inspect_charts_in_headless_chromium(chromium, server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = _launch(playwright, chromium, tmp_path)
        try:
            page = context.new_page()
            page.goto(f"{server}/attack")
            page.get_by_role("heading", name="Attack & train").wait_for(timeout=60_000)
            _set_number(page, "Synthetic images per class (mean; GTSRB's proportions)", "20")
            _set_number(page, "Epochs", "1")
            page.wait_for_timeout(500)  # let the rerun after the last edit settle
            page.get_by_role("button", name=re.compile(r"Run$")).click()
            page.get_by_text(re.compile("Started job")).wait_for(timeout=60_000)
            page.get_by_text(re.compile(r"· done ·")).wait_for(timeout=JOB_TIMEOUT_MS)

            page.get_by_role("link", name=re.compile("Inspect run")).first.click()
            page.get_by_role("heading", name="Inspect").wait_for(timeout=60_000)
            asr = page.locator(".js-plotly-plot", has_text="Attack success rate per class")
            asr.wait_for(timeout=60_000)
            assert asr.locator(".barlayer .point").count() == 42  # every class but the target
            gallery = page.locator(".js-plotly-plot", has_text="LRP heatmaps of")
            gallery.wait_for(timeout=60_000)
            assert gallery.locator(".heatmaplayer .hm").count() == 12  # 6 poisoned + 6 clean
            assert "run=" in page.url
        finally:
            context.close()


# A page drawn from the shipped example, first visit included, is measured against its bound
# (10 s) by bench/pages.py, alone on the machine: a test shares the CPU of whatever machine runs
# it (CI once took 11.9 s for a page this machine draws in 5.3). This ceiling still fails a
# page that computes at view time (heatmaps, training: tens of seconds to minutes).
PAGE_SECONDS = 30.0


def _plot(page, text: str):
    return page.locator(".js-plotly-plot", has_text=text).first


def _timed(page, locators, label: str, started: float) -> float:
    for locator in locators:
        locator.wait_for(timeout=60_000)
    elapsed = time.monotonic() - started
    print(f"{label}: {elapsed:.1f} s")  # read by bench/pages.py
    assert elapsed < PAGE_SECONDS, f"{label} took {elapsed:.1f} s"
    return elapsed


def test_the_example_is_drawn_on_every_page_at_once_without_a_job(chromium, server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = _launch(playwright, chromium, tmp_path)
        try:
            page = context.new_page()
            started = time.monotonic()
            page.goto(server)
            _timed(
                page,
                [
                    _plot(page, "Attack success rate per class"),
                    _plot(page, "Gromov-Wasserstein"),
                    _plot(page, "LRP heatmaps of"),
                ],
                "the landing page",
                started,
            )
            page.get_by_text("Example shipped with HeatClust").wait_for()

            started = time.monotonic()
            page.get_by_role("link", name="Inspect the example run").click()
            _timed(
                page,
                [
                    _plot(page, "Attack success rate per class"),
                    _plot(page, "samples)"),  # the cluster scatter, titled with its count
                    _plot(page, "LRP heatmaps of"),
                ],
                "Inspect",
                started,
            )
            assert "run=example-" in page.url

            started = time.monotonic()
            page.goto(f"{server}/compare")
            _timed(
                page,
                [
                    page.get_by_test_id("stDataFrame").first,
                    page.locator(".js-plotly-plot").first,
                    page.get_by_text("Live tuning"),
                ],
                "Compare",
                started,
            )
            link = page.get_by_role("link", name=re.compile("Inspect run"))
            before = link.get_attribute("href")  # ...?run=example-<the cell's run id>
            # Drag the live-tuning slider from the smallest value of its axis to the largest.
            page.get_by_test_id("stSlider").first.scroll_into_view_if_needed()
            track = page.get_by_test_id("stSlider").first.bounding_box()
            thumb = page.get_by_role("slider").first.bounding_box()
            started = time.monotonic()
            page.mouse.move(thumb["x"] + thumb["width"] / 2, thumb["y"] + thumb["height"] / 2)
            page.mouse.down()
            page.mouse.move(track["x"] + track["width"] - 2, thumb["y"] + thumb["height"] / 2)
            page.mouse.up()
            while link.get_attribute("href") == before:
                assert time.monotonic() - started < PAGE_SECONDS, "the slider redrew nothing"
                page.wait_for_timeout(100)
            assert "run=example-" in link.get_attribute("href")
            _timed(page, [link], "a slider move", started)
        finally:
            context.close()
    # Nothing was trained or queued: the example's pages read only what ships.
    models = tmp_path / "models"
    assert not models.exists() or not [p for p in models.iterdir() if p.name != "sweeps"]


# The sample ids of the points of an embedding chart inside a rectangle of page pixels,
# read from plotly's own data and axes (independent of what the app made of the drag).
POINTS_IN_BOX = """(gd, box) => {
    const rect = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const ids = [];
    for (const trace of gd._fullData) {
        for (let i = 0; i < trace.x.length; i++) {
            const px = rect.left + xa._offset + xa.l2p(trace.x[i]);
            const py = rect.top + ya._offset + ya.l2p(trace.y[i]);
            if (px >= box[0] && px <= box[2] && py >= box[1] && py <= box[3])
                ids.push(Number(trace.customdata[i]));
        }
    }
    return ids.sort((a, b) => a - b);
}"""


# Page coordinates of the first point of a chart left of a page x (plotly does not hover
# inside a drawn selection box: it belongs to the selection).
POINT_LEFT_OF = """(gd, limit) => {
    const rect = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    for (const trace of gd._fullData) {
        for (let i = 0; i < trace.x.length; i++) {
            const x = rect.left + xa._offset + xa.l2p(trace.x[i]);
            if (x < limit) return { x: x, y: rect.top + ya._offset + ya.l2p(trace.y[i]) };
        }
    }
    return null;
}"""


def _gallery_ids(page) -> list[int]:
    captions = page.get_by_test_id("stImageCaption").all_inner_texts()
    return [int(re.match(r"#(\d+) ", caption)[1]) for caption in captions]


def test_a_box_over_an_embedding_selects_its_samples_hover_shows_one_and_the_link_restores_them(
    chromium, server, tmp_path
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = _launch(playwright, chromium, tmp_path)
        try:
            page = context.new_page()
            started = time.monotonic()
            page.goto(f"{server}/explore")
            chart = _plot(page, "UMAP of the activations")
            _timed(page, [chart], "Explore", started)
            chart.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            area = chart.locator(".nsewdrag").first.bounding_box()
            # The right half of the plot area, top to bottom: part of the class.
            box = [
                area["x"] + area["width"] * 0.5,
                area["y"] + 2,
                area["x"] + area["width"] - 2,
                area["y"] + area["height"] - 2,
            ]
            expected = chart.evaluate(POINTS_IN_BOX, box)
            everything = chart.evaluate(POINTS_IN_BOX, [-1e9, -1e9, 1e9, 1e9])
            assert 0 < len(expected) < len(everything)
            started = time.monotonic()
            page.mouse.move(box[0], box[1])
            page.mouse.down()
            page.mouse.move((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, steps=5)
            page.mouse.move(box[2], box[3], steps=5)
            page.mouse.up()
            heading = page.get_by_role("heading", name=f"Selection: {len(expected)} samples")
            _timed(page, [heading, page.get_by_test_id("stImageCaption").first], "a box", started)
            page.wait_for_timeout(500)
            assert _gallery_ids(page) == expected[:60]
            assert "sel=" in page.url

            # Hovering a point shows that sample's image beside the pointer.
            point = chart.evaluate(POINT_LEFT_OF, box[0] - 10)
            page.mouse.move(point["x"], point["y"])
            thumbnail = page.locator("#heatclust-hover-thumbnail")
            thumbnail.wait_for(state="visible", timeout=10_000)
            assert int(thumbnail.get_attribute("data-sample")) in everything
            assert thumbnail.get_attribute("src").startswith("data:image/jpeg;base64,")

            started = time.monotonic()
            page.reload()
            _timed(page, [heading, page.get_by_test_id("stImageCaption").first], "reload", started)
            page.wait_for_timeout(500)
            assert _gallery_ids(page) == expected[:60]
        finally:
            context.close()
