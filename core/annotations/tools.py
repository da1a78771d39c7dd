"""The two annotation tools' own export formats -> AnnotationRows.

Label Studio (its JSON export: Export > JSON; docs "Label Studio JSON format of annotated
tasks"): a list of tasks,

    [{"id": 1, "data": {"text": "...", "id": "T1"?},
      "annotations": [{"completed_by": 10 | {"email": ...}, "was_cancelled": false,
                       "result": [{"type": "choices", "from_name": "topic",
                                   "value": {"choices": ["Sport"]}},
                                  {"type": "textarea", "value": {"text": ["a note"]}}]}]}]

One row per annotation that is not cancelled: the labels are every `choices` result's
choices; `textarea` results become the note; other result types (spans, boxes) are not
labels of the document and are left out (a note says how many). The text is data["text"],
else data's only text field; data's id/document_id/external_id name the document too (the
task's own `id` is Label Studio's and is not used). The reviewer is completed_by: its email
(or username, or "label-studio user N" for a bare number, as the default export writes it).
An annotation submitted with no choice is recorded as a review with no labels. Older
exports' "completions" are read like "annotations".

Prodigy (`prodigy db-out DATASET` JSONL): one line per answer,

    {"text": "...", "answer": "accept"|"reject"|"ignore", "_annotator_id": "news-alice",
     "_session_id": ..., "accept": ["SPORT"], "options": [{"id": "SPORT", "text": ...}]}  # choice
    {"text": "...", "label": "SPORT", "answer": "accept"|"reject", ...}                     # binary

- choice tasks (options/accept): answer accept -> the labels are the `accept` ids (an id
  that is a number is replaced by its option's text); reject -> skipped (it says the options
  shown were wrong, not which labels apply); ignore -> skipped.
- binary tasks (label): one annotator's lines for one text are combined: the labels are
  those accepted, without those rejected later; a text whose labels were all rejected is
  skipped (a reject says one label is absent; a Sift review states the whole label set).
  ignore -> skipped.
The reviewer is _annotator_id, else _session_id. Every skip is listed in the report.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.annotations.rows import (
    AnnotationRow,
    Skipped,
    reviewer_name,
    scalar_text,
)
from core.documents import document_id
from core.ingest.errors import IngestError
from core.ingest.jsonish import _json_items, _jsonl_items  # bounded: line count + jsonscan
from core.ingest.limits import IngestLimits, check_field_size, too_many_documents

DATA_ID_FIELDS = ("id", "document_id", "external_id")


# --- Label Studio ---------------------------------------------------------------------------


def read_label_studio(data: bytes, source: str, limits: IngestLimits):
    items, _ = _json_items(data, source, limits)
    rows: list[AnnotationRow] = []
    skipped: list[Skipped] = []
    other_results = 0
    n_annotations = 0
    for number, (_, task) in enumerate(items, 1):
        where = f"task {number}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise IngestError(
                source,
                'is not a Label Studio task (an object with "data" and "annotations"); '
                "export the project as JSON from Label Studio",
                where,
            )
        text, keys = _task_document(task["data"], source, where, limits)
        annotations = task.get("annotations", task.get("completions", []))
        if not isinstance(annotations, list):
            raise IngestError(source, '"annotations" must be a list', where)
        for index, annotation in enumerate(annotations, 1):
            location = f"{where}, annotation {index}"
            n_annotations += 1
            if n_annotations > limits.max_documents:
                raise too_many_documents(source, limits, location, unit="annotations")
            if not isinstance(annotation, dict):
                raise IngestError(source, "an annotation must be an object", location)
            if annotation.get("was_cancelled"):
                skipped.append(Skipped(location, "cancelled (skipped) in Label Studio"))
                continue
            labels, notes, others = _ls_results(annotation.get("result"), source, location, limits)
            other_results += others
            created = annotation.get("created_at")
            rows.append(
                AnnotationRow(
                    location=location,
                    text=text,
                    keys=keys,
                    labels=labels,
                    reviewer=_ls_reviewer(annotation.get("completed_by"), source, location),
                    note="\n".join(notes),
                    created_at=created if isinstance(created, str) else "",
                )
            )
    notes = []
    if other_results:
        notes.append(
            f"{other_results:,} result(s) that are not choices (spans, boxes, ratings, ...) "
            "were left out: Sift labels whole documents"
        )
    return rows, skipped, notes


def _task_document(data: Mapping, source: str, where: str, limits: IngestLimits):
    text_value = data.get("text")
    if text_value is None:
        texts = [key for key, value in data.items() if isinstance(value, str) and len(value) > 0]
        candidates = [key for key in texts if key not in DATA_ID_FIELDS]
        if len(candidates) == 1:
            text_value = data[candidates[0]]
    text = scalar_text(text_value, "data.text", source, where, limits)
    keys = tuple(
        key
        for name in DATA_ID_FIELDS
        if (key := scalar_text(data.get(name), f"data.{name}", source, where, limits))
    )
    if text is None and not keys:
        fields = ", ".join(map(repr, data)) or "none"
        raise IngestError(
            source,
            f'has no text in "data" (fields: {fields}); name the text field "text" or add an '
            '"id" field naming the document',
            where,
        )
    return text, keys


def _ls_results(results: object, source: str, location: str, limits: IngestLimits):
    """-> (choices in order, textarea notes, how many other results)."""
    if results is None:
        return (), [], 0
    if not isinstance(results, list):
        raise IngestError(source, '"result" must be a list', location)
    labels: dict[str, None] = {}
    notes: list[str] = []
    others = 0
    for result in results:
        if not isinstance(result, dict):
            raise IngestError(source, "each result must be an object", location)
        value = result.get("value")
        kind = result.get("type")
        if kind == "choices" and isinstance(value, dict):
            choices = value.get("choices")
            if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                raise IngestError(source, "value.choices must be a list of strings", location)
            for choice in choices:
                check_field_size(choice, source, limits, location, field="a choice")
                if choice.strip():
                    labels[choice.strip()] = None
        elif kind == "textarea" and isinstance(value, dict):
            texts = value.get("text")
            for text in texts if isinstance(texts, list) else [texts]:
                if isinstance(text, str) and text.strip():
                    check_field_size(text, source, limits, location, field="a textarea")
                    notes.append(text.strip())
        else:
            others += 1
    return tuple(labels), notes, others


def _ls_reviewer(completed_by: object, source: str, location: str) -> str | None:
    if isinstance(completed_by, dict):
        for key in ("email", "username", "first_name"):
            name = reviewer_name(completed_by.get(key), source, location)
            if name:
                return name
        completed_by = completed_by.get("id")
    if isinstance(completed_by, int) and not isinstance(completed_by, bool):
        return f"label-studio user {completed_by}"
    return reviewer_name(completed_by, source, location)


# --- Prodigy --------------------------------------------------------------------------------

ANSWERS = ("accept", "reject", "ignore")


def read_prodigy(data: bytes, source: str, limits: IngestLimits):
    items, _ = _jsonl_items(data, source, limits)
    choice_rows: list[AnnotationRow] = []
    skipped: list[Skipped] = []
    # binary answers, combined per (annotator, document): key -> (first text, keys, reviewer,
    # {label: accepted?} in answer order, locations)
    binary: dict[tuple, tuple[str | None, tuple[str, ...], str | None, dict[str, bool], list[str]]]
    binary = {}
    for location, item in items:
        if not isinstance(item, dict):
            raise IngestError(source, "each line must be a JSON object (a Prodigy task)", location)
        answer = item.get("answer")
        if answer not in ANSWERS:
            raise IngestError(
                source,
                f'"answer" is {answer!r}; a Prodigy answer is one of {", ".join(ANSWERS)} '
                "(export the dataset with `prodigy db-out`)",
                location,
            )
        text = scalar_text(item.get("text"), "text", source, location, limits)
        meta = item.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        keys = tuple(
            key
            for value, name in ((item.get("id"), "id"), (meta.get("id"), "meta.id"))
            if (key := scalar_text(value, name, source, location, limits))
        )
        if text is None and not keys:
            raise IngestError(
                source, 'has no "text" (nor an "id"); fill it or drop the line', location
            )
        reviewer = reviewer_name(
            item.get("_annotator_id") or item.get("_session_id"), source, location
        )
        if answer == "ignore":
            skipped.append(Skipped(location, "Prodigy answer 'ignore'"))
            continue
        if "options" in item or "accept" in item:
            if answer == "reject":
                skipped.append(
                    Skipped(location, "Prodigy 'reject' of a choice task (no labels said to apply)")
                )
                continue
            labels = _accepted_choices(item, source, location, limits)
            choice_rows.append(
                AnnotationRow(
                    location=location, text=text, keys=keys, labels=labels, reviewer=reviewer
                )
            )
            continue
        label = scalar_text(item.get("label"), "label", source, location, limits)
        if label is None:
            raise IngestError(
                source,
                'has neither "accept"/"options" (a choice task) nor "label" (a binary task)',
                location,
            )
        document_key = document_id(text) if text is not None else keys
        group = binary.setdefault((reviewer, document_key), (text, keys, reviewer, {}, []))
        group[3].pop(label.strip(), None)  # a later answer on the same label wins
        group[3][label.strip()] = answer == "accept"
        group[4].append(location)
    rows = list(choice_rows)
    for text, keys, reviewer, answers, locations in binary.values():
        where = ", ".join(locations) if len(locations) > 1 else locations[0]
        where = ("lines " + where.replace("line ", "")) if len(locations) > 1 else where
        accepted = tuple(label for label, yes in answers.items() if yes)
        if not accepted:
            skipped.append(
                Skipped(where, "Prodigy binary answers that only reject labels (none accepted)")
            )
            continue
        rows.append(
            AnnotationRow(location=where, text=text, keys=keys, labels=accepted, reviewer=reviewer)
        )
    return rows, skipped, []


def _accepted_choices(item: dict, source: str, location: str, limits: IngestLimits):
    accepted = item.get("accept") or []
    if not isinstance(accepted, list):
        raise IngestError(source, '"accept" must be a list of option ids', location)
    options = item.get("options")
    options = options if isinstance(options, list) else []
    text_of = {
        option.get("id"): option.get("text") for option in options if isinstance(option, dict)
    }
    labels: dict[str, None] = {}
    for choice in accepted:
        if isinstance(choice, bool) or not isinstance(choice, str | int):
            raise IngestError(source, f'"accept" holds {choice!r}; option ids are text', location)
        name = text_of.get(choice) if isinstance(choice, int) else choice
        name = str(choice if name is None else name).strip()
        check_field_size(name, source, limits, location, field="an accepted option")
        if name:
            labels[name] = None
    return tuple(labels)
