"""Command line: `python -m optimizer plan|sweep ...`.

Exit codes: 0 a plan (or a sweep) was produced, 3 the settings are infeasible, 2 bad input or a plan history
that cannot be used (one line on stderr, no traceback), 4 the requested solver is unavailable, 5 the solver
stopped (time limit) before it found a plan (nothing is known to be infeasible).
With --json, the last stdout line is one JSON object.

Start-up: a command imports what it uses when it runs (the history's SQLAlchemy only for `--save` and the
history commands, XGBoost only for the churn commands).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from optimizer import cliargs
from optimizer.catalog import input_warnings, load_catalog
from optimizer.churn.cli import register as register_churn_commands
from optimizer.data import bundled_data_dir, load_cohort
from optimizer.errors import HistoryError, InputError
from optimizer.exports import DEFAULT_HOLDOUT_RATE, DEFAULT_SEED, build_exports, write_exports
from optimizer.jsonout import print_json, records
from optimizer.loop import cli as loop_cli
from optimizer.loop.policies import EXCLUSION_COUNTS
from optimizer.model import PlanSettings
from optimizer.plan import budget_sweep, solve_plan
from optimizer.solvers import SolverUnavailable, SolveStatus

EXIT_OK, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_SOLVER, EXIT_NO_SOLUTION = 0, 2, 3, 4, 5


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    d = PlanSettings().to_dict()
    data = bundled_data_dir()
    parser.add_argument("--predictions", default=str(data / "prediction_250.csv"), help="predictions CSV")
    parser.add_argument("--features", default=str(data / "test_250.csv"), help="features CSV")
    parser.add_argument("--actions", default=None, help="action catalog CSV (default: data/actions.csv)")
    parser.add_argument("--budget", type=cliargs.amount, default=d["budget"], help="weekly budget in dollars")
    capacity = "a whole number of customers, or 'none' for no limit"
    parser.add_argument("--email-capacity", type=cliargs.capacity, default=d["email_capacity"], help=capacity)
    parser.add_argument("--push-capacity", type=cliargs.capacity, default=d["push_capacity"], help=capacity)
    parser.add_argument("--call-capacity", type=cliargs.capacity, default=d["call_capacity"], help=capacity)
    for flag in ("min_high_risk", "min_premium", "max_saturation", "min_segment", "high_risk_threshold"):
        parser.add_argument(
            "--" + flag.replace("_", "-"), type=cliargs.rate, default=d[flag], help="a fraction in [0, 1]"
        )
    parser.add_argument("--coverage-rounding", choices=["ceil", "floor"], default=d["coverage_rounding"])
    parser.add_argument(
        "--solver",
        choices=["auto", "gurobi", "highs", "decomposition"],
        default="auto",
        help="auto: Gurobi within its pip license limit, the decomposition (certified gap) above it",
    )
    parser.add_argument(
        "--time-limit",
        type=cliargs.seconds,
        default=None,
        metavar="SECONDS",
        help="a positive number of seconds per solve (default: no limit)",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="report the solve's progress on stderr (the default when stderr is a terminal)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def _settings(args: argparse.Namespace, budget: float | None = None) -> PlanSettings:
    return PlanSettings(
        budget=args.budget if budget is None else budget,
        email_capacity=args.email_capacity,
        push_capacity=args.push_capacity,
        call_capacity=args.call_capacity,
        min_high_risk=args.min_high_risk,
        min_premium=args.min_premium,
        max_saturation=args.max_saturation,
        min_segment=args.min_segment,
        high_risk_threshold=args.high_risk_threshold,
        coverage_rounding=args.coverage_rounding,
    )


def _load(args: argparse.Namespace):
    cohort = load_cohort(args.predictions, args.features)
    catalog = load_catalog(args.actions)
    for warning in input_warnings(cohort, catalog):
        print(f"warning: {warning}", file=sys.stderr)
    return cohort, catalog


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _progress_printer(args: argparse.Namespace):
    """A progress callback writing one line per step to stderr (stdout keeps the JSON contract)."""
    if not (args.progress or sys.stderr.isatty()):
        return None
    started = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        print(
            f"[{time.perf_counter() - started:7.2f}s {fraction:4.0%}] {message}", file=sys.stderr, flush=True
        )

    return report


def run_plan(args: argparse.Namespace) -> int:
    # --save: the history is opened first, so a plan that cannot be saved writes no export files.
    history = loop_cli.open_history_for_save(args)
    try:
        return _run_plan(args, history)
    finally:
        if history is not None:
            history.close()


def _run_plan(args: argparse.Namespace, history) -> int:
    settings = _settings(args)
    progress = _progress_printer(args)
    if progress is not None:
        progress(0.0, f"loading {args.predictions} and {args.features}")
    cohort, catalog = _load(args)
    policy = loop_cli.contact_policy(args)
    exclusions = None
    if loop_cli.uses_contact_history(args):  # the week against the contact history and its policies
        from optimizer.loop.weekly import plan_week

        plan_date = args.date or dt.date.today()
        store = history if history is not None else loop_cli.open_history(args)
        try:
            contacts, salt = store.week_contacts(plan_date, policy)
        finally:
            if store is not history:
                store.close()
        week = plan_week(
            cohort,
            catalog,
            settings,
            plan_date=plan_date,
            policy=policy,
            contacts=contacts,
            salt=salt,
            solver=args.solver,
            time_limit=args.time_limit,
            progress=progress,
        )
        result, exclusions = week.result, week.exclusions
    else:
        result = solve_plan(
            cohort, catalog, settings, solver=args.solver, time_limit=args.time_limit, progress=progress
        )
    report = result.solver_report
    payload = result.to_dict()
    payload["excluded"] = exclusions.counts if exclusions is not None else dict.fromkeys(EXCLUSION_COUNTS, 0)
    payload["contact_policy"] = {**policy.to_dict(), "history_consulted": exclusions is not None}
    if exclusions is not None:
        counts = exclusions.counts
        print(
            f"Contact policy: {int(exclusions.excluded.sum())} customers excluded (open holdout window "
            f"{counts['holdout_window']}, cool-down {counts['cooldown']}, global control "
            f"{counts['global_control']}); {counts['channel_cap']} with a capped channel"
        )
    print(
        f"Solver: {report.solver} ({report.reason}); status {result.status} in {report.runtime_seconds:.3f}s"
    )
    if report.bound is not None and report.mip_gap is not None:
        print(f"Proven bound {_money(report.bound)}; certified gap {report.mip_gap:.4%}")
    if report.detail:
        print(f"Method: {report.detail}")
    k = result.kpis
    if k is not None:  # a plan
        exports = build_exports(
            result.assignments,
            holdout_rate=args.holdout,
            seed=args.seed,
            plan_date=args.date,
            excluded=None if exclusions is None else exclusions.table,
        )
        written = write_exports(exports, args.out_dir)
        roi = "n/a" if k.roi_pct is None else f"{k.roi_pct:,.1f}%"
        print(
            f"Treated {k.customers_treated} of {k.customers} customers; spend {_money(k.total_spend)}; "
            f"retained CLV {_money(k.expected_retained_clv)}; net value {_money(k.net_value)}; ROI {roi}"
        )
        print(f"Holdout: {exports.holdout_count} customers (seed {exports.seed}); files:")
        for path in written:
            print(f"  {path}")
        payload.update(
            files=[str(p) for p in written], holdout_count=exports.holdout_count, holdout_seed=exports.seed
        )
        plan_id = loop_cli.save_exported_plan(args, result, exports, cohort, catalog, history)
        if plan_id is not None:
            payload["plan_id"] = plan_id
    elif result.diagnosis is not None:
        print(result.diagnosis.message)
    if args.json:
        print_json(payload)
    if result.status is SolveStatus.INFEASIBLE:
        return EXIT_INFEASIBLE
    if not result.has_plan:  # SolveStatus.NO_SOLUTION: stopped without a plan
        print(f"error: {_no_solution_message(args)}", file=sys.stderr)
        return EXIT_NO_SOLUTION
    return EXIT_OK


def _no_solution_message(args: argparse.Namespace) -> str:
    limit = f"time limit ({args.time_limit:g} s)" if args.time_limit is not None else "solver's limits"
    return (
        f"the solver stopped at the {limit} before it found a plan; the settings are not known to be "
        "infeasible: raise --time-limit or leave it out"
    )


def run_sweep(args: argparse.Namespace) -> int:
    settings = _settings(args, budget=args.budgets[0])
    progress = _progress_printer(args)
    if progress is not None:
        progress(0.0, f"loading {args.predictions} and {args.features}")
    cohort, catalog = _load(args)
    table = budget_sweep(
        cohort,
        catalog,
        settings,
        args.budgets,
        solver=args.solver,
        time_limit=args.time_limit,
        progress=progress,
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    stopped = table["budget"][table["status"] == SolveStatus.NO_SOLUTION].tolist()
    if stopped:
        shown = ", ".join(f"{b:g}" for b in stopped)
        print(
            f"note: at {len(stopped)} budget(s) ({shown}) the solver stopped at "
            "the time limit before it found a plan (status no_solution)",
            file=sys.stderr,
        )
    if args.json:
        print_json({"rows": records(table)})
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = cliargs.Parser(
        prog="python -m optimizer",
        description="PlaylistPro Retention Optimizer: weekly plans, budget sweeps and the churn model.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="solve the week's plan and write the export files")
    _add_model_arguments(plan)
    plan.add_argument(
        "--holdout", type=cliargs.rate, default=DEFAULT_HOLDOUT_RATE, help="holdout share per action"
    )
    plan.add_argument(
        "--seed", type=cliargs.seed, default=DEFAULT_SEED, help="holdout random seed (recorded in the file)"
    )
    plan.add_argument(
        "--date", type=cliargs.date, default=None, help="plan date for the file names (default today)"
    )
    plan.add_argument("--out-dir", type=Path, default=Path("exports"), help="folder for the export files")
    plan.set_defaults(handler=run_plan)

    sweep = commands.add_parser("sweep", help="re-solve the plan over a list of budgets")
    _add_model_arguments(sweep)
    sweep.add_argument("--budgets", type=cliargs.budgets, required=True, help="e.g. 150,175,200")
    sweep.set_defaults(handler=run_sweep)

    register_churn_commands(commands)  # train, score, simulate, cohort
    loop_cli.register(commands)  # history, simulate-outcomes, measure, recalibrate; plan --save
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # a bad flag: one line on stderr and SystemExit(2)
    try:
        return args.handler(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SolverUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SOLVER
    except HistoryError as exc:  # the history database cannot be opened, read or written
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. an output folder that cannot be written
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
