"""The committed model's report and the churn page's figures (no browser needed)."""

from __future__ import annotations

import ast

import pandas as pd
import plotly.graph_objects as go
import pytest

from optimizer.churn import (
    ChurnInputError,
    calibration_figure,
    importance_figure,
    load_model_report,
    probability_histogram,
    roc_figure,
)
from optimizer.churn.figures import BRAND_GREEN
from optimizer.churn.paths import DEFAULT_DATA_DIR, REPO_ROOT


@pytest.fixture(scope="module")
def report():
    return load_model_report()  # the committed data/model/


def test_committed_model_meets_the_reports_auc_and_beats_the_baseline(report):
    assert report.model == "xgboost"
    assert report.report_auc == 0.94
    assert report.auc >= 0.94
    assert report.auc > report.baseline_auc
    assert report.brier < report.baseline_brier
    assert report.n_train + report.n_validation + report.n_test == 75_000
    assert report.comparison["model"].tolist()[0] == "xgboost"
    assert set(report.comparison["model"]) == {"xgboost", "random_forest", "logistic_regression"}


def test_the_reports_drivers_are_the_top_four_columns(report):
    top = report.importance_by_column()["column"].head(4)
    assert set(top) == {"subscription_type", "customer_service_inquiries", "weekly_hours", "song_skip_rate"}
    assert report.importance_by_column()["gain_share"].sum() == pytest.approx(1.0)


def test_missing_model_directory_is_named(tmp_path):
    with pytest.raises(ChurnInputError, match="metrics.json: model file not found"):
        load_model_report(tmp_path)


def test_roc_figure(report):
    figure = roc_figure(report)
    assert isinstance(figure, go.Figure)
    names = [trace.name for trace in figure.data]
    assert names[0] == f"XGBoost: AUC {report.auc:.3f}"
    assert any(name.startswith("Logistic regression (baseline)") for name in names)
    assert names[-1].startswith("Chance")
    assert figure.data[0].line.color == BRAND_GREEN
    figure.to_json()


def test_calibration_figure(report):
    figure = calibration_figure(report)
    assert figure.data[0].name == "Perfectly calibrated"
    xgb = next(trace for trace in figure.data if trace.name == "XGBoost")
    assert xgb.line.color == BRAND_GREEN
    assert all(0 <= x <= 1 for x in xgb.x) and all(0 <= y <= 1 for y in xgb.y)
    figure.to_json()


def test_importance_figure(report):
    figure = importance_figure(report, top=5)
    bars = figure.data[0]
    assert len(bars.y) == 5
    assert bars.marker.color == BRAND_GREEN
    assert list(bars.x) == sorted(bars.x)  # largest bar on top
    assert len(importance_figure(report, top=8, by_column=False).data[0].y) == 8


def test_probability_histogram_of_the_cohort():
    cohort = pd.read_csv(DEFAULT_DATA_DIR / "prediction_250.csv")
    for data in (cohort, cohort["churn_probability"], cohort["churn_probability"].to_numpy()):
        figure = probability_histogram(data)
        assert len(figure.data[0].x) == 20 and sum(figure.data[0].y) == 250  # counted into 20 bars
        assert figure.data[0].marker.color == BRAND_GREEN
        assert "250 customers" in figure.layout.title.text


def test_churn_package_never_imports_streamlit():
    for source in (REPO_ROOT / "optimizer" / "churn").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not any(m.split(".")[0] == "streamlit" for m in modules), source
