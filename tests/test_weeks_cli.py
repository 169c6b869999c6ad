"""The weekly program from the command line: two weeks against one history, withdrawal, pooled measurement."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from optimizer.cli import main
from optimizer.loop.history import PlanHistory

ROOT = Path(__file__).resolve().parents[1]
DATA = ["--predictions", str(ROOT / "data" / "prediction_250.csv")]
DATA += ["--features", str(ROOT / "data" / "test_250.csv")]


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def plan(capsys, url, date, out, *extra) -> dict:
    code = main(["plan", *DATA, "--date", date, "--history", url, "--out-dir", str(out), "--json", *extra])
    assert code == 0
    return last_json(capsys)


def rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}"


def test_week_two_respects_week_one_and_lists_its_exclusions(tmp_path, url, capsys):
    first = plan(capsys, url, "2026-03-02", tmp_path / "w1", "--save", "--budget", "300")
    assert first["excluded"] == {"holdout_window": 0, "cooldown": 0, "channel_cap": 0, "global_control": 0}
    assert (
        first["contact_policy"]["holdout_window_days"] == 30 and first["contact_policy"]["history_consulted"]
    )
    week1 = rows(tmp_path / "w1" / "treatment_plan_20260302.csv")
    held = {r["customer_id"] for r in week1 if r["holdout"] == "TRUE"}
    treated = {r["customer_id"] for r in week1 if r["holdout"] == "FALSE"}
    assert held and treated

    second = plan(
        capsys, url, "2026-03-09", tmp_path / "w2", "--save", "--budget", "300", "--cooldown-days", "14"
    )
    assert second["excluded"]["holdout_window"] == len(held)
    assert second["excluded"]["cooldown"] == len(treated)
    assert second["contact_policy"]["cooldown_days"] == 14
    week2 = {r["customer_id"] for r in rows(tmp_path / "w2" / "treatment_plan_20260309.csv")}
    assert week2 and not week2 & (held | treated)
    excluded = rows(tmp_path / "w2" / "excluded_20260309.csv")
    assert list(excluded[0]) == ["customer_id", "reason", "plan_id", "until"]
    by_reason = {r["customer_id"]: (r["reason"], r["until"], r["plan_id"]) for r in excluded}
    assert {c for c, (reason, _, _) in by_reason.items() if reason == "holdout_window"} == held
    assert {c for c, (reason, _, _) in by_reason.items() if reason == "cooldown"} == treated
    some_held = next(iter(held))
    assert by_reason[some_held][1:] == ("2026-04-01", str(first["plan_id"]))  # held out 2026-03-02 + 30 days
    # Neither a holdout nor a cooled-down customer is in any channel list.
    for name in ("email_list", "push_list", "call_queue"):
        listed = {r["customer_id"] for r in rows(tmp_path / "w2" / f"{name}_20260309.csv")}
        assert not listed & (held | treated)


def test_a_withdrawn_plan_stops_counting(tmp_path, url, capsys):
    first = plan(capsys, url, "2026-03-02", tmp_path / "w1", "--save")
    assert main(["history", "withdraw", "--plan", str(first["plan_id"]), "--history", url]) == 0
    capsys.readouterr()
    again = plan(capsys, url, "2026-03-09", tmp_path / "w2", "--cooldown-days", "14")
    assert again["excluded"] == {"holdout_window": 0, "cooldown": 0, "channel_cap": 0, "global_control": 0}
    assert again["net_value"] == first["net_value"]  # the same cohort and settings: the same plan
    with PlanHistory(url) as history:
        assert history.withdrawn(first["plan_id"]) and history.list_plans()["withdrawn"].tolist() == [True]


def test_without_a_history_the_plan_is_todays(tmp_path, capsys):
    assert main(["plan", *DATA, "--date", "2026-03-02", "--out-dir", str(tmp_path), "--json"]) == 0
    payload = last_json(capsys)
    assert payload["contact_policy"]["history_consulted"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "call_queue_20260302.csv",
        "email_list_20260302.csv",
        "push_list_20260302.csv",
        "treatment_plan_20260302.csv",
    ]


def test_the_global_control_group_is_the_same_every_week_and_never_listed(tmp_path, url, capsys):
    one = plan(capsys, url, "2026-03-02", tmp_path / "w1", "--save", "--global-control", "0.1")
    two = plan(
        capsys, url, "2026-03-09", tmp_path / "w2", "--global-control", "0.1", "--holdout-window-days", "0"
    )
    assert one["excluded"]["global_control"] == two["excluded"]["global_control"] > 0
    control1 = {r["customer_id"] for r in rows(tmp_path / "w1" / "excluded_20260302.csv")}
    control2 = {r["customer_id"] for r in rows(tmp_path / "w2" / "excluded_20260309.csv")}
    assert control1 == control2 and len(control1) == one["excluded"]["global_control"]
    planned = {r["customer_id"] for r in rows(tmp_path / "w1" / "treatment_plan_20260302.csv")}
    assert not planned & control1


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--channel-cap", "email=2"], "argument --channel-cap"),
        (["--channel-cap", "fax=1:7"], "argument --channel-cap"),
        (["--holdout-window-days", "-1"], "argument --holdout-window-days"),
        (["--cooldown-days", "1.5"], "argument --cooldown-days"),
        (["--global-control", "0.6"], "argument --global-control"),
        (["--global-control", "nan"], "argument --global-control"),
    ],
)
def test_bad_policy_flags_exit_2_naming_the_flag(flags, needle, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["plan", *DATA, "--out-dir", str(tmp_path), *flags])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not any(tmp_path.iterdir())


def test_measure_pools_several_plans(tmp_path, url, capsys):
    ids = []
    for date in ("2026-03-02", "2026-03-09"):
        ids.append(
            plan(capsys, url, date, tmp_path / date, "--save", "--holdout-window-days", "0")["plan_id"]
        )
    singles = []
    for plan_id in ids:
        outcomes = tmp_path / f"o{plan_id}.csv"
        args = ["simulate-outcomes", "--plan", str(plan_id), "--out", str(outcomes), "--seed", str(plan_id)]
        assert main([*args, "--history", url]) == 0
        assert (
            main(["measure", "--plan", str(plan_id), "--outcomes", str(outcomes), "--save", "--history", url])
            == 0
        )
        capsys.readouterr()
        assert main(["measure", "--plan", str(plan_id), "--history", url, "--json"]) == 0
        singles.append(pd.DataFrame(last_json(capsys)["actions"]).set_index("action_id"))
    assert main(["measure", "--plans", ",".join(map(str, ids)), "--history", url, "--json"]) == 0
    pooled = last_json(capsys)
    table = pd.DataFrame(pooled["actions"]).set_index("action_id")
    for column in ("treated_n", "treated_churned", "holdout_n", "holdout_churned"):
        expected = pd.concat(singles)[column].groupby(level=0).sum()
        assert table[column].to_dict() == expected.to_dict()
    assert pooled["plans"] == ids and pooled["program_lift"] is None
    assert (
        main(["measure", "--since", "2026-03-01", "--until", "2026-03-05", "--history", url, "--json"]) == 0
    )
    assert last_json(capsys)["plans"] == ids[:1]


def test_contacts_by_date_and_plan_on_every_backend(fresh_history_url, tmp_path, capsys):
    """The contact history's query (dates, plan ids, withdrawn plans) on SQLite and PostgreSQL."""
    ids = []
    for date in ("2026-03-02", "2026-03-09", "2026-03-16"):
        ids.append(
            plan(capsys, fresh_history_url, date, tmp_path / date, "--save", "--holdout-window-days", "0")
        )
    with PlanHistory(fresh_history_url) as history:
        every = history.contacts()
        sizes = every.groupby("plan_id").size()
        assert sizes.to_dict() == {p["plan_id"]: p["customers_treated"] for p in ids}
        before = history.contacts(before=dt.date(2026, 3, 16), since=dt.date(2026, 3, 9))
        assert set(before["plan_id"]) == {ids[1]["plan_id"]}
        assert set(history.contacts(plan_ids=[ids[0]["plan_id"], ids[2]["plan_id"]])["plan_id"]) == {
            ids[0]["plan_id"],
            ids[2]["plan_id"],
        }
        history.withdraw_plan(ids[1]["plan_id"])
        assert ids[1]["plan_id"] not in set(history.contacts()["plan_id"])
        assert every["holdout"].dtype == bool and every["customer_id"].map(type).eq(str).all()
        assert history.control_salt() == history.control_salt() and len(history.control_salt()) == 16


def test_recalibrate_from_pooled_evidence(tmp_path, url, capsys):
    """Two weeks with outcomes drawn at a true uplift of 0.02 for the email: pooled, it has enough evidence
    with a loose rule and the new catalog takes the pooled measurement (checked against `measure --plans`)."""
    ids = []
    for date in ("2026-03-02", "2026-03-09"):
        ids.append(
            plan(capsys, url, date, tmp_path / date, "--save", "--holdout-window-days", "0")["plan_id"]
        )
    for plan_id in ids:
        outcomes = tmp_path / f"o{plan_id}.csv"
        args = ["simulate-outcomes", "--plan", str(plan_id), "--out", str(outcomes), "--seed", str(plan_id)]
        assert main([*args, "--uplift", "1=0.02", "--history", url]) == 0
        assert (
            main(["measure", "--plan", str(plan_id), "--outcomes", str(outcomes), "--save", "--history", url])
            == 0
        )
    capsys.readouterr()
    rule = ["--min-holdout", "1", "--min-treated", "1", "--max-ci-width", "2"]
    selection = ["--plans", ",".join(map(str, ids))]
    assert main(["measure", *selection, *rule, "--history", url, "--json"]) == 0
    measured = pd.DataFrame(last_json(capsys)["actions"]).set_index("action_id")
    out = tmp_path / "new.csv"
    code = main(
        ["recalibrate", *selection, *rule, "--out", str(out), "--no-reoptimize", "--history", url, "--json"]
    )
    assert code == 0
    payload = last_json(capsys)
    assert payload["plan"] == max(ids)
    changes = pd.DataFrame(payload["changes"]).set_index("action_id")
    for action in payload["measured_actions"]:
        expected = min(max(round(float(measured.loc[action, "measured_uplift"]), 4), 0.0), 1.0)
        assert changes.loc[action, "new_uplift"] == pytest.approx(expected)
    assert payload["measured_actions"]
    with pytest.raises(SystemExit):
        main(["recalibrate", "--plan", "1", "--plans", "1,2", "--history", url])
