"""The Upload page (AppTest) and its import function, against a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.ingest import IngestLimits, IngestOptions
from core.store import Store
from core.taxonomy import Label, Taxonomy
from tests.rendered import as_shown
from ui.upload_ui import file_key, import_file, import_files

APP = str(Path(__file__).parent.parent / "app.py")
TICKETS = (
    b"ref,subject,body,topic\n"
    b"T-1,Refund,Please refund invoice 1042,billing\n"
    b"T-2,Parcel,The parcel was lost in transit,shipping;complaint\n"
    b"T-3,Login,I cannot log in,account\n"
)


@pytest.fixture
def store(db_path):
    return Store(db_path)


@pytest.fixture
def project(store):
    return store.create_project("uploads")


def open_upload(project) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.id
    at.switch_page("pages/upload.py").run()
    assert not at.exception, at.exception
    return at


def choose_files(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    at.file_uploader(key="upload_files").set_value(
        [(name, data, "application/octet-stream") for name, data in files]
    )
    at.run()
    assert not at.exception, at.exception
    return at


def import_(at: AppTest) -> AppTest:
    at.button(key="upload_import").click().run()
    assert not at.exception, at.exception
    return at


def results(at: AppTest) -> list[dict]:
    return at.dataframe[-1].value.to_dict("records")


def test_page_accepts_every_supported_type(project):
    at = open_upload(project)
    assert set(at.file_uploader(key="upload_files").allowed_type) >= {
        ".csv",
        ".tsv",
        ".txt",
        ".md",
        ".jsonl",
        ".json",
        ".eml",
        ".docx",
        ".pdf",
    }


def test_a_csv_preview_offers_its_columns_with_guesses(project):
    at = choose_files(open_upload(project), ("tickets.csv", TICKETS))
    text = at.selectbox(key=file_key("text", "tickets.csv"))
    assert text.options == ["ref", "subject", "body", "topic"]
    assert text.value == "body"
    assert at.selectbox(key=file_key("label", "tickets.csv")).value == "topic"


def test_a_csv_is_imported_with_the_picked_columns(store, project):
    at = choose_files(open_upload(project), ("tickets.csv", TICKETS))
    at.selectbox(key=file_key("id", "tickets.csv")).set_value("ref")
    at.selectbox(key=file_key("label", "tickets.csv")).set_value("topic")
    import_(at)
    documents = {doc.external_id: doc for doc in store.get_documents(project.id)}
    assert set(documents) == {"T-1", "T-2", "T-3"}
    assert documents["T-1"].text == "Please refund invoice 1042"
    assert documents["T-2"].gold_labels == ("shipping", "complaint")
    [row] = results(at)
    assert (row["Result"], row["New"]) == ("Imported", 3)


def test_a_different_text_column_changes_what_is_imported(store, project):
    at = choose_files(open_upload(project), ("tickets.csv", TICKETS))
    at.selectbox(key=file_key("text", "tickets.csv")).set_value("subject")
    import_(at)
    assert sorted(doc.text for doc in store.get_documents(project.id)) == [
        "Login",
        "Parcel",
        "Refund",
    ]


def test_a_rejected_file_shows_its_reason_and_the_others_are_imported(store, project):
    bad = b"body,topic\nPlease refund me,billing\n,shipping\n"  # data row 2 has no text
    at = choose_files(open_upload(project), ("good.txt", b"Hello there"), ("bad.csv", bad))
    import_(at)
    rows = {row["File"]: row for row in results(at)}
    assert rows["good.txt"]["Result"] == "Imported"
    assert rows["bad.csv"]["Result"] == "Rejected"
    assert "bad.csv, row 2: the text column 'body' is empty" in rows["bad.csv"]["Details"]
    assert any("bad.csv, row 2" in as_shown(element.value) for element in at.error)
    assert [doc.text for doc in store.get_documents(project.id)] == ["Hello there"]


def test_importing_the_same_file_again_reports_it_as_present(store, project):
    at = choose_files(open_upload(project), ("note.txt", b"Same words again"))
    import_(at)
    import_(at)
    [row] = results(at)
    assert (row["Result"], row["New"]) == ("Already present", 0)
    assert store.count_documents(project.id) == 1


def test_text_files_can_be_split_into_paragraphs(store, project):
    at = choose_files(open_upload(project), ("memo.md", b"First point.\n\nSecond point.\n"))
    at.toggle(key="upload_split_paragraphs").set_value(True)
    import_(at)
    assert sorted(doc.text for doc in store.get_documents(project.id)) == [
        "First point.",
        "Second point.",
    ]


# --- the import function, without the page ------------------------------------------------


def test_an_oversized_file_is_rejected_with_the_limit_named(store, project):
    options = IngestOptions(limits=IngestLimits(max_file_bytes=10))
    outcome = import_file(store, project.id, "big.txt", b"x" * 11, options)
    assert outcome.status == "rejected"
    assert "big.txt: is 11 bytes, over the 10-byte limit" in outcome.message
    assert store.count_documents(project.id) == 0


def test_each_file_is_imported_whole_or_not_at_all(store, project):
    good = b"body\nPlease refund me\nWhere is my parcel\n"
    bad = b'[{"text": "A fine first item"}, {"text": ""}]'  # item 2 has no text
    outcomes = import_files(
        store,
        project.id,
        [("good.csv", good, IngestOptions()), ("bad.json", bad, IngestOptions())],
        by="tester",
    )
    assert [outcome.status for outcome in outcomes] == ["imported", "rejected"]
    texts = {doc.text for doc in store.get_documents(project.id)}
    assert texts == {"Please refund me", "Where is my parcel"}  # nothing from bad.json
    [record] = store.list_imports(project.id)
    assert (record.filename, record.by) == ("good.csv", "tester")


# --- a text column that is not text waits for confirmation ----------------------------------

PAYMENTS = b"id,amount,date\n1,12.50,2024-01-05\n2,8.00,2024-02-11\n3,100,2024-03-01\n"


def shown(elements) -> list[str]:
    return [as_shown(element.value) for element in elements]


def confirm_buttons(at: AppTest) -> list:
    return [button for button in at.button if button.key == file_key("confirm", "payments.csv")]


def test_a_csv_without_text_is_not_imported_until_confirmed(store, project):
    at = choose_files(open_upload(project), ("payments.csv", PAYMENTS), ("note.txt", b"Hello"))
    assert at.selectbox(key=file_key("text", "payments.csv")).value == "date"
    import_(at)
    assert [doc.text for doc in store.get_documents(project.id)] == ["Hello"]  # only the note
    rows = {row["File"]: row for row in results(at)}
    assert rows["payments.csv"]["Result"] == "Needs confirmation"
    assert rows["note.txt"]["Result"] == "Imported"
    assert any(
        w.startswith("payments.csv: the text column 'date' does not look like text")
        for w in shown(at.warning)
    )
    assert any("wait for your confirmation" in w for w in shown(at.warning))

    [confirm] = confirm_buttons(at)
    confirm.click().run()
    assert not at.exception, at.exception
    assert sorted(doc.text for doc in store.get_documents(project.id)) == [
        "2024-01-05",
        "2024-02-11",
        "2024-03-01",
        "Hello",
    ]
    rows = {row["File"]: row for row in results(at)}
    assert (rows["payments.csv"]["Result"], rows["payments.csv"]["New"]) == ("Imported", 3)
    assert rows["note.txt"]["Result"] == "Imported"  # not imported a second time
    assert not confirm_buttons(at)
    assert sorted(record.filename for record in store.list_imports(project.id)) == [
        "note.txt",
        "payments.csv",
    ]


def test_choosing_another_column_after_the_warning_needs_a_new_check(store, project):
    at = choose_files(open_upload(project), ("payments.csv", PAYMENTS))
    import_(at)
    assert confirm_buttons(at)
    at.selectbox(key=file_key("text", "payments.csv")).set_value("amount").run()
    assert not confirm_buttons(at)  # "Import anyway" was for 'date', not 'amount'
    assert any("columns changed since the check" in i for i in shown(at.info))
    import_(at)
    assert any("the text column 'amount' does not look like text" in w for w in shown(at.warning))
    assert store.count_documents(project.id) == 0


def test_a_csv_with_text_imports_without_asking(store, project):
    at = choose_files(open_upload(project), ("tickets.csv", TICKETS))
    import_(at)
    assert not confirm_buttons(at) and not at.warning
    assert store.count_documents(project.id) == 3


# --- gold labels against the taxonomy ----------------------------------------------------------

NEWS = (
    b"text,gold\n"
    b"Great match today,sport\n"
    b"The league final was close,sport\n"
    b"Election results are in,News\n"
    b"Rain all week,weather\n"
)


def test_gold_labels_matched_ignoring_case_and_unknown_ones_are_reported(store, project):
    store.save_taxonomy(project.id, Taxonomy(labels=(Label("Sport"), Label("News"))))
    at = choose_files(open_upload(project), ("news.csv", NEWS))
    assert at.selectbox(key=file_key("label", "news.csv")).value == "gold"
    import_(at)
    notes = shown(at.info)
    assert any(
        "news.csv: gold labels matched" in n and "sport → Sport: 2 documents" in n for n in notes
    )
    assert not any("News → News" in n for n in notes)  # exact names are not "mapped"
    assert any("match no taxonomy label" in n and "'weather' (1 document)" in n for n in notes)
    gold = {doc.text: doc.gold_labels for doc in store.get_documents(project.id)}
    assert gold["Great match today"] == ("sport",)  # stored as given, matched when evaluated


# --- the import function, with warnings --------------------------------------------------------


def test_import_file_holds_a_file_with_warnings_until_confirmed(store, project):
    held = import_file(store, project.id, "payments.csv", PAYMENTS, IngestOptions())
    assert held.status == "unconfirmed" and held.n_added == 0
    assert held.warnings and "'date'" in held.warnings[0]
    assert store.count_documents(project.id) == 0
    done = import_file(store, project.id, "payments.csv", PAYMENTS, IngestOptions(), confirmed=True)
    assert (done.status, done.n_added) == ("imported", 3)
    assert "imported as confirmed" in done.message
    assert store.count_documents(project.id) == 3
