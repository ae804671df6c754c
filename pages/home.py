"""Overview: the shipped example's story in numbers and pictures, and where to go next."""

import streamlit as st

from heatclust_core.attacks.preview import attack_preview
from heatclust_core.data.gallery import upscale
from heatclust_core.detection.run import load_detections
from heatclust_core.detection.scan import METHOD_SUMMARIES, load_scans
from heatclust_core.errors import HeatClustError
from heatclust_core.presentation.figures import (
    DETECTOR_NAMES,
    cluster_scatter,
    detection_points,
    detector_bars,
    heatmap_gallery_figure,
    per_class_asr_figure,
    scan_figure,
)
from heatclust_core.sweeps.runner import load_sweeps
from heatclust_core.sweeps.tables import paper_layout, sweep_table
from ui import example
from ui.navigation import require_app

require_app()


def _report(store, run_id: str) -> str:
    # Imported on the click: the report computes heatmaps, which loads torch and zennit.
    from heatclust_core.presentation.report import run_report

    return run_report(store, run_id)


def _links(run_key: str | None = None) -> None:
    left, middle, right = st.columns(3)
    left.page_link("pages/attack.py", label="Attack & train your own", icon=":material/science:")
    middle.page_link(
        "pages/inspect.py",
        label="Inspect the example run" if run_key else "Inspect a run",
        icon=":material/insights:",
        query_params={"run": run_key} if run_key else None,
    )
    right.page_link(
        "pages/compare.py", label="Compare sweeps", icon=":material/stacked_line_chart:"
    )


st.title("HeatClust")
st.markdown(
    "A backdoor hides in a classifier's training data: a few images carry a small trigger and "
    "a wrong label, and the trained network obeys the trigger. HeatClust mounts such attacks, "
    "trains the attacked network and looks for the poisoned samples: by clustering the raw "
    "images, the network's activations (Activation Clustering, Spectral Signatures) or its "
    "LRP heatmaps, where a trigger draws the network's attention (Heatmap Clustering)."
)

shipped = example.store()
manifest = example.manifest()
if shipped is None or manifest is None:
    st.info(
        "The shipped example is hidden (sidebar) or absent: `python -m heatclust_core example "
        "--rebuild` makes it.",
        icon=":material/auto_stories:",
    )
    _links()
    st.stop()

run_id = manifest["main_run"]
try:
    config = shipped.load_config(run_id)
    metrics = shipped.load_metrics(run_id)
except HeatClustError as exc:
    st.error(f"The shipped example cannot be shown: {exc}")
    _links()
    st.stop()
attack, names = config.attack, metrics["class_names"]
source, target = names[attack.source], names[attack.target]
minutes = manifest["seconds"].get("total", 0) / 60

st.header("An example, computed in advance", divider="gray")
st.caption(
    f":material/auto_stories: Example shipped with HeatClust (read-only), built "
    f"{manifest['built'][:10]} from the default settings in {minutes:.0f} min on "
    f"{manifest.get('device', 'cpu')}; the sidebar hides it. Your own runs go to the "
    "Attack & train page."
)

st.subheader("1. The attack")
left, right = st.columns([3, 2])
left.markdown(
    f"A traffic-sign classifier ({len(names)} classes, synthetic signs drawn like GTSRB's) "
    f"is trained on poisoned data: **{metrics['n_poisoned']}** images labelled "
    f"**{target}** are in fact **{source}** signs carrying a {attack.sticker_size}x"
    f"{attack.sticker_size}-pixel {attack.sticker_color} sticker ({attack.p:g} % of that class). "
    f"Nothing else about the data is wrong."
)
preview = attack_preview(config.data, attack, n=4)
if preview is not None:
    right.image(
        [upscale(image, 3) for image in preview.poisoned],
        caption=[f"labelled {target}"] * len(preview.poisoned),
    )

st.subheader("2. The backdoor took hold")
cells = st.columns(3)
cells[0].metric("Clean accuracy", f"{metrics['clean_accuracy']:.1%}", help="on the test set")
cells[1].metric(
    "Attack success (ASR)",
    f"{metrics['asr']:.1%}",
    help=f"{source} test images with the sticker, classified as {target}",
)
cells[2].metric("Mean ASR over all classes", f"{metrics['masr']:.1%}")
st.markdown(
    f"The network still classifies clean signs as well as before, but **{metrics['asr']:.0%}** "
    f"of the {source} test signs with a sticker are read as {target}. Every class, stickered:"
)
st.plotly_chart(
    per_class_asr_figure(metrics, attack.source, attack.target, attack.kind), key="home-asr"
)

scans = load_scans(shipped, run_id).values
if scans:
    st.subheader("3. Which class hides a backdoor? The class scan")
    top = scans[0]["ranking"][0]
    found = "the attacked class" if top["class"] == attack.target else "not the attacked class"
    method = scans[0].get("config", {}).get("method", "activation")
    st.markdown(
        f"Without knowing the attack, the scan ranks the classes by "
        f"{METHOD_SUMMARIES.get(method, method)}. First: **{top['class']} {top['name']}**, "
        f"{found}."
    )
    with st.expander("The ranking of all classes"):
        st.plotly_chart(scan_figure(scans[0], attack.target), key="home-scan")

detections = [d for d in load_detections(shipped, run_id).values if d["class"] == attack.target]
by_detector = {}
for detection in detections:  # the plan's detections (MDS picture for HC) first
    if detection["config"].get("mds_samples", 0) or detection["detector"] != "hc":
        by_detector.setdefault(detection["detector"], detection)
if by_detector:
    st.subheader("4. Which training images are poisoned? The detectors")
    hc = by_detector.get("hc")
    if hc is not None:
        flagged = hc["tp"] + hc["fp"]
        st.markdown(
            f"Each detector splits the {hc['n_samples']} images labelled {target} into two "
            f"clusters and flags one. Heatmap Clustering flags {flagged}, of which "
            f"**{hc['tp']} of the {hc['n_poisoned']} poisons** and {hc['fp']} clean images "
            f"(accuracy {hc['acc']:.1%}); the others, on the same images:"
        )
    ordered = [by_detector[name] for name in DETECTOR_NAMES if name in by_detector]
    st.plotly_chart(detector_bars(ordered), key="home-detectors")
    if hc is not None and hc.get("mds"):
        st.plotly_chart(
            cluster_scatter(
                detection_points(hc),
                ("MDS 1", "MDS 2"),
                f"{DETECTOR_NAMES['hc']}: samples placed by their Gromov-Wasserstein "
                "distances (x = poisoned)",
                mds=True,
            ),
            key="home-mds",
        )

gallery = example.gallery()
if gallery is not None:
    st.subheader("5. What the network looks at")
    st.markdown(
        "LRP heatmaps (red: evidence for the label) of poisoned images put the network's "
        "attention on the sticker; on clean images it lies on the sign's digits and shape."
    )
    poisoned_tiles, clean_tiles = gallery
    st.plotly_chart(
        heatmap_gallery_figure(poisoned_tiles, clean_tiles, target), key="home-heatmaps"
    )

sweeps = load_sweeps(shipped).values
if sweeps:
    st.subheader("6. How it changes with the attack's strength")
    st.markdown(
        "The example's sweeps train one network per poisoning rate p (standard attack) and per "
        "trigger amplitude (label-consistent amplitude attack), in percent:"
    )
    # The example's saved records are final (it is read-only), so they are drawn as saved.
    for column, record in zip(st.columns(len(sweeps)), sweeps, strict=False):
        table = sweep_table(record)
        if not table.empty:
            column.dataframe(paper_layout(table, record).round(1), hide_index=True)

st.subheader("Go further")
_links(example.key(run_id))
st.download_button(
    "HTML report of the example run",
    lambda: _report(shipped, run_id),
    f"heatclust-example-{run_id}.html",
    "text/html",
    icon=":material/download:",
    key="home-report",
)
