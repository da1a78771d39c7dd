"""The Taxonomy page (AppTest): edit and save, refusal of invalid labels, YAML/JSON import.

AppTest does not type into grid cells; a keyed data editor is driven by setting its
edit state (edited_rows / added_rows / deleted_rows) before the run, as the browser would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.store import Store
from core.taxonomy import Keyword, Label, Taxonomy, dump_taxonomy
from tests.rendered import as_shown
from tests.signed_in import signed_in_app

APP = str(Path(__file__).parent.parent / "app.py")
TAXONOMY = Taxonomy(
    labels=(
        Label(
            name="Billing",
            description="Invoices and refunds",
            keywords=(Keyword("refund"), Keyword("invoice", 2.0)),
            patterns=(r"\bINV-\d+\b",),
            colour="#4e79a7",
        ),
        Label(name="Shipping", keywords=(Keyword("parcel"),), colour="#f28e2b"),
    )
)


@pytest.fixture
def store(db_path):
    return Store(db_path)


@pytest.fixture
def project(store):
    project = store.create_project("labels")
    store.save_taxonomy(project.id, TAXONOMY)
    return project


def open_taxonomy(project) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["sift_project_id"] = project.id
    at.switch_page("pages/taxonomy.py").run()
    assert not at.exception, at.exception
    return at


def edit_and_save(at: AppTest, *, edited=None, added=(), deleted=()) -> AppTest:
    key = at.data_editor[0].key
    at.session_state[key] = {
        "edited_rows": edited or {},
        "added_rows": list(added),
        "deleted_rows": list(deleted),
    }
    at.button(key="taxonomy_save").click().run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> str:
    return "\n".join(as_shown(element.value) for element in at.error)


def test_the_grid_shows_the_stored_labels_in_table_form(store, project):
    at = open_taxonomy(project)
    table = at.data_editor[0].value
    assert table["name"].tolist() == ["Billing", "Shipping"]
    assert table["keywords"].tolist()[0] == "refund, invoice:2"
    assert at.download_button(key="taxonomy_download_yaml")
    assert at.download_button(key="taxonomy_download_json")


def test_an_empty_project_shows_an_empty_editable_grid(store):
    empty = store.create_project("empty")
    at = open_taxonomy(empty)
    assert at.data_editor[0].value.empty
    assert at.data_editor[0].editing_mode == "dynamic"


def test_valid_edits_are_saved(store, project):
    at = open_taxonomy(project)
    edit_and_save(
        at,
        edited={1: {"keywords": "parcel, courier:1.5", "patterns": "ORD-\\d+\ntracking"}},
        added=[{"name": "Account", "entity_types": "EMAIL, PERSON"}],
    )
    saved = store.load_taxonomy(project.id)
    assert saved.names == ["Billing", "Shipping", "Account"]
    assert saved["Shipping"].keywords == (Keyword("parcel"), Keyword("courier", 1.5))
    assert saved["Shipping"].patterns == (r"ORD-\d+", "tracking")
    assert saved["Account"].entity_types == ("EMAIL", "PERSON")
    assert saved["Account"].colour  # a palette colour was picked
    assert "Saved 3 labels" in at.success[0].value


def test_deleted_rows_are_removed(store, project):
    edit_and_save(open_taxonomy(project), deleted=[0])
    assert store.load_taxonomy(project.id).names == ["Shipping"]


def test_after_saving_the_grid_starts_from_the_store(store, project):
    at = edit_and_save(open_taxonomy(project), edited={0: {"description": "Money matters"}})
    assert at.data_editor[0].value["description"].tolist()[0] == "Money matters"
    at.run()  # the old edits must not be applied a second time
    assert store.load_taxonomy(project.id)["Billing"].description == "Money matters"


def test_an_invalid_pattern_is_named_and_nothing_is_saved(store, project):
    at = edit_and_save(
        open_taxonomy(project),
        edited={0: {"patterns": "(unclosed"}, 1: {"description": "changed too"}},
    )
    assert "Nothing was saved" in errors(at)
    assert "label 'Billing': pattern '(unclosed' is not a valid regular expression" in errors(at)
    assert store.load_taxonomy(project.id) == TAXONOMY


def test_a_duplicate_label_is_refused(store, project):
    at = edit_and_save(open_taxonomy(project), added=[{"name": "billing"}])
    assert "label 'billing' duplicates label 'Billing'" in errors(at)
    assert store.load_taxonomy(project.id) == TAXONOMY


def test_a_bad_colour_is_refused(store, project):
    at = edit_and_save(open_taxonomy(project), edited={1: {"colour": "orange"}})
    assert "label 'Shipping': colour 'orange'" in errors(at)
    assert store.load_taxonomy(project.id) == TAXONOMY


def test_edits_are_kept_in_the_grid_after_a_refused_save(store, project):
    at = open_taxonomy(project)
    key = at.data_editor[0].key
    edit_and_save(at, edited={0: {"patterns": "(unclosed"}})
    assert at.data_editor[0].key == key
    at.button(key="taxonomy_save").click().run()  # the same edits, still in the grid
    assert "label 'Billing': pattern" in errors(at)
    assert store.load_taxonomy(project.id) == TAXONOMY


def upload(at: AppTest, name: str, data: str) -> AppTest:
    at.file_uploader(key="taxonomy_import_file").set_value((name, data.encode(), "text/plain"))
    at.run()
    at.button(key="taxonomy_import").click().run()
    assert not at.exception, at.exception
    return at


def test_importing_a_yaml_file_replaces_the_labels(store, project):
    new = Taxonomy(
        labels=(Label(name="Legal", keywords=(Keyword("GDPR", 3.0),), colour="#9c755f"),)
    )
    at = upload(open_taxonomy(project), "legal.yaml", dump_taxonomy(new, "yaml"))
    assert store.load_taxonomy(project.id) == new
    assert at.data_editor[0].value["name"].tolist() == ["Legal"]


def test_importing_an_invalid_json_file_names_the_problem_and_keeps_the_labels(store, project):
    at = upload(open_taxonomy(project), "bad.json", '{"labels": [{"name": "A"}, {"name": "a"}]}')
    assert "bad.json" in errors(at) and "duplicates label 'A'" in errors(at)
    assert store.load_taxonomy(project.id) == TAXONOMY


def test_a_reviewer_reads_the_labels_but_cannot_change_them(store, project):
    at = signed_in_app("bob", "reviewer", project_id=project.id)
    at.switch_page("pages/taxonomy.py").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["name"].tolist() == ["Billing", "Shipping"]
    assert not at.data_editor or at.data_editor[0].proto.disabled
    keys = {button.key for button in at.button}
    assert not keys & {"taxonomy_save", "taxonomy_import"}
    assert not any(uploader.key == "taxonomy_import_file" for uploader in at.file_uploader)
