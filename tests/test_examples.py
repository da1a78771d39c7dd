"""core.examples: the "Try it" project is complete, useful, and imported like an upload."""

from __future__ import annotations

import hashlib

import pytest

from core.engine import run_techniques
from core.examples import (
    DOCUMENTS_FILE,
    EXAMPLE_NAME,
    TAXONOMY_FILE,
    create_example_project,
    example_bytes,
)
from core.store import Store
from core.taxonomy import load_taxonomy, validate
from core.techniques import create_technique


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "sift.db")


@pytest.fixture
def example(store):
    return create_example_project(store)


def test_the_example_has_a_valid_taxonomy_with_every_kind_of_hint(store, example):
    taxonomy = store.load_taxonomy(example.id)
    validate(taxonomy)
    assert len(taxonomy) >= 6
    for label in taxonomy.labels:
        assert label.description and label.keywords and label.patterns and label.entity_types
        assert label.colour
    assert any(kw.weight != 1 for label in taxonomy.labels for kw in label.keywords)


def test_the_example_holds_40_to_60_documents(store, example):
    assert 40 <= store.count_documents(example.id) <= 60


def test_gold_labels_are_taxonomy_labels_on_a_subset_some_multi_topic(store, example):
    names = set(store.load_taxonomy(example.id).names)
    documents = store.get_documents(example.id)
    gold = [doc.gold_labels for doc in documents if doc.gold_labels]
    assert 20 <= len(gold) < len(documents)
    assert all(set(labels) <= names for labels in gold)
    assert any(len(labels) > 1 for labels in gold)
    assert {label for labels in gold for label in labels} == names  # every label has examples


def test_the_documents_are_imported_like_an_upload_of_the_csv(store, example):
    [record] = store.list_imports(example.id)
    assert record.filename == DOCUMENTS_FILE and record.format == "csv"
    assert record.sha256 == hashlib.sha256(example_bytes(DOCUMENTS_FILE)).hexdigest()
    assert all(doc.external_id for doc in store.get_documents(example.id))


def test_the_stored_taxonomy_is_the_shipped_file(store, example):
    assert store.load_taxonomy(example.id) == load_taxonomy(example_bytes(TAXONOMY_FILE), "yaml")


def test_a_second_call_opens_the_existing_project(store, example):
    again = create_example_project(store)
    assert again.id == example.id
    assert [p.name for p in store.list_projects()] == [EXAMPLE_NAME]
    assert len(store.list_imports(example.id)) == 1


def test_another_name_makes_another_project(store, example):
    other = create_example_project(store, name="Inbox copy")
    assert other.id != example.id
    assert store.count_documents(other.id) == store.count_documents(example.id)


def test_rules_and_lexicon_find_evidence_in_most_example_documents(store, example):
    outcomes = run_techniques(
        store,
        example.id,
        [
            create_technique("rules", multi_label=True),
            create_technique("lexicon", multi_label=True),
        ],
    )
    voiced = set()
    for outcome in outcomes:
        predictions = store.get_predictions(example.id, outcome.cache_key)
        voiced |= {doc_id for doc_id, row in predictions.items() if row["scores"]}
    assert len(voiced) >= 0.8 * store.count_documents(example.id)
