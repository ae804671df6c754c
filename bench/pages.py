"""Seconds from opening a page in headless chromium to its charts, against the 10 s bound.

Runs the real-browser tests (tests/test_browser.py: a fresh `streamlit run` and chromium
profile each time, empty models/ and state/, the shipped example) `--repeats` times and
collects the times they print: the landing page from opening the app, Inspect after the
click, Compare, a live-tuning slider move, Explore opened directly, a box selection and a
reload of its link. Run it alone on the machine: two processes on two cores thrash.

  python bench/pages.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

BOUND_S = 10.0
TESTS = "tests/test_browser.py"
FLOWS = "every_page or box_over_an_embedding"
# pytest -q prints a test's dot after its output: a line may start with the previous ones.
TIMING = re.compile(r"^\.*(?P<label>[A-Za-z][\w &-]*): (?P<seconds>\d+\.\d) s$", re.MULTILINE)


def cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    found = re.search(r"^model name\s*: (.+)$", text, re.MULTILINE)
    return found[1] if found else platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    times: dict[str, list[float]] = defaultdict(list)
    for repeat in range(args.repeats):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                TESTS,
                "-k",
                FLOWS,
                "-s",
                "-q",
                "-p",
                "no:cacheprovider",
            ],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"repeat {repeat + 1}: the browser tests failed\n{done.stdout[-3000:]}")
        for match in TIMING.finditer(done.stdout):
            times[match["label"]].append(float(match["seconds"]))
    print(f"{cpu_name()}, {args.repeats} repeats")
    print(f"{'page':<22} {'median':>7} {'max':>6}  under {BOUND_S:g} s")
    for label, values in times.items():
        worst = max(values)
        print(
            f"{label:<22} {statistics.median(values):>6.1f}s {worst:>5.1f}s  "
            f"{'yes' if worst < BOUND_S else 'NO'}  ({', '.join(f'{v:.1f}' for v in values)})"
        )


if __name__ == "__main__":
    main()
