"""The contract every technique keeps, checked for each registered technique.

`CONTRACT_TECHNIQUES` maps a technique name to a factory of its constructor
options; the factory gets pytest's `tmp_path_factory`, so a model technique
can save a tiny random model there and point its options at it, e.g.

    CONTRACT_TECHNIQUES["zero_shot"] = lambda tmp: {"model": str(build_tiny_nli(tmp))}

Every registered technique that needs no model (`needs_model = False`) is
checked even without an entry, with default options.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import create_technique, get_technique, known_techniques
from core.techniques.base import Technique, TextResult
from tests.fixtures.tiny_models import (
    build_tiny_nli,
    build_tiny_seq2seq,
    build_tiny_token_classifier,
)

# technique name -> (tmp_path_factory -> constructor options, without multi_label)
CONTRACT_TECHNIQUES: dict[str, Callable[[pytest.TempPathFactory], dict[str, Any]]] = {
    "rules": lambda tmp: {},
    "lexicon": lambda tmp: {},
    # Components that need no model, so the ensemble is checked on its own logic.
    "ensemble": lambda tmp: {"components": ("rules", "lexicon")},
    # Model techniques: tiny random models built locally, or the packaged offline ones.
    "zero_shot": lambda tmp: {"model": str(build_tiny_nli(tmp.mktemp("nli")))},
    "embeddings": lambda tmp: {},  # packaged all-MiniLM-L6-v2
    "ner": lambda tmp: {},  # spaCy small model + business patterns
    "summarize": lambda tmp: {"then": "lexicon"},  # extractive summary, then the lexicon
    "supervised": lambda tmp: {"trained": _random_linear_model()},
}
# Further configurations of the same techniques: case id -> (technique name, options factory).
EXTRA_CONTRACT_CASES: dict[str, tuple[str, Callable[[pytest.TempPathFactory], dict[str, Any]]]] = {
    "ner~transformers": (
        "ner",
        lambda tmp: {
            "backend": "transformers",
            "model": str(build_tiny_token_classifier(tmp.mktemp("tok"))),
        },
    ),
    "summarize~abstractive": (
        "summarize",
        lambda tmp: {
            "method": "abstractive",
            "summary_model": str(build_tiny_seq2seq(tmp.mktemp("s2s"))),
            "then": "rules",
            "max_new_tokens": 8,
        },
    ),
}


def _random_linear_model():
    import numpy as np

    from core.models.catalog import PACKAGED_MINILM
    from core.techniques.supervised import LinearModel

    rng = np.random.default_rng(0)
    return LinearModel(
        classes=("Billing", "Shipping"),  # "Other" never reviewed: scores 0 / no mass
        coef=rng.normal(size=(1, 384)).astype(np.float32),
        intercept=np.zeros(1, dtype=np.float32),
        multi_label=False,
        embedding_model=PACKAGED_MINILM,
    )


def _contract_names() -> list[str]:
    known = known_techniques()
    model_free = {name for name in known if not get_technique(name).needs_model}
    return sorted((set(CONTRACT_TECHNIQUES) & set(known)) | model_free) + sorted(
        EXTRA_CONTRACT_CASES
    )


def test_every_registered_technique_is_under_contract():
    assert set(known_techniques()) <= set(_contract_names())


TAXONOMY = Taxonomy(
    (
        Label(
            "Billing",
            description="Invoices, payments, charges and refunds",
            keywords=(Keyword("refund"), Keyword("chargeback", 2.0), Keyword("invoice")),
            patterns=(r"\binvoice\s*#?\d+", r"\$\d+(?:\.\d\d)?"),
            entity_types=("MONEY",),
        ),
        Label(
            "Shipping",
            description="Deliveries, couriers and tracking",
            keywords=(Keyword("shipping delay"), Keyword("courier"), Keyword("parcel")),
            patterns=(r"\btracking\s+(?:number|no\.?)\b",),
            entity_types=("GPE", "ORG"),
        ),
        Label("Other", description="Anything else"),
    )
)
SMALLER_TAXONOMY = Taxonomy(TAXONOMY.labels[1:])

TEXTS = [
    "Please refund invoice #4411: I was charged $25.00 twice. Chargeback next.",
    "The courier lost my parcel in Berlin; tracking number 1Z999 shows nothing.",
    "Lovely weather today.",
    "",
    "   \n\t ",
    "Ünïcödé 🚚 parcel — “refund” ½ 東京 \u200b\x00",
]
LONG_TEXT = (TEXTS[0] + " " + TEXTS[1] + " " + "Filler words about nothing. " * 3) * 900


@pytest.fixture(scope="module")
def techniques(tmp_path_factory):
    """(name, multi_label) -> one technique instance, built on first use."""
    built: dict[tuple[str, bool], Technique] = {}

    def get(name: str, multi_label: bool) -> Technique:
        if (name, multi_label) not in built:
            if name in EXTRA_CONTRACT_CASES:
                technique_name, factory = EXTRA_CONTRACT_CASES[name]
            else:
                technique_name, factory = name, CONTRACT_TECHNIQUES.get(name, lambda tmp: {})
            options = factory(tmp_path_factory)
            built[name, multi_label] = create_technique(
                technique_name, multi_label=multi_label, **options
            )
        return built[name, multi_label]

    return get


params = [
    pytest.param(name, multi_label, id=f"{name}-{'multi' if multi_label else 'single'}")
    for name in _contract_names()
    for multi_label in (False, True)
]


def assert_contract(
    results: list[TextResult], texts: list[str], taxonomy: Taxonomy, multi_label: bool
) -> None:
    assert len(results) == len(texts)
    for text, result in zip(texts, results):
        assert isinstance(result, TextResult)
        if result.scores is not None:
            assert set(result.scores) == set(taxonomy.names)
            for value in result.scores.values():
                assert isinstance(value, float | int) and math.isfinite(value)
                assert 0.0 <= value <= 1.0
            if not multi_label:
                assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-6)
        for span in result.evidence:
            assert 0 <= span.start < span.end <= len(text)  # so text[start:end] is non-empty
            assert span.label is None or span.label in taxonomy.names


@pytest.mark.parametrize(("name", "multi_label"), params)
def test_scores_evidence_and_lengths_keep_the_contract(techniques, name, multi_label):
    technique = techniques(name, multi_label)
    results = technique.predict(list(TEXTS), TAXONOMY)
    assert_contract(results, TEXTS, TAXONOMY, multi_label)


@pytest.mark.parametrize(("name", "multi_label"), params)
def test_labels_follow_the_taxonomy_asked_each_call(techniques, name, multi_label):
    technique = techniques(name, multi_label)
    technique.predict(TEXTS[:2], TAXONOMY)
    results = technique.predict(TEXTS[:2], SMALLER_TAXONOMY)
    assert_contract(results, TEXTS[:2], SMALLER_TAXONOMY, multi_label)


@pytest.mark.parametrize(("name", "multi_label"), params)
def test_empty_batch_gives_no_results(techniques, name, multi_label):
    assert techniques(name, multi_label).predict([], TAXONOMY) == []


@pytest.mark.parametrize(("name", "multi_label"), params)
def test_a_long_text_is_handled(techniques, name, multi_label):
    assert len(LONG_TEXT) > 190_000
    texts = [LONG_TEXT, ""]
    results = techniques(name, multi_label).predict(texts, TAXONOMY)
    assert_contract(results, texts, TAXONOMY, multi_label)


@pytest.mark.parametrize(("name", "multi_label"), params)
def test_predict_does_not_mutate_its_inputs(techniques, name, multi_label):
    texts = list(TEXTS)
    taxonomy = copy.deepcopy(TAXONOMY)
    techniques(name, multi_label).predict(texts, taxonomy)
    assert texts == TEXTS
    assert taxonomy == TAXONOMY


@pytest.mark.parametrize(("name", "multi_label"), params)
def test_results_do_not_depend_on_the_rest_of_the_batch(techniques, name, multi_label):
    technique = techniques(name, multi_label)
    together = technique.predict(list(TEXTS), TAXONOMY)
    alone = [technique.predict([text], TAXONOMY)[0] for text in TEXTS]
    for batched, single in zip(together, alone):
        assert (batched.scores is None) == (single.scores is None)
        if batched.scores is not None:
            assert batched.scores == pytest.approx(single.scores, abs=1e-4)
        assert batched.evidence == single.evidence


SAFE_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
WORD_POOL = ["refund", "parcel", "invoice", "delay", "order", "cat", "shipping", "account"]
PATTERN_POOL = [r"\border\b", r"\d{3,}", r"#\w+", r"\bacc(?:ount)?\b"]


@st.composite
def small_taxonomies(draw) -> Taxonomy:
    names = draw(
        st.lists(
            st.text(alphabet=SAFE_NAME_CHARS, min_size=1, max_size=12),
            min_size=1,
            max_size=4,
            unique_by=str.casefold,
        )
    )
    labels = []
    for name in names:
        terms = draw(st.lists(st.sampled_from(WORD_POOL), max_size=3, unique=True))
        labels.append(
            Label(
                name,
                description=draw(st.text(max_size=40)),
                keywords=tuple(Keyword(t, draw(st.floats(0.1, 5.0))) for t in terms),
                patterns=tuple(draw(st.lists(st.sampled_from(PATTERN_POOL), max_size=2))),
            )
        )
    return Taxonomy(tuple(labels))


texts_strategy = st.lists(
    st.one_of(st.sampled_from(WORD_POOL), st.text(max_size=12)), max_size=30
).map(" ".join)


@pytest.mark.parametrize(("name", "multi_label"), params)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(taxonomy=small_taxonomies(), texts=st.lists(texts_strategy, min_size=1, max_size=4))
def test_any_text_and_taxonomy_keep_the_contract(techniques, name, multi_label, taxonomy, texts):
    from core.models.nli import NliModelError

    try:
        results = techniques(name, multi_label).predict(texts, taxonomy)
    except NliModelError as exc:
        # The tiny NLI model has 64 positions: a 40-character description of rare Unicode
        # can fill them. That is refused with a clear error, never silently mis-scored.
        assert "leaves no room for the text" in str(exc)
        return
    assert_contract(results, texts, taxonomy, multi_label)
