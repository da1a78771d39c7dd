"""A table's other columns travel with each document as bounded context (shown on Review)."""

from __future__ import annotations

import json

from core.ingest import IngestOptions, ingest_bytes
from core.ingest.parsed import MAX_CONTEXT_CHARS, MAX_CONTEXT_COLUMNS


def test_csv_columns_other_than_text_id_and_label_become_context():
    data = (
        b"id,body,category,customer,amount,notes\n"
        b"t1,Please refund invoice 1042,billing,ACME Ltd,12.50,\n"
        b"t2,The courier lost my parcel,shipping,Bob,,call back\n"
    )
    options = IngestOptions(text_column="body", id_column="id", label_column="category")
    parsed = ingest_bytes(data, "tickets.csv", options)
    first, second = parsed.documents
    assert first.meta == {"customer": "ACME Ltd", "amount": "12.50"}  # empty cells left out
    assert second.meta == {"customer": "Bob", "notes": "call back"}


def test_json_context_keeps_scalars_and_writes_nested_values_as_json():
    items = [
        {"text": "Refund my invoice please", "from": "ann@example.com", "priority": 2,
         "tags": ["a", "b"], "vip": True},
    ]  # fmt: skip
    parsed = ingest_bytes(json.dumps(items).encode(), "mail.json", IngestOptions())
    [document] = parsed.documents
    assert document.meta == {
        "from": "ann@example.com",
        "priority": 2,
        "tags": '["a", "b"]',
        "vip": True,
    }


def test_context_is_bounded_in_columns_and_characters():
    columns = [f"c{i}" for i in range(MAX_CONTEXT_COLUMNS + 10)]
    header = "text," + ",".join(columns)
    row = "A real sentence about invoices," + ",".join("x" * 2000 for _ in columns)
    parsed = ingest_bytes(f"{header}\n{row}\n".encode(), "wide.csv", IngestOptions())
    [document] = parsed.documents
    assert len(document.meta) == MAX_CONTEXT_COLUMNS
    assert all(len(value) == MAX_CONTEXT_CHARS for value in document.meta.values())
