"""Smoke test in a real browser: `streamlit run`, headless Debian chromium driven by Playwright,
attack form -> job -> Inspect with its charts drawn."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
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
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.new_page()
            page.goto(server)
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
