"""Shared fixtures: the reference folder (tests only, never copied into the repository)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session", autouse=True)
def history_database(tmp_path_factory):
    """Every test's plan history is a temporary SQLite file, never the repository's data/history.sqlite
    (tests that need their own database set PLAYLISTPRO_HISTORY_URL again)."""
    from optimizer.loop.history import HISTORY_URL_ENV

    url = f"sqlite:///{(tmp_path_factory.mktemp('history') / 'history.sqlite').as_posix()}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HISTORY_URL_ENV, url)
        yield url


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data folder {REFERENCE} is absent (CI always has it)")
    return REFERENCE


@pytest.fixture(scope="session")
def reference_cohort(reference_dir):
    from optimizer import load_cohort

    return load_cohort(reference_dir / "prediction_250.csv", reference_dir / "test_250.csv")


@pytest.fixture(scope="session")
def report_catalog(reference_dir):
    from optimizer import load_catalog

    return load_catalog(reference_dir / "actions_report_2025.csv")
