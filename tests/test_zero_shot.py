"""zero_shot technique and the batched NLI engine, on a tiny random BART NLI model."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.models.loading import load_model
from core.models.nli import NliEngine, NliModelError, aggregate_chunks, entailment_ids, nli_scores
from core.taxonomy import Label, Taxonomy
from core.techniques.zero_shot import DEFAULT_TEMPLATE, ZeroShot, ZeroShotConfigError
from tests.fixtures.tiny_models import CORPUS, build_tiny_nli

TAXONOMY = Taxonomy(
    (
        Label("billing", description="invoices, refunds and payments"),
        Label("it"),  # no description: the name is the prototype
        Label("sales", description="selling to customers"),
    )
)

# Varied lengths, duplicates, and texts far longer than the tiny model's 64 positions.
TEXTS = [
    "Please refund the invoice.",
    "server down",
    CORPUS[0],
    "Please refund the invoice.",
    " ".join(CORPUS),
    CORPUS[5] + " " + CORPUS[6],
    "server down",
]


@pytest.fixture(scope="module")
def nli_folder(tmp_path_factory) -> Path:
    return build_tiny_nli(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def reference_pipeline(nli_folder):
    from transformers import pipeline

    loaded = load_model("nli", str(nli_folder), device="cpu")
    return pipeline("zero-shot-classification", model=loaded.model, tokenizer=loaded.tokenizer)


def _pipeline_scores(pipe, texts, multi_label, taxonomy=TAXONOMY):
    prototypes = [label.prototype for label in taxonomy.labels]
    outputs = pipe(
        texts,
        candidate_labels=prototypes,
        hypothesis_template=DEFAULT_TEMPLATE,
        multi_label=multi_label,
    )
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return np.array([[dict(zip(o["labels"], o["scores"]))[p] for p in prototypes] for o in outputs])


def _our_scores(technique, texts, taxonomy=TAXONOMY):
    results = technique.predict(texts, taxonomy)
    return np.array([[r.scores[name] for name in taxonomy.names] for r in results])


class RowCounter:
    """Forward hook on the real model: records the input shape of every forward pass."""

    def __init__(self, model):
        self.shapes: list[tuple[int, int]] = []
        self.masks: list = []
        self.handle = model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        self.shapes.append(tuple(kwargs["input_ids"].shape))
        self.masks.append(kwargs["attention_mask"].clone())

    @property
    def rows(self) -> int:
        return sum(shape[0] for shape in self.shapes)

    def remove(self):
        self.handle.remove()


@pytest.fixture
def counted(nli_folder):
    technique = ZeroShot(model=str(nli_folder), device="cpu")
    counter = RowCounter(technique.engine.model)
    yield technique, counter
    counter.remove()


# --------------------------------------------------------------------------- pipeline equivalence


@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_single_label_matches_the_transformers_pipeline(nli_folder, reference_pipeline, batch_size):
    technique = ZeroShot(model=str(nli_folder), device="cpu", batch_size=batch_size)
    expected = _pipeline_scores(reference_pipeline, TEXTS, multi_label=False)
    np.testing.assert_allclose(_our_scores(technique, TEXTS), expected, atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 5, 32])
def test_multi_label_matches_the_transformers_pipeline(nli_folder, reference_pipeline, batch_size):
    technique = ZeroShot(
        model=str(nli_folder), device="cpu", batch_size=batch_size, multi_label=True
    )
    expected = _pipeline_scores(reference_pipeline, TEXTS, multi_label=True)
    np.testing.assert_allclose(_our_scores(technique, TEXTS), expected, atol=1e-5)


def test_multi_label_with_one_label_matches_the_pipeline(nli_folder, reference_pipeline):
    one = Taxonomy((Label("billing", description="invoices"),))
    technique = ZeroShot(model=str(nli_folder), device="cpu", multi_label=True)
    expected = _pipeline_scores(reference_pipeline, TEXTS[:3], multi_label=True, taxonomy=one)
    np.testing.assert_allclose(_our_scores(technique, TEXTS[:3], one), expected, atol=1e-5)


def test_the_scores_are_not_uniform(nli_folder):
    # Guards the equivalence tests: a model answering uniformly would match trivially.
    scores = _our_scores(ZeroShot(model=str(nli_folder), device="cpu"), TEXTS)
    assert scores.std() > 0.01


# --------------------------------------------------------------------------- contract


def test_scores_cover_exactly_the_labels_asked_and_sum_to_one(nli_folder):
    results = ZeroShot(model=str(nli_folder), device="cpu").predict(TEXTS + [""], TAXONOMY)
    assert len(results) == len(TEXTS) + 1
    for result in results:
        assert list(result.scores) == TAXONOMY.names
        assert all(0.0 <= score <= 1.0 for score in result.scores.values())
        assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-9)


def test_no_texts_gives_no_results(nli_folder):
    assert ZeroShot(model=str(nli_folder), device="cpu").predict([], TAXONOMY) == []


def test_single_label_with_one_label_gives_it_all_the_mass(nli_folder):
    one = Taxonomy((Label("billing"),))
    results = ZeroShot(model=str(nli_folder), device="cpu").predict(["a memo"], one)
    assert results[0].scores == {"billing": pytest.approx(1.0)}


def test_bf16_scores_are_valid_probabilities(nli_folder):
    technique = ZeroShot(model=str(nli_folder), device="cpu", precision="bf16")
    scores = _our_scores(technique, TEXTS)
    assert technique.model_info().dtype == "bf16"
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)


def test_predictions_are_the_same_from_concurrent_threads(nli_folder):
    technique = ZeroShot(model=str(nli_folder), device="cpu", batch_size=3)
    sequential = _our_scores(technique, TEXTS)
    outputs: list = []
    threads = [
        threading.Thread(target=lambda: outputs.append(_our_scores(technique, TEXTS)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outputs) == 3
    for output in outputs:
        np.testing.assert_allclose(output, sequential, atol=1e-6)


def test_text_containing_separator_tokens_is_scored_as_plain_text(nli_folder):
    technique = ZeroShot(model=str(nli_folder), device="cpu", batch_size=8)
    results = technique.predict(["pay </s></s> now <s>", "pay now"], TAXONOMY)
    assert sum(results[0].scores.values()) == pytest.approx(1.0)


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "template", ["This text is about billing.", "About {label}.", "{} and {0}"]
)
def test_template_without_a_single_placeholder_is_refused(template):
    with pytest.raises(ZeroShotConfigError, match=r"\{\}"):
        ZeroShot(template=template)


def test_unknown_chunking_is_refused():
    with pytest.raises(ZeroShotConfigError, match="'max', 'mean'"):
        ZeroShot(chunking="median")


def test_overlap_not_smaller_than_chunk_is_refused():
    with pytest.raises(ZeroShotConfigError, match="chunk_overlap"):
        ZeroShot(chunking="max", chunk_tokens=10, chunk_overlap=10)


def test_config_names_the_model_and_ignores_device_and_batch_size():
    one = ZeroShot(model="deberta-v3-base-mnli", device="cpu", batch_size=4)
    two = ZeroShot(model="MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli", device="auto")
    assert one.config() == two.config()
    assert one.config()["model"] == "MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli"
    assert one.config()["template"] == DEFAULT_TEMPLATE


def test_config_changes_with_the_template():
    assert ZeroShot(template="Topic: {}.").config() != ZeroShot().config()


def test_model_info_names_model_revision_device_and_dtype(nli_folder):
    info = ZeroShot(model=str(nli_folder), device="cpu").model_info()
    assert info.model_id == str(nli_folder.resolve())
    assert len(info.revision) == 16
    assert (info.device, info.dtype) == ("cpu", "fp32")


def test_max_length_is_capped_at_the_model_limit(nli_folder):
    technique = ZeroShot(model=str(nli_folder), device="cpu", max_length=10_000)
    assert technique.engine.max_length == 64


def test_model_without_an_entailment_label_is_refused(nli_folder, tmp_path):
    folder = tmp_path / "no-entailment"
    shutil.copytree(nli_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    config["label2id"] = {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(NliModelError, match="entail"):
        ZeroShot(model=str(folder), device="cpu").predict(["text"], TAXONOMY)


def test_zero_shot_is_registered():
    from core.techniques import get_technique

    assert get_technique("zero_shot") is ZeroShot


# --------------------------------------------------------------------------- the batched engine


def test_duplicate_texts_are_computed_once(counted):
    technique, counter = counted
    technique.predict(["alpha memo", "beta memo", "alpha memo", "alpha memo"], TAXONOMY)
    assert counter.rows == 2 * len(TAXONOMY)


def test_duplicate_hypotheses_are_computed_once(counted):
    technique, counter = counted
    same = Taxonomy((Label("a", description="money"), Label("b", description="money")))
    results = technique.predict(["alpha memo"], same)
    assert counter.rows == 1
    assert results[0].scores["a"] == results[0].scores["b"]


def test_each_text_is_tokenised_once(nli_folder, monkeypatch):
    technique = ZeroShot(model=str(nli_folder), device="cpu")
    engine = technique.engine
    tokenised: list[str] = []
    original = engine.tokenize

    def spy(texts):
        tokenised.extend(texts)
        return original(texts)

    monkeypatch.setattr(engine, "tokenize", spy)
    technique.predict(TEXTS, TAXONOMY)
    hypotheses = [DEFAULT_TEMPLATE.format(label.prototype) for label in TAXONOMY.labels]
    assert sorted(tokenised) == sorted(set(TEXTS) | set(hypotheses))


def test_mini_batches_are_length_sorted_and_padded_to_their_own_longest(nli_folder):
    technique = ZeroShot(model=str(nli_folder), device="cpu", batch_size=4)
    counter = RowCounter(technique.engine.model)
    try:
        technique.predict(TEXTS, TAXONOMY)
    finally:
        counter.remove()
    lengths = [shape[1] for shape in counter.shapes]
    assert len(lengths) > 1
    assert lengths == sorted(lengths)
    for mask in counter.masks:  # some row uses the last position: no padding-only columns
        assert mask[:, -1].any()


def test_engine_logits_have_one_row_per_text_and_hypothesis(nli_folder):
    engine = NliEngine(load_model("nli", str(nli_folder), device="cpu"), batch_size=7)
    logits = engine.entailment_logits(TEXTS, ["about money.", "about computers."])
    assert logits.shape == (len(TEXTS), 2, 3)
    np.testing.assert_array_equal(logits[0], logits[3])  # duplicate texts share their result


# --------------------------------------------------------------------------- chunking


@pytest.mark.parametrize("how", ["max", "mean"])
@pytest.mark.parametrize("multi_label", [False, True])
def test_chunking_returns_valid_probabilities(nli_folder, how, multi_label):
    technique = ZeroShot(
        model=str(nli_folder),
        device="cpu",
        chunking=how,
        chunk_tokens=24,
        chunk_overlap=8,
        multi_label=multi_label,
    )
    scores = _our_scores(technique, TEXTS)
    assert ((scores >= 0) & (scores <= 1)).all()
    if not multi_label:
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-9)


def test_long_texts_are_split_into_several_chunks(nli_folder):
    engine = ZeroShot(model=str(nli_folder), device="cpu").engine
    per_text = engine.chunked_entailment_logits(
        [TEXTS[0], TEXTS[4]], ["about money."], chunk_tokens=24, chunk_overlap=8
    )
    assert per_text[0].shape[0] == 1
    assert per_text[1].shape[0] > 3


def test_chunking_a_text_that_fits_changes_nothing(nli_folder):
    short = ["Please refund the invoice.", "server down"]
    plain = _our_scores(ZeroShot(model=str(nli_folder), device="cpu"), short)
    chunked = _our_scores(ZeroShot(model=str(nli_folder), device="cpu", chunking="max"), short)
    np.testing.assert_allclose(chunked, plain, atol=1e-9)


@pytest.fixture(scope="module")
def engine(nli_folder):
    return NliEngine(load_model("nli", str(nli_folder), device="cpu"))


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(0, 200),
    size=st.integers(1, 40),
    overlap_fraction=st.floats(0, 0.95),
)
def test_chunks_cover_every_token_in_order(engine, length, size, overlap_fraction):
    overlap = min(int(size * overlap_fraction), size - 1)
    tokens = list(range(length))
    windows = engine.chunk_token_ids(tokens, size, overlap)
    stride = size - overlap
    # Window i is tokens[i*stride : i*stride + size]; the last one reaches the end, and no
    # earlier one does (no redundant windows).
    for index, window in enumerate(windows):
        assert window == tokens[index * stride : index * stride + size]
    assert windows[-1][-1:] == tokens[-1:]
    assert all(window[-1] < length - 1 for window in windows[:-1])


# ------------------------------------------------------------- scoring on hand-made logits


def test_entailment_ids_follow_the_model_labels():
    assert entailment_ids({"contradiction": 0, "neutral": 1, "entailment": 2}) == (2, 0)
    assert entailment_ids({"ENTAILMENT": 0, "NEUTRAL": 1, "CONTRADICTION": 2}) == (0, 2)
    assert entailment_ids({"entailment": 0, "not_entailment": 1}) == (0, 1)


def test_entailment_ids_without_entailment_label_is_an_error():
    with pytest.raises(NliModelError, match="no label starting with 'entail'"):
        entailment_ids({"LABEL_0": 0, "LABEL_1": 1})


def test_multi_label_score_is_half_when_entailment_equals_contradiction():
    logits = np.array([[[1.0, 7.0, 1.0], [3.0, -2.0, 3.0]]])
    np.testing.assert_allclose(nli_scores(logits, 2, 0, multi_label=True), [[0.5, 0.5]])


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, (3, 4, 3), elements=st.floats(-30, 30, width=32)))
def test_single_label_scores_sum_to_one(logits):
    scores = nli_scores(logits, 2, 0, multi_label=False)
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, (5, 4), elements=st.floats(0.001, 1.0)),
    st.sampled_from(["max", "mean"]),
)
def test_aggregated_single_label_chunks_sum_to_one(chunk_scores, how):
    chunk_scores = chunk_scores / chunk_scores.sum(axis=1, keepdims=True)
    aggregated = aggregate_chunks(chunk_scores, how, multi_label=False)
    assert aggregated.sum() == pytest.approx(1.0)


def test_max_aggregation_keeps_the_strongest_chunk_in_multi_label():
    chunk_scores = np.array([[0.1, 0.9], [0.8, 0.2]])
    np.testing.assert_allclose(aggregate_chunks(chunk_scores, "max", multi_label=True), [0.8, 0.9])


# --------------------------------------------------------------------------- the cascade

MANY = Taxonomy(
    tuple(
        Label(name, description=description)
        for name, description in [
            ("refund", "money given back for a purchase"),
            ("delivery", "parcels, couriers and shipping delays"),
            ("password", "logging in and resetting passwords"),
            ("pricing", "quotes, discounts and prices"),
            ("complaint", "an angry customer complaining"),
            ("cancel", "ending a subscription or contract"),
            ("invoice", "bills and invoices"),
            ("address", "changing a postal address"),
        ]
    )
)
CASCADE_TEXTS = [
    "I want my money back for the broken kettle",
    "The courier never delivered my parcel",
    "I cannot log in, please reset my password",
]


def _cascaded(nli_folder, *, multi_label, k=3, cascade="on"):
    return ZeroShot(
        model=str(nli_folder),
        device="cpu",
        multi_label=multi_label,
        cascade=cascade,
        cascade_top_k=k,
    )


def test_the_cascade_runs_nli_on_the_top_k_labels_only(nli_folder):
    technique = _cascaded(nli_folder, multi_label=False)
    results = technique.predict(CASCADE_TEXTS, MANY)
    assert technique.engine.pairs_computed == len(CASCADE_TEXTS) * 3
    for result in results:
        assert len(result.estimated) == len(MANY.names) - 3
        assert sum(result.scores.values()) == pytest.approx(1.0)


def test_single_label_cascade_keeps_the_ranker_scores_and_nli_proportions(nli_folder):
    from core.techniques.zero_shot import ranker_probabilities

    technique = _cascaded(nli_folder, multi_label=False)
    [result] = technique.predict(CASCADE_TEXTS[:1], MANY)
    [cheap] = ranker_probabilities(CASCADE_TEXTS[:1], MANY, device="cpu")
    names = MANY.names
    top = [name for name in names if name not in result.estimated]
    assert len(top) == 3
    # the top 3 are the ranker's 3 best labels
    assert set(top) == {names[i] for i in np.argsort(-cheap)[:3]}
    for name in result.estimated:
        assert result.scores[name] == pytest.approx(cheap[names.index(name)])
    # among the top 3: NLI's own single-label proportions, as a full run over those 3 gives
    full = ZeroShot(model=str(nli_folder), device="cpu", cascade="off")
    sub = Taxonomy(tuple(label for label in MANY.labels if label.name in top))
    [alone] = full.predict(CASCADE_TEXTS[:1], sub)
    kept = sum(result.scores[name] for name in top)
    for name in top:
        assert result.scores[name] / kept == pytest.approx(alone.scores[name], rel=1e-4)


def test_multi_label_cascade_gives_the_others_a_calibrated_no(nli_folder):
    from core.techniques.zero_shot import CASCADE_RECALL

    technique = _cascaded(nli_folder, multi_label=True)
    full = ZeroShot(model=str(nli_folder), device="cpu", multi_label=True, cascade="off")
    results = technique.predict(CASCADE_TEXTS, MANY)
    reference = full.predict(CASCADE_TEXTS, MANY)
    outside = (1 - CASCADE_RECALL) / (len(MANY.names) - 3)
    for result, expected in zip(results, reference):
        for name in MANY.names:
            if name in result.estimated:
                assert result.scores[name] == pytest.approx(outside)
            else:  # NLI's own multi-label score, exactly as without the cascade
                assert result.scores[name] == pytest.approx(expected.scores[name], abs=1e-5)


def test_auto_cascades_only_above_a_handful_of_labels(nli_folder):
    from core.techniques.zero_shot import CASCADE_AUTO_LABELS

    technique = ZeroShot(model=str(nli_folder), device="cpu", cascade_top_k=3)
    assert technique.options.cascade == "auto"
    assert not technique.cascading(MANY)  # 8 labels
    big = Taxonomy(
        tuple(
            Label(f"topic {i}", description=f"subject {i}") for i in range(CASCADE_AUTO_LABELS + 1)
        )
    )
    assert technique.cascading(big)
    technique.predict(CASCADE_TEXTS[:2], big)
    assert technique.engine.pairs_computed == 2 * 3


def test_chunked_cascade_runs_the_top_k_on_every_window(nli_folder):
    technique = ZeroShot(
        model=str(nli_folder), device="cpu", cascade="on", cascade_top_k=2, chunking="max"
    )
    long_text = " ".join(CORPUS)
    [result] = technique.predict([long_text], MANY)
    windows = len(technique.engine.chunked_entailment_logits([long_text], ["x"])[0])
    assert windows > 1
    assert len(result.estimated) == len(MANY.names) - 2
    assert sum(result.scores.values()) == pytest.approx(1.0)


def test_the_cascade_is_part_of_the_config_hash():
    on = ZeroShot(cascade="on").config_hash(MANY)
    off = ZeroShot(cascade="off").config_hash(MANY)
    other_k = ZeroShot(cascade="on", cascade_top_k=4).config_hash(MANY)
    assert len({on, off, other_k}) == 3


def test_engine_runs_only_the_wanted_pairs_with_the_full_values(nli_folder):
    engine = NliEngine(load_model("nli", str(nli_folder), device="cpu"))
    hypotheses = ["a memo about money", "about parcels", "about passwords"]
    full = engine.entailment_logits(CASCADE_TEXTS, hypotheses)
    engine.pairs_computed = 0
    sparse = engine.entailment_logits(CASCADE_TEXTS, hypotheses, wanted=[[0], [2, 1], []])
    assert engine.pairs_computed == 3
    for row, wanted in enumerate([[0], [2, 1], []]):
        for column in range(3):
            if column in wanted:
                np.testing.assert_allclose(sparse[row, column], full[row, column], atol=1e-5)
            else:
                assert np.isnan(sparse[row, column]).all()


def test_estimated_labels_survive_the_store_round_trip():
    from core.techniques.base import TextResult

    result = TextResult(scores={"a": 0.9, "b": 0.1}, estimated=["b"])
    assert TextResult.from_json(json.loads(json.dumps(result.to_json()))).estimated == ["b"]
    assert "estimated" not in TextResult(scores={"a": 1.0}).to_json()
