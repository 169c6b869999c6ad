"""Session state: the shared keys, their defaults (set once per session, from every entry page) and the
setters that keep related keys together (a cohort with its label and token, the settings with the preset).

Page-local keys carry their page's prefix (sens_, cat_, data_, hist_, res_); the sidebar's widgets sb_.
Every setter takes the session state as `ss` (default `st.session_state`), so logic built on them can be
tested with a plain dict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping

import pandas as pd
import streamlit as st

from app_lib import loaders
from app_lib.presets import CUSTOM_PRESET, DEFAULT_PRESET, PRESETS
from optimizer import PlanSettings
from optimizer.loop.policies import ContactPolicy

SETTINGS = "settings"
COHORT = "cohort"
COHORT_LABEL = "cohort_label"
COHORT_KIND = "cohort_kind"  # "bundled" | "uploaded" | "injected"
COHORT_TOKEN = "cohort_token"
COHORT_ERROR = "cohort_error"
CATALOG = "catalog"
CATALOG_LABEL = "catalog_label"
CATALOG_TOKEN = "catalog_token"
CATALOG_VERSION = "catalog_version"  # bumped when the catalog is replaced, so the editor restarts
LAST_RUN = "last_run"
PREVIOUS_RUN = "previous_run"
RUN_REQUESTED = "run_requested"
PRESET = "preset"  # the preset name shown in the sidebar's selector (widget key "sb_preset")
SETTINGS_NOTE = "settings_note"  # (settings, text): how the settings were fitted to the cohort
CONTACT_POLICY = "contact_policy"  # the week's ContactPolicy (the sidebar's "Contact policy" section)
PLAN_DATE = "plan_date"  # the date of the week being planned (default today)


def get_state(ss: MutableMapping | None = None) -> MutableMapping:
    """`ss`, or the session state of the running script when None."""
    return st.session_state if ss is None else ss


def init_state(ss: MutableMapping | None = None) -> None:
    """Initialize the shared session state once; values already present (e.g. injected by tests) are kept."""
    ss = get_state(ss)
    ss.setdefault(SETTINGS, PlanSettings())
    ss.setdefault(PRESET, DEFAULT_PRESET)
    ss.setdefault(CONTACT_POLICY, ContactPolicy())
    ss.setdefault(PLAN_DATE, dt.date.today())
    ss.setdefault(LAST_RUN, None)
    ss.setdefault(PREVIOUS_RUN, None)
    ss.setdefault(CATALOG_VERSION, 0)
    if ss.get(CATALOG) is None:
        preset = PRESETS[DEFAULT_PRESET]
        ss[CATALOG] = loaders.catalog_file(preset.catalog_file)
        ss[CATALOG_LABEL] = preset.catalog_label
    ss.setdefault(CATALOG_LABEL, "catalog")
    if CATALOG_TOKEN not in ss:
        ss[CATALOG_TOKEN] = loaders.frame_token(ss[CATALOG])
    if ss.get(COHORT) is None and ss.get(COHORT_KIND, "bundled") == "bundled":
        cohort, problems = loaders.load_bundled()
        ss[COHORT_ERROR] = problems
        if cohort is not None:
            set_cohort(cohort, loaders.BUNDLED_LABEL, "bundled", ss=ss)
        else:
            ss[COHORT] = None
            ss[COHORT_KIND] = "bundled"
    if ss.get(COHORT) is not None and COHORT_TOKEN not in ss:
        ss[COHORT_TOKEN] = loaders.frame_token(ss[COHORT])
    ss.setdefault(COHORT_LABEL, "uploaded data")
    ss.setdefault(COHORT_KIND, "injected")


def set_cohort(cohort: pd.DataFrame, label: str, kind: str, *, ss: MutableMapping | None = None) -> None:
    ss = get_state(ss)
    ss[COHORT] = cohort
    ss[COHORT_LABEL] = label
    ss[COHORT_KIND] = kind
    ss[COHORT_TOKEN] = loaders.frame_token(cohort)
    ss[COHORT_ERROR] = []


def set_catalog(
    catalog: pd.DataFrame, label: str, *, restart_editor: bool = True, ss: MutableMapping | None = None
) -> None:
    """Put a catalog in use. The preset selector shows Custom (`controller.apply_preset` names its preset
    after loading the preset's catalog); `restart_editor`: the catalog page's editor starts afresh."""
    ss = get_state(ss)
    ss[CATALOG] = catalog
    ss[CATALOG_LABEL] = label
    ss[CATALOG_TOKEN] = loaders.frame_token(catalog)
    ss[PRESET] = CUSTOM_PRESET
    if restart_editor:
        ss[CATALOG_VERSION] = ss.get(CATALOG_VERSION, 0) + 1


def set_settings(settings: PlanSettings, *, ss: MutableMapping | None = None) -> None:
    """Store settings the user chose (not a preset's): the preset selector shows Custom."""
    ss = get_state(ss)
    ss[SETTINGS] = settings
    ss[PRESET] = CUSTOM_PRESET


def apply_fitted(settings: PlanSettings, note: str | None, *, ss: MutableMapping | None = None) -> None:
    """Store fitted settings with their note (shown while the settings stay as fitted)."""
    ss = get_state(ss)
    ss[SETTINGS] = settings
    ss[SETTINGS_NOTE] = (settings, note) if note else None


def settings_note(ss: MutableMapping | None = None) -> str | None:
    """How the current settings were fitted to the cohort, while they are unchanged since."""
    ss = get_state(ss)
    stored = ss.get(SETTINGS_NOTE)
    if stored and stored[0] == ss.get(SETTINGS):
        return stored[1]
    return None


def run_is_current(record, ss: MutableMapping | None = None) -> bool:
    """Does the run match the current cohort, catalog and settings?"""
    ss = get_state(ss)
    return (
        record is not None
        and record.cohort_token == ss.get(COHORT_TOKEN)
        and record.catalog_token == ss.get(CATALOG_TOKEN)
        and record.settings == ss.get(SETTINGS)
        # a run planned against the contact history is also out of date when its policy or date changed
        and (
            getattr(record, "contact_policy", None) is None
            or (record.contact_policy, record.plan_date) == (ss.get(CONTACT_POLICY), ss.get(PLAN_DATE))
        )
    )
