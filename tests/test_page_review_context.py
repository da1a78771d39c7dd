"""The Review page (AppTest): what surrounds the text — entity types the reviewer can turn off,
a summary only when it says less than the text, the document's metadata, times in the
viewer's zone, counts with the right plural, and bulk accept behind a confirmation."""

from __future__ import annotations

import html
import re
from collections import Counter

import pytest

import tests.test_page_review as review_page
from core.documents import Document
from core.predictions import load_predictions
from tests.page_project import TAXONOMY, build_project
from tests.stored_runs import store_run


@pytest.fixture
def project(db_path):
    return build_project(db_path)


def add_run(store, project_id: int, technique: str, results: dict[str, dict]) -> None:
    """A finished run of `technique` with these per-document results (scores, evidence,
    summary), as the engine would have written it."""
    store_run(store, project_id, technique, list(results.items()), f"test-{technique}")


def even_scores() -> dict[str, float]:
    return {name: 1 / len(TAXONOMY.names) for name in TAXONOMY.names}


def marked_titles(at) -> list[str]:
    """The tooltip of every mark in the document text."""
    text = next(e.proto.body for e in at.html if "sift-text" in e.proto.body)
    return [html.unescape(t) for t in re.findall(r'<mark [^>]*title="([^"]*)"', text)]


def show_only(at, text: str):
    """Search the queue for `text`: the page then shows that document alone."""
    at.text_input(key="review_search").set_value(text).run()
    assert not at.exception, at.exception
    return at


# --- entity types ----------------------------------------------------------------------------


def add_ner_run(project) -> None:
    """Every document: an ORG that is evidence for billing, and a PERSON for no label."""
    documents = project.store.get_documents(project.project_id)
    add_run(
        project.store,
        project.project_id,
        "ner",
        {
            doc.id: {
                "scores": even_scores(),
                "evidence": [
                    {"start": 0, "end": 4, "kind": "entity", "label": "billing", "detail": "ORG"},
                    {"start": 5, "end": 9, "kind": "entity", "label": None, "detail": "PERSON"},
                ],
                "summary": None,
            }
            for doc in documents
        },
    )


def test_entity_types_are_pills_and_only_those_for_a_label_are_on_at_first(project):
    add_ner_run(project)
    at = review_page.open_review(project)
    [pills] = at.pills
    assert pills.proto.label == "Entity types"
    assert [option.content for option in pills.proto.options] == ["ORG", "PERSON"]
    assert pills.value == ["ORG"]
    titles = marked_titles(at)
    assert any(t.endswith("entity: ORG") for t in titles)
    assert not any("PERSON" in t for t in titles)


def test_a_type_turned_on_stays_on_for_the_next_document_in_the_pass(project):
    add_ner_run(project)
    at = review_page.open_review(project)
    at.pills[0].set_value(["ORG", "PERSON"]).run()
    assert any("entity: PERSON" in t for t in marked_titles(at))
    first = review_page.displayed_document(at, project)
    at.button(key="review_skip").click().run()
    assert review_page.displayed_document(at, project) != first
    assert at.pills[0].value == ["ORG", "PERSON"]
    assert any("entity: PERSON" in t for t in marked_titles(at))
    at.pills[0].set_value([]).run()  # every entity type off: no entity underlined
    assert not any("entity:" in t for t in marked_titles(at))
    at.button(key="review_skip").click().run()
    assert at.pills[0].value == []


def test_no_entity_evidence_no_entity_picker(project):
    at = review_page.open_review(project)
    assert not at.pills


# --- summary ---------------------------------------------------------------------------------


def summary_shown(at) -> bool:
    return any(m.value == "**Summary**" for m in at.markdown)


@pytest.mark.parametrize(
    "summary, shown",
    [
        (None, False),
        ("same", False),  # the whole text again
        ("same, spaced", False),  # the whole text with other whitespace
        ("short", True),
    ],
)
def test_summary_is_shown_only_when_it_is_shorter_than_the_text(project, summary, shown):
    store, pid = project.store, project.project_id
    text = "Please refund invoice #1042, the charge was made twice."
    [doc] = [d for d in store.get_documents(pid) if d.text == text]
    value = {
        None: None,
        "same": text,
        "same, spaced": "  Please refund   invoice #1042,\nthe charge was made twice. ",
        "short": "Refund invoice #1042.",
    }[summary]
    add_run(
        store,
        pid,
        "summarize",
        {doc.id: {"scores": even_scores(), "evidence": [], "summary": value}},
    )
    at = show_only(review_page.open_review(project), "refund invoice #1042")
    assert review_page.displayed_document(at, project) == doc.id
    assert summary_shown(at) is shown
    if shown:
        assert any(m.value.startswith("Refund invoice \\#1042") for m in at.markdown)


# --- metadata --------------------------------------------------------------------------------

EMAIL = "Where is the order I paid for last week?"


def add_email(project, **meta) -> str:
    document = Document.from_text(EMAIL, source="mail.eml", external_id="<id@x>", meta=meta)
    project.store.add_documents(
        project.project_id,
        [document],
        filename="mail.eml",
        format="eml",
        encoding="utf-8",
        sha256="9" * 64,
    )
    return document.id


def test_email_headers_are_shown_above_the_text_escaped_and_cut_short(project):
    add_email(
        project,
        subject="*Order* [late](http://x.example)",
        **{"from": "Eve <eve@example.com>"},
        to="support@example.com",
        date="Tue, 01 Apr 2025 10:00:00 +0200",
        message_id="<id@x>",
        notes="x" * 500,
    )
    at = show_only(review_page.open_review(project), "paid for last week")
    [caption] = [c.value for c in at.caption if "From" in c.value]
    lines = caption.split("  \n")
    assert [line.split(":**")[0] for line in lines] == [
        "**Subject",
        "**From",
        "**To",
        "**Date",
        "**notes",
    ]
    assert "\\*Order\\* \\[late\\]\\(http\\:\\/\\/x\\.example\\)" in lines[0]  # md()-escaped
    assert "Eve \\<eve\\@example\\.com\\>" in lines[1]
    assert "message" not in caption  # the id is shown with the source already
    assert len(lines[-1]) < 200 and lines[-1].endswith("…")


def test_the_queue_filters_on_a_context_field(project):
    add_email(
        project,
        subject="Invoice question",
        **{"from": "Eve <eve@example.com>"},
        to="support@example.com",
        date="Tue, 01 Apr 2025 10:00:00 +0200",
        message_id="<id@x>",
        notes="",
    )
    at = review_page.open_review(project)
    assert "from" in at.selectbox(key="review_context_field").options
    at.selectbox(key="review_context_field").set_value("from").run()
    at.text_input(key="review_context_value").set_value("EVE@").run()
    assert not at.exception, at.exception
    body = " ".join(e.proto.body for e in at.html if "sift-text" in e.proto.body)
    assert "paid for last week" in body  # the e-mail from Eve, alone
    at.text_input(key="review_context_value").set_value("nobody@").run()
    body = " ".join(e.proto.body for e in at.html if "sift-text" in e.proto.body)
    assert "paid for last week" not in body


def test_a_document_without_metadata_shows_no_metadata_block(project):
    at = review_page.open_review(project)
    assert not [c.value for c in at.caption if c.value.startswith("**")]


# --- times -----------------------------------------------------------------------------------


def history_times(at) -> list[str]:
    return [c.value for c in at.caption if " · alice · " in c.value]


def accept_and_go_back(at):
    at.button(key="review_accept").click().run()
    at.button(key="review_prev").click().run()
    assert not at.exception, at.exception
    return at


def test_review_history_is_in_the_viewers_time_zone(project):
    at = review_page.open_review(project)
    at.context["timezone"] = "Asia/Kolkata"  # no summer time: always IST, UTC+05:30
    accept_and_go_back(at)
    [when] = history_times(at)
    [saved] = project.store.review_history(project.project_id)
    assert re.match(r"\d{4}\\-\d\d\\-\d\d \d\d\\:\d\d IST · alice", when), when
    from datetime import datetime, timedelta

    utc = datetime.fromisoformat(saved.created_at)
    local = (utc + timedelta(hours=5, minutes=30)).strftime("%H\\:%M")
    assert local in when


def test_review_history_without_a_browser_zone_says_utc(project):
    at = accept_and_go_back(review_page.open_review(project))
    [when] = history_times(at)
    assert re.match(r"\d{4}\\-\d\d\\-\d\d \d\d\\:\d\d UTC · alice", when), when


# --- plurals ---------------------------------------------------------------------------------


def test_end_of_pass_with_one_document_says_one_document(project):
    at = show_only(review_page.open_review(project), "lovely meeting")
    at.button(key="review_skip").click().run()
    [done] = [s.value for s in at.success if "End of this pass" in s.value]
    assert "(1 document in this pass)" in done


# --- bulk accept -----------------------------------------------------------------------------


def open_bulk_dialog(project, threshold: float):
    at = review_page.open_review(project)
    at.segmented_control(key="review_mode").set_value("Table").run()
    at.slider(key="review_bulk_threshold").set_value(threshold).run()
    at.button(key="review_bulk_accept").click().run()
    assert not at.exception, at.exception
    return at


def expected_bulk(project, threshold: float) -> dict[str, tuple[str, ...]]:
    table = load_predictions(project.store, project.project_id)
    return {
        doc: table.suggested_labels(i)
        for i, doc in enumerate(table.document_ids)
        if table.covered[i] and table.confidence[i] >= threshold and not table.below_threshold[i]
    }


def test_bulk_accept_lists_what_it_will_save_and_saves_exactly_that(project):
    expected = expected_bulk(project, 0.5)
    at = open_bulk_dialog(project, 0.5)
    assert project.store.current_reviews(project.project_id) == {}
    confirm = at.button(key="review_bulk_confirm")
    n = len(expected)
    assert confirm.label == f"Accept {n} document{'s' if n != 1 else ''}"
    per_label, listed = at.dataframe[-2].value, at.dataframe[-1].value
    counts = Counter(label for labels in expected.values() for label in labels)
    assert dict(zip(per_label["label"], per_label["documents"])) == dict(counts)
    assert len(listed) == min(n, 20)
    confirm.click().run()
    assert not at.exception, at.exception
    saved = project.store.current_reviews(project.project_id)
    assert {doc: r.labels for doc, r in saved.items()} == expected
    assert any(f"{n} documents accepted" in t.value for t in at.toast)
    assert not [b for b in at.button if b.key == "review_bulk_confirm"]  # dialog closed


def test_bulk_accept_reads_the_slider_when_the_dialog_opens(project):
    """The count comes from the slider's value at that moment, not from an earlier run."""
    at = open_bulk_dialog(project, 0.5)
    at.button(key="review_bulk_cancel").click().run()
    at.slider(key="review_bulk_threshold").set_value(0.99).run()
    at.button(key="review_bulk_accept").click().run()
    expected = expected_bulk(project, 0.99)
    if expected:
        assert at.button(key="review_bulk_confirm").label.startswith(f"Accept {len(expected)} ")
    else:
        assert not [b for b in at.button if b.key == "review_bulk_confirm"]
        assert any("No unreviewed document" in i.value for i in at.info)


def test_bulk_accept_cancel_saves_nothing(project):
    at = open_bulk_dialog(project, 0.5)
    at.button(key="review_bulk_cancel").click().run()
    assert not at.exception, at.exception
    assert project.store.current_reviews(project.project_id) == {}
    assert not [b for b in at.button if b.key == "review_bulk_confirm"]
