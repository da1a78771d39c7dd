"""Summaries: extractive (offline, sentence embeddings) and abstractive (a seq2seq model).

Extractive: split into sentences, embed them with `encode` (the packaged MiniLM by
default), pick the k most central sentences (cosine to the document centroid) with a
redundancy penalty (maximal marginal relevance), and return them in their original order.
The chosen sentences are exact slices of the text, so evidence found in a summary can be
mapped back onto the original.

Abstractive: `AutoModelForSeq2SeqLM.generate` through
`core.models.loading.load_model("seq2seq")`, inputs sorted by length and batched, long inputs
truncated to the model's window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.models.catalog import DEFAULT_EMBEDDING_MODEL, DEFAULT_SUMMARY_MODEL
from core.models.encoder import encode
from core.models.loading import LoadedModel, load_model, load_sentence_encoder

METHODS = ("extractive", "abstractive")
SENTENCE_JOINER = " "


@dataclass(frozen=True)
class Summary:
    text: str
    # (start, end) offsets in the original text of each piece of `text`, in order; pieces are
    # joined with SENTENCE_JOINER. Empty for abstractive summaries (they are new text).
    pieces: tuple[tuple[int, int], ...] = ()

    def to_original(self, start: int, end: int) -> tuple[int, int] | None:
        """A span of `text` -> the same characters' span in the original, or None when the span
        is not inside one piece (crosses a joiner) or the summary is abstractive."""
        offset = 0
        for piece_start, piece_end in self.pieces:
            length = piece_end - piece_start
            if offset <= start and end <= offset + length:
                return piece_start + start - offset, piece_start + end - offset
            offset += length + len(SENTENCE_JOINER)
        return None


# --- sentence splitting -----------------------------------------------------------------------

# Words that end in "." without ending a sentence.
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "corp"}
    | {"dept", "approx", "nr", "fig", "e.g", "i.e", "cf", "al"}
    | {"jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
# Abbreviations that end a sentence unless a number follows ("order no. 7", "vol. 2").
_BEFORE_NUMBERS = frozenset(
    {"no", "nos", "nr", "vol", "pp", "p", "art", "sec", "ch", "tel", "ref", "fig"}
)
_NEXT_IS_DIGIT = re.compile(r"\s{1,3}\d")
# Before a ".": an initial ("J."), a dotted abbreviation ("a.m", "U.S"), a list number ("2.")
_NOT_SENTENCE_END = re.compile(r"[a-z]|(?:[a-z]\.)+[a-z]|\d{1,3}")
# A sentence ends after . ! ? (and closing quotes/brackets) followed by whitespace, or at a
# paragraph break (a blank line).
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|\n[ \t]*\n")
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*•]|\d{1,3}[.)])[ \t]")
# A line this short ("Hi Anna,", "Subject: refund") stands alone when the next line starts
# like a sentence (upper case or a digit); a hard-wrapped paragraph continues in lower case.
_SHORT_LINE = 40
_LINE_BREAK = re.compile(r"\n(?=[ \t]*[A-Z0-9])")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentences of `text` as (start, end) offsets, whitespace trimmed, in order.

    A regular-expression splitter: sentence punctuation before whitespace (not after an
    abbreviation or a single initial), blank lines, list items, and short header-like lines.
    """
    cuts: set[int] = set()
    for match in _BOUNDARY.finditer(text):
        if match.group().startswith("\n"):
            cuts.add(match.end())
            continue
        word_start = match.start()
        while (
            word_start > 0
            and not text[word_start - 1].isspace()
            and match.start() - word_start < 12
        ):
            word_start -= 1
        token = text[word_start : match.start()].lower().lstrip("(\"'")
        if match.group().startswith(".") and (
            token in _ABBREVIATIONS
            or _NOT_SENTENCE_END.fullmatch(token)
            or (token in _BEFORE_NUMBERS and _NEXT_IS_DIGIT.match(text, match.end()))
        ):
            continue
        cuts.add(match.end())
    for match in _LIST_ITEM.finditer(text):
        cuts.add(match.start() + 1)
    for match in _LINE_BREAK.finditer(text):  # "Hi Anna,\nThanks ..." -> two sentences
        line = text[text.rfind("\n", 0, match.start()) + 1 : match.start()].strip()
        if line and len(line) <= _SHORT_LINE:
            cuts.add(match.start())

    sentences = []
    begin = 0
    for cut in sorted(cuts | {len(text)}):
        start, end = _trim(text, begin, cut)
        if end > start:
            sentences.append((start, end))
        begin = cut
    return sentences


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# --- extractive -------------------------------------------------------------------------------


def select_central(vectors: np.ndarray, k: int, *, redundancy: float = 0.3) -> list[int]:
    """(n, dim) unit sentence vectors -> indices of k sentences, in original order.

    Maximal marginal relevance: each step takes the sentence maximising
    (1 - redundancy) * cos(sentence, centroid) - redundancy * max cos(sentence, chosen).
    """
    n = vectors.shape[0]
    if n <= k:
        return list(range(n))
    centroid = vectors.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    relevance = vectors @ centroid
    similarity = vectors @ vectors.T
    chosen: list[int] = []
    penalty = np.zeros(n)
    for _ in range(k):
        gain = (1.0 - redundancy) * relevance - redundancy * penalty
        gain[chosen] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        penalty = np.maximum(penalty, similarity[best])
    return sorted(chosen)


def extractive_summaries(
    texts: Sequence[str],
    *,
    sentences: int = 3,
    encoder: LoadedModel | None = None,
    embedding_model: str = DEFAULT_EMBEDDING_MODEL,
    device: str = "auto",
    batch_size: int = 64,
    redundancy: float = 0.3,
) -> list[Summary]:
    """The `sentences` most central sentences of each text, in their original order.

    Texts with at most `sentences` sentences come back whole (trimmed). All sentences of the
    batch are embedded together, so the encoder runs over length-sorted batches once.
    """
    if sentences < 1:
        raise ValueError(f"sentences must be at least 1, got {sentences}")
    splits = [split_sentences(text) for text in texts]
    needs_model = [i for i, spans in enumerate(splits) if len(spans) > sentences]
    vectors_of: dict[int, np.ndarray] = {}
    if needs_model:
        if encoder is None:
            encoder = load_sentence_encoder(embedding_model, device=device)
        flat = [texts[i][start:end] for i in needs_model for start, end in splits[i]]
        vectors = encode(encoder, flat, batch_size=batch_size)
        offset = 0
        for i in needs_model:
            vectors_of[i] = vectors[offset : offset + len(splits[i])]
            offset += len(splits[i])

    summaries = []
    for i, (text, spans) in enumerate(zip(texts, splits)):
        if i in vectors_of:
            spans = [
                spans[j] for j in select_central(vectors_of[i], sentences, redundancy=redundancy)
            ]
        pieces = tuple(spans)
        summaries.append(
            Summary(SENTENCE_JOINER.join(text[start:end] for start, end in pieces), pieces)
        )
    return summaries


# --- abstractive ------------------------------------------------------------------------------


def abstractive_summaries(
    texts: Sequence[str],
    *,
    model: str = DEFAULT_SUMMARY_MODEL,
    loaded: LoadedModel | None = None,
    device: str = "auto",
    precision: str = "fp32",
    batch_size: int = 8,
    max_new_tokens: int = 80,
    num_beams: int = 1,
    max_input_tokens: int | None = None,
) -> list[Summary]:
    """One generated summary per text (greedy by default: num_beams=1).

    Inputs longer than the model's window (or `max_input_tokens`) are truncated from the end.
    """
    import torch

    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    texts = list(texts)
    if not texts:
        return []
    if loaded is None:
        loaded = load_model("seq2seq", model, device=device, precision=precision)
    tokenizer, net = loaded.tokenizer, loaded.model
    if tokenizer is None:  # only sentence encoders load without one
        raise ValueError(f"{loaded.model_id!r} ({loaded.task}) has no tokenizer to summarise with")
    window = _input_window(tokenizer, net.config, max_input_tokens)
    token_ids = tokenizer(texts, truncation=True, max_length=window, padding=False)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(token_ids[i]))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device_of_model = next(net.parameters()).device
    outputs: list[str] = [""] * len(texts)
    shortest = getattr(net.generation_config, "min_length", 0) or 0

    with torch.inference_mode():
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            width = max(len(token_ids[row]) for row in rows)
            input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
            for position, row in enumerate(rows):
                ids = token_ids[row]
                input_ids[position, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                attention_mask[position, : len(ids)] = 1
            # Encoder-decoder: max_length counts the decoder start token plus the new tokens.
            # (Passing max_new_tokens too would clash with the model's own max_length.)
            generated = net.generate(
                input_ids=input_ids.to(device_of_model),
                attention_mask=attention_mask.to(device_of_model),
                max_length=max_new_tokens + 1,
                min_length=min(shortest, max_new_tokens + 1),
                num_beams=num_beams,
                do_sample=False,
            )
            decoded = tokenizer.batch_decode(generated, skip_special_tokens=True)
            for row, summary in zip(rows, decoded):
                outputs[row] = " ".join(summary.split())
    return [Summary(text) for text in outputs]


def _input_window(tokenizer, config, max_input_tokens: int | None) -> int:
    limit = tokenizer.model_max_length or 1024
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        limit = min(limit, positions)
    limit = min(limit, 4096)
    if max_input_tokens is not None:
        limit = min(limit, max_input_tokens)
    return int(limit)


def summarize(
    texts: Sequence[str],
    *,
    method: str = "extractive",
    sentences: int = 3,
    model: str = DEFAULT_SUMMARY_MODEL,
    device: str = "auto",
    precision: str = "fp32",
    batch_size: int | None = None,
    max_new_tokens: int = 80,
    num_beams: int = 1,
) -> list[Summary]:
    """One Summary per text by `method` ("extractive" or "abstractive")."""
    if method == "extractive":
        return extractive_summaries(
            texts, sentences=sentences, device=device, batch_size=batch_size or 64
        )
    if method == "abstractive":
        return abstractive_summaries(
            texts,
            model=model,
            device=device,
            precision=precision,
            batch_size=batch_size or 8,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
        )
    raise ValueError(f"unknown summary method {method!r}; use one of: {', '.join(METHODS)}")


__all__ = [
    "METHODS",
    "Summary",
    "abstractive_summaries",
    "extractive_summaries",
    "select_central",
    "split_sentences",
    "summarize",
]
