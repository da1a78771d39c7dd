"""Batched NLI inference: entailment logits for every (text, hypothesis) pair.

Same numbers as transformers' ZeroShotClassificationPipeline (premise = text, hypothesis =
template filled with a label, text truncated "only_first"), computed faster:

  * each distinct text is tokenised once; pair encodings are assembled from token ids with
    the tokenizer's own special-token layout, so no text is re-tokenised per label;
  * identical premises (duplicate texts, repeated chunks) and identical hypotheses run once;
  * all pairs of a call are sorted by length and cut into mini-batches of at most
    `batch_size` pairs and at most `max_batch_tokens` padded tokens, each padded only to its
    own longest pair: short pairs go many to a forward pass (per-call overhead and
    weight reads are shared), long pairs few (activations stay small enough to be reused
    by the allocator instead of being page-faulted in afresh every layer); the cutting is
    `core.models.batching`'s, shared with the sentence encoder;
  * forward passes run under torch.inference_mode().

One deliberate difference: special-token strings typed in a text ("</s>", "[SEP]") are
tokenised as plain text (split_special_tokens=True), so user text cannot inject separators.

The post-processing (`nli_scores`, `aggregate_chunks`) is plain numpy on logits and can be
tested on hand-made arrays.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Sequence

import numpy as np
import torch

from core.models.batching import default_batch_tokens, token_budget_batches
from core.models.loading import LoadedModel, tune_allocator

# Fast tokenizers are not safe to call from two threads at once ("Already borrowed").
_TOKENIZER_LOCK = threading.Lock()

# Beyond this, tokenizer.model_max_length is transformers' "unset" sentinel.
_UNSET_MAX_LENGTH = 1_000_000


class NliModelError(ValueError):
    """The model cannot do NLI zero-shot (e.g. no entailment label)."""


def entailment_ids(label2id: dict[str, int]) -> tuple[int, int]:
    """(entailment id, contradiction id) from a model config's label2id.

    Entailment: the label starting with "entail" (case-insensitive). Contradiction: the label
    starting with "contra", else the pipeline's rule (the other end: the last class if
    entailment is 0, else class 0), which picks "not_entailment" in two-class models.
    """
    entailment = contradiction = None
    for label, index in label2id.items():
        name = str(label).lower()
        if name.startswith("entail") and entailment is None:
            entailment = int(index)
        elif name.startswith("contra") and contradiction is None:
            contradiction = int(index)
    if entailment is None:
        raise NliModelError(
            f"the model's config.label2id {dict(label2id)} has no label starting with "
            "'entail'; zero-shot needs an NLI model (e.g. facebook/bart-large-mnli) whose "
            "labels include 'entailment'"
        )
    if contradiction is None:
        contradiction = max(int(i) for i in label2id.values()) if entailment == 0 else 0
    return entailment, contradiction


def _softmax(values: np.ndarray, axis: int) -> np.ndarray:
    shifted = values - values.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def nli_scores(
    logits: np.ndarray, entailment_id: int, contradiction_id: int, *, multi_label: bool
) -> np.ndarray:
    """[..., n_labels, n_classes] logits -> [..., n_labels] probabilities.

    Single-label: softmax of the entailment logits across labels (rows sum to 1).
    Multi-label: per label, softmax of [contradiction, entailment]; the entailment part.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if multi_label:
        pair = logits[..., [contradiction_id, entailment_id]]
        return _softmax(pair, axis=-1)[..., 1]
    return _softmax(logits[..., entailment_id], axis=-1)


def aggregate_chunks(chunk_scores: np.ndarray, how: str, *, multi_label: bool) -> np.ndarray:
    """[n_chunks, n_labels] per-chunk probabilities -> [n_labels] for the whole text.

    We aggregate probabilities (not logits) so that "max" reads "the label holds somewhere in
    the text". "mean" keeps single-label rows summing to 1; "max" is renormalised to sum to 1
    in single-label mode.
    """
    if how == "mean":
        return chunk_scores.mean(axis=0)
    if how == "max":
        best = chunk_scores.max(axis=0)
        return best if multi_label else best / best.sum()
    raise ValueError(f"unknown chunk aggregation {how!r}; use 'max' or 'mean'")


# Most of a mini-batch's tokens that may be padding: padded positions cost as much as real
# ones, so a run of pairs is cut where the next (longer) pair would pad the others too much.
_MAX_PADDING = 0.125


class NliEngine:
    """Entailment logits for (text, hypothesis) pairs with one loaded NLI model."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        batch_size: int = 32,
        max_length: int | None = None,
        max_batch_tokens: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be at least 1, got {max_batch_tokens}")
        tune_allocator()
        self.loaded = loaded
        self.model = loaded.model
        if loaded.tokenizer is None:  # only sentence encoders load without one
            raise NliModelError(f"{loaded.model_id!r} ({loaded.task}) has no tokenizer")
        self.tokenizer = loaded.tokenizer
        self.batch_size = batch_size
        config = self.model.config
        # Padded tokens per forward pass; a single pair longer than this still runs alone.
        self.max_batch_tokens = max_batch_tokens or default_batch_tokens(config)
        self.entailment_id, self.contradiction_id = entailment_ids(config.label2id)
        self.n_classes = int(config.num_labels)
        model_max = self._model_max_length()
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be a positive number of tokens, got {max_length}")
        # Never more than the model's positions can hold.
        self.max_length = min(max_length, model_max) if max_length else model_max
        self.input_names = [
            name
            for name in self.tokenizer.model_input_names
            if name in ("input_ids", "attention_mask", "token_type_ids")
        ]
        forward = inspect.signature(self.model.forward).parameters
        self._extra_inputs = {"use_cache": False} if "use_cache" in forward else {}
        self._layout = self._special_token_layout()
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:  # as the pipeline does for tokenizers without a pad token
            self.pad_id = self.tokenizer.eos_token_id
        # Counters for tests and benchmarks: pairs actually run and forward passes made.
        self.pairs_computed = 0
        self.forward_calls = 0

    # ------------------------------------------------------------------ tokenisation

    def _model_max_length(self) -> int:
        from_tokenizer = getattr(self.tokenizer, "model_max_length", None)
        if from_tokenizer and from_tokenizer < _UNSET_MAX_LENGTH:
            return int(from_tokenizer)
        from_config = getattr(self.model.config, "max_position_embeddings", None)
        return int(from_config) if from_config else 512

    def _special_token_layout(self) -> dict:
        """How the tokenizer wraps a pair: prefix + A + middle + B + suffix (ids, type ids)."""
        with _TOKENIZER_LOCK:
            probe = self.tokenizer("a b", "c d", return_token_type_ids=True)
        ids = probe["input_ids"]
        types = probe.get("token_type_ids") or [0] * len(ids)
        sequence_ids = probe.sequence_ids(0)
        first = [i for i, s in enumerate(sequence_ids) if s == 0]
        second = [i for i, s in enumerate(sequence_ids) if s == 1]
        if first != list(range(first[0], first[-1] + 1)) or second != list(
            range(second[0], second[-1] + 1)
        ):
            raise NliModelError("the tokenizer interleaves the two texts of a pair; unsupported")
        cut = (first[0], first[-1] + 1, second[0], second[-1] + 1)
        return {
            "prefix": (ids[: cut[0]], types[: cut[0]]),
            "middle": (ids[cut[1] : cut[2]], types[cut[1] : cut[2]]),
            "suffix": (ids[cut[3] :], types[cut[3] :]),
            "type_a": types[cut[0]],
            "type_b": types[cut[2]],
            "n_special": len(ids) - len(first) - len(second),
        }

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens."""
        if not texts:
            return []
        with _TOKENIZER_LOCK:
            encoded = self.tokenizer(
                list(texts), add_special_tokens=False, split_special_tokens=True, verbose=False
            )
        return [list(ids) for ids in encoded["input_ids"]]

    def _pair(self, premise: Sequence[int], hypothesis: Sequence[int]) -> tuple[list, list]:
        """Pair ids and type ids, premise truncated so the pair fits max_length."""
        layout = self._layout
        budget = self.max_length - layout["n_special"] - len(hypothesis)
        if len(premise) > budget:
            if budget < 1:
                raise NliModelError(
                    f"a hypothesis of {len(hypothesis)} tokens leaves no room for the text "
                    f"within max_length={self.max_length}; shorten the template or the "
                    "label description"
                )
            if getattr(self.tokenizer, "truncation_side", "right") == "left":
                premise = premise[len(premise) - budget :]
            else:
                premise = premise[:budget]
        prefix_ids, prefix_types = layout["prefix"]
        middle_ids, middle_types = layout["middle"]
        suffix_ids, suffix_types = layout["suffix"]
        ids = [*prefix_ids, *premise, *middle_ids, *hypothesis, *suffix_ids]
        types = [
            *prefix_types,
            *[layout["type_a"]] * len(premise),
            *middle_types,
            *[layout["type_b"]] * len(hypothesis),
            *suffix_types,
        ]
        return ids, types

    # ------------------------------------------------------------------ inference

    def entailment_logits(
        self,
        texts: Sequence[str],
        hypotheses: Sequence[str],
        wanted: Sequence[Sequence[int]] | None = None,
    ) -> np.ndarray:
        """[n_texts, n_hypotheses, n_classes] logits; each text truncated to fit max_length.
        `wanted`: per text, the hypothesis indices to run (the others are NaN); None: all."""
        unique_texts = list(dict.fromkeys(texts))
        token_ids = dict(zip(unique_texts, self.tokenize(unique_texts)))
        premises = [token_ids[text] for text in texts]
        return self.premise_logits(premises, self.tokenize(list(hypotheses)), wanted)

    def chunk_token_ids(
        self, token_ids: Sequence[int], chunk_tokens: int, chunk_overlap: int
    ) -> list[list[int]]:
        """Windows of chunk_tokens ids, each starting chunk_tokens - chunk_overlap after the
        previous, together covering every token (one window when the text fits)."""
        if chunk_overlap < 0 or chunk_overlap >= chunk_tokens:
            raise ValueError(
                f"chunk_overlap must be between 0 and chunk_tokens - 1 ({chunk_tokens - 1}), "
                f"got {chunk_overlap}"
            )
        if len(token_ids) <= chunk_tokens:
            return [list(token_ids)]
        stride = chunk_tokens - chunk_overlap
        windows = []
        for start in range(0, len(token_ids), stride):
            windows.append(list(token_ids[start : start + chunk_tokens]))
            if start + chunk_tokens >= len(token_ids):
                break
        return windows

    def max_chunk_tokens(self, hypotheses: Sequence[str]) -> int:
        """The most premise tokens that fit beside the longest hypothesis."""
        longest = max((len(ids) for ids in self.tokenize(list(hypotheses))), default=0)
        return self.max_length - self._layout["n_special"] - longest

    def chunked_entailment_logits(
        self,
        texts: Sequence[str],
        hypotheses: Sequence[str],
        *,
        chunk_tokens: int | None = None,
        chunk_overlap: int = 0,
        wanted: Sequence[Sequence[int]] | None = None,
    ) -> list[np.ndarray]:
        """Per text, [n_chunks, n_hypotheses, n_classes] logits over windows of the text.

        chunk_tokens defaults to (and is capped at) what fits beside the longest hypothesis,
        so no chunk is truncated. `wanted`: per text, the hypothesis indices to run on each of
        its windows (the others are NaN); None: all.
        """
        fits = self.max_chunk_tokens(hypotheses)
        size = min(chunk_tokens, fits) if chunk_tokens else fits
        if size < 1:
            raise NliModelError(
                f"no room for text beside the hypotheses within max_length={self.max_length}"
            )
        overlap = min(chunk_overlap, size - 1)
        unique_texts = list(dict.fromkeys(texts))
        token_ids = dict(zip(unique_texts, self.tokenize(unique_texts)))
        chunks = {
            text: self.chunk_token_ids(token_ids[text], size, overlap) for text in unique_texts
        }
        flat = [chunk for text in texts for chunk in chunks[text]]
        flat_wanted = (
            None
            if wanted is None
            else [wanted[i] for i, text in enumerate(texts) for _ in chunks[text]]
        )
        logits = self.premise_logits(flat, self.tokenize(list(hypotheses)), flat_wanted)
        results, offset = [], 0
        for text in texts:
            count = len(chunks[text])
            results.append(logits[offset : offset + count])
            offset += count
        return results

    def premise_logits(
        self,
        premises: Sequence[Sequence[int]],
        hypotheses: Sequence[Sequence[int]],
        wanted: Sequence[Sequence[int]] | None = None,
    ) -> np.ndarray:
        """[n_premises, n_hypotheses, n_classes] logits for token-id premises and hypotheses.

        Identical premises and identical hypotheses are computed once. `wanted`: per premise,
        the indices of the hypotheses to pair it with (a cascade's top k); the pairs not
        wanted are not run and read NaN. None: every pair.
        """
        unique_premises = list(dict.fromkeys(tuple(p) for p in premises))
        unique_hypotheses = list(dict.fromkeys(tuple(h) for h in hypotheses))
        premise_index = {premise: i for i, premise in enumerate(unique_premises)}
        hypothesis_index = {hypothesis: i for i, hypothesis in enumerate(unique_hypotheses)}
        rows = [premise_index[tuple(p)] for p in premises]
        columns = [hypothesis_index[tuple(h)] for h in hypotheses]
        if wanted is None:
            needed = [
                (p, h) for p in range(len(unique_premises)) for h in range(len(unique_hypotheses))
            ]
        else:
            if len(wanted) != len(premises):
                raise ValueError(f"wanted has {len(wanted)} rows for {len(premises)} premises")
            needed = list(
                dict.fromkeys(
                    (rows[i], columns[j]) for i, indices in enumerate(wanted) for j in indices
                )
            )
        n_special = self._layout["n_special"]

        def pair_length(premise: tuple, hypothesis: tuple) -> int:
            fits = self.max_length - n_special - len(hypothesis)
            return min(len(premise), max(fits, 0)) + len(hypothesis) + n_special

        # (length, premise index, hypothesis index) of every distinct pair, shortest first;
        # ids are built per mini-batch so memory stays at one batch of encodings.
        order = sorted(
            (pair_length(unique_premises[p], unique_hypotheses[h]), p, h) for p, h in needed
        )
        unique_logits = np.full(
            (len(unique_premises), len(unique_hypotheses), self.n_classes),
            np.nan if wanted is not None else 0.0,
            dtype=np.float32,
        )
        for batch in self._mini_batches(order):
            encoded = [self._pair(unique_premises[p], unique_hypotheses[h]) for _, p, h in batch]
            batch_logits = self._forward([ids for ids, _ in encoded], [t for _, t in encoded])
            for (_, p, h), row in zip(batch, batch_logits):
                unique_logits[p, h] = row
        return (
            unique_logits[np.ix_(rows, columns)]
            if rows and columns
            else np.zeros((len(premises), len(hypotheses), self.n_classes), dtype=np.float32)
        )

    def _mini_batches(self, order: list[tuple[int, int, int]]):
        """Consecutive runs of the length-sorted (length, p, h) pairs: at most batch_size
        pairs, at most max_batch_tokens padded tokens (pairs x the run's longest, which is its
        last), and at most _MAX_PADDING of those tokens padding."""
        lengths = [length for length, _, _ in order]
        for batch in token_budget_batches(
            lengths,
            batch_size=self.batch_size,
            max_tokens=self.max_batch_tokens,
            max_padding=_MAX_PADDING,
        ):
            yield order[batch]

    def _forward(self, ids: list[list[int]], types: list[list[int]]) -> np.ndarray:
        """[batch, n_classes] logits; the batch padded to its own longest pair."""
        longest = max(len(row) for row in ids)
        left = getattr(self.tokenizer, "padding_side", "right") == "left"

        def pad(row: list[int], value: int) -> list[int]:
            filler = [value] * (longest - len(row))
            return filler + row if left else row + filler

        inputs = {
            "input_ids": [pad(row, self.pad_id) for row in ids],
            "attention_mask": [pad([1] * len(row), 0) for row in ids],
            "token_type_ids": [pad(row, 0) for row in types],
        }
        device = self.loaded.device
        tensors = {
            name: torch.tensor(inputs[name], dtype=torch.long, device=device)
            for name in self.input_names
        }
        with torch.inference_mode():
            logits = self.model(**tensors, **self._extra_inputs).logits
        self.forward_calls += 1
        self.pairs_computed += len(ids)
        return logits.float().cpu().numpy()
