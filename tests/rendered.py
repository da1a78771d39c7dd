"""What a person reads from a markdown string the pages wrote (AppTest gives the source)."""

from __future__ import annotations

import re

_ESCAPED = re.compile(r"""\\([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def as_shown(markdown: str) -> str:
    """Backslash-escaped punctuation (ui.markdown.md) as the reader sees it."""
    return _ESCAPED.sub(r"\1", markdown)
