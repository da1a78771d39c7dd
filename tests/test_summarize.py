"""Extractive and abstractive summaries, and the summarize-then-classify technique."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.models.loading import load_model, load_sentence_encoder
from core.models.summaries import (
    Summary,
    abstractive_summaries,
    extractive_summaries,
    select_central,
    split_sentences,
)
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import UnknownTechniqueError, create_technique, known_techniques
from core.techniques.summarize import Summarize
from tests.fixtures.tiny_models import tiny_seq2seq  # noqa: F401  (session fixture)

COMPLAINT = (
    "Hi team,\n"
    "I ordered a standing desk from your shop three weeks ago. "
    "The weather here has been lovely, by the way. "
    "The desk arrived with a cracked leg and a missing screw pack. "
    "I contacted support twice and nobody answered. "
    "My cousin also bought a chair once. "
    "I want a full refund of the $499 I paid, or a replacement desk within a week. "
    "Order no. 778812 for reference."
)

TAXONOMY = Taxonomy(
    (
        Label(
            "refund request",
            description="A customer asks for their money back",
            keywords=(Keyword("refund"),),
            entity_types=("MONEY", "ORDER_ID"),
        ),
        Label("job application", description="Someone applies for a job opening"),
        Label("meeting scheduling", description="Arranging a time and date for a meeting"),
    )
)


@pytest.fixture(scope="module")
def encoder():
    return load_sentence_encoder()


@pytest.fixture(scope="module")
def tiny_summariser(tiny_seq2seq):  # noqa: F811
    return load_model("seq2seq", str(tiny_seq2seq), device="cpu")


# --- sentence splitting ----------------------------------------------------------------------


def test_split_sentences_keeps_abbreviations_and_splits_greetings():
    text = "Hi Anna,\nWe met Dr. Smith at 10 a.m. on Monday! Was it fine? Yes.\n\n- item one"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Hi Anna,",
        "We met Dr. Smith at 10 a.m. on Monday!",
        "Was it fine?",
        "Yes.",
        "- item one",
    ]


def test_split_sentences_keeps_numbered_abbreviations_together():
    text = "I said no. Then order no. 778812 came."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "I said no.",
        "Then order no. 778812 came.",
    ]


def test_split_sentences_joins_a_hard_wrapped_paragraph():
    text = "We were charged twice for the order and would like\na refund please."
    assert split_sentences(text) == [(0, len(text))]


@given(st.text(alphabet=st.sampled_from("ab .!?\n\t,A1-"), max_size=200))
def test_sentences_are_ordered_trimmed_and_cover_every_visible_character(text):
    spans = split_sentences(text)
    covered = set()
    for (start, end), following in zip(spans, [*spans[1:], (len(text), len(text))]):
        assert 0 <= start < end <= following[0]
        assert not text[start].isspace() and not text[end - 1].isspace()
        covered.update(range(start, end))
    assert {i for i, char in enumerate(text) if not char.isspace()} <= covered


# --- extractive ------------------------------------------------------------------------------


@pytest.mark.slow
def test_extractive_summary_is_k_sentences_of_the_text_in_order(encoder):
    [summary] = extractive_summaries([COMPLAINT], sentences=3, encoder=encoder)
    assert len(summary.pieces) == 3
    starts = [start for start, _ in summary.pieces]
    assert starts == sorted(starts)
    sentences = {COMPLAINT[a:b] for a, b in split_sentences(COMPLAINT)}
    assert all(COMPLAINT[a:b] in sentences for a, b in summary.pieces)
    assert summary.text == " ".join(COMPLAINT[a:b] for a, b in summary.pieces)


@pytest.mark.slow
def test_extractive_summary_leaves_out_off_topic_sentences(encoder):
    [summary] = extractive_summaries([COMPLAINT], sentences=3, encoder=encoder)
    assert "weather" not in summary.text and "cousin" not in summary.text


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2, 4])
def test_extractive_summary_respects_k(encoder, k):
    [summary] = extractive_summaries([COMPLAINT], sentences=k, encoder=encoder)
    assert len(summary.pieces) == k and summary.text


def test_short_text_comes_back_whole_without_loading_a_model():
    text = "  The desk is broken. I want a refund.  "
    [summary] = extractive_summaries([text], sentences=3, encoder=None, embedding_model="unused")
    assert summary.text == text.strip()


def test_redundant_sentences_are_not_picked_twice():
    central = np.array([1.0, 0.0, 0.0])
    vectors = np.array([central, central, [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
    assert select_central(vectors, 2, redundancy=0.3) == [0, 2]
    assert select_central(vectors, 2, redundancy=0.0) == [0, 1]


def test_summary_spans_map_back_to_the_original():
    original = "First part. Middle part. Last part."
    summary = Summary("First part. Last part.", ((0, 11), (25, 35)))
    assert summary.to_original(12, 16) == (25, 29)
    assert original[25:29] == summary.text[12:16]
    assert summary.to_original(6, 14) is None  # crosses the joiner
    assert Summary("new words").to_original(0, 3) is None


# --- abstractive -----------------------------------------------------------------------------


def test_abstractive_summaries_are_non_empty_for_a_batch_of_varied_lengths(tiny_summariser):
    texts = ["Refund please.", "", COMPLAINT, COMPLAINT * 5, "Meeting moved to Thursday."]
    summaries = abstractive_summaries(texts, loaded=tiny_summariser, batch_size=2, max_new_tokens=8)
    assert len(summaries) == len(texts)
    assert all(summary.text.strip() for summary in summaries)
    assert all(summary.pieces == () for summary in summaries)


def test_abstractive_summaries_follow_input_order(tiny_summariser):
    texts = [COMPLAINT * 3, "Refund please.", "Meeting moved to Thursday."]
    together = abstractive_summaries(texts, loaded=tiny_summariser, max_new_tokens=6)
    alone = [
        abstractive_summaries([text], loaded=tiny_summariser, max_new_tokens=6)[0] for text in texts
    ]
    assert [s.text for s in together] == [s.text for s in alone]


def test_max_new_tokens_bounds_the_summary(tiny_summariser):
    short = abstractive_summaries([COMPLAINT], loaded=tiny_summariser, max_new_tokens=4)[0]
    tokens = tiny_summariser.tokenizer(short.text, add_special_tokens=False)["input_ids"]
    assert len(tokens) <= 4 + 2  # decoding then re-encoding may split a token or two


# --- summarize-then-classify -----------------------------------------------------------------


def test_summarize_is_registered():
    assert "summarize" in known_techniques()


@pytest.mark.slow
def test_summarize_then_embeddings_returns_the_inner_label_set_with_summary(encoder):
    technique = create_technique("summarize", sentences=2, then="embeddings")
    results = technique.predict([COMPLAINT, "Short text about a refund."], TAXONOMY)
    for result in results:
        assert set(result.scores) == set(TAXONOMY.names)
        assert sum(result.scores.values()) == pytest.approx(1.0)
        assert result.summary
    assert max(results[0].scores, key=results[0].scores.get) == "refund request"


@pytest.mark.slow
def test_summarize_then_ner_spans_slice_the_original_text(encoder):
    technique = Summarize(sentences=3, then="ner", then_options={"backend": "patterns"})
    [result] = technique.predict([COMPLAINT], TAXONOMY)
    assert {COMPLAINT[span.start : span.end] for span in result.evidence} == {
        "$499",
        "Order no. 778812",
    }
    assert all(COMPLAINT[span.start : span.end] in result.summary for span in result.evidence)


@pytest.mark.slow
def test_summarize_then_lexicon_spans_slice_the_original_text(encoder):
    pytest.importorskip("core.techniques.lexicon")
    technique = Summarize(sentences=3, then="lexicon")
    [result] = technique.predict([COMPLAINT], TAXONOMY)
    assert set(result.scores) == set(TAXONOMY.names)
    assert result.summary and result.evidence
    for span in result.evidence:
        assert COMPLAINT[span.start : span.end].lower() == "refund"


def test_abstractive_summarize_drops_inner_spans(tiny_seq2seq):  # noqa: F811
    technique = Summarize(
        method="abstractive",
        summary_model=str(tiny_seq2seq),
        device="cpu",
        max_new_tokens=8,
        then="ner",
        then_options={"backend": "patterns"},
    )
    results = technique.predict([COMPLAINT, "Refund $20 please."], TAXONOMY)
    assert all(result.summary and result.evidence == [] for result in results)


def test_config_includes_the_inner_technique():
    technique = Summarize(then="ner", then_options={"backend": "patterns", "rate": 0.9})
    config = technique.config()
    assert config["inner"]["technique"] == "ner" and config["inner"]["rate"] == 0.9
    other = Summarize(then="ner", then_options={"backend": "patterns", "rate": 0.5})
    assert technique.config_hash(TAXONOMY) != other.config_hash(TAXONOMY)


def test_model_info_combines_summariser_and_inner_model(tiny_seq2seq):  # noqa: F811
    technique = Summarize(
        method="abstractive",
        summary_model=str(tiny_seq2seq),
        device="cpu",
        then="embeddings",
    )
    info = technique.model_info()
    assert "tiny-seq2seq" in info.model_id and "packaged:all-MiniLM-L6-v2" in info.model_id
    assert info.revision.count(" + ") == 1


def test_inner_technique_inherits_multi_label():
    technique = Summarize(multi_label=True, then="ner", then_options={"backend": "patterns"})
    assert technique.inner.multi_label is True


def test_unknown_inner_technique_lists_the_known_ones():
    with pytest.raises(UnknownTechniqueError, match="known techniques are"):
        Summarize(then="no-such-technique")


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="extractive, abstractive"):
        Summarize(method="generative")
