"""The command-line contract: files, JSON last line, exit codes 0 / 2 / 3."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_ARGS = [
    "--predictions",
    ROOT / "data" / "prediction_250.csv",
    "--features",
    ROOT / "data" / "test_250.csv",
]


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=120,
    )


def reference_args(reference_dir):
    return [
        "--predictions",
        reference_dir / "prediction_250.csv",
        "--features",
        reference_dir / "test_250.csv",
    ]


def test_plan_report_compatible(reference_dir, tmp_path):
    out = run(
        "plan",
        *reference_args(reference_dir),
        "--actions",
        reference_dir / "actions_report_2025.csv",
        "--coverage-rounding",
        "floor",
        "--out-dir",
        tmp_path,
        "--date",
        "2025-11-05",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout.strip().splitlines()[-1])
    assert payload["status"] == "optimal"
    assert payload["solver"] == "gurobi"
    assert payload["net_value"] == 3478.82
    assert payload["customers_treated"] == 75
    assert payload["total_spend"] == 150.0
    assert payload["expected_retained_clv"] == 3628.82
    assert payload["roi_pct"] == 2319.21
    assert payload["mip_gap"] < 1e-9
    assert {c["key"] for c in payload["constraints"]} >= {"budget", "email_capacity", "high_risk_coverage"}
    plan = pd.read_csv(tmp_path / "treatment_plan_20251105.csv")
    assert len(plan) == 75 and (plan.holdout.sum()) == 8  # round(10% of 75) = 8
    emails = pd.read_csv(tmp_path / "email_list_20251105.csv")
    assert len(emails) == 67
    assert set(emails.customer_id).isdisjoint(plan.customer_id[plan.holdout])


def test_plan_infeasible_exit_3(tmp_path):
    out = run("plan", *BUNDLED_ARGS, "--budget", "50", "--out-dir", tmp_path, "--json")
    assert out.returncode == 3
    payload = json.loads(out.stdout.strip().splitlines()[-1])
    assert payload["status"] == "infeasible"
    assert "budget" in payload["diagnosis"]["conflicting_keys"]
    # by hand: test_analysis.test_diagnosis_on_the_bundled_cohort
    assert payload["diagnosis"]["nearest"]["budget"] == 134.0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("customer_id,churn_probability\n205574,1.7\n", "row 2, column 'churn_probability'"),
        ("", "the file is empty"),
    ],
)
def test_plan_bad_input_exit_2(tmp_path, content, message):
    bad = tmp_path / "bad_predictions.csv"
    bad.write_text(content)
    out = run(
        "plan", "--predictions", bad, "--features", ROOT / "data" / "test_250.csv", "--out-dir", tmp_path
    )
    assert out.returncode == 2
    assert message in out.stderr and "bad_predictions.csv" in out.stderr
    assert "Traceback" not in out.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["bad_predictions.csv"]


def test_plan_bad_settings_exit_2():
    out = run("plan", *BUNDLED_ARGS, "--min-premium", "1.5")
    assert out.returncode == 2 and "rate must be a fraction" in out.stderr


def test_sweep_json(reference_dir):
    out = run(
        "sweep",
        *reference_args(reference_dir),
        "--actions",
        reference_dir / "actions_report_2025.csv",
        "--coverage-rounding",
        "floor",
        "--budgets",
        "150,1000",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout.strip().splitlines()[-1])["rows"]
    assert [round(r["net_value"], 2) for r in rows] == [3478.82, 11084.24]
    assert [r["customers_treated"] for r in rows] == [75, 158]
    assert set(rows[0]) >= {"budget", "status", "total_spend", "roi_pct", "expected_churn_reduction"}
