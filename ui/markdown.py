"""Put user text (labels, names, file names, messages quoting them) into Streamlit markdown.

`st.markdown`, `st.caption`, `st.success` and friends read their text as markdown plus
Streamlit's own syntax (`:emoji:`, `:red[...]`, `$math$`). Streamlit never renders raw HTML
from them, so this is about faithfulness rather than injection: a label called `*urgent*`
must show its asterisks, not italics. Every ASCII punctuation character is backslash-escaped,
which CommonMark defines as showing it literally; line breaks are kept.
"""

from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def md(text: object) -> str:
    """`text` as markdown that renders as exactly that text."""
    return _PUNCTUATION.sub(r"\\\1", str(text))


__all__ = ["md"]
