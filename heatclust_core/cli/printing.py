"""The commands' results as text on stdout, for a person (--json prints them as they are)."""

from __future__ import annotations

from typing import Any

from heatclust_core.attacks.metrics import describe_readings
from heatclust_core.detection.trigger import trigger_summary


def print_train(summary: dict[str, Any]) -> None:
    names = summary["class_names"]
    config = summary["config"]["attack"]
    print(
        f"run {summary['run_id']}{' (cached)' if summary['cached'] else ''}: "
        f"{config['kind']} attack, {names[config['source']]} -> {names[config['target']]}, "
        f"p={config['p']}%"
    )
    print(f"  parameters      {summary['n_parameters']:,}")
    print(f"  clean accuracy  {summary['clean_accuracy']:.4f}")
    print(f"  ASR             {summary['asr']:.4f}")
    print(f"  MASR            {summary['masr']:.4f}")
    print(
        "  per-class ASR   "
        + ", ".join(f"{c}:{v:.2f}" for c, v in summary["per_class_asr"].items())
    )
    for line in describe_readings(summary):
        print(f"  {line}")
    print(f"  seconds         {summary['seconds']:.1f}")
    for line in summary.get("caveats", ()):
        print(f"  note            {line}")


def print_embed(result: dict[str, Any]) -> None:
    print(
        f"{result['title']} of class {result['class']} ({result['class_name']}) of run "
        f"{result['run_id']}: {result['n_samples']} samples, {result['n_poisoned']} poisoned"
    )
    print("  seconds " + ", ".join(f"{k} {v:.1f}" for k, v in result["seconds"].items()))
    print(f"  saved as embeddings/{result['result_name']}.json in the run folder")


def print_example(result: dict[str, Any]) -> None:
    if result["action"] == "check":
        problems = result["problems"]
        print(f"example in {result['example_dir']}: " + ("consistent" if not problems else ""))
        for problem in problems:
            print(f"  {problem}")
        return
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in result["seconds"].items())
    print(f"example in {result['example_dir']}, built {result['built']} ({seconds})")
    print(f"  run {result['main_run']}; sweeps {', '.join(result['sweeps'])}")


def print_report(result: dict[str, Any]) -> None:
    print(f"wrote {result['out']} ({result['bytes'] / 1e6:.1f} MB)")


def print_detect(result: dict[str, Any]) -> None:
    print(
        f"{result['detector']} on class {result['class']} ({result['class_name']}) of run "
        f"{result['run_id']}: {result['n_samples']} samples, {result['n_poisoned']} poisoned"
    )
    print(
        f"  ACC {result['acc']:.4f}  TPR {result['tpr']:.4f}  TNR {result['tnr']:.4f}  "
        f"precision {result['precision']:.4f}  F1 {result['f1']:.4f}"
    )
    print(
        f"  TP {result['tp']}  TN {result['tn']}  FP {result['fp']}  FN {result['fn']}  "
        f"flagged cluster {result['flagged_cluster']} of sizes {result['cluster_sizes']}"
    )
    if len(silhouettes := result.get("silhouettes", {})) > 1:
        print(
            f"  k = {result['k_chosen']} by silhouette ("
            + ", ".join(f"k = {k}: {value:.3f}" for k, value in silhouettes.items())
            + ")"
        )
    print("  seconds " + ", ".join(f"{k} {v:.1f}" for k, v in result["seconds"].items()))
    if "kmeans_iterations" in result:
        print(
            f"  k-means iterations {result['kmeans_iterations']} (at most "
            f"{result['config']['max_iter']}), {result['gw_solves']:,} GW solves"
        )


def print_remediate(result: dict[str, Any]) -> None:
    trigger = result.get("trigger")
    found = trigger is not None and trigger["found"]
    removed = f"the {result['removed']} samples {result['detector']} flagged" + (
        " or that hold the recovered trigger" if found else ""
    )
    print(
        f"run {result['source_run']} without {removed} ({result['removed_poisoned']} of its "
        f"{result['n_poisoned']} poisons), {result['mode']}: run "
        f"{result['run_id']}{' (cached)' if result['cached'] else ''}"
    )
    if trigger is not None:
        print("  " + trigger_summary(trigger))
    for name, key in (("clean accuracy", "clean_accuracy"), ("ASR", "asr"), ("MASR", "masr")):
        print(f"  {name:<15} {result[key + '_before']:.4f} -> {result[key + '_after']:.4f}")
    print(f"  DER             {result['der']:.4f}")
    for verdict in result["exre"] or []:
        source = verdict["suspected_source"]
        print(
            f"  ExRe cluster {verdict['cluster']} ({verdict['size']} samples, "
            f"{verdict['truly_poisoned']} poisoned): {verdict['own_label_share']:.2f} keep "
            f"their label -> {verdict['verdict']}"
            + (
                f", suspected source {source} {verdict['suspected_source_name']}"
                if source is not None and verdict["verdict"] == "confirmed"
                else ""
            )
        )


def print_scan(result: dict[str, Any]) -> None:
    method = result.get("config", {}).get("method", "heatmap")
    print(f"class scan of run {result['run_id']} ({method}; most suspicious first)")
    for entry in result["ranking"]:
        parts = [f"  {entry['class']:>3} {entry['name']:<28} score {entry['score']:.3f}"]
        if "smaller_share" in entry:
            parts.append(f"smaller cluster {entry['smaller_share']:.2f}")
        if "suspected_source" in entry:
            parts.append(f"{entry['source_share']:.3f} read as class {entry['suspected_source']}")
        print("  ".join(parts))
