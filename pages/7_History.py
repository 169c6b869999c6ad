"""History: saved plans (list, reopen, compare, re-download), 30-day outcomes and the measured uplift per
action, recalibration of the catalog with re-optimization."""

import pandas as pd
import streamlit as st

from app_lib import history_page as logic
from app_lib import history_store, session, ui
from app_lib import history_view as view
from app_lib.formatting import count, esc, metric_money, money, percent
from app_lib.page import setup
from optimizer import to_csv_bytes

context = setup("history", "History")
st.title(":material/history: Plan history")
ss = st.session_state
RULE = history_store.RULE

try:
    store = history_store.plan_history()
except Exception as error:  # any database failure: say where and why, show no traceback
    st.error(
        f"The plan history at {esc(history_store.shown_url(history_store.history_url()))} cannot be opened "
        f"({esc(type(error).__name__)}). Check the database URL ([history] url in .streamlit/secrets.toml or "
        "PLAYLISTPRO_HISTORY_URL).",
        icon=":material/block:",
    )
    st.stop()
st.caption(
    "Every plan exported from the Results page is kept here with its settings, action catalog, customer "
    "data, solver report, assignments with the holdout flags and its exact files. Stored in "
    f"{esc(store.safe_url)}."
)


# --- the latest run --------------------------------------------------------------------------------------

record = ss.get(session.LAST_RUN)
with st.container(border=True):
    if record is None or record.exports is None:
        st.markdown(
            "**Save a plan:** run the optimization (sidebar). Every plan you export from the Results page is "
            "saved here automatically with its first download."
        )
    elif record.saved_plan_id is not None:
        st.markdown(
            f":material/check_circle: Your latest plan (run #{record.number} at "
            f"{record.finished_at:%H.%M}) is saved as **plan #{record.saved_plan_id}**."
        )
    else:
        k = record.result.kpis
        st.markdown(
            f"**Your latest plan** (run #{record.number} at {record.finished_at:%H.%M}: "
            f"{esc(money(k.net_value))} net value, {k.customers_treated:,} customers) is not saved yet. "
            "Downloading any of its files on the Results page saves it; or save it here with a label."
        )
        if not session.run_is_current(record):
            st.caption(
                ":orange[Settings, catalog or data changed since this run: the plan is saved as it was run.]"
            )
        with st.form("hist_save_form", border=False):
            left, right = st.columns([3, 1], vertical_alignment="bottom")
            left.text_input("Label (optional)", key=logic.LABEL, placeholder="e.g. week 45, budget test")
            right.form_submit_button(
                "Save the latest plan",
                icon=":material/save:",
                type="primary",
                on_click=logic.save_latest,
                width="stretch",
            )
    if ss.get(logic.SAVE_ERROR):
        st.error("The plan was not saved: " + esc(ss[logic.SAVE_ERROR]), icon=":material/block:")

# --- saved plans ----------------------------------------------------------------------------------------

plans = history_store.list_plans()
if plans.empty:
    st.info("No saved plans yet.", icon=":material/info:")
    st.stop()

st.subheader("Saved plans", divider="green")
listed = view.plans_table(plans)
if not listed["Label"].astype(bool).any():
    listed = listed.drop(columns="Label")  # room for the rest until someone labels a plan
ui.table(
    listed,
    money=["Budget", "Spend", "Net value"],
    key="hist_plans_table",
    **{
        "ROI %": st.column_config.NumberColumn("ROI", format="%,.0f%%"),
        "Outcome files": st.column_config.NumberColumn("Outcomes", help="Outcome files kept with the plan"),
        "Capacities (email/push/call)": st.column_config.TextColumn(
            "Capacities", help="Email / push and in-app / call capacity per week"
        ),
        "Policies (high-risk/Premium/saturation/segment)": st.column_config.TextColumn(
            "Policies",
            help="Min high-risk coverage / min Premium coverage / max action saturation / min segment "
            "coverage",
        ),
    },
)
labels = {int(row["id"]): view.plan_choice_label(row) for _, row in plans.iterrows()}
ss[logic.PLAN] = logic.selected(list(labels), ss.get(logic.PLAN))
plan_id = st.selectbox("Open plan", options=list(labels), format_func=labels.get, key=logic.PLAN)
plan = history_store.load_plan(plan_id)

plan_tab, compare_tab, outcomes_tab, recalibrate_tab = st.tabs(
    ["Plan", "Compare", "Outcomes & measured uplift", "Recalibrate"], key=logic.TABS, on_change="rerun"
)


outcomes = history_store.outcome_files(plan.id)
outcome_names = view.outcome_labels(outcomes)
outcome_key = logic.outcome_key(plan.id)

if plan_tab.open:
    with plan_tab:
        k = plan.kpis
        columns = st.columns(5)
        columns[0].metric(
            "Customers treated", count(k.customers_treated), help=f"of {k.customers:,} customers"
        )
        columns[1].metric("Spend", metric_money(k.total_spend))
        columns[2].metric("Expected retained CLV", metric_money(k.expected_retained_clv))
        columns[3].metric("Net value", metric_money(k.net_value))
        columns[4].metric("ROI", percent(k.roi_pct, 0))
        st.caption(view.plan_caption(plan))
        left, right = st.columns([1, 2])
        with left:
            st.markdown("**Settings**")
            ui.table(view.settings_table(plan.settings), key="hist_settings")
        with right:
            st.markdown("**Actions**")
            ui.table(
                view.plan_action_mix(plan.plan_rows),
                money=["Spend", "Expected retained CLV"],
                key="hist_mix",
            )
        st.markdown("**Its files, exactly as exported**")
        names = history_store.file_names(plan.id)
        columns = st.columns(len(names))
        for column, name in zip(columns, names, strict=True):
            column.download_button(
                view.file_label(name),
                data=history_store.file_loader(plan.id, name),
                file_name=name,
                mime="text/csv",
                icon=":material/download:",
                key=f"hist_download_{name.rsplit('_', 1)[0]}",
                on_click="ignore",
                width="stretch",
            )
            column.caption(esc(name))
        left, right, _ = st.columns([1, 1, 1])
        left.button(
            "Load its settings into the sidebar",
            icon=":material/tune:",
            key="hist_use_settings",
            on_click=logic.use_settings,
            args=(plan.id,),
            width="stretch",
        )
        right.button(
            "Reopen its data, catalog and settings",
            icon=":material/restore:",
            key="hist_reopen",
            on_click=logic.reopen,
            args=(plan.id,),
            width="stretch",
            help="The planner then works on exactly what this plan was made from.",
        )
        flash = logic.take_flash(plan.id)
        if flash:
            st.success(esc(flash), icon=":material/check_circle:")
        rows = plan.plan_rows
        with st.expander(f"Customers in this plan ({len(rows):,}), with the holdout flags"):
            ui.paged_table(
                rows,
                "hist_assignments",
                transform=view.assignments_table,
                money=["Cost", "CLV", "Expected retained CLV", "Net value"],
                percent=["Churn risk"],
            )

if compare_tab.open:
    with compare_tab:
        others = logic.comparison_options(plan.id, list(labels))
        if not others:
            st.info("Save a second plan to compare two plans side by side.", icon=":material/info:")
        else:
            ss[logic.OTHER] = logic.comparison_default(plan.id, list(labels), ss.get(logic.OTHER))
            other_id = st.selectbox("Compare with", options=others, format_func=labels.get, key=logic.OTHER)
            comparison = logic.compare_saved(plan.id, other_id)
            older, newer = comparison.labels
            left, right = st.columns(2)
            with left:
                st.markdown("**Settings**")
                ui.table(
                    view.comparison_settings(comparison),
                    key="hist_cmp_settings",
                    Setting=st.column_config.TextColumn(width="medium"),
                )
            with right:
                st.markdown(f"**KPIs** (change = {newer} − {older})")
                ui.table(
                    view.kpi_text_table(view.comparison_kpis(comparison)),
                    key="hist_cmp_kpis",
                    KPI=st.column_config.TextColumn(width="medium"),
                )
            st.plotly_chart(view.action_mix_figure(comparison), key="hist_cmp_mix")
            st.caption(
                f"Customers: {comparison.same:,} with the same action, {comparison.switched:,} switched, "
                f"{comparison.only_a:,} only in {older}, {comparison.only_b:,} only in {newer}."
            )
            if len(comparison.customers):
                with st.expander(f"The {len(comparison.customers):,} customers whose action differs"):
                    ui.paged_table(view.changed_customers_table(comparison), "hist_cmp_customers")

if outcomes_tab.open:
    with outcomes_tab:
        st.markdown(
            "Upload what happened 30 days after the plan: a CSV with the columns `customer_id` and `churned` "
            "(1 churned, 0 stayed). Per action, the churn of the treated customers is compared with the "
            "churn of its holdout, who were not contacted."
        )
        upload = st.file_uploader("Outcomes CSV", type=["csv"], key=f"hist_upload_{plan.id}")
        if logic.receive_outcomes(plan, upload):
            st.rerun()  # the list of saved plans above counts the new file
        problems = ss.get(logic.problems_key(plan.id))
        if problems is not None:
            name, rows = problems
            st.error(view.problems_message(name, rows), icon=":material/block:")
            if len(rows) > view.PROBLEMS_LISTED:
                with st.expander(f"All {len(rows):,} problems"):
                    st.dataframe(pd.DataFrame(rows), hide_index=True, key="hist_problems_table")

        with st.expander("Simulate outcomes (demo and training)", icon=":material/science:"):
            st.caption(
                "Draws outcomes from the churn model's probabilities with a true uplift per action that you "
                "set: treated customers churn with probability p × (1 − true uplift), held-out and untreated "
                "ones with p. The same seed always draws the same outcomes."
            )
            with st.form(f"hist_simulate_form_{plan.id}", border=False):
                inputs = st.columns(3)
                truth = {
                    action_id: inputs[i % 3].number_input(
                        f"True uplift: {name}",
                        min_value=-1.0,
                        max_value=1.0,
                        value=estimate,
                        step=0.01,
                        format="%.3f",
                        key=f"hist_truth_{plan.id}_{action_id}",
                    )
                    for i, (action_id, name, estimate) in enumerate(view.simulation_actions(plan))
                }
                seed = st.number_input("Seed", min_value=0, value=1, step=1, key=f"hist_seed_{plan.id}")
                if st.form_submit_button("Draw outcomes", icon=":material/casino:"):
                    logic.draw_outcomes(plan, truth, int(seed))
                    st.rerun()

        if ss.get(logic.OUTCOME_FLASH):
            st.success(esc(ss.pop(logic.OUTCOME_FLASH)), icon=":material/check_circle:")
        if not outcome_names:
            st.info("No outcomes for this plan yet.", icon=":material/info:")
        else:
            ss[outcome_key] = logic.selected(list(outcome_names), ss.get(outcome_key))
            left, right = st.columns([3, 1], vertical_alignment="bottom")
            outcome_id = left.selectbox(
                "Outcomes file", options=list(outcome_names), format_func=outcome_names.get, key=outcome_key
            )
            right.download_button(
                "Download this file",
                data=history_store.outcome_loader(plan.id, outcome_id),
                file_name=outcomes.set_index("id").loc[outcome_id, "file_name"],
                mime="text/csv",
                icon=":material/download:",
                key="hist_outcome_download",
                on_click="ignore",
                width="stretch",
            )
            measurement = history_store.measurement(plan.id, outcome_id)
            st.subheader("Measured uplift per action", divider="green")
            st.markdown(view.measurement_overview(measurement))
            ui.table(
                view.uplift_table(measurement),
                percent=["Measured uplift", "Catalog estimate", "Treated churn", "Holdout churn"],
                key="hist_measurement",
                **{
                    "Measured uplift": st.column_config.NumberColumn(
                        format="%.1f%%", help="1 − treated churn rate / holdout churn rate"
                    ),
                    "95% CI": st.column_config.TextColumn(
                        "95% CI", help="95% confidence interval of the measured uplift"
                    ),
                    "Catalog estimate": st.column_config.NumberColumn(
                        "Estimate", format="%.1f%%", help="The catalog's uplift: what the plan assumed"
                    ),
                    "Treated": st.column_config.NumberColumn(
                        "Treated", format="localized", help="Treated customers with an outcome"
                    ),
                    "Holdout": st.column_config.NumberColumn(
                        "Holdout", format="localized", help="Held-out customers with an outcome"
                    ),
                    "Churn prevented": st.column_config.NumberColumn(
                        "Prevented",
                        format="%.1f pts",
                        help="Churn prevented: holdout churn rate − treated churn rate (percentage points)",
                    ),
                    "Enough evidence": st.column_config.TextColumn(
                        "Sufficient",
                        help=f"Enough evidence to replace the estimate: {view.evidence_rule_text(RULE)}",
                    ),
                },
            )
            st.download_button(
                "Download the full measurement (CSV)",
                data=to_csv_bytes(measurement.table),
                file_name=f"uplift_plan{plan.id}_outcomes{outcome_id}.csv",
                mime="text/csv",
                icon=":material/download:",
                key="hist_measurement_download",
                on_click="ignore",
            )
            warnings = view.measurement_warnings(measurement)
            if warnings:
                st.warning("\n".join(f"- {esc(w)}" for w in warnings), icon=":material/warning:")
            st.plotly_chart(view.uplift_figure(measurement), key="hist_uplift_chart")
            st.caption(
                "Measured uplift = 1 − treated churn rate / holdout churn rate: the relative churn "
                "reduction, the catalog's meaning of uplift. "
                + esc(measurement.method)
                + f" Enough evidence to replace the estimate: {view.evidence_rule_text(RULE)}."
            )

if recalibrate_tab.open:
    with recalibrate_tab:
        if not outcome_names:
            st.info(
                "Upload or simulate this plan's outcomes first (the Outcomes tab).", icon=":material/info:"
            )
        else:
            outcome_id = logic.selected(list(outcome_names), ss.get(outcome_key))
            st.markdown(
                "A new catalog with the measured uplift of every action with enough evidence and the "
                "estimate elsewhere, and the saved plan's customers and settings re-optimized with it. "
                f"Outcomes: {esc(outcome_names[outcome_id])}."
            )
            st.button(
                "Recalibrate the catalog and re-optimize",
                icon=":material/auto_fix_high:",
                type="primary",
                key="hist_recalibrate",
                on_click=logic.request_recalibration,
                args=(plan.id, outcome_id),
            )
            if logic.recalibration_shown(plan.id, outcome_id):
                with st.spinner("Re-optimizing with the recalibrated catalog…"):
                    recalibration, change = history_store.recalibration(plan.id, outcome_id)
                measured = recalibration.measured_actions
                st.markdown(
                    f"**{len(measured)}** action(s) take their measured uplift; the others keep the estimate."
                    if measured
                    else "**No action has enough evidence yet**: the new catalog keeps every estimate "
                    "(with 10% holdouts, about 300 customers per action are needed)."
                )
                uplifts = ["Estimate", "Measured", "New uplift"]
                ui.table(
                    ui.as_percent(view.recalibration_table(recalibration), uplifts),
                    percent=uplifts,
                    key="hist_recal_table",
                    Why=st.column_config.TextColumn(width="large"),
                )
                st.markdown(esc(view.reoptimization_summary(change)))
                ui.table(
                    view.kpi_text_table(view.reoptimization_kpis(change)),
                    key="hist_reopt_kpis",
                    KPI=st.column_config.TextColumn(width="medium"),
                )
                st.plotly_chart(view.action_mix_figure(change.comparison), key="hist_reopt_mix")
                left, right, _ = st.columns([1, 1, 1])
                left.button(
                    "Use this catalog for the next run",
                    icon=":material/check:",
                    type="primary",
                    key="hist_use_catalog",
                    on_click=logic.use_catalog,
                    args=(plan.id, outcome_id),
                    width="stretch",
                )
                right.download_button(
                    "Download the catalog (CSV)",
                    recalibration.catalog_csv(),
                    file_name=f"actions_recalibrated_plan{plan.id}.csv",
                    mime="text/csv",
                    icon=":material/download:",
                    key="hist_recal_download",
                    on_click="ignore",
                    width="stretch",
                )
                if logic.catalog_in_use(plan.id, outcome_id):
                    st.success(
                        "The planner now uses the recalibrated catalog: run the optimization.",
                        icon=":material/check_circle:",
                    )
                    st.page_link("pages/4_Action_Catalog.py", label="See it on the Action catalog page")
