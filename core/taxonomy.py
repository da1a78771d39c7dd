"""Labels and the rules, keywords, descriptions and entity hints attached to them.

A Taxonomy is an ordered list of Labels. It is plain data: techniques read it,
the store persists it, YAML/JSON files carry it between projects.

File shape (YAML or JSON; every field but `name` optional)::

    labels:
      - name: Billing
        description: Invoices, charges and refunds
        keywords: [refund, {term: chargeback, weight: 2.0}]   # plain string = weight 1
        patterns: ['\\binvoice\\s*#?\\d+']                      # RE2 syntax (core.textmatch)
        entity_types: [MONEY]
        colour: "#4e79a7"

`load_taxonomy` parses, checks the shape (types, unknown fields) and then
`validate`s the content; `dump_taxonomy` writes the same shape back, and
`load_taxonomy(dump_taxonomy(t, fmt), fmt) == t` for every valid taxonomy.

Validation bounds what the rules and lexicon techniques can be asked to do:
patterns must compile in RE2 within its memory and size limits, and there are
caps on pattern and keyword lengths and counts (`MAX_*`), so the work per text
is bounded before any text is read. Label names that only look different
(`billing`, `ＢILLING`, `Billing ` with a zero-width space) are one name:
`label_key` is the comparison, shared with gold-label matching
(`core.ingest.gold`); names holding invisible control or format characters
(zero-width spaces, bidi overrides) are refused outright.
"""

from __future__ import annotations

import colorsys
import json
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from core.textmatch import pattern_problem

MAX_NAME_LENGTH = 100
MAX_KEYWORD_LENGTH = 200  # characters: a keyword is a word or a short phrase
MAX_KEYWORDS_PER_LABEL = 500
MAX_KEYWORDS = 5_000  # per taxonomy: all of them are compiled into one matcher
MAX_PATTERN_LENGTH = 500  # characters
MAX_PATTERNS_PER_LABEL = 20
MAX_PATTERNS = 200  # per taxonomy: each pattern reads every text once
FORMATS = ("yaml", "json")
_EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_LABEL_FIELDS = ("name", "description", "keywords", "patterns", "entity_types", "colour")
_KEYWORD_FIELDS = ("term", "weight")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# Unicode categories a label name may not contain: controls, format characters (zero-width,
# bidi controls: invisible, so two names could look the same), surrogates, line separators.
_FORBIDDEN_NAME_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


class TaxonomyError(ValueError):
    """Invalid taxonomy; the message names the label (and pattern) and says how to fix it."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]  # one line per problem found


@dataclass(frozen=True)
class Keyword:
    term: str  # a word or phrase, matched case-insensitively on word boundaries
    weight: float = 1.0  # > 0; larger means stronger evidence for the label


@dataclass(frozen=True)
class Label:
    name: str
    description: str = ""  # zero-shot hypothesis / embedding prototype; defaults to the name
    keywords: tuple[Keyword, ...] = ()
    patterns: tuple[str, ...] = ()  # regular expressions (case-insensitive by default)
    entity_types: tuple[str, ...] = ()  # entity labels that hint at this label, e.g. "MONEY", "ORG"
    colour: str = ""  # "#rrggbb"; empty means "pick from the palette"

    @property
    def prototype(self) -> str:
        """Text that stands for the label in zero-shot and embedding techniques: its
        description, else its name read as words ("card_arrival" -> "card arrival")."""
        return self.description.strip() or " ".join(self.name.replace("_", " ").split())

    def to_dict(self) -> dict[str, Any]:
        """The file shape: empty fields left out, weight-1 keywords as plain strings."""
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        if self.keywords:
            data["keywords"] = [
                kw.term if kw.weight == 1 else {"term": kw.term, "weight": kw.weight}
                for kw in self.keywords
            ]
        if self.patterns:
            data["patterns"] = list(self.patterns)
        if self.entity_types:
            data["entity_types"] = list(self.entity_types)
        if self.colour:
            data["colour"] = self.colour
        return data

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "label") -> Label:
        """A Label from the file shape; checks types and fields, not content (see validate)."""
        if not isinstance(data, dict):
            raise TaxonomyError(
                f"{where}: expected a mapping with at least a 'name', got {_kind(data)}"
            )
        name = data.get("name")
        if not isinstance(name, str):
            raise TaxonomyError(
                f"{where}: field 'name' must be a string, got {_kind(name)}; "
                "give every label a name (quote it in YAML if it looks like a number or yes/no)"
            )
        where = f"{where} ({name!r})"
        unknown = [key for key in data if key not in _LABEL_FIELDS]
        if unknown:
            raise TaxonomyError(
                f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
                f"allowed fields are {', '.join(_LABEL_FIELDS)}"
            )
        return cls(
            name=name,
            description=_optional_string(data, "description", where),
            keywords=tuple(
                _keyword_from(item, f"{where} keywords[{i}]")
                for i, item in enumerate(_optional_list(data, "keywords", where))
            ),
            patterns=_string_list(data, "patterns", where),
            entity_types=_string_list(data, "entity_types", where),
            colour=_optional_string(data, "colour", where),
        )


@dataclass(frozen=True)
class Taxonomy:
    labels: tuple[Label, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]

    def __getitem__(self, name: str) -> Label:
        for label in self.labels:
            if label.name == name:
                return label
        raise KeyError(f"no label named {name!r}; labels are: {', '.join(self.names)}")

    def __len__(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        return {"labels": [label.to_dict() for label in self.labels]}

    @classmethod
    def from_dict(cls, data: Any) -> Taxonomy:
        """Build from the file shape; raises TaxonomyError on wrong types or unknown fields."""
        if not isinstance(data, dict):
            raise TaxonomyError(
                f"a taxonomy must be a mapping with a 'labels' list, got {_kind(data)}"
            )
        unknown = [key for key in data if key != "labels"]
        if unknown:
            raise TaxonomyError(
                f"unknown top-level field(s) {', '.join(map(repr, unknown))}; "
                "a taxonomy has only 'labels'"
            )
        labels = data.get("labels")
        if not isinstance(labels, list):
            raise TaxonomyError(
                f"field 'labels' must be a list of labels, got {_kind(labels)}; "
                "write labels: [{name: ...}, ...]"
            )
        return cls(
            labels=tuple(
                Label.from_dict(item, where=f"labels[{i}]") for i, item in enumerate(labels)
            )
        )

    def with_label(self, label: Label) -> Taxonomy:
        """A copy with `label` appended; its name must be new."""
        if any(label_key(existing.name) == label_key(label.name) for existing in self.labels):
            raise TaxonomyError(
                f"label {label.name!r} already exists; rename it or use replace_label"
            )
        return Taxonomy(labels=(*self.labels, label))

    def replace_label(self, name: str, label: Label) -> Taxonomy:
        """A copy with the label called `name` replaced by `label` (same position)."""
        self[name]  # KeyError listing the labels when absent
        return Taxonomy(labels=tuple(label if lb.name == name else lb for lb in self.labels))


# --------------------------------------------------------------------------- validation


def validate(taxonomy: Taxonomy) -> None:
    """Raise TaxonomyError listing every problem (one per line), or return None."""
    problems = taxonomy_problems(taxonomy)
    if problems:
        head = "invalid taxonomy: " if len(problems) == 1 else "invalid taxonomy:\n  "
        raise TaxonomyError(head + "\n  ".join(problems), problems)


def taxonomy_problems(taxonomy: Taxonomy) -> list[str]:
    """Every problem in `taxonomy`, each naming the label and how to fix it; [] when valid."""
    if not taxonomy.labels:
        return ["the taxonomy has no labels; add at least one label with a name"]
    problems: list[str] = []
    seen: dict[str, str] = {}  # label_key(name) -> name as first written
    for index, label in enumerate(taxonomy.labels):
        name_problem = _name_problem(label.name, index)
        if name_problem:
            problems.append(name_problem)
            continue
        key = label_key(label.name)
        if key in seen:
            problems.append(
                f"label {label.name!r} duplicates label {seen[key]!r} (names are compared "
                "ignoring case, spacing and character width, as in ＢILLING and billing); "
                "rename or merge one of them"
            )
        else:
            seen[key] = label.name
        problems.extend(_label_problems(label))
    problems.extend(_total_problems(taxonomy))
    return problems


def label_key(name: str) -> str:
    """What two label names share when they read the same: 'Billing', ' BILLING ' and the
    full-width 'ＢILLING' -> 'billing'.

    NFKC (compatibility forms: full-width letters, ligatures, composed accents), casefolded
    (then NFKC again, as casefolding can denormalise), format characters (Unicode category
    Cf: zero-width spaces, bidi controls) removed, runs of spaces made one, ends trimmed.
    The one comparison of label names: duplicate labels here, gold labels in
    `core.ingest.gold`.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    visible = "".join(char for char in folded if unicodedata.category(char) != "Cf")
    return " ".join(visible.split())


def _total_problems(taxonomy: Taxonomy) -> list[str]:
    """Caps over the whole taxonomy: every keyword forms one matcher, every pattern reads
    every text."""
    problems = []
    keywords = sum(len(label.keywords) for label in taxonomy.labels)
    if keywords > MAX_KEYWORDS:
        problems.append(
            f"the taxonomy has {keywords:,} keywords, over the limit of {MAX_KEYWORDS:,} "
            "(they are all matched together); keep the ones that tell labels apart"
        )
    patterns = sum(len(label.patterns) for label in taxonomy.labels)
    if patterns > MAX_PATTERNS:
        problems.append(
            f"the taxonomy has {patterns:,} patterns, over the limit of {MAX_PATTERNS:,} "
            "(each one reads every document); merge patterns with | or drop some"
        )
    return problems


def _name_problem(name: Any, index: int) -> str | None:
    if not isinstance(name, str):
        return f"labels[{index}]: the name must be a string, got {_kind(name)}"
    if not name.strip():
        return f"labels[{index}]: the name is empty; give the label a name"
    if name != name.strip():
        return f"label {name!r}: the name starts or ends with whitespace; remove it"
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"label {name[:40]!r}...: the name is {len(name)} characters long; "
            f"shorten it to at most {MAX_NAME_LENGTH} (put detail in the description)"
        )
    for char in name:
        category = unicodedata.category(char)
        if category in _FORBIDDEN_NAME_CATEGORIES:
            kind = "format" if category == "Cf" else "control"
            called = unicodedata.name(char, "")
            return (
                f"label {name!r}: the name contains the invisible {kind} character "
                f"U+{ord(char):04X}{f' ({called})' if called else ''}; remove it "
                "(invisible characters make names that look the same but differ)"
            )
    return None


def _label_problems(label: Label) -> list[str]:
    where = f"label {label.name!r}"
    problems: list[str] = []
    if not isinstance(label.description, str):
        problems.append(f"{where}: the description must be a string")
    seen_terms: set[str] = set()
    if len(label.keywords) > MAX_KEYWORDS_PER_LABEL:
        problems.append(
            f"{where}: has {len(label.keywords):,} keywords, over the limit of "
            f"{MAX_KEYWORDS_PER_LABEL:,}; keep the ones that tell this label apart"
        )
    for keyword in label.keywords:
        problems.extend(_keyword_problems(keyword, where, seen_terms))
    if len(label.patterns) > MAX_PATTERNS_PER_LABEL:
        problems.append(
            f"{where}: has {len(label.patterns):,} patterns, over the limit of "
            f"{MAX_PATTERNS_PER_LABEL}; merge patterns with | or drop some"
        )
    for pattern in label.patterns:
        if isinstance(pattern, str) and len(pattern) > MAX_PATTERN_LENGTH:
            problems.append(
                f"{where}: pattern {_shortened(pattern)} is {len(pattern):,} characters long, "
                f"over the limit of {MAX_PATTERN_LENGTH}; split it into several patterns"
            )
            continue
        problem = pattern_problem(pattern)
        if problem:
            problems.append(f"{where}: pattern {pattern!r} {problem}")
    for entity_type in label.entity_types:
        if not isinstance(entity_type, str) or not entity_type.strip():
            problems.append(
                f"{where}: entity type {entity_type!r} must be a non-empty string such as 'MONEY'"
            )
    if not isinstance(label.colour, str) or (label.colour and not _COLOUR.fullmatch(label.colour)):
        problems.append(
            f"{where}: colour {label.colour!r} must be empty or '#rrggbb' (e.g. '#4e79a7')"
        )
    return problems


def _keyword_problems(keyword: Keyword, where: str, seen_terms: set[str]) -> list[str]:
    term, weight = keyword.term, keyword.weight
    if not isinstance(term, str) or not term.strip():
        return [f"{where}: keyword {term!r} is empty; remove it or write the word to look for"]
    if len(term) > MAX_KEYWORD_LENGTH:
        return [
            f"{where}: keyword {_shortened(term)} is {len(term):,} characters long, over the "
            f"limit of {MAX_KEYWORD_LENGTH}; a keyword is a word or a short phrase: shorten "
            "it, or write a pattern"
        ]
    surrogate = next((char for char in term if unicodedata.category(char) == "Cs"), None)
    if surrogate is not None:
        return [
            f"{where}: keyword {term!r} contains the unpaired surrogate U+{ord(surrogate):04X}, "
            "which is not text; remove it"
        ]
    problems = []
    folded = " ".join(term.casefold().split())
    if folded in seen_terms:
        problems.append(
            f"{where}: keyword {term!r} appears more than once; keep one and set its weight"
        )
    seen_terms.add(folded)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        problems.append(f"{where}: keyword {term!r} has weight {weight!r}; use a number > 0")
    elif not math.isfinite(weight) or weight <= 0:
        problems.append(
            f"{where}: keyword {term!r} has weight {weight!r}; use a finite number > 0 "
            "(1 is the default; remove the keyword rather than giving it weight 0)"
        )
    return problems


def _shortened(text: str) -> str:
    """The start of a long keyword or pattern, quoted, for a message."""
    return f"{text[:40]!r}..." if len(text) > 40 else repr(text)


# --------------------------------------------------------------------------- YAML / JSON


def load_taxonomy(text: str | bytes, fmt: str) -> Taxonomy:
    """Parse YAML or JSON text into a validated Taxonomy; TaxonomyError says what and where."""
    fmt = _check_format(fmt)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TaxonomyError(
                f"the taxonomy file is not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
    text = text.removeprefix("\ufeff")
    data = _parse_yaml(text) if fmt == "yaml" else _parse_json(text)
    if data is None:
        raise TaxonomyError("the taxonomy file is empty; expected a mapping with a 'labels' list")
    taxonomy = Taxonomy.from_dict(data)
    validate(taxonomy)
    return taxonomy


def dump_taxonomy(taxonomy: Taxonomy, fmt: str) -> str:
    """YAML or JSON text in the file shape; `load_taxonomy` reads it back equal."""
    fmt = _check_format(fmt)
    data = taxonomy.to_dict()
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    return yaml.dump(data, Dumper=_SafeDumper, sort_keys=False, allow_unicode=True, width=100)


def load_taxonomy_file(path: str | Path) -> Taxonomy:
    """Load a .yaml/.yml/.json taxonomy file; errors name the file."""
    path = Path(path)
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise TaxonomyError(
            f"{path.name}: unknown taxonomy file type {path.suffix!r}; "
            f"use one of {', '.join(sorted(_EXTENSIONS))}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read the taxonomy file ({exc.strerror})") from None
    try:
        return load_taxonomy(data, fmt)
    except TaxonomyError as exc:
        raise TaxonomyError(f"{path.name}: {exc}", exc.problems) from None


def dump_taxonomy_file(taxonomy: Taxonomy, path: str | Path) -> None:
    """Write `taxonomy` to a .yaml/.yml/.json file (format from the extension)."""
    path = Path(path)
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise TaxonomyError(
            f"{path.name}: unknown taxonomy file type {path.suffix!r}; "
            f"use one of {', '.join(sorted(_EXTENSIONS))}"
        )
    path.write_text(dump_taxonomy(taxonomy, fmt), encoding="utf-8")


def _check_format(fmt: str) -> str:
    normalised = str(fmt).lower().lstrip(".")
    normalised = "yaml" if normalised == "yml" else normalised
    if normalised not in FORMATS:
        raise TaxonomyError(f"unknown taxonomy format {fmt!r}; use 'yaml' or 'json'")
    return normalised


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping_without_duplicates(loader: _StrictSafeLoader, node: yaml.MappingNode):
    loader.flatten_mapping(node)
    seen: set[str] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            continue  # Taxonomy.from_dict reports non-string keys as unknown fields
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}; keep only one", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


class _SafeDumper(yaml.SafeDumper):
    """SafeDumper that quotes every string `_StrictSafeLoader` would read as something else."""


def _represent_str(dumper: _SafeDumper, data: str) -> yaml.ScalarNode:
    # YAML 1.1 treats NEL and the Unicode line/paragraph separators as line
    # breaks, which PyYAML folds in single-quoted scalars; escape them instead.
    style = '"' if any(char in data for char in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_SafeDumper.add_representer(str, _represent_str)


# YAML 1.1 (PyYAML) reads 1e-7 as a string; accept exponent floats as YAML 1.2 does.
# The dumper learns the same rule so that the *string* "1e5" is written quoted.
for _yaml_class in (_StrictSafeLoader, _SafeDumper):
    _yaml_class.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
_StrictSafeLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_without_duplicates
)


def _parse_yaml(text: str) -> Any:
    try:
        # A SafeLoader subclass: only plain data, never Python objects.
        return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TaxonomyError(f"the taxonomy is not valid YAML{where}: {problem}") from None


def _parse_json(text: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
        keys = [key for key, _ in pairs]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise TaxonomyError(
                f"the taxonomy JSON repeats the key(s) {', '.join(map(repr, duplicates))} "
                "in one object; keep only one"
            )
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise TaxonomyError(
            f"the taxonomy is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return f"{type(value).__name__} ({text[:40]}{'...' if len(text) > 40 else ''})"


def _optional_string(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TaxonomyError(
            f"{where}: field {key!r} must be a string, got {_kind(value)} "
            "(quote it in YAML if it looks like a number, date or yes/no)"
        )
    return value


def _optional_list(data: dict, key: str, where: str) -> list:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TaxonomyError(
            f"{where}: field {key!r} must be a list, got {_kind(value)}; write {key}: [...]"
        )
    return value


def _string_list(data: dict, key: str, where: str) -> tuple[str, ...]:
    items = _optional_list(data, key, where)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TaxonomyError(
                f"{where}: {key}[{i}] must be a string, got {_kind(item)} "
                "(quote it in YAML if it looks like a number, date or yes/no)"
            )
    return tuple(items)


def _keyword_from(item: Any, where: str) -> Keyword:
    if isinstance(item, str):
        return Keyword(item)
    if not isinstance(item, dict):
        raise TaxonomyError(
            f"{where}: a keyword must be a string or a mapping {{term: ..., weight: ...}}, "
            f"got {_kind(item)}"
        )
    unknown = [key for key in item if key not in _KEYWORD_FIELDS]
    if unknown:
        raise TaxonomyError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
            "a keyword has only 'term' and 'weight'"
        )
    term = item.get("term")
    if not isinstance(term, str):
        raise TaxonomyError(f"{where}: field 'term' must be a string, got {_kind(term)}")
    weight = item.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise TaxonomyError(
            f"{where} ({term!r}): field 'weight' must be a number, got {_kind(weight)}"
        )
    return Keyword(term, float(weight))


# --------------------------------------------------------------------------- colours

# Tableau 10: distinct, colour-blind-friendlier than the matplotlib default cycle.
_BASE_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
_GOLDEN_ANGLE = 0.381966  # fraction of the hue circle; successive hues stay far apart


def default_palette(n: int) -> list[str]:
    """`n` distinct '#rrggbb' colours, always the same for the same n (prefix-stable)."""
    colours = list(_BASE_PALETTE[:n])
    for i in range(len(colours), n):
        k = i - len(_BASE_PALETTE)
        hue = (0.07 + k * _GOLDEN_ANGLE) % 1.0
        lightness = (0.45, 0.60, 0.35)[k % 3]
        red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.55)
        colour = f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"
        colours.append(colour)
    return colours


def with_default_colours(taxonomy: Taxonomy) -> Taxonomy:
    """A copy where every label without a colour gets the first palette colour not yet used."""
    used = {label.colour.lower() for label in taxonomy.labels if label.colour}
    palette = _unused_colours(used, sum(1 for label in taxonomy.labels if not label.colour))
    labels = []
    for label in taxonomy.labels:
        labels.append(label if label.colour else replace(label, colour=next(palette)))
    return Taxonomy(labels=tuple(labels))


def _unused_colours(used: set[str], needed: int) -> Iterator[str]:
    candidates = [c for c in default_palette(needed + len(used)) if c not in used]
    return iter(candidates)
