"""Learning from reviews: supervised model and ensemble weights, on a real store and real MiniLM."""

from __future__ import annotations

import pytest

import core.techniques as techniques_registry
from core.documents import Document
from core.engine import run_techniques
from core.learn import NotEnoughReviews, fit_ensemble_weights, load_supervised, train_supervised
from core.store import Store
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import create_technique
from core.techniques.base import Technique, TextResult

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


class AlwaysWrong(Technique):
    """A technique that confidently picks the wrong label: its fitted weight must go down."""

    name = "test_always_wrong"

    def predict(self, texts, taxonomy):
        out = []
        for text in texts:
            wrong = "shipping" if text in BILLING else "billing"
            out.append(
                TextResult(scores={n: (0.95 if n == wrong else 0.05) for n in taxonomy.names})
            )
        return out


@pytest.fixture(autouse=True)
def always_wrong_registered(monkeypatch):
    """Registered for this module's tests only: the registry is process-global and
    other modules (the technique contract) iterate over every registered name."""
    monkeypatch.setitem(techniques_registry._REGISTRY, AlwaysWrong.name, AlwaysWrong)


@pytest.fixture
def reviewed(db_path):
    store = Store(db_path)
    project = store.create_project("learn")
    store.save_taxonomy(project.id, TAXONOMY)
    docs = [Document.from_text(t) for t in BILLING + SHIPPING]
    store.add_documents(
        project.id, docs, filename="x.txt", format="txt", encoding="utf-8", sha256="s"
    )
    for doc in docs:
        label = "billing" if doc.text in BILLING else "shipping"
        store.add_review(project.id, doc.id, reviewer="ana", decision="correct", labels=[label])
    return store, project, docs


def test_too_few_reviews_is_explained(db_path):
    store = Store(db_path)
    project = store.create_project("empty")
    store.save_taxonomy(project.id, TAXONOMY)
    with pytest.raises(NotEnoughReviews, match="at least"):
        train_supervised(store, project.id)
    with pytest.raises(NotEnoughReviews, match="at least"):
        fit_ensemble_weights(store, project.id)


def test_supervised_trains_stores_and_predicts(reviewed):
    store, project, docs = reviewed
    model, metrics = train_supervised(store, project.id)
    assert metrics["n_reviews"] == 24 and metrics["cv_accuracy"] >= 0.75
    loaded = load_supervised(store, project.id)
    assert loaded.fingerprint == model.fingerprint  # stored without pickle, read back the same
    technique = create_technique("supervised", trained=loaded)
    results = technique.predict(["refund my invoice", "the courier lost my parcel"], TAXONOMY)
    assert max(results[0].scores, key=results[0].scores.get) == "billing"
    assert max(results[1].scores, key=results[1].scores.get) == "shipping"


def test_retraining_changes_the_cache_key(reviewed):
    store, project, docs = reviewed
    first, _ = train_supervised(store, project.id)
    store.add_review(
        project.id, docs[0].id, reviewer="ana", decision="correct", labels=["shipping"]
    )
    second, _ = train_supervised(store, project.id)
    a = create_technique("supervised", trained=first).config_hash(TAXONOMY)
    b = create_technique("supervised", trained=second).config_hash(TAXONOMY)
    assert a != b


def test_fitted_weights_trust_the_right_technique(reviewed):
    store, project, docs = reviewed
    run_techniques(
        store, project.id, [create_technique("embeddings"), create_technique("test_always_wrong")]
    )
    fitted = fit_ensemble_weights(store, project.id)
    weights = fitted["params"]["weights"]
    assert weights["embeddings"] > weights["test_always_wrong"]
    assert fitted["metrics"]["cv_accuracy"] >= fitted["metrics"]["equal_weights_cv_accuracy"]
    stored = store.latest_trained_model(project.id, "ensemble_weights")
    assert stored.params["weights"] == weights and stored.n_reviews == 24
