"""Shared fixtures: the bundled cohort and report catalog in data/ (every test may use them) and the reference
folder ../shared/reference/ (only the tests of the report's published numbers; never copied into the
repository)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared_reference import require_reference  # noqa: E402  (pytest puts tests/ on sys.path)


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
    return require_reference()


@pytest.fixture(scope="session")
def reference_cohort(reference_dir):
    from optimizer import load_cohort

    return load_cohort(reference_dir / "prediction_250.csv", reference_dir / "test_250.csv")


@pytest.fixture(scope="session")
def report_catalog(reference_dir):
    from optimizer import load_catalog

    return load_catalog(reference_dir / "actions_report_2025.csv")


@pytest.fixture(scope="session")
def bundled_cohort():
    """The bundled synthetic 250-customer cohort (data/prediction_250.csv + data/test_250.csv)."""
    from optimizer import load_bundled_cohort

    return load_bundled_cohort()


@pytest.fixture(scope="session")
def bundled_report_catalog():
    """The report's 8-action catalog as shipped for the app's report preset (data/catalog_report_2025.csv)."""
    from optimizer import load_catalog
    from optimizer.data import bundled_data_dir

    return load_catalog(bundled_data_dir() / "catalog_report_2025.csv")
