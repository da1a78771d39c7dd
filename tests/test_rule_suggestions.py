"""Keyword suggestions from reviewed documents, and adding one to the taxonomy."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.documents import Document
from core.learning.rule_suggestions import (
    apply_suggestion,
    suggest_for_project,
    suggest_keywords,
    wilson_lower_bound,
)
from core.store import Store
from core.taxonomy import Keyword, Label, Taxonomy

TAXONOMY = Taxonomy(labels=(Label("billing", keywords=(Keyword("invoice"),)), Label("shipping")))

# "chargeback" is planted in 6 billing texts and 1 shipping text: precision 6/7, support 6.
REVIEWED = [
    ("A chargeback appeared on my card statement", "billing"),
    ("Please explain this chargeback from March", "billing"),
    ("The chargeback was filed by mistake", "billing"),
    ("I disputed it and now there is a chargeback fee", "billing"),
    ("Cancel the chargeback, the invoice is fine", "billing"),
    ("Why is there a chargeback next to the invoice", "billing"),
    ("My invoice total looks wrong", "billing"),
    ("The courier left the parcel at the wrong door", "shipping"),
    ("Parcel tracking shows no movement since Monday", "shipping"),
    ("The parcel arrived damaged and late", "shipping"),
    ("Courier says the chargeback address was wrong", "shipping"),
    ("Delivery was late again this week", "shipping"),
]
TEXTS = [text for text, _ in REVIEWED]
LABELS = [[label] for _, label in REVIEWED]


def test_a_planted_discriminative_word_is_suggested_with_its_precision_and_support():
    suggestions = suggest_keywords(TEXTS, LABELS, TAXONOMY)["billing"]
    chargeback = next(s for s in suggestions if s.term == "chargeback")
    assert chargeback.precision == pytest.approx(6 / 7)
    assert (chargeback.support, chargeback.n_matched) == (6, 7)
    assert chargeback.recall == pytest.approx(6 / 7)  # 7 billing texts
    assert suggestions[0].term == "chargeback"


def test_terms_already_among_the_labels_keywords_are_not_suggested_in_any_form():
    texts = [*TEXTS, "Two invoices arrived", "Invoices again"]
    labels = [*LABELS, ["billing"], ["billing"]]
    terms = {s.term for s in suggest_keywords(texts, labels, TAXONOMY)["billing"]}
    assert "invoice" not in terms and "invoices" not in terms
    assert "chargeback" in terms


def test_the_other_label_gets_its_own_words():
    terms = [s.term for s in suggest_keywords(TEXTS, LABELS, TAXONOMY)["shipping"]]
    assert "parcel" in terms
    assert "chargeback" not in terms


def test_words_below_the_minimum_support_are_left_out():
    suggestions = suggest_keywords(TEXTS, LABELS, TAXONOMY, min_support=7)
    assert suggestions["billing"] == []


def test_precision_is_measured_as_the_lexicon_would_match_inflections():
    texts = ["refund me", "refunds are slow", "refunded twice?", "the refund page", "hello"]
    labels = [["billing"], ["billing"], ["billing"], ["shipping"], ["shipping"]]
    (refund,) = [
        s for s in suggest_keywords(texts, labels, TAXONOMY)["billing"] if s.term == "refund"
    ]
    assert (refund.support, refund.n_matched) == (3, 4)  # "refunds", "refunded" count too


def test_suggestions_for_one_label_only():
    out = suggest_keywords(TEXTS, LABELS, TAXONOMY, only_label="shipping")
    assert list(out) == ["shipping"]


def test_apply_suggestion_adds_the_keyword_to_that_label_only():
    updated = apply_suggestion(TAXONOMY, "billing", "chargeback")
    assert [k.term for k in updated["billing"].keywords] == ["invoice", "chargeback"]
    assert updated["shipping"] == TAXONOMY["shipping"]
    assert TAXONOMY["billing"].keywords == (Keyword("invoice"),)  # the original is untouched


def test_apply_suggestion_is_a_no_op_for_a_term_already_covered():
    assert apply_suggestion(TAXONOMY, "billing", "Invoices") == TAXONOMY


def test_apply_suggestion_names_the_labels_when_the_label_is_unknown():
    with pytest.raises(KeyError, match="billing, shipping"):
        apply_suggestion(TAXONOMY, "returns", "chargeback")


@given(st.integers(0, 50), st.integers(0, 50))
def test_wilson_lower_bound_lies_between_zero_and_the_observed_precision(successes, extra):
    trials = successes + extra
    bound = wilson_lower_bound(successes, trials)
    assert 0.0 <= bound <= (successes / trials if trials else 0.0) + 1e-12


def test_suggestions_from_a_real_store_use_current_reviews(db_path):
    with Store(db_path) as store:
        project = store.create_project("suggest")
        store.save_taxonomy(project.id, TAXONOMY)
        documents = [Document.from_text(text) for text in TEXTS]
        store.add_documents(
            project.id, documents, filename="t.txt", format="txt", encoding="utf-8", sha256="x"
        )
        store.add_reviews(
            project.id,
            [
                {"document_id": doc.id, "decision": "correct", "labels": labels, "shown": None}
                for doc, labels in zip(documents, LABELS)
            ],
            reviewer="ann",
        )
        suggestions = suggest_for_project(store, project.id)
    assert suggestions["billing"][0].term == "chargeback"
