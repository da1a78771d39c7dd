"""Registry of techniques: built-ins and plug-ins go through the same door."""

from __future__ import annotations

from core.techniques.base import ModelInfo, Span, Technique, TextResult

_REGISTRY: dict[str, type[Technique]] = {}

# Built-in technique modules, each registering one technique.
BUILTIN_MODULES = (
    "rules",
    "lexicon",
    "zero_shot",
    "embeddings",
    "ner",
    "summarize",
    "ensemble",
    "supervised",
)


class UnknownTechniqueError(KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def register(cls: type[Technique]) -> type[Technique]:
    """Class decorator: make a technique available by its `name`."""
    if not getattr(cls, "name", ""):
        raise ValueError(f"{cls.__qualname__} has no `name`; set name = '...' on the class")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    # Imported on first use so that `import core.techniques` stays cheap; the
    # model techniques import torch/transformers only when they load a model.
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(f"core.techniques.{module}")


def known_techniques() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get_technique(name: str) -> type[Technique]:
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTechniqueError(
            f"unknown technique {name!r}; known techniques are: {', '.join(sorted(_REGISTRY))}"
        ) from None


def create_technique(name: str, **options) -> Technique:
    return get_technique(name)(**options)


__all__ = [
    "ModelInfo",
    "Span",
    "Technique",
    "TextResult",
    "UnknownTechniqueError",
    "create_technique",
    "get_technique",
    "known_techniques",
    "register",
]
