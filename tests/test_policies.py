"""Contact policies: hand-checked weeks, the control group's stability and size, bad settings."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.loop.policies import (
    ChannelCap,
    ContactPolicy,
    PolicyError,
    contact_exclusions,
    global_control_members,
    new_salt,
)

ROOT = Path(__file__).resolve().parents[1]
SALT = "0123456789abcdef"
D = dt.date(2026, 3, 2)


def contacts(*rows) -> pd.DataFrame:
    """(plan_id, days before D, customer_id, action_id, channel, holdout)."""
    return pd.DataFrame(
        [
            {
                "plan_id": plan,
                "plan_date": D - dt.timedelta(days=ago),
                "customer_id": customer,
                "action_id": action,
                "channel": channel,
                "holdout": held,
            }
            for plan, ago, customer, action, channel, held in rows
        ]
    )


def reasons(exclusions) -> dict[str, str]:
    return dict(zip(exclusions.table["customer_id"], exclusions.table["reason"], strict=True))


def test_open_holdout_window_excludes_only_inside_the_window():
    history = contacts(
        (1, 7, "a", 1, "email", True),  # held out 7 days ago: window open until D + 23
        (1, 7, "b", 1, "email", False),  # treated 7 days ago: not a holdout
        (2, 30, "c", 2, "email", True),  # held out 30 days ago: window closed on D
        (3, 29, "d", 5, "in_app", True),  # 29 days ago: open one more day
        (4, 0, "e", 1, "email", True),  # same date as D: not before D, does not count
        (5, -7, "f", 1, "email", True),  # a later plan: re-planning an old week ignores it
    )
    ex = contact_exclusions(list("abcdefg"), history, D, ContactPolicy())
    assert reasons(ex) == {"a": "holdout_window", "d": "holdout_window"}
    table = ex.table.set_index("customer_id")
    assert table.loc["a", "until"] == "2026-03-25" and table.loc["a", "plan_id"] == 1
    assert table.loc["d", "until"] == "2026-03-03" and table.loc["d", "plan_id"] == 3
    assert ex.counts == {"holdout_window": 2, "cooldown": 0, "channel_cap": 0, "global_control": 0}
    assert ex.excluded.tolist() == [True, False, False, True, False, False, False]


def test_cooldown_counts_treated_customers_and_names_the_latest_plan():
    history = contacts(
        (1, 13, "a", 1, "email", False),
        (2, 6, "a", 2, "email", False),  # the latest contact sets the end of the cool-down
        (2, 6, "b", 0, "none", False),  # assigned no action: not a contact
        (3, 14, "c", 1, "email", False),  # 14 days ago with a 14-day cool-down: over
    )
    policy = ContactPolicy(holdout_window_days=0, cooldown_days=14)
    ex = contact_exclusions(["a", "b", "c"], history, D, policy)
    assert reasons(ex) == {"a": "cooldown"}
    row = ex.table.iloc[0]
    assert row["plan_id"] == 2 and row["until"] == (D + dt.timedelta(days=8)).isoformat()


def test_channel_cap_blocks_only_that_channel_until_the_oldest_contact_leaves_the_window():
    history = contacts(
        (1, 21, "a", 1, "email", False),
        (2, 14, "a", 2, "email", False),
        (3, 7, "a", 5, "in_app", False),
        (2, 14, "b", 1, "email", False),  # one email in 28 days: a second is allowed
        (1, 21, "c", 1, "email", True),  # held out: not contacted
        (2, 14, "c", 1, "email", False),
        (0, 28, "d", 1, "email", False),  # 28 days ago: out of the 28-day window
        (2, 14, "d", 1, "email", False),
    )
    policy = ContactPolicy(holdout_window_days=0, channel_caps=(ChannelCap("email", 2, 28),))
    ex = contact_exclusions(["a", "b", "c", "d"], history, D, policy)
    assert reasons(ex) == {"a": "channel_cap:email"}
    assert ex.table.iloc[0]["until"] == (D + dt.timedelta(days=7)).isoformat()  # plan 1 leaves at D + 7
    assert ex.counts["channel_cap"] == 1 and not ex.excluded.any()
    allowed = ex.allowed(np.array(["email", "in_app", "email", "call"], dtype=object))
    assert allowed.tolist() == [[False, True, False, True]] + [[True] * 4] * 3


def test_a_customer_with_several_reasons_is_listed_once_under_the_first():
    history = contacts((1, 3, "a", 1, "email", True), (1, 3, "b", 1, "email", False))
    policy = ContactPolicy(cooldown_days=7, channel_caps=(ChannelCap("email", 1, 7),))
    ex = contact_exclusions(["a", "b"], history, D, policy)
    assert reasons(ex) == {"a": "holdout_window", "b": "cooldown"}
    assert ex.counts == {"holdout_window": 1, "cooldown": 1, "channel_cap": 0, "global_control": 0}


def test_empty_history_excludes_nobody():
    ex = contact_exclusions(["1", "2"], None, D, ContactPolicy(cooldown_days=7))
    assert not ex.excluded.any() and ex.table.empty and ex.allowed(np.array(["email"])).all()


def test_global_control_group_is_stable_sized_and_independent_of_the_cohort():
    ids = np.array([f"C{i:06d}" for i in range(40_000)], dtype=object)
    members = global_control_members(ids, SALT, 0.05)
    n, g = len(ids), 0.05
    assert abs(members.sum() - n * g) <= 4 * math.sqrt(n * g * (1 - g))  # binomial: 4 standard deviations
    # Same membership in any sub-cohort, in any order.
    rng = np.random.default_rng(3)
    subset = rng.permutation(n)[:5_000]
    assert (global_control_members(ids[subset], SALT, g) == members[subset]).all()
    # A larger fraction only adds customers.
    assert (global_control_members(ids, SALT, 0.10) >= members).all()
    # Another salt, another group.
    assert (global_control_members(ids, "fedcba9876543210", g) != members).sum() > 1_000
    # Another process (hash randomization is per process in Python) computes the same group.
    code = (
        "import sys, numpy as np; from optimizer.loop.policies import global_control_members as m; "
        "ids = np.array([f'C{i:06d}' for i in range(40000)], dtype=object); "
        "print(''.join('1' if x else '0' for x in m(ids, sys.argv[1], 0.05)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, SALT], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "".join("1" if x else "0" for x in members)


def test_global_control_customers_are_excluded_and_need_a_salt():
    ids = [f"C{i}" for i in range(2_000)]
    policy = ContactPolicy(global_control=0.1)
    ex = contact_exclusions(ids, None, D, policy, salt=SALT)
    assert ex.counts["global_control"] == int(global_control_members(ids, SALT, 0.1).sum()) > 0
    assert set(ex.table["reason"]) == {"global_control"} and (ex.table["until"] == "").all()
    with pytest.raises(PolicyError, match="salt"):
        contact_exclusions(ids, None, D, policy)
    assert len(new_salt()) == 16 and new_salt() != new_salt()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ChannelCap.parse("email=2"), "CHANNEL=M:W"),
        (lambda: ChannelCap.parse("email=two:28"), "CHANNEL=M:W"),
        (lambda: ChannelCap.parse("fax=2:28"), "unknown channel"),
        (lambda: ChannelCap.parse("email=0:28"), "at least 1 contact"),
        (lambda: ChannelCap.parse("email=2:0"), "at least 1 day"),
        (lambda: ContactPolicy(holdout_window_days=-1), "holdout_window_days"),
        (lambda: ContactPolicy(cooldown_days=-3), "cooldown_days"),
        (lambda: ContactPolicy(global_control=0.6), "global_control"),
        (lambda: ContactPolicy(global_control=float("nan")), "global_control"),
        (lambda: ContactPolicy(global_control=-0.1), "global_control"),
        (
            lambda: ContactPolicy(channel_caps=(ChannelCap("email", 1, 7), ChannelCap("email", 2, 7))),
            "one cap",
        ),
    ],
)
def test_bad_policy_settings_are_refused(make, match):
    with pytest.raises(PolicyError, match=match):
        make()


def test_policy_round_trips_through_a_dict():
    policy = ContactPolicy(14, 7, (ChannelCap.parse("email=2:28"), ChannelCap.parse(" push = 1 : 7 ")), 0.05)
    assert ContactPolicy.from_dict(policy.to_dict()) == policy
    assert policy.to_dict()["channel_caps"] == ["email=2:28", "push=1:7"]
