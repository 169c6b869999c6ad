"""The shared sidebar, rendered by every page: navigation, preset, settings, preflight and the Run button.

Widget values persist across pages through the canonical `PlanSettings` in session state: each run writes
the stored settings into the widget keys before the widgets are created, and every widget's callback writes
the widgets back into the store (a widget's own state does not survive a page switch).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_lib import scaling, state
from app_lib.formatting import esc, money
from app_lib.runner import run_plan
from optimizer import PlanSettings
from optimizer.model import policy_count, saturation_count

PAGES = (
    ("plan", "app.py", "Plan", ":material/home:"),
    ("results", "pages/2_Results.py", "Results", ":material/insights:"),
    ("sensitivity", "pages/3_Sensitivity.py", "Sensitivity", ":material/query_stats:"),
    ("catalog", "pages/4_Action_Catalog.py", "Action catalog", ":material/category:"),
    ("data", "pages/5_Data.py", "Data", ":material/database:"),
    ("churn", "pages/6_Churn_Model.py", "Churn model", ":material/model_training:"),
    ("history", "pages/7_History.py", "History", ":material/history:"),
)
APP_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PAGE = "pages/2_Results.py"

BUDGET = "sb_budget"
EMAIL = "sb_email"
PUSH = "sb_push"
CALL = "sb_call"
THRESHOLD = "sb_threshold"
HIGH_RISK = "sb_high_risk"
PREMIUM = "sb_premium"
SATURATION = "sb_saturation"
SEGMENT = "sb_segment"
ROUNDING = "sb_rounding"
RUN = "sb_run"
PRESET_WIDGET = "sb_preset"
BOUNDS = "sb_bounds"  # the ranges the widgets were last drawn with (read by the callbacks)
ROUNDING_LABELS = {"ceil": "Round up (at least the share)", "floor": "Round down (as in the 2025 report)"}
CAPACITY_KEYS = {"email_capacity": EMAIL, "push_capacity": PUSH, "call_capacity": CALL}
RATE_KEYS = {
    "min_high_risk": HIGH_RISK,
    "min_premium": PREMIUM,
    "max_saturation": SATURATION,
    "min_segment": SEGMENT,
}


def snap_budget(value: float, bounds: state.Bounds) -> float:
    """Round a budget up to the slider's step (a larger budget never breaks feasibility)."""
    return state.snap_up(value, bounds.budget_step)


def budget_slider_max(bounds: state.Bounds, settings: PlanSettings) -> float:
    """The budget slider's end: the data-derived maximum, extended if a preset or suggestion asks for more."""
    return max(bounds.budget_max, snap_budget(settings.budget, bounds))


def widget_values(settings: PlanSettings, bounds: state.Bounds) -> dict:
    """The widget values showing these settings (no capacity limit shows as the number of customers)."""
    n = bounds.customers
    values = {
        BUDGET: float(min(max(settings.budget, 0.0), budget_slider_max(bounds, settings))),
        THRESHOLD: float(min(max(settings.high_risk_threshold, bounds.threshold_min), bounds.threshold_max)),
        ROUNDING: settings.coverage_rounding,
    }
    for field, key in CAPACITY_KEYS.items():
        limit = getattr(settings, field)
        values[key] = n if limit is None else int(min(max(limit, 0), n))
    for field, key in RATE_KEYS.items():
        values[key] = int(round(getattr(settings, field) * 100))
    return values


def settings_from_widgets(values: dict, bounds: state.Bounds) -> PlanSettings:
    """PlanSettings from widget values; a capacity at its maximum (every customer) means no limit."""
    n = bounds.customers
    capacities = {
        field: (None if int(values[key]) >= n else int(values[key])) for field, key in CAPACITY_KEYS.items()
    }
    rates = {field: int(values[key]) / 100 for field, key in RATE_KEYS.items()}
    return PlanSettings(
        budget=float(values[BUDGET]),
        high_risk_threshold=round(float(values[THRESHOLD]), 4),
        coverage_rounding=values[ROUNDING],
        **capacities,
        **rates,
    )


def apply_settings(settings: PlanSettings) -> None:
    """Store settings and show them in the widgets. Call from a callback (before the widgets are drawn)."""
    st.session_state[state.SETTINGS] = settings


def _on_widget_change() -> None:
    ss = st.session_state
    bounds = ss.get(BOUNDS)
    if bounds is None:
        return
    values = {
        key: ss[key]
        for key in (BUDGET, EMAIL, PUSH, CALL, THRESHOLD, HIGH_RISK, PREMIUM, SATURATION, SEGMENT, ROUNDING)
    }
    ss[state.SETTINGS] = settings_from_widgets(values, bounds)
    ss[state.PRESET] = state.CUSTOM_PRESET


def apply_preset(name: str) -> None:
    """Load a preset's catalog and settings, the settings fitted to the cohort's size (exactly the preset's
    values on a 250-customer cohort)."""
    preset = state.PRESETS.get(name)
    if preset is None:
        return
    state.set_catalog(state.catalog_file(preset.catalog_file), preset.catalog_label)
    settings, note = state.fit_settings(
        preset.settings, scaling.BASE_CUSTOMERS, f"the {name} preset's values"
    )
    state.apply_fitted(settings, note)
    st.session_state[state.PRESET] = name


def _on_preset_change() -> None:
    apply_preset(st.session_state[PRESET_WIDGET])


def _raise_budget(value: float) -> None:
    ss = st.session_state
    ss[state.SETTINGS] = ss[state.SETTINGS].with_changes(budget=float(value))
    ss[state.PRESET] = state.CUSTOM_PRESET


def request_run_with(settings: PlanSettings) -> None:
    """Callback: apply settings (e.g. the nearest feasible ones) and run at once."""
    ss = st.session_state
    ss[state.SETTINGS] = settings
    ss[state.PRESET] = state.CUSTOM_PRESET
    ss[state.RUN_REQUESTED] = True


def navigation() -> None:
    for _, path, label, icon in PAGES:
        if (APP_ROOT / path).is_file():
            st.sidebar.page_link(path, label=label, icon=icon)


def render(page: str) -> PlanSettings | None:
    """Draw the sidebar for `page`; run the optimization when asked. Returns the current settings."""
    ss = st.session_state
    sidebar = st.sidebar
    sidebar.markdown("## :material/music_note: PlaylistPro")
    navigation()
    sidebar.divider()
    cohort = ss.get(state.COHORT)
    if cohort is None:
        sidebar.warning("No customer data loaded: open the Data page to upload predictions and features.")
        return None
    catalog = ss[state.CATALOG]
    bounds = state.slider_bounds(ss[state.COHORT_TOKEN], ss[state.CATALOG_TOKEN], cohort, catalog)
    ss[BOUNDS] = bounds
    settings: PlanSettings = ss[state.SETTINGS]
    for key, value in widget_values(settings, bounds).items():
        ss[key] = value
    n = bounds.customers

    sidebar.header(":material/settings: Optimization settings")
    options = [state.DEFAULT_PRESET, state.REPORT_PRESET, state.CUSTOM_PRESET]
    if ss.get(state.PRESET) not in options:
        ss[state.PRESET] = state.CUSTOM_PRESET
    ss[PRESET_WIDGET] = ss[state.PRESET]
    sidebar.selectbox(
        "Preset",
        options,
        key=PRESET_WIDGET,
        on_change=_on_preset_change,
        help="Load a complete set of settings and its action catalog. 'Published report (2025-11-05)' "
        "reproduces the report's baseline; moving any control switches to 'Custom'. The presets are "
        f"written for {scaling.BASE_CUSTOMERS} customers: for another cohort size the budget and channel "
        "capacities scale in proportion.",
    )
    note = state.settings_note()
    if note:
        sidebar.caption(":material/straighten: " + esc(note))

    sidebar.subheader("Budget & capacity")
    sidebar.slider(
        "Weekly budget ($)",
        min_value=0.0,
        max_value=budget_slider_max(bounds, settings),
        step=bounds.budget_step,
        format="dollar",
        key=BUDGET,
        on_change=_on_widget_change,
        help=f"Most you can spend on retention actions this week. The range ends at "
        f"{money(bounds.budget_max, cents=False)}: beyond it no plan for these customers and actions "
        "spends more.",
    )
    capacity_help = (
        "Most customers this channel can reach this week. At the maximum ({n:,}, every customer) "
        "there is no limit."
    )
    for key, label, channel in (
        (EMAIL, "Email capacity (per week)", "email"),
        (PUSH, "Push/in-app capacity (per week)", "push"),
        (CALL, "Call center capacity (per week)", "call"),
    ):
        unused = channel not in bounds.channels
        sidebar.slider(
            label,
            min_value=0,
            max_value=n,
            step=1,
            format="localized",
            key=key,
            on_change=_on_widget_change,
            disabled=unused,
            help=capacity_help.format(n=n),
        )
        if unused:
            sidebar.caption("No enabled action uses this channel.")
        elif ss[key] >= n:
            sidebar.caption("No limit.")

    sidebar.subheader("Policy constraints")
    p = cohort["churn_probability"].to_numpy(dtype=float)
    sidebar.slider(
        "High-risk threshold (churn probability)",
        min_value=bounds.threshold_min,
        max_value=bounds.threshold_max,
        step=0.05,
        format="%.2f",
        key=THRESHOLD,
        on_change=_on_widget_change,
        help="Customers whose churn probability is above this count as high risk for the coverage policy.",
    )
    high_risk = int((p > settings.high_risk_threshold).sum())
    rounding = settings.coverage_rounding
    sidebar.slider(
        "Min high-risk coverage (%)",
        0,
        100,
        key=HIGH_RISK,
        format="%d%%",
        on_change=_on_widget_change,
        help="Share of high-risk customers who must receive an action (brand promise: no at-risk customer "
        "is ignored).",
    )
    sidebar.caption(
        f"→ at least {policy_count(settings.min_high_risk, high_risk, rounding):,} of the {high_risk:,} "
        f"customers with churn probability above {settings.high_risk_threshold:.2f}"
    )
    sidebar.slider(
        "Min Premium coverage (%)",
        0,
        100,
        key=PREMIUM,
        format="%d%%",
        on_change=_on_widget_change,
        help="Share of Premium subscribers who must receive an action (VIP treatment).",
    )
    sidebar.caption(
        f"→ at least {policy_count(settings.min_premium, bounds.premium, rounding):,} of the "
        f"{bounds.premium:,} Premium customers"
    )
    sidebar.slider(
        "Max action saturation (%)",
        0,
        100,
        key=SATURATION,
        format="%d%%",
        on_change=_on_widget_change,
        help="No single action may go to more than this share of all customers (forces a diverse mix).",
    )
    sidebar.caption(
        f"→ no action for more than {saturation_count(settings.max_saturation, n):,} of {n:,} customers"
    )
    sidebar.slider(
        "Min segment coverage (%)",
        0,
        100,
        key=SEGMENT,
        format="%d%%",
        on_change=_on_widget_change,
        help="Every subscription type must have at least this share of its customers treated (fairness).",
    )
    needs = ", ".join(
        f"{esc(name)} {policy_count(settings.min_segment, size, rounding):,}/{size:,}"
        for name, size in bounds.segments.items()
    )
    sidebar.caption(f"→ at least {needs}")
    with sidebar.expander("Advanced"):
        st.radio(
            "Policy counts",
            list(ROUNDING_LABELS),
            format_func=ROUNDING_LABELS.get,
            key=ROUNDING,
            on_change=_on_widget_change,
            help="How a coverage share becomes a number of customers: 60% of 98 is 58.8, so at least 59 "
            "(round up) or 58 (round down, the report's convention).",
        )

    _preflight(cohort, catalog, settings, bounds)
    clicked = sidebar.button(
        "Run optimization", icon=":material/rocket_launch:", type="primary", key=RUN, width="stretch"
    )
    if clicked or ss.pop(state.RUN_REQUESTED, False):
        _run(cohort, catalog, ss[state.SETTINGS], page)
    latest_run_summary(page)
    return ss[state.SETTINGS]


def _preflight(cohort, catalog, settings: PlanSettings, bounds: state.Bounds) -> None:
    ss = st.session_state
    check = state.preflight(
        ss[state.COHORT_TOKEN], ss[state.CATALOG_TOKEN], state.settings_key(settings), cohort, catalog
    )
    sidebar = st.sidebar
    if check.minimum_budget is None:
        sidebar.error(
            "No budget can meet these settings. " + esc(check.conflict or check.message),
            icon=":material/block:",
        )
    elif check.feasible:
        # The bar shows how much of the budget the policies alone claim (the rest is free for the best
        # customers); drawing it up front also loads the progress widget the Run button uses.
        share = check.minimum_budget / settings.budget if settings.budget > 0 else 0.0
        sidebar.progress(
            min(max(share, 0.0), 1.0),
            text=f"Policies need **{esc(money(check.minimum_budget))}** of your "
            f"{esc(money(settings.budget, cents=False))} budget",
        )
    else:
        target = snap_budget(check.minimum_budget, bounds)
        sidebar.warning(
            f"These policies need at least **{esc(money(check.minimum_budget))}**; the budget is "
            f"{esc(money(settings.budget, cents=False))}. Raise the budget or lower the coverage policies.",
            icon=":material/warning:",
        )
        sidebar.button(
            f"Raise budget to {money(target, cents=False)}",
            key="sb_raise_budget",
            on_click=_raise_budget,
            args=(target,),
        )


def _run(cohort, catalog, settings: PlanSettings, page: str) -> None:
    """Run in place: the page drawn after the sidebar shows the new plan (no page switch, which would make
    the browser rebuild the whole page and double the time to results)."""
    ss = st.session_state
    bar = st.sidebar.progress(0.0, text="Starting…")
    record = run_plan(
        cohort,
        catalog,
        settings,
        problem=state.problem_for(ss[state.COHORT_TOKEN], ss[state.CATALOG_TOKEN], settings, cohort, catalog),
        cohort_token=ss[state.COHORT_TOKEN],
        catalog_token=ss[state.CATALOG_TOKEN],
        cohort_label=ss.get(state.COHORT_LABEL, ""),
        catalog_label=ss.get(state.CATALOG_LABEL, ""),
        progress=lambda fraction, text: bar.progress(fraction, text=text),
        with_marginal=False,  # computed by the Results page after the plan is on screen
        previous=ss.get(state.LAST_RUN),
    )
    if ss.get(state.LAST_RUN) is not None:
        ss[state.PREVIOUS_RUN] = ss[state.LAST_RUN]
        record.number = ss[state.LAST_RUN].number + 1
    ss[state.LAST_RUN] = record
    if page not in ("plan", "results"):
        k = record.result.kpis
        st.toast(
            f"Plan ready: net value {esc(money(k.net_value))}. Open Results for the details."
            if k is not None
            else "These settings cannot all be met: open Results for the diagnosis.",
            icon=":material/check_circle:" if k is not None else ":material/block:",
        )


def latest_run_summary(page: str) -> None:
    """One line under the Run button on every page: the latest plan, and whether it is out of date."""
    ss = st.session_state
    record = ss.get(state.LAST_RUN)
    if record is None:
        return
    k = record.result.kpis
    if k is not None:
        text = (
            f"Latest plan: **{esc(money(k.net_value))}** net value, {k.customers_treated:,} customers, "
            f"{esc(money(k.total_spend))} spent."
        )
    else:
        text = "Latest run: these settings cannot all be met."
    if not state.run_is_current(record):
        text += " :orange[Settings changed since: run again.]"
    st.sidebar.caption(text)
    if page != "results":
        st.sidebar.page_link(RESULTS_PAGE, label="Open the results", icon=":material/insights:")
