"""History: saved plans (list, reopen, compare, download), 30-day outcomes, measured uplift, recalibration."""

import streamlit as st

from app_lib import history_store, state
from app_lib import history_view as view
from app_lib.formatting import esc, money, percent
from app_lib.page import setup
from app_lib.ui import table
from optimizer import InputError
from optimizer.comparison import compare_plans
from optimizer.outcomes import (
    SufficiencyRule,
    load_outcomes,
    measure_uplift,
    outcomes_csv_bytes,
    simulate_outcomes,
)
from optimizer.recalibrate import recalibrate_catalog, reoptimize

context = setup("history", "History")
st.title(":material/history: Plan history")
ss = st.session_state
store = history_store.plan_history()
st.caption(
    "Every saved plan keeps its settings, catalog, cohort, solver report, assignments with the holdout flags "
    f"and its exact export files. Stored in `{store.safe_url}`."
)
RULE = SufficiencyRule()


def show_problems(error: InputError) -> None:
    st.error("The outcomes file was not used: fix these problems and upload it again.")
    rows = [{"Row": p.row or "", "Column": p.column or "", "Problem": p.message} for p in error.problems]
    st.dataframe(rows, hide_index=True, key="hist_problems")


def reopen(plan) -> None:
    """Button callback (runs before the sidebar is drawn): the saved plan's inputs become the planner's."""
    state.set_cohort(plan.cohort, f"saved plan #{plan.id}", "uploaded")
    state.set_catalog(plan.catalog, f"saved plan #{plan.id} catalog")
    ss[state.SETTINGS] = plan.settings
    ss[state.PRESET] = state.CUSTOM_PRESET
    ss["hist_reopened"] = plan.id


def use_catalog(catalog, plan_id: int) -> None:
    state.set_catalog(catalog, f"recalibrated from plan #{plan_id}")
    ss[state.PRESET] = state.CUSTOM_PRESET
    ss["hist_catalog_used"] = plan_id


# --- save the current plan ------------------------------------------------------------------------------

record = ss.get(state.LAST_RUN)
with st.expander("💾 Save the current plan", expanded=record is not None and record.exports is not None):
    if record is None or record.exports is None:
        st.info("Run the optimization first: only a plan with export files can be saved.")
    elif not state.run_is_current(record):
        st.warning(
            "The settings, data or catalog changed since the last run: run the optimization again first."
        )
    else:
        with st.form("hist_save_form", clear_on_submit=True):
            label = st.text_input(
                "Label (optional)", key="hist_label", placeholder="e.g. week 45, budget test"
            )
            if st.form_submit_button("Save to history", type="primary"):
                plan_id = store.save_plan(
                    record.result, record.exports, context.cohort, context.catalog, label=label
                )
                ss["hist_plan"] = plan_id
                st.success(f"Saved as plan #{plan_id}.")

# --- saved plans ------------------------------------------------------------------------------------------

plans = store.list_plans()
if plans.empty:
    st.info("No saved plans yet. Run the optimization, then save the plan here.")
    st.stop()

st.subheader("Saved plans")
table(
    view.plans_table(plans),
    money=["Budget", "Spend", "Net value"],
    percent=["ROI %"],
    key="hist_plans_table",
)
labels = {int(row["id"]): view.plan_choice_label(row) for _, row in plans.iterrows()}
if ss.get("hist_plan") not in labels:
    ss["hist_plan"] = next(iter(labels))
plan_id = st.selectbox("Plan", options=list(labels), format_func=labels.get, key="hist_plan")
plan = history_store.load_plan(plan_id)

plan_tab, compare_tab, outcomes_tab, recalibrate_tab = st.tabs(
    ["Plan", "Compare", "Outcomes & measured uplift", "Recalibrate"]
)

with plan_tab:
    k = plan.kpis
    columns = st.columns(5)
    columns[0].metric("Customers treated", f"{k.customers_treated:,}", help=f"of {k.customers:,} customers")
    columns[1].metric("Spend", money(k.total_spend))
    columns[2].metric("Expected retained CLV", money(k.expected_retained_clv))
    columns[3].metric("Net value", money(k.net_value))
    columns[4].metric("ROI", percent(k.roi_pct))
    st.caption(
        f"Plan date {plan.plan_date.isoformat()}, saved {esc(plan.created_at)}; solver "
        f"{esc(plan.solver_report.solver)}; {int(plan.holdout.sum()):,} customers held out "
        f"(seed {plan.holdout_seed}); input fingerprint `{plan.input_fingerprint[:16]}`."
    )
    table(view.plan_action_mix(plan.plan_rows), money=["Spend", "Expected retained CLV"], key="hist_mix")
    st.markdown("**Export files, exactly as exported**")
    files = store.plan_files(plan.id)
    columns = st.columns(len(files))
    for column, (name, content) in zip(columns, files.items(), strict=True):
        column.download_button(
            name, content, file_name=name, mime="text/csv", key=f"hist_download_{name.rsplit('_', 1)[0]}"
        )
    st.button(
        "Reopen in the planner",
        key="hist_reopen",
        on_click=reopen,
        args=(plan,),
        help="Load this plan's customer data, catalog and settings into the planner",
    )
    if ss.pop("hist_reopened", None) == plan.id:
        st.success("Loaded into the planner: run the optimization to work on it again.")

with compare_tab:
    others = [i for i in labels if i != plan.id]
    if not others:
        st.info("Save a second plan to compare two plans side by side.")
    else:
        other_id = st.selectbox("Compare with", options=others, format_func=labels.get, key="hist_other")
        other = history_store.load_plan(other_id)
        comparison = compare_plans(plan, other, labels=(f"#{plan.id}", f"#{other.id}"))
        left, right = st.columns(2)
        with left:
            table(view.comparison_settings(comparison), key="hist_cmp_settings")
        with right:
            table(view.comparison_kpis(comparison), key="hist_cmp_kpis")
        st.plotly_chart(view.action_mix_figure(comparison), key="hist_cmp_mix")
        st.caption(
            f"Customers: {comparison.same:,} with the same action, {comparison.switched:,} switched, "
            f"{comparison.only_a:,} only in #{plan.id}, {comparison.only_b:,} only in #{other.id}."
        )

with outcomes_tab:
    st.markdown(
        "Upload what happened 30 days after the plan: a CSV with `customer_id` and `churned` (1 churned, "
        "0 stayed). Per action, the treated customers' churn is compared with the holdout's."
    )
    upload = st.file_uploader("Outcomes CSV", type=["csv"], key="hist_upload")
    if upload is not None and ss.get("hist_uploaded") != (plan.id, upload.file_id):
        content = upload.getvalue()
        try:
            measure_uplift(plan, load_outcomes(content, upload.name), rule=RULE)
        except InputError as error:
            show_problems(error)
        else:
            store.save_outcomes(plan.id, content, upload.name)
            ss["hist_uploaded"] = (plan.id, upload.file_id)
    with st.expander("Simulate outcomes (demo and training)"):
        st.caption(
            "Draws outcomes from the churn model's probabilities with a known true uplift per action: "
            "treated customers churn with probability p × (1 − true uplift), held-out ones with p."
        )
        used = sorted(plan.plan_rows.groupby("action_id")["action_name"].first().items())
        with st.form("hist_simulate_form"):
            truth = {
                action_id: st.number_input(
                    f"True uplift: {name}",
                    min_value=-1.0,
                    max_value=1.0,
                    value=float(plan.catalog.set_index("action_id").loc[action_id, "uplift"]),
                    step=0.01,
                    key=f"hist_truth_{action_id}",
                )
                for action_id, name in used
            }
            seed = st.number_input("Seed", min_value=0, value=1, step=1, key="hist_seed")
            if st.form_submit_button("Draw outcomes"):
                drawn = simulate_outcomes(plan, truth, seed=int(seed))
                store.save_outcomes(plan.id, outcomes_csv_bytes(drawn), f"simulated_seed{int(seed)}.csv")

    uploads = store.list_outcomes(plan.id)
    if uploads.empty:
        st.info("No outcomes for this plan yet.")
    else:
        names = {int(r.id): f"{r.file_name} (uploaded {r.uploaded_at})" for r in uploads.itertuples()}
        outcome_id = st.selectbox(
            "Outcomes file", options=list(names), format_func=names.get, key="hist_outcome"
        )
        content, name = store.load_outcomes(plan.id, outcome_id)
        measurement = measure_uplift(plan, load_outcomes(content, name), rule=RULE)
        st.subheader("Measured uplift per action")
        shown = view.measurement_table(measurement)
        rates = ["Treated churn rate", "Holdout churn rate", "Churn prevented (points)"]
        uplifts = ["Measured uplift", "95% CI low", "95% CI high", "Catalog estimate"]
        table(
            shown.assign(**{c: shown[c] * 100 for c in rates + uplifts}),
            percent=rates + uplifts,
            key="hist_measurement",
        )
        for warning in view.measurement_warnings(measurement):
            st.warning(warning)
        st.plotly_chart(view.uplift_figure(measurement), key="hist_uplift_chart")
        st.caption(
            "Measured uplift = 1 − treated churn rate / holdout churn rate: the relative churn reduction, "
            "the catalog's meaning of uplift. " + measurement.method + f" Enough evidence: at least "
            f"{RULE.min_holdout} holdout and {RULE.min_treated} treated customers and a 95% interval at most "
            f"{RULE.max_ci_width:.2f} wide."
        )
        ss["hist_measured"] = (plan.id, outcome_id, measurement)

with recalibrate_tab:
    measured = ss.get("hist_measured")
    if measured is None or measured[0] != plan.id:
        st.info("Measure this plan's outcomes first (the Outcomes tab).")
    else:
        _, outcome_id, measurement = measured
        if st.button("Recalibrate the catalog and re-optimize", type="primary", key="hist_recalibrate"):
            recalibration = recalibrate_catalog(plan.catalog, measurement)
            with st.spinner("Re-optimizing with the recalibrated catalog…"):
                change = reoptimize(plan, recalibration.catalog)
            ss["hist_recalibration"] = (plan.id, outcome_id, recalibration, change)
        result = ss.get("hist_recalibration")
        if result is not None and result[:2] == (plan.id, outcome_id):
            _, _, recalibration, change = result
            table(view.recalibration_table(recalibration), key="hist_recal_table")
            st.download_button(
                "Download the recalibrated catalog",
                recalibration.catalog_csv(),
                file_name=f"actions_recalibrated_plan{plan.id}.csv",
                mime="text/csv",
                key="hist_recal_download",
            )
            st.markdown(esc(view.reoptimization_summary(change)))
            table(view.reoptimization_kpis(change), key="hist_reopt_kpis")
            st.plotly_chart(view.action_mix_figure(change.comparison), key="hist_reopt_mix")
            st.button(
                "Use the recalibrated catalog in the planner",
                key="hist_use_catalog",
                on_click=use_catalog,
                args=(recalibration.catalog, plan.id),
            )
            if ss.pop("hist_catalog_used", None) == plan.id:
                st.success("The planner now uses the recalibrated catalog: run the optimization.")
