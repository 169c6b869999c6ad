"""The outcome of a run as both the Plan and the Results pages show it: the 5 KPIs with deltas and the
net-value highlight, or the infeasibility diagnosis with a one-click fix."""

from __future__ import annotations

from functools import partial

import streamlit as st

from app_lib import controller, history_page
from app_lib.formatting import count, esc, metric_money, money, percent, signed_money
from app_lib.runner import RunRecord
from app_lib.solver_text import gap_text, proven_optimal, solver_summary
from app_lib.tables import roi_grade
from optimizer.model import SETTING_LABELS
from optimizer.solvers import SolveStatus


def render_outcome(record: RunRecord, previous: RunRecord | None, heading: bool = True) -> bool:
    """Draw the run's headline (under a 'Key performance indicators' heading unless `heading` is False).
    Returns True when there is a plan to show in detail."""
    result = record.result
    if result.status == SolveStatus.INFEASIBLE:
        diagnosis = result.diagnosis
        st.error(
            "**These settings cannot all be met**, so there is no plan this week.", icon=":material/block:"
        )
        render_certificate(record)
        if diagnosis is not None:
            st.markdown("**Why:** " + esc(diagnosis.message))
            st.markdown("**Conflicting constraints:**")
            st.markdown("\n".join(f"- {esc(label)}" for label in diagnosis.conflicting))
            if diagnosis.suggestions:
                st.markdown("**Any one of these changes makes the plan feasible:**")
                st.markdown("\n".join(f"- {esc(s.text)}" for s in diagnosis.suggestions))
            combined = diagnosis.combined is not None and diagnosis.nearest == diagnosis.combined
            if combined:
                st.markdown(
                    "**No single change is enough; the smallest combined change:** "
                    + esc(diagnosis.combined_text)
                )
            nearest = controller.nearest_settings(record)
            if nearest is not None:
                change = describe_change(record.settings, nearest)
                st.button(
                    f"Apply the nearest feasible settings ({change}) and run",
                    icon=":material/auto_fix_high:",
                    type="primary",
                    key="res_apply_nearest",
                    on_click=controller.request_run,
                    args=(nearest,),
                    help="Changes these settings together (the least combined change) and runs the "
                    "optimization again."
                    if combined
                    else "Changes only the first suggested setting and runs the optimization again.",
                )
            else:
                st.info(
                    "No single setting change is enough: relax several policies in the sidebar, then run "
                    "again."
                )
        return False

    if not result.has_plan:
        st.error(
            f"The solver stopped without a plan (status: {esc(result.status)}). Try again or relax the "
            "settings."
        )
        return False

    st.caption(
        # (no "hh:mm:ss": a second colon pair would load the browser's emoji parser, ~1 s on first use)
        f"Plan #{record.number} computed at {record.finished_at:%H:%M} in {record.seconds:.2f} s "
        f"(budget {esc(money(record.settings.budget, cents=False))})."
    )
    k = result.kpis
    previous_k = previous.result.kpis if previous is not None else None
    if result.status == SolveStatus.OPTIMAL:
        st.success(
            "Optimization complete: this plan is proven optimal for these settings."
            if proven_optimal(result.solver_report)
            else "Optimization complete: no plan for these settings is worth more than this one by more "
            f"than {gap_text(result.solver_report.mip_gap)} (certified).",
            icon=":material/celebration:",
        )
    else:
        st.warning(f"The solver stopped early ({esc(result.status)}); the plan below is the best one found.")
    render_certificate(record)

    if heading:
        st.subheader("Key performance indicators", divider="green")
    cols = st.columns(5)
    cols[0].metric(
        "Customers treated",
        count(k.customers_treated),
        delta=f"{percent(k.treated_pct)} of base",
        delta_color="off",
        delta_arrow="off",
        help="Customers who receive an action this week",
    )
    cols[1].metric(
        "Weekly spend",
        metric_money(k.total_spend),
        delta=f"{percent(k.budget_utilization_pct)} of budget"
        if k.budget_utilization_pct is not None
        else None,
        delta_color="off",
        delta_arrow="off",
        help="Total campaign cost. Above 95% of the budget, the budget is binding: see its marginal value "
        "on the Results page.",
    )
    high_risk = record.high_risk_customers
    cols[2].metric(
        "Churn prevented",
        f"{k.expected_churn_reduction:,.1f}",
        delta=f"{percent(100 * k.expected_churn_reduction / high_risk)} of high risk" if high_risk else None,
        delta_color="off",
        delta_arrow="off",
        help="Expected number of customers kept from churning: Σ churn probability × uplift over treated "
        "customers. The share compares it with the number of high-risk customers.",
    )
    clv_change = _change(k.expected_retained_clv, previous_k.expected_retained_clv if previous_k else None)
    changed = bool(clv_change) and clv_change[0] in "+-"
    cols[3].metric(
        "Expected retained CLV",
        metric_money(k.expected_retained_clv),
        delta=clv_change,
        delta_color="normal" if changed else "off",
        delta_arrow="auto" if changed else "off",
        help="Σ churn probability × uplift × CLV over treated customers",
    )
    cols[4].metric(
        "ROI",
        percent(k.roi_pct, 0),
        delta=roi_grade(k.roi_pct),
        delta_color="off",
        delta_arrow="off",
        help="Return on investment: (retained CLV / cost − 1) × 100. 200%+ excellent, 100–200% good, "
        "50–100% acceptable, below 50% concerning.",
    )
    change = ""
    if previous_k is not None:
        difference = k.net_value - previous_k.net_value
        change = (
            f" ({esc(signed_money(difference))} vs the previous run)"
            if abs(difference) >= 0.005
            else " (same as the previous run)"
        )
    st.success(
        f"### Net value: {esc(money(k.net_value))}\nExpected CLV retained minus campaign cost{change}.",
        icon=":material/savings:",
    )

    return True


def render_certificate(record: RunRecord) -> None:
    """Which solver path ran, what it proved (objective, bound, gap) and why; its method in an expander."""
    customers = len(record.cohort) if record.cohort is not None else 0
    summary = solver_summary(record.result.solver_report, customers)
    st.caption(f":material/verified: **Solver: {esc(summary.headline)}.** {esc(summary.figures)}")
    with st.expander("How this plan was solved and certified", icon=":material/fact_check:"):
        st.markdown(esc(summary.reason))
        if summary.detail:
            st.markdown(esc(summary.detail.rstrip(".")) + ".")


def _change(value: float, previous: float | None) -> str | None:
    """A metric delta against the previous run (None without one; 'no change' when equal)."""
    if previous is None:
        return None
    difference = value - previous
    if abs(difference) < 0.005:
        return "no change vs previous"
    return signed_money(difference, tile=True) + " vs previous"


def describe_change(old, new) -> str:
    """'budget $145' / 'min segment coverage 10%': what `new` changes compared with `old`."""
    parts = []
    for field, name in SETTING_LABELS.items():
        label = name[0].lower() + name[1:]  # mid-sentence: 'min Premium coverage'
        before, after = getattr(old, field), getattr(new, field)
        if before == after:
            continue
        if field == "budget":
            shown = money(after, cents=False)
        elif field.endswith("_capacity"):
            shown = "no limit" if after is None else f"{after:,.0f}"
        elif field == "high_risk_threshold":
            shown = f"{after:.2f}"
        elif field == "coverage_rounding":
            shown = {"ceil": "up", "floor": "down"}.get(after, after)
        else:
            shown = f"{after:.0%}"
        parts.append(f"{label} {shown}")
    return ", ".join(parts) or "unchanged"


def exclusion_line(record: RunRecord) -> str | None:
    """The one line about the week's contact-policy exclusions (None when planned without the history)."""
    exclusions = record.exclusions
    if exclusions is None:
        return None
    counts = exclusions.counts
    total = int(exclusions.excluded.sum())
    return (
        f"{total:,} {'customer' if total == 1 else 'customers'} excluded by contact policy: "
        f"{counts['holdout_window']:,} in an open holdout window, {counts['cooldown']:,} in cool-down, "
        f"{counts['global_control']:,} in the global control group; {counts['channel_cap']:,} with a capped "
        "channel"
    )


def render_exclusions(record: RunRecord, key: str, error_key: str) -> None:
    """The exclusion line with the excluded list's download (`key`; the first download saves the run, a save
    failure stored under `error_key`), and why the history was not used when it could not be read."""
    if record.history_note:
        st.warning(esc(record.history_note), icon=":material/warning:")
    line = exclusion_line(record)
    if line is None:
        return
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.info(esc(line) + ".", icon=":material/block:")
    exports = record.exports
    if exports is not None and exports.excluded is not None:
        name = f"excluded_{exports.stamp}.csv"
        right.download_button(
            f"Excluded list ({len(exports.excluded):,} rows)",
            data=partial(record.file_bytes, name),
            file_name=name,
            mime="text/csv",
            icon=":material/person_off:",
            key=key,
            on_click=history_page.save_run,
            args=(record, error_key),
            width="stretch",
        )
