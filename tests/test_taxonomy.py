"""Taxonomy: validation messages, YAML/JSON round trips, loading errors, colours."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from core.ingest import gold
from core.taxonomy import (
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    MAX_KEYWORDS_PER_LABEL,
    MAX_NAME_LENGTH,
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS,
    MAX_PATTERNS_PER_LABEL,
    Keyword,
    Label,
    Taxonomy,
    TaxonomyError,
    default_palette,
    dump_taxonomy,
    dump_taxonomy_file,
    label_key,
    load_taxonomy,
    load_taxonomy_file,
    taxonomy_problems,
    validate,
    with_default_colours,
)

BILLING = Label(
    "Billing",
    description="Invoices, charges and refunds",
    keywords=(Keyword("refund"), Keyword("chargeback", 2.0)),
    patterns=(r"\binvoice\s*#?\d+",),
    entity_types=("MONEY",),
    colour="#4e79a7",
)
SHIPPING = Label("Shipping", keywords=(Keyword("shipping delay"),))
GOOD = Taxonomy((BILLING, SHIPPING))


def one_label(**fields) -> Taxonomy:
    return Taxonomy((Label(**{"name": "Billing", **fields}),))


def error_of(taxonomy: Taxonomy) -> str:
    with pytest.raises(TaxonomyError) as caught:
        validate(taxonomy)
    return str(caught.value)


# --------------------------------------------------------------------------- validate


def test_a_well_formed_taxonomy_is_valid():
    validate(GOOD)
    assert taxonomy_problems(GOOD) == []


def test_no_labels_is_rejected():
    assert "no labels" in error_of(Taxonomy(()))


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_empty_or_blank_names_are_rejected(name):
    message = error_of(Taxonomy((Label(name), SHIPPING)))
    assert "labels[0]" in message and "empty" in message


def test_names_with_outer_whitespace_are_rejected():
    assert "' Billing'" in error_of(Taxonomy((Label(" Billing"),)))


def test_duplicate_names_are_rejected_ignoring_case():
    message = error_of(Taxonomy((Label("Billing"), Label("BILLING"))))
    assert "'BILLING'" in message and "'Billing'" in message and "duplicates" in message


def test_names_over_the_length_limit_are_rejected():
    validate(Taxonomy((Label("x" * MAX_NAME_LENGTH),)))
    message = error_of(Taxonomy((Label("x" * (MAX_NAME_LENGTH + 1)),)))
    assert f"{MAX_NAME_LENGTH + 1} characters" in message


@pytest.mark.parametrize("char", ["\x00", "\x07", "\n", "\x1b", "\u2028"])
def test_names_with_control_characters_are_rejected(char):
    message = error_of(Taxonomy((Label(f"Bill{char}ing"),)))
    assert f"U+{ord(char):04X}" in message


def test_invalid_regex_is_rejected_naming_label_and_pattern():
    message = error_of(one_label(patterns=("refund(",)))
    assert "'Billing'" in message and "'refund('" in message
    assert "not a valid regular expression" in message


# (pattern, words the refusal must contain besides the label and the pattern): what the
# pattern uses that RE2 does not run, and what to write instead.
REFUSED_PATTERNS = [
    (r"(?V1)(?:a+)+b", ("inline flag", "(?i)")),
    (r"(?r)(a+)+$", ("inline flag", "(?i)")),
    (r"(?<=invoice )\d+", ("look-behind", r"invoice\s*\d+")),
    (r"(?<!pre)paid", ("negative look-behind", r"\b")),
    (r"refund(?=\s+request)", ("look-ahead", r"refund\s+request")),
    (r"refund(?!able)", ("negative look-ahead", "character class")),
    (r"(\w+) \1", ("backreference", "spell the repeated text out")),
    (r"(?P<w>\w+) (?P=w)", ("backreferences", "spell the text out")),
    (r"(?>\w+\s?)+", ("atomic group", "(?:...)")),
    (r"(?:\w++\s?)+", ("possessive", "a+")),
    (r"refund\Z", (r"\Z", r"\z")),
    (r"caf\u00e9", (r"\uXXXX", r"\x{E9}")),
    (r"(?:a{65535}){65535}", ("at most 1,000 times", "smaller counts")),
    (r"(?:a{100}){100}", ("at most 1,000 times", "10,000")),
    (r"\pL{1000}", ("8 MiB", "smaller")),
    (r"(?:[\pL\pN]{1,30}){1,3}x", ("automaton instructions", "50,000")),
]


@pytest.mark.parametrize(("pattern", "fragments"), REFUSED_PATTERNS)
def test_patterns_re2_cannot_run_are_refused_naming_label_pattern_and_what_to_write(
    pattern, fragments
):
    message = error_of(one_label(patterns=(pattern,)))
    assert "label 'Billing'" in message and repr(pattern) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    "pattern",
    [
        r"\binvoice\s*#?\d+",
        r"(?:foo|bar)+",
        r"(?:\d{3}-)+\d{4}",
        r"\p{Lu}{2,}",
        r"order\s+(?:no\.?|number)\s*\d+",
        r"(?P<number>\d+)",
        r"(?i:refund)",
        # catastrophic in a backtracking engine, linear in RE2: nothing to refuse
        r"(a+)+b",
        r"(\w+\s?)+$",
        r"(a|aa)+b",
        r"(a{1,30}){1,30}$",
        r"\w*\w*\w*\w*\w*!",
    ],
)
def test_ordinary_and_formerly_catastrophic_patterns_are_valid(pattern):
    validate(one_label(patterns=(pattern,)))


def test_the_example_and_bench_taxonomies_validate_under_re2():
    root = Path(__file__).resolve().parent.parent
    files = [root / "core/examples/customer_inbox.yaml", *sorted(root.glob("bench/taxonomies/*"))]
    assert len(files) >= 4
    for path in files:
        assert len(load_taxonomy_file(path)) >= 2  # raises TaxonomyError naming the file


def test_pattern_length_and_counts_are_capped():
    validate(one_label(patterns=("x" * MAX_PATTERN_LENGTH,)))
    message = error_of(one_label(patterns=("x" * (MAX_PATTERN_LENGTH + 1),)))
    assert "'Billing'" in message and f"{MAX_PATTERN_LENGTH + 1:,} characters" in message
    many = tuple(f"word{i}" for i in range(MAX_PATTERNS_PER_LABEL + 1))
    message = error_of(one_label(patterns=many))
    assert f"label 'Billing': has {MAX_PATTERNS_PER_LABEL + 1} patterns" in message
    per_label = MAX_PATTERNS_PER_LABEL
    labels = tuple(
        Label(f"L{n}", patterns=tuple(f"w{n}x{i}" for i in range(per_label)))
        for n in range(MAX_PATTERNS // per_label + 1)
    )
    assert f"over the limit of {MAX_PATTERNS:,}" in error_of(Taxonomy(labels))


def test_a_500_character_keyword_is_refused_at_validation():
    validate(one_label(keywords=(Keyword("k" * MAX_KEYWORD_LENGTH),)))
    message = error_of(one_label(keywords=(Keyword("refund " * 71 + "now"),)))
    assert "label 'Billing': keyword 'refund refund" in message
    assert "500 characters" in message and f"limit of {MAX_KEYWORD_LENGTH}" in message


def test_keyword_counts_are_capped_per_label_and_in_total():
    many = tuple(Keyword(f"word{i}") for i in range(MAX_KEYWORDS_PER_LABEL + 1))
    message = error_of(one_label(keywords=many))
    assert f"label 'Billing': has {MAX_KEYWORDS_PER_LABEL + 1} keywords" in message
    per_label = MAX_KEYWORDS_PER_LABEL
    labels = tuple(
        Label(f"L{n}", keywords=tuple(Keyword(f"w{n}x{i}") for i in range(per_label)))
        for n in range(MAX_KEYWORDS // per_label + 1)
    )
    assert f"over the limit of {MAX_KEYWORDS:,}" in error_of(Taxonomy(labels))


def test_a_keyword_with_an_unpaired_surrogate_is_refused():
    message = error_of(one_label(keywords=(Keyword("ref\ud800und"),)))
    assert "U+D800" in message and "'Billing'" in message


# --------------------------------------------------------------------------- look-alike names


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("billing", "BILLING"),
        ("billing", "\uff22ILLING"),  # full-width B
        ("billing", "ＢＩＬＬＩＮＧ"),
        ("Billing issue", "Billing  issue"),
        ("ﬁnance", "finance"),  # the fi ligature
        ("café", "cafe\u0301"),  # composed and decomposed é
        ("Straße", "STRASSE"),
    ],
)
def test_look_alike_label_names_are_duplicates_naming_the_label(first, second):
    message = error_of(Taxonomy((Label(first), Label(second))))
    assert f"label {second!r} duplicates label {first!r}" in message
    assert label_key(first) == label_key(second)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("bil\u200bling", "U+200B (ZERO WIDTH SPACE)"),
        ("\u202egnillib", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("bill\u00ading", "U+00AD (SOFT HYPHEN)"),
        ("billing\u2066", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("\ufeffbilling", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
    ],
)
def test_names_with_invisible_format_characters_are_refused_naming_the_character(name, code):
    message = error_of(Taxonomy((Label("billing"), Label(name))))
    assert f"label {name!r}" in message and code in message and "format character" in message


def test_a_look_alike_set_is_refused_naming_every_offending_label():
    names = ("billing", "bil\u200bling", "\u202egnillib", "\uff22ILLING")
    message = error_of(Taxonomy(tuple(Label(name) for name in names)))
    for name in names[1:]:
        assert repr(name) in message


def test_with_label_refuses_a_look_alike():
    with pytest.raises(TaxonomyError, match="already exists"):
        Taxonomy((Label("billing"),)).with_label(Label("\uff22ILLING"))


def test_gold_labels_are_matched_with_the_same_comparison():
    assert gold.label_key is label_key  # one fact in one place
    match = gold.match_gold_labels([("\uff22ILLING",), ("billing ",)], ["Billing"])
    assert match.labels_for(("\uff22ILLING",)) == ["Billing"]


@pytest.mark.parametrize("pattern", ["", "a*", "(?:refund)?", "^"])
def test_patterns_that_match_nothing_or_empty_text_are_rejected(pattern):
    message = error_of(one_label(patterns=(pattern,)))
    assert repr(pattern) in message and ("empty" in message)


@pytest.mark.parametrize("weight", [0, -1.0, float("nan"), float("inf"), -float("inf")])
def test_keyword_weights_must_be_positive_and_finite(weight):
    message = error_of(one_label(keywords=(Keyword("refund", weight),)))
    assert "'refund'" in message and "weight" in message and "'Billing'" in message


def test_keyword_weight_must_be_a_number():
    assert "weight" in error_of(one_label(keywords=(Keyword("refund", "2"),)))


@pytest.mark.parametrize("term", ["", "   "])
def test_empty_keyword_terms_are_rejected(term):
    message = error_of(one_label(keywords=(Keyword(term),)))
    assert "'Billing'" in message and "empty" in message


def test_a_keyword_listed_twice_in_one_label_is_rejected():
    message = error_of(one_label(keywords=(Keyword("Refund"), Keyword("refund", 2.0))))
    assert "more than once" in message and "'refund'" in message


@pytest.mark.parametrize("colour", ["red", "#abc", "#gggggg", "4e79a7", "#4e79a7 "])
def test_colour_must_be_empty_or_hex(colour):
    message = error_of(one_label(colour=colour))
    assert repr(colour) in message and "#rrggbb" in message


@pytest.mark.parametrize("colour", ["", "#4E79A7", "#000000"])
def test_valid_colours_are_accepted(colour):
    validate(one_label(colour=colour))


@pytest.mark.parametrize("entity_type", ["", "  ", None])
def test_entity_types_must_be_non_empty_strings(entity_type):
    message = error_of(one_label(entity_types=(entity_type,)))
    assert "entity type" in message and "'Billing'" in message


def test_validate_reports_every_problem_at_once():
    taxonomy = Taxonomy(
        (
            Label("A", patterns=("(",), colour="red"),
            Label("B", keywords=(Keyword("x", -1),)),
        )
    )
    with pytest.raises(TaxonomyError) as caught:
        validate(taxonomy)
    assert len(caught.value.problems) == 3
    assert all(line in str(caught.value) for line in caught.value.problems)


# --------------------------------------------------------------------------- file formats

EXAMPLE_YAML = """\
labels:
  - name: Billing
    description: Invoices, charges and refunds
    keywords: [refund, {term: chargeback, weight: 2.0}]
    patterns: ['\\binvoice\\s*#?\\d+']
    entity_types: [MONEY]
    colour: "#4e79a7"
  - name: Shipping
    keywords:
      - shipping delay
"""


def test_yaml_example_loads_to_the_expected_taxonomy():
    assert load_taxonomy(EXAMPLE_YAML, "yaml") == GOOD


def test_json_example_loads_to_the_expected_taxonomy():
    data = {
        "labels": [
            {
                "name": "Billing",
                "description": "Invoices, charges and refunds",
                "keywords": ["refund", {"term": "chargeback", "weight": 2}],
                "patterns": [r"\binvoice\s*#?\d+"],
                "entity_types": ["MONEY"],
                "colour": "#4e79a7",
            },
            {"name": "Shipping", "keywords": [{"term": "shipping delay"}]},
        ]
    }
    assert load_taxonomy(json.dumps(data), "json") == GOOD


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_example_round_trips_exactly(fmt):
    assert load_taxonomy(dump_taxonomy(GOOD, fmt), fmt) == GOOD


def test_dump_writes_weight_one_keywords_as_plain_strings():
    data = json.loads(dump_taxonomy(GOOD, "json"))
    assert data["labels"][0]["keywords"] == ["refund", {"term": "chargeback", "weight": 2.0}]
    assert data["labels"][1] == {"name": "Shipping", "keywords": ["shipping delay"]}


def test_yaml_exponent_weights_are_numbers():
    text = "labels: [{name: A, keywords: [{term: x, weight: 1e-7}]}]"
    assert load_taxonomy(text, "yaml")["A"].keywords[0].weight == 1e-7


def test_bytes_with_a_byte_order_mark_load():
    data = b"\xef\xbb\xbf" + EXAMPLE_YAML.encode()
    assert load_taxonomy(data, "yaml") == GOOD


def _is_valid_name(name: str) -> bool:
    return (
        name == name.strip()
        and bool(name)
        and not any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for c in name)
    )


names = st.text(min_size=1, max_size=MAX_NAME_LENGTH).filter(_is_valid_name)
weights = st.one_of(
    st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, 1e-7, 0.1 + 0.2, 1 / 3, 1e300, 5e-324, 2.0]),
)
terms = st.text(min_size=1, max_size=30).filter(lambda t: t.strip())
patterns = st.one_of(
    st.text(min_size=1, max_size=20).map(re2.escape),  # st.text draws no surrogates
    st.sampled_from([r"\binvoice\s*#?\d+", r"(?:foo|bar)+", r"[A-Z]{2}\d{4}", r"\p{Lu}+x"]),
)
colours = st.one_of(st.just(""), st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True))


@st.composite
def taxonomies(draw) -> Taxonomy:
    label_names = draw(st.lists(names, min_size=1, max_size=4, unique_by=label_key))
    labels = []
    for name in label_names:
        keyword_terms = draw(
            st.lists(terms, max_size=4, unique_by=lambda t: " ".join(t.casefold().split()))
        )
        labels.append(
            Label(
                name=name,
                description=draw(st.text(max_size=200)),
                keywords=tuple(Keyword(term, draw(weights)) for term in keyword_terms),
                patterns=tuple(draw(st.lists(patterns, max_size=3))),
                entity_types=tuple(draw(st.lists(terms, max_size=3))),
                colour=draw(colours),
            )
        )
    return Taxonomy(tuple(labels))


@settings(max_examples=150, deadline=None)
@given(taxonomy=taxonomies(), fmt=st.sampled_from(["yaml", "json"]))
def test_any_valid_taxonomy_round_trips_exactly(taxonomy, fmt):
    validate(taxonomy)  # the strategy only builds valid taxonomies
    loaded = load_taxonomy(dump_taxonomy(taxonomy, fmt), fmt)
    assert loaded == taxonomy
    # floats must come back bit-for-bit, not just ==
    for original, again in zip(taxonomy.labels, loaded.labels):
        assert [k.weight.hex() for k in original.keywords] == [
            float(k.weight).hex() for k in again.keywords
        ]


# --------------------------------------------------------------------------- loading errors


def load_error(text: str, fmt: str = "yaml") -> str:
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(text, fmt)
    return str(caught.value)


def test_bad_yaml_names_the_line():
    message = load_error("labels:\n  - name: [Billing\n")
    assert "not valid YAML" in message and re.search(r"line \d+", message)


def test_bad_json_names_the_line():
    message = load_error('{"labels": [\n {"name": "A",}\n]}', "json")
    assert "not valid JSON" in message and "line 2" in message


def test_empty_file_is_an_error():
    assert "empty" in load_error("")


def test_top_level_must_be_a_mapping():
    assert "mapping" in load_error("- name: A")


def test_labels_must_be_a_list():
    assert "'labels' must be a list" in load_error("labels: {name: A}")


def test_unknown_top_level_field_is_named():
    assert "'version'" in load_error("version: 2\nlabels: [{name: A}]")


def test_unknown_label_field_names_label_index_and_name():
    message = load_error("labels: [{name: A}, {name: Billing, keyword: [refund]}]")
    assert "labels[1]" in message and "'Billing'" in message and "'keyword'" in message


def test_non_string_name_names_the_field_and_index():
    message = load_error("labels: [{name: A}, {name: 404}]")
    assert "labels[1]" in message and "'name'" in message and "int" in message


def test_yaml_booleans_are_not_names():
    assert "bool" in load_error("labels: [{name: yes}]")


def test_wrong_keyword_shape_names_the_keyword_position():
    message = load_error("labels: [{name: Billing, keywords: [refund, 3]}]")
    assert "'Billing'" in message and "keywords[1]" in message


def test_unknown_keyword_field_is_named():
    message = load_error("labels: [{name: Billing, keywords: [{term: refund, wieght: 2}]}]")
    assert "'wieght'" in message and "keywords[0]" in message


def test_non_numeric_weight_is_named():
    message = load_error("labels: [{name: Billing, keywords: [{term: refund, weight: high}]}]")
    assert "'weight'" in message and "'refund'" in message


def test_patterns_must_be_a_list_of_strings():
    message = load_error("labels: [{name: Billing, patterns: refund}]")
    assert "'patterns' must be a list" in message and "'Billing'" in message


def test_duplicate_yaml_keys_are_an_error():
    assert "duplicate key 'name'" in load_error("labels: [{name: A, name: B}]")


def test_duplicate_json_keys_are_an_error():
    assert "'name'" in load_error('{"labels": [{"name": "A", "name": "B"}]}', "json")


def test_content_problems_are_reported_on_load():
    message = load_error("labels: [{name: Billing, patterns: ['(?<=x)a+']}]")
    assert "'(?<=x)a+'" in message and "'Billing'" in message and "look-behind" in message


def test_non_utf8_bytes_are_an_error():
    with pytest.raises(TaxonomyError, match="UTF-8"):
        load_taxonomy(b"labels: [{name: \xff}]", "yaml")


def test_unknown_format_is_an_error():
    with pytest.raises(TaxonomyError, match="'yaml' or 'json'"):
        load_taxonomy("labels: []", "toml")


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_files_round_trip_with_format_from_extension(tmp_path, suffix):
    path = tmp_path / f"taxonomy{suffix}"
    dump_taxonomy_file(GOOD, path)
    assert load_taxonomy_file(path) == GOOD


def test_json_file_is_parsed_as_json(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(dump_taxonomy(GOOD, "yaml"))  # YAML text in a .json file
    with pytest.raises(TaxonomyError, match="not valid JSON"):
        load_taxonomy_file(path)


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("labels: [{name: A, foo: 1}]")
    with pytest.raises(TaxonomyError, match=r"^mine\.yaml: .*'foo'"):
        load_taxonomy_file(path)


def test_unknown_extension_is_an_error(tmp_path):
    path = tmp_path / "taxonomy.txt"
    path.write_text("labels: [{name: A}]")
    with pytest.raises(TaxonomyError, match=r"\.yaml"):
        load_taxonomy_file(path)


# --------------------------------------------------------------------------- colours, helpers


def test_default_palette_is_deterministic_distinct_and_hex():
    colours = default_palette(40)
    assert colours == default_palette(40)
    assert len(set(colours)) == 40
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    assert default_palette(5) == colours[:5]


def test_with_default_colours_fills_only_missing_colours_without_reusing():
    taxonomy = Taxonomy((Label("A"), Label("B", colour=default_palette(1)[0]), Label("C")))
    coloured = with_default_colours(taxonomy)
    assert coloured.labels[1].colour == taxonomy.labels[1].colour
    assert all(label.colour for label in coloured.labels)
    assert len({label.colour for label in coloured.labels}) == 3
    validate(coloured)


def test_with_label_appends_and_refuses_duplicates():
    extended = GOOD.with_label(Label("Returns"))
    assert extended.names == ["Billing", "Shipping", "Returns"]
    with pytest.raises(TaxonomyError, match="already exists"):
        GOOD.with_label(Label("billing"))


def test_replace_label_keeps_position():
    replaced = GOOD.replace_label("Billing", Label("Invoices"))
    assert replaced.names == ["Invoices", "Shipping"]
    with pytest.raises(KeyError, match="Billing"):
        GOOD.replace_label("Nope", Label("X"))


TRICKY_STRINGS = [
    "0\x85",  # NEL: a line break to YAML 1.1
    "a\u2028b",
    "yes",
    "null",
    "1e5",
    "0x1F",
    "#not a comment",
    " leading",
    "trailing ",
    "key: value",
    "- item",
    "'single' \"double\"",
    "tab\there",
    "multi\nline\n",
    "\r\n",
    "~",
]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("text", TRICKY_STRINGS)
def test_strings_that_look_like_other_yaml_types_round_trip(fmt, text):
    taxonomy = Taxonomy(
        (
            Label(
                "1e5", description=text, keywords=(Keyword(text + "x"),), entity_types=("E" + text,)
            ),
        )
    )
    assert load_taxonomy(dump_taxonomy(taxonomy, fmt), fmt) == taxonomy
