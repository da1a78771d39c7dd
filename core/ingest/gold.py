"""Uploaded gold labels against the taxonomy's label names, matched ignoring case and spaces.

Gold labels are stored exactly as the file gave them. They are matched to the taxonomy
where they are used — when Evaluate measures against them — because the taxonomy can be
written, or change, after the upload; the same match is reported when a file is imported
(Upload page, `python -m core ingest`) so that "sport" vs "Sport" is seen there too.

A gold value matches the label with the same name; else the one label whose name is equal
once both are normalised as taxonomy validation compares names (`core.taxonomy.label_key`:
NFKC, casefolded, invisible format characters dropped, spaces trimmed and made one).
Values that match no label are kept as given and left out of evaluation.

    match = match_gold_labels([("sport",), ("Sport", "footy")], ["Sport", "News"])
    match.labels_for(("sport",))  # ["Sport"]
    match.mapping_lines()         # ["sport → Sport: 1 document"]
    match.unknown                 # (("footy", 1),)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.taxonomy import label_key  # one comparison of label names, shared with validation

MAX_LISTED = 10  # values named in one sentence; the rest are counted


def _shown(value: str) -> str:
    """The value itself, or quoted where its spaces would not show."""
    return value if value == " ".join(value.split()) else repr(value)


def documents(n: int) -> str:
    return f"{n:,} document{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class GoldMatch:
    """How the gold labels of a set of documents match a taxonomy's label names."""

    label_names: tuple[str, ...]
    n_documents: int  # documents with at least one gold label
    n_matched_documents: int  # of those, documents with at least one value matching a label
    resolved: Mapping[str, str] = field(default_factory=dict)  # gold value -> label name
    mapped: tuple[tuple[str, str, int], ...] = ()  # (value, label, documents): value != label
    unknown: tuple[tuple[str, int], ...] = ()  # (value, documents) matching no label

    def labels_for(self, gold: Iterable[str]) -> list[str]:
        """The taxonomy labels a document's gold values stand for, in order, once each."""
        return list(dict.fromkeys(self.resolved[v] for v in gold if v in self.resolved))

    @property
    def n_unmatched_documents(self) -> int:
        """Documents with gold labels of which none matches a label (left out of evaluation)."""
        return self.n_documents - self.n_matched_documents

    def mapping_lines(self) -> list[str]:
        """['sport → Sport: 412 documents', ...], most documents first."""
        return [f"{_shown(value)} → {label}: {documents(n)}" for value, label, n in self.mapped]

    def unknown_text(self, limit: int = MAX_LISTED) -> str:
        """'footy' (3 documents), 'misc' (1 document): most documents first, at most `limit`."""
        named = [f"{value!r} ({documents(n)})" for value, n in self.unknown[:limit]]
        more = len(self.unknown) - limit
        return ", ".join(named) + (f" and {more:,} more" if more > 0 else "")

    def notes(self) -> list[str]:
        """Sentences for an import report: the case-insensitive matches, the unknown values."""
        notes = []
        if self.mapped:
            lines = self.mapping_lines()
            shown = "; ".join(lines[:MAX_LISTED])
            more = f"; and {len(lines) - MAX_LISTED:,} more" if len(lines) > MAX_LISTED else ""
            notes.append(f"gold labels matched to taxonomy labels ignoring case: {shown}{more}")
        if self.unknown and not self.label_names:
            notes.append(
                "the taxonomy has no labels yet; Evaluate will match these gold labels to the "
                f"label names ignoring case: {self.unknown_text()}"
            )
        elif self.unknown:
            notes.append(
                "gold labels that match no taxonomy label, kept as given (Evaluate ignores "
                f"them): {self.unknown_text()}"
            )
        return notes


def match_gold_labels(
    gold_per_document: Iterable[Sequence[str]], label_names: Sequence[str]
) -> GoldMatch:
    """Each document's gold values (empty ones skipped) against the label names."""
    names = tuple(label_names)
    exact = set(names)
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(label_key(name), []).append(name)
    resolved: dict[str, str] = {}
    unknown: set[str] = set()
    counts: Counter[str] = Counter()  # value -> documents carrying it
    n_documents = n_matched = 0
    for gold in gold_per_document:
        values = set(gold)
        if not values:
            continue
        n_documents += 1
        counts.update(values)
        for value in values - resolved.keys() - unknown:
            candidates = [value] if value in exact else by_key.get(label_key(value), [])
            if len(candidates) == 1:
                resolved[value] = candidates[0]
            else:
                unknown.add(value)
        n_matched += any(value in resolved for value in values)
    return GoldMatch(
        label_names=names,
        n_documents=n_documents,
        n_matched_documents=n_matched,
        resolved=resolved,
        mapped=tuple(
            (value, label, counts[value])
            for value, label in sorted(resolved.items(), key=lambda kv: (-counts[kv[0]], kv[0]))
            if value != label
        ),
        unknown=tuple(sorted(((v, counts[v]) for v in unknown), key=lambda vn: (-vn[1], vn[0]))),
    )


__all__ = ["GoldMatch", "documents", "label_key", "match_gold_labels"]
