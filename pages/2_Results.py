"""Results: KPIs, the plan by action / segment / channel / top customers, constraint analysis, exports."""

import streamlit as st

from app_lib import figures, sidebar, state, tables, ui
from app_lib.formatting import count, esc, money, percent, signed_money
from app_lib.page import require_cohort, setup
from optimizer import to_csv_bytes

context = setup("results", "Results")
st.title("🎯 Optimization results")
require_cohort(context)
ss = st.session_state
record = ss.get(state.LAST_RUN)
if record is None:
    st.info("No plan yet. Adjust the settings in the sidebar and click **🚀 Run optimization**.")
    st.stop()

if not state.run_is_current(record):
    st.warning(
        "⚠️ These results are out of date: the settings, the action catalog or the customer data changed "
        "since this run. Click **🚀 Run optimization** to update them."
    )

result = record.result
report = result.solver_report
st.caption(
    f"Solved with {esc(report.solver.capitalize())} ({esc(report.reason)}): "
    f"{report.n_variables:,} variables, {report.n_constraints:,} constraints, "
    f"solver time {report.runtime_seconds:.2f} s; whole run {record.seconds:.2f} s. "
    f"Data: {esc(record.cohort_label)}; catalog: {esc(record.catalog_label)}."
)

# --- infeasible: explain and offer the nearest feasible settings ---------------------------------
if result.status == "infeasible":
    diagnosis = result.diagnosis
    st.error("⛔ **These settings cannot all be met**, so there is no plan this week.")
    if diagnosis is not None:
        st.markdown("**Why:** " + esc(diagnosis.message))
        st.markdown("**Conflicting constraints:**")
        st.markdown("\n".join(f"- {esc(label)}" for label in diagnosis.conflicting))
        if diagnosis.suggestions:
            st.markdown("**Any one of these changes makes the plan feasible:**")
            st.markdown("\n".join(f"- {esc(s.text)}" for s in diagnosis.suggestions))
        if diagnosis.nearest is not None:
            nearest = diagnosis.nearest
            bounds = ss.get(sidebar.BOUNDS)
            if bounds is not None and nearest.budget != record.settings.budget:
                nearest = nearest.with_changes(budget=sidebar._snap_budget(nearest.budget, bounds))
            st.button(
                "✅ Apply the nearest feasible settings and run",
                type="primary",
                key="res_apply_nearest",
                on_click=sidebar.request_run_with,
                args=(nearest,),
                help="Changes only the first suggested setting and runs the optimization again.",
            )
        else:
            st.info(
                "No single setting change is enough: relax several policies in the sidebar, then run again."
            )
    st.stop()

if not result.has_plan:
    st.error(
        f"The solver stopped without a plan (status: {esc(result.status)}). Try again or relax the settings."
    )
    st.stop()

k = result.kpis
assignments = result.assignments
previous = ss.get(state.PREVIOUS_RUN)
previous_k = previous.result.kpis if previous is not None else None
if result.status == "optimal":
    st.success("🎉 Optimization complete: this plan is proven optimal for these settings.")
else:
    st.warning(f"The solver stopped early ({esc(result.status)}); the plan below is the best one found.")

# --- KPIs ------------------------------------------------------------------------------------------
st.subheader("📊 Key performance indicators")
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
    money(k.total_spend),
    delta=f"{percent(k.budget_utilization_pct)} of budget" if k.budget_utilization_pct is not None else None,
    delta_color="off",
    delta_arrow="off",
    help="Total campaign cost. Above 95% of the budget, the budget is binding: see its marginal value below.",
)
high_risk = record.high_risk_customers
cols[2].metric(
    "Expected churn prevented",
    f"{k.expected_churn_reduction:,.1f} customers",
    delta=f"{percent(100 * k.expected_churn_reduction / high_risk)} of high-risk" if high_risk else None,
    delta_color="off",
    delta_arrow="off",
    help="Σ churn probability × uplift over treated customers; the share compares it with the number of "
    "high-risk customers.",
)
cols[3].metric(
    "Expected retained CLV",
    money(k.expected_retained_clv),
    delta=signed_money(k.expected_retained_clv - previous_k.expected_retained_clv) + " vs previous run"
    if previous_k
    else None,
    help="Σ churn probability × uplift × CLV over treated customers",
)
roi_grade = (
    "excellent"
    if (k.roi_pct or 0) >= 200
    else "good"
    if (k.roi_pct or 0) >= 100
    else "acceptable"
    if (k.roi_pct or 0) >= 50
    else "concerning"
)
cols[4].metric(
    "ROI",
    percent(k.roi_pct, 0),
    delta=roi_grade if k.roi_pct is not None else None,
    delta_color="off",
    delta_arrow="off",
    help="Return on investment: (retained CLV / cost − 1) × 100. 200%+ excellent, 100–200% good, "
    "50–100% acceptable, below 50% concerning.",
)
change = ""
if previous_k is not None:
    change = f" ({esc(signed_money(k.net_value - previous_k.net_value))} vs the previous run)"
st.success(f"### 💰 Net value: {esc(money(k.net_value))}\nExpected CLV retained minus campaign cost{change}.")

# --- treatment plan breakdown ------------------------------------------------------------------
st.subheader("📋 Treatment plan breakdown")
by_action, by_segment, by_channel, top = st.tabs(["By action", "By segment", "By channel", "Top customers"])
with by_action:
    left, right = st.columns(2)
    left.plotly_chart(figures.action_mix_pie(assignments), key="res_action_pie")
    right.plotly_chart(figures.net_value_by_action(assignments), key="res_action_bars")
    summary = ui.as_percent(tables.action_summary(assignments), ["Share", "Uplift"])
    ui.table(summary, money=["Total cost", "Retained CLV", "Net value"], percent=["Share", "Uplift"])
with by_segment:
    left, right = st.columns([3, 2])
    left.plotly_chart(
        figures.risk_value_heatmap(assignments, "Treated customers: risk × value"), key="res_segment_heatmap"
    )
    with right:
        st.markdown("**Segment performance**")
        ui.table(tables.segment_summary(assignments), money=["Cost", "Retained CLV", "Net value"])
with by_channel:
    st.plotly_chart(figures.channel_bars(assignments), key="res_channel_bars")
    st.plotly_chart(figures.capacity_utilization(result.constraints), key="res_capacity")
    limits = result.constraints[result.constraints["family"].isin(["Budget", "Channel capacity"])]
    for row in limits.itertuples(index=False):
        if row.limit is None or row.limit != row.limit:
            continue
        if row.binding or (row.utilization_pct == row.utilization_pct and row.utilization_pct > 95):
            st.warning(f"⚠️ {esc(row.constraint)} binding: {esc(row.recommendation)}")
    unlimited = limits[limits["limit"].isna()]["constraint"].tolist()
    if unlimited:
        st.caption("No limit set for: " + esc(", ".join(unlimited)) + ".")
with top:
    frame = ui.as_percent(tables.top_customers(assignments, 50), ["Churn risk"])
    ui.table(frame, money=["CLV", "Cost", "Retained CLV", "Net value"], percent=["Churn risk"])
    st.info("💡 These customers offer the highest expected return on retention spend.")

# --- constraint analysis -------------------------------------------------------------------------
st.subheader("🎯 Constraint analysis & recommendations")
left, right = st.columns(2)
with left:
    st.markdown("**Binding constraints**")
    binding = tables.binding_constraints(result.constraints)
    if binding.empty:
        st.success("✅ No binding constraints: every limit has spare room.")
    for row in binding.itertuples(index=False):
        if row.unit == "$":
            amounts = f"{money(row.used)} / {money(row.limit)}"
        else:
            amounts = f"{row.used:,.0f} / {row.limit:,.0f}"
        st.warning(
            f"⚠️ **{esc(row.constraint)}** (binding): {esc(amounts)} ({row.utilization_pct:,.0f}%)  \n"
            f"{esc(row.recommendation)}"
        )
with right:
    st.markdown("**Marginal values: what one more unit is worth**")
    marginal = tables.marginal_table(record.marginal) if record.marginal is not None else None
    if marginal is None or marginal.empty:
        st.success("✅ No limit or policy is holding the plan back: relaxing any of them adds nothing.")
    else:
        first = marginal.iloc[0]
        value = first["Exact gain per unit (re-solve)"]
        if value != value:  # NaN: no exact re-solve for this row
            value = first["Dual value (LP)"]
        st.info(
            f"Biggest bottleneck: **{esc(first['Constraint'])}**. {esc(first['Relaxation'])} adds about "
            f"**{esc(money(value))}** of net value."
        )
        ui.table(
            marginal,
            money=["Dual value (LP)", "Exact gain per unit (re-solve)"],
            **{"Re-solve step": st.column_config.NumberColumn(format="%g")},
        )
        st.caption(
            "Dual values come from the LP relaxation (estimates per unit); exact gains re-solve the plan "
            "with the limit raised by the step and divide by it. Biggest bottleneck first."
        )

# --- exports ---------------------------------------------------------------------------------------
st.subheader("📥 Export treatment plans")
exports = record.exports
if exports is not None:
    plan = exports.treatment_plan
    st.caption(
        f"{exports.holdout_count:,} of {len(plan):,} treated customers "
        f"({percent(100 * exports.holdout_rate, 0)} per action, seed {exports.seed}) are held out for A/B "
        "measurement: execute\\_treatment = FALSE, and they appear in no channel list. Do not contact them."
    )
    files = exports.files()
    labels = {
        "treatment_plan": ("Treatment plan", "📋"),
        "email_list": ("Email list", "📧"),
        "push_list": ("Push/in-app list", "📱"),
        "call_queue": ("Call queue", "📞"),
    }
    cols = st.columns(4)
    for col, (name, frame) in zip(cols, files.items(), strict=True):
        kind = name.rsplit("_", 1)[0]
        label, icon = labels[kind]
        col.download_button(
            f"{label} ({len(frame):,} rows)",
            data=to_csv_bytes(frame),
            file_name=name,
            mime="text/csv",
            icon=icon,
            key=f"res_download_{kind}",
            on_click="ignore",
            width="stretch",
        )
        col.caption(name)

with st.expander("📋 Implementation guide"):
    st.markdown(
        """
**Weekly execution workflow**

- **Monday:** the data science team refreshes churn predictions; run the optimization here; review the
  results and adjust the settings if needed.
- **Tuesday:** download the treatment plan (the master record); upload the email list to marketing automation,
  the push/in-app list to the product messaging tool and the call queue to the CRM (highest CLV first).
- **Wednesday–Friday:** run the email campaigns and the calls; watch delivery, opens and contact rates.
- **Week 5 onward:** compare churn of treated and holdout customers, measure each action's real uplift,
  update the action catalog with it and re-run with the calibrated uplifts.

**Critical reminders**

- Do **not** contact customers with holdout = TRUE: they measure what the campaign is worth.
- Track treated and holdout groups separately; re-score customers every week with fresh predictions.
- Update uplifts at least quarterly from measured results.
"""
    )
