""".jsonl (one JSON value per line) and .json (a list, or {"documents": [...]}).

Each item is an object (text taken from the chosen field) or a string (the text
itself). Guards: jsonscan checks the item count, value count and depth while streaming,
before json.loads builds anything; integers over Python's digit limit, NaN/Infinity and
nesting deeper than max_json_depth become IngestErrors instead of ValueError /
RecursionError; the objects' distinct fields are capped at max_columns.
"""

from __future__ import annotations

import json
import re
import sys

from core.ingest.columns import choose_columns, external_id, label_tuple
from core.ingest.decode import decode_text
from core.ingest.errors import IngestError
from core.ingest.jsonscan import needs_scan, scan_json, too_deep
from core.ingest.limits import (
    IngestLimits,
    check_field_size,
    too_many_columns,
    too_many_documents,
)
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted, Record, context_columns

_JSON_TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true/false",
    type(None): "null",
}


class _HugeInteger(Exception):
    def __init__(self, digits: int):
        self.digits = digits


def _parse_int(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # over sys.get_int_max_str_digits()
        raise _HugeInteger(len(digits.lstrip("-"))) from None


class _NotANumber(Exception):
    def __init__(self, name: str):
        self.name = name


def _parse_constant(name: str):
    raise _NotANumber(name)


def parse_json_text(text: str, source: str, limits: IngestLimits, line: int | None = None):
    """json.loads with clear errors; `line` is the file line a JSONL value came from."""
    try:
        value = json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant)
    except json.JSONDecodeError as e:
        where = f"line {line if line else e.lineno}, column {e.colno}"
        reason = f"is not valid JSON ({e.msg}); fix the syntax there"
        raise IngestError(source, reason, where) from None
    except _HugeInteger as e:
        location = f"line {line}" if line else _huge_integer_line(text)
        raise IngestError(
            source,
            f"has an integer with {e.digits:,} digits, more than the "
            f"{sys.get_int_max_str_digits():,} allowed; write it as a string (in quotes)",
            location,
        ) from None
    except _NotANumber as e:
        raise IngestError(
            source,
            f"holds {e.name}, which is not a JSON number; write null or a string instead",
            f"line {line}" if line else None,
        ) from None
    except RecursionError:
        raise too_deep(source, limits, line) from None
    if _depth_exceeds(value, limits.max_json_depth):
        raise too_deep(source, limits, line)
    return value


def parse_jsonl(data: bytes, source: str, options: IngestOptions) -> Extracted:
    items, encoding = _jsonl_items(data, source, options.limits)
    return _records_from_items(items, source, options, encoding)


def parse_json(data: bytes, source: str, options: IngestOptions) -> Extracted:
    items, encoding = _json_items(data, source, options.limits)
    return _records_from_items(items, source, options, encoding)


def preview_json(
    data: bytes, source: str, options: IngestOptions, *, rows: int, lines: bool
) -> tuple[list[str], list[dict]]:
    items, _ = (
        _jsonl_items(data, source, options.limits, max_items=rows)
        if lines
        else _json_items(data, source, options.limits)
    )
    objects = [_as_object(value, location, source) for location, value in items[:rows]]
    return _columns_of(objects, source, options.limits), objects


def _jsonl_items(
    data: bytes, source: str, limits: IngestLimits, max_items: int | None = None
) -> tuple[list[tuple[str, object]], str]:
    """-> ([(location, value)], encoding); blank lines are skipped. Lines are counted, and
    the whole file scanned (jsonscan), before any is parsed."""
    text, encoding = decode_text(data, source)
    # Only \n ends a line: JSON strings may hold raw U+2028 etc., which splitlines() splits on.
    lines = text.split("\n")
    if max_items is None:
        _check_line_count(lines, source, limits)
        if needs_scan(text, limits):
            scan_json(text, source, limits, lines=True)
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if max_items is not None and needs_scan(line, limits):  # a preview: just its lines
            scan_json(line, source, limits, lines=True)
        items.append((f"line {number}", parse_json_text(line, source, limits, line=number)))
        if max_items is not None and len(items) >= max_items:
            break
    return items, encoding


def _check_line_count(lines: list[str], source: str, limits: IngestLimits) -> None:
    if len(lines) <= limits.max_documents:
        return
    count = 0
    for number, line in enumerate(lines, 1):
        if line.strip():
            count += 1
            if count > limits.max_documents:
                raise too_many_documents(source, limits, f"line {number}", unit="lines")


def _json_items(
    data: bytes, source: str, limits: IngestLimits
) -> tuple[list[tuple[str, object]], str]:
    text, encoding = decode_text(data, source)
    if needs_scan(text, limits):
        scan_json(text, source, limits)
    value = parse_json_text(text, source, limits)
    if isinstance(value, dict) and isinstance(value.get("documents"), list):
        value = value["documents"]
    if not isinstance(value, list):
        raise IngestError(
            source,
            f"holds {_JSON_TYPE_NAMES[type(value)]} at the top level; expected a list of objects, "
            'a list of strings, or {"documents": [...]}',
        )
    return [(f"item {n}", item) for n, item in enumerate(value, 1)], encoding


def _records_from_items(
    items: list[tuple[str, object]], source: str, options: IngestOptions, encoding: str
) -> Extracted:
    limits = options.limits
    if len(items) > limits.max_documents:  # the scan counted them already; kept as the rule
        raise too_many_documents(source, limits, items[limits.max_documents][0])
    for location, value in items:
        if not isinstance(value, dict | str):
            raise IngestError(
                source,
                f"is {_JSON_TYPE_NAMES[type(value)]}; each item must be an object or a string",
                location,
            )
    objects = [value for _, value in items if isinstance(value, dict)]
    columns = _columns_of(objects, source, limits)
    notes: list[str] = []
    text_col = id_col = label_col = None
    if objects:
        text_col, id_col, label_col, notes = choose_columns(
            columns, objects, options, source, is_text=lambda v: isinstance(v, str)
        )
    used = {text_col, id_col, label_col}
    records = []
    for location, value in items:
        if isinstance(value, str):
            records.append(Record(value, location=location))
            continue
        # checked above: every item is an object or a string, so `objects` is not empty and
        # the columns were chosen
        assert isinstance(value, dict) and text_col is not None
        records.append(
            Record(
                _text_field(value, text_col, source, location),
                location=location,
                external_id=_id_field(value, id_col, source, location, limits),
                gold_labels=_label_field(value, label_col, source, location, options),
                meta=context_columns(
                    (key, field) for key, field in value.items() if key not in used
                ),
            )
        )
    return Extracted(records, encoding, columns, notes, text_column=text_col)


def _text_field(item: dict, column: str, source: str, location: str) -> str:
    value = item.get(column)
    if value is None or value == "":
        raise IngestError(
            source, f"field {column!r} is missing or empty; remove or fill {location}", location
        )
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise IngestError(
            source,
            f"field {column!r} is {_JSON_TYPE_NAMES[type(value)]}; it must be text",
            location,
        )
    return str(value)


def _id_field(item: dict, column, source: str, location: str, limits: IngestLimits):
    if column is None:
        return None
    value = item.get(column)
    if isinstance(value, dict | list):
        kind = _JSON_TYPE_NAMES[type(value)]
        raise IngestError(source, f"id field {column!r} is {kind}; use a string", location)
    ident = external_id(value)
    if ident is not None:
        check_field_size(ident, source, limits, location, field=f"field {column!r}")
    return ident


def _label_field(item: dict, column, source: str, location: str, options: IngestOptions):
    if column is None:
        return ()
    value = item.get(column)
    if isinstance(value, dict) or (
        isinstance(value, list) and not all(isinstance(v, str | int) for v in value)
    ):
        raise IngestError(
            source,
            f"label field {column!r} must be a string or a list of strings",
            location,
        )
    labels = label_tuple(value, options.label_delimiter)
    for label in labels:
        check_field_size(label, source, options.limits, location, field=f"field {column!r}")
    return labels


def _as_object(value: object, location: str, source: str) -> dict:
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, dict):
        return value
    raise IngestError(
        source,
        f"is {_JSON_TYPE_NAMES[type(value)]}; each item must be an object or a string",
        location,
    )


def _columns_of(objects: list[dict], source: str, limits: IngestLimits) -> list[str]:
    """Union of keys in order of first appearance; at most max_columns of them."""
    columns: dict[str, None] = {}
    for number, obj in enumerate(objects, 1):
        columns.update(dict.fromkeys(obj))
        if len(columns) > limits.max_columns:
            raise too_many_columns(
                source,
                limits,
                f"objects with more than {limits.max_columns:,} different fields "
                f"(counted up to object {number:,})",
                None,
            )
    return list(columns)


def _depth_exceeds(value: object, limit: int) -> bool:
    """Nesting depth ([[1]] is 2) over limit, walked with an explicit stack (no recursion)."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _huge_integer_line(text: str) -> str | None:
    match = re.search(rf"\d{{{sys.get_int_max_str_digits() + 1},}}", text)
    return f"line {text.count(chr(10), 0, match.start()) + 1}" if match else None
