"""The one list of pages: file, title, icon and the permission it takes to open.

The router (app.py) registers only the pages a role may open, the Projects page links the
next steps from here, and every page checks its permission again through
`ui.auth.require_current_page`. Actions inside a page need their own permission too (the
Projects page is open to all; deleting a project needs manage_projects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str  # the script, relative to the repository root
    title: str
    icon: str
    permission: str  # a core.auth permission

    @property
    def stem(self) -> str:
        return self.path.removeprefix("pages/").removesuffix(".py")


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/projects.py", "Projects", ":material/folder:", "view"),
    # reading labels helps everyone; saving them needs edit_taxonomy
    PageSpec("pages/taxonomy.py", "Taxonomy", ":material/sell:", "view"),
    PageSpec("pages/upload.py", "Upload", ":material/upload_file:", "upload"),
    PageSpec("pages/classify.py", "Classify", ":material/bolt:", "classify"),
    PageSpec("pages/review.py", "Review", ":material/fact_check:", "review"),
    PageSpec("pages/adjudicate.py", "Adjudicate", ":material/gavel:", "adjudicate"),
    PageSpec("pages/evaluate.py", "Evaluate", ":material/analytics:", "evaluate"),
    PageSpec("pages/export.py", "Export", ":material/download:", "export"),
    PageSpec("pages/monitor.py", "Monitor", ":material/monitoring:", "view"),
)
DEFAULT_PAGE = PAGES[0]
_BY_STEM = {page.stem: page for page in PAGES}


def page_permission(page: str) -> str:
    """'pages/export.py', '/x/pages/export.py' or 'export' -> 'export'; unknown pages need
    'view'."""
    stem = re.split(r"[\\/]", str(page))[-1].removesuffix(".py")
    spec = _BY_STEM.get(stem)
    return spec.permission if spec else "view"


def allowed_pages(identity, pages=PAGES) -> list[PageSpec]:
    """The pages (of `pages`, in order) this identity may open."""
    return [page for page in pages if identity.can(page.permission)]


def page(stem: str) -> PageSpec:
    return _BY_STEM[stem]
