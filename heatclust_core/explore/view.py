"""The explorer's view state and its link: every part of a view (run, class, embedding,
colouring, k, selection, gallery mode, colour map) as URL query parameters, validated one by
one. A bad parameter is dropped with a plain-text note naming it and what it allows; its
value is never echoed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from heatclust_core.detection.config import DETECTORS
from heatclust_core.explore.config import EMBEDDING_METHODS, K_CHOICES, EmbedConfig

GALLERY_MODES = ("input", "heatmap", "overlay")
# Name shown -> plotly colour scale; LRP's convention (red for, blue against) first.
COLOUR_MAPS = {"bwr": "RdBu_r", "hot": "Hot", "viridis": "Viridis", "gray": "Greys_r"}
BASE_COLOURINGS = ("truth", "cluster", "predicted", "trigger")
# Colour by a saved detection of the class: its detector's name.
COLOURINGS = BASE_COLOURINGS + DETECTORS
COLOURING_TITLES = {
    "truth": "ground truth",
    "cluster": "clusters at the chosen k",
    "predicted": "predicted class",
    "trigger": "share of relevance on the trigger",
    "raw": "Raw clustering's clusters",
    "ac": "Activation Clustering's clusters",
    "ss": "Spectral Signatures' flags",
    "hc": "Heatmap Clustering's clusters",
}
RUN_PATTERN = re.compile(r"^(example-)?[0-9a-f]{12}$")
SETTINGS_PATTERN = re.compile(r"^[a-z-]{3,10}-[0-9a-f]{10}$")
MAX_CLASS = 10_000


@dataclass(frozen=True)
class ExploreView:
    run: str | None = None
    class_id: int | None = None
    method: str = EmbedConfig().method
    settings: str | None = None
    colour: str = "truth"
    k: int = K_CHOICES[0]
    selection: tuple[int, ...] = ()
    mode: str = "heatmap"
    cmap: str = "bwr"
    problems: tuple[str, ...] = field(default=(), compare=False)


# View field -> query parameter.
QUERY_NAMES = {
    "run": "run",
    "class_id": "class",
    "method": "emb",
    "settings": "eset",
    "colour": "color",
    "k": "k",
    "selection": "sel",
    "mode": "view",
    "cmap": "cmap",
}


def encode_ids(ids) -> str:
    """Sorted ids as ranges: [1, 2, 3, 7] -> "1-3.7" (URL-safe, short for clusters)."""
    ordered = sorted(set(int(i) for i in ids))
    parts, start = [], None
    for n, value in enumerate(ordered):
        if start is None:
            start = value
        if n + 1 == len(ordered) or ordered[n + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}-{value}")
            start = None
    return ".".join(parts)


def decode_ids(text: str, limit: int = 1_000_000) -> tuple[int, ...]:
    """The inverse of encode_ids; ValueError on anything else (or more than `limit` ids)."""
    if not text:
        return ()
    ids: set[int] = set()
    for part in text.split("."):
        match = re.fullmatch(r"(\d{1,9})(?:-(\d{1,9}))?", part)
        if not match:
            raise ValueError("not a list of id ranges")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first or len(ids) + last - first + 1 > limit:
            raise ValueError("bad range")
        ids.update(range(first, last + 1))
    return tuple(sorted(ids))


def _ids_or_none(text: str) -> tuple[int, ...] | None:
    try:
        return decode_ids(text)
    except ValueError:
        return None


def parse_view(query: Mapping[str, str]) -> ExploreView:
    """An ExploreView from query parameters; each one that does not validate falls back to its
    default, with a note in `problems`. Run ids and class ids are checked here for form only:
    whether they exist depends on the run store and the run (the page checks)."""
    values: dict = {}
    problems: list[str] = []

    def bad(name: str, allowed: str) -> None:
        problems.append(f"The link's {QUERY_NAMES[name]} parameter is not {allowed}; ignored.")

    def take(name: str, parse, allowed: str) -> None:
        """values[name] = parse(text), or a problem when parse says None."""
        text = query.get(QUERY_NAMES[name])
        if text is None:
            return
        value = parse(text)
        if value is None:
            bad(name, allowed)
        else:
            values[name] = value

    def choice(name: str, options) -> None:
        take(name, lambda text: text if text in options else None, "one of " + ", ".join(options))

    def matching(pattern: re.Pattern):
        return lambda text: text if pattern.fullmatch(text) else None

    take("run", matching(RUN_PATTERN), "a run id (12 hex digits)")
    take(
        "class_id",
        lambda text: int(text) if text.isdigit() and int(text) <= MAX_CLASS else None,
        "a class id",
    )
    choice("method", EMBEDDING_METHODS)
    take(
        "settings",
        matching(SETTINGS_PATTERN),
        "an embedding's settings name (such as umap-0123456789)",
    )
    choice("colour", COLOURINGS)
    take(
        "k",
        lambda text: int(text) if text.isdigit() and int(text) in K_CHOICES else None,
        f"a number of clusters in {K_CHOICES[0]}..{K_CHOICES[-1]}",
    )
    take("selection", _ids_or_none, "a list of sample ids (such as 3-7.12)")
    choice("mode", GALLERY_MODES)
    choice("cmap", tuple(COLOUR_MAPS))
    return replace(ExploreView(**values), problems=tuple(problems))


def view_query(view: ExploreView) -> dict[str, str]:
    """The query parameters of a view; defaults and empty parts are left out."""
    default = ExploreView()
    query = {}
    for name, parameter in QUERY_NAMES.items():
        value = getattr(view, name)
        if value is None or value == () or (name != "run" and value == getattr(default, name)):
            continue
        query[parameter] = encode_ids(value) if name == "selection" else str(value)
    return query
