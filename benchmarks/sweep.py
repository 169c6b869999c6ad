"""Budget sweep: build once + re-solve (the product) vs. a per-point rebuild with per-element Python loops.

Runs both side by side on the same cohort and the same budgets, checks that they find the same optimum at
every point, and prints both wall times and their ratio (target: the product takes at most 10% of the
baseline). It also times the sweep as a user runs it, a whole process (`python -m optimizer sweep --budgets
... --json`: interpreter start, imports, reading the files, the solves, the output), against the same
baseline, and checks that process's optimum too.

    python benchmarks/sweep.py             # 46 budgets, $150..$1,275, reference cohort
    python benchmarks/sweep.py --repeat 5

The baseline is written the way a first version usually is: one gurobipy/highspy variable and one constraint
term per Python statement, eligibility checked row by row, a new model (and Gurobi env) per budget.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optimizer import PlanSettings, budget_sweep, load_catalog, load_cohort  # noqa: E402
from optimizer.model import policy_count, saturation_count  # noqa: E402

REFERENCE = ROOT.parent / "shared" / "reference"


def baseline_solve(cohort, catalog, settings: PlanSettings) -> float:
    """Per-element build with gurobipy, the way the original dashboard script did it."""
    import gurobipy as gp
    from gurobipy import GRB

    with gp.Env(params={"OutputFlag": 0}) as env, gp.Model(env=env) as m:
        m.Params.MIPGap = 0.0
        m.Params.MIPGapAbs = 1e-6
        m.Params.Threads = 1
        x = {}
        info = {}
        for _, c in cohort.iterrows():
            for _, a in catalog.iterrows():
                if a["action_id"] == 0 or not a["enabled"]:
                    continue
                segment = a["eligible_segment"]
                if segment == "all":
                    ok = True
                elif segment == "high_value":
                    ok = c["clv"] > 300
                elif segment == "medium_value":
                    ok = 150 < c["clv"] <= 300
                elif segment == "low_value":
                    ok = c["clv"] <= 150
                else:
                    ok = c["subscription_type"] == segment
                if not math.isnan(a["min_clv"]) and not c["clv"] > a["min_clv"]:
                    ok = False
                if not math.isnan(a["max_clv"]) and not c["clv"] <= a["max_clv"]:
                    ok = False
                if ok:
                    key = (c["customer_id"], a["action_id"])
                    value = c["churn_probability"] * a["uplift"] * c["clv"] - a["cost"]
                    x[key] = m.addVar(vtype=GRB.BINARY, obj=value)
                    info[key] = (a["cost"], a["channel"], c["churn_probability"], c["subscription_type"])
        m.ModelSense = GRB.MAXIMIZE
        customers = list(cohort["customer_id"])
        n = len(customers)
        for i in customers:
            m.addConstr(gp.quicksum(v for (c, _), v in x.items() if c == i) <= 1)
        m.addConstr(gp.quicksum(info[k][0] * v for k, v in x.items()) <= settings.budget)
        for channels, cap in (
            (("email",), settings.email_capacity),
            (("in_app", "push"), settings.push_capacity),
            (("call",), settings.call_capacity),
        ):
            if cap is not None:
                m.addConstr(gp.quicksum(v for k, v in x.items() if info[k][1] in channels) <= cap)
        high = [
            i
            for i, p in zip(customers, cohort["churn_probability"], strict=True)
            if p > settings.high_risk_threshold
        ]
        if high:
            need = policy_count(settings.min_high_risk, len(high), settings.coverage_rounding)
            m.addConstr(
                gp.quicksum(v for k, v in x.items() if info[k][2] > settings.high_risk_threshold) >= need
            )
        for segment in sorted(set(cohort["subscription_type"])):
            size = int((cohort["subscription_type"] == segment).sum())
            if segment == "Premium":
                need = policy_count(settings.min_premium, size, settings.coverage_rounding)
                m.addConstr(gp.quicksum(v for k, v in x.items() if info[k][3] == "Premium") >= need)
            need = policy_count(settings.min_segment, size, settings.coverage_rounding)
            m.addConstr(gp.quicksum(v for k, v in x.items() if info[k][3] == segment) >= need)
        cap = saturation_count(settings.max_saturation, n)
        for action in catalog["action_id"]:
            if action != 0:
                m.addConstr(gp.quicksum(v for (_, a), v in x.items() if a == action) <= cap)
        m.optimize()
        if m.Status != GRB.OPTIMAL:
            return float("nan")
        return float(m.ObjVal)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=46)
    parser.add_argument("--start", type=float, default=150.0)
    parser.add_argument("--step", type=float, default=25.0)
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions; the median is reported")
    args = parser.parse_args()

    if not REFERENCE.is_dir():
        print(f"reference folder {REFERENCE} is absent; nothing to measure")
        return 1
    cohort = load_cohort(REFERENCE / "prediction_250.csv", REFERENCE / "test_250.csv")
    catalog = load_catalog()
    settings = PlanSettings()
    budgets = [args.start + args.step * i for i in range(args.points)]

    # The whole process, as a user runs it (same cohort, default catalog and settings, same budgets).
    command = [sys.executable, "-m", "optimizer", "sweep", "--budgets", ",".join(f"{b:g}" for b in budgets)]
    command += ["--predictions", str(REFERENCE / "prediction_250.csv")]
    command += ["--features", str(REFERENCE / "test_250.csv"), "--solver", "gurobi", "--json"]

    product_times, baseline_times, process_times = [], [], []
    for _ in range(args.repeat):  # interleaved, so a drift in the machine's speed hits all three alike
        started = time.perf_counter()
        table = budget_sweep(cohort, catalog, settings, budgets, solver="gurobi")
        product_times.append(time.perf_counter() - started)

        started = time.perf_counter()
        baseline = [baseline_solve(cohort, catalog, settings.with_changes(budget=b)) for b in budgets]
        baseline_times.append(time.perf_counter() - started)

        started = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
        process_times.append(time.perf_counter() - started)
    rows = json.loads(out.stdout.strip().splitlines()[-1])["rows"]

    mismatches = [
        (b, a, c) for b, a, c in zip(budgets, table.net_value, baseline, strict=True) if abs(a - c) > 1e-4
    ]
    mismatches += [
        (b, r["net_value"], c)
        for b, r, c in zip(budgets, rows, baseline, strict=True)
        if abs(r["net_value"] - c) > 1e-4
    ]
    product, base = statistics.median(product_times), statistics.median(baseline_times)
    process = statistics.median(process_times)
    print(
        f"cohort: {len(cohort)} customers (reference), default catalog, {len(budgets)} budgets "
        f"${budgets[0]:,.0f}..${budgets[-1]:,.0f}, solver gurobi (both), median of {args.repeat}"
    )
    print(f"{'method':<44}{'wall s':>10}{'per point ms':>14}")
    print(
        f"{'build once + re-solve (budget_sweep)':<44}{product:>10.3f}{product / len(budgets) * 1000:>14.1f}"
    )
    print(f"{'rebuild per point, per-element loops':<44}{base:>10.3f}{base / len(budgets) * 1000:>14.1f}")
    print(
        f"{'whole process: python -m optimizer sweep':<44}{process:>10.3f}"
        f"{process / len(budgets) * 1000:>14.1f}"
    )
    print(f"ratio product / baseline: {product / base:.3f} (target <= 0.10)")
    print(f"ratio whole process / baseline: {process / base:.3f} (target <= 0.10)")
    print(f"same optimum at every point: {'yes' if not mismatches else f'NO: {mismatches[:3]}'}")
    return 0 if not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
