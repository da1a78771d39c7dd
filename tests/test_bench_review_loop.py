"""bench/review_loop.py end to end on a small multi-label CSV: a real project, the default
techniques, the Review page's queue and the app's learning path."""

from __future__ import annotations

import csv
import json

import pytest

from bench import review_loop

TOPICS = {
    "billing": ["invoice", "refund", "charge", "payment"],
    "shipping": ["parcel", "courier", "delivery", "tracking"],
    "account": ["password", "login", "profile", "username"],
}


@pytest.fixture
def labelled_csv(tmp_path):
    rows = []
    names = list(TOPICS)
    for i in range(36):
        first = names[i % 3]
        labels = [first] if i % 4 else [first, names[(i + 1) % 3]]
        words = [TOPICS[name][i % 4] for name in labels]
        rows.append(
            {
                "body": f"Ticket {i}: a question about my {' and my '.join(words)}.",
                "tags": ";".join(labels),
            }
        )
    path = tmp_path / "tickets.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["body", "tags"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_review_loop_reports_every_checkpoint_of_every_order(labelled_csv, tmp_path, capsys):
    out = tmp_path / "rows.json"
    review_loop.main(
        [
            "--csv",
            str(labelled_csv),
            "--text-column",
            "body",
            "--label-column",
            "tags",
            "--label-delimiter",
            ";",
            "--checkpoints",
            "0,1,2",
            "--seeds",
            "1",
            "--order",
            "needed,random",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    assert result["dataset"] == "tickets" and result["multi_label"] is True
    rows = result["rows"]
    assert [(r["order"], r["checkpoint"]) for r in rows] == [
        ("needed", 0),
        ("needed", 1),
        ("needed", 2),
        ("random", 0),
        ("random", 1),
        ("random", 2),
    ]
    assert [r["reviews"] for r in rows] == [0, 3, 6, 0, 3, 6]  # k x 3 labels
    for row in rows:
        for metric in ("accuracy", "macro_f1", "micro_f1", "ece"):
            assert 0.0 <= row[metric] <= 1.0
    needed = [r for r in rows if r["order"] == "needed"]
    assert needed[-1]["labels_reviewed"] == 3  # every label sought by checkpoint 2
    assert needed[0]["version"] is None  # nothing learned before any review
    table = capsys.readouterr().out
    assert "| needed | 2 | 6 |" in table and "micro_f1" in table


def test_a_missing_column_is_named_before_anything_runs(labelled_csv):
    with pytest.raises(SystemExit, match="no column 'text'"):
        review_loop.main(["--csv", str(labelled_csv), "--label-column", "tags"])
