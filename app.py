"""PlaylistPro Retention Optimizer: the Plan (home) page. Run with `streamlit run app.py`.

Initializes the session (through `app_lib.page.setup`), shows the loaded cohort and its overview; the shared
sidebar holds the settings and the Run button. Other pages live in `pages/`.
"""

import streamlit as st

from app_lib import figures, results_view, session, tables
from app_lib.formatting import count, esc, money, percent, share
from app_lib.page import require_cohort, setup

context = setup("plan", "Plan")
st.title(":material/music_note: PlaylistPro Retention Optimizer")
st.caption(
    "Weekly retention planning: churn predictions in, the best budget- and policy-constrained plan out."
)
cohort = require_cohort(context)
ss = st.session_state
settings = context.settings

st.success(
    f"Loaded {len(cohort):,} customers with predictions and features from {esc(ss[session.COHORT_LABEL])}.",
    icon=":material/check_circle:",
)

record = ss.get(session.LAST_RUN)
if record is not None:
    st.subheader("Latest plan", divider="green")
    if not session.run_is_current(record):
        st.warning(
            "Settings, catalog or data changed since this run: click **Run optimization** to update it.",
            icon=":material/warning:",
        )
    results_view.render_outcome(record, ss.get(session.PREVIOUS_RUN), heading=False)
    results_view.render_exclusions(record, "plan_exclusions_download", "plan_save_error")
    if ss.get("plan_save_error"):
        st.error("The plan could not be saved in the plan history: " + esc(ss["plan_save_error"]))
    st.page_link(
        "pages/2_Results.py",
        label="Open the full results: plan breakdown, constraint analysis, exports",
        icon=":material/insights:",
    )

st.subheader("Current week overview", divider="green")
view = tables.overview(cohort, settings.high_risk_threshold)
row = st.columns(4)
row[0].metric("Total customers", count(view.customers), help="Customers in this week's cohort")
row[1].metric(
    f"High risk (p > {view.high_risk_threshold:.2f})",
    count(view.high_risk),
    delta=f"{share(view.high_risk, view.customers)} of base",
    delta_color="off",
    delta_arrow="off",
    help="Customers whose churn probability is above the high-risk threshold set in the sidebar",
)
row[2].metric(
    "Avg churn probability", percent(100 * view.avg_churn), help="Mean churn probability across all customers"
)
row[3].metric(
    "At-risk CLV",
    money(view.at_risk_clv, cents=False),
    help="Customer lifetime value at risk of churn: the sum of churn probability × CLV",
)
row = st.columns(4)
row[0].metric(
    "Premium customers",
    count(view.premium),
    delta=f"{share(view.premium, view.customers)} of base",
    delta_color="off",
    delta_arrow="off",
    help="Customers on a Premium subscription",
)
row[1].metric(
    "Yearly plans",
    count(view.yearly),
    delta=f"{share(view.yearly, view.customers)} of base",
    delta_color="off",
    delta_arrow="off",
    help="Customers on a yearly payment plan",
)
row[2].metric(
    "Avg weekly hours",
    f"{view.avg_weekly_hours:.1f} h" if view.avg_weekly_hours is not None else "–",
    help="Average listening time per customer per week",
)
row[3].metric(
    "Avg playlists created",
    f"{view.avg_playlists:.1f}" if view.avg_playlists is not None else "–",
    help="Average number of playlists per customer",
)

st.subheader("Customer analytics", divider="green")
risk_tab, segment_tab, mix_tab = st.tabs(
    ["Risk distribution", "Segmentation", "Subscription mix"], key="plan_tabs", on_change="rerun"
)
# Only the open tab is computed and drawn.
if risk_tab.open:
    with risk_tab:
        left, right = st.columns([3, 1])
        left.plotly_chart(figures.churn_histogram(cohort), key="plan_histogram")
        breakdown = tables.risk_breakdown(cohort)
        right.markdown("**Risk breakdown**")
        right.metric("Low risk (≤ 30%)", count(breakdown["Low"]))
        right.metric("Medium risk (30–70%)", count(breakdown["Medium"]))
        right.metric("High risk (> 70%)", count(breakdown["High"]))
        right.info(
            "Tiers follow the churn model's probabilities: Low up to 30%, High above 70%.",
            icon=":material/lightbulb:",
        )
if segment_tab.open:
    with segment_tab:
        left, right = st.columns([3, 2])
        left.plotly_chart(figures.risk_value_heatmap(cohort), key="plan_heatmap")
        right.markdown("**Strategy guide**")
        right.markdown(
            "- :green[:material/circle:] **High value + high risk**: priority for retention calls and "
            "premium offers (most CLV at stake).\n"
            "- :orange[:material/circle:] **Low value + high risk**: cost-efficient email campaigns.\n"
            "- :blue[:material/circle:] **High value + low risk**: minimal intervention; nurture.\n"
            "- :gray[:material/circle:] **Low value + low risk**: usually no action."
        )
        right.caption("Value tiers: Low CLV up to \\$150, Medium up to \\$300, High above \\$300.")
if mix_tab.open:
    with mix_tab:
        left, right = st.columns([1, 1])
        left.plotly_chart(figures.subscription_pie(cohort), key="plan_pie")
        right.plotly_chart(figures.churn_by_subscription(cohort), key="plan_churn_by_type")
        by_type = tables.churn_by_type(cohort)
        if len(by_type):
            top = by_type.iloc[0]
            right.caption(
                f"{esc(top['Subscription'])} customers show the highest average churn probability "
                f"({percent(100 * top['avg_churn'])})."
            )
