"""Safe regular expressions and inflection-tolerant keyword matching.

Two things the rules and lexicon techniques (and taxonomy validation) share:

* `regex_hazard(pattern)`: a static check for patterns prone to catastrophic
  backtracking: a repeat nested in another repeat (`(a+)+`, `(\\w+\\s?)+`) or
  ambiguous alternatives under a repeat (`(a|a)*`, `(a|aa)+`). It walks the
  tree from Python's own regex parser (`re._parser`). That parser merges
  single-character alternatives into one class, so `(?:[a-z]|[aeiou])+` looks
  harmless to it, and it does not see polynomial blow-ups from adjacent
  repeats (`\\w*\\w*\\w*!`). The per-text `timeout` of the `regex` module,
  which the rules technique always passes, is the second line of defence.

* `KeywordMatcher`: one compiled regex for all keywords of a taxonomy. Every
  keyword is expanded to its surface forms (plural, -ing, -ed, possessive;
  phrases inflect their last word and allow any whitespace or a hyphen between
  words), the forms are merged into a character trie and emitted as a single
  alternation, so the engine tries only the branches that share the text's
  next character instead of every keyword at every position.
"""

from __future__ import annotations

import re
import re._constants as _sre  # type: ignore[import-not-found]
import re._parser as _sre_parse  # type: ignore[import-not-found]
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import regex

# --------------------------------------------------------------------------- regex safety
# re._parser is Python's own regex parser (public as sre_parse before 3.11); its
# trees are lists of (opcode, argument) pairs, opcodes from re._constants.
# (typeshed stubs both only under their old names, hence the type: ignore on the imports.)

_UNBOUNDED = _sre.MAXREPEAT
_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT}  # backtracking repeats (greedy and lazy)
_NON_BACKTRACKING = {_sre.ATOMIC_GROUP, _sre.POSSESSIVE_REPEAT}  # nothing inside is retried

# Regex-module syntax that Python's parser rejects, rewritten to an equivalent
# for the purpose of the structural check only (the real pattern is never changed).
_REGEX_ONLY_SYNTAX = [
    (re.compile(r"\\[pP]\{[^}]*\}|\\[pP][A-Za-z]"), r"\\w"),  # Unicode properties
    (re.compile(r"\\X"), "."),  # grapheme cluster
    (re.compile(r"\\[mM]"), r"\\b"),  # start/end of word
    (re.compile(r"\\[GK]"), ""),  # search anchor, keep-out
]


def regex_hazard(pattern: str) -> str | None:
    """Why `pattern` may backtrack catastrophically, or None if the static check finds nothing.

    Patterns the check cannot parse (regex-module extensions beyond the ones it
    rewrites) return None: the matching timeout still applies to them.
    """
    tree = _parse_for_analysis(pattern)
    if tree is None:
        return None
    return _hazard_in(tree)


def _parse_for_analysis(pattern: str):
    candidates = [pattern]
    rewritten = pattern
    for finder, replacement in _REGEX_ONLY_SYNTAX:
        rewritten = finder.sub(replacement, rewritten)
    if rewritten != pattern:
        candidates.append(rewritten)
    for candidate in candidates:
        try:
            return _sre_parse.parse(candidate)
        except (re.error, OverflowError, RecursionError):
            continue
    return None


def _children(op, av) -> list:
    """Sub-sequences of one parsed node (each a list of (op, av))."""
    if op in _REPEATS or op == _sre.POSSESSIVE_REPEAT:
        return [av[2]]
    if op == _sre.SUBPATTERN:
        return [av[3]]
    if op == _sre.ATOMIC_GROUP:
        return [av]
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return [av[1]]
    if op == _sre.BRANCH:
        return list(av[1])
    if op == _sre.GROUPREF_EXISTS:
        return [branch for branch in av[1:] if branch is not None]
    return []


def _hazard_in(sequence) -> str | None:
    for op, av in sequence:
        if op in _REPEATS and av[1] > 1:
            reason = _repeat_hazard(av[0], av[1], av[2])
            if reason:
                return reason
        for child in _children(op, av):
            reason = _hazard_in(child)
            if reason:
                return reason
    return None


def _repeat_hazard(low: int, high: int, body) -> str | None:
    outer_unbounded = high == _UNBOUNDED
    for op, av in _walk_backtracking(body):
        if op in _REPEATS:
            inner_low, inner_high = av[0], av[1]
            inner_unbounded = inner_high == _UNBOUNDED
            inner_variable = inner_high > 1 and inner_low != inner_high
            if inner_unbounded or (outer_unbounded and inner_variable):
                return (
                    "it repeats a group that itself contains a repeat (like (a+)+ or (\\w+\\s?)+), "
                    "which can take exponential time on text that almost matches; make the "
                    "inner repeat possessive (a++ instead of a+) or atomic ((?>a+)), "
                    "or drop the outer repeat"
                )
        elif op == _sre.BRANCH and outer_unbounded and _ambiguous_branch(av[1]):
            return (
                "it repeats a choice whose alternatives can match the same text "
                "(like (a|a)* or (a|aa)+), which can take exponential time on text "
                "that almost matches; make the alternatives start differently, or make the "
                "group atomic ((?>a|aa)+)"
            )
    return None


def _walk_backtracking(sequence) -> Iterator[tuple]:
    """Every node in `sequence`, depth first, not descending into atomic parts."""
    for op, av in sequence:
        if op in _NON_BACKTRACKING:
            continue
        yield op, av
        for child in _children(op, av):
            yield from _walk_backtracking(child)


def _ambiguous_branch(alternatives) -> bool:
    if any(_nullable(alt) for alt in alternatives):
        # An empty alternative usually means Python's parser factored a common
        # prefix out of (a|aa) into a(?:|a): the original choice was ambiguous.
        return True
    firsts = [_first_atoms(alt) for alt in alternatives]
    for i in range(len(firsts)):
        for j in range(i + 1, len(firsts)):
            if _atoms_overlap(firsts[i], firsts[j]):
                return True
    return False


def _nullable(sequence) -> bool:
    """Can `sequence` match the empty string?"""
    return all(_node_nullable(op, av) for op, av in sequence)


def _node_nullable(op, av) -> bool:
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT, _sre.GROUPREF):
        return True
    if op in _REPEATS or op == _sre.POSSESSIVE_REPEAT:
        return av[0] == 0 or _nullable(av[2])
    if op == _sre.SUBPATTERN:
        return _nullable(av[3])
    if op == _sre.ATOMIC_GROUP:
        return _nullable(av)
    if op == _sre.BRANCH:
        return any(_nullable(alt) for alt in av[1])
    if op == _sre.GROUPREF_EXISTS:
        return any(branch is None or _nullable(branch) for branch in av[1:])
    return False


def _first_atoms(sequence) -> list[tuple]:
    """The single-character nodes a match of `sequence` can start with."""
    atoms: list[tuple] = []
    for op, av in sequence:
        if op in (_sre.LITERAL, _sre.NOT_LITERAL, _sre.ANY, _sre.IN):
            atoms.append((op, av))
        elif op == _sre.GROUPREF:
            atoms.append((_sre.ANY, None))  # could start with anything the group matched
        else:
            for child in _children(op, av):
                if op not in (_sre.ASSERT, _sre.ASSERT_NOT):
                    atoms.extend(_first_atoms(child))
        if not _node_nullable(op, av):
            break
    return atoms


_CATEGORY_TESTS: dict = {
    _sre.CATEGORY_DIGIT: lambda ch: bool(re.match(r"\d", ch)),
    _sre.CATEGORY_NOT_DIGIT: lambda ch: not re.match(r"\d", ch),
    _sre.CATEGORY_SPACE: lambda ch: bool(re.match(r"\s", ch)),
    _sre.CATEGORY_NOT_SPACE: lambda ch: not re.match(r"\s", ch),
    _sre.CATEGORY_WORD: lambda ch: bool(re.match(r"\w", ch)),
    _sre.CATEGORY_NOT_WORD: lambda ch: not re.match(r"\w", ch),
}
# Characters every overlap test tries, besides those the two atoms mention.
_SAMPLE_CHARS = string.printable + "\u00a0\u2028éÉßıİ٣"


def _atom_matches(op, av, ch: str) -> bool:
    # Case-insensitive on purpose: rules match case-insensitively by default.
    variants = {ch, ch.lower(), ch.upper()}
    if op == _sre.ANY:
        return True
    if op == _sre.LITERAL:
        return chr(av) in variants
    if op == _sre.NOT_LITERAL:
        return any(v != chr(av) for v in variants)
    negate = bool(av) and av[0][0] == _sre.NEGATE
    hit = any(_set_item_matches(item_op, item_av, v) for item_op, item_av in av for v in variants)
    return hit != negate


def _set_item_matches(op, av, ch: str) -> bool:
    if op == _sre.LITERAL:
        return ch == chr(av)
    if op == _sre.RANGE:
        return av[0] <= ord(ch) <= av[1]
    if op == _sre.CATEGORY:
        test = _CATEGORY_TESTS.get(av)
        return True if test is None else test(ch)
    return False  # NEGATE marker


def _mentioned_chars(atoms) -> set[str]:
    chars: set[str] = set()
    for op, av in atoms:
        if op in (_sre.LITERAL, _sre.NOT_LITERAL):
            chars.add(chr(av))
        elif op == _sre.IN:
            for item_op, item_av in av:
                if item_op == _sre.LITERAL:
                    chars.add(chr(item_av))
                elif item_op == _sre.RANGE:
                    chars.update((chr(item_av[0]), chr(item_av[1])))
    return chars | {c.lower() for c in chars} | {c.upper() for c in chars}


def _atoms_overlap(left, right) -> bool:
    candidates = set(_SAMPLE_CHARS) | _mentioned_chars(left) | _mentioned_chars(right)
    for ch in candidates:
        if len(ch) != 1:
            continue
        if any(_atom_matches(op, av, ch) for op, av in left) and any(
            _atom_matches(op, av, ch) for op, av in right
        ):
            return True
    return False


# --------------------------------------------------------------------------- inflection

_VOWELS = set("aeiou")
_APOSTROPHES = "'\u2019"  # straight and typographic
_SEPARATOR = "\x00"  # stands for "whitespace or a hyphen between words" inside forms
_SEPARATOR_REGEX = r"(?:\s*-\s*|\s+)"
_APOSTROPHE_MARK = "\x01"  # stands for either apostrophe inside forms
_APOSTROPHE_REGEX = "['\u2019]"


def word_forms(word: str) -> list[str]:
    """`word` and its regular inflections: plural/3rd person, -ing, -ed, possessive.

    Over-generates on purpose ("ship" -> "shiped" as well as "shipped"): a form
    no one writes never matches, a missing one loses evidence. Words that do not
    end in a letter get only themselves. The word keeps its case (matching is
    case-insensitive anyway; lower-casing would turn "İ" into two characters).
    """
    lower = word.lower()
    forms = {word}
    if not word or not word[-1].isalpha():
        return sorted(forms)
    stems_ing_ed = {word}
    if lower.endswith("e"):  # charge -> charging, charged
        stems_ing_ed.add(word[:-1])
    if _doubles_final_consonant(lower):  # ship -> shipping, shipped
        stems_ing_ed.add(word + word[-1])
    for stem in stems_ing_ed:
        forms.add(stem + "ing")
        forms.add(stem + "d" if stem.lower().endswith("e") else stem + "ed")
    forms.add(word + "s")
    if lower.endswith(("s", "x", "z", "ch", "sh", "o")):  # tax -> taxes
        forms.add(word + "es")
    if len(lower) > 1 and lower.endswith("y") and lower[-2] not in _VOWELS:  # reply -> replies
        forms.update({word[:-1] + "ies", word[:-1] + "ied"})
    if lower.endswith("f"):  # shelf -> shelves
        forms.add(word[:-1] + "ves")
    if lower.endswith("fe"):  # knife -> knives
        forms.add(word[:-2] + "ves")
    forms.add(word + _APOSTROPHE_MARK + "s")  # customer's (customers' ends on a boundary)
    return sorted(forms)


def _doubles_final_consonant(word: str) -> bool:
    """Consonant-vowel-consonant ending (ship, plan, cancel), final letter not w/x/y."""
    if len(word) < 3 or not word[-3:].isalpha():
        return False
    a, b, c = word[-3], word[-2], word[-1]
    return a not in _VOWELS and b in _VOWELS and c not in _VOWELS and c not in "wxy"


def term_forms(term: str) -> list[str]:
    """Surface forms of a keyword or phrase; phrases inflect only their last word.

    Forms keep the case of the term; `_SEPARATOR` and `_APOSTROPHE_MARK` mark where the
    regex allows flexible whitespace/hyphens and either apostrophe.
    """
    words = [_mark_apostrophes(word) for word in term.split()]
    if not words:
        return []
    head = _SEPARATOR.join(words[:-1])
    prefix = head + _SEPARATOR if head else ""
    return sorted({prefix + form for form in word_forms(words[-1])})


def _mark_apostrophes(text: str) -> str:
    for apostrophe in _APOSTROPHES:
        text = text.replace(apostrophe, _APOSTROPHE_MARK)
    return text


_KEY_SEPARATORS = regex.compile(r"\s*-\s*|\s+")


def match_key(text: str) -> str:
    """Canonical key of a matched or generated form: casefolded, one space between words."""
    text = text.replace(_SEPARATOR, " ").replace(_APOSTROPHE_MARK, "'")
    text = text.replace("\u2019", "'")
    return _KEY_SEPARATORS.sub(" ", text).casefold()


def _trie_regex(forms: Sequence[str]) -> str:
    """Alternation of `forms` merged on common prefixes, longest match preferred."""
    trie: dict = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}  # end-of-form marker

    def emit(node: dict) -> str:
        branches = [
            _char_regex(char) + emit(child) for char, child in sorted(node.items()) if char != ""
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a form may end here: try to extend first (greedy), then stop
            return ("(?:" + body + ")" if len(branches) == 1 else body) + "?"
        return body

    return emit(trie)


def _char_regex(char: str) -> str:
    if char == _SEPARATOR:
        return _SEPARATOR_REGEX
    if char == _APOSTROPHE_MARK:
        return _APOSTROPHE_REGEX
    return regex.escape(char)


@dataclass(frozen=True)
class KeywordHit:
    start: int
    end: int
    keys: tuple  # the caller's keys of every keyword with this surface form


class KeywordMatcher:
    """Finds every keyword of a list in a text with one compiled regex.

    `entries` is a list of (key, term): the key is handed back with each hit
    (e.g. (label, keyword index)). Terms are matched case-insensitively on word
    boundaries, with inflections (see `term_forms`); where forms overlap the
    longest one wins, as a tokenizer would. Several keys may share a surface
    form; every one of them is reported.
    """

    def __init__(self, entries: Sequence[tuple[object, str]]) -> None:
        self._keys_by_form: dict[str, list] = {}
        forms: set[str] = set()
        for key, term in entries:
            for form in term_forms(term):
                forms.add(form)
                keys = self._keys_by_form.setdefault(match_key(form), [])
                if key not in keys:
                    keys.append(key)
        self._pattern = (
            regex.compile(r"(?<!\w)(?:" + _trie_regex(sorted(forms)) + r")(?!\w)", regex.IGNORECASE)
            if forms
            else None
        )

    def finditer(self, text: str) -> Iterator[KeywordHit]:
        if self._pattern is None:
            return
        for match in self._pattern.finditer(text):
            keys = self._keys_by_form.get(match_key(match.group()))
            if keys and match.end() > match.start():
                yield KeywordHit(match.start(), match.end(), tuple(keys))


# Shared by techniques that need a token count (length normalisation).
_TOKEN = regex.compile(r"\w+")


def count_tokens(text: str) -> int:
    return sum(1 for _ in _TOKEN.finditer(text))
