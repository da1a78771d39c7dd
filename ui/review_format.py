"""Small formatting helpers for the Review page: counts with the right plural, stored UTC times
in the viewer's time zone, a document's metadata as short key/value lines, and whether a
summary says anything the text does not.

Plain functions of plain values (the viewer's zone is read from `st.context` only in
`viewer_timezone`), so they are tested without a running app.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

# --- counts ----------------------------------------------------------------------------------


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 document', '2 documents', '1,167 documents' (`many`: an irregular plural)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


# --- times -----------------------------------------------------------------------------------


def viewer_timezone() -> str | None:
    """The browser's IANA zone name ('Europe/Paris'), or None when it did not say."""
    try:
        zone = st.context.timezone
    except Exception:  # no script run context (a bare import), an old client
        return None
    return zone if isinstance(zone, str) and zone else None


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # unknown, or a malformed key like "../x"
        return None


def local_time(stamp: object, zone: str | None = None, *, seconds: bool = False) -> str:
    """A stored time (UTC ISO-8601; naive ones are read as UTC) in `zone`, with the zone's
    abbreviation: '2025-04-01 14:00 CEST'; in UTC, said so, when the zone is unknown.
    Anything unreadable is given back as it was."""
    if isinstance(stamp, datetime):
        when = stamp
    else:
        try:
            when = datetime.fromisoformat(str(stamp))
        except ValueError:
            return str(stamp)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    tz = _zone(zone)
    shown = when.astimezone(tz if tz is not None else UTC)
    name = (shown.tzname() or "") if tz is not None else "UTC"
    if not name or name[0] in "+-":  # zones without an abbreviation: '+04' -> 'UTC+04'
        name = f"UTC{name}"
    layout = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return f"{shown.strftime(layout)} {name}"


def viewer_time(stamp: object, *, seconds: bool = False) -> str:
    """`local_time` in the zone of the browser looking at the page."""
    return local_time(stamp, viewer_timezone(), seconds=seconds)


# --- metadata --------------------------------------------------------------------------------

META_FIRST = ("subject", "from", "to", "cc", "date")  # an email's headers, in reading order
META_NAMES = {"subject": "Subject", "from": "From", "to": "To", "cc": "Cc", "date": "Date"}
META_HIDDEN = {"message_id"}  # the document's external id: shown with its source already
META_VALUE_CHARS = 160
META_KEY_CHARS = 40
META_ROWS = 12


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def meta_rows(
    meta: Mapping | None,
    *,
    limit: int = META_ROWS,
    value_chars: int = META_VALUE_CHARS,
    key_chars: int = META_KEY_CHARS,
) -> tuple[list[tuple[str, str]], int]:
    """(name, value) lines for a document's metadata, email headers first, empty values left
    out, each cut to length; and how many more there were beyond `limit`. Plain text: the
    caller escapes it for where it goes."""
    if not isinstance(meta, Mapping):
        return [], 0
    keys = [key for key in META_FIRST if key in meta]
    keys += [key for key in meta if key not in META_FIRST]
    rows = []
    for key in keys:
        if key in META_HIDDEN:
            continue
        value = meta[key]
        if value is None or (isinstance(value, str | list | dict | tuple) and not value):
            continue
        if not isinstance(value, str):
            try:
                value = json.dumps(value, ensure_ascii=False, default=str)
            except (TypeError, ValueError):
                value = str(value)
        text = shorten(value, value_chars)
        if not text:
            continue
        name = META_NAMES.get(str(key), str(key))
        rows.append((shorten(name, key_chars), text))
    return rows[:limit], max(len(rows) - limit, 0)


# --- summaries -------------------------------------------------------------------------------

SUMMARY_MIN_SAVING = 0.15  # a summary not at least this much shorter than the text repeats it


def summary_worth_showing(summary: str | None, text: str) -> bool:
    """False for no summary, and for one that (nearly) repeats the document: the same words
    once whitespace and case are normalised, or hardly shorter than the text (a document
    shorter than a summary would be comes back whole)."""
    if not summary or not summary.strip():
        return False
    short = " ".join(summary.split()).casefold()
    full = " ".join(text.split()).casefold()
    if not full or short == full:
        return False
    return len(short) <= (1 - SUMMARY_MIN_SAVING) * len(full)


__all__ = [
    "local_time",
    "meta_rows",
    "plural",
    "shorten",
    "summary_worth_showing",
    "viewer_time",
    "viewer_timezone",
]
