"""Shared fixtures. No model hub here: everything loads offline."""

import os

# Must be set before transformers / huggingface_hub are imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# precision "auto" picks bf16 on CPUs with AMX/AVX512_BF16: without this, tests' numbers would
# depend on which CPU the CI machine has (this process and every CLI/server it starts). The
# tests of auto's bf16 choice and its guard set it per test (tests/test_precision.py).
os.environ["SIFT_CPU_BF16"] = "0"

import sys  # noqa: E402
import types  # noqa: E402

import pytest  # noqa: E402

# Tiny random NLI / token-classification / seq2seq models, built once per session.
pytest_plugins = ["tests.fixtures.tiny_models"]


@pytest.fixture
def db_path(tmp_path, monkeypatch):
    """A fresh SQLite file for one test; SIFT_DB points at it for code that reads the env."""
    path = tmp_path / "sift.db"
    monkeypatch.setenv("SIFT_DB", str(path))
    return path


@pytest.fixture(autouse=True)
def plain_main_module(monkeypatch):
    """Worker processes must not re-run whatever script sys.modules["__main__"] points at.

    AppTest leaves its last script (app.py) there, and multiprocessing's spawn and
    forkserver re-import __main__ in every new worker.
    """
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
