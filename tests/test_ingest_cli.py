"""`python -m core ingest`: a text column that is not text, and gold labels vs the taxonomy.

Run in process (core.cli.main) against a real SQLite file; test_cli.py runs the subprocess.
"""

from __future__ import annotations

import pytest

from core.cli import EXIT_OK, EXIT_PARTIAL, main
from core.store import Store

PAYMENTS = "id,amount,date\n1,12.50,2024-01-05\n2,8.00,2024-02-11\n3,100,2024-03-01\n"
NEWS = (
    "text,gold\n"
    "Great match today,sport\n"
    "The league final was close,sport\n"
    "Election results are in,news\n"
    "Rain all week,weather\n"
)
TAXONOMY = "labels:\n  - name: Sport\n  - name: News\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "payments.csv").write_text(PAYMENTS, encoding="utf-8")
    (tmp_path / "news.csv").write_text(NEWS, encoding="utf-8")
    (tmp_path / "taxonomy.yaml").write_text(TAXONOMY, encoding="utf-8")
    return tmp_path


def ingest(db, *args) -> int:
    return main(["--db", str(db), "ingest", "demo", "--create", *args])


def count(db) -> int:
    store = Store(db)
    try:
        return store.count_documents(store.get_project("demo").id)
    finally:
        store.close()


def test_a_file_without_a_text_column_is_rejected_with_how_to_proceed(files, db_path, capsys):
    code = ingest(db_path, str(files / "payments.csv"), str(files / "news.csv"))
    err = capsys.readouterr().err
    assert code == EXIT_PARTIAL
    assert "REJECTED payments.csv: the text column 'date' does not look like text" in err
    assert "--text-column date to import this one anyway" in err
    assert "1 file(s) rejected" in err
    assert count(db_path) == 4  # news.csv imported, nothing from payments.csv


def test_naming_the_column_confirms_it(files, db_path, capsys):
    code = ingest(db_path, str(files / "payments.csv"), "--text-column", "date")
    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert "imported" in captured.out and "3 new" in captured.out
    assert "warning: payments.csv: the text column 'date'" in captured.err
    assert count(db_path) == 3


def test_gold_labels_are_matched_ignoring_case_and_unknown_ones_named(files, db_path, capsys):
    code = ingest(
        db_path,
        str(files / "news.csv"),
        "--taxonomy",
        str(files / "taxonomy.yaml"),
        "--label-column",
        "gold",
    )
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "sport → Sport: 2 documents" in out
    assert "news → News: 1 document" in out
    assert "match no taxonomy label" in out and "'weather' (1 document)" in out
    store = Store(db_path)
    gold = {doc.text: doc.gold_labels for doc in store.get_documents(store.get_project("demo").id)}
    store.close()
    assert gold["Great match today"] == ("sport",)  # stored as given
