"""Review page formatting: plurals, stored UTC times in the viewer's zone, metadata lines,
and when a summary is worth showing."""

from __future__ import annotations

import pytest

from ui.review_format import (
    local_time,
    meta_rows,
    plural,
    summary_worth_showing,
    viewer_time,
)


@pytest.mark.parametrize(
    "count, expected",
    [(0, "0 documents"), (1, "1 document"), (2, "2 documents"), (1167, "1,167 documents")],
)
def test_plural(count, expected):
    assert plural(count, "document") == expected


def test_plural_with_an_irregular_form():
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "entry", "entries") == "3 entries"


# --- times -----------------------------------------------------------------------------------

STORED = "2025-07-01T10:15:30.123456+00:00"  # what the store writes: UTC, microseconds


@pytest.mark.parametrize(
    "zone, expected",
    [
        ("Europe/Paris", "2025-07-01 12:15 CEST"),
        ("America/New_York", "2025-07-01 06:15 EDT"),
        ("Asia/Kolkata", "2025-07-01 15:45 IST"),
        ("Asia/Dubai", "2025-07-01 14:15 UTC+04"),  # a zone without an abbreviation
        ("UTC", "2025-07-01 10:15 UTC"),
    ],
)
def test_a_stored_time_in_the_viewers_zone_with_its_abbreviation(zone, expected):
    assert local_time(STORED, zone) == expected


def test_winter_time_has_its_own_abbreviation():
    assert local_time("2025-01-15T10:00:00+00:00", "Europe/Paris") == "2025-01-15 11:00 CET"


@pytest.mark.parametrize("zone", [None, "", "Not/AZone", "../../etc/passwd"])
def test_an_unknown_zone_falls_back_to_utc_said_so(zone):
    assert local_time(STORED, zone) == "2025-07-01 10:15 UTC"


def test_a_naive_time_is_read_as_utc_and_seconds_on_request():
    assert local_time("2025-07-01T10:15:30", "Europe/Paris", seconds=True) == (
        "2025-07-01 12:15:30 CEST"
    )


def test_an_unreadable_time_is_given_back_as_it_was():
    assert local_time("yesterday", "Europe/Paris") == "yesterday"


def test_viewer_time_outside_a_running_app_is_utc():
    assert viewer_time(STORED) == "2025-07-01 10:15 UTC"


# --- metadata --------------------------------------------------------------------------------


def test_email_headers_come_first_in_reading_order_and_the_message_id_is_left_out():
    meta = {
        "message_id": "<a@b>",
        "date": "Tue, 01 Jul 2025 12:00:00 +0200",
        "to": "support@example.com",
        "from": "Eve <eve@example.com>",
        "subject": "Order",
        "customer": "ACME",
    }
    rows, more = meta_rows(meta)
    assert [name for name, _ in rows] == ["Subject", "From", "To", "Date", "customer"]
    assert dict(rows)["From"] == "Eve <eve@example.com>"  # plain text: escaped where shown
    assert more == 0


def test_empty_values_are_left_out_and_others_are_flattened_and_cut_short():
    rows, _ = meta_rows(
        {"subject": "", "to": None, "note": "a\n\n  b", "long": "x" * 500, "n": 3, "tags": ["a"]}
    )
    values = dict(rows)
    assert set(values) == {"note", "long", "n", "tags"}
    assert values["note"] == "a b"
    assert len(values["long"]) == 160 and values["long"].endswith("…")
    assert values["n"] == "3" and values["tags"] == '["a"]'


def test_long_keys_are_cut_and_many_fields_are_counted_not_shown():
    meta = {f"column {i}": str(i) for i in range(20)} | {"k" * 100: "v"}
    rows, more = meta_rows(meta, limit=12)
    assert len(rows) == 12 and more == 9
    rows, _ = meta_rows({"k" * 100: "v"})
    assert len(rows[0][0]) == 40


@pytest.mark.parametrize("meta", [None, {}, "not a mapping", {"message_id": "<x>"}])
def test_no_metadata_no_rows(meta):
    assert meta_rows(meta) == ([], 0)


# --- summaries -------------------------------------------------------------------------------

TEXT = "Please refund invoice #1042. The charge was made twice. I called on Monday already."


@pytest.mark.parametrize(
    "summary, worth",
    [
        (None, False),
        ("", False),
        ("   ", False),
        (TEXT, False),  # the document again
        ("  " + TEXT.replace(" ", "\n  ").upper(), False),  # again, other whitespace and case
        (TEXT[:-1], False),  # hardly shorter: a short document comes back nearly whole
        ("Please refund invoice #1042.", True),
    ],
)
def test_summary_worth_showing(summary, worth):
    assert summary_worth_showing(summary, TEXT) is worth


def test_a_summary_longer_than_the_document_is_not_shown():
    assert not summary_worth_showing("A long abstractive summary of a short note.", "Thanks!")
