"""Registry of techniques: built-ins and plug-ins go through the same door."""

from __future__ import annotations

from core.techniques.base import ModelInfo, Span, Technique, TextResult

_REGISTRY: dict[str, type[Technique]] = {}

# Built-in techniques: each lives in core/techniques/<name>.py and registers itself on import.
# A module is imported only when its technique is asked for, so `-t rules` never loads torch.
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

# What a project runs unless told otherwise (Classify page, CLI, benches): every taxonomy gets
# a suggestion, even one with label names only (embeddings need nothing more); rules and
# lexicon add their evidence wherever the taxonomy has patterns and keywords.
DEFAULT_TECHNIQUES = ("rules", "lexicon", "embeddings")


class UnknownTechniqueError(KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def register(cls: type[Technique]) -> type[Technique]:
    """Class decorator: make a technique available by its `name`."""
    if not getattr(cls, "name", ""):
        raise ValueError(f"{cls.__qualname__} has no `name`; set name = '...' on the class")
    _REGISTRY[cls.name] = cls
    return cls


def known_techniques() -> list[str]:
    """Built-in and registered plug-in names, without importing any technique module."""
    return sorted(set(BUILTIN_MODULES) | set(_REGISTRY))


def get_technique(name: str) -> type[Technique]:
    if name not in _REGISTRY and name in BUILTIN_MODULES:
        import importlib

        importlib.import_module(f"core.techniques.{name}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTechniqueError(
            f"unknown technique {name!r}; known techniques are: {', '.join(known_techniques())}"
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
