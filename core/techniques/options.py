"""Technique options: typed, validated, and split into what changes a technique's output and
how it runs.

Each technique declares an `Options` class (a frozen pydantic model: unknown names refused,
values coerced and checked once, when the technique is made). Fields made with `runtime()`
(device, precision, batch size) say how the technique runs, not what it computes: they are
left out of the cache key, so switching "auto" to "cuda" or batch 8 to 64 reuses every
stored prediction. (Precision does nudge the numbers: the engine adds the dtype a model
actually ran in to the cache key, `core.engine.technique_cache_key`.) Fields made with
`opaque()` hold values that are not plain JSON (a trained model, example texts, another
technique's options): `output()` leaves them out and the technique's `config()` hashes what
they mean instead (a fingerprint, a digest, the inner technique's config). Everything else
is hashed as it is (`Technique.config`).

The same schema serves three readers: the technique itself (attribute access), the command
line (`-o technique.name=value`, listed by `python -m core classify --help`) and the
Classify page's option forms (`describe`).
"""

from __future__ import annotations

import collections.abc
import json
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from core.models.catalog import DEVICES, PRECISIONS

Device = Literal[DEVICES]  # type: ignore[valid-type]
Precision = Literal[PRECISIONS]  # type: ignore[valid-type]


class OptionsError(ValueError):
    """An option is unknown or has a bad value; the message names the technique, the option
    and what it accepts."""


def runtime(default: Any, description: str) -> Any:
    """A field that says how a technique runs, not what it outputs: never hashed."""
    return Field(default, description=description, json_schema_extra={"runtime": True})


def option(
    default: Any,
    description: str,
    *,
    suggestions: tuple[str, ...] = (),
    free_text: bool = False,
    **constraints: Any,
) -> Any:
    """A field that changes a technique's output: part of its cache key.

    `suggestions`: values a form offers in a list (e.g. known models); with `free_text` the
    form also takes any other value (a local folder, another hub id)."""
    extra: Any = {"suggestions": list(suggestions), "free_text": free_text} if suggestions else None
    return Field(default, description=description, json_schema_extra=extra, **constraints)


def opaque(default: Any, description: str, **constraints: Any) -> Any:
    """A field whose value is not plain JSON (a model object, texts, nested options): left out
    of `output()`; the technique's `config()` must hash what it means (e.g. a digest)."""
    return Field(
        default, description=description, json_schema_extra={"opaque": True}, **constraints
    )


class TechniqueOptions(BaseModel):
    """Base of every technique's options (none by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @classmethod
    def runtime_names(cls) -> frozenset[str]:
        """Fields that say how the technique runs (never hashed)."""
        return cls._marked("runtime")

    @classmethod
    def opaque_names(cls) -> frozenset[str]:
        """Fields that `output()` leaves out because `config()` hashes them its own way."""
        return cls._marked("opaque")

    @classmethod
    def _marked(cls, marker: str) -> frozenset[str]:
        return frozenset(
            name
            for name, field in cls.model_fields.items()
            if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get(marker)
        )

    def output(self) -> dict[str, Any]:
        """The options that change the output, as plain JSON values (for the cache key):
        every field but the runtime and opaque ones."""
        return self.model_dump(mode="json", exclude=set(self.runtime_names() | self.opaque_names()))

    @classmethod
    def describe(cls) -> list[OptionInfo]:
        """Each option's name, type, default, allowed values and meaning."""
        out = []
        for name, field in cls.model_fields.items():
            annotation = field.annotation
            choices = _choices(annotation)
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            out.append(
                OptionInfo(
                    name=name,
                    kind=_kind(annotation),
                    default=field.default,
                    choices=choices,
                    description=field.description or "",
                    runtime=name in cls.runtime_names(),
                    suggestions=tuple(extra.get("suggestions") or ()),  # type: ignore[arg-type]
                    free_text=bool(extra.get("free_text")),
                )
            )
        return out


class ModelOptions(TechniqueOptions):
    """Options every technique that loads a model shares: where and how it runs."""

    device: Device = runtime("auto", "where the model runs: auto picks cuda, then mps, then cpu")
    precision: Precision = runtime(
        "auto",
        "number format: auto is bf16 on a GPU or a CPU with native bf16 (AMX/AVX512_BF16), "
        "kept only if a probe set agrees with fp32; fp32 elsewhere",
    )
    batch_size: PositiveInt = runtime(32, "texts per forward pass")


@dataclass(frozen=True)
class OptionInfo:
    name: str
    kind: str  # "bool", "int", "float", "text", "choice", "list", "mapping", "object"
    default: Any
    choices: tuple[Any, ...]  # for kind "choice"
    description: str
    runtime: bool  # how it runs (never hashed), not what it outputs
    suggestions: tuple[str, ...] = ()  # values a form lists (kind "text")
    free_text: bool = False  # the form also takes a value not among the suggestions

    def help_line(self) -> str:
        allowed = (
            " | ".join("none" if c is None else str(c) for c in self.choices)
            if self.choices
            else self.kind
        )
        if self.default is None:
            default = "none"
        elif isinstance(self.default, tuple | list | dict):
            default = json.dumps(
                list(self.default) if isinstance(self.default, tuple) else self.default
            )
        else:
            default = self.default
        return f"{self.name}={allowed} (default {default}): {self.description}"


def parse_options(
    technique: str,
    schema: type[TechniqueOptions],
    values: dict,
    *,
    error: type[OptionsError] = OptionsError,
) -> Any:
    """values -> an instance of `schema`, or `error` (an OptionsError) saying what is wrong and
    what fits."""
    try:
        return schema(**values)
    except ValidationError as problem:
        raise error(_explain(technique, schema, problem)) from None


def _explain(technique: str, schema: type[TechniqueOptions], error: ValidationError) -> str:
    known = {info.name: info for info in schema.describe()}
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        if item["type"] == "extra_forbidden":
            listed = ", ".join(known) or "none"
            problems.append(f"{technique}: unknown option {name!r}; its options are: {listed}")
            continue
        info = known.get(name)
        where = f"{technique}.{name}" if name else technique
        message = item["msg"]
        if item["type"] == "literal_error" and info is not None and info.choices:
            message = "must be one of " + ", ".join(repr(choice) for choice in info.choices)
        elif item["type"] == "value_error":  # our validators' own sentences
            message = message.removeprefix("Value error, ")
        # An error of the options together (no field) would echo every value given: skip it.
        got = f" (got {_short(repr(item.get('input')))})" if name else ""
        accepts = f"; accepted: {info.help_line()}" if info else ""
        problems.append(f"{where}: {message}{got}{accepts}")
    return "; ".join(problems)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """Annotated[X, ...] | None -> (X, True): the type inside, and whether None is allowed."""
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [arg for arg in get_args(annotation) if arg is not type(None)]
            optional = optional or len(args) < len(get_args(annotation))
            if len(args) != 1:
                return annotation, optional
            annotation = args[0]
        else:
            return annotation, optional


def _choices(annotation: Any) -> tuple[Any, ...]:
    inner, optional = _unwrap(annotation)
    if get_origin(inner) is Literal:  # Literal[...] or Optional[Literal[...]]
        return (*get_args(inner), *((None,) if optional else ()))
    return ()


def _kind(annotation: Any) -> str:
    if _choices(annotation):
        return "choice"
    inner, _ = _unwrap(annotation)
    origin = get_origin(inner) or inner
    if not isinstance(origin, type):
        return "object"
    for base, kind in (
        (bool, "bool"),  # before int: bool is an int
        (int, "int"),
        (float, "float"),
        (str, "text"),
        (collections.abc.Mapping, "mapping"),
        (collections.abc.Sequence, "list"),
    ):
        if issubclass(origin, base):
            return kind
    return "object"


__all__ = [
    "Device",
    "ModelOptions",
    "OptionInfo",
    "OptionsError",
    "Precision",
    "TechniqueOptions",
    "opaque",
    "option",
    "parse_options",
    "runtime",
]
