"""Figure builders: pure functions of frames, checked without a browser."""

from __future__ import annotations

import app_support  # noqa: F401  (puts the repository on sys.path)
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from app_lib import figures
from optimizer.data import finish_cohort


@pytest.fixture
def cohort() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": ["1", "2", "3", "4", "5", "6"],
            "churn_probability": [0.1, 0.25, 0.5, 0.65, 0.8, 0.95],
            "subscription_type": ["Free", "Free", "Premium", "Family", "Student", "Premium"],
            "payment_plan": ["Monthly", "Yearly", "Monthly", "Yearly", "Monthly", "Yearly"],
            "weekly_hours": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "num_playlists_created": [1, 2, 3, 4, 5, 6],
            "clv": [100.0, 200.0, 400.0, 120.0, 250.0, 900.0],
        }
    )
    return finish_cohort(frame)


@pytest.fixture
def assignments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "action_name": ["Email", "Email", "Call", "Push"],
            "channel": ["email", "email", "call", "push"],
            "cost": [2.0, 2.0, 35.0, 12.0],
            "net_value": [10.0, 5.0, 100.0, -3.0],
            "expected_retained_clv": [12.0, 7.0, 135.0, 9.0],
            "risk_tier": ["High", "High", "Medium", "Low"],
            "value_tier": ["High", "Low", "High", "High"],
        }
    )


def test_churn_histogram_counts_every_customer_on_a_percent_axis(cohort):
    fig = figures.churn_histogram(cohort)
    assert isinstance(fig, go.Figure)
    (trace,) = fig.data
    # 20 bars of width 0.05, counted here: 0.1, 0.25, 0.5, 0.65, 0.8, 0.95 each open their own bin
    assert len(trace.x) == 20 and trace.width == 0.05
    counts = dict(zip(np.round(trace.x, 3), trace.y, strict=True))
    assert {x: y for x, y in counts.items() if y} == {
        0.125: 1,
        0.275: 1,
        0.525: 1,
        0.675: 1,
        0.825: 1,
        0.975: 1,
    }
    assert trace.customdata[19] == "95%–100%"
    assert trace.marker.color == figures.GREEN
    assert fig.layout.xaxis.tickformat == ".0%"
    assert [shape.x0 for shape in fig.layout.shapes] == [0.3, 0.7]


def test_heatmap_counts_by_risk_and_value_with_text(cohort):
    fig = figures.risk_value_heatmap(cohort)
    (trace,) = fig.data
    z = np.asarray(trace.z)
    assert z.sum() == len(cohort)
    assert list(trace.y) == ["High risk", "Medium risk", "Low risk"]
    assert list(trace.x) == ["Low value", "Medium value", "High value"]
    # customer 6: p 0.95 (High), clv 900 (High)
    assert z[0, 2] == 1
    assert trace.texttemplate == "%{text}"


def test_tier_counts_fills_missing_tiers_with_zero():
    frame = pd.DataFrame({"risk_tier": ["High"], "value_tier": ["Low"]})
    table = figures.tier_counts(frame)
    assert table.shape == (3, 3)
    assert table.loc["High", "Low"] == 1
    assert table.to_numpy().sum() == 1
    assert figures.tier_counts(frame.iloc[:0]).to_numpy().sum() == 0


def test_subscription_pie_and_churn_by_type(cohort):
    pie = figures.subscription_pie(cohort)
    assert dict(zip(pie.data[0].labels, pie.data[0].values, strict=True)) == {
        "Family": 1,
        "Free": 2,
        "Premium": 2,
        "Student": 1,
    }
    bars = figures.churn_by_subscription(cohort)
    assert list(bars.data[0].x)[0] == "Student"  # highest average churn first (0.8)
    assert bars.data[0].text[0] == "80.0%"
    assert bars.layout.yaxis.tickformat == ".0%"


def test_action_charts(assignments):
    pie = figures.action_mix_pie(assignments)
    assert dict(zip(pie.data[0].labels, pie.data[0].values, strict=True)) == {
        "Email": 2,
        "Call": 1,
        "Push": 1,
    }
    bars = figures.net_value_by_action(assignments)
    assert list(bars.data[0].y) == ["Push", "Email", "Call"]  # ascending: the largest is drawn at the top
    assert list(bars.data[0].x) == [-3.0, 15.0, 100.0]
    assert bars.data[0].text[-1] == "$100"
    assert bars.layout.xaxis.tickprefix == "$"


def test_channel_bars_two_panels(assignments):
    fig = figures.channel_bars(assignments)
    customers, spend = fig.data
    assert list(customers.x) == ["Email", "Call", "Push"]
    assert list(customers.y) == [2, 1, 1]
    assert list(spend.y) == [4.0, 35.0, 12.0]
    assert spend.text[1] == "$35"


@pytest.mark.parametrize(
    ("pct", "color"),
    [(0, "green"), (89.9, "green"), (90, "yellow"), (95, "yellow"), (95.1, "red"), (None, "green")],
)
def test_utilization_traffic_light(pct, color):
    assert figures.utilization_color(pct) == color


def test_capacity_utilization_bars_colored_and_labelled():
    constraints = pd.DataFrame(
        {
            "family": ["budget", "channel_capacity", "channel_capacity", "channel_capacity", "fairness"],
            "constraint": [
                "Budget",
                "Email capacity",
                "Push/in-app capacity",
                "Call capacity",
                "Fairness: Free",
            ],
            "unit": ["$", "customers", "customers", "customers", "customers"],
            "limit": [150.0, 120.0, 100.0, None, 10.0],
            "used": [150.0, 111.0, 1.0, 3.0, 12.0],
            "utilization_pct": [100.0, 92.5, 1.0, np.nan, 120.0],
        }
    )
    fig = figures.capacity_utilization(constraints)
    (trace,) = fig.data
    assert list(trace.y) == ["Budget", "Email capacity", "Push/in-app capacity"]  # no limit, no bar
    assert list(trace.marker.color) == ["#E5484D", "#F2C94C", "#1DB954"]
    assert trace.text[0] == "$150.00 / $150.00 (100%)"
    assert trace.text[1] == "111 / 120 (92%)"


def test_sensitivity_grid_four_panels_skip_infeasible_and_mark_knee():
    sweep = pd.DataFrame(
        {
            "budget": [50.0, 100.0, 150.0, 200.0],
            "status": ["infeasible", "optimal", "optimal", "optimal"],
            "customers_treated": [np.nan, 40, 60, 70],
            "total_spend": [np.nan, 100.0, 150.0, 190.0],
            "expected_churn_reduction": [np.nan, 2.0, 3.0, 3.5],
            "expected_retained_clv": [np.nan, 1100.0, 1500.0, 1700.0],
            "net_value": [np.nan, 1000.0, 1350.0, 1510.0],
            "roi_pct": [np.nan, 1000.0, 900.0, 794.7],
        }
    )
    fig = figures.sensitivity_grid(sweep, knee_budget=150.0, current_budget=100.0)
    assert len(fig.data) == 4
    assert [list(trace.x) for trace in fig.data] == [[100.0, 150.0, 200.0]] * 4
    assert list(fig.data[0].y) == [1000.0, 1350.0, 1510.0]
    assert "Net value $%{y:,.2f}" in fig.data[0].hovertemplate
    assert fig.layout.yaxis.tickprefix == "$"
    assert fig.layout.yaxis2.ticksuffix == "%"
    knee_lines = [shape for shape in fig.layout.shapes if shape.x0 == 150.0]
    assert knee_lines, "the knee is marked"
    labels = [a.text for a in fig.layout.annotations]
    assert "knee $150" in labels and "current budget $100" in labels


def test_user_text_is_never_markup_in_charts():
    hostile = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "action_name": ['<a href="http://x">Win</a>', "<b>Bold</b> & co"],
            "channel": ["email", "email"],
            "cost": [1.0, 2.0],
            "net_value": [3.0, 4.0],
        }
    )
    for fig in (figures.action_mix_pie(hostile), figures.net_value_by_action(hostile)):
        labels = list(fig.data[0].labels if fig.data[0].type == "pie" else fig.data[0].y)
        assert all("<" not in label and ">" not in label for label in labels)
        assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in labels


def _plotted_values(fig: go.Figure) -> int:
    """Data values a figure sends to the browser: x/y/values/z entries summed over traces."""
    total = 0
    for trace in fig.data:
        for name in ("x", "y", "values", "z"):
            values = getattr(trace, name, None)
            if values is not None:
                total += int(np.asarray(values, dtype=object).size)
    return total


@pytest.fixture(scope="module")
def large() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A 75,000-customer cohort and a 30,000-customer plan (random but fixed)."""
    rng = np.random.default_rng(7)
    n = 75_000
    cohort = finish_cohort(
        pd.DataFrame(
            {
                "customer_id": np.arange(n).astype(str),
                "churn_probability": rng.random(n),
                "subscription_type": rng.choice(["Free", "Student", "Premium", "Family"], n),
                "payment_plan": rng.choice(["Monthly", "Yearly"], n),
                "weekly_hours": rng.random(n) * 40,
                "num_playlists_created": rng.integers(0, 50, n),
                "clv": rng.random(n) * 1200,
            }
        )
    )
    treated = cohort.sample(30_000, random_state=1)
    actions = rng.choice(["Email", "Discount", "Push", "Call"], len(treated))
    channel = {"Email": "email", "Discount": "email", "Push": "push", "Call": "call"}
    assignments = treated.assign(
        action_name=actions,
        channel=[channel[a] for a in actions],
        cost=rng.random(len(treated)) * 20,
        net_value=rng.random(len(treated)) * 100,
        expected_retained_clv=rng.random(len(treated)) * 120,
    )
    return cohort, assignments


def test_every_chart_of_a_75000_customer_cohort_aggregates(large):
    """No chart sends one marker per customer: with 75,000 customers (30,000 treated) every figure holds a
    few dozen values and its JSON stays small (one value per customer would be over 1 MB)."""
    from optimizer.churn.figures import probability_histogram

    cohort, assignments = large
    constraints = pd.DataFrame(
        {
            "family": ["budget", "channel_capacity", "channel_capacity"],
            "constraint": ["Budget", "Email capacity", "Call capacity"],
            "limit": [45_000.0, 36_000.0, 6_000.0],
            "used": [44_990.0, 20_000.0, 6_000.0],
            "utilization_pct": [99.98, 55.6, 100.0],
            "unit": ["$", "customers", "customers"],
        }
    )
    sweep = pd.DataFrame(
        {
            "budget": [40_000.0, 45_000.0, 60_000.0],
            "net_value": [1.0e6, 1.1e6, 1.4e6],
            "roi_pct": [2500.0, 2450.0, 2390.0],
            "customers_treated": [20_000, 22_000, 26_000],
            "expected_churn_reduction": [3000.0, 3300.0, 3900.0],
        }
    )
    built = {
        "churn_histogram": figures.churn_histogram(cohort),
        "risk_value_heatmap": figures.risk_value_heatmap(cohort),
        "treated_heatmap": figures.risk_value_heatmap(assignments),
        "subscription_pie": figures.subscription_pie(cohort),
        "churn_by_subscription": figures.churn_by_subscription(cohort),
        "action_mix_pie": figures.action_mix_pie(assignments),
        "net_value_by_action": figures.net_value_by_action(assignments),
        "channel_bars": figures.channel_bars(assignments),
        "capacity_utilization": figures.capacity_utilization(constraints),
        "sensitivity_grid": figures.sensitivity_grid(sweep, knee_budget=45_000.0),
        "probability_histogram": probability_histogram(cohort),
    }
    for name, fig in built.items():
        assert _plotted_values(fig) <= 60, name
        assert len(fig.to_json()) < 30_000, name
    # and the counts are still every customer's
    assert sum(built["churn_histogram"].data[0].y) == 75_000
    assert np.asarray(built["risk_value_heatmap"].data[0].z).sum() == 75_000
    assert sum(built["action_mix_pie"].data[0].values) == 30_000
    assert sum(built["probability_histogram"].data[0].y) == 75_000
    # counts in the thousands are written with separators
    customers = built["channel_bars"].data[0]
    assert [f"{v:,}" for v in customers.y] == list(customers.text) and "," in customers.text[0]
    heatmap = built["risk_value_heatmap"].data[0]
    assert heatmap.text[0][0] == f"{np.asarray(heatmap.z)[0][0]:,}" and "," in heatmap.text[0][0]


def test_probability_bins_put_edge_values_in_the_upper_bin():
    edges, counts = figures.probability_bins([0.0, 0.05, 0.3, 0.95, 1.0], bins=20)
    assert edges[0] == 0.0 and edges[-1] == 1.0 and len(edges) == 21
    assert counts[0] == 1 and counts[1] == 1 and counts[6] == 1 and counts[19] == 2 and counts.sum() == 5
