"""Embeddings technique and Sift's `encode` fast path, on the real packaged MiniLM."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.models.encoder import encode
from core.models.loading import load_sentence_encoder
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques.embeddings import (
    DEFAULT_TEMPLATES,
    Embeddings,
    calibrate_temperature,
    prototype_embeddings,
    prototype_text,
    similarities_to_probabilities,
)

TAXONOMY = Taxonomy(
    (
        Label("refund request", description="A customer asks for their money back"),
        Label("job application", description="Someone applies for a job opening"),
        Label("meeting scheduling", description="Arranging a time and date for a meeting"),
    )
)

TEXTS = [
    "I want my money back for this broken order",
    "Please find attached my CV for the senior accountant position.",
    "Can we move our sync to Thursday at 3pm?",
    "ok",
    "The parcel arrived damaged and I would like a full refund of the amount I paid. " * 12,
]


@pytest.fixture(scope="module")
def encoder():
    return load_sentence_encoder()


@pytest.fixture(scope="module")
def technique(encoder):
    embeddings = Embeddings()
    assert embeddings.loaded is encoder  # one cached model for the whole module
    return embeddings


def count_rows(encoder):
    """Register a forward hook on the transformer; returns (list of batch sizes, handle)."""
    seen = []
    handle = encoder.model[0].auto_model.register_forward_hook(
        lambda module, args, kwargs, output: seen.append(kwargs["input_ids"].shape[0]),
        with_kwargs=True,
    )
    return seen, handle


@pytest.mark.slow
def test_refund_text_scores_refund_label_highest(technique):
    [result] = technique.predict(["I want my money back for this broken order"], TAXONOMY)
    assert max(result.scores, key=result.scores.get) == "refund request"


@pytest.mark.slow
def test_each_text_gets_its_matching_label(technique):
    results = technique.predict(TEXTS[:3], TAXONOMY)
    best = [max(result.scores, key=result.scores.get) for result in results]
    assert best == TAXONOMY.names


@pytest.mark.slow
def test_single_label_scores_sum_to_one(technique):
    for result in technique.predict(TEXTS, TAXONOMY):
        assert set(result.scores) == set(TAXONOMY.names)
        assert sum(result.scores.values()) == pytest.approx(1.0)
        assert all(0.0 <= score <= 1.0 for score in result.scores.values())


@pytest.mark.slow
def test_multi_label_scores_are_independent_of_other_labels(encoder):
    multi = Embeddings(multi_label=True)
    smaller = Taxonomy(TAXONOMY.labels[:2])
    full = multi.predict(TEXTS, TAXONOMY)
    reduced = multi.predict(TEXTS, smaller)
    for with_all, with_two in zip(full, reduced):
        for name in smaller.names:
            assert with_all.scores[name] == pytest.approx(with_two.scores[name], abs=1e-6)


@pytest.mark.slow
def test_multi_label_scores_need_not_sum_to_one(encoder):
    multi = Embeddings(multi_label=True)
    sums = [sum(result.scores.values()) for result in multi.predict(TEXTS, TAXONOMY)]
    assert any(abs(total - 1.0) > 0.05 for total in sums)


@pytest.mark.slow
def test_encode_equals_sentence_transformers(encoder):
    texts = [*TEXTS, "", "a " * 600, "Ünïcödé — text with emoji 🚀 and\nnew lines\ttabs."]
    ours = encode(encoder, texts, batch_size=3)
    reference = encoder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == reference.shape and ours.dtype == np.float32
    cosine = (ours * reference).sum(axis=1)
    np.testing.assert_allclose(cosine, 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_encode_computes_identical_texts_once(encoder):
    seen, handle = count_rows(encoder)
    try:
        vectors = encode(encoder, ["same", "other", "same", "same"], batch_size=64)
    finally:
        handle.remove()
    assert sum(seen) == 2
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[0], vectors[3])


@pytest.mark.slow
def test_encode_batches_by_batch_size(encoder):
    seen, handle = count_rows(encoder)
    try:
        encode(encoder, [f"text number {i}" for i in range(10)], batch_size=4)
    finally:
        handle.remove()
    assert seen == [4, 4, 2]


@pytest.mark.slow
def test_encode_of_nothing_is_an_empty_matrix(encoder):
    assert encode(encoder, []).shape == (0, 384)


@pytest.mark.slow
def test_label_prototypes_are_encoded_once_per_model_and_texts(technique, encoder):
    texts = ["a prototype seen for the first time in this test"]
    first = prototype_embeddings(encoder, texts)
    seen, handle = count_rows(encoder)
    try:
        again = prototype_embeddings(encoder, texts)
    finally:
        handle.remove()
    assert seen == []
    assert again is first


@pytest.mark.slow
def test_bf16_top_label_agrees_with_fp32(technique):
    bf16 = Embeddings(precision="bf16")
    fp32_best = [max(r.scores, key=r.scores.get) for r in technique.predict(TEXTS[:3], TAXONOMY)]
    bf16_best = [max(r.scores, key=r.scores.get) for r in bf16.predict(TEXTS[:3], TAXONOMY)]
    assert bf16.model_info().dtype == "bf16"
    assert bf16_best == fp32_best


@pytest.mark.slow
def test_reviewed_examples_pull_a_label_towards_them(encoder):
    text = "Our quarterly offsite is in Lisbon this year"
    plain = Embeddings()
    taught = Embeddings(examples={"meeting scheduling": [text]})
    before = plain.predict([text], TAXONOMY)[0].scores["meeting scheduling"]
    after = taught.predict([text], TAXONOMY)[0].scores["meeting scheduling"]
    assert after > before


@pytest.mark.slow
def test_examples_for_an_unknown_label_are_refused(encoder):
    embeddings = Embeddings(examples={"no such label": ["text"]})
    with pytest.raises(ValueError, match="no such label"):
        embeddings.predict(["hello"], TAXONOMY)


def test_examples_change_the_config_hash():
    plain = Embeddings()
    taught = Embeddings(examples={"refund request": ["money back please"]})
    assert plain.config_hash(TAXONOMY) != taught.config_hash(TAXONOMY)


@pytest.mark.slow
def test_a_label_vector_is_the_mean_of_its_description_in_each_template(technique, encoder):
    descriptions = [label.prototype for label in TAXONOMY.labels]
    expected = np.stack(
        [
            encode(encoder, [template.format(d) for template in DEFAULT_TEMPLATES]).mean(axis=0)
            for d in descriptions
        ]
    )
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(technique.label_vectors(TAXONOMY), expected, atol=1e-5)


@pytest.mark.slow
def test_without_templates_a_label_is_its_bare_description(encoder):
    bare = Embeddings(templates=())
    descriptions = [label.prototype for label in TAXONOMY.labels]
    np.testing.assert_allclose(
        bare.label_vectors(TAXONOMY), encode(encoder, descriptions), atol=1e-6
    )
    assert bare.config_hash(TAXONOMY) != Embeddings().config_hash(TAXONOMY)


@pytest.mark.parametrize("template", ["no slot", "{} and {}", "{label}"])
def test_a_template_without_exactly_one_slot_is_refused(template):
    with pytest.raises(ValueError, match="exactly one"):
        Embeddings(templates=(template,))


def test_keywords_join_the_prototype_only_when_asked():
    label = Label("billing", description="Invoices", keywords=(Keyword("invoice"), Keyword("vat")))
    assert prototype_text(label) == "Invoices"
    assert "invoice" in prototype_text(label, use_keywords=True)
    assert "vat" in prototype_text(label, use_keywords=True)


@pytest.mark.slow
def test_model_info_names_the_packaged_model(technique):
    info = technique.model_info()
    assert info.model_id == "packaged:all-MiniLM-L6-v2"
    assert info.revision and info.dtype == "fp32"


@pytest.mark.slow
def test_empty_batch_returns_no_results(technique):
    assert technique.predict([], TAXONOMY) == []


def test_non_positive_temperature_is_refused():
    with pytest.raises(ValueError, match="temperature"):
        Embeddings(temperature=0)


similarity_matrices = arrays(
    np.float64,
    st.tuples(st.integers(1, 5), st.integers(1, 6)),
    elements=st.floats(-1.0, 1.0, allow_nan=False),
)


@given(similarity_matrices, st.floats(0.01, 1.0))
def test_single_label_probabilities_are_a_distribution(similarities, temperature):
    probabilities = similarities_to_probabilities(similarities, temperature=temperature)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)


@given(similarity_matrices, st.floats(0.01, 1.0))
def test_probabilities_keep_the_order_of_similarities(similarities, temperature):
    for multi_label in (False, True):
        probabilities = similarities_to_probabilities(
            similarities, temperature=temperature, multi_label=multi_label
        )
        for sims, probs in zip(similarities, probabilities):
            assert np.all(np.diff(probs[np.argsort(sims)]) >= -1e-12)


def test_multi_label_probability_is_one_half_at_the_threshold():
    probabilities = similarities_to_probabilities(
        np.array([[0.3, 0.8, -0.2]]), temperature=0.05, multi_label=True, threshold=0.3
    )
    assert probabilities[0, 0] == pytest.approx(0.5)
    assert probabilities[0, 1] > 0.99 and probabilities[0, 2] < 0.01


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([0.03, 0.1, 0.3]), st.integers(0, 1000))
def test_calibrate_temperature_recovers_the_generating_temperature(true_temperature, seed):
    rng = np.random.default_rng(seed)
    similarities = rng.uniform(-0.2, 0.8, size=(3000, 4))
    probabilities = similarities_to_probabilities(similarities, temperature=true_temperature)
    labels = [rng.choice(4, p=row) for row in probabilities]
    fitted = calibrate_temperature(similarities, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.2)


def test_calibrate_temperature_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        calibrate_temperature(np.zeros((3, 2)), [0, 1])
