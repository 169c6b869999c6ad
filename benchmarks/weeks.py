"""Weeks: what planning against the contact history costs.

Builds a history of --history-weeks saved weekly plans of the same N-customer cohort (each planned with the
contact policies against the weeks before it, and saved with its exports), then times planning week
--history-weeks + 1 two ways, in this process, on the same cohort and settings:

- without the history: `solve_plan` (today's single-week plan);
- against the history: read the contacts of the earlier weeks (one indexed query), apply the policies
  (holdout window 30 days, cool-down 14 days, email at most 2 in 28 days, a 5% global control group) and
  `plan_week`.

Prints the medians over --repeat runs and the difference (target at 75,000 customers and 12 weeks: at most
0.5 s added).

    python benchmarks/weeks.py                       # 75,000 customers, 12 saved weeks
    python benchmarks/weeks.py --customers 5000 --history-weeks 4 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=75_000)
    parser.add_argument("--history-weeks", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from generate_cohort import cohort_paths

    from optimizer import PlanSettings, build_exports, load_catalog, load_cohort, solve_plan
    from optimizer.loop.history import PlanHistory
    from optimizer.loop.policies import ChannelCap, ContactPolicy
    from optimizer.loop.weekly import plan_week

    n = args.customers
    predictions, features = cohort_paths(n)
    cohort, catalog = load_cohort(predictions, features), load_catalog()
    f = n / 250
    settings = PlanSettings(
        budget=150 * f, email_capacity=120 * f, push_capacity=100 * f, call_capacity=20 * f
    )
    policy = ContactPolicy(
        holdout_window_days=30,
        cooldown_days=14,
        channel_caps=(ChannelCap("email", 2, 28),),
        global_control=0.05,
    )
    start = dt.date(2026, 1, 5)
    with tempfile.TemporaryDirectory() as folder:
        history = PlanHistory(f"sqlite:///{Path(folder) / 'history.sqlite'}")
        salt = history.control_salt()
        built = time.perf_counter()
        for week in range(args.history_weeks):
            date = start + dt.timedelta(days=7 * week)
            planned = plan_week(
                cohort, catalog, settings, plan_date=date, policy=policy,
                contacts=history.contacts(before=date), salt=salt,
            )  # fmt: skip
            exports = build_exports(
                planned.result.assignments, seed=week + 1, plan_date=date, excluded=planned.exclusions.table
            )
            history.save_plan(planned.result, exports, cohort, catalog, contact_policy=policy.to_dict())
        contacts_rows = len(history.contacts())
        print(
            f"history: {args.history_weeks} saved weeks of {n:,} customers, {contacts_rows:,} contact rows "
            f"(built in {time.perf_counter() - built:.1f} s)"
        )
        date = start + dt.timedelta(days=7 * args.history_weeks)
        plain, against, reading = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = solve_plan(cohort, catalog, settings)
            plain.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            contacts, _ = history.week_contacts(date, policy)
            reading.append(time.perf_counter() - t0)
            week = plan_week(
                cohort, catalog, settings, plan_date=date, policy=policy, contacts=contacts, salt=salt
            )
            against.append(time.perf_counter() - t0)
        history.close()
    a, b, r = statistics.median(plain), statistics.median(against), statistics.median(reading)
    print(f"{'plan':<40} {'median s':>9}")
    print(f"{'without the history (solve_plan)':<40} {a:>9.3f}")
    print(f"{'against the history (read + plan_week)':<40} {b:>9.3f}   of which reading the contacts {r:.3f}")
    print(f"added by the history: {b - a:+.3f} s (target <= 0.5 s); excluded {week.exclusions.counts}")
    values = f"{result.kpis.net_value:,.2f} / {week.result.kpis.net_value:,.2f}"
    print(f"net value without / with the policies: {values}")


if __name__ == "__main__":
    main()
