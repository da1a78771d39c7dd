"""The Taxonomy page's blocks: the label grid, save with validation, YAML/JSON import and export.

The grid's cell conventions live in core.taxonomy_table; checking lives in
core.taxonomy.validate. Nothing is saved unless the whole taxonomy is valid.
The grid's widget key carries a version that is bumped after every save or
import, so the editor starts again from what is stored (edits are kept on error).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.taxonomy import (
    MAX_NAME_LENGTH,
    Taxonomy,
    TaxonomyError,
    dump_taxonomy,
    load_taxonomy,
    validate,
    with_default_colours,
)
from core.taxonomy_table import COLUMNS, rows_to_taxonomy, taxonomy_to_rows
from ui.markdown import md
from ui.review_format import plural

ROW_HEIGHT, HEADER_HEIGHT, MAX_HEIGHT = 60, 38, 760  # pixels
FLASH = "_taxonomy_flash"
VERSION = "_taxonomy_editor_version"
IMPORT_FILE = "taxonomy_import_file"
IMPORT_EXTENSIONS = {"yaml": "yaml", "yml": "yaml", "json": "json"}

HELP = """\
- **Label**: a short name, unique ignoring case.
- **Description**: what the label means in plain words; zero-shot and embeddings compare
  texts with it (the name is used when it is empty).
- **Keywords**: comma-separated words or phrases, `term` or `term:weight` (weight > 0,
  default 1), e.g. `refund, chargeback:2, money back:1.5`. Put a term that contains a
  comma in double quotes: `"terms, conditions":2`.
- **Patterns**: regular expressions, **one per line** (Shift+Enter starts a new line in a
  cell); matched case-insensitively, e.g. `\\bINV-\\d{4,6}\\b`.
- **Entity types**: comma-separated entity types that hint at the label, e.g.
  `MONEY, DATE, ORG, EMAIL, ORDER_ID`.
- **Colour**: `#rrggbb`, or leave it empty and a palette colour is picked on save.

Add a row with the **+** at the bottom of the table; select rows and press Delete to
remove them. Nothing is saved until you press **Save**, and nothing at all is saved
while any row has a problem.
"""


def editor_key(project_id: int) -> str:
    """The data editor's current widget key for this project (changes after save/import)."""
    return f"taxonomy_editor_{project_id}_{st.session_state.get(VERSION, 0)}"


def _reset_editor() -> None:
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1


def show_flash() -> None:
    message = st.session_state.pop(FLASH, None)
    if message:
        st.success(md(message), icon=":material/check_circle:")


def show_problems(problems: list[str]) -> None:
    """One error box: nothing saved, then each problem (they name the label and pattern)."""
    count = plural(len(problems), "problem")
    lines = "\n".join(f"- {md(problem)}" for problem in problems)
    st.error(f"Nothing was saved: fix {count} and save again.\n\n{lines}", icon=":material/error:")


def render_editor(project_id: int, taxonomy: Taxonomy, *, editable: bool) -> list[dict]:
    """The label grid; returns its rows as edited (every cell a string or None)."""
    table = pd.DataFrame(taxonomy_to_rows(taxonomy), columns=list(COLUMNS), dtype=object)
    edited = st.data_editor(
        table,
        key=editor_key(project_id),
        num_rows="dynamic" if editable else "fixed",
        disabled=not editable,
        hide_index=True,
        row_height=ROW_HEIGHT,  # room for two lines: patterns are one per line
        height=min(HEADER_HEIGHT + ROW_HEIGHT * (len(table) + 1), MAX_HEIGHT),  # rows + the add row
        column_config={
            "name": st.column_config.TextColumn(
                "Label",
                required=True,
                max_chars=MAX_NAME_LENGTH,
                help="Unique label name",
                width="small",
                pinned=True,
            ),
            "description": st.column_config.TextColumn(
                "Description",
                help="What the label means; zero-shot and embeddings use it",
                width="medium",
            ),
            "keywords": st.column_config.TextColumn(
                "Keywords",
                help="Comma-separated: term or term:weight, e.g. refund, chargeback:2",
                width="large",
            ),
            "patterns": st.column_config.TextColumn(
                "Patterns",
                help="Regular expressions, one per line (Shift+Enter: new line)",
                width="medium",
            ),
            "entity_types": st.column_config.TextColumn(
                "Entity types", help="Comma-separated, e.g. MONEY, DATE, ORG", width="small"
            ),
            "colour": st.column_config.TextColumn(
                "Colour",
                help="#rrggbb, or empty for a palette colour",
                max_chars=7,
                width="small",
                validate=r"^(#[0-9a-fA-F]{6})?$",
            ),
        },
    )
    return edited.to_dict("records")


def save_rows(store, project_id: int, rows: list[dict]) -> bool:
    """Parse, validate and save the grid; show the problems and save nothing when invalid."""
    taxonomy = rows_to_taxonomy(rows)
    try:
        validate(taxonomy)
    except TaxonomyError as error:
        show_problems(error.problems)
        return False
    store.save_taxonomy(project_id, with_default_colours(taxonomy))
    st.session_state[FLASH] = f"Saved {plural(len(taxonomy), 'label')}."
    _reset_editor()
    return True


def import_file(store, project_id: int, name: str, data: bytes) -> bool:
    """Replace the labels with a YAML/JSON taxonomy file; on a problem show it, save nothing."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    fmt = IMPORT_EXTENSIONS.get(extension)
    if fmt is None:
        show_problems([f"{name}: use a .yaml, .yml or .json taxonomy file"])
        return False
    try:
        taxonomy = load_taxonomy(data, fmt)
    except TaxonomyError as error:
        show_problems([f"{name}: {problem}" for problem in error.problems])
        return False
    store.save_taxonomy(project_id, with_default_colours(taxonomy))
    st.session_state[FLASH] = f"Imported {len(taxonomy)} labels from {name}."
    _reset_editor()
    return True


def render_downloads(project_name: str, taxonomy: Taxonomy) -> None:
    """Download the saved taxonomy as YAML or JSON."""
    if not taxonomy.labels:
        st.caption("Nothing to export yet: save some labels first.")
        return
    stem = "".join(char if char.isalnum() or char in "-_" else "_" for char in project_name)
    cols = st.columns([1, 1, 3])
    for col, fmt, mime in (
        (cols[0], "yaml", "application/yaml"),
        (cols[1], "json", "application/json"),
    ):
        col.download_button(
            f"Download {fmt.upper()}",
            data=dump_taxonomy(taxonomy, fmt),
            file_name=f"{stem or 'taxonomy'}-taxonomy.{fmt}",
            mime=mime,
            key=f"taxonomy_download_{fmt}",
            on_click="ignore",
            icon=":material/download:",
        )
