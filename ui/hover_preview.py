"""A sample's thumbnail beside the pointer while it hovers over a point of a plotly chart.

Plotly's hover labels take no images, and Streamlit's chart sends no hover events, so a small
script in the page attaches to the chart (found by its layout.meta) and shows the thumbnail
of the hovered point's customdata (a sample id). The script and the thumbnails are the app's
own: nothing a user typed reaches them."""

from __future__ import annotations

import json

import streamlit as st

_SCRIPT = """
(() => {
  const registry = (window.heatclustThumbnails = window.heatclustThumbnails || {});
  registry[__META__] = __THUMBNAILS__;
  let tip = document.getElementById("heatclust-hover-thumbnail");
  if (!tip) {
    tip = document.createElement("img");
    tip.id = "heatclust-hover-thumbnail";
    tip.alt = "hovered sample";
    Object.assign(tip.style, {
      position: "fixed", display: "none", width: "96px", height: "96px",
      imageRendering: "pixelated", border: "2px solid #444", background: "#fff",
      zIndex: 100000, pointerEvents: "none",
    });
    document.body.appendChild(tip);
  }
  const attach = () => {
    for (const chart of document.querySelectorAll(".js-plotly-plot")) {
      const meta = chart.layout && chart.layout.meta;
      // Plotly drops its listeners when it redraws a chart from scratch (a new event
      // emitter): attach again whenever the emitter is not the one listened to.
      if (!(meta in registry) || !chart.on || !chart._ev) continue;
      if (chart.heatclustEmitter === chart._ev) continue;
      chart.heatclustEmitter = chart._ev;
      chart.on("plotly_hover", (event) => {
        const point = event.points && event.points[0];
        const source = point && registry[meta][String(point.customdata)];
        if (!source) return;
        tip.src = source;
        tip.dataset.sample = String(point.customdata);
        tip.style.left = event.event.clientX + 16 + "px";
        tip.style.top = event.event.clientY + 16 + "px";
        tip.style.display = "block";
      });
      chart.on("plotly_unhover", () => { tip.style.display = "none"; });
    }
  };
  attach();
  if (!window.heatclustHoverObserver) {
    window.heatclustHoverObserver = new MutationObserver(attach);
    window.heatclustHoverObserver.observe(document.body, { childList: true, subtree: true });
  }
})();
"""


def hover_thumbnails(meta: str, thumbnails: dict[int, str]) -> None:
    """Thumbnails (sample id -> image data URI) on hover over the chart whose layout.meta is
    `meta`."""
    script = _SCRIPT.replace("__META__", json.dumps(meta)).replace(
        "__THUMBNAILS__", json.dumps({str(k): v for k, v in thumbnails.items()})
    )
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)
