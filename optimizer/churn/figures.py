"""Figures for the churn model page: pure functions from saved artefacts to `plotly.graph_objects.Figure`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from optimizer.churn.report import ModelReport

BRAND_GREEN = "#1DB954"
MODEL_COLORS = {"xgboost": BRAND_GREEN, "logistic_regression": "#535353", "random_forest": "#B3B3B3"}
MODEL_LABELS = {
    "xgboost": "XGBoost",
    "logistic_regression": "Logistic regression (baseline)",
    "random_forest": "Random forest",
    "xgboost_uncalibrated": "XGBoost before calibration",
}
_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def _label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


def roc_figure(report: ModelReport) -> go.Figure:
    """ROC curves of every compared model on the test set, best first, with the chance diagonal."""
    figure = go.Figure()
    for row in report.comparison.itertuples():
        points = report.roc[report.roc["model"] == row.model]
        figure.add_trace(
            go.Scatter(
                x=points["fpr"],
                y=points["tpr"],
                mode="lines",
                name=f"{_label(row.model)}: AUC {row.auc:.3f}",
                line={
                    "color": MODEL_COLORS.get(row.model, "#191414"),
                    "width": 3 if row.model == report.model else 2,
                },
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="Chance: AUC 0.5", line={"color": "#B3B3B3", "dash": "dot"}
        )
    )
    figure.update_layout(
        title=f"ROC curve on the held-out test set ({report.n_test:,} customers)",
        xaxis={"title": "False positive rate", "range": [0, 1], "constrain": "domain"},
        yaxis={"title": "True positive rate", "range": [0, 1], "scaleanchor": "x"},
        legend={"x": 0.98, "y": 0.02, "xanchor": "right", "yanchor": "bottom"},
        **_LAYOUT,
    )
    return figure


def calibration_figure(report: ModelReport, models: Sequence[str] | None = None) -> go.Figure:
    """Reliability curve: mean predicted probability vs observed churn rate per probability bin."""
    table = report.reliability.dropna(subset=["mean_predicted"])
    models = list(models) if models is not None else list(dict.fromkeys(table["model"]))
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="Perfectly calibrated",
            line={"color": "#B3B3B3", "dash": "dot"},
        )
    )
    for model in models:
        rows = table[table["model"] == model]
        figure.add_trace(
            go.Scatter(
                x=rows["mean_predicted"],
                y=rows["observed_rate"],
                mode="lines+markers",
                name=_label(model),
                customdata=rows["n"],
                hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>"
                "%{customdata} customers<extra></extra>",
                line={
                    "color": MODEL_COLORS.get(model, "#191414"),
                    "width": 3 if model == report.model else 2,
                },
            )
        )
    figure.update_layout(
        title=f"Calibration on the test set (calibration applied: {report.calibration})",
        xaxis={"title": "Mean predicted churn probability", "range": [0, 1], "constrain": "domain"},
        yaxis={"title": "Observed churn rate", "range": [0, 1], "scaleanchor": "x"},
        legend={"x": 0.02, "y": 0.98, "xanchor": "left", "yanchor": "top"},
        **_LAYOUT,
    )
    return figure


def importance_figure(report: ModelReport, top: int = 10, by_column: bool = True) -> go.Figure:
    """Horizontal bars of the top XGBoost features by share of total gain.

    `by_column=True` sums one-hot levels into their customer-file column (e.g. `subscription_type`).
    """
    table = report.importance_by_column() if by_column else report.importances
    name = "column" if by_column else "feature"
    table = table.head(top).iloc[::-1]
    figure = go.Figure(
        go.Bar(
            x=table["gain_share"] * 100,
            y=table[name],
            orientation="h",
            marker_color=BRAND_GREEN,
            text=[f"{v:.1f}%" for v in table["gain_share"] * 100],
            textposition="outside",
            hovertemplate="%{y}: %{x:.1f}% of total gain<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Top {len(table)} churn drivers (share of XGBoost total gain)",
        xaxis={
            "title": "Share of total gain (%)",
            "range": [0, float(table["gain_share"].max() * 100 * 1.2)],
        },
        yaxis={"title": None},
        **_LAYOUT,
    )
    return figure


def probability_bins(probabilities, bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Customers per churn-probability bin [k/bins, (k+1)/bins) (the last includes 1): the bin edges and the
    counts. Histograms draw these counts as bars, never one value per customer, so a chart of a
    75,000-customer cohort holds `bins` numbers. Bins are found on p * bins rounded to 9 decimals, so 0.95
    is counted in [0.95, 1] whatever its float error."""
    values = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    values = values[np.isfinite(values)]
    index = np.minimum(np.floor(np.round(values * bins, 9)).astype(int), bins - 1)
    return np.arange(bins + 1) / bins, np.bincount(index, minlength=bins)


def probability_histogram(
    probabilities: pd.DataFrame | pd.Series | np.ndarray | Sequence[float], bins: int = 20
) -> go.Figure:
    """Histogram of churn probabilities (a frame with `churn_probability`, or the values themselves)."""
    if isinstance(probabilities, pd.DataFrame):
        probabilities = probabilities["churn_probability"]
    values = np.asarray(probabilities, dtype=float)
    edges, counts = probability_bins(values, bins)
    figure = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=1.0 / bins,
            customdata=[f"{low:.2f}–{high:.2f}" for low, high in zip(edges[:-1], edges[1:], strict=True)],
            marker={"color": BRAND_GREEN, "line": {"color": "white", "width": 1}},
            hovertemplate="%{customdata}: %{y:,} customers<extra></extra>",
            name="customers",
        )
    )
    mean = float(values.mean()) if len(values) else float("nan")
    if len(values):
        figure.add_vline(
            x=mean, line={"color": "#191414", "dash": "dash"}, annotation_text=f"mean {mean:.2f}"
        )
    figure.update_layout(
        title=f"Churn probability of the cohort ({len(values):,} customers)",
        xaxis={"title": "Churn probability", "range": [0, 1]},
        yaxis={"title": "Customers", "tickformat": ","},
        bargap=0.02,
        showlegend=False,
        **_LAYOUT,
    )
    return figure
