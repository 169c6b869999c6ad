"""Helpers for the app tests: paths, the reference cohort (tests only), AppTest sessions by page."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
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


def require_reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data folder {REFERENCE} is absent (CI always has it)")
    return REFERENCE


@lru_cache(maxsize=1)
def _reference_cohort():
    from optimizer import load_cohort

    return load_cohort(REFERENCE / "prediction_250.csv", REFERENCE / "test_250.csv")


def reference_cohort():
    require_reference()
    return _reference_cohort().copy()


def app_session(page: str = "plan", cohort=None, secrets: dict | None = None):
    """A fresh AppTest session opened directly on `page` (like opening its URL), not yet run.

    `cohort` is injected into session state before the first run (the reference cohort by default).
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    if cohort is None:
        cohort = reference_cohort()
    if cohort is not False:
        at.session_state["cohort"] = cohort
        at.session_state["cohort_label"] = "reference cohort (tests)"
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
