"""`python -m core`: the command line, run as a user would (subprocess, real SQLite file)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import build_parser
from tests.cli_process import run_sift

ROOT = Path(__file__).resolve().parents[1]

TAXONOMY_YAML = """
labels:
  - name: billing
    description: Invoices, payments and refunds
    keywords: [invoice, refund, {term: chargeback, weight: 2}]
    patterns: ['INV-\\d+']
  - name: shipping
    description: Parcels and deliveries
    keywords: [parcel, delivery, courier]
"""


def sift(*args, db: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = run_sift(*args, db=db)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "tickets.csv").write_text(
        "id,body,category\n"
        "t1,Please refund invoice INV-1001,billing\n"
        "t2,The courier lost my parcel,shipping\n"
        "t3,Refund the chargeback on my invoice,billing\n",
        encoding="utf-8",
    )
    (folder / "memo.txt").write_text("Delivery delays expected next week.", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "broken.json").write_text('[{"text": "unterminated', encoding="utf-8")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(TAXONOMY_YAML, encoding="utf-8")
    return folder, taxonomy


def test_every_subcommand_has_help():
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    assert {"ingest", "classify", "export", "stats"} <= set(subcommands)
    for name, sub in subcommands.items():
        assert sub.format_help().startswith("usage: python -m core " + name)


def test_ingest_folder_imports_good_files_names_bad_ones_and_exits_1(inbox, tmp_path):
    folder, taxonomy = inbox
    db = tmp_path / "cli.db"
    result = sift(
        "ingest",
        "demo",
        str(folder),
        "--create",
        "--taxonomy",
        str(taxonomy),
        "--text-column",
        "body",
        "--id-column",
        "id",
        "--label-column",
        "category",
        db=db,
        check=False,
    )
    assert result.returncode == 1
    for bad in ("empty.txt", "broken.json", "image.txt"):
        assert bad in result.stderr
    assert "REJECTED" in result.stderr
    assert "3 file(s) rejected" in result.stderr
    stats = json.loads(sift("stats", "demo", "--json", db=db).stdout)
    assert stats["documents"] == 4  # 3 rows + the memo
    assert stats["imports"] == 2


def test_reingest_is_idempotent(inbox, tmp_path):
    folder, taxonomy = inbox
    db = tmp_path / "cli.db"
    args = ["ingest", "demo", str(folder / "tickets.csv"), "--create", "--text-column", "body"]
    sift(*args, db=db)
    second = sift(*args, db=db)
    assert "0 new, 3 duplicate" in second.stdout
    assert json.loads(sift("stats", "demo", "--json", db=db).stdout)["documents"] == 3


def test_classify_then_export_csv_and_jsonl(inbox, tmp_path):
    folder, taxonomy = inbox
    db = tmp_path / "cli.db"
    sift("create", "demo", "--taxonomy", str(taxonomy), db=db)
    sift("ingest", "demo", str(folder / "tickets.csv"), "--text-column", "body", db=db)
    first = sift("classify", "demo", "-t", "rules", "-t", "lexicon", "-q", db=db)
    assert "rules: finished, 3 computed" in first.stdout
    again = sift("classify", "demo", "-t", "rules", "-t", "lexicon", "-q", db=db)
    assert "lexicon: finished, 0 computed, 3 from cache" in again.stdout

    out_csv = tmp_path / "out.csv"
    sift("export", "demo", "--format", "csv", "--out", str(out_csv), "--scores", db=db)
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    by_text = {row["text"]: row for row in rows}
    assert by_text["Please refund invoice INV-1001"]["labels"] == "billing"
    assert by_text["The courier lost my parcel"]["labels"] == "shipping"
    assert all(row["label_source"] == "machine" for row in rows)

    out_jsonl = tmp_path / "out.jsonl"
    sift("export", "demo", "--format", "jsonl", "--out", str(out_jsonl), db=db)
    records = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["labels"][0] for r in records) == ["billing", "billing", "shipping"]


def test_unknown_technique_lists_known_ones(inbox, tmp_path):
    folder, taxonomy = inbox
    db = tmp_path / "cli.db"
    sift("create", "demo", "--taxonomy", str(taxonomy), db=db)
    result = sift("classify", "demo", "-t", "telepathy", db=db, check=False)
    assert result.returncode == 2
    assert "unknown technique 'telepathy'" in result.stderr
    assert "lexicon" in result.stderr and "rules" in result.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("lexicon.scael=2", "lexicon: unknown option 'scael'; its options are: scale, max_spans"),
        ("lexicon.scale=abc", "lexicon.scale: Input should be a valid number"),
        ("lexicon.scale=-1", "lexicon.scale: Input should be greater than 0"),
        ("rules.timeout=1", "options given for rules, which is not among the techniques run"),
        ("lexicon", "write it as TECHNIQUE.NAME=VALUE"),
    ],
)
def test_a_bad_option_is_a_usage_error_naming_it(inbox, tmp_path, option, message):
    _, taxonomy = inbox
    db = tmp_path / "cli.db"
    sift("create", "demo", "--taxonomy", str(taxonomy), db=db)
    result = sift("classify", "demo", "-t", "lexicon", "-o", option, db=db, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_classify_help_lists_every_technique_and_its_options():
    from core.techniques import BUILTIN_MODULES, get_technique

    result = subprocess.run(
        [sys.executable, "-m", "core", "classify", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for name in BUILTIN_MODULES:  # not known_techniques(): other tests register plug-ins here
        assert f"  {name}: " in result.stdout
        for info in get_technique(name).Options.describe():
            assert f"{info.name}=" in result.stdout
    assert "temperature=float (default 0.05)" in result.stdout


def test_building_the_parser_loads_no_technique_or_torch():
    code = (
        "import sys; from core.cli import build_parser; build_parser(); "
        "from core.techniques import BUILTIN_MODULES; "
        "print(sorted(m for m in sys.modules if m == 'torch' "
        "or m.removeprefix('core.techniques.') in BUILTIN_MODULES))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_classify_says_when_no_document_got_a_suggestion(inbox, tmp_path):
    folder, _ = inbox
    names_only = tmp_path / "names.yaml"
    names_only.write_text("labels:\n  - name: billing\n  - name: shipping\n", encoding="utf-8")
    db = tmp_path / "cli.db"
    sift("create", "demo", "--taxonomy", str(names_only), db=db)
    sift("ingest", "demo", str(folder / "tickets.csv"), "--text-column", "body", db=db)
    result = sift("classify", "demo", "-t", "rules", "-t", "lexicon", db=db)
    assert "warning: no suggestion for any document" in result.stderr
    result = sift("classify", "demo", db=db)  # the defaults include embeddings
    assert "3 of 3 documents have a suggestion" in result.stdout
    assert "warning" not in result.stderr


def test_file_names_cannot_forge_output_lines_or_recolour_the_terminal(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    name = "a\x1b[31mred\nimported fake.txt: 999 new\u202e.txt"
    (folder / name).write_text("Please refund invoice 12.", encoding="utf-8")
    db = tmp_path / "cli.db"
    result = sift("ingest", "demo", "--create", str(folder), db=db)
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    [line] = [line for line in result.stdout.splitlines() if line.startswith("imported")]
    assert "\\x1b[31mred\\nimported fake.txt" in line  # shown escaped, on one line
    assert line.endswith(": 1 new, 0 duplicate (utf-8)")


def test_missing_project_is_a_clear_error(tmp_path):
    result = sift("stats", "nope", db=tmp_path / "cli.db", check=False)
    assert result.returncode == 2
    assert "nope" in result.stderr


def test_readme_documents_every_subcommand():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    subcommands = build_parser()._subparsers._group_actions[0].choices
    missing = [name for name in subcommands if f"python -m core {name}" not in readme]
    assert not missing, f"README's command-line section does not show: {missing}"


def test_train_is_the_learning_path_and_versions_lists_pins_and_rolls_back(inbox, tmp_path):
    from core.store import Store

    folder, taxonomy = inbox
    db = tmp_path / "cli.db"
    sift("create", "demo", "--taxonomy", str(taxonomy), db=db)
    sift("ingest", "demo", str(folder / "tickets.csv"), "--text-column", "body", db=db)
    sift("classify", "demo", "-q", db=db)
    too_few = sift("train", "demo", db=db, check=False)
    assert too_few.returncode == 2 and "at least" in too_few.stderr
    store = Store(db)
    project = store.get_project("demo")
    extra = [("Refund my invoice", "billing"), ("Courier delivered the wrong parcel", "shipping")]
    from core.documents import Document

    docs = [Document.from_text(text) for text, _ in extra]
    store.add_documents(project.id, docs, filename="x", format="txt", encoding="utf-8", sha256="x")
    for doc in store.get_documents(project.id):
        label = "shipping" if ("parcel" in doc.text or "courier" in doc.text) else "billing"
        store.add_review(project.id, doc.id, reviewer="ana", decision="correct", labels=[label])
    result = sift("train", "demo", db=db)
    assert "learned from 5 reviewed documents (out of fold)" in result.stdout
    for name in ("candidate: accuracy", "zero-review baseline: accuracy"):
        assert f"  {name}" in result.stdout
    version = store.latest_model_version(project.id)
    assert f"v{version.id} {version.reason}" in result.stdout and version.by == "cli"
    listed = json.loads(sift("versions", "demo", "--json", db=db).stdout)
    assert [row["id"] for row in listed] == [version.id]
    assert version.adopted, version.reason
    # train scored every document: classify finds them cached
    classify = sift("classify", "demo", "-t", "supervised", "-q", db=db)
    assert "supervised: finished, 0 computed, 5 from cache" in classify.stdout
    assert "pinned" in sift("versions", "demo", "--pin", str(version.id), db=db).stdout
    assert store.pinned_model_version(project.id) == version.id
    rolled = sift("versions", "demo", "--rollback", str(version.id), db=db).stdout
    assert f"rolled back to v{version.id}" in rolled
    missing = sift("versions", "demo", "--pin", "999", db=db, check=False)
    assert missing.returncode == 2 and "No model version 999" in missing.stderr
