"""CLI of the measure-and-improve loop: plan history, simulated outcomes, measurement, recalibration.

Size (about 760 lines): one parser and one small handler per command (eleven commands and the plan flags);
each handler only calls `optimizer.loop` and prints, so splitting it would only scatter the parser.

    python -m optimizer plan ... --save [--label TEXT]           save the exported plan in the history
    python -m optimizer history list|show|export|compare ...     the saved plans
    python -m optimizer simulate-outcomes --plan ID --out FILE    outcomes drawn at known true uplifts
    python -m optimizer measure --plan ID --outcomes FILE         measured uplift per action
    python -m optimizer recalibrate --plan ID [--outcomes FILE]   a catalog with the measured uplifts

Every command takes `--history URL` (default: $PLAYLISTPRO_HISTORY_URL, else data/history.sqlite).
Exit codes: 0 ok, 2 bad input or a history database that cannot be used (one line on stderr: a
`HistoryError` names the database and the reason). With --json the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer import cliargs
from optimizer.csvout import write_files
from optimizer.errors import InputError, InputProblem
from optimizer.jsonout import print_json as _print_json
from optimizer.jsonout import records as _records
from optimizer.loop.comparison import compare_plans
from optimizer.loop.outcomes import (
    SufficiencyRule,
    load_plan_outcomes,
    measure_uplift,
    outcomes_csv_bytes,
    simulate_outcomes,
)

if TYPE_CHECKING:
    from optimizer.loop.history import PlanHistory, SavedPlan

# The history (SQLAlchemy) and the recalibration (which reads it) are imported by the commands that use
# them, not when the parser is built: `plan` without --save never loads SQLAlchemy.
HISTORY_URL_ENV = "PLAYLISTPRO_HISTORY_URL"  # equal to optimizer.loop.history.HISTORY_URL_ENV (tested)
EXIT_OK = 0


def _write_file(path: Path, content: bytes) -> None:
    """Write one file all or nothing (`optimizer.csvout.write_files`): errors name `path` and the cause."""
    write_files({path.name: content}, path.parent)


def _plan_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"plan id must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"plan id must be positive, got {text!r}")
    return value


def _uplifts(text: str) -> dict[int, float]:
    """'1=0.05,2=0.12' -> {1: 0.05, 2: 0.12}: action ids and their true uplifts in [-1, 1]."""
    what = "uplifts must look like 1=0.05,2=0.12 (action_id=uplift, each uplift between -1 and 1)"
    out = {}
    for part in (p.strip() for p in text.split(",")):
        key, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            action, uplift = int(key), float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
        if not -1.0 <= uplift <= 1.0:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{what}, got {part!r}")
        if action in out:
            raise argparse.ArgumentTypeError(f"action {action} is given twice, in {text!r}")
        out[action] = uplift
    return out


def _fraction(text: str) -> float:
    what = "must be a number in (0, 2]"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
    if not 0.0 < value <= 2.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def _history_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history",
        default=None,
        metavar="URL",
        help=f"history database URL (default: ${HISTORY_URL_ENV}, else data/history.sqlite)",
    )


def _rule_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SufficiencyRule()
    parser.add_argument(
        "--min-holdout",
        type=cliargs.positive_count,
        default=defaults.min_holdout,
        help="holdout customers needed",
    )
    parser.add_argument(
        "--min-treated",
        type=cliargs.positive_count,
        default=defaults.min_treated,
        help="treated customers needed",
    )
    parser.add_argument(
        "--max-ci-width", type=_fraction, default=defaults.max_ci_width, help="widest 95%% interval accepted"
    )


def _policy_arguments(parser: argparse.ArgumentParser) -> None:
    policy = parser.add_argument_group(
        "contact policy (applied against the plan history with --save, --history or a policy flag)"
    )
    policy.add_argument(
        "--holdout-window-days",
        type=cliargs.count,
        default=None,
        help="no action for a customer held out in a plan of the last N days (default 30; 0: off)",
    )
    policy.add_argument(
        "--cooldown-days",
        type=cliargs.count,
        default=None,
        help="no action for a customer treated in a plan of the last N days (default 0: off)",
    )
    policy.add_argument(
        "--channel-cap",
        type=cliargs.channel_cap,
        action="append",
        default=None,
        metavar="CHANNEL=M:W",
        help="at most M actions of CHANNEL within W days, this week included (repeatable)",
    )
    policy.add_argument(
        "--global-control",
        type=cliargs.control_fraction,
        default=None,
        help="share of the customer base in the persistent global control group (0 to 0.5; default 0)",
    )


def _rule(args: argparse.Namespace) -> SufficiencyRule:
    return SufficiencyRule(args.min_holdout, args.min_treated, args.max_ci_width)


# --- plan --save -------------------------------------------------------------------------------------


def open_history_for_save(args: argparse.Namespace) -> PlanHistory | None:
    """For `plan --save`: the history, opened (schema created or upgraded) before the plan is solved and any
    export file written, so a history that cannot be used fails the command (exit 2) with no file written.
    None when not asked to save."""
    return open_history(args) if getattr(args, "save", False) else None


def open_history(args: argparse.Namespace) -> PlanHistory:
    """The history of `--history` (default: $PLAYLISTPRO_HISTORY_URL, else data/history.sqlite)."""
    from optimizer.loop.history import PlanHistory

    return PlanHistory(args.history)


def save_exported_plan(
    args: argparse.Namespace, result, exports, cohort, catalog, history: PlanHistory | None = None
) -> int | None:
    """For `plan --save`: save the exported plan in the history (`open_history_for_save`), print its id;
    None when not asked to. A save failing after the files were written says so in its message."""
    if not getattr(args, "save", False):
        return None
    from optimizer.loop.history import HistoryError, PlanHistory

    own = history is None
    history = history or PlanHistory(args.history)
    try:
        plan_id = history.save_plan(
            result,
            exports,
            cohort,
            catalog,
            label=args.label or "",
            created_by=_user(),
            contact_policy=contact_policy(args).to_dict(),
        )
    except HistoryError as error:
        raise HistoryError(f"the export files were written but the plan was not saved: {error}") from error
    finally:
        if own:
            history.close()
    print(f"Saved as plan #{plan_id} in {history.safe_url}")
    return plan_id


def _user() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or ""


# --- contact policies ----------------------------------------------------------------------------------

_POLICY_FLAGS = ("holdout_window_days", "cooldown_days", "channel_cap", "global_control")


def uses_contact_history(args: argparse.Namespace) -> bool:
    """`plan` consults the contact history with --save, --history or any contact-policy flag."""
    return bool(
        getattr(args, "save", False)
        or getattr(args, "history", None)
        or any(getattr(args, name, None) is not None for name in _POLICY_FLAGS)
    )


def contact_policy(args: argparse.Namespace):
    """The `ContactPolicy` of `plan`'s flags (defaults where a flag is absent)."""
    from optimizer.loop.policies import DEFAULT_HOLDOUT_WINDOW_DAYS, ContactPolicy, PolicyError

    try:
        return ContactPolicy(
            holdout_window_days=DEFAULT_HOLDOUT_WINDOW_DAYS
            if args.holdout_window_days is None
            else args.holdout_window_days,
            cooldown_days=args.cooldown_days or 0,
            channel_caps=tuple(args.channel_cap or ()),
            global_control=args.global_control or 0.0,
        )
    except PolicyError as exc:  # e.g. two caps for one channel
        raise InputError(InputProblem("--channel-cap", str(exc))) from None


def run_history_withdraw(args: argparse.Namespace) -> int:
    from optimizer.loop.history import PlanHistory

    with PlanHistory(args.history) as history:
        history.withdraw_plan(args.plan)
    print(f"Plan #{args.plan} withdrawn: it stays in the history but no longer counts as contacts.")
    if args.json:
        _print_json({"plan": args.plan, "withdrawn": True})
    return EXIT_OK


# --- history -----------------------------------------------------------------------------------------


def run_history_list(args: argparse.Namespace) -> int:
    from optimizer.loop.history import PlanHistory

    with PlanHistory(args.history) as history:
        plans = history.list_plans()
    if plans.empty:
        print("No saved plans yet: run `python -m optimizer plan --save`.")
    else:
        shown = plans[
            ["id", "plan_date", "label", "budget", "customers_treated", "holdout_count", "total_spend"]
            + ["net_value", "roi_pct", "outcome_files"]
        ]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    if args.json:
        _print_json({"plans": _records(plans)})
    return EXIT_OK


def _describe(plan: SavedPlan) -> list[str]:
    k = plan.kpis
    roi = "n/a" if k.roi_pct is None else f"{k.roi_pct:,.1f}%"
    lines = [
        f"{plan.title}, saved {plan.created_at}" + (f" by {plan.created_by}" if plan.created_by else ""),
        f"  status {plan.status} ({plan.solver_report.solver}); {k.customers_treated} of {k.customers} "
        f"treated, {int(plan.holdout.sum())} held out (seed {plan.holdout_seed})",
        f"  spend ${k.total_spend:,.2f}; retained CLV ${k.expected_retained_clv:,.2f}; "
        f"net value ${k.net_value:,.2f}; ROI {roi}",
        "  settings: " + ", ".join(f"{n}={v}" for n, v in plan.settings.to_dict().items()),
        f"  input fingerprint {plan.input_fingerprint}",
    ]
    return lines


def run_history_show(args: argparse.Namespace) -> int:
    from optimizer.loop.history import PlanHistory

    with PlanHistory(args.history) as history:
        plan = history.load_plan(args.plan)
        outcomes = history.list_outcomes(args.plan)
    print("\n".join(_describe(plan)))
    mix = plan.plan_rows.groupby(["action_id", "action_name"]).agg(
        customers=("customer_id", "size"), holdout=("holdout", "sum"), spend=("cost", "sum")
    )
    print(mix.reset_index().to_string(index=False))
    if args.json:
        _print_json(
            {
                "id": plan.id,
                "created_at": plan.created_at,
                "label": plan.label,
                "plan_date": plan.plan_date.isoformat(),
                "status": plan.status,
                "settings": plan.settings.to_dict(),
                "kpis": plan.kpis.to_dict(),
                "holdout_count": int(plan.holdout.sum()),
                "holdout_seed": plan.holdout_seed,
                "input_fingerprint": plan.input_fingerprint,
                "action_mix": _records(mix.reset_index()),
                "outcome_files": _records(outcomes),
            }
        )
    return EXIT_OK


def run_history_export(args: argparse.Namespace) -> int:
    from optimizer.loop.history import PlanHistory

    with PlanHistory(args.history) as history:
        files = history.plan_files(args.plan)
    written = [str(path) for path in write_files(files, args.out_dir)]  # the set, all or nothing
    print("\n".join(written))
    if args.json:
        _print_json({"plan": args.plan, "files": written})
    return EXIT_OK


def run_history_compare(args: argparse.Namespace) -> int:
    from optimizer.loop.history import PlanHistory

    first, second = args.plans
    with PlanHistory(args.history) as history:
        a, b = history.load_plan(first), history.load_plan(second)
    comparison = compare_plans(a, b, labels=(f"#{first}", f"#{second}"))
    kpis = comparison.kpis.rename(columns={"a": f"#{first}", "b": f"#{second}"})
    print(kpis.drop(columns="metric").to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    changed = comparison.settings[comparison.settings["changed"]]
    if not changed.empty:
        print("Settings changed: " + "; ".join(f"{r.label} {r.a} -> {r.b}" for r in changed.itertuples()))
    print(comparison.action_mix.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(
        f"Customers: {comparison.same} same action, {comparison.switched} switched, "
        f"{comparison.only_a} only in #{first}, {comparison.only_b} only in #{second}"
    )
    if args.json:
        _print_json(
            {
                "plans": [first, second],
                "kpis": _records(comparison.kpis),
                "settings": _records(comparison.settings),
                "action_mix": _records(comparison.action_mix),
                "same": comparison.same,
                "switched": comparison.switched,
                "only_first": comparison.only_a,
                "only_second": comparison.only_b,
            }
        )
    return EXIT_OK


# --- simulate, measure, recalibrate ---------------------------------------------------------------------


def run_simulate(args: argparse.Namespace) -> int:
    from optimizer.loop.history import PlanHistory

    with PlanHistory(args.history) as history:
        plan = history.load_plan(args.plan)
    unknown = sorted(set(args.uplift or {}) - set(plan.catalog["action_id"].astype(int)))
    if unknown:
        raise ValueError(
            f"argument --uplift: action {', '.join(map(str, unknown))} is not in plan #{plan.id}'s catalog"
        )
    outcomes = simulate_outcomes(
        plan,
        args.uplift,
        seed=args.seed,
        baseline_scale=args.baseline_scale,
        include_untreated=not args.plan_only,
    )
    _write_file(args.out, outcomes_csv_bytes(outcomes))
    truth = {int(a): float(u) for a, u in plan.catalog.set_index("action_id")["uplift"].items()}
    truth.update(args.uplift or {})
    used = sorted(set(plan.assignments["action_id"].astype(int)))
    print(f"Wrote {len(outcomes)} outcomes ({int(outcomes['churned'].sum())} churned) to {args.out}")
    print("True uplift per action: " + ", ".join(f"{a}={truth[a]:g}" for a in used))
    if args.json:
        _print_json(
            {
                "plan": plan.id,
                "file": str(args.out),
                "rows": len(outcomes),
                "churned": int(outcomes["churned"].sum()),
                "true_uplift": {str(a): truth[a] for a in used},
                "seed": args.seed,
                "baseline_scale": args.baseline_scale,
            }
        )
    return EXIT_OK


def _format_table(table: pd.DataFrame) -> str:
    def pct(value) -> str:
        return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"

    def interval(low, high) -> str:
        if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
            return "–"
        return f"[{low:.3f}, {high:.3f}]"

    shown = pd.DataFrame(
        {
            "action": [f"{a} {n}" for a, n in zip(table["action_id"], table["action_name"], strict=True)],
            "treated": [
                f"{c}/{n} = {pct(r)}"
                for c, n, r in table[["treated_churned", "treated_n", "treated_churn_rate"]].itertuples(
                    index=False
                )
            ],
            "holdout": [
                f"{c}/{n} = {pct(r)}"
                for c, n, r in table[["holdout_churned", "holdout_n", "holdout_churn_rate"]].itertuples(
                    index=False
                )
            ],
            "measured uplift": [
                "–" if math.isnan(u) else f"{u:.3f}" for u in table["measured_uplift"].astype(float)
            ],
            "95% CI": [
                interval(lo, hi)
                for lo, hi in table[["uplift_ci_low", "uplift_ci_high"]].itertuples(index=False)
            ],
            "catalog": [f"{u:.3f}" for u in table["catalog_uplift"]],
            "sufficient": np.where(table["sufficient"], "yes", "no"),
        }
    )
    return shown.to_string(index=False)


def _load_measurement(args: argparse.Namespace, history: PlanHistory, plan: SavedPlan):
    """The plan's outcomes (--outcomes FILE, else the latest file saved against it) and their measurement."""
    if args.outcomes is not None:
        if not args.outcomes.is_file():
            raise InputError(InputProblem(args.outcomes.name, f"file not found ({args.outcomes})"))
        content, name = args.outcomes.read_bytes(), args.outcomes.name
    else:
        content, name = history.load_outcomes(plan.id)
    outcomes = load_plan_outcomes(plan, content, name)
    return measure_uplift(plan, outcomes, rule=_rule(args)), content, name


def run_measure(args: argparse.Namespace) -> int:
    from optimizer.loop.history import PlanHistory

    if args.plan is None:
        return run_measure_pooled(args)
    with PlanHistory(args.history) as history:
        plan = history.load_plan(args.plan)
        measurement, content, name = _load_measurement(args, history, plan)
        saved_as = None
        if args.save and args.outcomes is not None:
            saved_as = history.save_outcomes(plan.id, content, name, uploaded_by=_user())
    print(f"{plan.title}: {measurement.matched} of {len(plan.assignments)} plan customers have outcomes")
    print(_format_table(measurement.table))
    for row in measurement.table.itertuples():
        if row.warning:
            print(f"  ! {row.action_name}: {row.warning}")
    for note in measurement.notes:
        print(f"  note: {note}")
    print(f"Method: {measurement.method}")
    if saved_as is not None:
        print(f"Outcomes saved against plan #{plan.id} (file #{saved_as})")
    if args.json:
        _print_json({"plan": plan.id, "outcomes_file": name, "saved_as": saved_as, **measurement.to_dict()})
    return EXIT_OK


def pooled_weeks(history: PlanHistory, plan_ids: list[int]):
    """The saved plans' latest outcome files as `MeasuredWeek`s (plans without outcomes are refused)."""
    from optimizer.loop.policies import global_control_members
    from optimizer.loop.pooled import MeasuredWeek

    weeks = []
    for plan_id in plan_ids:
        plan = history.load_plan(plan_id)
        content, name = history.load_outcomes(plan.id)
        outcomes = load_plan_outcomes(plan, content, name)
        control: list[str] = []
        fraction = float((history.contact_policy(plan.id) or {}).get("global_control", 0.0))
        if fraction > 0:
            ids = plan.cohort["customer_id"].astype(str).to_numpy(dtype=object)
            control = ids[global_control_members(ids, history.control_salt(), fraction)].tolist()
        weeks.append(MeasuredWeek(plan.id, plan.plan_rows, outcomes, control))
    return weeks


def _selected_plans(args: argparse.Namespace, history: PlanHistory) -> list[int]:
    """The plans of --plans, or of --since [--until] (saved, not withdrawn)."""
    if args.until is not None and args.since is None:
        raise InputError(InputProblem("--until", "needs --since"))
    ids = args.plans if args.plans is not None else history.plan_ids_between(args.since, args.until)
    if not ids:
        raise InputError(InputProblem("--since", "no saved plan is dated in that period"))
    return ids


def run_measure_pooled(args: argparse.Namespace) -> int:
    from optimizer.loop.history import PlanHistory
    from optimizer.loop.pooled import measure_pooled

    with PlanHistory(args.history) as history:
        pooled = measure_pooled(pooled_weeks(history, _selected_plans(args, history)), rule=_rule(args))
    measurement = pooled.measurement
    print(f"Plans {', '.join(f'#{i}' for i in pooled.plan_ids)} pooled: {measurement.matched} customer-weeks")
    print(_format_table(measurement.table))
    if pooled.repeated_customers:
        print(
            f"  note: {pooled.repeated_customers} customers appear in more than one week (one row per week)"
        )
    if pooled.program is not None:
        p = pooled.program
        print(
            f"Program lift vs the global control group: {p['measured_uplift']:+.3f} "
            f"[{p['uplift_ci_low']:+.3f}, {p['uplift_ci_high']:+.3f}] "
            f"({p['treated_n']} program customers, {p['holdout_n']} control customers)"
        )
    for note in measurement.notes + pooled.notes:
        print(f"  note: {note}")
    if args.json:
        _print_json(pooled.to_dict())
    return EXIT_OK


def run_simulate_weeks(args: argparse.Namespace) -> int:
    from optimizer.loop.simulation import WEEK_HEADER, simulate_weeks, week_line
    from optimizer.model import PlanSettings

    # The default settings are written for 250 customers: budget and capacities scale with the cohort.
    f = args.cohort_size / 250
    settings = PlanSettings(
        budget=args.budget if args.budget is not None else 150 * f,
        email_capacity=120 * f,
        push_capacity=100 * f,
        call_capacity=20 * f,
    )
    history = None
    if args.history is not None:
        from optimizer.loop.history import PlanHistory

        history = PlanHistory(args.history)
    print(WEEK_HEADER)
    try:
        simulation = simulate_weeks(
            args.weeks,
            args.cohort_size,
            args.seed,
            settings=settings,
            policy=contact_policy(args),
            recalibrate_week=args.recalibrate_week,
            on_week=lambda week: print(week_line(week), flush=True),
            history=history,
        )
    finally:
        if history is not None:
            history.close()
    first = simulation.first_sufficient
    print(
        "First week with enough evidence: "
        + (", ".join(f"action {a}: week {w}" for a, w in sorted(first.items())) or "none yet")
    )
    if args.json:
        _print_json(
            {
                "weeks": [week.to_dict() for week in simulation.weeks],
                "first_sufficient": {str(a): w for a, w in sorted(first.items())},
                "true_uplift": {str(a): u for a, u in sorted(simulation.true_uplift.items())},
            }
        )
    return EXIT_OK


def run_recalibrate(args: argparse.Namespace) -> int:
    from optimizer.loop.history import PlanHistory
    from optimizer.loop.recalibrate import recalibrate_catalog, reoptimize

    if args.plan is None and args.outcomes is not None:
        raise InputError(
            InputProblem("--outcomes", "pooled recalibration uses the outcome files saved per plan")
        )
    with PlanHistory(args.history) as history:
        if args.plan is not None:
            plan = history.load_plan(args.plan)
            measurement, _, name = _load_measurement(args, history, plan)
        else:  # pooled evidence: the latest of the selected plans is re-optimized with the new catalog
            from optimizer.loop.pooled import measure_pooled

            ids = _selected_plans(args, history)
            measurement = measure_pooled(pooled_weeks(history, ids), rule=_rule(args)).measurement
            plan = history.load_plan(max(ids))
            name = f"the latest outcome files of plans {', '.join(f'#{i}' for i in ids)}"
    recalibration = recalibrate_catalog(plan.catalog, measurement)
    out = args.out or Path(f"actions_recalibrated_plan{plan.id}.csv")
    _write_file(out, recalibration.catalog_csv())
    changes = recalibration.changes
    print(
        changes[["action_id", "action_name", "estimate", "measured", "new_uplift", "source"]].to_string(
            index=False, float_format=lambda v: f"{v:.4f}"
        )
    )
    print(f"Wrote the recalibrated catalog to {out}")
    payload = {
        "plan": plan.id,
        "outcomes_file": name,
        "catalog_file": str(out),
        "measured_actions": recalibration.measured_actions,
        "changes": _records(changes),
    }
    if not args.no_reoptimize:
        change = reoptimize(plan, recalibration.catalog, solver=args.solver)
        print(change.kpis.drop(columns="metric").to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
        c = change.comparison
        print(
            f"Re-optimized: {c.same} customers keep their action, {c.switched} switch, "
            f"{c.only_a} are no longer treated, {c.only_b} are newly treated."
        )
        payload.update(
            reoptimized_status=change.after.status,
            kpis=_records(change.kpis),
            action_mix=_records(c.action_mix),
            net_value_gain=change.net_value_gain,
            customers_same=c.same,
            customers_switched=c.switched,
            customers_dropped=c.only_a,
            customers_added=c.only_b,
        )
    if args.json:
        _print_json(payload)
    return EXIT_OK


# --- registration ------------------------------------------------------------------------------------


def register(subparsers) -> None:
    """Add the loop's subcommands to `python -m optimizer`, and `--save` to its `plan` command."""
    plan = subparsers.choices.get("plan")
    if plan is not None:
        plan.add_argument("--save", action="store_true", help="save the exported plan in the plan history")
        plan.add_argument("--label", default="", help="a name for the saved plan")
        _history_argument(plan)
        _policy_arguments(plan)

    history = subparsers.add_parser("history", help="saved plans: list, show, export, compare")
    actions = history.add_subparsers(dest="history_command", required=True)
    listing = actions.add_parser("list", help="list the saved plans, newest first")
    listing.set_defaults(handler=run_history_list)
    show = actions.add_parser("show", help="one saved plan: settings, KPIs, action mix, outcome files")
    show.add_argument("--plan", type=_plan_id, required=True)
    show.set_defaults(handler=run_history_show)
    withdraw = actions.add_parser("withdraw", help="mark a saved plan as not executed: it stops counting")
    withdraw.add_argument("--plan", type=_plan_id, required=True)
    withdraw.set_defaults(handler=run_history_withdraw)
    export = actions.add_parser("export", help="write a saved plan's four files exactly as exported")
    export.add_argument("--plan", type=_plan_id, required=True)
    export.add_argument("--out-dir", type=Path, default=Path("exports"))
    export.set_defaults(handler=run_history_export)
    compare = actions.add_parser("compare", help="two saved plans side by side")
    compare.add_argument("--plans", type=_plan_id, nargs=2, required=True, metavar="ID")
    compare.set_defaults(handler=run_history_compare)
    for sub in (listing, show, withdraw, export, compare):
        _history_argument(sub)
        sub.add_argument("--json", action="store_true", help="print one JSON object as the last line")

    simulate = subparsers.add_parser(
        "simulate-outcomes", help="draw 30-day outcomes for a saved plan at known true uplifts"
    )
    simulate.add_argument("--plan", type=_plan_id, required=True)
    simulate.add_argument("--out", type=Path, required=True, help="outcomes CSV to write")
    simulate.add_argument(
        "--uplift",
        type=_uplifts,
        default=None,
        help="true uplifts, e.g. 1=0.05,2=0.12 (default: the catalog's)",
    )
    simulate.add_argument("--seed", type=cliargs.seed, default=1, help="random seed")
    simulate.add_argument(
        "--baseline-scale",
        type=cliargs.non_negative_number,
        default=1.0,
        help="true churn = scale x model probability (calibration)",
    )
    simulate.add_argument(
        "--plan-only", action="store_true", help="leave out the customers the plan did not select"
    )
    simulate.set_defaults(handler=run_simulate)

    measure = subparsers.add_parser(
        "measure", help="measured uplift per action from 30-day outcomes (one plan, or several pooled)"
    )
    chosen = measure.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--plan", type=_plan_id, help="one saved plan")
    chosen.add_argument("--plans", type=cliargs.plan_ids, help="several saved plans, pooled: 3,4,5")
    chosen.add_argument("--since", type=cliargs.date, help="pool the plans dated from this day (YYYY-MM-DD)")
    measure.add_argument("--until", type=cliargs.date, default=None, help="... up to this day (with --since)")
    measure.add_argument(
        "--outcomes", type=Path, default=None, help="CSV customer_id,churned (default: the latest saved)"
    )
    measure.add_argument("--save", action="store_true", help="keep the outcomes file with the plan")
    _rule_arguments(measure)
    measure.set_defaults(handler=run_measure)

    recalibrate = subparsers.add_parser(
        "recalibrate",
        help="a catalog with the measured uplifts where the evidence suffices, and the new plan",
    )
    pick = recalibrate.add_mutually_exclusive_group(required=True)
    pick.add_argument("--plan", type=_plan_id, help="one saved plan")
    pick.add_argument("--plans", type=cliargs.plan_ids, help="several saved plans, pooled: 3,4,5")
    pick.add_argument("--since", type=cliargs.date, help="pool the plans dated from this day (YYYY-MM-DD)")
    recalibrate.add_argument("--until", type=cliargs.date, default=None, help="... up to this day")
    recalibrate.add_argument(
        "--outcomes", type=Path, default=None, help="CSV customer_id,churned (default: the latest saved)"
    )
    recalibrate.add_argument(
        "--out", type=Path, default=None, help="new catalog CSV (default: actions_recalibrated_planID.csv)"
    )
    recalibrate.add_argument("--solver", choices=["auto", "gurobi", "highs"], default="auto")
    recalibrate.add_argument("--no-reoptimize", action="store_true", help="only write the catalog")
    _rule_arguments(recalibrate)
    recalibrate.set_defaults(handler=run_recalibrate)

    weeks = subparsers.add_parser(
        "simulate-weeks",
        help="the weekly program for several weeks on the synthetic base, at a known true uplift per action",
    )
    weeks.add_argument("--weeks", type=cliargs.positive_count, default=12, help="weeks to simulate")
    weeks.add_argument("--cohort-size", type=cliargs.positive_count, default=250, help="customers per week")
    weeks.add_argument("--seed", type=cliargs.seed, default=1, help="random seed (deterministic)")
    weeks.add_argument(
        "--recalibrate-week", type=cliargs.positive_count, default=None, help="recalibrate the catalog then"
    )
    weeks.add_argument("--budget", type=cliargs.amount, default=None, help="weekly budget (default scaled)")
    _policy_arguments(weeks)
    weeks.set_defaults(handler=run_simulate_weeks)

    for sub in (simulate, measure, recalibrate, weeks):
        _history_argument(sub)
        sub.add_argument("--json", action="store_true", help="print one JSON object as the last line")
