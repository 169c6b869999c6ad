"""The sidebar's "Contact policy" section: widgets <-> the week's `ContactPolicy` and plan date.

As with `settings_form`, the canonical values live in session state (`session.CONTACT_POLICY`,
`session.PLAN_DATE`): each page draw writes them into the widget keys before the widgets are drawn, and every
widget's callback writes the widgets back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping

import streamlit as st

from app_lib import session
from optimizer.loop.policies import MAX_GLOBAL_CONTROL, ChannelCap, ContactPolicy

HOLDOUT = "sb_cp_holdout_days"
COOLDOWN = "sb_cp_cooldown_days"
EMAIL_MAX = "sb_cp_email_max"
EMAIL_DAYS = "sb_cp_email_days"
CONTROL = "sb_cp_control_pct"
PLAN_DATE = "sb_plan_date"
KEYS = (HOLDOUT, COOLDOWN, EMAIL_MAX, EMAIL_DAYS, CONTROL, PLAN_DATE)
DEFAULT_CAP_DAYS = 28


def widget_values(policy: ContactPolicy, plan_date: dt.date) -> dict:
    email = next((cap for cap in policy.channel_caps if cap.channel == "email"), None)
    return {
        HOLDOUT: int(policy.holdout_window_days),
        COOLDOWN: int(policy.cooldown_days),
        EMAIL_MAX: 0 if email is None else int(email.max_contacts),
        EMAIL_DAYS: DEFAULT_CAP_DAYS if email is None else int(email.window_days),
        CONTROL: int(round(policy.global_control * 100)),
        PLAN_DATE: plan_date,
    }


def policy_from_widgets(values: dict) -> tuple[ContactPolicy, dt.date]:
    """The policy and plan date the widgets show (an email cap of 0 contacts: no cap)."""
    email_max = int(values[EMAIL_MAX])
    caps = (ChannelCap("email", email_max, int(values[EMAIL_DAYS])),) if email_max > 0 else ()
    policy = ContactPolicy(
        holdout_window_days=int(values[HOLDOUT]),
        cooldown_days=int(values[COOLDOWN]),
        channel_caps=caps,
        global_control=int(values[CONTROL]) / 100,
    )
    return policy, values[PLAN_DATE]


def store_widget_policy(ss: MutableMapping | None = None) -> None:
    """Widget callback: the widgets' values become the week's policy and date."""
    ss = session.get_state(ss)
    policy, plan_date = policy_from_widgets({key: ss[key] for key in KEYS})
    ss[session.CONTACT_POLICY] = policy
    ss[session.PLAN_DATE] = plan_date


def render() -> None:
    """Draw the section (an expander in the sidebar)."""
    ss = st.session_state
    ss.update(widget_values(ss[session.CONTACT_POLICY], ss[session.PLAN_DATE]))
    with st.sidebar.expander("Contact policy", icon=":material/event_repeat:"):
        st.date_input(
            "Plan date",
            key=PLAN_DATE,
            on_change=store_widget_policy,
            help="The week being planned: only saved plans dated before it count for the policies below.",
        )
        days = {"min_value": 0, "max_value": 365, "step": 1, "on_change": store_widget_policy}
        st.number_input(
            "Holdout integrity window (days)",
            key=HOLDOUT,
            help="A customer held out in a saved plan dated within this many days gets no action this week "
            "(its measurement window is still open). 0 = off.",
            **days,
        )
        st.number_input(
            "Cool-down (days)",
            key=COOLDOWN,
            help="A customer treated in a saved plan dated within this many days gets no action. 0 = off.",
            **days,
        )
        left, right = st.columns(2)
        left.number_input(
            "Email cap (contacts)",
            key=EMAIL_MAX,
            min_value=0,
            max_value=52,
            step=1,
            on_change=store_widget_policy,
            help="At most this many emails per customer within the window, this week included. 0 = off.",
        )
        right.number_input(
            "in (days)",
            key=EMAIL_DAYS,
            min_value=1,
            max_value=365,
            step=1,
            on_change=store_widget_policy,
            disabled=ss[EMAIL_MAX] == 0,
        )
        st.slider(
            "Global control group (%)",
            min_value=0,
            max_value=int(MAX_GLOBAL_CONTROL * 100),
            step=1,
            format="%d%%",
            key=CONTROL,
            on_change=store_widget_policy,
            help="A fixed share of the whole customer base, the same every week, never treated: the "
            "program's lift is measured against it.",
        )
