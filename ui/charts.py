"""Altair charts for the Review, Evaluate and Monitor pages. Plain data in, a chart out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

ENSEMBLE = "ensemble"

# One colour and one shape per technique for the whole app: the built-ins in the registry's
# order, then plug-ins by name. Grey and the square are the ensemble's.
ENSEMBLE_COLOUR = "#79706e"
ENSEMBLE_SHAPE = "square"
VALUE_COLUMN_PX = 48  # the ensemble's values, written right of the plot
ROW_PX = 28  # per label
AXIS_LABEL_PX = 180  # the longest label name shown in full on the y axis
CHART_PX = 380  # about the width the Review page gives the chart
TECHNIQUE_COLOURS = (
    "#e15759",  # red
    "#4e79a7",  # blue
    "#f28e2b",  # orange
    "#59a14f",  # green
    "#b07aa1",  # purple
    "#76b7b2",  # teal
    "#edc948",  # yellow
    "#ff9da7",  # pink
    "#9c755f",  # brown
)
TECHNIQUE_SHAPES = (
    "circle",
    "triangle-up",
    "diamond",
    "cross",
    "triangle-down",
    "triangle-right",
    "triangle-left",
)


def technique_order(names: Sequence[str] = ()) -> list[str]:
    """Every technique in its fixed drawing order: the built-ins as the registry lists them,
    then plug-ins (registered ones and any others in `names`) sorted by name."""
    from core.techniques import BUILTIN_MODULES, known_techniques

    builtin = [name for name in BUILTIN_MODULES if name != ENSEMBLE]
    others = (set(known_techniques()) | set(names)) - set(BUILTIN_MODULES) - {ENSEMBLE}
    return builtin + sorted(others)


def technique_style(name: str, names: Sequence[str] = ()) -> tuple[str, str]:
    """(colour '#rrggbb', Vega shape) of a technique: the same on every document and page."""
    if name == ENSEMBLE:
        return ENSEMBLE_COLOUR, ENSEMBLE_SHAPE
    order = technique_order([*names, name])
    index = order.index(name)
    return (
        TECHNIQUE_COLOURS[index % len(TECHNIQUE_COLOURS)],
        TECHNIQUE_SHAPES[index % len(TECHNIQUE_SHAPES)],
    )


def technique_scales(names: Sequence[str]) -> tuple[alt.Scale, alt.Scale]:
    """Colour and shape scales over `names` (the ensemble first, then the techniques in their
    fixed order) with each technique's own colour and shape, whatever else is drawn."""
    order = technique_order(names)
    present = [name for name in order if name in set(names)]
    domain = ([ENSEMBLE] if ENSEMBLE in names else []) + present
    styles = [technique_style(name, names) for name in domain]
    return (
        alt.Scale(domain=domain, range=[colour for colour, _ in styles]),
        alt.Scale(domain=domain, range=[shape for _, shape in styles]),
    )


def legend_columns(labels: Sequence[str], names: Sequence[str]) -> int:
    """How many legend entries fit side by side under the plot (a bottom legend is not
    wrapped or shrunk by the chart's width: too many columns would be cut off)."""
    axis = min(AXIS_LABEL_PX, 8 + 7 * max((len(label) for label in labels), default=0))
    plot = CHART_PX - axis - VALUE_COLUMN_PX
    entry = 36 + 7 * max((len(name) for name in names), default=0)
    return max(1, min(4, len(names), plot // entry))


def technique_scores_chart(
    labels: Sequence[str],
    ensemble_scores: Mapping[str, float] | None,
    technique_scores: Mapping[str, Mapping[str, float] | None],
) -> alt.LayerChart:
    """Per label (y): the ensemble's score as a bar with its value written at the right,
    each technique's score as a dot in that technique's fixed colour and shape.

    One legend names the ensemble and every technique that voted; abstaining techniques are
    left out. Labels go in as data, never into expressions.
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
            "score": float((ensemble_scores or {}).get(label, 0.0)),
            "value": f"{float((ensemble_scores or {}).get(label, 0.0)):.2f}"
            if ensemble_scores is not None
            else "–",
        }
        for label in labels
    ]
    voted = list(dict.fromkeys(row["technique"] for row in rows))
    colour_scale, shape_scale = technique_scales([ENSEMBLE, *voted])
    legend = alt.Legend(
        orient="bottom",  # under the plot: the chart grows to hold it, nothing is cut off
        direction="horizontal",
        columns=legend_columns(labels, [ENSEMBLE, *voted]),
        title=None,
        labelLimit=0,
        symbolOpacity=0.9,
    )
    colour = alt.Color("technique:N", scale=colour_scale, legend=legend)
    height = alt.Step(ROW_PX)  # per label row
    y = alt.Y("label:N", sort=list(labels), title=None, axis=alt.Axis(labelLimit=AXIS_LABEL_PX))
    # Exactly [0, 1]; the scale's padding keeps a dot at 1.0 (or 0) whole inside the plot.
    x = alt.X(
        "score:Q",
        scale=alt.Scale(domain=[0, 1], nice=False, padding=8),
        title="score",
        axis=alt.Axis(format=".1f", tickCount=5),
    )
    ensemble = alt.Chart(pd.DataFrame(ensemble_rows))
    bars = ensemble.mark_bar(opacity=0.35, height={"band": 0.8}, clip=False).encode(
        y=y,
        x=x,
        color=colour,
        tooltip=[
            alt.Tooltip("label:N"),
            alt.Tooltip("score:Q", title="ensemble", format=".2f"),
        ],
    )
    # The ensemble's value per label, right of the plot: readable without hovering.
    values = ensemble.mark_text(
        align="left", baseline="middle", dx=VALUE_COLUMN_PX // 4, fontWeight="bold", clip=False
    ).encode(
        y=y,
        x=alt.datum(1.0),
        text=alt.Text("value:N"),
        color=alt.value(ENSEMBLE_COLOUR),
    )
    layers = [bars, values]
    if rows:
        dots = (
            alt.Chart(pd.DataFrame(rows))
            .mark_point(filled=True, size=90, opacity=0.9, clip=False)
            .encode(
                y=y,
                x=x,
                color=colour,
                shape=alt.Shape("technique:N", scale=shape_scale, legend=legend),
                tooltip=[
                    alt.Tooltip("technique:N"),
                    alt.Tooltip("label:N"),
                    alt.Tooltip("score:Q", format=".2f"),
                ],
            )
        )
        layers.append(dots)
    return alt.layer(*layers).properties(height=height)


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
