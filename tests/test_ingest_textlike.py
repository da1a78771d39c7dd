"""Does the text column hold text? The heuristic on realistic columns, and ingest's warning."""

from __future__ import annotations

import json

import pytest

from core.ingest import IngestOptions, check_text_column, ingest_bytes
from core.ingest.textlike import SAMPLE_VALUES, reads_as_text

NOT_TEXT = {
    "ids": ["1", "2", "3", "1042", "99812"],
    "uuids": [
        "3f2b8c1e-9a4d-4e5f-8b2a-1c3d4e5f6a7b",
        "a9c1e2f3-0b4d-4c6e-9f7a-2b3c4d5e6f70",
        "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a",
    ],
    "amounts": ["12.50", "$1,234.50", "-8.00", "100", "1 234,50 €", "17%"],
    "dates": ["2024-01-05", "05/01/2024", "Jan 5, 2024", "5 January 2024", "2024.03.01"],
    "iso timestamps": ["2024-01-05T10:00:00Z", "2024-02-11T08:30:12+01:00", "2024-03-01 23:59"],
    "email dates": ["Mon, 05 Jan 2024 10:00:00 GMT", "Tue, 06 Feb 2024 08:15:00 +0100"],
    "times": ["10:30 AM", "4pm", "23:15"],
    "short codes": ["INV-2024-0001", "SKU-4411X", "AB12CD", "USD", "GBP", "user_12345"],
}
TEXT = {
    "sms": ["ok see u at 5", "lol", "where r u?", "k", "omw", "Call me when u can", "Thx!"],
    "tweets": [
        "Worst airline ever, 3h delay and no info #fail",
        "@acme thanks for the quick refund!",
        "Loving the new update 😍",
    ],
    "tickets": ["Please refund invoice 1042", "The parcel was lost in transit", "I cannot log in"],
    "one-word subjects": ["Refund", "Parcel", "Login"],
    "chinese": ["我想退款", "包裹丢了怎么办", "谢谢你"],
}


@pytest.mark.parametrize("kind", NOT_TEXT)
def test_columns_of_numbers_dates_and_codes_do_not_look_like_text(kind):
    check = check_text_column(kind, NOT_TEXT[kind])
    assert not check.looks_like_text, check
    assert check.n_text == 0


@pytest.mark.parametrize("kind", TEXT)
def test_real_text_even_short_messages_looks_like_text(kind):
    check = check_text_column(kind, TEXT[kind])
    assert check.looks_like_text, check


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ok see u at 5", True),
        ("May I have a refund", True),  # "May" is a month, the rest are words
        ("lol", True),
        ("k", False),  # under three letters
        ("👍", False),
        ("STOP", False),  # a capitals-only single token reads as a code
        ("2024-01-05T10:00:00Z", False),
        ("Monday, 5 January 2024", False),  # month and weekday names don't count as words
    ],
)
def test_single_values(value, expected):
    assert reads_as_text(value) is expected


def test_a_few_odd_values_in_a_text_column_do_not_flip_it():
    values = ["ok see u at 5", "2024-01-05", "Where are you?", "12", "See you soon"]
    check = check_text_column("sms", values)
    assert (check.n_sampled, check.n_text) == (5, 3)
    assert check.looks_like_text


def test_mostly_numbers_does_not_look_like_text_and_says_what_it_looks_like():
    check = check_text_column("amount", ["12.50", "8.00", "Refund owed", "100", "7"])
    assert not check.looks_like_text
    assert check.kind == "numbers"
    assert check.examples == ("12.50", "8.00", "100")
    assert check.median_length == 4.0


def test_the_sample_is_bounded_and_spread_over_the_whole_column():
    values = ["2024-01-05"] * 1000 + ["Please refund my order"] * 1000
    check = check_text_column("mixed", values)
    assert check.n_sampled == SAMPLE_VALUES
    assert check.n_text == SAMPLE_VALUES // 2  # both halves sampled, not just the first rows


def test_empty_values_are_not_sampled_and_an_empty_column_is_not_flagged():
    assert check_text_column("c", ["", "  ", "hello there"]).n_sampled == 1
    assert check_text_column("c", []).looks_like_text


def test_the_warning_names_the_file_and_the_column_and_quotes_examples():
    check = check_text_column("date", ["2024-01-05", "2024-02-11"])
    warning = check.warning("payments.csv")
    assert warning.startswith("payments.csv: the text column 'date' does not look like text")
    assert "0 of 2" in warning
    assert "dates or times" in warning
    assert "'2024-01-05'" in warning


# --- ingest carries the warning ---------------------------------------------------------------

PAYMENTS = b"id,amount,date\n1,12.50,2024-01-05\n2,8.00,2024-02-11\n3,100,2024-03-01\n"


def test_a_csv_without_a_text_column_comes_back_with_a_warning():
    parsed = ingest_bytes(PAYMENTS, "payments.csv")
    assert parsed.text_column == "date"
    [warning] = parsed.warnings
    assert warning.startswith("payments.csv: the text column 'date' does not look like text")
    assert len(parsed.documents) == 3  # parsed, for the caller to confirm or drop


def test_a_chosen_column_that_is_not_text_is_warned_about_too():
    parsed = ingest_bytes(PAYMENTS, "payments.csv", IngestOptions(text_column="amount"))
    [warning] = parsed.warnings
    assert "'amount'" in warning and "numbers" in warning


def test_a_csv_with_text_has_no_warning():
    data = b"id,body\n1,ok see u at 5\n2,Where is my parcel\n3,lol\n"
    parsed = ingest_bytes(data, "sms.csv")
    assert parsed.text_column == "body"
    assert parsed.warnings == []


def test_jsonl_with_a_numeric_text_field_is_warned_about():
    data = "\n".join(json.dumps({"id": i, "total": i * 9.5}) for i in range(1, 5)).encode()
    parsed = ingest_bytes(data, "orders.jsonl", IngestOptions(text_column="total"))
    [warning] = parsed.warnings
    assert "orders.jsonl: the text column 'total'" in warning


def test_formats_without_columns_are_not_checked():
    parsed = ingest_bytes(b"2024-01-05", "date.txt")
    assert parsed.text_column is None
    assert parsed.warnings == []
