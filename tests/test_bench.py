"""The benchmark helpers: FLOP counts, data samples, tables, RSS sampling."""

from __future__ import annotations

import time

import pytest

from bench.common import PeakRss, markdown_table
from bench.data import BenchDataError, data_dir, read_csv, sample
from bench.peak import bart_pair_flops, bert_flops


@pytest.fixture(scope="module")
def eager_tiny_bart(tiny_nli_model):
    # Eager attention: its matmuls are visible to FlopCounterMode (CPU SDPA kernels are not).
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(
        str(tiny_nli_model), attn_implementation="eager"
    ).eval()


@pytest.mark.parametrize("tokens", [7, 33, 64])
def test_bart_flop_formula_matches_torch_flop_counter(eager_tiny_bart, tokens):
    from bench.peak import flop_counter_check

    counted = flop_counter_check(eager_tiny_bart, tokens)
    assert bart_pair_flops(eager_tiny_bart.config, tokens) == pytest.approx(counted, rel=1e-6)


def test_bert_flop_formula_matches_torch_flop_counter():
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import BertConfig, BertModel

    config = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
        vocab_size=100, attn_implementation="eager",
    )  # fmt: skip
    model = BertModel(config).eval()
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(input_ids=torch.ones((1, 20), dtype=torch.long))
    pooler = 2 * 32 * 32  # BertModel's pooler dense layer on the first token
    assert bert_flops(config, [20]) + pooler == pytest.approx(counter.get_total_flops(), rel=1e-6)


def test_a_sample_is_the_same_every_time():
    rows = [(f"text {i}", "label") for i in range(50)]
    assert sample(rows, 10, "short") == sample(rows, 10, "short")
    assert sample(rows, 10, "short") != sample(rows, 10, "short", seed=1)


def test_asking_for_more_texts_than_exist_is_refused():
    with pytest.raises(ValueError, match="has 3"):
        sample([("a", "x"), ("b", "x"), ("c", "x")], 4, "long")


def test_missing_data_names_the_file_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("SIFT_BENCH_DATA", str(tmp_path))
    assert data_dir() == tmp_path.resolve()
    with pytest.raises(BenchDataError, match="SIFT_BENCH_DATA"):
        read_csv("bbc_news/bbc_news.csv")


def test_read_csv_returns_text_and_label(tmp_path):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "rows.csv").write_text('text,label\n"one, two",a\nthree,b\n')
    assert read_csv("set/rows.csv", tmp_path) == [("one, two", "a"), ("three", "b")]


def test_markdown_table_has_a_row_per_entry_and_dashes_for_none():
    table = markdown_table(["name", "x"], [["a", 1234.5], ["b", None], ["c", 0.01234]])
    lines = table.splitlines()
    assert lines[0] == "| name | x |"
    assert lines[2:] == ["| a | 1,234 |", "| b | - |", "| c | 0.0123 |"]


def test_peak_rss_sees_memory_allocated_while_it_samples():
    # The sampler thread needs the GIL, which allocation and page-touching hold, so the
    # block stays alive (sleeping releases the GIL) until a sample has seen it.
    with PeakRss(interval=0.001) as rss:
        start = rss.peak
        block = bytearray(64 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
        deadline = time.monotonic() + 10
        while rss.peak - start < 48 * 1024 * 1024 and time.monotonic() < deadline:
            time.sleep(0.01)
        del block
    assert rss.peak - start >= 48 * 1024 * 1024
