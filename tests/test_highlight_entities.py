"""Entity types on the Review page: which are in the evidence, which are evidence for a
label, and the evidence with some types turned off."""

from __future__ import annotations

from core.techniques.base import Span
from ui.highlight import entity_kinds, entity_type, without_entity_kinds

EVIDENCE = [
    Span(0, 4, "entity", "billing", "ORG"),
    Span(5, 9, "entity", None, "PERSON"),
    Span(10, 14, "entity", None, "DATE"),
    Span(15, 20, "keyword", "billing", "refund"),
    {"start": 21, "end": 25, "kind": "entity", "label": None, "detail": "ORG"},  # stored form
    Span(26, 30, "entity", None, ""),  # no type given
    Span(31, 35, "rule", None, "PERSON"),  # a rule's detail is a pattern, not a type
]


def test_entity_types_sorted_and_those_that_are_evidence_for_a_label():
    kinds, labelled = entity_kinds(EVIDENCE)
    assert kinds == ["DATE", "ORG", "PERSON", "entity"]
    assert labelled == {"ORG"}


def test_entity_type_is_none_for_other_evidence():
    assert entity_type(Span(0, 1, "keyword", "billing", "x")) is None
    assert entity_type({"kind": "entity", "detail": "GPE"}) == "GPE"


def test_turning_types_off_drops_only_those_entities():
    kept = without_entity_kinds(EVIDENCE, {"ORG"})
    assert kept == [EVIDENCE[0], EVIDENCE[3], EVIDENCE[4], EVIDENCE[6]]
    assert without_entity_kinds(EVIDENCE, set()) == [EVIDENCE[3], EVIDENCE[6]]
    assert without_entity_kinds(EVIDENCE, {"ORG", "PERSON", "DATE", "entity"}) == EVIDENCE
