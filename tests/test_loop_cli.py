"""The loop CLI: plan --save, history, simulate-outcomes, measure, recalibrate; exit codes 0 and 2."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from optimizer import load_catalog
from optimizer.cli import main

ROOT = Path(__file__).resolve().parents[1]


def last_json(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def saved(tmp_path, capsys):
    """Two plans saved through `plan --save` ($400 then $150) on the bundled cohort; returns (history URL,
    export folder)."""
    url = f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}"
    ref = ["--predictions", str(ROOT / "data" / "prediction_250.csv")]
    ref += ["--features", str(ROOT / "data" / "test_250.csv"), "--date", "2025-11-05", "--history", url]
    for budget, label, folder in (("400", "week 45", "ex"), ("150", "lean", "ex150")):
        code = main(
            [
                "plan",
                *ref,
                "--budget",
                budget,
                "--out-dir",
                str(tmp_path / folder),
                "--save",
                "--label",
                label,
            ]
            + ["--json"]
        )
        assert code == 0
    assert last_json(capsys)["plan_id"] == 2
    return url, tmp_path / "ex"


def test_history_commands(saved, tmp_path, capsys):
    url, exported = saved
    assert main(["history", "list", "--history", url, "--json"]) == 0
    plans = last_json(capsys)["plans"]
    assert [(p["id"], p["label"], p["budget"]) for p in plans] == [(2, "lean", 150.0), (1, "week 45", 400.0)]

    assert (
        main(["history", "export", "--plan", "1", "--out-dir", str(tmp_path / "again"), "--history", url])
        == 0
    )
    capsys.readouterr()
    names = sorted(p.name for p in exported.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again").iterdir())
    for name in names:  # re-downloaded byte for byte
        assert (tmp_path / "again" / name).read_bytes() == (exported / name).read_bytes()

    assert main(["history", "show", "--plan", "1", "--history", url, "--json"]) == 0
    shown = last_json(capsys)
    assert shown["label"] == "week 45" and shown["settings"]["budget"] == 400.0
    assert sum(a["holdout"] for a in shown["action_mix"]) == shown["holdout_count"]

    assert main(["history", "compare", "--plans", "1", "2", "--history", url, "--json"]) == 0
    compared = last_json(capsys)
    budget = next(s for s in compared["settings"] if s["setting"] == "budget")
    assert (budget["a"], budget["b"], budget["changed"]) == (400.0, 150.0, True)
    net = next(k for k in compared["kpis"] if k["metric"] == "net_value")
    assert net["change"] == pytest.approx(net["b"] - net["a"])


def test_simulate_measure_recalibrate(saved, tmp_path, capsys):
    url, _ = saved
    outcomes = tmp_path / "outcomes.csv"
    code = main(
        ["simulate-outcomes", "--plan", "1", "--out", str(outcomes), "--uplift", "1=0.05", "--seed", "3"]
        + ["--history", url, "--json"]
    )
    assert code == 0
    simulated = last_json(capsys)
    assert simulated["rows"] == 250 and simulated["true_uplift"]["1"] == 0.05
    assert list(pd.read_csv(outcomes).columns) == ["customer_id", "churned"]

    assert (
        main(["measure", "--plan", "1", "--outcomes", str(outcomes), "--save", "--history", url, "--json"])
        == 0
    )
    measured = last_json(capsys)
    assert measured["saved_as"] == 1 and measured["outcomes_file"] == "outcomes.csv"
    assert measured["untreated"] == 250 - len(pd.read_csv(next((tmp_path / "ex").glob("treatment_plan_*"))))
    first = measured["actions"][0]
    assert {"measured_uplift", "uplift_ci_low", "uplift_ci_high", "catalog_uplift", "holdout_n"} <= set(first)
    assert all(not a["sufficient"] for a in measured["actions"])
    assert all("Too small to conclude anything" in a["warning"] for a in measured["actions"])
    assert "Miettinen-Nurminen" in measured["method"]

    catalog_file = tmp_path / "new_actions.csv"
    # Without --outcomes: the file saved against the plan.
    assert main(["recalibrate", "--plan", "1", "--out", str(catalog_file), "--history", url, "--json"]) == 0
    recalibrated = last_json(capsys)
    assert recalibrated["measured_actions"] == []  # nothing sufficient on a 250-customer week
    assert recalibrated["net_value_gain"] == pytest.approx(0.0, abs=1e-6)
    pd.testing.assert_frame_equal(load_catalog(catalog_file), load_catalog())


def test_bad_input_exit_2(saved, tmp_path, capsys):
    url, _ = saved
    bad = tmp_path / "bad_outcomes.csv"
    bad.write_text("customer_id,churned\n200123,1\n200480,yes\n200123,0\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer",
            "measure",
            "--plan",
            "1",
            "--outcomes",
            str(bad),
            "--history",
            url,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 2
    assert "bad_outcomes.csv, row 3, column 'churned': churned must be 0 or 1" in out.stderr
    assert "bad_outcomes.csv, row 4, column 'customer_id': duplicate customer_id '200123'" in out.stderr
    assert "Traceback" not in out.stderr

    unknown = tmp_path / "other_week.csv"
    unknown.write_text("customer_id,churned\n200123,1\n1,0\n")
    assert main(["measure", "--plan", "1", "--outcomes", str(unknown), "--history", url]) == 2
    assert (
        "other_week.csv, row 3, column 'customer_id': customer_id '1' is not in plan #1"
        in capsys.readouterr().err
    )
    assert main(["history", "show", "--plan", "9", "--history", url]) == 2
    assert "no saved plan with id 9" in capsys.readouterr().err
    assert main(["recalibrate", "--plan", "2", "--history", url]) == 2
    assert "plan 2 has no outcome file uploaded" in capsys.readouterr().err
    assert (
        main(["measure", "--plan", "1", "--outcomes", str(tmp_path / "missing.csv"), "--history", url]) == 2
    )
    assert "missing.csv: file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as parse_error:
        main(["simulate-outcomes", "--plan", "1", "--out", "x.csv", "--uplift", "one=0.1", "--history", url])
    assert parse_error.value.code == 2
