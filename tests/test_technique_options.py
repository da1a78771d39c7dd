"""Every technique's typed options: bad ones refused by name, runtime ones kept out of the
cache key, every option described, defaults unchanged.

Techniques are only constructed here (no model is loaded: model techniques load lazily).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core.engine import cache_key, technique_cache_key
from core.models.catalog import PACKAGED_MINILM
from core.taxonomy import Keyword, Label, Taxonomy
from core.techniques import BUILTIN_MODULES, create_technique, get_technique
from core.techniques.base import ModelInfo
from core.techniques.options import OptionsError
from core.techniques.supervised import LinearModel
from core.techniques.zero_shot import ZeroShotConfigError
from core.textmatch import ENGINE

TAXONOMY = Taxonomy(
    (
        Label(
            "Billing",
            description="Invoices and refunds",
            keywords=(Keyword("refund"),),
            patterns=(r"\binvoice\b",),
        ),
        Label("Shipping", description="Parcels"),
    )
)


def _linear_model() -> LinearModel:
    return LinearModel(
        classes=("Billing", "Shipping"),
        coef=np.zeros((1, 384), dtype=np.float32),
        intercept=np.zeros(1, dtype=np.float32),
        multi_label=False,
        embedding_model=PACKAGED_MINILM,
    )


# What each built-in needs to be constructed at all (supervised: a trained model).
REQUIRED: dict[str, dict[str, Any]] = {"supervised": {"trained": _linear_model()}}
MODEL_TECHNIQUES = ("zero_shot", "embeddings", "ner", "summarize", "supervised")


def build(name: str, **options: Any):
    return create_technique(name, **{**REQUIRED.get(name, {}), **options})


def test_every_builtin_is_covered_here():
    assert set(BAD_VALUES) == set(BUILTIN_MODULES)
    assert {name for name in BUILTIN_MODULES if get_technique(name).needs_model} == set(
        MODEL_TECHNIQUES
    )


# --- refused, by name --------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN_MODULES)
def test_an_unknown_option_names_the_technique_and_lists_its_options(name):
    with pytest.raises(OptionsError) as caught:
        build(name, scael=2)
    message = str(caught.value)
    assert f"{name}: unknown option 'scael'; its options are: " in message
    for field in get_technique(name).Options.model_fields:
        assert field in message


def test_the_lexicon_typo_message_reads_as_documented():
    with pytest.raises(OptionsError) as caught:
        create_technique("lexicon", scael=2)
    assert str(caught.value) == (
        "lexicon: unknown option 'scael'; its options are: scale, max_spans_per_keyword"
    )


# technique -> (option, bad value, fragments the message must hold besides "technique.option")
BAD_VALUES: dict[str, tuple[str, Any, tuple[str, ...]]] = {
    "rules": ("hit_strength", "strong", ("hit_strength=float", "'strong'")),
    "lexicon": ("scale", "abc", ("scale=float", "'abc'")),
    "zero_shot": ("chunking", "median", ("'max', 'mean', None", "max | mean | none")),
    "embeddings": ("temperature", 0, ("greater than 0", "temperature=float")),
    "ner": ("backend", "regex", ("unknown entity backend", "spacy, transformers, patterns")),
    "summarize": ("sentences", 0, ("greater than 0", "sentences=int")),
    "ensemble": ("weights", "heavy", ("weights=mapping",)),
    "supervised": ("trained", "a model", ("instance of LinearModel",)),
}


@pytest.mark.parametrize("name", BUILTIN_MODULES)
def test_a_bad_value_names_the_option_and_what_it_accepts(name):
    option, value, fragments = BAD_VALUES[name]
    with pytest.raises(OptionsError) as caught:
        build(name, **{option: value})
    message = str(caught.value)
    assert message.startswith(f"{name}.{option}: ")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("name", MODEL_TECHNIQUES)
@pytest.mark.parametrize(
    ("option", "value", "accepted"),
    [
        ("device", "gpu", "auto | cuda | mps | cpu"),
        ("precision", "fp8", "auto | fp32 | bf16 | fp16"),
        ("batch_size", 0, "batch_size=int"),
    ],
)
def test_runtime_options_are_checked_too(name, option, value, accepted):
    with pytest.raises(OptionsError) as caught:
        build(name, **{option: value})
    assert f"{name}.{option}: " in str(caught.value) and accepted in str(caught.value)


def test_the_technique_specific_checks_still_hold():
    with pytest.raises(OptionsError, match="between 0 and 1"):
        create_technique("rules", hit_strength=1.0)
    with pytest.raises(OptionsError, match=r"zero_shot\.template: .*\{\}"):
        create_technique("zero_shot", template="About {label}.")
    with pytest.raises(OptionsError, match="chunk_overlap must be >= 0 and smaller"):
        create_technique("zero_shot", chunking="max", chunk_tokens=8, chunk_overlap=8)
    with pytest.raises(OptionsError, match="exactly one"):
        create_technique("embeddings", templates=("no slot",))
    with pytest.raises(OptionsError, match=r"example_weight: .*less than or equal to 1"):
        create_technique("embeddings", example_weight=1.5)
    with pytest.raises(OptionsError, match="use one of: extractive, abstractive"):
        create_technique("summarize", method="generative")
    with pytest.raises(OptionsError, match="cannot be 'summarize'"):
        create_technique("summarize", then="summarize")
    with pytest.raises(OptionsError, match="set multi_label on summarize itself"):
        create_technique("summarize", then="lexicon", then_options={"multi_label": True})
    with pytest.raises(OptionsError, match="cannot contain itself"):
        create_technique("ensemble", components=("rules", "ensemble"))
    with pytest.raises(OptionsError, match="component_options given for lexicon"):
        create_technique("ensemble", components=("rules",), component_options={"lexicon": {}})
    with pytest.raises(OptionsError, match="needs a trained model"):
        create_technique("supervised")


def test_inner_and_component_options_are_checked_by_their_own_technique():
    with pytest.raises(OptionsError, match="lexicon: unknown option 'scael'"):
        create_technique("summarize", then="lexicon", then_options={"scael": 1})
    with pytest.raises(OptionsError, match=r"lexicon\.scale: "):
        create_technique("ensemble", component_options={"lexicon": {"scale": -1}})


def test_zero_shot_keeps_its_own_error_class():
    assert issubclass(ZeroShotConfigError, OptionsError)
    with pytest.raises(ZeroShotConfigError, match="zero_shot.chunking"):
        create_technique("zero_shot", chunking="median")


def test_values_are_coerced_once_and_then_frozen():
    lexicon = create_technique("lexicon", scale="2")  # as the command line may give it
    assert lexicon.options.scale == 2.0 and isinstance(lexicon.options.scale, float)
    with pytest.raises(ValueError):
        lexicon.options.scale = 3.0


# --- the cache key: what it holds ---------------------------------------------------------------


@pytest.mark.parametrize("name", MODEL_TECHNIQUES)
@pytest.mark.parametrize(
    ("option", "first", "second"),
    [("device", "auto", "cpu"), ("batch_size", 8, 64), ("precision", "fp32", "bf16")],
)
def test_runtime_options_do_not_change_the_config_hash(name, option, first, second):
    one = build(name, **{option: first})
    two = build(name, **{option: second})
    assert getattr(one.options, option) != getattr(two.options, option)
    assert one.config_hash(TAXONOMY) == two.config_hash(TAXONOMY)


def test_embeddings_runtime_options_leave_the_hash_but_temperature_changes_it():
    plain = create_technique("embeddings", device="auto", batch_size=8)
    assert create_technique("embeddings", device="cpu", batch_size=64).config_hash(
        TAXONOMY
    ) == plain.config_hash(TAXONOMY)
    assert create_technique("embeddings", temperature=0.1).config_hash(
        TAXONOMY
    ) != plain.config_hash(TAXONOMY)
    assert "device" not in plain.config() and "batch_size" not in plain.config()


@pytest.mark.parametrize(
    ("name", "options", "changed"),
    [
        ("rules", {}, {"hit_strength": 0.6}),
        ("lexicon", {}, {"scale": 2.0}),
        ("zero_shot", {}, {"template": "Topic: {}."}),
        ("embeddings", {}, {"use_keywords": True}),
        ("ner", {}, {"rate": 0.9}),
        ("summarize", {}, {"sentences": 2}),
        ("ensemble", {}, {"weights": {"rules": 2.0}}),
        (
            "supervised",
            {},
            {
                "trained": LinearModel(
                    classes=("Billing", "Shipping"),
                    coef=np.ones((1, 384), dtype=np.float32),
                    intercept=np.zeros(1, dtype=np.float32),
                    multi_label=False,
                    embedding_model=PACKAGED_MINILM,
                )
            },
        ),
    ],
)
def test_an_output_option_changes_the_config_hash(name, options, changed):
    assert build(name, **options).config_hash(TAXONOMY) != build(name, **changed).config_hash(
        TAXONOMY
    )


def test_nested_runtime_options_do_not_change_the_hash_but_nested_output_options_do():
    summarize = create_technique("summarize", then_options={"device": "cpu"})
    assert summarize.config_hash(TAXONOMY) == create_technique("summarize").config_hash(TAXONOMY)
    warmer = create_technique("summarize", then_options={"temperature": 0.2})
    assert warmer.config_hash(TAXONOMY) != summarize.config_hash(TAXONOMY)

    ensemble = create_technique("ensemble", component_options={"embeddings": {"batch_size": 8}})
    assert ensemble.config_hash(TAXONOMY) == create_technique("ensemble").config_hash(TAXONOMY)
    scaled = create_technique("ensemble", component_options={"lexicon": {"scale": 3.0}})
    assert scaled.config_hash(TAXONOMY) != ensemble.config_hash(TAXONOMY)


def test_summarize_hashes_only_the_options_of_its_method():
    extractive = create_technique("summarize", then="lexicon")
    assert create_technique("summarize", then="lexicon", num_beams=4).config_hash(
        TAXONOMY
    ) == extractive.config_hash(TAXONOMY)
    abstractive = create_technique("summarize", method="abstractive", then="lexicon")
    assert create_technique(
        "summarize", method="abstractive", then="lexicon", num_beams=4
    ).config_hash(TAXONOMY) != abstractive.config_hash(TAXONOMY)
    assert create_technique(
        "summarize", method="abstractive", then="lexicon", sentences=5
    ).config_hash(TAXONOMY) == abstractive.config_hash(TAXONOMY)


def test_the_dtype_that_ran_joins_the_cache_key_of_a_model_only():
    assert technique_cache_key("abc", ModelInfo()) == cache_key("abc", "")
    assert technique_cache_key("abc", ModelInfo(revision="r1")) == cache_key("abc", "r1")
    fp32 = technique_cache_key("abc", ModelInfo(revision="r1", dtype="fp32"))
    bf16 = technique_cache_key("abc", ModelInfo(revision="r1", dtype="bf16"))
    assert len({fp32, bf16, cache_key("abc", "r1")}) == 3


# --- described ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN_MODULES)
def test_every_option_is_described(name):
    cls = get_technique(name)
    infos = cls.Options.describe()
    assert [info.name for info in infos] == list(cls.Options.model_fields)
    for info in infos:
        assert len(info.description.split()) >= 3, f"{name}.{info.name} needs a description"
        assert info.help_line().startswith(f"{info.name}=")
    runtime = {info.name for info in infos if info.runtime}
    expected = {"device", "precision", "batch_size"} if cls.needs_model else set()
    assert runtime == expected


def test_describe_reports_kinds_choices_and_defaults():
    infos = {info.name: info for info in get_technique("zero_shot").Options.describe()}
    assert infos["chunking"].kind == "choice" and infos["chunking"].choices == ("max", "mean", None)
    assert infos["max_length"].kind == "int" and infos["max_length"].default is None
    assert infos["template"].kind == "text"
    assert infos["device"].kind == "choice" and infos["device"].runtime
    embeddings = {info.name: info for info in get_technique("embeddings").Options.describe()}
    assert embeddings["templates"].kind == "list" and embeddings["examples"].kind == "mapping"
    assert embeddings["use_keywords"].kind == "bool" and embeddings["temperature"].kind == "float"
    assert embeddings["batch_size"].default == 64


# --- defaults unchanged -------------------------------------------------------------------------


def test_model_free_defaults_and_cache_keys_are_unchanged():
    rules = create_technique("rules")
    assert rules.config() == {
        "technique": "rules",
        "multi_label": False,
        "case_sensitive": False,
        "hit_strength": 0.7,
        "max_spans_per_pattern": 200,
        "engine": ENGINE,
        "max_scanned_chars": 200_000,
    }
    lexicon = create_technique("lexicon")
    assert lexicon.config() == {
        "technique": "lexicon",
        "multi_label": False,
        "scale": 1.0,
        "max_spans_per_keyword": 100,
        "engine": ENGINE,
    }
    # Changed on purpose by the move to RE2 (b65f6be55686e551 and 32762e09b438af20 before):
    # predictions of the regex-module engine are not reused. A new google-re2 changes them too.
    assert rules.config_hash(TAXONOMY) == "d031644a8bb66bd1"
    assert lexicon.config_hash(TAXONOMY) == "3f2fc1066b23499a"


def test_model_technique_defaults_are_unchanged():
    templates = [
        "This text is about {}.",
        "This document is about {}.",
        "This message is about {}.",
    ]
    assert create_technique("embeddings").config() == {
        "technique": "embeddings",
        "multi_label": False,
        "model": PACKAGED_MINILM,
        "use_keywords": False,
        "templates": templates,
        "temperature": 0.05,
        "threshold": 0.3,
        "max_length": None,
        "example_weight": 0.5,
    }
    assert create_technique("zero_shot").config() == {
        "technique": "zero_shot",
        "multi_label": False,
        "model": "facebook/bart-large-mnli",
        "template": "This text is about {}.",
        "max_length": None,
        "chunking": None,
        "chunk_tokens": None,
        "chunk_overlap": None,
        # the cascade (auto: NLI on the embeddings ranker's top 20 above 12 labels)
        "cascade": "auto",
        "cascade_top_k": 20,
        "cascade_ranker": PACKAGED_MINILM,
    }
    assert create_technique("ner", multi_label=True).config() == {
        "technique": "ner",
        "multi_label": True,
        "backend": "spacy+patterns",
        "model": None,
        "spacy_model": None,
        "rate": 0.7,
        "repeat_weight": 0.5,
        "prior": 0.25,
    }
    zero_shot = create_technique("zero_shot").options
    assert (zero_shot.device, zero_shot.precision, zero_shot.batch_size) == ("auto", "auto", 32)
    assert zero_shot.chunk_overlap == 16
    summarize = create_technique("summarize").options
    assert (summarize.method, summarize.sentences, summarize.then) == (
        "extractive",
        3,
        "embeddings",
    )
    assert summarize.batch_size is None and summarize.max_new_tokens == 80


def test_embeddings_examples_are_hashed_as_a_digest_as_before():
    taught = create_technique("embeddings", examples={"Billing": ["money back"], "Shipping": []})
    assert taught.examples == {"Billing": ("money back",)}
    assert taught.config()["examples"] == "62906eb66a8f8537"  # the digest it had before
    empty = create_technique("embeddings", examples={"Shipping": []})
    assert "examples" not in empty.config()
    assert empty.config_hash(TAXONOMY) == create_technique("embeddings").config_hash(TAXONOMY)
