"""A streaming look at a .json/.jsonl file's shape before json.loads builds anything.

    scan_json(text, source, limits)                      # .json: items, values, depth
    scan_json(text, source, limits, lines=True)          # .jsonl: values only

json.loads builds the whole file first: a 32 MB list of 16M numbers costs seconds and GBs
before its length can be checked. Files that cannot hold more than max_json_values values
(needs_scan: a C-speed count of ',', '[' and ':') skip the scan: json.loads on them is
bounded, and the items and depth are checked on what it built. Otherwise ijson's C parser
(yajl) streams events instead, so each limit is checked at the first value over it and
nothing is kept: the number of items (the top-level list, or the list under a top-level
"documents" key) against max_documents, every value at any depth against max_json_values,
nesting against max_json_depth. About 0.2-0.5 us per event: a 50 MB file is scanned in a
few seconds at most, in constant memory.

The scan only refuses: a file it passes is then parsed by json.loads, whose errors (with
line and column) and values (lone-surrogate escapes kept, to be refused later by name) are
the ones users see. Where yajl stops on a syntax error, the scan stops too and json.loads
gives the precise message; both read the same language (jsonish refuses NaN and Infinity,
which yajl rejects too), so json.loads never builds more than the scan has counted.
"""

from __future__ import annotations

import re

import ijson  # type: ignore[import-untyped]  # no stubs; pinned in requirements.txt

from core.ingest.errors import IngestError
from core.ingest.limits import IngestLimits, too_many_documents

_STARTS = frozenset(("start_map", "start_array"))
_ENDS = frozenset(("end_map", "end_array"))


def needs_scan(text: str, limits: IngestLimits) -> bool:
    """Whether the file may hold more than max_json_values values. Every value but the first
    follows a ',', '[' or ':', so their count bounds it (strings holding them only make the
    bound looser); counted at C speed. Below it json.loads builds at most max_json_values
    values, and the item count and depth are checked on the result instead."""
    bound = 1 + text.count(",") + text.count("[") + text.count(":")
    return bound > limits.max_json_values


def scan_json(text: str, source: str, limits: IngestLimits, *, lines: bool = False) -> None:
    """Raise IngestError at the first item, value or level over the limits; else return.

    .json items are the top-level list's values (or those of the list under a top-level
    "documents" key); .jsonl lines are counted by the caller, which knows line numbers, and
    deep nesting there is json.loads' RecursionError, reported with its line.
    """
    events = ijson.basic_parse(_structure(text), use_float=True, multiple_values=lines)
    stack: list[str] = []  # the open containers, outermost first
    top_key = None  # the current key of a top-level object
    values = items = 0
    try:
        for event, value in events:
            if event == "map_key":
                if len(stack) == 1:
                    top_key = value
                continue
            if event in _ENDS:
                stack.pop()
                continue
            values += 1  # a value starts here: a scalar, or a container opens
            if values > limits.max_json_values:
                raise too_many_values(source, limits)
            if not lines and _is_item(stack, top_key):
                items += 1
                if items > limits.max_documents:
                    raise too_many_documents(source, limits, f"item {items}")
            if event in _STARTS:
                stack.append(event)
                if not lines and len(stack) > limits.max_json_depth:
                    raise too_deep(source, limits, None)
    except IngestError:
        raise
    except Exception:  # noqa: BLE001 - a syntax error, an integer over 4,300 digits, ...:
        return  # json.loads stops at the same place and reports it, with line and column


def _structure(text: str) -> bytes:
    """The bytes yajl scans: numbers it would overflow on cut short (json.loads takes them),
    so that only what json.loads refuses too stops the scan. The scan reads numbers as C
    int64/double (ijson's arbitrary-precision path crashed the process on a 5,000-digit
    integer); a cut inside a string changes only that string, which the scan ignores."""
    data = text.encode("utf-8", "surrogatepass")
    data = _LONG_DIGITS.sub(b"0", data)
    return _BIG_EXPONENT.sub(b"", data)


_LONG_DIGITS = re.compile(rb"\d{16,}")  # over int64 (19 digits) is where yajl gives up
_BIG_EXPONENT = re.compile(rb"[eE]\+?\d{3,}")  # 1e400 overflows a double


def _is_item(stack: list[str], top_key: object) -> bool:
    if len(stack) == 1:
        return stack[0] == "start_array"
    return len(stack) == 2 and stack == ["start_map", "start_array"] and top_key == "documents"


def too_many_values(source: str, limits: IngestLimits) -> IngestError:
    return IngestError(
        source,
        f"holds more than {limits.max_json_values:,} JSON values (items, fields and list "
        "entries at every level), over the limit; split it into several files or drop the "
        "fields you do not need",
    )


def too_deep(source: str, limits: IngestLimits, line: int | None) -> IngestError:
    return IngestError(
        source,
        f"nests lists/objects deeper than {limits.max_json_depth} levels; flatten the data",
        f"line {line}" if line else None,
    )
