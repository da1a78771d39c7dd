"""lexicon technique: inflection-tolerant keyword matching and length-aware scoring."""

from __future__ import annotations

import inspect
import random
import string
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.taxonomy import MAX_KEYWORD_LENGTH, Keyword, Label, Taxonomy, validate
from core.techniques import create_technique
from core.techniques.lexicon import keyword_matcher
from core.textmatch import ENGINE, KeywordMatcher

BILLING = Label("Billing", keywords=(Keyword("refund"), Keyword("chargeback"), Keyword("charge")))
SHIPPING = Label("Shipping", keywords=(Keyword("shipping delay"), Keyword("ship")))
PETS = Label("Pets", keywords=(Keyword("cat"),))
TAXONOMY = Taxonomy((BILLING, SHIPPING, PETS))

FILLER = "The meeting notes were circulated to the team on Tuesday afternoon. "


def predict(texts: list[str], taxonomy: Taxonomy = TAXONOMY, **options):
    return create_technique("lexicon", **options).predict(texts, taxonomy)


def score(text: str, label: str, taxonomy: Taxonomy = TAXONOMY) -> float:
    result = predict([text], taxonomy, multi_label=True)[0]
    return 0.0 if result.abstained else result.scores[label]


def matched_terms(text: str, taxonomy: Taxonomy = TAXONOMY) -> list[tuple[str, str]]:
    """(matched text, keyword term) for each evidence span."""
    result = predict([text], taxonomy)[0]
    return [(text[span.start : span.end], span.detail) for span in result.evidence]


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("refunds", "refund"),
        ("refunded", "refund"),
        ("refunding", "refund"),
        ("REFUND", "refund"),
        ("the customer's refund's status", "refund"),
        ("shipped", "ship"),
        ("shipping", "ship"),
        ("ships", "ship"),
        ("charged", "charge"),
        ("charging", "charge"),
        ("charges", "charge"),
        ("cats", "cat"),
    ],
)
def test_inflected_forms_match_their_keyword(text, term):
    assert [detail for _, detail in matched_terms(text)] == [term]


@pytest.mark.parametrize(
    ("word", "form"),
    [("reply", "replies"), ("reply", "replied"), ("tax", "taxes"), ("delay", "delayed")],
)
def test_regular_english_inflections(word, form):
    taxonomy = Taxonomy((Label("L", keywords=(Keyword(word),)),))
    assert matched_terms(f"we {form} today", taxonomy) == [(form, word)]


@pytest.mark.parametrize(
    "text", ["shipping delays", "Shipping   delay", "shipping\n\tdelayed", "shipping-delay"]
)
def test_phrases_match_with_flexible_whitespace_and_an_inflected_last_word(text):
    assert matched_terms(f"Sorry about the {text}.") == [(text, "shipping delay")]


@pytest.mark.parametrize("text", ["category", "concatenate", "nonrefundable", "scatter", "bobcat"])
def test_keywords_match_whole_words_only(text):
    assert predict([text])[0].abstained


def test_longest_overlapping_keyword_wins():
    assert matched_terms("a chargeback today") == [("chargeback", "chargeback")]


def test_a_form_shared_by_two_keywords_of_one_label_counts_once():
    taxonomy = Taxonomy((Label("Ships", keywords=(Keyword("ship"), Keyword("ships"))),))
    assert matched_terms("two ships", taxonomy) == [("ships", "ships")]


def test_a_keyword_in_two_labels_is_evidence_for_both():
    taxonomy = Taxonomy(
        (Label("A", keywords=(Keyword("refund"),)), Label("B", keywords=(Keyword("refund"),)))
    )
    result = predict(["refund"], taxonomy, multi_label=True)[0]
    assert result.scores["A"] == result.scores["B"] > 0
    assert {span.label for span in result.evidence} == {"A", "B"}


def test_evidence_spans_slice_the_text():
    text = "Refunded twice; the Shipping\n delays and a cat."
    result = predict([text])[0]
    assert [(text[s.start : s.end], s.label) for s in result.evidence] == [
        ("Refunded", "Billing"),
        ("Shipping\n delays", "Shipping"),
        ("cat", "Pets"),
    ]
    assert all(span.kind == "keyword" for span in result.evidence)


def test_abstains_when_no_keyword_matches():
    result = predict(["Nothing relevant in here."])[0]
    assert result.scores is None and result.evidence == []


def test_abstains_when_the_taxonomy_has_no_keywords():
    assert predict(["refund"], Taxonomy((Label("A"), Label("B"))))[0].abstained


def test_single_label_scores_sum_to_one():
    result = predict(["refund, chargeback and a shipping delay"])[0]
    assert sum(result.scores.values()) == pytest.approx(1.0)
    assert result.scores["Billing"] > result.scores["Shipping"] > result.scores["Pets"] == 0.0


def test_multi_label_gives_zero_to_labels_without_a_match():
    result = predict(["refund"], multi_label=True)[0]
    assert result.scores["Shipping"] == 0.0 and 0 < result.scores["Billing"] < 1


def test_weights_change_the_ranking():
    def ranking(refund_weight: float, ship_weight: float) -> str:
        taxonomy = Taxonomy(
            (
                Label("Billing", keywords=(Keyword("refund", refund_weight),)),
                Label("Shipping", keywords=(Keyword("ship", ship_weight),)),
            )
        )
        scores = predict(["refund before we ship"], taxonomy)[0].scores
        return max(scores, key=scores.get)

    assert ranking(3.0, 1.0) == "Billing"
    assert ranking(1.0, 3.0) == "Shipping"


def test_distinct_keywords_count_more_than_repeats_of_one():
    assert score("refund chargeback", "Billing") > score("refund refund", "Billing")


def test_repeats_add_evidence_with_diminishing_returns():
    one, two, three = (score(" ".join(["refund"] * n), "Billing") for n in (1, 2, 3))
    assert one < two < three
    assert three - two < two - one


def test_a_passing_mention_in_a_long_text_scores_below_a_short_text_about_the_keyword():
    passing = "We need a refund. " + FILLER * 200
    focused = "Refund please, the refund is late."
    assert score(passing, "Billing") < score(focused, "Billing")


def test_adding_unrelated_text_dilutes_the_score():
    text = "Refund please, the refund is late. "
    scores = [score(text + FILLER * n, "Billing") for n in (0, 5, 50, 500)]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]


def test_long_dense_texts_do_not_saturate_and_stay_monotone():
    block = "Refund the chargeback and charge the card again. "
    sizes = [10, 100, 1000, 4000]  # the last is about 200 KB
    scores = [score(block * n, "Billing") for n in sizes]
    assert all(value < 1.0 for value in scores)
    assert scores == sorted(scores)
    assert len(block * sizes[-1]) > 190_000


@settings(max_examples=60, deadline=None)
@given(
    keywords=st.integers(min_value=1, max_value=5),
    fillers=st.integers(min_value=0, max_value=60),
    repeats=st.lists(st.integers(min_value=1, max_value=300), min_size=2, max_size=2),
)
def test_repeating_a_block_never_lowers_its_score(keywords, fillers, repeats):
    block = "refund " * keywords + "word " * fillers
    shorter, longer = sorted(repeats)
    assert score(block * shorter, "Billing") <= score(block * longer, "Billing") < 1.0


def test_the_matcher_is_built_once_per_taxonomy():
    technique = create_technique("lexicon")
    technique.predict(["refund"], TAXONOMY)
    before = keyword_matcher.cache_info()
    technique.predict(["chargeback"], TAXONOMY)
    after = keyword_matcher.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def test_scale_option_must_be_positive():
    with pytest.raises(ValueError, match="scale"):
        create_technique("lexicon", scale=0)


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(word=words, before=words, after=words)
def test_a_keyword_is_found_exactly_where_it_stands(word, before, after):
    text = f"{before} {word}, {after}"
    hits = [h for h in KeywordMatcher([("k", word)]).finditer(text) if h.start == len(before) + 1]
    assert [(h.start, h.end) for h in hits] == [(len(before) + 1, len(before) + 1 + len(word))]


@pytest.mark.parametrize(
    ("term", "text"), [("İstanbul", "İstanbul"), ("Straße", "STRAßE"), ("Ärger", "ärger")]
)
def test_non_ascii_keywords_match_regardless_of_case(term, text):
    taxonomy = Taxonomy((Label("L", keywords=(Keyword(term),)),))
    assert matched_terms(f"about {text} today", taxonomy) == [(text, term)]


def test_unvalidated_bad_weights_never_break_the_score_range():
    taxonomy = Taxonomy(
        (
            Label("Zero", keywords=(Keyword("refund", 0.0),)),
            Label("Inf", keywords=(Keyword("parcel", float("inf")),)),
        )
    )
    assert predict(["refund parcel"], taxonomy)[0].abstained


# --------------------------------------------------------------------------- bounded matching


def _without_recursion(build, headroom: int = 40):
    """Run `build()` with the stack limited to `headroom` frames above this one: a matcher
    built recursively (one frame per character of a keyword) raises RecursionError."""
    depth = len(inspect.stack(context=0))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + headroom)
    try:
        return build()
    finally:
        sys.setrecursionlimit(limit)


def test_a_keyword_thousands_of_characters_long_builds_and_matches_without_recursion():
    """One keyword of 500+ characters used to raise RecursionError on every lexicon run;
    validation now refuses keywords over 200 characters, and the matcher itself no longer
    recurses, whatever it is given."""
    long_phrase = " ".join(["refund"] * 400)  # 2,799 characters
    matcher = _without_recursion(lambda: KeywordMatcher([("long", long_phrase), ("s", "cat")]))
    text = f"cat: {long_phrase}s and a cat"
    hits = [(h.keys, text[h.start : h.end]) for h in matcher.finditer(text)]
    assert hits == [(("s",), "cat"), (("long",), long_phrase + "s"), (("s",), "cat")]


def test_a_long_keyword_list_runs_and_finds_every_keyword():
    """5,000 keywords (the validated maximum), one of them 200 characters long: one pass."""
    rng = random.Random(5)
    terms = sorted(
        {"".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 30))) for _ in range(4_999)}
    )
    longest = "q" * MAX_KEYWORD_LENGTH
    labels = tuple(
        Label(f"L{n}", keywords=tuple(Keyword(term) for term in terms[n::10])) for n in range(10)
    ) + (Label("Long", keywords=(Keyword(longest),)),)
    taxonomy = Taxonomy(labels)
    validate(taxonomy)
    picked = rng.sample(terms, 50)
    text = " and ".join([*picked, longest])
    result = _without_recursion(lambda: predict([text], taxonomy)[0])
    assert sorted(span.detail for span in result.evidence) == sorted([*picked, longest])


def test_the_engine_is_part_of_the_config_hash(monkeypatch):
    technique = create_technique("lexicon")
    assert technique.config()["engine"] == ENGINE
    before = technique.config_hash(TAXONOMY)
    monkeypatch.setattr("core.techniques.lexicon.ENGINE", "re2 9.9, matching 9")
    assert technique.config_hash(TAXONOMY) != before


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("écat", []),  # a letter of another script is part of the word, as in Python's \w
        ("cat́", []),  # so is a combining mark
        ("cat٣", []),  # and a digit of another script
        ("«cat»", ["cat"]),
        ("cat—cat", ["cat", "cat"]),
        ("cat,cat", ["cat", "cat"]),
        ("cat\u00a0cat", ["cat", "cat"]),
        ("😀cat😀", ["cat"]),
    ],
)
def test_word_boundaries_are_unicode_aware(text, found):
    hits = KeywordMatcher([("k", "cat")]).finditer(text)
    assert [text[hit.start : hit.end] for hit in hits] == found


def test_offsets_are_characters_after_non_ascii_text():
    text = "Ünïcödé 😀 \ud800 then a refund; Straße 🚚 shipping\u00a0delay"
    assert matched_terms(text) == [("refund", "refund"), ("shipping\u00a0delay", "shipping delay")]
