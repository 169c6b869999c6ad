"""Helpers for the app tests: paths, the bundled cohort, the reference cohort (only for the report's published
numbers), AppTest sessions by page."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from shared_reference import REFERENCE, require_reference  # noqa: F401  (re-exported for the app tests)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAGES = {
    "plan": "app.py",
    "results": "pages/2_Results.py",
    "sensitivity": "pages/3_Sensitivity.py",
    "catalog": "pages/4_Action_Catalog.py",
    "data": "pages/5_Data.py",
    "churn": "pages/6_Churn_Model.py",
    "history": "pages/7_History.py",
}
TIMEOUT = 60


@lru_cache(maxsize=1)
def _bundled_cohort():
    from optimizer import load_bundled_cohort

    return load_bundled_cohort()


def bundled_cohort():
    """The bundled 250-customer cohort (data/), a fresh copy per call."""
    return _bundled_cohort().copy()


def app_session(page: str = "plan", cohort=None, secrets: dict | None = None):
    """A fresh AppTest session opened directly on `page` (like opening its URL), not yet run.

    `cohort` is injected into session state before the first run (the bundled cohort by default; False injects
    nothing).
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    if cohort is None:
        cohort = bundled_cohort()
    if cohort is not False:
        at.session_state["cohort"] = cohort
        at.session_state["cohort_label"] = "injected cohort (tests)"
        at.session_state["cohort_kind"] = "injected"
    if page != "plan":
        at.switch_page(PAGES[page])
    return at


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def all_text(at) -> str:
    """Every markdown-ish text on the page, joined (for 'is this message shown' checks)."""
    parts = []
    for kind in (
        "markdown",
        "caption",
        "success",
        "info",
        "warning",
        "error",
        "title",
        "subheader",
        "header",
    ):
        parts += texts(getattr(at, kind))
    parts += [e.proto.text for e in at.get("progress")]
    return "\n".join(parts).replace("\\", "").replace("**", "")


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}
