"""Results: KPIs, the plan by action / segment / channel / top customers, constraint analysis, exports."""

from functools import partial

import streamlit as st

from app_lib import controller, figures, history_page, results_view, session, tables, ui
from app_lib.formatting import esc, money, percent
from app_lib.page import require_cohort, setup
from optimizer.model import RowFamily

context = setup("results", "Results")
st.title(":material/insights: Optimization results")
require_cohort(context)
ss = st.session_state
record = ss.get(session.LAST_RUN)
if record is None:
    st.info(
        "No plan yet. Adjust the settings in the sidebar and click **Run optimization**.",
        icon=":material/info:",
    )
    st.stop()

if not session.run_is_current(record):
    st.warning(
        "These results are out of date: the settings, the action catalog or the customer data changed "
        "since this run. Click **Run optimization** to update them.",
        icon=":material/warning:",
    )

result = record.result
st.caption(f"Data: {esc(record.cohort_label)}; catalog: {esc(record.catalog_label)}.")

results_view.render_exclusions(record, "res_exclusions_download", "res_save_error")
if not results_view.render_outcome(record, ss.get(session.PREVIOUS_RUN)):
    st.stop()
assignments = result.assignments

# --- treatment plan breakdown ------------------------------------------------------------------
st.subheader("Treatment plan breakdown", divider="green")
by_action, by_segment, by_channel, top = st.tabs(
    ["By action", "By segment", "By channel", "Top customers"], key="res_tabs", on_change="rerun"
)
# Only the open tab is computed and drawn (tabs track their state), which keeps Run-to-results fast.
if by_action.open:
    with by_action:
        left, right = st.columns(2)
        left.plotly_chart(figures.action_mix_pie(assignments), key="res_action_pie")
        right.plotly_chart(figures.net_value_by_action(assignments), key="res_action_bars")
        summary = ui.as_percent(tables.action_summary(assignments), ["Share", "Uplift"])
        ui.table(summary, money=["Total cost", "Retained CLV", "Net value"], percent=["Share", "Uplift"])
if by_segment.open:
    with by_segment:
        left, right = st.columns([3, 2])
        left.plotly_chart(
            figures.risk_value_heatmap(assignments, "Treated customers: risk × value"),
            key="res_segment_heatmap",
        )
        with right:
            st.markdown("**Segment performance**")
            ui.table(tables.segment_summary(assignments), money=["Cost", "Retained CLV", "Net value"])
if by_channel.open:
    with by_channel:
        st.plotly_chart(figures.channel_bars(assignments), key="res_channel_bars")
        st.plotly_chart(figures.capacity_utilization(result.constraints), key="res_capacity")
        limits = result.constraints[
            result.constraints["family"].isin([RowFamily.BUDGET, RowFamily.CHANNEL_CAPACITY])
        ]
        for row in limits.itertuples(index=False):
            if row.limit is None or row.limit != row.limit:
                continue
            if row.binding:
                st.warning(
                    f"**{esc(row.constraint)} binding**: {esc(row.recommendation)}", icon=":material/warning:"
                )
            elif row.utilization_pct == row.utilization_pct and row.utilization_pct > 95:
                used = money(row.used) if row.unit == "$" else f"{row.used:,.0f}"
                limit = money(row.limit) if row.unit == "$" else f"{row.limit:,.0f}"
                st.warning(
                    f"**{esc(row.constraint)} nearly binding**: {esc(used)} of {esc(limit)} used "
                    f"({row.utilization_pct:.0f}%); see its marginal value below.",
                    icon=":material/warning:",
                )
        unlimited = limits[limits["limit"].isna()]["constraint"].tolist()
        if unlimited:
            st.caption("No limit set for: " + esc(", ".join(unlimited)) + ".")
if top.open:
    with top:
        st.info(
            "Every treated customer, highest expected return on retention spend first.",
            icon=":material/lightbulb:",
        )
        ui.paged_table(
            tables.top_customers(assignments, None),
            "res_top",
            transform=partial(ui.as_percent, columns=["Churn risk"]),
            money=["CLV", "Cost", "Retained CLV", "Net value"],
            percent=["Churn risk"],
        )

# --- constraint analysis -------------------------------------------------------------------------
st.subheader("Constraint analysis & recommendations", divider="green")
left, right = st.columns(2)
with left:
    st.markdown("**Binding constraints**")
    binding = tables.binding_constraints(result.constraints)
    if binding.empty:
        st.success("No binding constraints: every limit has spare room.", icon=":material/check_circle:")
    for row in binding.itertuples(index=False):
        if row.unit == "$":
            amounts = f"{money(row.used)} / {money(row.limit)}"
        else:
            amounts = f"{row.used:,.0f} / {row.limit:,.0f}"
        st.warning(
            f"**{esc(row.constraint)}** (binding): {esc(amounts)} ({row.utilization_pct:,.0f}%)  \n"
            f"{esc(row.recommendation)}",
            icon=":material/warning:",
        )
with right:
    st.markdown("**Marginal values: what one more unit is worth**")
    marginal_slot = st.container()

# --- exports ---------------------------------------------------------------------------------------


st.subheader("Export treatment plans", divider="green")
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
        "treatment_plan": ("Treatment plan", ":material/table_view:"),
        "email_list": ("Email list", ":material/mail:"),
        "push_list": ("Push/in-app list", ":material/smartphone:"),
        "call_queue": ("Call queue", ":material/call:"),
        "excluded": ("Excluded by contact policy", ":material/person_off:"),
    }
    cols = st.columns(len(files))
    for col, (name, frame) in zip(cols, files.items(), strict=True):
        kind = name.rsplit("_", 1)[0]
        label, icon = labels[kind]
        col.download_button(
            f"{label} ({len(frame):,} {'row' if len(frame) == 1 else 'rows'})",
            data=partial(record.file_bytes, name),  # built on the first click, then reused
            file_name=name,
            mime="text/csv",
            icon=icon,
            key=f"res_download_{kind}",
            on_click=history_page.save_run,  # an exported plan is saved (once per run)
            args=(record, "res_save_error"),
            width="stretch",
        )
        col.caption(name)
    if record.saved_plan_id is not None:
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.success(
            f"Saved as plan #{record.saved_plan_id} in the plan history, with its settings, catalog, "
            "customer data and these exact files.",
            icon=":material/history:",
        )
        right.page_link("pages/7_History.py", label="Open the plan history", icon=":material/history:")
    else:
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.caption(
            "The first download saves this plan in the plan history (once per run), so its outcomes can be "
            "measured later."
        )
        right.button(
            "Save without downloading",
            icon=":material/save:",
            key="res_save",
            on_click=history_page.save_run,
            args=(record, "res_save_error"),
            width="stretch",
        )
    if ss.get("res_save_error"):
        st.error(
            "The plan could not be saved in the plan history: " + esc(ss["res_save_error"]),
            icon=":material/block:",
        )

with st.expander("Implementation guide", icon=":material/menu_book:"):
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

# Marginal values take several re-solves: computed last, so everything above is already on screen.
with marginal_slot:
    with st.spinner("Pricing each limit (re-solving)…"):
        marginal_values = controller.marginal_values(record)
    marginal = tables.marginal_table(marginal_values) if marginal_values is not None else None
    if marginal is None or marginal.empty:
        st.success(
            "No limit or policy is holding the plan back: relaxing any of them adds nothing.",
            icon=":material/check_circle:",
        )
    else:
        first = marginal.iloc[0]
        value = first["Exact (re-solve)"]
        if value != value:  # NaN: no exact re-solve for this row
            value = first["LP dual"]
        st.info(
            f"Biggest bottleneck: **{esc(first['Constraint'])}**. "
            f"{esc(tables.RELAXATION_SENTENCES[first['One more unit']])} about **{esc(money(value))}** of "
            "net value.",
            icon=":material/lightbulb:",
        )
        ui.table(marginal, money=["LP dual", "Exact (re-solve)"])
        st.caption(
            "Net value per unit of relaxation, biggest bottleneck first. LP dual: the estimate from the "
            "linear relaxation. Exact: the plan re-solved with the budget raised by \\$10 or a capacity "
            "by 5, divided by that step (limits and capacities only)."
        )
