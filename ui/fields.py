"""Widgets derived from config fields: the label, default, choices and help of each come from
the pydantic field, so a page never restates them. No min/max on number widgets: the config
validates, and an out-of-range value gets the config's own one-line message."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from heatclust_core.config import field_choices, field_help, field_type


def field_input(
    container,
    model: type[BaseModel],
    name: str,
    key: str,
    value: Any = None,
    disabled: bool = False,
) -> Any:
    """A widget for `model.name`: a selectbox for a Literal, a toggle for a bool, a number
    input for an int or float, a text input otherwise; `value` (default: the field's
    default) preselects it. Label: the field's title (else its name in words); help: its
    description and range."""
    field = model.model_fields[name]
    value = field.default if value is None else value
    label = field.title or name.replace("_", " ").capitalize()
    help_text = field_help(model, name) or None
    choices = field_choices(model, name)
    if choices:
        return container.selectbox(
            label,
            choices,
            index=choices.index(value),
            help=help_text,
            key=key,
            disabled=disabled,
        )
    kind = field_type(model, name)
    if kind is bool:
        return container.toggle(
            label, value=bool(value), help=help_text, key=key, disabled=disabled
        )
    if kind is int:
        return container.number_input(
            label, value=int(value), step=1, help=help_text, key=key, disabled=disabled
        )
    if kind is float:
        return container.number_input(
            label,
            value=float(value),
            step=_step(float(value)),
            format="%g",
            help=help_text,
            key=key,
            disabled=disabled,
        )
    return container.text_input(label, value=str(value), help=help_text, key=key, disabled=disabled)


def field_row(container, model: type[BaseModel], names, key_prefix: str) -> dict[str, Any]:
    """One `field_input` per field of `names`, side by side in columns of `container`;
    {name: value}. Keys are `key_prefix` + the field's name."""
    columns = container.columns(len(names))
    return {
        name: field_input(column, model, name, key=f"{key_prefix}{name}")
        for column, name in zip(columns, names, strict=True)
    }


def _step(value: float) -> float:
    """A tenth of the value's order of magnitude (0.01 for 0.1, 1.0 for 30), a float: streamlit
    refuses a float widget with an int step."""
    if value == 0:
        return 0.01
    return 10.0 ** (math.floor(math.log10(abs(value))) - 1)
