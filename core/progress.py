"""Console progress for headless runs (tqdm), fed by the engine's Progress callbacks."""

from __future__ import annotations

from tqdm import tqdm

from core.engine import Progress


class ConsoleProgress:
    """One tqdm bar per technique; use as a context manager and pass as `progress=`."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: tqdm | None = None
        self._technique: str | None = None

    def __enter__(self) -> ConsoleProgress:
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        if progress.technique != self._technique:
            self._close()
            self._technique = progress.technique
            self._bar = tqdm(total=progress.total, desc=progress.technique, unit="doc")
        assert self._bar is not None
        self._bar.n = progress.done
        self._bar.set_postfix(cached=progress.cached, refresh=False)
        self._bar.refresh()
