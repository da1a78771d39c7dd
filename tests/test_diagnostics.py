"""Per-technique diagnostics: Snorkel-style coverage/overlap/conflict, accuracy against
reviews, and the patterns/keywords that are most often wrong."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.documents import Document
from core.engine import run_techniques
from core.evaluation.diagnostics import (
    coverage_overlap_conflict,
    diagnose,
    diagnose_project,
    evidence_record,
)
from core.store import Store
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import create_technique
from core.techniques.base import Span, TextResult

LABELS = ["billing", "shipping"]


def result(billing: float | None, *evidence: Span) -> TextResult:
    """A single-label result leaning to billing (> 0.5) or shipping; None abstains."""
    if billing is None:
        return TextResult(scores=None, evidence=list(evidence))
    return TextResult(
        scores={"billing": billing, "shipping": 1.0 - billing}, evidence=list(evidence)
    )


# Four documents, three techniques:
#   d1: a billing, b billing, c abstains   -> overlap, no conflict
#   d2: a billing, b shipping, c shipping  -> overlap and conflict for all three
#   d3: a shipping, b abstains, c abstains -> a alone
#   d4: everyone abstains
HAND_MADE = {
    "a": {"d1": result(0.9), "d2": result(0.8), "d3": result(0.1), "d4": result(None)},
    "b": {"d1": result(0.7), "d2": result(0.2), "d3": result(None), "d4": result(None)},
    "c": {"d1": result(None), "d2": result(0.3), "d4": result(None)},  # d3 missing: abstains
}
DOCS = ["d1", "d2", "d3", "d4"]


def test_coverage_overlap_and_conflict_on_a_hand_made_set():
    votes = {
        name: {
            doc: None if r.scores is None else frozenset([max(r.scores, key=r.scores.get)])
            for doc, r in results.items()
        }
        for name, results in HAND_MADE.items()
    }
    shares = coverage_overlap_conflict(votes, DOCS)
    assert shares["a"] == (3 / 4, 2 / 4, 1 / 4)
    assert shares["b"] == (2 / 4, 2 / 4, 1 / 4)
    assert shares["c"] == (1 / 4, 1 / 4, 1 / 4)


def test_diagnose_scores_each_technique_against_reviews_on_the_documents_it_covered():
    truth = {"d1": ["billing"], "d2": ["shipping"], "d3": ["shipping"]}
    report = diagnose(HAND_MADE, truth, LABELS, document_ids=DOCS)
    by_name = {t.technique: t for t in report.techniques}
    assert (by_name["a"].n_covered_truth, by_name["a"].accuracy) == (3, pytest.approx(2 / 3))
    assert (by_name["b"].n_covered_truth, by_name["b"].accuracy) == (2, 1.0)
    assert (by_name["c"].n_covered_truth, by_name["c"].accuracy) == (1, 1.0)
    assert by_name["b"].coverage == 0.5


def test_diagnose_reports_the_expected_calibration_error_of_an_overconfident_technique():
    truth = {"d1": ["shipping"], "d2": ["shipping"]}
    overconfident = {"x": {"d1": result(1.0), "d2": result(0.0)}}  # sure, and right half the time
    report = diagnose(overconfident, truth, LABELS)
    assert report.techniques[0].ece == pytest.approx(0.5)


def test_the_ensemble_is_not_diagnosed_as_a_technique():
    with_ensemble = {**HAND_MADE, "ensemble": {"d1": result(0.5)}}
    names = [t.technique for t in diagnose(with_ensemble, {}, LABELS).techniques]
    assert names == ["a", "b", "c"]


def test_evidence_record_counts_each_pattern_once_per_document_and_lists_where_it_was_wrong():
    refund = Span(0, 6, "keyword", "billing", "refund")
    per_technique = {
        "lexicon": {
            "d1": result(1.0, refund, refund),  # two hits, one document
            "d2": result(1.0, refund),
            "d3": result(1.0, refund),
            "d5": result(1.0, refund),  # not reviewed: not counted
        }
    }
    truth = {"d1": ["billing"], "d2": ["shipping"], "d3": ["shipping"]}
    (record,) = evidence_record(per_technique, truth)
    assert (record.n_fired, record.n_correct, record.n_wrong) == (3, 1, 2)
    assert record.precision == pytest.approx(1 / 3)
    assert record.wrong_documents == ("d2", "d3")


def test_evidence_record_puts_the_most_often_wrong_pattern_first():
    good = Span(0, 1, "rule", "billing", r"invoice\s*#\d+")
    bad = Span(0, 1, "rule", "billing", r"order")
    per_technique = {
        "rules": {
            "d1": result(1.0, good, bad),
            "d2": result(1.0, bad),
            "d3": result(1.0, bad),
        }
    }
    truth = {"d1": ["billing"], "d2": ["shipping"], "d3": ["shipping"]}
    records = evidence_record(per_technique, truth)
    assert [r.detail for r in records] == ["order", r"invoice\s*#\d+"]


def test_entity_spans_without_a_label_are_not_scored_as_evidence():
    entity = Span(0, 4, "entity", None, "ORG")
    per_technique = {"ner": {"d1": result(0.9, entity)}}
    assert evidence_record(per_technique, {"d1": ["billing"]}) == []


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.dictionaries(
            st.sampled_from(DOCS),
            st.one_of(st.none(), st.sampled_from([frozenset(["x"]), frozenset(["y"])])),
        ),
        min_size=1,
    )
)
def test_shares_are_ordered_coverage_over_overlap_over_conflict(votes):
    for coverage, overlap, conflict in coverage_overlap_conflict(votes, DOCS).values():
        assert 1.0 >= coverage >= overlap >= conflict >= 0.0


# --- from a real store, with the real rules and lexicon techniques --------------------------


def test_diagnose_project_finds_the_keyword_that_misleads(db_path):
    taxonomy = Taxonomy(
        labels=(
            Label("billing", keywords=(Keyword("refund"), Keyword("order"))),
            Label("shipping", keywords=(Keyword("parcel"),), patterns=(r"\btracking\b",)),
        )
    )
    texts = {
        "I want a refund for my order": "billing",
        "Where is my order? No tracking number yet": "shipping",
        "The parcel with my order never arrived": "shipping",
        "Refund the double charge please": "billing",
    }
    with Store(db_path) as store:
        project = store.create_project("diagnostics")
        store.save_taxonomy(project.id, taxonomy)
        documents = [Document.from_text(text) for text in texts]
        store.add_documents(
            project.id, documents, filename="t.txt", format="txt", encoding="utf-8", sha256="x"
        )
        run_techniques(store, project.id, [create_technique("rules"), create_technique("lexicon")])
        for document, label in zip(documents, texts.values()):
            store.add_review(
                project.id, document.id, reviewer="ann", decision="correct", labels=[label]
            )
        report = diagnose_project(store, project.id)
    worst = report.evidence[0]
    assert (worst.technique, worst.label, worst.detail) == ("lexicon", "billing", "order")
    assert (worst.n_fired, worst.n_correct) == (3, 1)
    by_name = {t.technique: t for t in report.techniques}
    assert by_name["rules"].coverage == 0.25  # only "tracking" matched
    assert by_name["rules"].conflict == 0.25  # lexicon said billing ("order") there
