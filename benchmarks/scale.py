"""Scale: the decomposition on 250 to 1,000,000 customers against HiGHS's interior-point LP relaxation.

For each cohort size, with the default catalog (9 actions incl. the call) and the default settings scaled to
the cohort (budget $150, email 120, push/in-app 100, calls 20 per 250 customers; rates unchanged), every
method runs as its own Python process that reads the same two CSV files (written by generate_cohort.py into
data/generated/), so wall times include start-up, loading and building. The parent measures each process's
wall time; the process reports its phases and its peak memory (max RSS). Times are medians over --repeat runs.

    python benchmarks/scale.py                        # 250, 5,000, 75,000, 1,000,000; HiGHS IPM to 75,000
    python benchmarks/scale.py --sizes 75000 --repeat 3
    python benchmarks/scale.py --skip-1m --skip-highs   # the decomposition only, up to 75,000
    python benchmarks/scale.py --highs-1m               # also HiGHS's IPM at 1,000,000 (minutes, many GB)

Methods: "decomposition" (`python -m optimizer`'s solve_plan with solver="decomposition": plan, KPIs,
constraint report), "highs-ipm" (the LP relaxation of the same model by HiGHS's interior point method, only a
bound: no plan), and "gurobi" (the exact MILP, where gurobipy's size-limited license allows: 250).
The decomposition process also re-plans with the budget raised 10%: cold (model rebuilt, no multipliers)
and warm (same model, the first plan's multipliers, cuts and plan), reported as the warm-start speed-up;
and, for reference, on the same built model without the warm start.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SIZES = [250, 5_000, 75_000, 1_000_000]
TIMEOUT = 3600


def scaled_settings(n: int):
    from optimizer import PlanSettings

    f = n / 250
    return PlanSettings(budget=150 * f, email_capacity=120 * f, push_capacity=100 * f, call_capacity=20 * f)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(method: str, n: int) -> dict:
    """One measured process: load the CSVs, build, solve; returns the phases as a dict."""
    started = time.perf_counter()
    from generate_cohort import cohort_paths

    from optimizer import build_problem, load_catalog, load_cohort, solve_plan

    predictions, features = cohort_paths(n)
    cohort = load_cohort(predictions, features)
    catalog = load_catalog()
    loaded = time.perf_counter()
    settings = scaled_settings(n)
    out: dict = {"method": method, "customers": n, "load_s": loaded - started}
    if method == "highs-ipm":
        from optimizer.solvers import HighsSession

        problem = build_problem(cohort, catalog, settings.high_risk_threshold)
        with HighsSession(problem, problem.rhs(settings), relax=True) as session:
            session.h.setOptionValue("solver", "ipm")
            built = time.perf_counter()
            solution = session.solve()
        out.update(
            build_s=built - loaded,
            solve_s=solution.runtime,
            status=solution.status,
            objective=None,
            bound=solution.objective,
            gap=None,
            variables=problem.n_variables,
        )
    else:
        problem = build_problem(cohort, catalog, settings.high_risk_threshold)
        built = time.perf_counter()
        solver = "decomposition" if method == "replan" else method
        result = solve_plan(cohort, catalog, settings, solver=solver, problem=problem, diagnose=False)
        solved = time.perf_counter()
        report = result.solver_report
        out.update(
            build_s=built - loaded,
            solve_s=report.runtime_seconds,
            plan_s=solved - built,
            status=result.status,
            objective=report.objective,
            bound=report.bound,
            gap=report.mip_gap,
            detail=report.detail,
            variables=problem.n_variables,
        )
        if method == "replan":  # a second process: the warm-start measurement, after a first plan
            raised = settings.with_changes(budget=settings.budget * 1.1)
            t0 = time.perf_counter()
            cold = solve_plan(cohort, catalog, raised, solver=solver, diagnose=False)  # rebuilds the model
            t1 = time.perf_counter()
            warm = solve_plan(
                cohort, catalog, raised, solver=solver, problem=problem, warm_start=result, diagnose=False
            )
            t2 = time.perf_counter()
            same_model = solve_plan(cohort, catalog, raised, solver=solver, problem=problem, diagnose=False)
            t3 = time.perf_counter()
            out.update(
                replan_cold_s=t1 - t0,
                replan_warm_s=t2 - t1,
                replan_model_s=t3 - t2,
                replan_cold_solver_s=cold.solver_report.runtime_seconds,
                replan_warm_solver_s=warm.solver_report.runtime_seconds,
                replan_model_solver_s=same_model.solver_report.runtime_seconds,
                replan_same=abs(cold.solver_report.objective - warm.solver_report.objective) < 1e-6,
                replan_gap=warm.solver_report.mip_gap,
            )
    out["peak_mb"] = _peak_mb()
    return out


def run_process(method: str, n: int) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", method, "--sizes", str(n)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{method} on {n:,} customers failed:\n{done.stderr}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def median_run(method: str, n: int, repeat: int) -> dict:
    runs = [run_process(method, n) for _ in range(repeat)]
    out = dict(runs[0])
    for key in [k for k, v in runs[0].items() if isinstance(v, float) and k.endswith(("_s", "_mb"))]:
        out[key] = statistics.median(r[key] for r in runs)
    out["wall_runs"] = [round(r["wall_s"], 2) for r in runs]
    return out


def _money(value) -> str:
    return "-" if value is None else f"{value:,.2f}"


def print_table(rows: list[dict]) -> None:
    print()
    print("| customers | method | wall time (s) | peak memory (MB) | objective | bound | gap |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        gap = "-" if r.get("gap") is None else f"{r['gap']:.2e}"
        print(
            f"| {r['customers']:,} | {r['method']} | {r['wall_s']:.2f} | {r['peak_mb']:,.0f} | "
            f"{_money(r.get('objective'))} | {_money(r.get('bound'))} | {gap} |"
        )
    print()
    for r in rows:
        phases = f"load {r['load_s']:.2f} s, build {r.get('build_s', 0):.2f} s, solver {r['solve_s']:.2f} s"
        if "plan_s" in r:
            phases += f", solve_plan {r['plan_s']:.2f} s"
        print(f"{r['customers']:>9,} {r['method']:<14} {phases}; runs {r['wall_runs']} ({r['status']})")
        if r.get("detail"):
            print(f"{'':>25}{r['detail']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--repeat", type=int, default=3, help="runs per method and size (median reported)")
    parser.add_argument("--skip-1m", action="store_true", help="leave out 1,000,000 customers")
    parser.add_argument("--skip-highs", action="store_true", help="leave out HiGHS's interior-point LP")
    parser.add_argument("--highs-1m", action="store_true", help="run HiGHS's IPM at 1,000,000 customers too")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.sizes[0])))
        return

    from generate_cohort import write_cohort

    from optimizer.solvers import gurobi_available

    sizes = [n for n in args.sizes if not (args.skip_1m and n >= 1_000_000)]
    for n in sizes:
        write_cohort(n)
    rows, replans = [], {}
    for n in sizes:
        methods = ["decomposition"]
        if n <= 250 and gurobi_available():
            methods.append("gurobi")
        if not args.skip_highs and (n < 1_000_000 or args.highs_1m):
            methods.append("highs-ipm")
        for method in methods:
            row = median_run(method, n, args.repeat if method != "highs-ipm" or n < 1_000_000 else 1)
            rows.append(row)
            print(f"{n:>9,} {method:<14} {row['wall_s']:.2f} s", file=sys.stderr, flush=True)
        replans[n] = median_run("replan", n, args.repeat)
    print_table(rows)

    print()
    by = {(r["customers"], r["method"]): r for r in rows}
    for n in sizes:
        d, h, g = by.get((n, "decomposition")), by.get((n, "highs-ipm")), by.get((n, "gurobi"))
        if d and h:
            ratio = d["wall_s"] / h["wall_s"]
            tight = (d["bound"] - h["bound"]) / abs(h["bound"])
            print(
                f"{n:>9,}: decomposition / HiGHS IPM wall time = {d['wall_s']:.2f} / {h['wall_s']:.2f} s "
                f"= {ratio:.1%} (IPM alone {h['solve_s']:.2f} s); bound vs the LP bound {tight:+.1e}"
            )
        if d and g:
            same = abs(d["objective"] - g["objective"]) < 1e-6
            print(f"{n:>9,}: objective {'identical to' if same else 'DIFFERS FROM'} Gurobi's exact solve")
        r = replans[n]
        cold, warm = r["replan_cold_s"], r["replan_warm_s"]
        cold_solver, warm_solver = r["replan_cold_solver_s"], r["replan_warm_solver_s"]
        model, model_solver = r["replan_model_s"], r["replan_model_solver_s"]
        print(
            f"{n:>9,}: re-plan at budget +10%: cold {cold:.3f} s, warm {warm:.3f} s = {cold / warm:.1f}x "
            f"(solver alone {cold_solver:.3f} / {warm_solver:.3f} s = {cold_solver / warm_solver:.1f}x); "
            f"same built model without the warm start {model:.3f} s (solver {model_solver:.3f} s); "
            f"same objective: {r['replan_same']}, gap {r['replan_gap']:.1e}"
        )
        if d and n >= 1_000_000:
            ok = d["wall_s"] < 15 and d["peak_mb"] < 4096 and d["gap"] <= 1e-4
            print(
                f"{n:>9,}: target < 15 s, < 4 GB, gap <= 0.01%: {d['wall_s']:.2f} s, {d['peak_mb']:,.0f} MB, "
                f"gap {d['gap']:.2e} -> {'met' if ok else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
