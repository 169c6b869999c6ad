"""Sensitivity: net value, ROI, reach and churn prevented across weekly budgets; the knee of the curve."""

import time

import streamlit as st

from app_lib import controller, figures, insights, ui
from app_lib.bounds import sweep_range
from app_lib.formatting import esc, metric_money, money, percent
from app_lib.page import require_cohort, setup
from optimizer import to_csv_bytes

context = setup("sensitivity", "Sensitivity")
st.title(":material/query_stats: Budget sensitivity")
st.caption(
    "How much is more (or less) budget worth? Every scenario re-solves this week's plan with the sidebar's "
    "capacities and policies; only the budget changes."
)
cohort = require_cohort(context)
ss = st.session_state
settings = context.settings
inputs = controller.current_inputs()
bounds = controller.slider_bounds(inputs)
check = controller.preflight(inputs, settings)
tokens = (inputs.cohort_token, inputs.catalog_token)

# Defaults: from the least budget the policies need to where extra budget stops mattering, ~12 levels.
default_low, default_high, default_step = sweep_range(bounds, check.minimum_budget)
# A different cohort or catalog (e.g. a 75,000-customer upload) gets its own range; typed values stay.
if ss.get("sens_range_for") != tokens:
    for key in ("sens_min", "sens_max", "sens_step"):
        ss.pop(key, None)
    ss["sens_range_for"] = tokens
ss.setdefault("sens_min", default_low)
ss.setdefault("sens_max", default_high)
ss.setdefault("sens_step", default_step)
ss.setdefault("sens_threshold", 2.0)

with st.form("sens_form"):
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input(
        "Minimum budget ($)", min_value=0.0, step=bounds.budget_step, format="%.0f", key="sens_min"
    )
    c2.number_input(
        "Maximum budget ($)", min_value=0.0, step=bounds.budget_step, format="%.0f", key="sens_max"
    )
    c3.number_input("Step ($)", min_value=1.0, step=bounds.budget_step, format="%.0f", key="sens_step")
    c4.number_input(
        "Knee threshold ($ per extra $1)",
        min_value=0.0,
        step=0.5,
        format="%.2f",
        key="sens_threshold",
        help="The knee is the budget after which one more dollar of budget returns less than this much net "
        "value. $2 means: stop where an extra dollar no longer earns two.",
    )
    submitted = st.form_submit_button(
        "Run sensitivity analysis", icon=":material/rocket_launch:", type="primary"
    )

try:
    levels = insights.budget_levels(ss["sens_min"], ss["sens_max"], ss["sens_step"])
    st.caption(
        f"{len(levels)} scenarios: {esc(money(levels[0], cents=False))} to "
        f"{esc(money(levels[-1], cents=False))}. "
        f"The policies need at least {esc(money(check.minimum_budget))}; lower budgets show as infeasible."
        if check.minimum_budget is not None
        else f"{len(levels)} scenarios. No budget meets the current policies: relax them in the sidebar."
    )
except ValueError as error:
    levels = None
    st.error(esc(str(error)))

if submitted and levels:
    started = time.perf_counter()
    bar = st.progress(0.0, text="Solving…")
    sweep = controller.sweep(
        inputs, settings, levels, progress=lambda fraction, text: bar.progress(fraction, text=text)
    )
    bar.empty()
    ss["sens_result"] = {
        "sweep": sweep,
        "settings": settings,
        "tokens": tokens,
        "seconds": time.perf_counter() - started,
    }

outcome = ss.get("sens_result")
if outcome is None:
    st.info("Set the range and click **Run sensitivity analysis**.", icon=":material/info:")
    st.stop()
if outcome["settings"] != settings or outcome["tokens"] != tokens:
    st.warning(
        "Settings, catalog or data changed since this analysis: run it again to update.",
        icon=":material/warning:",
    )

sweep = outcome["sweep"]
found = insights.sweep_insights(sweep, float(ss["sens_threshold"]))
st.plotly_chart(
    figures.sensitivity_grid(sweep, knee_budget=found.knee_budget, current_budget=outcome["settings"].budget),
    key="sens_grid",
)
st.caption(f"{len(sweep)} scenarios solved in {outcome['seconds']:.2f} s.")

st.subheader("Key insights", divider="green")
cols = st.columns(4)
cols[0].metric(
    "Knee of the curve",
    money(found.knee_budget, cents=False) if found.knee_budget is not None else "beyond range",
    help=f"Last budget where each extra dollar still returned at least {money(found.threshold)} of net value",
)
cols[1].metric("Net value at the knee", metric_money(found.knee_net_value))
cols[2].metric(
    "Maximum net value",
    metric_money(found.best_net_value),
    delta=f"at {money(found.best_budget, cents=False)}" if found.best_budget is not None else None,
    delta_color="off",
    delta_arrow="off",
)
cols[3].metric("ROI at the maximum", percent(found.roi_at_best, 0))
st.info(esc(found.sentence), icon=":material/lightbulb:")

st.subheader("Scenario comparison", divider="green")
table = insights.scenario_table(sweep)
st.dataframe(
    table,
    hide_index=True,
    height=min(36 * (len(table) + 1) + 3, 800),  # every scenario visible without scrolling
    column_config={
        **{column: ui.MONEY for column in ("Budget", "Total spend", "Retained CLV", "Net value")},
        "ROI": ui.percent_column(digits=0),
        "Customers": ui.COUNT,
        "Churn prevented": st.column_config.NumberColumn(format="%.2f"),
    },
)
st.download_button(
    "Download sensitivity analysis results (CSV)",
    icon=":material/download:",
    data=to_csv_bytes(sweep),
    file_name="budget_sensitivity.csv",
    mime="text/csv",
    key="sens_download",
    on_click="ignore",
)
