"""core.taxonomy_table: the Taxonomy page's grid cells <-> Taxonomy."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.taxonomy import Keyword, Label, Taxonomy, TaxonomyError, validate
from core.taxonomy_table import (
    COLUMNS,
    format_keywords,
    parse_keywords,
    parse_list,
    parse_patterns,
    rows_to_taxonomy,
    taxonomy_to_rows,
)

BILLING = Label(
    name="Billing",
    description="Invoices and refunds",
    keywords=(Keyword("refund"), Keyword("chargeback", 2.0), Keyword("money back", 1.5)),
    patterns=(r"\bINV-\d{4,6}\b", r"\d{1,3},\d{3}"),
    entity_types=("MONEY", "INVOICE_ID"),
    colour="#4e79a7",
)


def test_rows_have_every_column_as_a_string():
    [row] = taxonomy_to_rows(Taxonomy((BILLING,)))
    assert tuple(row) == COLUMNS
    assert all(isinstance(value, str) for value in row.values())


def test_keywords_cell_leaves_out_weight_one():
    assert format_keywords(BILLING.keywords) == "refund, chargeback:2, money back:1.5"


def test_patterns_cell_has_one_pattern_per_line():
    [row] = taxonomy_to_rows(Taxonomy((BILLING,)))
    assert row["patterns"].splitlines() == list(BILLING.patterns)


def test_keyword_weights_are_read_after_the_last_colon():
    assert parse_keywords("refund, chargeback:2, money back: 1.5") == (
        Keyword("refund"),
        Keyword("chargeback", 2.0),
        Keyword("money back", 1.5),
    )


def test_a_colon_not_followed_by_a_number_stays_in_the_term():
    assert parse_keywords("re: invoice, ratio 3:2:1") == (
        Keyword("re: invoice"),
        Keyword("ratio 3:2", 1.0),
    )


def test_a_quoted_term_may_hold_a_comma():
    assert parse_keywords('"terms, conditions":2, refund') == (
        Keyword("terms, conditions", 2.0),
        Keyword("refund"),
    )


def test_a_term_with_a_comma_is_written_quoted():
    assert format_keywords((Keyword("terms, conditions", 2.0),)) == '"terms, conditions:2"'


def test_a_term_ending_like_a_weight_gets_an_explicit_weight():
    assert format_keywords((Keyword("ratio 3:2"),)) == "ratio 3:2:1"


def test_negative_weight_is_parsed_so_validation_can_name_it():
    taxonomy = rows_to_taxonomy([{"name": "Billing", "keywords": "refund:-1"}])
    with pytest.raises(TaxonomyError, match=r"label 'Billing': keyword 'refund' has weight -1"):
        validate(taxonomy)


def test_patterns_keep_commas_and_semicolons_and_drop_blank_lines():
    assert parse_patterns("a{1,3};b\n\n  \\d+  \n") == ("a{1,3};b", r"\d+")


def test_entity_types_are_comma_separated():
    assert parse_list(" MONEY, DATE,,ORG ") == ("MONEY", "DATE", "ORG")


def test_blank_rows_are_skipped():
    rows = [{"name": "Billing"}, {column: "" for column in COLUMNS}, {"name": None}]
    assert rows_to_taxonomy(rows).names == ["Billing"]


def test_pandas_missing_cells_count_as_empty():
    table = pd.DataFrame(
        [{"name": "Billing", "description": None, "keywords": math.nan, "colour": pd.NA}],
        columns=list(COLUMNS),
    ).astype(object)
    [label] = rows_to_taxonomy(table.to_dict("records")).labels
    assert label == Label(name="Billing")


def test_a_row_with_content_but_no_name_is_reported_by_validation():
    taxonomy = rows_to_taxonomy([{"name": "Billing"}, {"name": "  ", "keywords": "refund"}])
    with pytest.raises(TaxonomyError, match=r"labels\[1\]: the name is empty"):
        validate(taxonomy)


def test_names_and_descriptions_are_trimmed():
    [label] = rows_to_taxonomy([{"name": " Billing ", "description": " Refunds "}]).labels
    assert (label.name, label.description) == ("Billing", "Refunds")


# --- round trip ---------------------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=20
).map(str.strip)
_terms = _text.filter(bool)
_weights = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)
_patterns = st.sampled_from([r"\bINV-\d{4,6}\b", r"a{1,3};b", r'"quoted", too', r"x\s*y", "é+"])
_entity_types = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=10)


@st.composite
def labels(draw, name):
    terms = draw(st.lists(_terms, max_size=4, unique_by=lambda t: " ".join(t.casefold().split())))
    return Label(
        name=name,
        description=draw(st.one_of(st.just(""), _text)),
        keywords=tuple(Keyword(term, draw(st.one_of(st.just(1.0), _weights))) for term in terms),
        patterns=tuple(draw(st.lists(_patterns, max_size=3, unique=True))),
        entity_types=tuple(draw(st.lists(_entity_types, max_size=3))),
        colour=draw(st.sampled_from(["", "#4e79a7", "#F28E2B"])),
    )


@st.composite
def taxonomies(draw):
    names = draw(st.lists(_terms, min_size=1, max_size=4, unique_by=str.casefold))
    return Taxonomy(labels=tuple(draw(labels(name)) for name in names))


@settings(max_examples=60, deadline=None)
@given(taxonomies())
def test_any_taxonomy_survives_the_table(taxonomy):
    assert rows_to_taxonomy(taxonomy_to_rows(taxonomy)) == taxonomy


@settings(max_examples=60, deadline=None)
@given(taxonomies())
def test_the_table_survives_a_dataframe(taxonomy):
    table = pd.DataFrame(taxonomy_to_rows(taxonomy), columns=list(COLUMNS), dtype=object)
    assert rows_to_taxonomy(table.to_dict("records")) == taxonomy
