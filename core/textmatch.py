"""Linear-time regular expressions (Google RE2) and inflection-tolerant keyword matching.

Two things the rules and lexicon techniques (and taxonomy validation) share:

* Rule patterns run on RE2 (`google-re2`), an automaton engine: matching time
  is linear in the text for every pattern, so there is no catastrophic
  backtracking to detect and no wall-clock timeout deciding a result (a
  timeout fires or not depending on the machine's load). What bounds the cost
  instead, by construction:
    - `RE2_MAX_MEM`: the memory one compiled pattern may use; RE2 refuses to
      compile bigger programs (`(?:a{65535}){65535}`, `\\pL{1000}`), and also
      refuses nested repeat counts over 1,000;
    - `MAX_PROGRAM_SIZE`: the compiled program's instruction count, which is
      what each scanned character costs at worst (the automaton simulation);
    - `MAX_SCANNED_CHARS`: how much of one text a pattern reads.
  RE2 has no look-around, backreferences, atomic groups or possessive repeats,
  nor the `regex` module's extra flags; `pattern_problem` names what a refused
  pattern uses and what to write instead. `\\b`, `\\w`, `\\d` and `\\s` are
  ASCII-only in RE2; `\\pL` (any letter) and `\\pN` cover other scripts.

      compiled = compile_pattern(r"\\binvoice\\s*\\d+", case_sensitive=False)  # or PatternError
      text = Utf8Text("Invoice 12 and invoice 13")
      list(find_spans(compiled, text))  # [(0, 10), (15, 25)]: str offsets

* `KeywordMatcher`: one RE2 program for all keywords of a taxonomy. Every
  keyword is expanded to its surface forms (plural, -ing, -ed, possessive;
  phrases inflect their last word and allow any whitespace or a hyphen between
  words), the forms are merged into a character trie (built and emitted
  without recursion, so a long keyword cannot overflow the stack) and emitted
  as one alternation that prefers the longest form. One pass over the text
  finds every keyword: cost linear in the text, whatever the number of keywords.

`ENGINE` names the engine and its version; the techniques put it into their
config so predictions cached under another engine are never reused.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information
import regex

# --------------------------------------------------------------------------- RE2 patterns


def _engine_version() -> str:
    try:
        return metadata.version("google-re2")
    except metadata.PackageNotFoundError:  # pragma: no cover - installed from requirements.txt
        return "unknown"


# Bumped by hand when the way matches are found changes (not only the library).
_MATCHING_REVISION = 1
ENGINE = f"re2 {_engine_version()}, matching {_MATCHING_REVISION}"

RE2_MAX_MEM = 8 << 20  # bytes per compiled rule pattern (program + automaton cache): RE2's default
MAX_PROGRAM_SIZE = 50_000  # RE2 instructions per rule pattern: `(?:.{1,30}){1,30}` is about 8,100
MAX_SCANNED_CHARS = 200_000  # characters of a text a rule pattern reads (ingest caps texts at 100k)
KEYWORDS_MAX_MEM = 64 << 20  # bytes for all keywords of a taxonomy (5,000 of 200 chars: ~32 MiB)


class PatternError(ValueError):
    """A pattern RE2 cannot or will not run; the message follows "pattern '...' " and says
    what to write instead."""


def re2_options(*, case_sensitive: bool, max_mem: int = RE2_MAX_MEM) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.max_mem = max_mem
    options.log_errors = False  # the caller reports the error with the label and pattern
    return options


def compile_pattern(pattern: str, *, case_sensitive: bool = False):
    """`pattern` compiled by RE2 within the memory and size limits; PatternError otherwise."""
    surrogate = next((char for char in pattern if "\ud800" <= char <= "\udfff"), None)
    if surrogate is not None:  # not text: RE2 reads UTF-8, which cannot hold one
        raise PatternError(
            f"contains the unpaired surrogate U+{ord(surrogate):04X}, which is not text; remove it"
        )
    try:
        compiled = re2.compile(pattern, re2_options(case_sensitive=case_sensitive))
    except re2.error as exc:
        raise PatternError(_explain(_error_text(exc))) from None
    if compiled.programsize > MAX_PROGRAM_SIZE:
        raise PatternError(
            f"compiles to {compiled.programsize:,} automaton instructions, over the limit of "
            f"{MAX_PROGRAM_SIZE:,} (each one is work on every character scanned); use smaller "
            "repeat counts or narrower character classes, or split it into several patterns"
        )
    return compiled


def pattern_problem(pattern: object) -> str | None:
    """What is wrong with one rule pattern (phrased to follow "pattern '...' "), or None."""
    if not isinstance(pattern, str) or not pattern:
        return "is empty; remove it or write a regular expression"
    try:
        compiled = compile_pattern(pattern)
    except PatternError as exc:
        return str(exc)
    if compiled.fullmatch("") is not None:
        return (
            "matches the empty string, so it would fire on every text; "
            "require at least one character (e.g. a+ instead of a*)"
        )
    return None


def _error_text(exc: re2.error) -> str:
    detail = exc.args[0] if exc.args else ""
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)


_NO_LOOKAROUND = "RE2 has no look-around (it is what keeps matching linear-time); "
_NEVER_BACKTRACKS = "which RE2 does not need (it never backtracks): "
# (start of RE2's error text, what the pattern uses and what to write instead)
_EXPLANATIONS: tuple[tuple[str, str], ...] = (
    (
        "invalid perl operator: (?<=",
        "uses look-behind (?<=...); " + _NO_LOOKAROUND + "match the preceding text as part of "
        "the pattern instead (invoice\\s*\\d+ rather than (?<=invoice )\\d+)",
    ),
    (
        "invalid perl operator: (?<!",
        "uses negative look-behind (?<!...); " + _NO_LOOKAROUND + "use \\b or a character "
        "class before the match ((?:^|[^x])abc), or drop the condition",
    ),
    (
        "invalid perl operator: (?=",
        "uses look-ahead (?=...); " + _NO_LOOKAROUND + "include the following text in the "
        "pattern (refund\\s+request rather than refund(?=\\s+request))",
    ),
    (
        "invalid perl operator: (?!",
        "uses negative look-ahead (?!...); " + _NO_LOOKAROUND + "use \\b or a character "
        "class after the match (abc(?:[^x]|$)), or drop the condition",
    ),
    (
        "invalid perl operator: (?>",
        "uses an atomic group (?>...), " + _NEVER_BACKTRACKS + "write (?:...) instead",
    ),
    (
        "invalid perl operator: (?P",
        "uses (?P=name) or another (?P...) form; RE2 has (?P<name>...) groups but no "
        "backreferences (they are what makes matching exponential): spell the text out",
    ),
    ("invalid perl operator: (?#", "uses a comment (?#...), which RE2 does not have: remove it"),
    (
        "invalid perl operator: (?",
        "uses a group or inline flag that RE2 does not support (the regex module's (?V1), "
        "(?r), (?x), (?u) and conditionals are not RE2); RE2 takes the flags i, m, s and U, "
        "as in (?i) or (?i:...)",
    ),
    (
        "bad repetition operator: ",
        "repeats a repeat (a++, a*+, a{2}+ or a**): possessive repeats are something RE2 "
        "does not need (it never backtracks), so write a single repeat (a+)",
    ),
    (
        "invalid repetition size",
        "repeats more than RE2 allows: at most 1,000 times, counting nested repeats "
        "multiplied ((?:a{100}){100} is 10,000); use smaller counts, or + and *",
    ),
    (
        "pattern too large",
        f"compiles to more than the {RE2_MAX_MEM >> 20} MiB one pattern may use; use smaller "
        "repeat counts or narrower character classes (\\pL{1000} is too big), or split it",
    ),
    ("invalid escape sequence: \\Z", "uses \\Z, which RE2 spells \\z (end of text): write \\z"),
    ("invalid escape sequence: \\m", "uses \\m (start of word), which RE2 lacks: write \\b"),
    ("invalid escape sequence: \\M", "uses \\M (end of word), which RE2 lacks: write \\b"),
    ("invalid escape sequence: \\u", "uses \\uXXXX, which RE2 writes \\x{XXXX} (\\x{E9} is é)"),
    ("invalid escape sequence: \\U", "uses \\UXXXXXXXX, which RE2 writes \\x{...} (\\x{1F600})"),
)


def _explain(error: str) -> str:
    """RE2's error text -> a sentence that follows "pattern '...' " and says how to fix it."""
    for start, explanation in _EXPLANATIONS:
        if error.startswith(start):
            return explanation
    operator, _, fragment = error.partition(": ")
    if operator == "invalid escape sequence" and (
        fragment[1:2].isdigit() or fragment in ("\\g", "\\k")
    ):
        return (
            f"uses the backreference {fragment}, which RE2 does not have (backreferences are "
            "what makes matching exponential): spell the repeated text out"
        )
    if operator == "invalid escape sequence":
        return (
            f"uses the escape {fragment}, which RE2 does not support "
            "(its syntax: https://github.com/google/re2/wiki/Syntax); write the character "
            "itself, with a backslash before it if it is special"
        )
    return (
        f"is not a valid regular expression ({error}); "
        "fix it, or escape special characters like ( [ . * + ? with a backslash"
    )


# RE2 reads UTF-8; offsets it reports are in bytes. Continuation bytes (0b10xxxxxx) are the
# bytes that do not start a character: deleting them from a slice leaves one byte per character.
_CONTINUATION = bytes(range(0x80, 0xC0))


class Utf8Text:
    """A text as RE2 reads it (UTF-8 bytes), with the way back to str offsets.

    Lone surrogates (which no upload contains, but a caller might pass) are encoded as
    their 3 bytes rather than refused, so offsets stay exact.
    """

    __slots__ = ("data", "_ascii")

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8", "surrogatepass")
        self._ascii = len(self.data) == len(text)

    def offsets(self) -> Callable[[int], int]:
        """byte offset -> str offset; linear over increasing offsets (as matches come)."""
        if self._ascii:
            return int
        data = self.data
        last_byte = last_char = 0

        def to_char(offset: int) -> int:
            nonlocal last_byte, last_char
            if offset < last_byte:  # only when called out of order: count from the start
                last_byte = last_char = 0
            last_char += len(data[last_byte:offset].translate(None, _CONTINUATION))
            last_byte = offset
            return last_char

        return to_char


def find_spans(compiled, text: Utf8Text) -> Iterator[tuple[int, int]]:
    """(start, end) str offsets of every non-empty match of `compiled`, in order."""
    to_char = text.offsets()
    for match in compiled.finditer(text.data):
        start, end = match.span()
        if end > start:
            yield to_char(start), to_char(end)


# --------------------------------------------------------------------------- inflection

_VOWELS = set("aeiou")
_APOSTROPHES = "'\u2019"  # straight and typographic
_SEPARATOR = "\x00"  # stands for "whitespace or a hyphen between words" inside forms
# Whitespace as Python's \s has it (RE2's \s is ASCII only).
_SPACE = r"[\s\v\x1c-\x1f\x{85}\p{Z}]"
_SEPARATOR_REGEX = f"(?:{_SPACE}*-{_SPACE}*|{_SPACE}+)"
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
    """Alternation of `forms` merged on common prefixes, longest match preferred.

    Built and emitted with explicit stacks, not recursion: a 200-character keyword is a
    trie 200 nodes deep. Each node's regex is its children's, in character order, each
    after its character; a node where a form may end makes the rest optional (greedy: try
    to extend first, then stop there)."""
    trie: dict = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}  # end-of-form marker
    emitted: dict[int, str] = {}  # id(node) -> its regex, once all its children are emitted
    stack: list[tuple[dict, bool]] = [(trie, False)]
    while stack:
        node, children_done = stack.pop()
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for char, child in node.items() if char != "")
            continue
        branches = [
            _char_regex(char) + emitted.pop(id(child))
            for char, child in sorted(node.items())
            if char != ""
        ]
        if not branches:
            emitted[id(node)] = ""
            continue
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            body = ("(?:" + body + ")" if len(branches) == 1 else body) + "?"
        emitted[id(node)] = body
    return emitted[id(trie)]


@functools.cache
def _char_regex(char: str) -> str:
    if char == _SEPARATOR:
        return _SEPARATOR_REGEX
    if char == _APOSTROPHE_MARK:
        return _APOSTROPHE_REGEX
    if "\ud800" <= char <= "\udfff":  # an unpaired surrogate (validation refuses them)
        return _NOTHING  # is no character RE2 can read: such a form never matches
    return re2.escape(char)


_NOTHING = r"[^\x00-\x{10FFFF}]"


# What counts as a word character next to a keyword: letters, marks, digits and connector
# punctuation in any script (Python's \w, near enough; RE2's own \w is ASCII only).
_WORD_CHARS = r"\pL\pM\pN\p{Pc}"


@dataclass(frozen=True)
class KeywordHit:
    start: int
    end: int
    keys: tuple  # the caller's keys of every keyword with this surface form


class KeywordMatcher:
    """Finds every keyword of a list in a text with one RE2 program, in one pass.

    `entries` is a list of (key, term): the key is handed back with each hit
    (e.g. (label, keyword index)). Terms are matched case-insensitively on word
    boundaries, with inflections (see `term_forms`); where forms overlap the
    longest one wins, as a tokenizer would. Several keys may share a surface
    form; every one of them is reported.

    RE2 has no look-around, so the word boundaries are characters of the match:
    `(?:^|[^W])(forms)(?:[^W]|$)`; the keyword is group 1, and the next search
    starts where it ends, so the non-word character after one keyword can stand
    before the next ("cat,cat").
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
        self._pattern = None
        if forms:
            pattern = f"(?:^|[^{_WORD_CHARS}])({_trie_regex(sorted(forms))})(?:[^{_WORD_CHARS}]|$)"
            try:
                self._pattern = re2.compile(
                    pattern, re2_options(case_sensitive=False, max_mem=KEYWORDS_MAX_MEM)
                )
            except re2.error as exc:  # taxonomy validation caps keywords well below this
                raise PatternError(
                    f"the {len(forms):,} keyword forms are too many to match together "
                    f"({_error_text(exc)}); use fewer or shorter keywords"
                ) from None

    def finditer(self, text: str) -> Iterator[KeywordHit]:
        if self._pattern is None:
            return
        encoded = Utf8Text(text)
        to_char = encoded.offsets()
        search, data, position = self._pattern.search, encoded.data, 0
        while (match := search(data, position)) is not None:
            start, end = match.span(1)
            position = end  # > the previous position: every form is at least one character
            start_char, end_char = to_char(start), to_char(end)
            keys = self._keys_by_form.get(match_key(text[start_char:end_char]))
            if keys:
                yield KeywordHit(start_char, end_char, tuple(keys))


# Shared by techniques that need a token count (length normalisation); a fixed pattern.
_TOKEN = regex.compile(r"\w+")


def count_tokens(text: str) -> int:
    return sum(1 for _ in _TOKEN.finditer(text))
