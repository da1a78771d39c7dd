"""`python -m core agreement PROJECT [--json]`, run as a user would (subprocess, real SQLite)."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import cohen_kappa_score

from core.evaluation.agreement import project_agreement
from tests.test_agreement import KAPPA_TABLE, make_store
from tests.test_cli import sift


@pytest.fixture
def two_reviewers(tmp_path):
    """The textbook kappa table (kappa 0.4) on 50 documents, plus one document only ann saw."""
    store, project_id, ids = make_store(tmp_path, ["yes", "no"], len(KAPPA_TABLE) + 1)
    for doc_id, (a, b) in zip(ids, KAPPA_TABLE):
        store.add_review(project_id, doc_id, reviewer="ann", decision="correct", labels=[a])
        store.add_review(project_id, doc_id, reviewer="bob", decision="accept", labels=[b])
    store.add_review(project_id, ids[-1], reviewer="ann", decision="correct", labels=["no"])
    return store, project_id, ids


def test_agreement_prints_kappa_alpha_and_the_documents_compared(two_reviewers):
    store, project_id, _ = two_reviewers
    expected = project_agreement(store, project_id)
    out = sift("agreement", "team", db=store.path).stdout
    lines = out.splitlines()
    assert lines[0].startswith("50 documents with reviews by 2 or more reviewers (51 reviewed")
    overall = next(line for line in lines if line.startswith("overall")).split()
    assert overall[1:] == [
        "0.400",
        f"{expected.overall.alpha:.3f}",
        "0.700",  # 35 of 50 documents with the same label
        "50",
        "15",
    ]
    assert next(line for line in lines if line.startswith("yes ")).split()[1] == "0.400"
    assert "pair ann / bob: 50 documents, kappa 0.400, same labels 0.700" in out


def test_agreement_json_holds_the_numbers_and_the_disagreeing_documents(two_reviewers):
    store, project_id, ids = two_reviewers
    data = json.loads(sift("agreement", "team", "--json", db=store.path).stdout)
    assert data["documents_with_2_or_more_reviewers"] == 50
    assert data["documents_reviewed"] == 51
    reference = cohen_kappa_score([a for a, _ in KAPPA_TABLE], [b for _, b in KAPPA_TABLE])
    assert data["overall"]["kappa_mean"] == pytest.approx(reference)
    assert data["overall"]["alpha"] == pytest.approx(
        project_agreement(store, project_id).overall.alpha
    )
    differ = {doc for doc, (a, b) in zip(ids, KAPPA_TABLE) if a != b}
    assert set(data["overall"]["disagreeing_documents"]) == differ
    assert [row["label"] for row in data["labels"]] == ["yes", "no"]
    (pair,) = data["pairs"]
    assert pair["reviewers"] == ["ann", "bob"] and pair["documents"] == 50


def test_agreement_with_one_reviewer_says_what_is_missing(tmp_path):
    store, project_id, ids = make_store(tmp_path, ["yes", "no"], 2)
    store.add_review(project_id, ids[0], reviewer="ann", decision="correct", labels=["yes"])
    out = sift("agreement", "team", db=store.path).stdout
    assert out.startswith("0 documents with reviews by 2 or more reviewers")
    assert "ask a second reviewer" in out
    data = json.loads(sift("agreement", "team", "--json", db=store.path).stdout)
    assert data["overall"]["alpha"] is None and data["overall"]["kappa_mean"] is None


def test_agreement_of_an_unknown_project_is_a_usage_error(tmp_path):
    store, _, _ = make_store(tmp_path, ["yes"], 1)
    result = sift("agreement", "nope", db=store.path, check=False)
    assert result.returncode == 2
    assert "nope" in result.stderr
