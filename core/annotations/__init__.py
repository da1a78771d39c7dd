"""Annotations in: reviews made elsewhere (Label Studio, Prodigy, a spreadsheet) into a project.

    read = read_annotations(data, "export.json")                  # rows.py, tools.py
    plan = plan_import(store, project_id, read, reviewer="carol")  # plan.py: checked, reported
    apply_import(store, project_id, plan, by="carol")              # one transaction

rows.py   AnnotationRow/AnnotationFile; csv and jsonl readers; the format guess; limits
tools.py  Label Studio's JSON export and Prodigy's JSONL, in their documented shapes
plan.py   documents by id or text hash (created when missing), labels to the taxonomy
          (case-insensitive, reported; unknown ones refuse the file), reviewers, write
The CLI (`python -m core import-reviews`) and the Upload page call these same functions.
"""

from __future__ import annotations

from core.annotations.plan import (
    ImportOutcome,
    ImportPlan,
    ImportRefused,
    apply_import,
    plan_import,
)
from core.annotations.rows import FORMATS, AnnotationFile, AnnotationRow, read_annotations

__all__ = [
    "FORMATS",
    "AnnotationFile",
    "AnnotationRow",
    "ImportOutcome",
    "ImportPlan",
    "ImportRefused",
    "apply_import",
    "plan_import",
    "read_annotations",
]
