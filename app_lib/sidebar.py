"""The shared sidebar, rendered by every page: navigation, preset, settings, preflight and the Run button.

It draws the widgets (`settings_form` turns them into settings) and asks `controller` for the slider
ranges, the preflight check and the run; it computes nothing itself.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_lib import contact_form, controller, scaling, session
from app_lib import settings_form as form
from app_lib.bounds import Bounds, budget_slider_max, snap_budget
from app_lib.formatting import esc, money
from app_lib.presets import CUSTOM_PRESET, PRESET_OPTIONS
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

RUN = "sb_run"
PRESET_WIDGET = "sb_preset"
RAISE_BUDGET = "sb_raise_budget"


def _on_preset_change() -> None:
    controller.apply_preset(st.session_state[PRESET_WIDGET])


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
    inputs = controller.current_inputs()
    if inputs is None:
        sidebar.warning("No customer data loaded: open the Data page to upload predictions and features.")
        return None
    bounds = controller.slider_bounds(inputs)
    settings: PlanSettings = ss[session.SETTINGS]
    form.show_settings(settings, bounds)
    n = bounds.customers

    sidebar.header(":material/settings: Optimization settings")
    if ss.get(session.PRESET) not in PRESET_OPTIONS:
        ss[session.PRESET] = CUSTOM_PRESET
    ss[PRESET_WIDGET] = ss[session.PRESET]
    sidebar.selectbox(
        "Preset",
        PRESET_OPTIONS,
        key=PRESET_WIDGET,
        on_change=_on_preset_change,
        help="Load a complete set of settings and its action catalog. 'Published report (2025-11-05)' "
        "reproduces the report's baseline; moving any control switches to 'Custom'. The presets are "
        f"written for {scaling.BASE_CUSTOMERS} customers: for another cohort size the budget and channel "
        "capacities scale in proportion.",
    )
    note = session.settings_note()
    if note:
        sidebar.caption(":material/straighten: " + esc(note))

    sidebar.subheader("Budget & capacity")
    sidebar.slider(
        form.widget_label("budget"),
        min_value=0.0,
        max_value=budget_slider_max(bounds, settings),
        step=bounds.budget_step,
        format="dollar",
        key=form.BUDGET,
        on_change=form.store_widget_settings,
        help=f"Most you can spend on retention actions this week. The range ends at "
        f"{money(bounds.budget_max, cents=False)}: beyond it no plan for these customers and actions "
        "spends more.",
    )
    capacity_help = (
        "Most customers this channel can reach this week. At the maximum ({n:,}, every customer) "
        "there is no limit."
    )
    for field, channel in (("email_capacity", "email"), ("push_capacity", "push"), ("call_capacity", "call")):
        key = form.CAPACITY_KEYS[field]
        unused = channel not in bounds.channels
        sidebar.slider(
            form.widget_label(field),
            min_value=0,
            max_value=n,
            step=1,
            format="localized",
            key=key,
            on_change=form.store_widget_settings,
            disabled=unused,
            help=capacity_help.format(n=n),
        )
        if unused:
            sidebar.caption("No enabled action uses this channel.")
        elif ss[key] >= n:
            sidebar.caption("No limit.")

    sidebar.subheader("Policy constraints")
    sidebar.slider(
        form.widget_label("high_risk_threshold"),
        min_value=bounds.threshold_min,
        max_value=bounds.threshold_max,
        step=0.05,
        format="%.2f",
        key=form.THRESHOLD,
        on_change=form.store_widget_settings,
        help="Customers whose churn probability is above this count as high risk for the coverage policy.",
    )
    p = inputs.cohort["churn_probability"].to_numpy(dtype=float)
    high_risk = int((p > settings.high_risk_threshold).sum())
    rounding = settings.coverage_rounding
    segments = ", ".join(
        f"{esc(name)} {policy_count(settings.min_segment, size, rounding):,}/{size:,}"
        for name, size in bounds.segments.items()
    )
    for field, help_text, caption in (
        (
            "min_high_risk",
            "Share of high-risk customers who must receive an action (brand promise: no at-risk customer "
            "is ignored).",
            f"→ at least {policy_count(settings.min_high_risk, high_risk, rounding):,} of the {high_risk:,} "
            f"customers with churn probability above {settings.high_risk_threshold:.2f}",
        ),
        (
            "min_premium",
            "Share of Premium subscribers who must receive an action (VIP treatment).",
            f"→ at least {policy_count(settings.min_premium, bounds.premium, rounding):,} of the "
            f"{bounds.premium:,} Premium customers",
        ),
        (
            "max_saturation",
            "No single action may go to more than this share of all customers (forces a diverse mix).",
            f"→ no action for more than {saturation_count(settings.max_saturation, n):,} of {n:,} customers",
        ),
        (
            "min_segment",
            "Every subscription type must have at least this share of its customers treated (fairness).",
            f"→ at least {segments}",
        ),
    ):
        sidebar.slider(
            form.widget_label(field),
            0,
            100,
            key=form.RATE_KEYS[field],
            format="%d%%",
            on_change=form.store_widget_settings,
            help=help_text,
        )
        sidebar.caption(caption)
    with sidebar.expander("Advanced"):
        st.radio(
            form.widget_label("coverage_rounding"),
            list(form.ROUNDING_LABELS),
            format_func=form.ROUNDING_LABELS.get,
            key=form.ROUNDING,
            on_change=form.store_widget_settings,
            help="How a coverage share becomes a number of customers: 60% of 98 is 58.8, so at least 59 "
            "(round up) or 58 (round down, the report's convention).",
        )

    contact_form.render()

    _preflight(controller.preflight(inputs, settings), settings, bounds)
    clicked = sidebar.button(
        "Run optimization", icon=":material/rocket_launch:", type="primary", key=RUN, width="stretch"
    )
    if controller.take_run_request() or clicked:
        _run(page)
    latest_run_summary(page)
    return ss[session.SETTINGS]


def _preflight(check: controller.Preflight, settings: PlanSettings, bounds: Bounds) -> None:
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
            key=RAISE_BUDGET,
            on_click=controller.raise_budget,
            args=(target,),
        )


def _run(page: str) -> None:
    """Run in place: the page drawn after the sidebar shows the new plan (no page switch, which would make
    the browser rebuild the whole page and double the time to results)."""
    bar = st.sidebar.progress(0.0, text="Starting…")
    record = controller.run_current(progress=lambda fraction, text: bar.progress(fraction, text=text))
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
    record = st.session_state.get(session.LAST_RUN)
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
    if not session.run_is_current(record):
        text += " :orange[Settings changed since: run again.]"
    st.sidebar.caption(text)
    if page != "results":
        st.sidebar.page_link(RESULTS_PAGE, label="Open the results", icon=":material/insights:")
