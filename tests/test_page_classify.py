"""The Classify page (AppTest): a background run writes predictions, a rerun is answered
from the cache, Cancel stops a run, and model errors are messages rather than tracebacks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.documents import Document
from core.store import Store
from core.techniques import _REGISTRY, register
from core.techniques.base import Technique, TextResult
from tests.page_project import FIRST_BATCH, SECOND_BATCH, TAXONOMY
from tests.rendered import as_shown
from ui.classify_ui import JOB

APP = str(Path(__file__).parent.parent / "app.py")
WAIT_S = 30.0  # upper bound for a background run in these tests


@pytest.fixture
def store(db_path):
    return Store(db_path)


@pytest.fixture
def project(store):
    project = store.create_project("classify")
    store.save_taxonomy(project.id, TAXONOMY)
    store.add_documents(
        project.id,
        [Document.from_text(text) for text in FIRST_BATCH + SECOND_BATCH],
        filename="batch.txt",
        format="txt",
        encoding="utf-8",
        sha256="0" * 64,
    )
    return project


def open_classify(project) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.id
    at.switch_page("pages/classify.py").run()
    assert not at.exception, at.exception
    return at


def wait_for_job(at: AppTest):
    job = at.session_state[JOB]
    deadline = time.monotonic() + WAIT_S
    while not job.done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.done, "the background run did not finish in time"
    at.run()  # the page shows the outcome
    assert not at.exception, at.exception
    return job


def run(at: AppTest, techniques: list[str]):
    at.multiselect(key="classify_techniques").set_value(techniques)
    at.button(key="classify_run").click().run()
    assert not at.exception, at.exception
    return wait_for_job(at)


def texts(at: AppTest, kind: str) -> str:
    return "\n".join(as_shown(element.value) for element in getattr(at, kind))


def test_page_shows_the_device_and_precision_in_use(project):
    at = open_classify(project)
    assert "Models run on **cpu** in **fp32**" in texts(at, "caption")


def test_where_the_cpu_has_bf16_the_page_and_the_run_say_so_and_why(store, project, monkeypatch):
    monkeypatch.setenv("SIFT_CPU_BF16", "1")
    at = open_classify(project)
    caption = texts(at, "caption")
    assert "in **bf16** if it agrees with fp32 on a probe set at load" in caption
    assert "auto on a CPU with native bf16" in caption
    job = run(at, ["embeddings"])
    assert job.error is None
    [outcome] = job.outcomes
    assert outcome.dtype == "bf16" and "probe cosine to fp32" in outcome.dtype_reason
    [record] = [r for r in store.list_runs(project.id) if r.technique == "embeddings"]
    assert record.dtype_reason == outcome.dtype_reason  # kept in the run log
    [table] = [df.value for df in at.dataframe if "Precision" in df.value.columns]
    assert table["Precision"].tolist() == [outcome.dtype_reason]


def test_page_without_labels_points_to_the_taxonomy(store):
    bare = store.create_project("bare")
    at = open_classify(bare)
    assert "no labels yet" in texts(at, "info")
    assert not any(button.key == "classify_run" for button in at.button)


def test_supervised_is_offered_only_once_trained(project):
    at = open_classify(project)
    options = at.multiselect(key="classify_techniques").options
    assert "rules" in options and "supervised" not in options and "ensemble" not in options


def test_a_run_writes_predictions_for_every_document(store, project):
    at = open_classify(project)
    job = run(at, ["rules", "lexicon"])
    assert job.error is None
    keys = store.latest_cache_keys(project.id)
    assert set(keys) == {"rules", "lexicon"}
    ids = set(store.document_ids(project.id))
    for key in keys.values():
        assert set(store.get_predictions(project.id, key)) == ids
    assert "rules: computed 10 documents" in texts(at, "success")


def test_a_second_run_is_answered_from_the_cache(store, project):
    at = open_classify(project)
    run(at, ["rules", "lexicon"])
    job = run(at, ["rules", "lexicon"])
    assert [outcome.n_computed for outcome in job.outcomes] == [0, 0]
    assert "rules: answered from the cache" in texts(at, "success")
    assert "lexicon: answered from the cache" in texts(at, "success")
    assert [run.n_cached for run in store.list_runs(project.id)][-2:] == [10, 10]


def test_multi_label_and_threshold_are_saved_with_the_project(store, project):
    at = open_classify(project)
    at.toggle(key="classify_multi_label").set_value(True).run()
    at.slider(key="classify_threshold").set_value(0.7).run()
    assert not at.exception, at.exception
    assert store.get_project(project.id).settings == {"multi_label": True, "threshold": 0.7}


def test_the_saved_settings_are_shown_again_after_visiting_another_page(store, project):
    store.update_project_settings(project.id, {"multi_label": True, "threshold": 0.7})
    at = open_classify(project)
    at.switch_page("pages/projects.py").run()
    at.switch_page("pages/classify.py").run()
    assert not at.exception, at.exception
    assert at.toggle(key="classify_multi_label").value is True
    assert at.slider(key="classify_threshold").value == pytest.approx(0.7)


def test_a_missing_model_is_an_error_message_not_a_traceback(store, project, tmp_path):
    at = open_classify(project)
    at.multiselect(key="classify_techniques").set_value(["zero_shot"]).run()
    at.text_input(key="classify_zero_shot_model_other").input(str(tmp_path / "no-such-model"))
    at.button(key="classify_run").click().run()
    job = wait_for_job(at)
    assert job.error and "ModelNotFoundError" in job.error
    assert "The run stopped: zero_shot: ModelNotFoundError" in texts(at, "error")
    assert [run.status for run in store.list_runs(project.id)] == []  # failed before starting


# --- cancel -------------------------------------------------------------------------------

GATE = threading.Event()


class Gated(Technique):
    """A plug-in technique that waits at each batch until the test opens the gate."""

    name = "gated_for_test"
    description = "waits for the test"

    def predict(self, texts, taxonomy):
        GATE.wait(WAIT_S)
        return [TextResult(scores=None) for _ in texts]


@pytest.fixture
def gated():
    GATE.clear()
    register(Gated)
    yield Gated.name
    GATE.set()
    _REGISTRY.pop(Gated.name, None)


def test_cancel_stops_the_run_and_keeps_finished_batches(store, project, gated):
    at = open_classify(project)
    at.number_input(key="classify_batch_size").set_value(1)
    at.multiselect(key="classify_techniques").set_value([gated, "rules"])
    at.button(key="classify_run").click().run()
    job = at.session_state[JOB]
    at.button(key="classify_cancel").click().run()  # the first batch is still waiting
    assert job.cancelled
    GATE.set()
    wait_for_job(at)
    [outcome] = job.outcomes  # rules never started
    assert (outcome.technique, outcome.status, outcome.n_computed) == (gated, "cancelled", 1)
    assert "cancelled" in texts(at, "warning")
    [record] = store.list_runs(project.id)
    assert record.status == "cancelled"


def test_an_invalid_option_is_refused_before_anything_runs(store, project):
    at = open_classify(project)
    at.multiselect(key="classify_techniques").set_value(["zero_shot"]).run()
    at.text_input(key="classify_zero_shot_template").input("no placeholder here")
    at.button(key="classify_run").click().run()
    assert not at.exception, at.exception
    assert "Cannot start:" in texts(at, "error") and "template" in texts(at, "error")
    assert JOB not in at.session_state
    assert store.list_runs(project.id) == []


# --- option forms, drawn from each technique's typed Options ----------------------------------


def test_every_option_of_a_chosen_technique_has_a_field_drawn_from_its_schema(project):
    from core.techniques import get_technique
    from ui.technique_options_ui import FORM_KINDS, form_options, widget_key

    at = open_classify(project)
    names = ["rules", "lexicon", "embeddings", "zero_shot", "ner", "summarize"]
    at.multiselect(key="classify_techniques").set_value(names).run()
    assert not at.exception, at.exception
    keys = {widget.key for widget in at.main if getattr(widget, "key", None)}
    for name in names:
        drawn = [info for info in form_options(name) if info.kind in FORM_KINDS]
        assert drawn, name
        for info in drawn:
            assert widget_key(name, info.name) in keys, (name, info.name)
        # runtime options are the page's shared controls, not per technique
        for info in get_technique(name).Options.describe():
            if info.runtime:
                assert widget_key(name, info.name) not in keys


def test_a_changed_option_reaches_the_technique_and_an_untouched_form_keeps_the_cli_key(
    store, project
):
    from core.techniques.build import build_techniques

    at = open_classify(project)
    job = run(at, ["lexicon"])
    assert job.error is None
    default_key = build_techniques(
        ["lexicon"], multi_label=False, options={}, device=None, precision=None
    )[0].config_hash(store.load_taxonomy(project.id))
    first = store.list_runs(project.id)[0]
    assert first.config_hash == default_key  # the page's defaults are the CLI's

    at.number_input(key="classify_lexicon_scale").set_value(2.5).run()
    job = run(at, ["lexicon"])
    assert job.error is None
    latest = max(store.list_runs(project.id), key=lambda r: r.id)
    assert latest.config["scale"] == 2.5
    assert latest.config_hash != default_key


def test_models_are_marked_with_where_they_load_from_before_run(project, tmp_path):
    at = open_classify(project)
    at.multiselect(key="classify_techniques").set_value(["embeddings", "zero_shot"]).run()
    assert not at.exception, at.exception
    embeddings = at.selectbox(key="classify_embeddings_model")
    assert any("✓ ships with Sift" in option for option in embeddings.options)
    # a folder that is not there is flagged before Run, a folder that is, is not
    at.text_input(key="classify_zero_shot_model_other").input(str(tmp_path / "missing")).run()
    assert "no folder there" in texts(at, "warning")
    at.text_input(key="classify_zero_shot_model_other").input(str(tmp_path)).run()
    assert "no folder there" not in texts(at, "warning")


def test_a_run_in_progress_is_seen_from_another_session_and_not_started_twice(
    store, project, gated
):
    first = open_classify(project)
    first.number_input(key="classify_batch_size").set_value(1)
    first.multiselect(key="classify_techniques").set_value([gated])
    first.button(key="classify_run").click().run()
    job = first.session_state[JOB]
    assert job.running

    second = open_classify(project)  # a reload, another tab, a colleague
    assert second.session_state[JOB] is job
    assert second.multiselect(key="classify_techniques").value == [gated]
    assert second.button(key="classify_run").disabled
    assert f"Running: {gated}." in texts(second, "caption")
    second.button(key="classify_cancel").click().run()  # feedback at once, not after the batch
    assert job.cancelled
    assert "Cancelling: the batch in progress finishes first" in texts(second, "warning")
    GATE.set()
    wait_for_job(second)
    assert [run.status for run in store.list_runs(project.id)] == ["cancelled"]


def test_a_run_says_how_many_documents_have_a_suggestion_or_that_none_has(store, project, gated):
    GATE.set()  # the gated technique answers at once: it abstains on everything
    at = open_classify(project)
    run(at, [gated])
    assert "every technique abstained everywhere" in texts(at, "warning")
    run(at, ["lexicon"])
    n = store.count_documents(project.id)
    assert f"of {n:,} documents have a suggestion" in texts(at, "caption")
    assert "every technique abstained" not in texts(at, "warning")
