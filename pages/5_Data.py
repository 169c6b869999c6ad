"""Data: upload this week's predictions and features, see every validation problem, or go back to the
bundled data."""

import pandas as pd
import streamlit as st

from app_lib import controller, session, ui
from app_lib.formatting import esc
from app_lib.page import setup
from optimizer import InputError, load_cohort, to_csv_bytes
from optimizer.data import unknown_subscription_warnings

context = setup("data", "Data")
st.title(":material/database: Customer data")
ss = st.session_state

if context.cohort is not None:
    st.success(
        f"In use: {len(context.cohort):,} customers from {esc(ss[session.COHORT_LABEL])}.",
        icon=":material/check_circle:",
    )
    note = session.settings_note()
    if note:
        st.info(esc(note), icon=":material/straighten:")
    for warning in unknown_subscription_warnings(context.cohort):
        st.warning(esc(warning), icon=":material/warning:")
else:
    st.error(
        "No customer data is loaded: the bundled files are missing. Upload predictions and features below."
    )


def problems_frame(error: InputError) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "File": p.file,
                "Row": str(p.row) if p.row is not None else "",
                "Column": p.column or "",
                "Problem": p.message,
            }
            for p in error.problems
        ]
    )


def _use_bundled() -> None:
    problems = controller.use_bundled_cohort()
    ss["data_problems"] = None
    ss["data_bundled_problems"] = problems


st.subheader("Upload this week's files")
limit = st.get_option("server.maxUploadSize")
st.caption(
    f"Same format as the bundled files in data/ (CSV, UTF-8, header row; up to {limit} MB each). The "
    "upload is checked completely before it replaces the data in use; nothing is stored on the server."
)
left, right = st.columns(2)
predictions = left.file_uploader(
    "Churn predictions (like prediction_250.csv)",
    type=["csv"],
    key="data_predictions",
    help="Columns: customer_id, churn_probability (0 to 1).",
)
features = right.file_uploader(
    "Customer features (like test_250.csv)",
    type=["csv"],
    key="data_features",
    help="Columns: customer_id, subscription_type, payment_plan; optional weekly_hours, weekly_songs_played, "
    "num_playlists_created, clv.",
)
if st.button(
    "Validate and use these files",
    icon=":material/task_alt:",
    type="primary",
    disabled=not (predictions and features),
    key="data_load",
):
    try:
        cohort = load_cohort(
            predictions.getvalue(),
            features.getvalue(),
            predictions_name=predictions.name,
            features_name=features.name,
        )
    except InputError as error:
        ss["data_problems"] = problems_frame(error)
    else:
        ss["data_problems"] = None
        controller.use_cohort(cohort, f"uploaded files ({predictions.name} + {features.name})", "uploaded")
        st.rerun()

problems = ss.get("data_problems")
if problems is not None and len(problems):
    st.error(
        f"The files were not loaded: {len(problems)} problem(s). Rows are numbered as in a spreadsheet "
        "(the header is row 1). The data in use did not change."
    )
    st.dataframe(problems, hide_index=True, key="data_problems_table")

st.button("Use the bundled data", icon=":material/undo:", on_click=_use_bundled, key="data_bundled")
if ss.get("data_bundled_problems"):
    st.error("The bundled data cannot be loaded: " + esc("; ".join(ss["data_bundled_problems"])))

with st.expander("File format"):
    st.markdown(
        "**Predictions**: `customer_id`, `churn_probability` (0 to 1), one row per customer.\n\n"
        "**Features**: `customer_id`, `subscription_type` (Free, Student, Premium, Family), `payment_plan` "
        "(Monthly, Yearly); optional `weekly_hours`, `weekly_songs_played`, `num_playlists_created` and "
        "`clv` (estimated from subscription, plan and engagement when absent).\n\n"
        "Both files must list the same customers; ids must be unique."
    )
    example_predictions = pd.DataFrame({"customer_id": [100001, 100002], "churn_probability": [0.82, 0.15]})
    example_features = pd.DataFrame(
        {
            "customer_id": [100001, 100002],
            "subscription_type": ["Premium", "Free"],
            "payment_plan": ["Monthly", "Yearly"],
            "weekly_hours": [12.5, 30.0],
            "weekly_songs_played": [150, 420],
            "num_playlists_created": [3, 12],
        }
    )
    c1, c2 = st.columns(2)
    c1.download_button(
        "Predictions template",
        to_csv_bytes(example_predictions),
        "predictions_template.csv",
        "text/csv",
        key="data_template_predictions",
        on_click="ignore",
    )
    c2.download_button(
        "Features template",
        to_csv_bytes(example_features),
        "features_template.csv",
        "text/csv",
        key="data_template_features",
        on_click="ignore",
    )


def _preview_rows(rows: pd.DataFrame) -> pd.DataFrame:
    shown = ui.as_percent(rows, ["churn_probability"])
    shown["customer_id"] = shown["customer_id"].astype(str)
    return shown


if context.cohort is not None:
    st.subheader("The data in use")
    ui.paged_table(
        context.cohort,
        "data_preview",
        transform=_preview_rows,
        money=["clv"],
        percent=["churn_probability"],
        weekly_hours=st.column_config.NumberColumn(format="%.1f"),
    )
