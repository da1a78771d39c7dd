"""`python -m core ...` in its own process, as a user runs it: the one way tests start the CLI
(repo root as working directory and on PYTHONPATH, output captured as text)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_sift(
    *args: str, db: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Exit code, stdout and stderr of `python -m core [--db DB] ARGS`."""
    command = [sys.executable, "-m", "core", *(["--db", str(db)] if db else []), *args]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
