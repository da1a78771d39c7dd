"""The Evaluate page's "Agreement between reviewers" and "Reviewers" sections (AppTest, real
SQLite): the numbers are core's, the documents behind a disagreement are one choice away."""

from __future__ import annotations

import pytest

from core.evaluation.agreement import OVERALL, project_agreement
from core.evaluation.reviewers import project_reviewer_stats
from tests.page_project import build_project
from tests.rendered import as_shown
from tests.test_page_evaluate import open_evaluate, table_with

# The first batch's six texts: what two reviewers (one with markdown in her name) chose.
ANN = "*ann*"
CHOICES = {
    ANN: ["billing", "shipping", "account", "billing", "shipping", "billing"],
    "bob": ["billing", "shipping", "account", "account", "shipping", "shipping"],
}


@pytest.fixture
def project(db_path):
    return build_project(db_path)


def review_as_two(project):
    ids = project.store.document_ids(project.project_id, import_id=project.import_ids[0])
    for reviewer, labels in CHOICES.items():
        for doc_id, label in zip(ids, labels):
            project.store.add_review(
                project.project_id,
                doc_id,
                reviewer=reviewer,
                decision="correct",
                labels=[label],
                note=f"{reviewer} thinks {label}",
            )
    return ids


def test_without_two_reviewers_the_section_says_how_to_get_them(project):
    at = open_evaluate(project)
    assert any("No document has reviews from two reviewers" in info.value for info in at.info)
    assert any("Nobody has reviewed anything yet" in info.value for info in at.info)


def test_agreement_table_is_cores_per_label_and_overall(project):
    review_as_two(project)
    at = open_evaluate(project)
    expected = project_agreement(project.store, project.project_id)
    table = table_with(at, "alpha").set_index("label")
    assert list(table.index) == [OVERALL, "billing", "shipping", "account"]
    for row in expected.rows():
        shown = table.loc[row.label]
        assert shown["documents"] == row.n_documents == 6
        assert shown["disagreements"] == row.n_disagreements
        for column, value in (("kappa", row.kappa), ("alpha", row.alpha)):
            assert shown[column] == pytest.approx(value)
    assert table.loc[OVERALL, "disagreements"] == 2  # documents 4 and 6
    assert table.loc[OVERALL, "agreement"] == pytest.approx(4 / 6)
    pairs = table_with(at, "with")
    assert pairs.iloc[0].to_dict() == {
        "reviewer": ANN,
        "with": "bob",
        "documents": 6,
        "same labels": pytest.approx(4 / 6),
        "kappa": pytest.approx(expected.pairs[0].kappa),
    }
    # the reviewer's name is user text: shown literally, not as markdown
    caption = next(c.value for c in at.caption if "reviewed documents have reviews" in c.value)
    assert "\\*ann\\*" in caption and f"({ANN}, bob)" in as_shown(caption)


def test_the_documents_behind_a_disagreement_are_one_choice_away(project):
    ids = review_as_two(project)
    at = open_evaluate(project)
    documents = table_with(at, "open")  # overall first: both disputed documents
    texts = [doc.text for doc in project.store.get_documents(project.project_id, ids)]
    assert documents["text"].tolist() == sorted(
        [texts[3], texts[5]], key=lambda t: ids[texts.index(t)]
    )
    at.selectbox(key="agreement_label").set_value("account").run()
    assert not at.exception, at.exception
    documents = table_with(at, "open")
    assert documents["text"].tolist() == [texts[3]]
    assert documents.iloc[0][ANN] == "billing" and documents.iloc[0]["bob"] == "account"
    assert documents.iloc[0]["open"] == f"review?project={project.project_id}&doc={ids[3]}"
    assert documents.iloc[0]["adjudicated"] is None
    options = at.selectbox(key="agreement_label").options
    assert options == [
        "all labels: 2 documents",
        "billing: 2 documents",
        "shipping: 1 document",
        "account: 1 document",
    ]


def test_an_adjudicated_document_shows_its_final_label(project):
    ids = review_as_two(project)
    project.store.adjudicate(project.project_id, ids[3], reviewer="boss", labels=["account"])
    at = open_evaluate(project)
    documents = table_with(at, "open").set_index("text")
    text = project.store.get_documents(project.project_id, [ids[3]])[0].text
    assert documents.loc[text, "adjudicated"] == "account"


def test_reviewers_table_and_activity_log(project):
    review_as_two(project)
    project.store.add_review(
        project.project_id, project.document_ids[-1], reviewer="bob", decision="flag", note="odd"
    )
    at = open_evaluate(project)
    expected = {
        row.reviewer: row for row in project_reviewer_stats(project.store, project.project_id)
    }
    table = table_with(at, "reviews/hour").set_index("reviewer")
    assert set(table.index) == {ANN, "bob"}
    for name, row in expected.items():
        assert table.loc[name, "reviewed"] == row.n_reviewed == 6
        assert table.loc[name, "of documents"] == pytest.approx(6 / 10)
        assert table.loc[name, "open to them"] == row.n_open == 4
        assert table.loc[name, "agreement"] == pytest.approx(4 / 6)
    assert table.loc["bob", "actions"] == 7
    # 1 review wanted per document: the six documents both reviewed are done, of ten
    assert any("6 of 10 documents done" in as_shown(m.value) for m in at.markdown)
    assert table.loc[ANN, "kappa with"].startswith("bob ")
    log = table_with(at, "decision")
    assert log.iloc[0][["reviewer", "decision", "note"]].tolist() == ["bob", "flag", "odd"]
    assert len(log) == 13
    at.selectbox(key="reviewers_activity_of").set_value(ANN).run()
    log = table_with(at, "decision")
    assert set(log["reviewer"]) == {ANN} and len(log) == 6
    assert log.iloc[0]["note"] == f"{ANN} thinks billing"
