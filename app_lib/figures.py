"""Pure Plotly figure builders: frames in, `go.Figure` out. No Streamlit here, so every chart is unit-tested.

Money axes and hovers show dollars with thousands separators; rates show percentages.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optimizer.churn.figures import probability_bins
from optimizer.model import RowFamily

GREEN = "#1DB954"
DARK_GREEN = "#117A37"
LIGHT_GREEN = "#A7E9BE"
GREENS = ["#1DB954", "#117A37", "#5FD68A", "#0B4F24", "#A7E9BE", "#2E8B57", "#D3F5DF", "#14532D", "#86EFAC"]
GREEN_SCALE = [[0.0, "#F1FBF4"], [0.5, "#5FD68A"], [1.0, "#0B4F24"]]
GREY = "#8A8F98"
RED = "#E5484D"
UTILIZATION_COLORS = {"green": GREEN, "yellow": "#F2C94C", "red": RED}
TIERS = ["Low", "Medium", "High"]
RISK_BOUNDS = (0.3, 0.7)
HEIGHT = 380


def _layout(fig: go.Figure, title: str, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        template="plotly_white",
        font={"size": 13},
        hoverlabel={"font_size": 13},
    )
    return fig


def plain(labels) -> list[str]:
    """Category labels from the data (action names, subscription types) as literal text: Plotly renders a
    subset of HTML (<b>, <a href>, <br>) in labels, and user-supplied text must never become markup."""
    return [str(label).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for label in labels]


def utilization_color(pct: float | None) -> str:
    """Guide's traffic light: green below 90%, yellow 90-95%, red above 95%."""
    if pct is None or not math.isfinite(pct) or pct < 90.0:
        return "green"
    return "yellow" if pct <= 95.0 else "red"


# --- cohort overview ---------------------------------------------------------------------------


def churn_histogram(cohort: pd.DataFrame, bins: int = 20) -> go.Figure:
    """Histogram of churn probabilities (counted here, drawn as bars) with the tier boundaries marked."""
    edges, counts = probability_bins(cohort["churn_probability"], bins)
    ranges = [f"{low:.0%}–{high:.0%}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
    fig = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=1.0 / bins,
            customdata=ranges,
            marker={"color": GREEN, "line": {"color": "white", "width": 1}},
            hovertemplate="Churn probability %{customdata}<br>%{y:,} customers<extra></extra>",
            name="Customers",
        )
    )
    for bound in RISK_BOUNDS:
        fig.add_vline(x=bound, line_dash="dash", line_color="#555", opacity=0.6)
    fig.add_annotation(x=0.15, y=1.02, yref="paper", text="Low", showarrow=False)
    fig.add_annotation(x=0.5, y=1.02, yref="paper", text="Medium", showarrow=False)
    fig.add_annotation(x=0.85, y=1.02, yref="paper", text="High", showarrow=False)
    fig.update_xaxes(title="Churn probability", range=[0, 1], tickformat=".0%", dtick=0.1)
    fig.update_yaxes(title="Number of customers", tickformat=",")
    fig.update_layout(bargap=0.05, showlegend=False)
    return _layout(fig, "Churn probability distribution")


def tier_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Customers per (risk tier, value tier): rows High..Low risk (top to bottom), columns Low..High value."""
    table = pd.crosstab(frame["risk_tier"], frame["value_tier"]) if len(frame) else pd.DataFrame()
    return table.reindex(index=TIERS[::-1], columns=TIERS, fill_value=0).fillna(0).astype(int)


def risk_value_heatmap(frame: pd.DataFrame, title: str = "Customer segmentation: risk × value") -> go.Figure:
    """3x3 heatmap of customer counts by risk tier (y) and value tier (x), counts written in the cells."""
    table = tier_counts(frame)
    z = table.to_numpy()
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{t} value" for t in table.columns],
            y=[f"{t} risk" for t in table.index],
            colorscale=GREEN_SCALE,
            text=[[f"{v:,}" for v in row] for row in z],
            texttemplate="%{text}",
            textfont={"size": 16},
            hovertemplate="%{y} / %{x}<br>%{z:,} customers<extra></extra>",
            colorbar={"title": "Customers"},
            xgap=3,
            ygap=3,
        )
    )
    fig.update_xaxes(title="Value tier (CLV)", side="bottom")
    fig.update_yaxes(title="Risk tier (churn probability)")
    return _layout(fig, title)


def subscription_pie(cohort: pd.DataFrame) -> go.Figure:
    counts = cohort["subscription_type"].astype(str).value_counts().sort_index()
    fig = go.Figure(
        go.Pie(
            labels=plain(counts.index),
            values=counts.to_numpy(),
            marker={"colors": GREENS[: len(counts)], "line": {"color": "white", "width": 2}},
            textinfo="label+percent",
            hovertemplate="%{label}: %{value:,} customers (%{percent})<extra></extra>",
            hole=0.35,
            sort=False,
        )
    )
    fig.update_layout(showlegend=False)
    return _layout(fig, "Customer base by subscription type")


def churn_by_subscription(cohort: pd.DataFrame) -> go.Figure:
    """Average churn probability per subscription type, highest first."""
    means = cohort.groupby(cohort["subscription_type"].astype(str))["churn_probability"].mean()
    means = means.sort_values(ascending=False)
    fig = go.Figure(
        go.Bar(
            x=plain(means.index),
            y=means.to_numpy(),
            marker_color=GREEN,
            text=[f"{v:.1%}" for v in means],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: average churn %{y:.1%}<extra></extra>",
        )
    )
    top = float(means.max()) if len(means) else 1.0
    fig.update_yaxes(title="Average churn probability", tickformat=".0%", range=[0, min(1.0, top * 1.2)])
    fig.update_xaxes(title="Subscription type")
    return _layout(fig, "Average churn probability by subscription type")


# --- plan ----------------------------------------------------------------------------------------


def action_mix_pie(assignments: pd.DataFrame) -> go.Figure:
    counts = assignments["action_name"].astype(str).value_counts()
    fig = go.Figure(
        go.Pie(
            labels=plain(counts.index),
            values=counts.to_numpy(),
            marker={"colors": GREENS[: len(counts)], "line": {"color": "white", "width": 2}},
            textinfo="percent",
            hovertemplate="%{label}: %{value:,} customers (%{percent})<extra></extra>",
            hole=0.35,
        )
    )
    fig.update_layout(legend={"orientation": "h", "y": -0.1})
    return _layout(fig, "Customers by action")


def net_value_by_action(assignments: pd.DataFrame) -> go.Figure:
    """Horizontal bars of net value per action, largest at the top."""
    totals = assignments.groupby(assignments["action_name"].astype(str))["net_value"].sum().sort_values()
    fig = go.Figure(
        go.Bar(
            x=totals.to_numpy(),
            y=plain(totals.index),
            orientation="h",
            marker_color=GREEN,
            text=[f"${v:,.0f}" for v in totals],
            textposition="auto",
            hovertemplate="%{y}<br>Net value $%{x:,.2f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="Net value", tickprefix="$", tickformat=",.0f")
    fig.update_yaxes(automargin=True)
    return _layout(fig, "Net value by action")


def channel_bars(assignments: pd.DataFrame) -> go.Figure:
    """Two panels: customers per channel and spend per channel."""
    grouped = assignments.groupby(assignments["channel"].astype(str)).agg(
        customers=("customer_id", "size"), cost=("cost", "sum")
    )
    grouped = grouped.sort_values("customers", ascending=False)
    labels = plain(CHANNEL_LABELS.get(c, c) for c in grouped.index)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Customers by channel", "Spend by channel"))
    fig.add_trace(
        go.Bar(
            x=labels,
            y=grouped["customers"].to_numpy(),
            marker_color=GREEN,
            text=[f"{v:,}" for v in grouped["customers"]],
            textposition="auto",
            hovertemplate="%{x}: %{y:,} customers<extra></extra>",
            name="Customers",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=grouped["cost"].to_numpy(),
            marker_color=DARK_GREEN,
            text=[f"${v:,.0f}" for v in grouped["cost"]],
            textposition="auto",
            hovertemplate="%{x}: $%{y:,.2f}<extra></extra>",
            name="Spend",
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(title="Customers", row=1, col=1)
    fig.update_yaxes(title="Spend", tickprefix="$", tickformat=",.0f", row=1, col=2)
    fig.update_layout(showlegend=False)
    return _layout(fig, "")


CHANNEL_LABELS = {"email": "Email", "push": "Push", "in_app": "In-app", "call": "Call", "none": "None"}


def capacity_utilization(constraints: pd.DataFrame) -> go.Figure:
    """Horizontal utilization bars for the budget and each limited channel, coloured green/yellow/red."""
    rows = constraints[constraints["family"].isin([RowFamily.BUDGET, RowFamily.CHANNEL_CAPACITY])]
    rows = rows[rows["limit"].notna()]
    labels, values, colors, texts = [], [], [], []
    for row in rows.itertuples(index=False):
        pct = float(row.utilization_pct) if pd.notna(row.utilization_pct) else 0.0
        if not math.isfinite(pct):
            pct = 100.0
        labels.append(plain([row.constraint])[0])
        values.append(pct)
        colors.append(UTILIZATION_COLORS[utilization_color(pct)])
        if row.unit == "$":
            texts.append(f"${row.used:,.2f} / ${row.limit:,.2f} ({pct:.0f}%)")
        else:
            texts.append(f"{row.used:,.0f} / {row.limit:,.0f} ({pct:.0f}%)")
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colors,
            text=texts,
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f}% used<extra></extra>",
        )
    )
    fig.add_vline(x=90, line_dash="dot", line_color="#F2C94C")
    fig.add_vline(x=95, line_dash="dot", line_color="#E5484D")
    fig.update_xaxes(title="Utilization", range=[0, 140], ticksuffix="%", tickvals=[0, 25, 50, 75, 90, 100])
    fig.update_yaxes(autorange="reversed", automargin=True)
    return _layout(fig, "Capacity utilization", height=120 + 50 * max(len(labels), 1))


# --- sensitivity ---------------------------------------------------------------------------------

SENSITIVITY_PANELS = (
    ("net_value", "Net value", "money"),
    ("roi_pct", "ROI", "percent"),
    ("customers_treated", "Customers treated", "count"),
    ("expected_churn_reduction", "Churn prevented", "decimal"),
)


def sensitivity_grid(
    sweep: pd.DataFrame, knee_budget: float | None = None, current_budget: float | None = None
) -> go.Figure:
    """2x2 grid against the budget: net value, ROI, customers treated, churn prevented. Infeasible budgets
    (no plan) are left out of the lines.

    Built as one figure spec (axes domains, shapes and annotations as plain dicts), not with
    make_subplots/add_vline: Plotly validates every call, and this keeps the build around 20 ms.
    """
    feasible = sweep[sweep["net_value"].notna()].sort_values("budget")
    x = feasible["budget"].to_numpy(dtype=float)
    hover = {
        "money": "Budget $%{x:,.0f}<br>Net value $%{y:,.2f}<extra></extra>",
        "percent": "Budget $%{x:,.0f}<br>ROI %{y:,.1f}%<extra></extra>",
        "count": "Budget $%{x:,.0f}<br>%{y:,.0f} customers treated<extra></extra>",
        "decimal": "Budget $%{x:,.0f}<br>%{y:,.2f} customers kept<extra></extra>",
    }
    x_domains = ([0.0, 0.44], [0.56, 1.0])
    y_domains = ([0.6, 1.0], [0.0, 0.4])
    traces, layout, annotations, shapes = [], {}, [], []
    for index, (column, title, kind) in enumerate(SENSITIVITY_PANELS):
        row, col = divmod(index, 2)
        suffix = "" if index == 0 else str(index + 1)
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": feasible[column].to_numpy(dtype=float),
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                "mode": "lines+markers",
                "line": {"color": GREEN, "width": 3},
                "marker": {"size": 8, "color": GREEN},
                "name": title,
                "hovertemplate": hover[kind],
            }
        )
        y_axis = {"domain": y_domains[row], "anchor": f"x{suffix}", "title": {"text": title}}
        y_axis.update(
            {
                "money": {"tickprefix": "$", "tickformat": ",.0f"},
                "percent": {"ticksuffix": "%", "tickformat": ",.0f"},
            }.get(kind, {})
        )
        layout[f"xaxis{suffix}"] = {
            "domain": x_domains[col],
            "anchor": f"y{suffix}",
            "title": {"text": "Weekly budget"},
            "tickprefix": "$",
            "tickformat": ",.0f",
        }
        layout[f"yaxis{suffix}"] = y_axis
        annotations.append(
            {
                "text": f"{title} vs budget",
                "x": sum(x_domains[col]) / 2,
                "y": y_domains[row][1],
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 15},
            }
        )
        for budget, color in ((knee_budget, "#E5484D"), (current_budget, "#555")):
            if budget is not None and math.isfinite(budget):
                shapes.append(
                    {
                        "type": "line",
                        "x0": budget,
                        "x1": budget,
                        "y0": 0,
                        "y1": 1,
                        "xref": f"x{suffix}",
                        "yref": f"y{suffix} domain",
                        "line": {"color": color, "dash": "dash"},
                        "opacity": 0.7,
                    }
                )
    marks = ((knee_budget, "#E5484D", "knee"), (current_budget, "#555", "current budget"))
    for budget, color, text in marks:
        if budget is not None and math.isfinite(budget):
            # Labelled once, at the bottom of the first panel, clear of the panel titles.
            annotations.append(
                {
                    "x": budget,
                    "y": 0.02,
                    "xref": "x",
                    "yref": "y domain",
                    "text": f"{text} ${budget:,.0f}",
                    "showarrow": False,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "xshift": 4,
                    "font": {"color": color, "size": 12},
                    "bgcolor": "rgba(255,255,255,0.85)",
                }
            )
    layout.update(
        annotations=annotations,
        shapes=shapes,
        showlegend=False,
        height=720,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        template="plotly_white",
        font={"size": 13},
        hoverlabel={"font_size": 13},
    )
    return go.Figure({"data": traces, "layout": layout})
