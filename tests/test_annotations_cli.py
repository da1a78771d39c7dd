"""`python -m core import-reviews`: in process (core.cli.main) against a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, main
from core.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "annotations"
TAXONOMY = "labels:\n  - name: Politics\n  - name: Business\n  - name: Sport\n"


@pytest.fixture
def project(tmp_path, db_path):
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(TAXONOMY, encoding="utf-8")
    assert main(["--db", str(db_path), "create", "news", "--taxonomy", str(taxonomy)]) == 0
    return db_path


def counts(db) -> tuple[int, int]:
    with Store(db) as store:
        project_id = store.get_project("news").id
        return store.count_documents(project_id), len(store.review_history(project_id))


def run(db, *args) -> int:
    return main(["--db", str(db), "import-reviews", "news", *args])


def test_label_studio_import_prints_what_was_mapped_and_imported(project, capsys):
    code = run(project, str(FIXTURES / "label_studio_export.json"))
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "label_studio_export.json (label-studio):" in out
    assert "4 reviews to record (alice@example.com: 2, label-studio user 10: 1, " in out
    assert "3 new documents to create" in out
    assert "'sport' → Sport: 1 row" in out
    assert "imported 4 review(s); 3 new document(s)" in out
    assert counts(project) == (3, 4)


def test_format_flag_and_default_reviewer(project, tmp_path, capsys):
    path = tmp_path / "rows.txt"  # no telling extension: --format says it
    path.write_text('{"text": "Rates rise again", "labels": ["business"]}\n', encoding="utf-8")
    assert run(project, str(path), "--format", "jsonl") == EXIT_PARTIAL
    assert "say no reviewer" in capsys.readouterr().err
    assert counts(project) == (0, 0)
    assert run(project, str(path), "--format", "jsonl", "--reviewer", "dana") == EXIT_OK
    assert "dana: 1" in capsys.readouterr().out
    assert counts(project) == (1, 1)


def test_unknown_label_exits_1_and_writes_nothing(project, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("text,labels,reviewer\nA text,Weather,ann\nB text,Sport,ann\n", "utf-8")
    code = run(project, str(path))
    err = capsys.readouterr().err
    assert code == EXIT_PARTIAL
    assert "REFUSED bad.csv: labels not in the taxonomy: 'Weather' (1 row)" in err
    assert "nothing was imported" in err
    assert counts(project) == (0, 0)


def test_dry_run_writes_nothing(project, capsys):
    code = run(project, str(FIXTURES / "prodigy_textcat_choice.jsonl"), "--dry-run")
    out = capsys.readouterr().out
    assert code == EXIT_OK and "dry run: nothing written" in out
    assert "3 reviews to record" in out
    assert counts(project) == (0, 0)


def test_unknown_project_is_a_usage_error(project, capsys):
    code = main(["--db", str(project), "import-reviews", "nope", str(FIXTURES / "reviews.csv")])
    assert code == EXIT_USAGE
    assert "nope" in capsys.readouterr().err
