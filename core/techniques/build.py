"""Technique instances from a user's choices: the one recipe the CLI, the Classify page, the
Ray actors and the learning loop's checks share.

    build_techniques(["rules", "embeddings"], multi_label=False,
                     options=parse_option_pairs(["embeddings.temperature=0.1"]),
                     device="cpu", precision=None, store=store, project_id=1)

Options are validated by each technique's typed `Options` (core.techniques.options): a typo
or a bad value is an `OptionsError` naming the technique, the option and what it accepts.
"""

from __future__ import annotations

import json

from core.techniques import create_technique, get_technique
from core.techniques.options import OptionsError


class NoLearnedModelError(ValueError):
    """`supervised` was asked for, but the project has learned nothing yet."""


def parse_option_pairs(pairs: list[str]) -> dict[str, dict]:
    """["zero_shot.model=path", "lexicon.scale=2"] -> {"zero_shot": {"model": "path"}, ...}.

    Values are JSON where they parse as JSON (numbers, true/false, lists), else plain text,
    so bare strings need no quotes.
    """
    options: dict[str, dict] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        technique, dot, name = key.partition(".")
        if not sep or not dot or not technique or not name:
            raise OptionsError(f"option {pair!r}: write it as TECHNIQUE.NAME=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        options.setdefault(technique, {})[name] = value
    return options


def build_techniques(
    names: list[str],
    *,
    multi_label: bool,
    options: dict[str, dict],
    device: str | None,
    precision: str | None,
    store=None,
    project_id: int | None = None,
):
    """One technique per name; device and precision go only to techniques that load a model
    (an explicit per-technique option wins). `supervised` gets the project's current learned
    model from the store."""
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise OptionsError(
            f"options given for {', '.join(unknown)}, which is not among the techniques run "
            f"({', '.join(names)}); add it with -t, or fix the name"
        )
    techniques = []
    for name in names:
        cls = get_technique(name)
        values = dict(options.get(name, {}))
        if name == "supervised" and "trained" not in values:
            values["trained"] = _learned_model(store, project_id)
        if cls.needs_model:
            if device:
                values.setdefault("device", device)
            if precision:
                values.setdefault("precision", precision)
        techniques.append(create_technique(name, multi_label=multi_label, **values))
    return techniques


def _learned_model(store, project_id: int | None):
    from core.learning.trained import current_supervised_model

    trained = None
    if store is not None and project_id is not None:
        trained = current_supervised_model(store, project_id)
    if trained is None:
        raise NoLearnedModelError(
            "this project has no learned supervised model yet: review some documents, then "
            "run `python -m core train PROJECT`"
        )
    return trained


__all__ = ["NoLearnedModelError", "build_techniques", "parse_option_pairs"]
