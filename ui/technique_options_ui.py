"""The Classify page's option forms, drawn from each technique's typed Options.

One schema (core.techniques.options) serves the technique, `classify --help` and these forms:
a new option appears here without touching the page. Runtime options (device, precision,
batch size) are the page's own shared controls; mappings and model objects are for the
command line and code, and are named in a caption instead.

A form returns only the values the user changed from their defaults, so an untouched form
builds the technique exactly as the command line's defaults do (same cache key).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.models.loading import Availability
from core.models.loading import model_availability as _model_availability
from core.techniques import get_technique
from core.techniques.options import OptionInfo
from ui.markdown import md

FORM_KINDS = ("choice", "bool", "int", "float", "text", "list")


def widget_key(technique: str, option: str) -> str:
    return f"classify_{technique}_{option}"


def form_options(technique: str) -> list[OptionInfo]:
    """The options a user sets on the page: neither runtime nor objects only code can make."""
    return [
        info
        for info in get_technique(technique).Options.describe()
        if not info.runtime and info.kind != "object"
    ]


def option_form(technique: str, *, disabled: bool = False) -> dict[str, Any]:
    """Draw `technique`'s output options; return {option: value} for those that differ from
    the default. Values are validated when the technique is built (OptionsError)."""
    changed: dict[str, Any] = {}
    elsewhere = []
    for info in form_options(technique):
        if info.kind not in FORM_KINDS:  # mappings: the command line's
            elsewhere.append(info.name)
            continue
        value = _widget(technique, info, disabled=disabled)
        if value != info.default:
            changed[info.name] = value
    if elsewhere:
        st.caption(
            "Set from the command line (`-o "
            f"{technique}.NAME=VALUE`): {', '.join(elsewhere)}. "
            "See `python -m core classify --help`."
        )
    return changed


def _label(info: OptionInfo) -> str:
    return info.name.replace("_", " ").capitalize()


def _widget(technique: str, info: OptionInfo, *, disabled: bool) -> Any:
    key = widget_key(technique, info.name)
    label, help_text = _label(info), info.description
    if info.kind == "choice":
        choices = list(info.choices)
        return st.selectbox(
            label,
            choices,
            index=choices.index(info.default) if info.default in choices else 0,
            format_func=lambda choice: "none" if choice is None else str(choice),
            key=key,
            help=help_text,
            disabled=disabled,
        )
    if info.kind == "bool":
        return st.checkbox(
            label, value=bool(info.default), key=key, help=help_text, disabled=disabled
        )
    if info.kind == "int":
        return st.number_input(
            label, value=info.default, step=1, key=key, help=help_text, disabled=disabled
        )
    if info.kind == "float":
        return st.number_input(
            label,
            value=float(info.default),
            format="%g",
            key=key,
            help=help_text,
            disabled=disabled,
        )
    if info.kind == "list":
        text = st.text_area(
            f"{label} (one per line)",
            value="\n".join(str(item) for item in info.default or ()),
            key=key,
            help=help_text,
            disabled=disabled,
        )
        lines = tuple(line.strip() for line in text.splitlines() if line.strip())
        return lines if lines != tuple(info.default or ()) else info.default
    return _text_widget(key, label, info, disabled=disabled)


def _text_widget(key: str, label: str, info: OptionInfo, *, disabled: bool) -> str | None:
    if not info.suggestions:
        text = st.text_input(
            label, value=info.default or "", key=key, help=info.description, disabled=disabled
        )
        return text.strip() or info.default
    listed = list(dict.fromkeys([*([info.default] if info.default else []), *info.suggestions]))
    if not info.free_text:
        return st.selectbox(label, listed, key=key, help=info.description, disabled=disabled)
    # free text = a model: each is marked with where it would load from, before Run
    cols = st.columns(2)
    picked = cols[0].selectbox(
        label,
        listed,
        key=key,
        format_func=lambda model: f"{model} — {availability_mark(model)}",
        help=f"{info.description}. Hub ids need internet or a copy in the Hugging Face cache.",
        disabled=disabled,
    )
    other = cols[1].text_input(
        "…or another: a local folder or a hub id",
        key=f"{key}_other",
        placeholder="/models/my-model",
        help="Air-gapped? Copy a model folder to this machine and give its path. Used instead "
        "of the list when filled in.",
        disabled=disabled,
    )
    chosen = other.strip() or picked
    found = model_availability(chosen)
    if not found.available:
        st.warning(f"{md(chosen)}: {found.where}.", icon=":material/cloud_off:")
    return chosen


@st.cache_data(ttl=60, show_spinner=False)
def model_availability(model: str) -> Availability:
    """Checked once a minute at most per model: a download or a copied folder shows up."""
    return _model_availability(model)


def availability_mark(model: str) -> str:
    found = model_availability(model)
    return f"{'✓' if found.available else '✗'} {found.where}"


__all__ = ["FORM_KINDS", "form_options", "option_form", "widget_key"]
