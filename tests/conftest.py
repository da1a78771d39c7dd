"""Shared fixtures. No model hub here: everything loads offline."""

import os

# Must be set before transformers / huggingface_hub are imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import pytest  # noqa: E402

# Tiny random NLI / token-classification / seq2seq models, built once per session.
pytest_plugins = ["tests.fixtures.tiny_models"]


@pytest.fixture
def db_path(tmp_path, monkeypatch):
    """A fresh SQLite file for one test; SIFT_DB points at it for code that reads the env."""
    path = tmp_path / "sift.db"
    monkeypatch.setenv("SIFT_DB", str(path))
    return path
