"""rules technique: RE2 patterns per label, abstention, scoring, bounded and load-independent
matching."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import regex

from core.documents import Document
from core.engine import run_techniques
from core.store import Store
from core.taxonomy import Label, Taxonomy, TaxonomyError, validate
from core.techniques import create_technique
from core.techniques.options import OptionsError
from core.techniques.rules import compile_patterns
from core.textmatch import ENGINE, MAX_SCANNED_CHARS, find_spans

BILLING = Label("Billing", patterns=(r"\brefund\b", r"\binvoice\s*#?\d+", r"\bcharge ?back\b"))
SHIPPING = Label("Shipping", patterns=(r"\btracking number\b",))
OTHER = Label("Other")
TAXONOMY = Taxonomy((BILLING, SHIPPING, OTHER))


def predict_one(text: str, taxonomy: Taxonomy = TAXONOMY, **options):
    return create_technique("rules", **options).predict([text], taxonomy)[0]


def test_matching_is_case_insensitive_by_default():
    result = predict_one("Please REFUND me", multi_label=True)
    assert result.scores["Billing"] > 0


def test_case_sensitive_option_requires_exact_case():
    assert predict_one("Please REFUND me", case_sensitive=True).abstained
    assert not predict_one("Please refund me", case_sensitive=True).abstained


def test_abstains_when_no_pattern_matches():
    result = predict_one("Hello, how are you?")
    assert result.scores is None and result.evidence == []


def test_abstains_when_the_taxonomy_has_no_patterns():
    assert predict_one("refund", Taxonomy((Label("A"), Label("B")))).abstained


def test_evidence_spans_slice_the_text_to_the_matched_text():
    text = "Invoice #123 needs a refund.\nAlso invoice 9 and a chargeback."
    result = predict_one(text)
    found = sorted((span.start, span.end, span.detail) for span in result.evidence)
    expected = sorted(
        (m.start(), m.end(), pattern)
        for pattern in BILLING.patterns
        for m in regex.finditer(pattern, text, flags=regex.IGNORECASE)
    )
    assert found == expected
    for span in result.evidence:
        assert span.kind == "rule" and span.label == "Billing"
        assert regex.fullmatch(span.detail, text[span.start : span.end], flags=regex.IGNORECASE)


def test_multi_label_gives_zero_to_labels_without_a_hit():
    result = predict_one("refund", multi_label=True)
    assert result.scores["Shipping"] == 0.0 and result.scores["Other"] == 0.0
    assert result.scores["Billing"] > 0.5


def test_multi_label_scores_every_label_that_matched():
    result = predict_one("refund and tracking number", multi_label=True)
    assert result.scores["Billing"] > 0 and result.scores["Shipping"] > 0


def test_single_label_scores_sum_to_one_with_zero_for_labels_without_a_hit():
    result = predict_one("refund, invoice 12, tracking number")
    assert sum(result.scores.values()) == pytest.approx(1.0)
    assert result.scores["Other"] == 0.0
    assert result.scores["Billing"] > result.scores["Shipping"]


def test_more_distinct_patterns_give_a_higher_score():
    one = predict_one("refund", multi_label=True).scores["Billing"]
    two = predict_one("refund for invoice 7", multi_label=True).scores["Billing"]
    three = predict_one("refund for invoice 7 after a chargeback", multi_label=True)
    assert one < two < three.scores["Billing"] <= 1.0


def test_repeated_hits_of_one_pattern_count_a_little_and_saturate():
    once = predict_one("refund", multi_label=True).scores["Billing"]
    twice = predict_one("refund refund", multi_label=True).scores["Billing"]
    many = predict_one("refund " * 500, multi_label=True).scores["Billing"]
    two_patterns = predict_one("refund invoice 1", multi_label=True).scores["Billing"]
    assert once < twice < many < two_patterns


def test_zero_length_matches_are_not_evidence():
    taxonomy = Taxonomy((Label("Edges", patterns=(r"\b",)),))
    validate(taxonomy)  # \b never matches the empty *text*, so it passes validation
    assert predict_one("some words", taxonomy).abstained


# Patterns that backtrack catastrophically (or polynomially) in a backtracking engine, and
# texts that make them do it. Before RE2, the first four passed validation (the regex
# module's own flags hid them from the static check) and took 0.25 s each per text, then
# counted as "no match". Now each validates and finds exactly what it should.
HOSTILE = [
    # (pattern, hostile text, the matched pieces RE2 must find)
    (r"(a{1,30}){1,30}$", "a" * 50_000 + "b", []),
    (r"(a{1,30}){1,30}$", "b" + "a" * 50_000, ["a" * 900]),  # at most 30 x 30 at the end
    (r"\w*\w*\w*\w*\w*!", "a" * 50_000 + "-!", ["!"]),
    (r"(a+)+$", "a" * 50_000 + "!", []),
    (r"(\w+\s?)+$", "word " * 10_000 + "!", []),
    (r"(a|aa)+b", "a" * 50_000, []),
    (r"(a|aa)+b", "a" * 50_000 + "b", ["a" * 50_000 + "b"]),
]


@pytest.mark.parametrize(("pattern", "text", "found"), HOSTILE)
def test_patterns_that_backtrack_elsewhere_validate_and_match_exactly(pattern, text, found):
    taxonomy = Taxonomy((Label("Hostile", patterns=(pattern,)), Label("Other")))
    validate(taxonomy)  # nothing to refuse: RE2 matches in time linear in the text
    results = create_technique("rules").predict([text] * 10, taxonomy)
    for result in results:
        assert [text[span.start : span.end] for span in result.evidence] == found
        assert result.abstained == (not found)


def test_a_batch_of_hostile_patterns_over_many_documents_finds_every_match():
    """10 patterns x 10 documents took 37 s with the regex module and found nothing."""
    patterns = tuple(pattern for pattern, _, _ in HOSTILE[:7])
    taxonomy = Taxonomy((Label("Hostile", patterns=patterns), Label("Other")))
    texts = ["a" * 20_000 + f" invoice {i} !" for i in range(10)]
    for text, result in zip(texts, create_technique("rules").predict(texts, taxonomy)):
        # "!" is found by \w*...! (as itself); nothing else matches these texts.
        assert [text[span.start : span.end] for span in result.evidence] == ["!"]


LEGAL_FORMS = r"\b(?:plc|Inc\.?|Ltd)\b"


def _company_text(length: int) -> str:
    words = "Acme Ltd wrote to Widgets plc and Foo Inc. about the order from Bar Inc today. "
    return (words * (length // len(words) + 1))[:length]


@pytest.mark.parametrize("length", [2_515, 100_000])
def test_rule_results_are_the_same_with_the_machine_loaded(length):
    """Under the regex module this pattern timed out (0.25 s) on a 2,515-character text on a
    loaded machine, and "no match" was cached. RE2 has no timeout: four runs in parallel
    (competing for the CPU) find exactly what Python's own re finds."""
    text = _company_text(length)
    expected = [(m.start(), m.end()) for m in re.finditer(LEGAL_FORMS, text, flags=re.IGNORECASE)]
    assert len(expected) > 50
    taxonomy = Taxonomy((Label("Company", patterns=(LEGAL_FORMS,)), Label("Other")))

    def spans() -> list[tuple[int, int]]:
        technique = create_technique("rules", max_spans_per_pattern=10**6)
        [result] = technique.predict([text], taxonomy)
        return [(span.start, span.end) for span in result.evidence]

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda _: spans(), range(8)))
    assert all(run == expected for run in runs)


def test_rules_have_no_time_limit_option():
    with pytest.raises(OptionsError, match="unknown option 'timeout'"):
        create_technique("rules", timeout=0.25)
    assert "timeout" not in create_technique("rules").config()


def test_each_pattern_reads_at_most_the_scan_limit(monkeypatch):
    taxonomy = Taxonomy((Label("Billing", patterns=(r"\brefund\b",)),))
    text = "x" * 90 + " refund " + "y" * 100 + " refund"
    assert len(predict_one(text, taxonomy).evidence) == 2
    monkeypatch.setattr("core.techniques.rules.MAX_SCANNED_CHARS", 150)
    technique = create_technique("rules")
    assert [span.start for span in technique.predict([text], taxonomy)[0].evidence] == [91]
    assert technique.config()["max_scanned_chars"] == 150  # part of the cache key


def test_the_engine_is_part_of_the_config_hash(monkeypatch):
    technique = create_technique("rules")
    assert technique.config()["engine"] == ENGINE and ENGINE.startswith("re2 ")
    before = technique.config_hash(TAXONOMY)
    monkeypatch.setattr("core.techniques.rules.ENGINE", "re2 9.9, matching 9")
    assert technique.config_hash(TAXONOMY) != before
    assert MAX_SCANNED_CHARS >= 100_000  # whole documents: ingest caps texts at 100,000


def test_offsets_are_characters_in_non_ascii_text():
    text = "Ünïcödé 😀 Rückerstattung: INV-1234 \ud800 und INV-99, ok"
    taxonomy = Taxonomy((Label("Billing", patterns=(r"INV-\d+", r"\pL+erstattung")),))
    result = predict_one(text, taxonomy)
    assert [text[span.start : span.end] for span in result.evidence] == [
        "Rückerstattung",
        "INV-1234",
        "INV-99",
    ]


@pytest.fixture
def rules_project(db_path):
    store = Store(db_path)
    project = store.create_project("rules")
    store.save_taxonomy(project.id, TAXONOMY)
    docs = [Document.from_text(f"Document {i}: refund for invoice {i}") for i in range(20)]
    store.add_documents(
        project.id, docs, filename="docs.txt", format="txt", encoding="utf-8", sha256="x"
    )
    return store, project


def test_a_failed_match_fails_the_run_and_is_never_cached(rules_project, monkeypatch):
    """No cap is left that turns into "no match"; anything that goes wrong while matching
    (here: the engine raising, as it would on running out of memory) fails the run, visibly,
    nothing is stored for the batch it hit, and a later run computes those documents."""
    store, project = rules_project
    real_find_spans = find_spans

    def failing_on_document_7(compiled, text):
        if b"Document 7:" in text.data:
            raise MemoryError("simulated: the matcher ran out of memory")
        return real_find_spans(compiled, text)

    monkeypatch.setattr("core.techniques.rules.find_spans", failing_on_document_7)
    with pytest.raises(MemoryError):
        run_techniques(store, project.id, [create_technique("rules")], batch_size=4)
    [run] = store.list_runs(project.id)
    assert run.status == "failed" and "out of memory" in (run.error or "")
    assert run.n_computed < 20
    monkeypatch.undo()
    [outcome] = run_techniques(store, project.id, [create_technique("rules")], batch_size=4)
    assert outcome.status == "finished" and outcome.n_computed == 20 - run.n_computed
    scores = store.get_scores(project.id, outcome.cache_key)
    assert len(scores) == 20 and all(value is not None for value in scores.values())


def test_an_invalid_pattern_names_label_and_pattern():
    taxonomy = Taxonomy((Label("Broken", patterns=("refund(",)),))
    with pytest.raises(TaxonomyError, match=r"'Broken'.*'refund\('"):
        predict_one("refund", taxonomy)


def test_patterns_are_compiled_once_per_taxonomy():
    technique = create_technique("rules")
    technique.predict(["refund"], TAXONOMY)
    before = compile_patterns.cache_info()
    technique.predict(["invoice 4"], TAXONOMY)
    after = compile_patterns.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def test_options_change_the_config_hash():
    plain = create_technique("rules").config_hash(TAXONOMY)
    assert create_technique("rules", case_sensitive=True).config_hash(TAXONOMY) != plain
    assert create_technique("rules").config_hash(TAXONOMY) == plain


@pytest.mark.parametrize(
    "options", [{"hit_strength": 1.0}, {"hit_strength": 0}, {"max_spans_per_pattern": -1}]
)
def test_out_of_range_options_are_refused(options):
    with pytest.raises(ValueError):
        create_technique("rules", **options)
