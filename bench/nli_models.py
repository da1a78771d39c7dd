"""NLI models for the zero-shot bench, built locally with random weights and cached on disk.

* "large": a BartForSequenceClassification with facebook/bart-large-mnli's dimensions
  (d_model 1024, 12 + 12 layers, 16 heads, ffn 4096, vocab 50265, 1024 positions, MNLI
  labels). Random weights cost the same FLOPs as the real model, so its timings stand for it.
* "tiny": the same architecture shrunk (d_model 64, 2 + 2 layers, init_std 0.3 so that its
  random scores differ between labels) where per-call overhead, not arithmetic, dominates.

Both use a byte-level BPE tokenizer trained here on the bench texts themselves (vocab 12k), so
token counts resemble GPT-2 BPE's on the same texts. Folders are cached under
$SIFT_BENCH_CACHE (default ~/.cache/sift-bench) and reused while the recipe is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bench.data import BANKING77, BBC_NEWS, read_csv

NLI_LABELS = {0: "contradiction", 1: "neutral", 2: "entailment"}  # as bart-large-mnli
BART_SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
TOKENIZER_VOCAB = 12_000
RECIPE_VERSION = 1

SHAPES = {
    "large": dict(
        d_model=1024,
        encoder_layers=12,
        decoder_layers=12,
        encoder_attention_heads=16,
        decoder_attention_heads=16,
        encoder_ffn_dim=4096,
        decoder_ffn_dim=4096,
        vocab_size=50265,
        max_position_embeddings=1024,
    ),
    "tiny": dict(
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=256,
        decoder_ffn_dim=256,
        vocab_size=TOKENIZER_VOCAB,
        max_position_embeddings=1024,
        # Wider than BART's 0.02 so a tiny random model's scores differ between labels.
        init_std=0.3,
    ),
}


def cache_dir() -> Path:
    return Path(os.environ.get("SIFT_BENCH_CACHE", "~/.cache/sift-bench")).expanduser()


def build_tokenizer(folder: Path, data=None):
    """Train a byte-level BPE on every bench text and save it as a BART tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    texts = [text for text, _ in read_csv(BANKING77, data)] + [
        text for text, _ in read_csv(BBC_NEWS, data)
    ]
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        texts, vocab_size=TOKENIZER_VOCAB, min_frequency=2, special_tokens=BART_SPECIAL_TOKENS
    )
    trainer.save_model(str(folder))  # vocab.json + merges.txt
    tokenizer = BartTokenizer(
        vocab=str(folder / "vocab.json"),
        merges=str(folder / "merges.txt"),
        model_max_length=1024,
        model_input_names=["input_ids", "attention_mask"],
    )
    tokenizer.save_pretrained(folder)
    return tokenizer


def nli_model_folder(shape: str, data=None, *, seed: int = 0) -> Path:
    """Folder of the cached `shape` NLI model ("tiny" or "large"); built on first use."""
    import torch
    from transformers import BartConfig, BartForSequenceClassification

    if shape not in SHAPES:
        raise ValueError(f"unknown model shape {shape!r}; choose one of: {', '.join(SHAPES)}")
    recipe = {"shape": SHAPES[shape], "seed": seed, "version": RECIPE_VERSION}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
    folder = cache_dir() / f"nli-{shape}-{digest}"
    if (folder / "model.safetensors").is_file() and (folder / "tokenizer_config.json").is_file():
        return folder
    tokenizer = build_tokenizer(folder, data)
    config = BartConfig(
        **SHAPES[shape],
        num_labels=3,
        id2label=dict(NLI_LABELS),
        label2id={label: index for index, label in NLI_LABELS.items()},
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
    )
    if len(tokenizer) > config.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens, more than the model's vocab")
    torch.manual_seed(seed)
    model = BartForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    (folder / "recipe.json").write_text(json.dumps(recipe, indent=2))
    return folder


if __name__ == "__main__":  # python -m bench.nli_models: build both and print their folders
    for name in SHAPES:
        print(name, nli_model_folder(name))
