"""Uploaded gold labels against the taxonomy's label names (core.ingest.gold)."""

from __future__ import annotations

from core.ingest import IngestOptions, ingest_bytes, match_gold_labels
from core.ingest.gold import label_key

LABELS = ["Sport", "News", "Weather forecast"]


def test_case_and_spaces_are_ignored_and_the_mapping_is_reported_with_counts():
    gold = [("sport",)] * 3 + [("Sport",), ("NEWS",), ("weather  Forecast",)]
    match = match_gold_labels(gold, LABELS)
    assert match.labels_for(("sport",)) == ["Sport"]
    assert match.labels_for(("weather  Forecast",)) == ["Weather forecast"]
    assert match.mapping_lines() == [
        "sport → Sport: 3 documents",
        "NEWS → News: 1 document",
        "'weather  Forecast' → Weather forecast: 1 document",  # quoted: its spaces differ
    ]
    assert (match.n_documents, match.n_matched_documents, match.unknown) == (6, 6, ())


def test_values_that_match_no_label_are_named_with_their_counts():
    gold = [("sport", "footy"), ("footy",), ("misc",), ()]
    match = match_gold_labels(gold, LABELS)
    assert match.unknown == (("footy", 2), ("misc", 1))
    assert match.unknown_text() == "'footy' (2 documents), 'misc' (1 document)"
    assert match.labels_for(("sport", "footy")) == ["Sport"]
    assert match.labels_for(("footy",)) == []
    assert (match.n_documents, match.n_matched_documents, match.n_unmatched_documents) == (3, 1, 2)
    [mapped, unknown] = match.notes()
    assert (
        mapped == "gold labels matched to taxonomy labels ignoring case: sport → Sport: 1 document"
    )
    assert unknown.startswith("gold labels that match no taxonomy label, kept as given")
    assert "'footy' (2 documents)" in unknown


def test_exact_names_are_not_reported_as_mapped():
    match = match_gold_labels([("Sport",), ("News",)], LABELS)
    assert match.mapped == () and match.unknown == () and match.notes() == []
    assert match.labels_for(("Sport", "News")) == ["Sport", "News"]


def test_two_spellings_of_one_label_in_a_document_count_once():
    match = match_gold_labels([("sport", "Sport")], LABELS)
    assert match.labels_for(("sport", "Sport")) == ["Sport"]


def test_without_a_taxonomy_the_note_says_evaluate_will_match_later():
    match = match_gold_labels([("sport",)], [])
    [note] = match.notes()
    assert "the taxonomy has no labels yet" in note and "'sport' (1 document)" in note


def test_a_long_list_of_unknown_values_is_cut_with_a_count():
    match = match_gold_labels([(f"v{i:02}",) for i in range(15)], LABELS)
    assert match.unknown_text().endswith("'v09' (1 document) and 5 more")


def test_label_key_folds_case_spaces_and_unicode_forms():
    assert label_key("  Straße ") == label_key("STRASSE")
    assert label_key("Cafe\u0301") == label_key("café")  # decomposed vs composed é


def test_ingest_keeps_gold_labels_as_given_only_trimmed():
    options = IngestOptions(label_column="gold")
    parsed = ingest_bytes(b"text,gold\nGreat match, sport ;Sport\n", "g.csv", options)
    assert parsed.documents[0].gold_labels == ("sport", "Sport")  # matched when evaluated
