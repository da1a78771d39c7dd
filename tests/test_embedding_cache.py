"""The process-wide embedding cache, on the real packaged MiniLM and a real store."""

from __future__ import annotations

import numpy as np
import pytest

from core.documents import Document
from core.engine import run_techniques
from core.learning.loop import learn
from core.models import embedding_cache
from core.models.catalog import DEFAULT_EMBEDDING_MODEL
from core.models.embedding_cache import cached_encode, document_embeddings, peek
from core.models.encoder import encode
from core.models.loading import load_sentence_encoder
from core.store import Store
from core.taxonomy import Label, Taxonomy
from core.techniques import create_technique

pytestmark = pytest.mark.slow

TEXTS = [
    "Please refund the second charge on invoice 4411",
    "The courier left my parcel at the wrong address",
    "Please refund the second charge on invoice 4411",  # a repeat
    "Our sync moves to Thursday",
]


@pytest.fixture(scope="module")
def encoder():
    return load_sentence_encoder()


@pytest.fixture(autouse=True)
def empty_cache():
    embedding_cache.clear()
    yield
    embedding_cache.clear()


@pytest.fixture
def forward_rows(encoder):
    """Rows (texts) the transformer has run on since the fixture started."""
    seen: list[int] = []
    handle = encoder.model[0].auto_model.register_forward_hook(
        lambda module, args, kwargs, output: seen.append(kwargs["input_ids"].shape[0]),
        with_kwargs=True,
    )
    yield seen
    handle.remove()


def test_cached_vectors_equal_a_fresh_encode_in_input_order(encoder):
    np.testing.assert_allclose(cached_encode(encoder, TEXTS), encode(encoder, TEXTS), atol=1e-6)
    again = cached_encode(encoder, list(reversed(TEXTS)))
    np.testing.assert_allclose(again, encode(encoder, list(reversed(TEXTS))), atol=1e-6)


def test_only_texts_not_seen_before_reach_the_model(encoder, forward_rows):
    cached_encode(encoder, TEXTS)
    assert sum(forward_rows) == 3  # the repeat is encoded once
    forward_rows.clear()
    cached_encode(encoder, TEXTS)
    assert forward_rows == []
    cached_encode(encoder, [*TEXTS, "A text the cache has not seen"])
    assert sum(forward_rows) == 1
    assert embedding_cache.cached_count() == 4


def test_each_precision_has_its_own_entries(encoder):
    bf16 = load_sentence_encoder(precision="bf16")
    cached_encode(encoder, TEXTS[:1])
    cached_encode(bf16, TEXTS[:1])
    assert embedding_cache.cached_count() == 2


def test_peek_answers_only_when_every_text_is_cached_and_computes_nothing(encoder, forward_rows):
    assert peek(DEFAULT_EMBEDDING_MODEL, TEXTS[:2]) is None
    cached_encode(encoder, TEXTS[:1])
    assert peek(DEFAULT_EMBEDDING_MODEL, TEXTS[:2]) is None
    cached_encode(encoder, TEXTS[:2])
    expected = encode(encoder, TEXTS[:2])
    forward_rows.clear()
    np.testing.assert_allclose(peek(DEFAULT_EMBEDDING_MODEL, TEXTS[:2]), expected, atol=1e-6)
    assert peek("some/other-model", TEXTS[:2]) is None
    assert forward_rows == []


def test_least_recently_used_entries_go_beyond_the_limit(encoder, monkeypatch, forward_rows):
    monkeypatch.setattr(embedding_cache, "LIMIT", 2)
    cached_encode(encoder, ["first", "second"])
    cached_encode(encoder, ["first"])  # used again: "second" is now the oldest
    cached_encode(encoder, ["third"])
    assert embedding_cache.cached_count() == 2
    forward_rows.clear()
    cached_encode(encoder, ["first", "third"])
    assert forward_rows == []
    cached_encode(encoder, ["second"])
    assert sum(forward_rows) == 1


def test_training_and_predicting_embed_each_document_once(db_path, encoder, forward_rows):
    """Learning (train with self-training and cross-fitting, then score every document with
    the adopted model) and the embeddings technique share the cache: every document goes
    through the model once."""
    store = Store(db_path)
    project = store.create_project("cache")
    taxonomy = Taxonomy(
        (Label("billing", description="money"), Label("shipping", description="parcels"))
    )
    store.save_taxonomy(project.id, taxonomy)
    texts = [f"refund invoice number {i}" for i in range(6)] + [
        f"parcel {i} is lost in the post" for i in range(6)
    ]
    docs = [Document.from_text(text) for text in texts]
    store.add_documents(
        project.id, docs, filename="x.txt", format="txt", encoding="utf-8", sha256="s"
    )
    for doc in docs[:3] + docs[6:9]:
        label = "billing" if "refund" in doc.text else "shipping"
        store.add_review(project.id, doc.id, reviewer="ana", decision="correct", labels=[label])

    embeddings = create_technique("embeddings")
    embeddings.label_vectors(taxonomy)  # the label prototypes, cached apart from documents
    forward_rows.clear()
    run_techniques(store, project.id, [embeddings])
    document_rows = sum(forward_rows)
    assert document_rows == len(docs)
    outcome = learn(store, project.id)
    assert outcome.adopted and outcome.predicted == len(docs)
    stored = document_embeddings(store, project.id, [docs[0].id])
    # After the documents: only label prototypes (the zero-shot prior's templates) were new.
    assert sum(forward_rows) == document_rows
    np.testing.assert_allclose(stored, encode(encoder, texts[:1]), atol=1e-6)


# --------------------------------------------------------------------------- kept in the store


def _project_with_documents(store, texts, name="kept"):
    project = store.create_project(name)
    taxonomy = Taxonomy(
        (Label("billing", description="money"), Label("shipping", description="parcels"))
    )
    store.save_taxonomy(project.id, taxonomy)
    docs = [Document.from_text(text) for text in texts]
    store.add_documents(
        project.id, docs, filename="x.txt", format="txt", encoding="utf-8", sha256="s"
    )
    return project, taxonomy, docs


def test_a_new_process_reuses_the_stored_vectors_after_a_description_edit(
    db_path, encoder, forward_rows
):
    """First run embeds every document and keeps the vectors in the project's store. A
    taxonomy edit changes the technique's cache key (so every prediction is recomputed), but a
    fresh process (memory cache emptied, a new Store on the same file) embeds only the new
    label prototypes, and its predictions equal a from-scratch run's."""
    texts = [f"refund invoice number {i}" for i in range(5)] + ["parcel lost in the post"]
    store = Store(db_path)
    project, taxonomy, docs = _project_with_documents(store, texts)
    run_techniques(store, project.id, [create_technique("embeddings")])
    assert sum(forward_rows) >= len(texts)
    store.close()

    embedding_cache.clear()  # a new process
    store = Store(db_path)
    edited = Taxonomy(
        (Label("billing", description="money owed or refunded"), Label("shipping", "parcels"))
    )
    store.save_taxonomy(project.id, edited)
    technique = create_technique("embeddings")
    forward_rows.clear()
    [outcome] = run_techniques(store, project.id, [technique])
    assert outcome.n_computed == len(texts)  # new cache key: every prediction recomputed
    assert sum(forward_rows) <= len(edited.labels) * 4  # prototypes only, no document
    kept = store.get_predictions(project.id, outcome.cache_key)

    embedding_cache.clear()
    scratch = Store(db_path.parent / "scratch.db")
    other, _, _ = _project_with_documents(scratch, texts, name="scratch")
    scratch.save_taxonomy(other.id, edited)
    [fresh] = run_techniques(scratch, other.id, [create_technique("embeddings")])
    recomputed = scratch.get_predictions(other.id, fresh.cache_key)
    for doc in docs:
        for label, score in recomputed[doc.id]["scores"].items():
            assert kept[doc.id]["scores"][label] == pytest.approx(score, abs=1e-5)


def test_train_then_predict_in_new_processes_embeds_nothing_again(db_path, encoder, forward_rows):
    texts = [f"refund invoice number {i}" for i in range(6)] + [
        f"parcel {i} is lost in the post" for i in range(6)
    ]
    store = Store(db_path)
    project, _, docs = _project_with_documents(store, texts)
    for doc in docs[:3] + docs[6:9]:
        label = "billing" if "refund" in doc.text else "shipping"
        store.add_review(project.id, doc.id, reviewer="ana", decision="correct", labels=[label])
    run_techniques(store, project.id, [create_technique("embeddings")])
    embedding_cache.clear()  # `train` in a new process
    forward_rows.clear()
    assert learn(store, project.id).adopted
    embedding_cache.clear()  # `classify -t supervised` in another
    vectors = document_embeddings(store, project.id, [doc.id for doc in docs])
    # Only label templates (the zero-shot prior) ran; every document vector came from the store.
    assert sum(forward_rows) < len(docs)
    np.testing.assert_allclose(vectors, encode(encoder, texts), atol=1e-5)


def test_malformed_stored_vectors_are_recomputed_not_trusted(db_path, encoder, forward_rows):
    store = Store(db_path)
    project, _, docs = _project_with_documents(store, TEXTS[:2])
    key = embedding_cache.stored_model_key(encoder)
    digest = embedding_cache._digest(TEXTS[0])
    store.save_embeddings(project.id, key, [(digest, b"\x00\x00\xc0\x7f" * 384)])  # NaNs
    store.save_embeddings(project.id, key, [(embedding_cache._digest(TEXTS[1]), b"short")])
    with embedding_cache.kept_in(store, project.id):
        vectors = cached_encode(encoder, TEXTS[:2])
    assert sum(forward_rows) == 2
    np.testing.assert_allclose(vectors, encode(encoder, TEXTS[:2]), atol=1e-6)


def test_a_store_that_refuses_vectors_costs_a_recomputation_not_the_result(
    db_path, encoder, monkeypatch
):
    store = Store(db_path)
    project, _, _ = _project_with_documents(store, TEXTS[:2])

    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(store, "save_embeddings", refuse)
    with embedding_cache.kept_in(store, project.id):
        vectors = cached_encode(encoder, TEXTS[:2])
    np.testing.assert_allclose(vectors, encode(encoder, TEXTS[:2]), atol=1e-6)


def test_stored_vectors_go_with_their_project(db_path, encoder):
    store = Store(db_path)
    project, _, docs = _project_with_documents(store, TEXTS[:2])
    document_embeddings(store, project.id, [doc.id for doc in docs])
    key = embedding_cache.stored_model_key(encoder)
    digests = [embedding_cache._digest(text) for text in TEXTS[:2]]
    assert len(store.stored_embeddings(project.id, key, digests)) == 2
    store.delete_project(project.id)
    assert store._scalar("SELECT count(*) FROM embeddings") == 0


def test_peek_finds_vectors_kept_in_the_store_after_a_restart(db_path, encoder, forward_rows):
    store = Store(db_path)
    project, _, docs = _project_with_documents(store, TEXTS[:2])
    document_embeddings(store, project.id, [doc.id for doc in docs])
    embedding_cache.clear()  # a server restart
    forward_rows.clear()
    assert peek(DEFAULT_EMBEDDING_MODEL, TEXTS[:2]) is None  # not in this process
    found = peek(DEFAULT_EMBEDDING_MODEL, TEXTS[:2], store=store, project_id=project.id)
    assert found is not None and sum(forward_rows) == 0
    np.testing.assert_allclose(found, encode(encoder, TEXTS[:2]), atol=1e-5)
    assert peek(DEFAULT_EMBEDDING_MODEL, TEXTS, store=store, project_id=project.id) is None
