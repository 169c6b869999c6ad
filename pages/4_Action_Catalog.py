"""Action catalog: edit costs, uplifts, channels and eligibility; validate; reset, download, upload."""

import streamlit as st

from app_lib import controller, loaders, session, tables
from app_lib.formatting import esc
from app_lib.page import setup
from optimizer import InputError, load_catalog, to_csv_bytes, validate_catalog
from optimizer.catalog import CHANNELS, RISK_SEGMENTS, VALUE_SEGMENTS, unmatched_segments

context = setup("catalog", "Action catalog")
st.title(":material/category: Action catalog")
st.caption(
    "What can be done for a customer, at what cost, with what expected uplift (churn reduction), through "
    "which channel and for whom. Valid changes apply to the next run; action 0 is the 'No Action' baseline."
)
ss = st.session_state
catalog = ss[session.CATALOG]
st.markdown(f"Active catalog: **{esc(ss[session.CATALOG_LABEL])}** ({len(catalog)} actions).")


def _reset() -> None:
    controller.reset_catalog()
    ss.pop("cat_problems", None)


segments = ["all"]
if context.cohort is not None:
    segments += sorted(context.cohort["subscription_type"].astype(str).unique())
segments += list(VALUE_SEGMENTS) + list(RISK_SEGMENTS)
segments += [s for s in catalog["eligible_segment"].astype(str).unique() if s not in segments]

# The editor edits a fixed base (its edits are stored relative to it); the base is the active catalog whenever
# the editor starts afresh: first visit, after leaving the page, after reset/upload/preset.
editor_key = f"cat_editor_{ss[session.CATALOG_VERSION]}"
if editor_key not in ss or "cat_editor_base" not in ss:
    ss["cat_editor_base"] = catalog
edited = st.data_editor(
    ss["cat_editor_base"],
    key=editor_key,
    num_rows="dynamic",
    hide_index=True,
    column_config={
        "action_id": st.column_config.NumberColumn(
            "ID", min_value=0, step=1, format="%d", required=True, width="small"
        ),
        "action_name": st.column_config.TextColumn("Action", required=True, width="medium"),
        "channel": st.column_config.SelectboxColumn(
            "Channel", options=list(CHANNELS), required=True, width="small"
        ),
        "cost": st.column_config.NumberColumn(
            "Cost", min_value=0.0, format="dollar", required=True, width="small"
        ),
        "uplift": st.column_config.NumberColumn(
            "Uplift",
            min_value=0.0,
            max_value=1.0,
            step=0.01,
            format="%.2f",
            required=True,
            help="Expected reduction of churn probability as a fraction (0.08 = 8%)",
        ),
        "eligible_segment": st.column_config.SelectboxColumn(
            "Eligible segment",
            options=segments,
            required=True,
            help="'all', a subscription type, a value tier (high_value…) or a risk tier (high_risk…)",
        ),
        "min_clv": st.column_config.NumberColumn(
            "Min CLV (excl.)", min_value=0.0, format="dollar", width="small"
        ),
        "max_clv": st.column_config.NumberColumn(
            "Max CLV (incl.)", min_value=0.0, format="dollar", width="small"
        ),
        "description": st.column_config.TextColumn("Description", width="medium"),
        "enabled": st.column_config.CheckboxColumn("Enabled", default=True, width="small"),
    },
)

try:
    validated = validate_catalog(edited, "action catalog")
except InputError as error:
    st.error(f"The edited catalog has {len(error.problems)} problem(s); the last valid catalog stays in use.")
    st.dataframe(tables.problem_rows(error, table_rows=True), hide_index=True)
    st.caption("Row numbers count the table's rows from 1.")
else:
    if loaders.frame_token(validated) != ss[session.CATALOG_TOKEN]:
        session.set_catalog(validated, "edited catalog", restart_editor=False)
        ss["cat_flash"] = "Changes saved: they apply to the next run."
        st.rerun()  # redraw the sidebar (preset, slider ranges, preflight) for the new catalog
    if ss.get("cat_flash"):
        st.success(ss.pop("cat_flash"), icon=":material/check_circle:")
    if context.cohort is not None:
        for warning in unmatched_segments(context.cohort, validated):
            st.warning(esc(warning), icon=":material/warning:")

left, middle, right = st.columns(3)
left.button("Reset to the default catalog", icon=":material/undo:", on_click=_reset, key="cat_reset")
middle.download_button(
    "Download catalog (CSV)",
    icon=":material/download:",
    data=to_csv_bytes(ss[session.CATALOG]),
    file_name="action_catalog.csv",
    mime="text/csv",
    key="cat_download",
    on_click="ignore",
)
with right:
    upload = st.file_uploader("Upload a catalog CSV", type=["csv"], key="cat_upload")

if upload is not None and ss.get("cat_uploaded") != upload.file_id:
    ss["cat_uploaded"] = upload.file_id
    try:
        loaded = load_catalog(upload.getvalue(), upload.name)
    except InputError as error:
        ss["cat_problems"] = (upload.name, tables.problem_rows(error))
    else:
        ss.pop("cat_problems", None)
        session.set_catalog(loaded, f"uploaded catalog ({upload.name})")
        ss["cat_flash"] = f"Loaded {esc(upload.name)}: it applies to the next run."
        st.rerun()
if ss.get("cat_problems"):
    name, rows = ss["cat_problems"]
    st.error(
        f"{esc(name)} was not loaded: {len(rows)} problem(s). Fix them and upload again.",
        icon=":material/block:",
    )
    st.dataframe(rows, hide_index=True)

with st.expander("Column reference"):
    st.markdown(
        "- **action\\_id**: whole number, unique; 0 is 'No Action' (cost and uplift 0).\n"
        "- **channel**: "
        + esc(", ".join(CHANNELS))
        + ". Email uses the email capacity; push and in\\_app share "
        "the push/in-app capacity; call uses the call capacity.\n"
        "- **cost**: dollars per customer; **uplift**: fraction of churn probability removed (0 to 1).\n"
        "- **eligible\\_segment**: all, a subscription type (Free, Premium, …), high\\_value / "
        "medium\\_value / low\\_value or high\\_risk / medium\\_risk / low\\_risk.\n"
        "- **min\\_clv / max\\_clv**: optional CLV window, min\\_clv < CLV ≤ max\\_clv.\n"
        "- **enabled**: untick to keep an action in the catalog without using it."
    )
