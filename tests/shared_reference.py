"""The reference folder ../shared/reference/ beside the checkout: the report's original 250-customer files,
its catalog and its published budget table. Only the tests of the report's published numbers read it (never
copied into the repository); every other test runs on the bundled data/ or on generated data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


def require_reference() -> Path:
    """The reference folder. Where it is absent (a clone outside the team's machines) the calling test skips
    with the reason; under CI (CI=true), which always has it, the test fails instead of skipping silently."""
    if not REFERENCE.is_dir():
        reason = (
            f"reference data folder {REFERENCE} is absent: the report's published numbers are not checked"
        )
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{reason} (CI=true, and CI always has ../shared)", pytrace=False)
        pytest.skip(reason)
    return REFERENCE
