"""IngestError and the safe display form of a user-supplied filename.

The filename comes from the browser, so it is only ever *shown*, never used as a
path: directories are stripped (both / and \\), unprintable characters replaced,
and the length capped so a message stays readable.
"""

from __future__ import annotations

import re

MAX_DISPLAY_NAME_CHARS = 100
UNNAMED = "(unnamed file)"

_DIRECTORY_SEPARATORS = re.compile(r"[\\/]")
_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")


def display_name(filename: object) -> str:
    """'../../x.txt' -> 'x.txt', 'C:\\\\a\\\\x.txt' -> 'x.txt'; printable, at most 100 chars."""
    name = _DIRECTORY_SEPARATORS.split(str(filename))[-1]
    name = _DRIVE_PREFIX.sub("", name)
    # Replaces control, format (e.g. right-to-left override) and odd space characters.
    name = "".join(ch if ch.isprintable() else "?" for ch in name).strip()
    if name in {"", ".", ".."}:
        return UNNAMED
    if len(name) <= MAX_DISPLAY_NAME_CHARS:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > 10:
        return name[: MAX_DISPLAY_NAME_CHARS - 1] + "…"
    keep = MAX_DISPLAY_NAME_CHARS - len(extension) - 2  # room for "…" and "."
    return f"{stem[:keep]}….{extension}"


def file_extension(filename: object) -> str:
    """Lower-case extension of the file's base name, without the dot ('' when none)."""
    name = _DIRECTORY_SEPARATORS.split(str(filename))[-1].strip()
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot else ""


class IngestError(ValueError):
    """A file could not be ingested. str(e) == '<file>, <location>: <reason and fix>'."""

    def __init__(self, filename: str, reason: str, location: str | None = None):
        self.filename = filename
        self.reason = reason
        self.location = location
        where = f"{filename}, {location}" if location else filename
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):  # keeps the error picklable (e.g. across worker processes)
        return (type(self), (self.filename, self.reason, self.location))
