"""Entities (spaCy, a tiny transformers NER model, business patterns) and the ner technique."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.models.entities import (
    Entity,
    canonical_entity_type,
    extract_entities,
    merge_entities,
    parse_backend,
    pattern_entities,
    spacy_entities,
    transformer_entities,
)
from core.models.loading import load_model
from core.taxonomy import Label, Taxonomy
from core.techniques.ner import NER, evidence_strength
from tests.fixtures.tiny_models import tiny_token_classifier  # noqa: F401  (session fixture)

BUSINESS = Taxonomy(
    (
        Label("billing", entity_types=("MONEY", "invoice_id")),
        Label("contact", entity_types=("email", "PHONE")),
        Label("other"),
    )
)
NO_HINTS = Taxonomy((Label("billing"), Label("other")))


def slices_text(text, entities):
    return all(text[entity.start : entity.end] == entity.text for entity in entities)


# --- spaCy -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_spacy_finds_a_person_and_an_organisation():
    text = "Alice Johnson joined Microsoft as head of sales last year."
    [entities] = spacy_entities([text])
    labels = {entity.label for entity in entities}
    assert "PERSON" in labels and "ORG" in labels
    assert slices_text(text, entities)


@pytest.mark.slow
def test_spacy_entities_come_back_one_list_per_text_in_order():
    texts = ["Alice Johnson called.", "", "Microsoft replied."]
    result = spacy_entities(texts)
    assert len(result) == 3 and result[1] == []
    assert [entity.text for entity in result[2]] == ["Microsoft"]


# --- transformers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_ner(tiny_token_classifier):  # noqa: F811
    return load_model("token-classification", str(tiny_token_classifier), device="cpu")


def test_transformer_entities_slice_the_original_text(tiny_ner):
    texts = ["Alice Smith works at Acme in London.", "  Bob  ", "", "Ünïcode tëxt, with ümlauts!"]
    result = transformer_entities(texts, loaded=tiny_ner)
    assert len(result) == len(texts)
    for text, entities in zip(texts, result):
        assert slices_text(text, entities)
        assert all(entity.text == entity.text.strip() and entity.text for entity in entities)
        assert {entity.label for entity in entities} <= {"PER", "ORG", "LOC", "MISC"}


def test_transformer_entities_cover_texts_longer_than_the_model_window(tiny_ner):
    # 64 positions in the tiny model; this text is several hundred tokens long
    text = " ".join(["Alice works at Acme in Paris."] * 40)
    [entities] = transformer_entities([text], loaded=tiny_ner)
    assert slices_text(text, entities)
    assert max(entity.end for entity in entities) > len(text) * 0.9


def test_transformer_entities_do_not_overlap_and_never_end_inside_a_word(tiny_ner):
    text = "Bob Jones from the Berlin office complained about unbelievable delays."
    [entities] = transformer_entities([text], loaded=tiny_ner)
    for before, after in zip(entities, entities[1:]):
        assert before.end <= after.start
    for entity in entities:
        assert entity.end == len(text) or not (
            text[entity.end - 1].isalnum() and text[entity.end].isalnum()
        )


def test_transformer_backend_runs_through_extract_entities(tiny_token_classifier):  # noqa: F811
    text = "Alice paid $5 to bob@example.com"
    [entities] = extract_entities(
        [text], backend="transformers+patterns", model=str(tiny_token_classifier), device="cpu"
    )
    assert {"MONEY", "EMAIL"} <= {entity.label for entity in entities}
    assert slices_text(text, entities)


# --- patterns --------------------------------------------------------------------------------

POSITIVE = [
    ("Write to john.smith@acme.co.uk today", "EMAIL", "john.smith@acme.co.uk"),
    ("ops+alerts@mail.example.org is monitored", "EMAIL", "ops+alerts@mail.example.org"),
    ("We paid $1,234.56 last week", "MONEY", "$1,234.56"),
    ("A fee of €20 applies", "MONEY", "€20"),
    ("Budget: USD 300 per seat", "MONEY", "USD 300"),
    ("They raised 1.2m GBP in total", "MONEY", "1.2m GBP"),
    ("It cost 300 dollars", "MONEY", "300 dollars"),
    ("Due on 2025-03-04 at the latest", "DATE", "2025-03-04"),
    ("Signed 03/04/2025 by both", "DATE", "03/04/2025"),
    ("Delivered 3 March 2025 to the depot", "DATE", "3 March 2025"),
    ("See you March 3rd then", "DATE", "March 3rd"),
    ("Starts March 3, 2025.", "DATE", "March 3, 2025"),
    ("Call +44 20 7946 0958 now", "PHONE", "+44 20 7946 0958"),
    ("US office: +1 (555) 123-4567.", "PHONE", "+1 (555) 123-4567"),
    ("Ring (555) 123-4567 please", "PHONE", "(555) 123-4567"),
    ("Cell 555-123-4567", "PHONE", "555-123-4567"),
    ("London 020 7946 0958", "PHONE", "020 7946 0958"),
    ("Docs at https://example.com/a?b=1.", "URL", "https://example.com/a?b=1"),
    ("Visit www.acme.com, thanks", "URL", "www.acme.com"),
    ("Re: INV-2024-0012 overdue", "INVOICE_ID", "INV-2024-0012"),
    ("About invoice #12345 again", "INVOICE_ID", "invoice #12345"),
    ("Invoice number: 5531 attached", "INVOICE_ID", "Invoice number: 5531"),
    ("Your order no. 778812 shipped", "ORDER_ID", "order no. 778812"),
    ("Raised PO-4411 yesterday", "ORDER_ID", "PO-4411"),
    ("Escalate TKT-1234 now", "TICKET_ID", "TKT-1234"),
    ("Following up on ticket #998", "TICKET_ID", "ticket #998"),
    ("Blocked by ABC-123 in the sprint", "TICKET_ID", "ABC-123"),
]

NEGATIVE = [
    ("We were founded in 2024", "PHONE"),
    ("We sold 1234567 units", "PHONE"),
    ("Version 1.2.3 is out", "DATE"),
    ("It may 3 times fail", "DATE"),
    ("Pick a category", None),
    ("The invoice 12 days late", "INVOICE_ID"),
    ("Please order 100 units", "ORDER_ID"),
    ("Encoded in UTF-8 per ISO-8601", "TICKET_ID"),
    ("Meet at 10 am in room 12", None),
    ("user at example dot com", "EMAIL"),
]


@pytest.mark.parametrize(("text", "label", "expected"), POSITIVE)
def test_pattern_finds_business_entity(text, label, expected):
    found = [(entity.label, entity.text) for entity in merge_entities(pattern_entities(text))]
    assert (label, expected) in found


@pytest.mark.parametrize(("text", "label"), NEGATIVE)
def test_pattern_does_not_fire_on_lookalikes(text, label):
    labels = {entity.label for entity in pattern_entities(text)}
    if label is None:
        assert labels == set()
    else:
        assert label not in labels


@pytest.mark.parametrize(
    "unit",
    ["a", "1", "a@", "1.", "+1 ", "$1,", "x@a-", "invoice #", "3 ", "1-", "(12) 1", "a" * 63 + "@"],
)
def test_patterns_scan_adversarial_text_in_linear_time(unit):
    text = unit * (200_000 // len(unit))
    started = time.perf_counter()
    pattern_entities(text)
    assert time.perf_counter() - started < 30.0  # a backtracking pattern would take hours


@given(st.text(max_size=300))
def test_pattern_entities_always_slice_the_text(text):
    assert slices_text(text, pattern_entities(text))


# --- merging and extraction ------------------------------------------------------------------


def test_pattern_entity_beats_an_overlapping_generic_model_entity():
    text = "Order PO-4411 shipped"
    cardinal = Entity(9, 13, "CARDINAL", "4411", "spacy")
    pattern = Entity(6, 13, "ORDER_ID", "PO-4411", "patterns")
    assert merge_entities([cardinal, pattern]) == [pattern]
    assert text[pattern.start : pattern.end] == pattern.text


def test_longer_span_wins_within_a_tier():
    short = Entity(0, 5, "ORG", "Acme ", "spacy")
    long = Entity(0, 10, "ORG", "Acme Corp.", "spacy")
    other = Entity(12, 17, "PERSON", "Alice", "spacy")
    assert merge_entities([short, other, long]) == [long, other]


@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(1, 10), st.sampled_from(["spacy", "patterns"])),
        max_size=20,
    )
)
def test_merged_entities_never_overlap_and_are_sorted(raw):
    entities = [Entity(start, start + length, "X", "", source) for start, length, source in raw]
    merged = merge_entities(entities)
    for before, after in zip(merged, merged[1:]):
        assert before.end <= after.start


@pytest.mark.slow
def test_default_backend_merges_spacy_and_patterns():
    text = "Alice Johnson of Microsoft emailed alice@microsoft.com about INV-2024-0012."
    [entities] = extract_entities([text])
    labels = {entity.label for entity in entities}
    assert {"PERSON", "EMAIL", "INVOICE_ID"} <= labels
    assert {entity.source for entity in entities} == {"spacy", "patterns"}
    assert slices_text(text, entities)


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match="spacy, transformers, patterns"):
        parse_backend("spacy+flair")


@pytest.mark.parametrize(
    ("given_type", "canonical"),
    [
        ("per", "PERSON"),
        ("PERSON", "PERSON"),
        ("Organization", "ORG"),
        ("GPE", "LOCATION"),
        ("loc", "LOCATION"),
        ("e-mail", "EMAIL"),
        ("money", "MONEY"),
        ("NORP", "NORP"),
    ],
)
def test_entity_type_aliases(given_type, canonical):
    assert canonical_entity_type(given_type) == canonical


# --- the ner technique -----------------------------------------------------------------------


def test_hinted_entities_raise_their_label():
    [result] = NER(backend="patterns").predict(
        ["Please pay invoice #12345 for $1,200.00 by Friday."], BUSINESS
    )
    assert max(result.scores, key=result.scores.get) == "billing"
    assert sum(result.scores.values()) == pytest.approx(1.0)
    assert set(result.scores) == set(BUSINESS.names)


def test_multi_label_scores_each_hinted_label_independently():
    [result] = NER(backend="patterns", multi_label=True).predict(
        ["Invoice #12345 for $1,200.00; questions to ap@acme.com"], BUSINESS
    )
    assert result.scores["billing"] > 0.5 and result.scores["contact"] > 0.3
    assert result.scores["other"] == 0.0
    assert all(0.0 <= score < 1.0 for score in result.scores.values())


def test_more_distinct_hinted_entities_give_more_evidence():
    hinted = frozenset({"MONEY", "INVOICE_ID"})
    one = pattern_entities("We paid $10.")
    two = pattern_entities("We paid $10 for INV-2024-0012.")
    same_twice = pattern_entities("We paid $10 and $10.")
    assert evidence_strength(two, hinted) > evidence_strength(one, hinted)
    assert evidence_strength(same_twice, hinted) == evidence_strength(one, hinted)


def test_abstains_when_no_label_has_hints():
    [result] = NER(backend="patterns").predict(["Invoice #12345 for $1,200.00"], NO_HINTS)
    assert result.abstained


def test_abstains_when_no_hinted_entity_occurs_but_still_shows_entities():
    [result] = NER(backend="patterns").predict(["Visit www.acme.com on 2025-03-04"], BUSINESS)
    assert result.abstained
    assert {span.detail for span in result.evidence} == {"URL", "DATE"}
    assert all(span.label is None for span in result.evidence)


def test_evidence_covers_every_entity_with_its_hinted_label():
    text = "Invoice #12345 for $1,200.00 was sent to ap@acme.com on 2025-03-04."
    [result] = NER(backend="patterns").predict([text], BUSINESS)
    entities = extract_entities([text], backend="patterns")[0]
    assert [(s.start, s.end, s.detail) for s in result.evidence] == [
        (e.start, e.end, e.label) for e in entities
    ]
    assert all(span.kind == "entity" for span in result.evidence)
    by_type = {span.detail: span.label for span in result.evidence}
    assert by_type == {
        "INVOICE_ID": "billing",
        "MONEY": "billing",
        "EMAIL": "contact",
        "DATE": None,
    }


@pytest.mark.slow
def test_aliases_connect_spacy_types_to_hints():
    taxonomy = Taxonomy(
        (Label("people", entity_types=("per",)), Label("places", entity_types=("location",)))
    )
    [result] = NER(backend="spacy").predict(["Alice Johnson flew to Paris."], taxonomy)
    assert result.scores["people"] > 0 and result.scores["places"] > 0
    assert {span.label for span in result.evidence} == {"people", "places"}


@pytest.mark.slow
def test_model_info_names_the_spacy_pipeline():
    info = NER().model_info()
    assert "core_web_sm" in info.model_id and info.revision


def test_bad_backend_is_refused_at_construction():
    with pytest.raises(ValueError, match="unknown entity backend"):
        NER(backend="regex")


def test_ner_technique_with_a_transformers_model_keeps_the_contract(tiny_token_classifier):  # noqa: F811
    taxonomy = Taxonomy(
        (Label("people", entity_types=("PERSON", "ORG")), Label("places", entity_types=("LOC",)))
    )
    technique = NER(backend="transformers", model=str(tiny_token_classifier), device="cpu")
    texts = ["Alice Smith works at Acme in London.", "Bob Jones will present in Paris."]
    for text, result in zip(texts, technique.predict(texts, taxonomy)):
        assert result.evidence  # random weights tag nearly every word
        assert all(0 <= span.start < span.end <= len(text) for span in result.evidence)
        assert all(span.detail in {"PER", "ORG", "LOC", "MISC"} for span in result.evidence)
        if not result.abstained:
            assert set(result.scores) == {"people", "places"}
            assert sum(result.scores.values()) == pytest.approx(1.0)
    assert technique.model_info().model_id.endswith("tiny-ner")
