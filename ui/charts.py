"""Altair charts for the Review, Evaluate and Monitor pages. Plain data in, a chart out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

ENSEMBLE = "ensemble"


def technique_scores_chart(
    labels: Sequence[str],
    ensemble_scores: Mapping[str, float] | None,
    technique_scores: Mapping[str, Mapping[str, float] | None],
) -> alt.LayerChart | alt.Chart:
    """Per label (y): the ensemble's score as a bar, each technique's score as a dot beside it.

    Abstaining techniques are left out (the tooltip of the bar says how many voted).
    """
    rows = []
    for technique, scores in technique_scores.items():
        if scores is None or technique == ENSEMBLE:
            continue
        for label in labels:
            rows.append(
                {"label": label, "technique": technique, "score": float(scores.get(label, 0.0))}
            )
    ensemble_rows = [
        {
            "label": label,
            "technique": ENSEMBLE,
            "score": float((ensemble_scores or {}).get(label, 0)),
        }
        for label in labels
    ]
    height = alt.Step(28)  # per label row; a fixed height also has to hold axes and legend
    y = alt.Y("label:N", sort=list(labels), title=None)
    x = alt.X("score:Q", scale=alt.Scale(domain=[0, 1]), title="score")
    bars = (
        alt.Chart(pd.DataFrame(ensemble_rows))
        .mark_bar(color="#4e79a7", opacity=0.35, height={"band": 0.8})
        .encode(
            y=y,
            x=x,
            tooltip=[
                alt.Tooltip("label:N"),
                alt.Tooltip("score:Q", title="ensemble", format=".2f"),
            ],
        )
    )
    if not rows:
        return bars.properties(height=height)
    dots = (
        alt.Chart(pd.DataFrame(rows))
        .mark_point(filled=True, size=90, opacity=0.9)
        .encode(
            y=y,
            x=x,
            color=alt.Color("technique:N", legend=alt.Legend(orient="bottom", title=None)),
            shape=alt.Shape("technique:N", legend=None),
            tooltip=[
                alt.Tooltip("technique:N"),
                alt.Tooltip("label:N"),
                alt.Tooltip("score:Q", format=".2f"),
            ],
        )
    )
    return alt.layer(bars, dots).properties(height=height)


def confusion_heatmap(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> alt.LayerChart:
    """[truth][predicted] counts as a heatmap with the counts written in the cells."""
    rows = [
        {"truth": truth, "predicted": predicted, "count": int(matrix[i][j])}
        for i, truth in enumerate(labels)
        for j, predicted in enumerate(labels)
    ]
    frame = pd.DataFrame(rows)
    side = alt.Step(36)
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=list(labels), title="predicted"),
        y=alt.Y("truth:N", sort=list(labels), title="truth"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
        tooltip=["truth:N", "predicted:N", "count:Q"],
    )
    half = float(frame["count"].max()) / 2 if len(frame) else 0.0
    text = base.mark_text(baseline="middle").encode(
        text="count:Q",
        color=alt.condition(alt.datum.count > half, alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, text).properties(width=side, height=side)


def reliability_chart(bins: Sequence[Mapping[str, float]]) -> alt.LayerChart:
    """Calibration: accuracy against confidence per bin, and the diagonal of perfect calibration."""
    diagonal = (
        alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="#999999")
        .encode(x=alt.X("x:Q", title="confidence"), y=alt.Y("y:Q", title="accuracy"))
    )
    frame = pd.DataFrame(list(bins), columns=["confidence", "accuracy", "count"])
    points = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("confidence:Q", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])),
            tooltip=[
                alt.Tooltip("confidence:Q", format=".2f"),
                alt.Tooltip("accuracy:Q", format=".2f"),
                "count:Q",
            ],
        )
    )
    return alt.layer(diagonal, points).properties(height=260)


def label_distribution_chart(
    rows: Sequence[Mapping], colours: Mapping[str, str] | None = None
) -> alt.Chart:
    """Stacked bars: per period, the share of documents carrying each label."""
    frame = pd.DataFrame(list(rows), columns=["period", "label", "count", "share"])
    frame["period"] = frame["period"].astype(str)
    colour = alt.Color("label:N", title="label")
    if colours:
        names = list(colours)
        colour = alt.Color(
            "label:N", title="label", scale=alt.Scale(domain=names, range=list(colours.values()))
        )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("period:N", title=None, sort=None),
            y=alt.Y("count:Q", title="documents"),
            color=colour,
            tooltip=["period:N", "label:N", "count:Q", alt.Tooltip("share:Q", format=".0%")],
        )
        .properties(height=260)
    )


def line_over_time(rows: Sequence[Mapping], value: str, title: str) -> alt.Chart:
    """One value per period as a line with points; y in [0, 1]."""
    frame = pd.DataFrame(list(rows), columns=["period", value, "n"])
    frame["period"] = frame["period"].astype(str)
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("period:N", title=None, sort=None),
            y=alt.Y(f"{value}:Q", title=title, scale=alt.Scale(domain=[0, 1])),
            tooltip=["period:N", alt.Tooltip(f"{value}:Q", format=".2f"), "n:Q"],
        )
        .properties(height=220)
    )


def learning_curve_chart(rows: Sequence[Mapping]) -> alt.Chart:
    """Out-of-fold accuracy and macro-F1 of each adopted version against its reviews."""
    frame = pd.DataFrame(list(rows), columns=["n_reviews", "accuracy", "macro_f1"]).melt(
        id_vars="n_reviews", var_name="metric", value_name="value"
    )
    frame["metric"] = frame["metric"].map({"accuracy": "accuracy", "macro_f1": "macro-F1"})
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("n_reviews:Q", title="reviewed documents"),
            y=alt.Y("value:Q", title="out of fold", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("metric:N", title=None),
            tooltip=["n_reviews:Q", "metric:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=220)
    )


def distribution_comparison_chart(
    baseline: Mapping[str, int], batch: Mapping[str, int], names: tuple[str, str]
) -> alt.Chart:
    """Side-by-side shares of two batches per category (drift)."""
    rows = []
    for name, counts in zip(names, (baseline, batch)):
        total = sum(counts.values()) or 1
        rows += [
            {"batch": name, "category": category, "share": count / total}
            for category, count in counts.items()
        ]
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar()
        .encode(
            y=alt.Y("category:N", title=None),
            x=alt.X("share:Q", axis=alt.Axis(format="%")),
            yOffset="batch:N",
            color=alt.Color("batch:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["batch:N", "category:N", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=max(100, 36 * len(set(baseline) | set(batch))))
    )
