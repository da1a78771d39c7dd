"""rules technique: regex patterns per label, abstention, scoring, timeouts."""

from __future__ import annotations

import logging
import time

import pytest
import regex

from core.taxonomy import Label, Taxonomy, TaxonomyError, validate
from core.techniques import create_technique
from core.techniques.rules import compile_patterns
from core.textmatch import regex_hazard

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


def test_catastrophic_pattern_is_rejected_by_validate():
    taxonomy = Taxonomy((Label("Bad", patterns=(r"(\w+\s?)+$",)),))
    with pytest.raises(TaxonomyError, match=r"'Bad'.*catastrophic"):
        validate(taxonomy)


# Adjacent unbounded repeats over the same characters: polynomial (n^4) backtracking
# that the static check does not look for; the per-text timeout has to stop it.
SLOW_PATTERN = r"\w*\w*\w*\w*!"
SLOW_TEXT = "a" * 3000 + "-!"  # contains "!" so the engine cannot skip the search


def test_a_slow_pattern_that_passes_validation_is_stopped_by_the_timeout(caplog):
    slow = Taxonomy((Label("Slow", patterns=(SLOW_PATTERN,)), Label("Fast", patterns=("ok",))))
    assert regex_hazard(SLOW_PATTERN) is None
    validate(slow)
    technique = create_technique("rules", timeout=0.2, multi_label=True)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="core.techniques.rules"):
        results = technique.predict([SLOW_TEXT, "ok then.", SLOW_TEXT + " ok"], slow)
    elapsed = time.perf_counter() - started
    assert elapsed < 20.0  # unbounded backtracking would not finish at all
    assert results[0].abstained  # the timed-out pattern counts as no match
    assert results[1].scores == {"Slow": 0.0, "Fast": pytest.approx(0.7)}  # batch carries on
    assert results[2].scores["Fast"] > 0 and results[2].scores["Slow"] == 0.0
    assert "timed out" in caplog.text and repr(SLOW_PATTERN) in caplog.text
    assert "'Slow'" in caplog.text


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


@pytest.mark.parametrize("options", [{"hit_strength": 1.0}, {"hit_strength": 0}, {"timeout": 0}])
def test_out_of_range_options_are_refused(options):
    with pytest.raises(ValueError):
        create_technique("rules", **options)
