"""The one learning path (core.learning.loop.learn): cross-fitting, the guard, versions, pin
and roll back, honest Evaluate; on a real store with the real packaged MiniLM."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from core.cli import main as cli_main
from core.documents import Document
from core.engine import run_techniques
from core.evaluation.metrics import evaluate_project, suggestion_scores
from core.learning import loop, versions
from core.learning.guard import Rows, judge
from core.learning.linear import LabelPrior, fit_linear_model
from core.learning.loop import learn, learning_state, maybe_refresh
from core.learning.stacking import fit_weights
from core.learning.trained import current_supervised_model
from core.predictions import load_predictions
from core.store import Store
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import create_technique

TAXONOMY = Taxonomy(
    labels=(
        Label(
            name="billing",
            description="invoices, payments and refunds",
            keywords=(Keyword("refund"),),
        ),
        Label(
            name="shipping",
            description="parcels, couriers and deliveries",
            keywords=(Keyword("parcel"),),
        ),
    )
)
BILLING = [
    "Please refund the double charge on my card",
    "My invoice shows the wrong amount",
    "I was billed twice for one subscription",
    "Where is the refund you promised last week?",
    "The payment failed but money left my account",
    "Can I get a copy of my invoice for March?",
    "You charged me a late fee by mistake",
    "Cancel the recurring payment please",
    "The VAT on the invoice is wrong",
    "I want my money back for the order",
    "Your bank transfer details are missing from the bill",
    "Credit note for the returned items has not arrived",
]
SHIPPING = [
    "The courier left my parcel in the rain",
    "Tracking says delivered but nothing arrived",
    "My package is stuck at the depot",
    "The delivery van never came on Tuesday",
    "Can you ship to a different address?",
    "Parcel arrived damaged and crushed",
    "Delivery is three weeks late",
    "The driver could not find my house",
    "Which courier do you use for express shipping?",
    "The box was left with a neighbour I don't know",
    "Shipment lost in transit according to the carrier",
    "Please redeliver the package on Saturday",
]
REVIEWED = 8  # per label; the other four of each stay unreviewed


def label_of(text: str) -> str:
    return "billing" if text in BILLING else "shipping"


@pytest.fixture
def project(db_path):
    """24 documents, lexicon + embeddings run, 16 of them reviewed."""
    store = Store(db_path)
    pid = store.create_project("learn").id
    store.save_taxonomy(pid, TAXONOMY)
    docs = [Document.from_text(t) for t in BILLING + SHIPPING]
    store.add_documents(pid, docs, filename="x.txt", format="txt", encoding="utf-8", sha256="s")
    run_techniques(store, pid, [create_technique("lexicon"), create_technique("embeddings")])
    for doc in docs[:REVIEWED] + docs[12 : 12 + REVIEWED]:
        store.add_review(
            pid, doc.id, reviewer="ana", decision="correct", labels=[label_of(doc.text)]
        )
    return store, pid, docs


def test_too_few_reviews_is_explained(db_path):
    store = Store(db_path)
    pid = store.create_project("empty").id
    store.save_taxonomy(pid, TAXONOMY)
    outcome = learn(store, pid)
    assert outcome.skipped and "at least" in outcome.skipped and outcome.version_id is None


def test_learning_adopts_scores_every_document_and_records_the_version(project):
    store, pid, docs = project
    outcome = learn(store, pid)
    assert outcome.adopted, outcome.reason
    version = store.current_model_version(pid)
    assert version.id == outcome.version_id and version.n_reviews == 2 * REVIEWED
    key = version.config["learned_cache_keys"]["supervised"]
    assert len(store.get_predictions(pid, key)) == len(docs) == outcome.predicted
    table = load_predictions(store, pid)
    assert table.version == version.id and "supervised" in table.techniques
    held_out = versions.out_of_fold(store, pid, version)
    assert len(held_out.document_ids) == 2 * REVIEWED
    assert held_out.ensemble.sum(axis=1) == pytest.approx(np.ones(2 * REVIEWED))
    assert set(outcome.scores) == {"candidate", "current", "baseline"}
    assert outcome.scores["current"] == outcome.scores["baseline"]  # nothing learned before
    assert current_supervised_model(store, pid).classes == ("billing", "shipping")


def test_the_guard_refuses_a_deliberately_worse_candidate(project, monkeypatch):
    store, pid, docs = project
    first = learn(store, pid)
    assert first.adopted
    runs_before = len(store.list_runs(pid))
    real = loop.cross_fit

    def inverted(*args, **kwargs):  # the real recipe, every suggestion turned around
        crossed = real(*args, **kwargs)
        return replace(
            crossed,
            probabilities=crossed.probabilities[:, ::-1],
            suggested=crossed.suggested[:, ::-1],
        )

    monkeypatch.setattr(loop, "cross_fit", inverted)
    store.add_review(pid, docs[10].id, reviewer="ana", decision="correct", labels=["billing"])
    second = learn(store, pid)
    assert not second.adopted and second.reason.startswith("not adopted")
    assert store.current_model_version(pid).id == first.version_id  # kept what it had
    assert len(store.list_runs(pid)) == runs_before  # the candidate scored nothing
    rejected = store.latest_model_version(pid)
    assert (rejected.id, rejected.status) == (second.version_id, "rejected")
    assert rejected.reason == second.reason


def test_the_guard_adopts_ties_and_refuses_measurable_losses():
    truth = np.eye(2, dtype=bool)[np.arange(40) % 2]
    right = Rows(truth.copy(), truth.astype(float))
    one_off = truth.copy()
    one_off[0] = ~one_off[0]  # one document wrong: within noise
    wrong = ~truth  # everything wrong
    near = Rows(one_off, one_off.astype(float))
    worst = Rows(wrong, wrong.astype(float))
    assert judge(near, right, right, truth, multi_label=False).adopt
    refused = judge(worst, right, near, truth, multi_label=False)
    assert not refused.adopt and "zero-review baseline" in refused.reason
    against = judge(worst, right, worst, truth, multi_label=False, current_name="v7")
    assert not against.adopt and "below v7's" in against.reason
    pinned = judge(right, near, near, truth, multi_label=False, pinned="v3")
    assert not pinned.adopt and "pinned to v3" in pinned.reason


def test_stacking_out_of_fold_avoids_the_degenerate_weight_in_sample_fitting_picks():
    """A supervised model that memorises noise is perfect on its own training documents:
    weights fitted on those predictions hand it everything and drop a technique that is
    right 85% of the time. On out-of-fold predictions the useful technique keeps its weight."""
    rng = np.random.default_rng(0)
    n, dim = 60, 80
    features = rng.standard_normal((n, dim))
    truth = (rng.random(n) < 0.5).astype(int)
    labels = [["a"] if t == 0 else ["b"] for t in truth]
    prior = LabelPrior(classes=("a", "b"), coef=np.zeros((2, dim)), intercept=np.zeros(2))
    folds = loop.folds_for(np.eye(2)[truth], multi_label=False)
    fitted = fit_linear_model(
        features, labels, multi_label=False, embedding_model="m", prior=prior, folds=folds
    )
    knows = np.where(rng.random(n) < 0.85, truth, 1 - truth)
    decent = np.eye(2)[knows] * 0.8 + 0.1  # (n, 2): right 85% of the time, 0.9 confident
    targets = np.eye(2)[truth]
    present = np.ones((2, n), dtype=bool)
    in_sample = np.stack([decent, fitted.model.probabilities(features)])
    out_of_fold = np.stack([decent, fitted.out_of_fold])
    names = ["decent", "supervised"]
    degenerate = fit_weights(in_sample, present, names, targets, False)
    honest = fit_weights(out_of_fold, present, names, targets, False)
    assert degenerate["supervised"] == 1.0 and degenerate["decent"] < 0.2
    assert honest["decent"] == 1.0 and honest["supervised"] < 0.5


def test_the_cli_and_the_app_refresh_run_the_same_path(project, tmp_path):
    store, pid, _ = project
    twin = tmp_path / "twin.db"
    store.backup(twin)
    assert cli_main(["--db", str(store.path), "train", "learn", "--by", "cli"]) == 0
    with Store(twin) as other, ThreadPoolExecutor(max_workers=1) as executor:
        background = maybe_refresh(other, pid, executor)  # what ui.learning.schedule_refresh runs
        assert background is not None
        background.result(timeout=300)
        from_app = other.current_model_version(pid)
        app_model = current_supervised_model(other, pid)
    from_cli = store.current_model_version(pid)
    assert from_cli.by == "cli" and from_app.by == "system"
    assert from_cli.config["combination"] == from_app.config["combination"]
    assert current_supervised_model(store, pid).fingerprint == app_model.fingerprint
    assert from_cli.metrics == from_app.metrics


def test_pin_unpin_and_roll_back(project):
    store, pid, docs = project
    first = learn(store, pid)
    for doc in docs[REVIEWED:12] + docs[12 + REVIEWED :]:
        store.add_review(
            pid, doc.id, reviewer="ana", decision="correct", labels=[label_of(doc.text)]
        )
    second = learn(store, pid)
    assert first.adopted and second.adopted, second.reason
    v1 = store.get_model_version(pid, first.version_id, with_blob=False)
    v1_key = v1.config["learned_cache_keys"]["supervised"]
    assert store.get_predictions(pid, v1_key) == {}  # superseded: pruned

    versions.pin(store, pid, v1.id, by="ana")
    table = load_predictions(store, pid)
    assert table.version == v1.id and table.cache_keys["supervised"] == v1_key
    assert len(store.get_predictions(pid, v1_key)) == len(docs)  # recomputed from its model
    assert not learn(store, pid).adopted  # pinned: candidates are judged, none adopted

    versions.pin(store, pid, None)
    assert load_predictions(store, pid).version == second.version_id
    rolled = versions.rollback(store, pid, v1.id, by="ana")
    assert store.current_model_version(pid).id == rolled.id
    assert rolled.config["combination"] == v1.config["combination"]
    assert "rolled back to v" in rolled.reason
    rows = versions.history(store, pid)
    assert [row["status"] for row in rows] == ["adopted", "adopted", "rejected", "adopted"]
    assert [row["current"] for row in rows] == [False, False, False, True]


def test_evaluate_measures_learned_techniques_out_of_fold(project):
    store, pid, _ = project
    assert learn(store, pid).adopted
    evaluations = evaluate_project(store, pid)
    supervised, ensemble = evaluations["supervised"], evaluations["ensemble"]
    assert supervised.learned and ensemble.learned and not evaluations["lexicon"].learned
    assert supervised.n_out_of_fold == ensemble.n_out_of_fold == 2 * REVIEWED
    held_out = versions.out_of_fold(store, pid, store.current_model_version(pid))
    reviews = store.current_reviews(pid)
    truth = np.array(
        [[name in reviews[doc].labels for name in held_out.labels] for doc in held_out.document_ids]
    )
    expected = suggestion_scores(held_out.suggested, held_out.ensemble, truth, multi_label=False)
    assert ensemble.accuracy == pytest.approx(expected.accuracy)
    assert ensemble.macro_f1 == pytest.approx(expected.macro_f1)


def test_undo_is_a_change_the_next_candidate_learns_from(project):
    store, pid, docs = project
    assert learn(store, pid).adopted
    assert learning_state(store, pid).changes == 0
    for _ in range(3):
        store.undo_last_review(pid, "ana")
    state = learning_state(store, pid)
    assert state.changes == 3 and state.due
    outcome = learn(store, pid)
    assert outcome.n_reviews == 2 * REVIEWED - 3


def test_a_version_says_what_it_changed(project):
    store, pid, docs = project
    first = learn(store, pid)
    assert (
        store.get_model_version(pid, first.version_id)
        .config["changes"]
        .startswith(f"supervised model on {2 * REVIEWED} reviews (first)")
    )
    for doc in docs[REVIEWED:12]:
        store.add_review(pid, doc.id, reviewer="ana", decision="correct", labels=["billing"])
    second = learn(store, pid)
    changes = store.get_model_version(pid, second.version_id).config["changes"]
    assert changes.startswith(
        f"supervised model on {2 * REVIEWED + 4} reviews (was {2 * REVIEWED})"
    )


def test_a_rollback_is_not_replaced_before_new_reviews(project):
    store, pid, docs = project
    first = learn(store, pid)
    for doc in docs[REVIEWED:12]:
        store.add_review(pid, doc.id, reviewer="ana", decision="correct", labels=["billing"])
    learn(store, pid)
    versions.rollback(store, pid, first.version_id)
    assert not learning_state(store, pid).due
