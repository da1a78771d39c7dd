"""The server's background model work (classify jobs, the learning refresh) leaves the pages
a core: torch and BLAS get the others (`core.models.loading.reserve_cores`), so a page render
never waits behind a forward pass on a small machine. CLI runs are not affected."""

from __future__ import annotations

import streamlit as st

PAGE_CORES = 1  # cores kept for rendering pages while a job runs


@st.cache_resource(show_spinner=False)
def leave_a_core_for_the_pages() -> int:
    """Once per server process; returns the threads left for model work."""
    from core.models.loading import reserve_cores

    return reserve_cores(PAGE_CORES)
