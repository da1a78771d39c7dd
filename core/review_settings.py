"""How a project is reviewed: the one owner of the review settings kept in project.settings.

Keys in the project's settings JSON (`core.store` Project.settings), each with its default:

- `reviews_wanted` (int, 1..MAX_REVIEWS_WANTED, default 1): independent reviews each
  document should get (Argilla's `min_submitted`). With k > 1 a reviewer's queue holds
  only documents they have not labelled that have fewer than k reviewers; a document is
  *done* at k (or once adjudicated). k = 1 is the single-reviewer queue of before.
- `show_suggestions` (bool, default True): False hides the model's suggestion, its scores,
  the technique votes and the evidence colours on the Review page, so reviewers in an
  agreement study are not anchored by the model.
- `guidelines` (str, markdown source, at most MAX_GUIDELINES characters): shown on the
  Review page next to each label's description and keywords (escaped: it reads literally).

`review_settings(project)` reads them (defaults filled in, bad stored values replaced by the
default rather than crashing a page); `checked_review_settings(...)` validates what a user
typed and says which field is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

MAX_REVIEWS_WANTED = 10  # more independent reviews per document than any agreement study uses
MAX_GUIDELINES = 20_000  # characters; a page of guidelines, not a manual


class ReviewSettingsError(ValueError):
    """A review setting is unusable; the message names the field and the fix."""


@dataclass(frozen=True)
class ReviewSettings:
    reviews_wanted: int = 1
    show_suggestions: bool = True
    guidelines: str = ""

    @property
    def distributed(self) -> bool:
        """More than one review wanted per document: per-reviewer queues."""
        return self.reviews_wanted > 1

    def as_settings(self) -> dict[str, Any]:
        """The keys as they are stored in project.settings."""
        return asdict(self)


def review_settings(project) -> ReviewSettings:
    """The project's review settings, defaults filled in; a stored value of the wrong type
    (an older or hand-edited database) reads as the default."""
    stored: Mapping[str, Any] = dict(getattr(project, "settings", None) or {})
    default = ReviewSettings()
    try:
        return checked_review_settings(
            reviews_wanted=stored.get("reviews_wanted", default.reviews_wanted),
            show_suggestions=stored.get("show_suggestions", default.show_suggestions),
            guidelines=stored.get("guidelines", default.guidelines),
        )
    except ReviewSettingsError:
        return ReviewSettings(
            reviews_wanted=_or_default(
                stored, "reviews_wanted", int, default.reviews_wanted, _valid_k
            ),
            show_suggestions=_or_default(
                stored, "show_suggestions", bool, default.show_suggestions, None
            ),
            guidelines=_or_default(
                stored,
                "guidelines",
                str,
                default.guidelines,
                lambda text: len(text) <= MAX_GUIDELINES,
            ),
        )


def checked_review_settings(
    *, reviews_wanted: Any, show_suggestions: Any, guidelines: Any
) -> ReviewSettings:
    """ReviewSettings from user input, or ReviewSettingsError naming the field."""
    if isinstance(reviews_wanted, bool) or not isinstance(reviews_wanted, int):
        if isinstance(reviews_wanted, float) and reviews_wanted.is_integer():
            reviews_wanted = int(reviews_wanted)
        else:
            raise ReviewSettingsError(
                f"reviews_wanted must be a whole number from 1 to {MAX_REVIEWS_WANTED}, "
                f"not {reviews_wanted!r}."
            )
    if not _valid_k(reviews_wanted):
        raise ReviewSettingsError(
            f"reviews_wanted must be from 1 to {MAX_REVIEWS_WANTED} (reviews per document), "
            f"not {reviews_wanted}; use 1 for one reviewer per document."
        )
    if not isinstance(show_suggestions, bool):
        raise ReviewSettingsError(
            f"show_suggestions must be true or false, not {show_suggestions!r}."
        )
    if not isinstance(guidelines, str):
        raise ReviewSettingsError(
            f"guidelines must be text (markdown), not {type(guidelines).__name__}."
        )
    if len(guidelines) > MAX_GUIDELINES:
        raise ReviewSettingsError(
            f"guidelines are {len(guidelines):,} characters; the most is {MAX_GUIDELINES:,}. "
            "Shorten them, or link to a longer document."
        )
    return ReviewSettings(
        reviews_wanted=reviews_wanted,
        show_suggestions=show_suggestions,
        guidelines=guidelines.replace("\r\n", "\n"),
    )


def with_review_settings(settings: Mapping[str, Any], review: ReviewSettings) -> dict[str, Any]:
    """The project's whole settings dict with the review keys replaced (others kept)."""
    return {**dict(settings or {}), **review.as_settings()}


def needs_review(
    reviewers: set[str] | frozenset[str], reviewer: str, wanted: int, *, adjudicated: bool
) -> bool:
    """Whether a document belongs in `reviewer`'s queue when `wanted` reviews are asked for:
    they have not labelled it, it has fewer than `wanted` reviewers, and nobody adjudicated
    it. `reviewers`: who holds a current opinion (latest accept/correct not undone)."""
    return not adjudicated and reviewer not in reviewers and len(reviewers) < wanted


def _valid_k(value: int) -> bool:
    return 1 <= value <= MAX_REVIEWS_WANTED


def _or_default(stored: Mapping[str, Any], key: str, kind: type, default, valid) -> Any:
    value = stored.get(key, default)
    if type(value) is not kind or (valid is not None and not valid(value)):
        return default
    return value


__all__ = [
    "MAX_GUIDELINES",
    "MAX_REVIEWS_WANTED",
    "ReviewSettings",
    "ReviewSettingsError",
    "checked_review_settings",
    "needs_review",
    "review_settings",
    "with_review_settings",
]
