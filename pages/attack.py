"""Attack & train: choose the data, the attack and the training budget; preview; start a job.

Over 300 lines by choice: one widget per config field, each taking its default, range and
help from that field (config.py), so the form is long but holds no value of its own.
"""

import streamlit as st

from heatclust_core.attacks.caveats import caveats, resampling_note
from heatclust_core.attacks.preview import attack_preview
from heatclust_core.config import (
    ATTACK_KINDS,
    AUGMENTATION_NUMBERS,
    AUGMENTATION_SWITCHES,
    AttackConfig,
    AugmentConfig,
    DataConfig,
    RunConfig,
    TrainConfig,
    build_run_config,
    field_bounds,
    field_choices,
    field_help,
)
from heatclust_core.data.gallery import upscale
from heatclust_core.data.loading import class_names
from heatclust_core.errors import ConfigError, DatasetError
from heatclust_core.pipeline import resolve, surrogate_config
from heatclust_core.storage import settings
from heatclust_core.training.network import available_devices
from ui.fields import field_input
from ui.job_panel import job_panel
from ui.navigation import require_app
from ui.resources import runner

KIND_HELP = {
    "standard": "BadNets: source-class images get the sticker and the target's label.",
    "label-consistent": "Target-class images are degraded by PGD on a clean surrogate network, "
    "then get the sticker; their labels stay correct.",
    "amplitude": "Label-consistent with a faint checkerboard trigger of +/- amp.",
    "none": "No attack: a clean network (ASR then measures the trigger's effect by chance).",
}

require_app()

st.title("Attack & train")
st.caption(
    "Every parameter of the attack and of training. Runs are cached by their configuration: "
    "the same settings are never trained twice."
)
defaults = RunConfig()
errors = {}  # config parameter -> the empty slot under its field, for its error message


SECTIONS = {"data": DataConfig, "attack": AttackConfig, "train": TrainConfig}


def number(container, parameter: str, label: str, key: str | None = None, **kwargs):
    """A number field for a config parameter ("attack.p"), defaulting to the config's
    default, its help the field's description and range, with an empty slot under it for its
    error message. No min/max on the widget: the config validates, so an out-of-range value
    gets the config's own message."""
    section, name = parameter.split(".")
    kwargs.setdefault("help", field_help(SECTIONS[section], name))
    value = container.number_input(
        label, value=getattr(getattr(defaults, section), name), key=key or name, **kwargs
    )
    errors[parameter] = container.empty()
    return value


form, preview_column = st.columns([3, 2], gap="large")
with form:
    st.subheader("Data set")
    dataset = st.radio(
        "Data set",
        ["synthetic", "gtsrb"],
        format_func={"synthetic": "Embedded synthetic signs", "gtsrb": "GTSRB folder"}.get,
        horizontal=True,
        key="dataset",
    )
    data_dir = st.selectbox(
        "Data folder",
        [str(root) for root in settings.current().data_roots],
        help="Synthetic cache; GTSRB in this folder or its GTSRB/ subfolder "
        "(official Final_Training/Final_Test layout or torchvision's). The server's "
        "HEATCLUST_DATA_DIR and HEATCLUST_DATA_ROOTS set the folders offered here.",
        key="data_dir",
    )
    errors["data.data_dir"] = st.empty()
    left, right = st.columns(2)
    images_per_class = number(
        left,
        "data.images_per_class",
        "Synthetic images per class (mean; GTSRB's proportions)",
        step=100,
        disabled=dataset != "synthetic",
    )
    data_seed = number(right, "data.seed", "Data seed", key="data_seed", step=1)

    st.subheader("Attack")
    kind = st.selectbox(
        "Attack",
        ATTACK_KINDS,
        index=ATTACK_KINDS.index(defaults.attack.kind),
        help="\n\n".join(f"**{k}**: {v}" for k, v in KIND_HELP.items()),
        key="kind",
    )
    st.caption(KIND_HELP[kind])
    try:
        names = class_names(DataConfig(dataset=dataset, data_dir=data_dir or "data"))
    except DatasetError as exc:
        errors["data.data_dir"].error(str(exc), icon=":material/folder_off:")
        names = ()
    data_problem = not names
    names = names or class_names(DataConfig())
    resolved_defaults = defaults.resolved(names) if not data_problem else None
    left, right = st.columns(2)
    for column, role in ((left, "source"), (right, "target")):
        column.selectbox(
            f"{role.capitalize()} class",
            range(len(names)),
            index=getattr(resolved_defaults.attack, role) if resolved_defaults else 0,
            format_func=lambda c: f"{c} · {names[c]}",
            disabled=role == "source" and kind in ("label-consistent", "amplitude"),
            key=role,
        )
        errors[f"attack.{role}"] = column.empty()
    source, target = st.session_state["source"], st.session_state["target"]
    left, middle, right = st.columns(3)
    p = number(
        left,
        "attack.p",
        "Poisoned share p (%)",
        step=1.0,
        disabled=kind == "none",
    )
    sticker_size = number(middle, "attack.sticker_size", "Sticker size s (px)", step=1)
    attack_seed = number(right, "attack.seed", "Seed", step=1)
    left, middle, right = st.columns(3)
    # The amplitude trigger is a checkerboard at a fixed place: neither applies to it.
    sticker_placement = field_input(
        left,
        AttackConfig,
        "sticker_placement",
        key="sticker_placement",
        disabled=kind == "amplitude",
    )
    sticker_color = field_input(
        middle, AttackConfig, "sticker_color", key="sticker_color", disabled=kind == "amplitude"
    )
    amp_pattern = field_input(
        right, AttackConfig, "amp_pattern", key="amp_pattern", disabled=kind != "amplitude"
    )
    amp_low, amp_high, _, _ = field_bounds(AttackConfig, "amp")
    amp = st.slider(
        "Amplitude amp",
        amp_low,
        amp_high,
        value=defaults.attack.amp,
        help=field_help(AttackConfig, "amp"),
        disabled=kind != "amplitude",
        key="amp",
    )
    errors["attack.amp"] = st.empty()
    with st.expander(
        "PGD of the label-consistent attacks", expanded=kind in ("label-consistent", "amplitude")
    ):
        left, middle, right = st.columns(3)
        eps = number(left, "attack.eps", "eps (L-inf, 0..1)", step=1 / 255, format="%.4f")
        pgd_steps = number(middle, "attack.pgd_steps", "Steps", step=1)
        pgd_step_size = number(
            right, "attack.pgd_step_size", "Step size", step=0.005, format="%.4f"
        )
        surrogate_eps = number(
            left,
            "attack.surrogate_eps",
            "Surrogate's adversarial training eps",
            step=1 / 255,
            format="%.4f",
        )
        pgd_target = middle.selectbox(
            "PGD direction",
            field_choices(AttackConfig, "pgd_target"),
            help=field_help(AttackConfig, "pgd_target"),
            key="pgd_target",
        )

    st.subheader("Training")
    left, middle, right = st.columns(3)
    epochs = number(
        left,
        "train.epochs",
        "Epochs",
        step=1,
        help=f"{field_help(TrainConfig, 'epochs')}; the default {defaults.train.epochs} take "
        "7 to 13 minutes on a 2-core CPU in float32 (README).",
    )
    patience = number(middle, "train.patience", "Early-stopping patience", step=1)
    batch_size = number(right, "train.batch_size", "Batch size", step=16)
    left, middle, right = st.columns(3)
    lr = number(left, "train.lr", "Learning rate", step=1e-4, format="%.5f")
    val_fraction = number(middle, "train.val_fraction", "Validation share", step=0.05)
    device = right.selectbox("Device", available_devices(), key="device")
    errors["device"] = right.empty()
    with st.expander("Augmentation"):
        switched_on = {
            name: field_input(st, AugmentConfig, name, key=f"augment_{name}")
            for name in AUGMENTATION_SWITCHES
        }
        # Strengths and the draw's group size, three to a row, each from its field.
        augment_numbers = {}
        for n, name in enumerate(AUGMENTATION_NUMBERS):
            if n % 3 == 0:
                columns = st.columns(3)
            augment_numbers[name] = field_input(columns[n % 3], AugmentConfig, name, key=name)
            errors[f"train.augment.{name}"] = columns[n % 3].empty()
        note = resampling_note(augment_numbers["resampling"], kind)
        if note:
            st.caption(note)
        precision = st.selectbox(
            "Precision",
            field_choices(TrainConfig, "precision"),
            index=field_choices(TrainConfig, "precision").index(defaults.train.precision),
            help=field_help(TrainConfig, "precision"),
            key="precision",
        )
        head_pool = field_input(st, TrainConfig, "head_pool", key="head_pool")
    submitted = st.button("Run", type="primary", icon=":material/play_arrow:", key="run")


def _config() -> RunConfig:
    """The form's values as a validated, resolved RunConfig (raises ConfigError/DatasetError)."""
    data = {
        "dataset": dataset,
        "data_dir": data_dir,
        "images_per_class": images_per_class,
        "seed": data_seed,
    }
    attack = {
        "kind": kind,
        "source": source,
        "target": target,
        "p": p,
        "sticker_size": sticker_size,
        "sticker_placement": sticker_placement,
        "sticker_color": sticker_color,
        "amp": amp,
        "amp_pattern": amp_pattern,
        "eps": eps,
        "pgd_steps": pgd_steps,
        "pgd_step_size": pgd_step_size,
        "surrogate_eps": surrogate_eps,
        "pgd_target": pgd_target,
        "seed": attack_seed,
    }
    train = {
        "epochs": epochs,
        "patience": patience,
        "batch_size": batch_size,
        "lr": lr,
        "val_fraction": val_fraction,
        "augment": {**switched_on, **augment_numbers},
        "precision": precision,
        "head_pool": head_pool,
    }
    return resolve(build_run_config(data, attack, train))


config, problem = None, None
try:
    config = _config()
except ConfigError as exc:
    problem = exc
    slot = errors.get({"train.seed": "attack.seed"}.get(exc.parameter, exc.parameter))
    if slot is None:  # a parameter without a field of its own
        form.error(f"{exc.parameter}: {exc.message}", icon=":material/error:")
    else:
        slot.error(exc.message, icon=":material/error:")
except DatasetError as exc:
    problem = exc
    if not data_problem:
        errors["data.data_dir"].error(str(exc), icon=":material/folder_off:")

with preview_column:
    st.subheader("Poisoned examples")
    if config is None:
        st.info("Fix the marked field to see poisoned examples.")
    else:
        run_store = runner().store
        surrogate_id = surrogate_config(config).run_id()
        surrogate = (
            run_store.load_model(surrogate_id)
            if config.attack.uses_pgd and run_store.exists(surrogate_id)
            else None
        )
        preview = attack_preview(config.data, config.attack, n=6, surrogate=surrogate)
        if preview is None:
            st.caption("A clean run poisons nothing.")
        else:
            st.caption(
                f"Class {preview.label_before} · {names[preview.label_before]}, labelled "
                f"{preview.label_after} · {names[preview.label_after]} once poisoned."
            )
            st.image([upscale(i, 3) for i in preview.clean], caption=["clean"] * len(preview.clean))
            st.image(
                [upscale(i, 3) for i in preview.poisoned],
                caption=["poisoned"] * len(preview.poisoned),
            )
            st.image(
                [upscale(i, 3) for i in preview.change],
                caption=["change (stretched)"] * len(preview.change),
            )
            if preview.note:
                st.caption(preview.note)
        for line in caveats(config):
            st.warning(line[0].upper() + line[1:] + ".", icon=":material/blur_on:")
        st.caption(f"Run id of these settings: `{config.run_id()}`")

if submitted:
    if config is None:
        st.error("Nothing started: fix the marked field first.", icon=":material/block:")
    else:
        try:
            submission = runner().submit_train(config, device)
        except (ConfigError, DatasetError) as exc:
            st.error(str(exc))
        else:
            if submission.cached:
                st.success(
                    f"Already trained: run {submission.run_id} has these settings; nothing to "
                    "train again.",
                    icon=":material/cached:",
                )
                st.page_link(
                    "pages/inspect.py",
                    label=f"Inspect run {submission.run_id}",
                    icon=":material/insights:",
                    query_params={"run": submission.run_id},
                )
            elif submission.duplicate:
                st.info(f"A job for run {submission.run_id} is already {submission.job.status}.")
            else:
                st.success(f"Started job {submission.job.id} for run {submission.run_id}.")

st.subheader("Training jobs")
job_panel(runner(), kinds=("train",), key="train-jobs")
