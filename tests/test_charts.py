"""The Review page's per-document chart: one colour and shape per technique everywhere, the
ensemble in the legend with its values written out, x exactly [0, 1], labels as data."""

from __future__ import annotations

import json

import pytest

from core.techniques import _REGISTRY, BUILTIN_MODULES, register
from core.techniques.base import Technique
from ui.charts import (
    ENSEMBLE,
    TECHNIQUE_COLOURS,
    TECHNIQUE_SHAPES,
    legend_columns,
    technique_order,
    technique_scores_chart,
    technique_style,
)

LABELS = ["billing", "shipping", "account"]


def layers(chart) -> list[dict]:
    return chart.to_dict()["layer"]


def styles(chart) -> dict[str, tuple[str, str]]:
    """technique -> (colour, shape) as the chart's scales draw it."""
    spec = layers(chart)
    colour = spec[0]["encoding"]["color"]["scale"]
    dots = [layer for layer in spec if layer["mark"]["type"] == "point"]
    shape = dots[0]["encoding"]["shape"]["scale"] if dots else {"domain": [], "range": []}
    colours = dict(zip(colour["domain"], colour["range"]))
    shapes = dict(zip(shape["domain"], shape["range"]))
    return {name: (colours[name], shapes.get(name)) for name in colours}


def rows_of(spec: dict, layer: dict) -> list[dict]:
    """The data a layer draws (Altair moves data shared by every layer to the top)."""
    return spec["datasets"][(layer.get("data") or spec["data"])["name"]]


def document_chart(techniques: dict, ensemble: dict | None = None, labels=LABELS):
    return technique_scores_chart(labels, ensemble or {"billing": 0.6}, techniques)


def test_a_technique_keeps_its_colour_and_shape_from_document_to_document():
    first = styles(
        document_chart({"ner": {"billing": 1.0}, "rules": {"billing": 0.2}, "summarize": None})
    )
    second = styles(
        document_chart(
            {"summarize": {"shipping": 0.4}, "ner": {"account": 1.0}, "lexicon": {"billing": 1}}
        )
    )
    third = styles(document_chart({"supervised": {"billing": 0.9}, "ner": {"billing": 0.1}}))
    assert first["ner"] == second["ner"] == third["ner"] == technique_style("ner")
    assert second["summarize"] == technique_style("summarize")
    assert "summarize" not in first  # abstained: not drawn, not in the legend
    # No two techniques share a colour and a shape.
    every = {name: technique_style(name) for name in technique_order()}
    assert len(set(every.values())) == len(every)


def test_built_ins_take_the_registry_order_then_plug_ins_by_name():
    order = technique_order(["zeta_plugin", "alpha_plugin"])
    builtin = [name for name in BUILTIN_MODULES if name != ENSEMBLE]
    assert order[: len(builtin)] == builtin
    plug_ins = order[len(builtin) :]  # other tests may have registered plug-ins of their own
    assert plug_ins == sorted(plug_ins)
    assert {"alpha_plugin", "zeta_plugin"} <= set(plug_ins)
    assert technique_style("rules") == (TECHNIQUE_COLOURS[0], TECHNIQUE_SHAPES[0])


def test_a_registered_plug_in_has_one_style_whatever_the_document_shows():
    @register
    class ChartPlugin(Technique):
        name = "chart_test_plugin"

        def predict(self, texts, taxonomy):  # pragma: no cover - never run
            raise NotImplementedError

    try:
        alone = styles(document_chart({"chart_test_plugin": {"billing": 1.0}}))
        with_others = styles(
            document_chart({"rules": {"billing": 1.0}, "chart_test_plugin": {"billing": 0.5}})
        )
        assert alone["chart_test_plugin"] == with_others["chart_test_plugin"]
        assert alone["chart_test_plugin"] == technique_style("chart_test_plugin")
    finally:  # leave the registry as other tests expect it
        _REGISTRY.pop(ChartPlugin.name, None)


def test_the_legend_names_the_ensemble_and_every_technique_that_voted():
    chart = document_chart({"rules": {"billing": 1.0}, "ner": {"billing": 0.5}, "lexicon": None})
    spec = layers(chart)
    bars = next(layer for layer in spec if layer["mark"]["type"] == "bar")
    assert bars["encoding"]["color"]["field"] == "technique"  # the bar is in the legend
    assert bars["encoding"]["color"]["legend"] is not None
    assert list(styles(chart)) == [ENSEMBLE, "rules", "ner"]
    dots = next(layer for layer in spec if layer["mark"]["type"] == "point")
    # Colour and shape share one domain, so Vega-Lite merges them into one legend.
    assert (
        dots["encoding"]["shape"]["scale"]["domain"] == dots["encoding"]["color"]["scale"]["domain"]
    )
    legend = bars["encoding"]["color"]["legend"]
    assert legend["labelLimit"] == 0  # full names, never "summ…"


def test_the_legend_is_in_the_spec_even_when_no_technique_voted():
    chart = technique_scores_chart(LABELS, None, {"rules": None})
    assert list(styles(chart)) == [ENSEMBLE]


def test_x_is_exactly_zero_to_one_and_markers_at_one_are_not_clipped():
    chart = document_chart({"rules": {"billing": 1.0}})
    for layer in layers(chart):
        x = layer["encoding"]["x"]
        if "scale" in x:
            assert x["scale"]["domain"] == [0, 1]
            assert x["scale"]["padding"] > 0  # room for a dot drawn at 1.0
        assert layer["mark"].get("clip") is False


def test_the_ensembles_values_are_written_beside_each_label():
    chart = document_chart({"rules": {"billing": 1.0}}, {"billing": 0.8, "shipping": 0.15})
    spec = chart.to_dict()
    [text] = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert text["encoding"]["text"]["field"] == "value"
    assert {row["label"]: row["value"] for row in rows_of(spec, text)} == {
        "billing": "0.80",
        "shipping": "0.15",
        "account": "0.00",
    }


def test_no_ensemble_writes_a_dash_rather_than_zeros():
    spec = technique_scores_chart(LABELS, None, {}).to_dict()
    [text] = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert {row["value"] for row in rows_of(spec, text)} == {"–"}


@pytest.mark.parametrize(
    "label", ['<img src=x onerror="alert(1)">', 'it\'s "quoted" & <b>bold</b>', "a.b[0]"]
)
def test_labels_go_into_the_chart_as_data_never_as_expressions(label):
    labels = [label, "billing"]
    chart = technique_scores_chart(labels, {label: 0.7}, {"rules": {label: 1.0}})
    spec = chart.to_dict()
    rows = [row for dataset in spec["datasets"].values() for row in dataset]
    assert {row["label"] for row in rows} == set(labels)  # the exact string, as data
    for layer in spec["layer"]:
        assert "transform" not in layer  # no filter/calculate expression built from labels
        assert layer["encoding"]["y"]["sort"] == labels
    without_data = json.dumps({k: v for k, v in spec.items() if k != "datasets"})
    assert "expr" not in without_data


def test_legend_columns_fit_the_chart():
    assert legend_columns(LABELS, [ENSEMBLE, "rules"]) == 2
    assert 1 <= legend_columns(["a" * 60], [ENSEMBLE, *technique_order()]) <= 2
    assert legend_columns(["x"], [ENSEMBLE, "rules", "ner", "lexicon", "supervised"]) <= 4
