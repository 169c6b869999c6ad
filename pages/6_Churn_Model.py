"""Churn model: where the churn probabilities come from, and how good they are (saved test-set evaluation)."""

import streamlit as st

from app_lib import loaders, session
from app_lib.formatting import esc
from app_lib.page import setup
from optimizer import InputError
from optimizer.churn import calibration_figure, importance_figure, probability_histogram, roc_figure

MODEL_NAMES = {
    "xgboost": "XGBoost",
    "random_forest": "Random forest",
    "logistic_regression": "Logistic regression (baseline)",
}

context = setup("churn", "Churn model")
st.title(":material/model_training: Churn model")
st.caption(
    "The optimizer's churn probabilities come from this model. It is trained on a synthetic customer base "
    "(no real customer data) and evaluated on held-out customers it never saw; nothing is retrained here."
)
try:
    report = loaders.model_report()
except InputError as error:
    st.error(
        "The saved churn model cannot be read: " + esc("; ".join(str(p) for p in error.problems)),
        icon=":material/block:",
    )
    st.stop()

st.subheader("Test-set quality", divider="green")
cols = st.columns(4)
cols[0].metric(
    "AUC",
    f"{report.auc:.3f}",
    delta=f"{report.auc - report.report_auc:+.3f} vs the report's {report.report_auc:.2f}",
    help="Probability that a churner is ranked above a non-churner (1 = perfect, 0.5 = chance).",
)
cols[1].metric(
    "Brier score",
    f"{report.brier:.3f}",
    delta=f"{report.brier - report.baseline_brier:+.3f} vs baseline",
    delta_color="inverse",
    help="Mean squared error of the probabilities (lower is better): the optimizer uses them as numbers, so "
    "calibration matters as much as ranking.",
)
cols[2].metric(
    "Log loss",
    f"{report.log_loss:.3f}",
    delta=f"{report.log_loss - report.baseline_log_loss:+.3f} vs baseline",
    delta_color="inverse",
)
cols[3].metric(
    "Test customers",
    f"{report.n_test:,}",
    delta=f"{report.n_train:,} trained on",
    delta_color="off",
    delta_arrow="off",
)
comparison = report.comparison.assign(
    model=report.comparison["model"].map(MODEL_NAMES).fillna(report.comparison["model"])
)
st.dataframe(
    comparison.rename(columns={"model": "Model", "auc": "AUC", "log_loss": "Log loss", "brier": "Brier"}),
    hide_index=True,
    column_config={
        name: st.column_config.NumberColumn(format="%.3f") for name in ("AUC", "Log loss", "Brier")
    },
)
chosen = MODEL_NAMES.get(report.model, report.model)
baseline = MODEL_NAMES.get(report.baseline_model, report.baseline_model)
st.caption(
    f"Chosen model: {esc(chosen)} (calibration: {esc(report.calibration)}); training took "
    f"{report.train_seconds:.0f} s. Baseline: {esc(baseline)}."
)

roc_tab, calibration_tab, importance_tab, cohort_tab = st.tabs(
    ["ROC curve", "Calibration", "What drives churn", "This week's cohort"],
    key="churn_tabs",
    on_change="rerun",
)
if roc_tab.open:
    with roc_tab:
        st.plotly_chart(roc_figure(report), key="churn_roc")
if calibration_tab.open:
    with calibration_tab:
        st.plotly_chart(calibration_figure(report), key="churn_calibration")
        st.caption("Points on the diagonal mean a predicted 30% churns about 30% of the time.")
if importance_tab.open:
    with importance_tab:
        st.plotly_chart(importance_figure(report, top=10), key="churn_importance")
        st.caption("Share of the model's total gain per customer-file column (one-hot levels summed).")
if cohort_tab.open:
    with cohort_tab:
        if context.cohort is None:
            st.info("No cohort is loaded: open the Data page.", icon=":material/info:")
        else:
            st.plotly_chart(probability_histogram(context.cohort), key="churn_cohort_histogram")
            st.caption(f"Probabilities of the cohort in use: {esc(st.session_state[session.COHORT_LABEL])}.")
