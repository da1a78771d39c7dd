"""Monitor: the run log, labels and confidence over time, reviewer–model agreement, drift."""

import pandas as pd
import streamlit as st

from core.evaluation.monitor import (
    MODERATE_PSI,
    SIGNIFICANT_PSI,
    agreement_over_time,
    drift,
    label_distribution_by,
    mean_confidence_by,
    project_snapshot,
    runs_table,
)
from ui.auth import require_router
from ui.charts import distribution_comparison_chart, label_distribution_chart, line_over_time
from ui.highlight import label_colours
from ui.review_queue_ui import prediction_table
from ui.session import get_store, require_project

require_router()  # started by the pages/ fallback instead of app.py: run the router
st.title("Monitor")
project = require_project()
store = get_store()

st.subheader("Runs")
runs = runs_table(store.list_runs(project.id), store.abandoned_run_ids(project.id))
if runs:
    st.dataframe(
        pd.DataFrame(runs),
        key="monitor_runs",
        hide_index=True,
        column_config={"seconds": st.column_config.NumberColumn(format="%.2f")},
    )
else:
    st.info("No runs yet: classify the documents on the Classify page.")

table = prediction_table(store, project.id)
snapshot = project_snapshot(store, project.id, table)
if not table.document_ids:
    st.stop()

st.subheader("Over time")
by = st.segmented_control(
    "Group by",
    ["day", "batch"],
    format_func={"day": "Day", "batch": "Import batch"}.get,
    default="day",
    key="monitor_period",
)
by = by or "day"
periods = snapshot.periods(by)  # day strings, or import ids (sorted numerically, named below)


def named(rows: list[dict]) -> list[dict]:
    if by == "day":
        return rows
    return [{**row, "period": snapshot.imports.get(row["period"], row["period"])} for row in rows]


colours = label_colours(store.load_taxonomy(project.id))
st.caption("Labels: reviewed where reviewed, else suggested")
st.altair_chart(
    label_distribution_chart(
        named(label_distribution_by(periods, snapshot.current_labels(), table.labels)), colours
    ),
    width="stretch",
)
left, right = st.columns(2)
with left:
    confidences = [
        float(c) if covered else None for c, covered in zip(table.confidence, table.covered)
    ]
    rows = named(mean_confidence_by(periods, confidences))
    if rows:
        st.altair_chart(line_over_time(rows, "mean_confidence", "mean confidence"), width="stretch")
    else:
        st.caption("No scored documents yet.")
with right:
    batch_of = dict(zip(table.document_ids, (int(i) for i in snapshot.import_ids)))
    agreement = named(
        agreement_over_time(
            store.review_history(project.id), by=by, batch_of=batch_of if by == "batch" else None
        )
    )
    if agreement:
        st.altair_chart(
            line_over_time(agreement, "agreement", "reviewer–model agreement"), width="stretch"
        )
    else:
        st.caption("Reviewer–model agreement appears once documents are reviewed.")

st.subheader("Drift")
batches = [i for i in snapshot.imports if (snapshot.import_ids == i).any()]
if len(batches) < 2:
    st.caption("Drift compares two import batches; import another file to compare.")
    st.stop()
cols = st.columns(2)
baseline = cols[0].selectbox(
    "Baseline batch", batches, format_func=snapshot.imports.get, key="monitor_baseline"
)
batch = cols[1].selectbox(
    "Compare batch",
    batches,
    index=len(batches) - 1,
    format_func=snapshot.imports.get,
    key="monitor_batch",
)
if baseline == batch:
    st.caption("Pick two different batches.")
    st.stop()
report = drift(snapshot, baseline, batch)
metric_cols = st.columns(2)
metric_cols[0].metric("PSI, predicted labels", f"{report.label_psi:.3f}")
metric_cols[1].metric(
    "PSI, confidence",
    "—" if report.confidence_psi is None else f"{report.confidence_psi:.3f}",
)
if not report.enough_data:
    st.info(
        f"Too little data to judge drift: {report.n_baseline:,} and {report.n_batch:,} "
        f"documents. At these sizes PSI is about {report.chance_psi:.2f} by chance alone, "
        f"so the figures above say nothing yet; compare batches of at least "
        f"{report.documents_needed:,} documents each.",
        icon=":material/hourglass_empty:",
    )
elif report.level == "significant":
    st.warning(
        f"Significant shift: PSI above {SIGNIFICANT_PSI} between {snapshot.imports[baseline]} "
        f"and {snapshot.imports[batch]}. The new texts differ from the baseline; review a sample "
        "of them before trusting the suggestions.",
        icon=":material/warning:",
    )
elif report.level == "moderate":
    st.info(
        f"Moderate shift: PSI between {MODERATE_PSI} and {SIGNIFICANT_PSI}. Worth a look.",
        icon=":material/info:",
    )
else:
    st.success(f"Stable: PSI below {MODERATE_PSI}.")
st.altair_chart(
    distribution_comparison_chart(
        report.baseline_counts,
        report.batch_counts,
        (snapshot.imports[baseline], snapshot.imports[batch]),
    ),
    width="stretch",
)
