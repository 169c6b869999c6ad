"""A fresh clone tests everything: only the tests of the report's published numbers read ../shared/reference/
(they skip, with the reason, where it is absent, and fail under CI, which always has it); every other test
runs on the bundled data/ or on generated data."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import shared_reference

TESTS = Path(__file__).resolve().parent
# What reads the reference folder: the conftest fixtures and the helpers of shared_reference / app_support.
READERS = {"reference_dir", "reference_cohort", "report_catalog", "require_reference", "REFERENCE"}
# (file, function): the tests whose expected values come from the report or from its reference files.
REPORT_TESTS = {
    ("test_reference_report.py", "test_baseline_matches_report"),
    ("test_reference_report.py", "test_budget_sweep_matches_published_table"),
    ("test_reference_report.py", "test_highs_reproduces_the_report_too"),
    ("test_reference_report.py", "test_default_catalog_and_rounding_give_corrected_plan"),
    ("test_cli.py", "test_plan_report_compatible"),
    ("test_cli.py", "test_sweep_json"),
    ("test_cli.py", "reference_args"),
    ("test_data.py", "test_reference_files_load_unchanged"),
    ("test_app_flows.py", "test_report_preset_reproduces_the_published_baseline"),
    ("test_app_flows.py", "test_report_catalog_file_equals_the_reference_catalog"),
    ("test_churn_cohort.py", "test_same_schema_and_number_format_as_the_reference_files"),
    ("test_browser.py", "open_app"),  # only where the bundled data/ is missing
}


def reference_readers() -> set[tuple[str, str]]:
    """Every top-level function of a test file (or of the shared test helpers, which may read the reference
    folder for no test) that takes a reference fixture or calls a reference helper."""
    found = set()
    for path in sorted(TESTS.glob("test_*.py")) + [TESTS / "app_support.py", TESTS / "helpers.py"]:
        if path.name == Path(__file__).name:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            names = {a.arg for a in node.args.args + node.args.kwonlyargs}
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name):
                    names.add(inner.id)
                elif isinstance(inner, ast.Attribute):
                    names.add(inner.attr)
            if names & READERS:
                found.add((path.name, node.name))
    return found


def test_only_the_report_tests_read_the_reference_folder():
    assert reference_readers() == REPORT_TESTS


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [
        (None, pytest.skip.Exception),
        ("", pytest.skip.Exception),
        ("false", pytest.skip.Exception),
        ("0", pytest.skip.Exception),
        ("true", pytest.fail.Exception),
        ("TRUE", pytest.fail.Exception),
        (" true ", pytest.fail.Exception),
    ],
)
def test_a_missing_reference_folder_skips_but_fails_under_ci(ci, outcome, monkeypatch, tmp_path):
    missing = tmp_path / "shared" / "reference"
    monkeypatch.setattr(shared_reference, "REFERENCE", missing)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome) as raised:
        shared_reference.require_reference()
    assert str(missing) in str(raised.value) and "published numbers are not checked" in str(raised.value)
    if outcome is pytest.fail.Exception:
        assert "CI=true" in str(raised.value)


def test_a_present_reference_folder_is_returned(monkeypatch, tmp_path):
    monkeypatch.setattr(shared_reference, "REFERENCE", tmp_path)
    monkeypatch.setenv("CI", "true")
    assert shared_reference.require_reference() == tmp_path
