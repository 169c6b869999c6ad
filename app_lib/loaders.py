"""Cached, bounded loaders: the bundled data, shipped catalogs, the churn-model report, the built model.

Caching follows the project style: `st.cache_data` with `max_entries` for data; the built model (`Problem`,
read-only once built) is shared with `st.cache_resource`, keyed by content tokens of the cohort and catalog;
no Gurobi environment is ever cached or shared (each core call opens its own).
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from optimizer import InputError, build_problem, load_bundled_cohort, load_catalog
from optimizer.data import bundled_data_dir
from optimizer.model import Problem

BUNDLED_LABEL = "bundled data (data/prediction_250.csv + data/test_250.csv)"


def frame_token(frame: pd.DataFrame) -> str:
    """A short content hash: equal frames give equal tokens (used as cache keys and staleness marks)."""
    digest = hashlib.sha1(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


@st.cache_data(max_entries=2, show_spinner=False)
def _bundled_cohort() -> pd.DataFrame:
    return load_bundled_cohort()


def load_bundled() -> tuple[pd.DataFrame | None, list[str]]:
    """The bundled cohort, or None and the problems (e.g. the files are missing)."""
    try:
        return _bundled_cohort(), []
    except InputError as error:
        return None, [str(p) for p in error.problems]


@st.cache_data(max_entries=4, show_spinner=False)
def catalog_file(name: str) -> pd.DataFrame:
    """A catalog CSV shipped in data/ (validated)."""
    return load_catalog(bundled_data_dir() / name)


@st.cache_data(max_entries=1, show_spinner=False)
def model_report():
    """The saved churn-model evaluation (data/model/; plain data). Raises InputError if it is missing."""
    from optimizer.churn import load_model_report

    return load_model_report()


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_problem(
    cohort_token: str,
    catalog_token: str,
    high_risk_threshold: float,
    _cohort: pd.DataFrame,
    _catalog: pd.DataFrame,
) -> Problem:
    """The built model for a cohort, catalog and high-risk threshold, shared by every rerun and session.

    Safe to share: a `Problem` is never written by a solve. The one write after `build_problem` is its
    sparse matrix, built on first use under its own lock (idempotent). The decomposition keeps its customer
    classes, objective arrays, multipliers and cutting planes on its sessions and on the result it returns
    (`PlanResult.warm`, passed back as `warm_start=`), never on the problem. Solver sessions and Gurobi
    environments are opened per call and never cached.
    """
    return build_problem(_cohort, _catalog, high_risk_threshold)
