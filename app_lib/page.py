"""What every page does first: page config, access check, session state, the shared sidebar."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app_lib import auth, session, sidebar
from app_lib.formatting import esc
from optimizer import PlanSettings


@dataclass
class PageContext:
    page: str
    cohort: pd.DataFrame | None
    catalog: pd.DataFrame
    settings: PlanSettings | None


def setup(page: str, title: str) -> PageContext:
    """Configure the page, stop unless access is granted, initialize state and draw the sidebar."""
    st.set_page_config(
        page_title=f"{title} · PlaylistPro Retention Optimizer",
        page_icon=":material/music_note:",
        layout="wide",
    )
    mode = auth.require_access()
    session.init_state()
    settings = sidebar.render(page)
    auth.render_access_note(mode)
    ss = st.session_state
    return PageContext(
        page=page, cohort=ss.get(session.COHORT), catalog=ss[session.CATALOG], settings=settings
    )


def require_cohort(context: PageContext) -> pd.DataFrame:
    """The loaded cohort, or an explanation and a way to load one (and the page stops)."""
    if context.cohort is not None:
        return context.cohort
    problems = st.session_state.get(session.COHORT_ERROR) or []
    st.error(
        "Unable to load customer data. The bundled 250-customer files (data/prediction\\_250.csv and "
        "data/test\\_250.csv) are not available" + (": " + esc("; ".join(problems)) if problems else ".")
    )
    st.page_link(
        "pages/5_Data.py",
        label="Upload predictions and features on the Data page",
        icon=":material/database:",
    )
    st.stop()
    raise AssertionError("unreachable")
