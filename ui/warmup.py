"""Loading the compute stack in the background once the first page is drawn.

The landing page reads saved results only; the pages a visitor opens next (Inspect, Explore,
Attack & train) need scikit-learn, torchvision and zennit, about 2.5 s of imports on a 2-core
CPU. Importing them while the visitor reads the first page spares the second page that wait.
"""

from __future__ import annotations

import importlib
import threading
import time

# Third-party packages only: they never import this app's modules, so an import here and the
# page's own import of the same package wait on each other's module lock and cannot deadlock.
HEAVY_MODULES = (
    "torch",
    "torchvision",
    "scipy.spatial",
    "sklearn.cluster",
    "sklearn.decomposition",
    "zennit.attribution",
    "zennit.composites",
)

# When the first page's script ends the browser is still compiling (plotly's script alone is
# 4.7 MB) and drawing it; on 2 cores, imports started at once slowed that. Over 4 runs each
# (headless chromium, 2-core EPYC): charts 6.6 s after opening the app at once, 5.3 s after a
# 2 s wait; a click into Inspect right after the charts then took 2.3 s and 4.4 s.
DELAY_S = 2.0

_started = threading.Event()


def start() -> None:
    """Import HEAVY_MODULES in a daemon thread, once per server process."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_import_all, name="heatclust-warmup", daemon=True).start()


def _import_all() -> None:
    time.sleep(DELAY_S)
    for name in HEAVY_MODULES:
        importlib.import_module(name)
