"""Pure tables and figures for the History page: saved plans, comparison, measured uplift, recalibration.

No Streamlit here: frames and `go.Figure`s in and out, so everything the page shows is unit-tested.
Tables keep numbers numeric (rates as fractions, money in dollars); the page formats them with column config.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app_lib.figures import DARK_GREEN, GREEN, GREY, HEIGHT, RED, _layout
from app_lib.formatting import esc, money, percent, signed_money
from optimizer.loop.comparison import SETTING_LABELS, PlanComparison
from optimizer.loop.history import SavedPlan
from optimizer.loop.outcomes import Measurement, SufficiencyRule
from optimizer.loop.recalibrate import Recalibration, Reoptimization
from optimizer.model import PlanSettings

FILE_LABELS = {
    "treatment_plan": "Treatment plan",
    "email_list": "Email list",
    "push_list": "Push/in-app list",
    "call_queue": "Call queue",
}
PROBLEMS_LISTED = 20  # problems of an upload listed in its message (all of them in a table below it)

# --- saved plans ---------------------------------------------------------------------------------------


def plan_choice_label(row) -> str:
    """'#3 · 2025-11-05 · week 45 · $400 · net $8,184.03' for a row of `PlanHistory.list_plans()`."""
    parts = [f"#{row['id']}", str(row["plan_date"])]
    if row["label"]:
        parts.append(str(row["label"]))
    parts.append(f"budget ${row['budget']:,.0f}")
    parts.append(f"net ${row['net_value']:,.2f}")
    return " · ".join(parts)


def file_label(name: str) -> str:
    """'Call queue' for 'call_queue_2025-11-05.csv': a saved file's button label (its name if unknown)."""
    return FILE_LABELS.get(name.rsplit("_", 1)[0], name)


def plan_caption(plan: SavedPlan) -> str:
    """The line under a saved plan's KPIs (Markdown, escaped): when and by whom it was saved, the solver,
    the holdout and the input fingerprint."""
    by = f" by {esc(plan.created_by)}" if plan.created_by else ""
    return (
        f"Plan date {plan.plan_date.isoformat()}, saved {esc(plan.created_at.replace('T', ' ')[:16])} UTC"
        f"{by}. Solved by {esc(plan.solver_report.solver.capitalize())} ({plan.status}). "
        f"{int(plan.holdout.sum()):,} customers held out ({percent(100 * plan.holdout_rate, 0)} per "
        f"action, seed {plan.holdout_seed}). Input fingerprint {plan.input_fingerprint[:16]}."
    )


def plans_table(plans: pd.DataFrame) -> pd.DataFrame:
    """The saved plans as the page lists them (newest first): date, settings, KPIs, outcome files."""

    def capacity(value) -> str:
        return (
            "none" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.0f}"
        )

    return pd.DataFrame(
        {
            "Plan": plans["id"].to_numpy(),
            "Plan date": plans["plan_date"].to_numpy(),
            "Label": plans["label"].to_numpy(),
            "Budget": plans["budget"].to_numpy(dtype=float),
            "Treated": plans["customers_treated"].to_numpy(dtype=int),
            "Holdout": plans["holdout_count"].to_numpy(dtype=int),
            "Spend": plans["total_spend"].to_numpy(dtype=float),
            "Net value": plans["net_value"].to_numpy(dtype=float),
            "ROI %": plans["roi_pct"].astype(float).to_numpy(),
            "Outcome files": plans["outcome_files"].to_numpy(dtype=int),
            "Capacities (email/push/call)": [
                "/".join(capacity(v) for v in values)
                for values in plans[["email_capacity", "push_capacity", "call_capacity"]].itertuples(
                    index=False
                )
            ],
            "Policies (high-risk/Premium/saturation/segment)": [
                "/".join(f"{v:.0%}" for v in values)
                for values in plans[
                    ["min_high_risk", "min_premium", "max_saturation", "min_segment"]
                ].itertuples(index=False)
            ],
            "Saved (UTC)": plans["created_at"].str.replace("T", " ").str.slice(0, 16).to_numpy(),
        }
    )


def plan_action_mix(plan_rows: pd.DataFrame) -> pd.DataFrame:
    """Per action of a saved plan: customers, of whom held out, spend, expected retained CLV."""
    grouped = plan_rows.groupby(["action_id", "action_name", "channel"], sort=True).agg(
        customers=("customer_id", "size"),
        holdout=("holdout", "sum"),
        spend=("cost", "sum"),
        retained=("expected_retained_clv", "sum"),
    )
    grouped = grouped.reset_index()
    return pd.DataFrame(
        {
            "Action": grouped["action_name"].to_numpy(),
            "Channel": grouped["channel"].to_numpy(),
            "Customers": grouped["customers"].to_numpy(dtype=int),
            "Held out": grouped["holdout"].to_numpy(dtype=int),
            "Spend": grouped["spend"].to_numpy(dtype=float),
            "Expected retained CLV": grouped["retained"].to_numpy(dtype=float),
        }
    )


def setting_text(setting: str, value) -> str:
    """A setting as the sidebar shows it: $400.00, 120, p > 0.70, 60%, no limit."""
    if value is None:
        return "no limit"
    if setting == "budget":
        return f"${value:,.2f}"
    if setting.endswith("_capacity"):
        return f"{value:,.0f}"
    if setting == "high_risk_threshold":
        return f"p > {value:.2f}"
    if isinstance(value, int | float):
        return f"{value:.0%}"
    return str(value)


def settings_table(settings: PlanSettings) -> pd.DataFrame:
    """One saved plan's settings: Setting, Value (as text)."""
    values = settings.to_dict()
    return pd.DataFrame(
        {
            "Setting": list(SETTING_LABELS.values()),
            "Value": [setting_text(name, values[name]) for name in SETTING_LABELS],
        }
    )


def assignments_table(plan_rows: pd.DataFrame) -> pd.DataFrame:
    """A saved plan's customers: action, cost, churn risk (in percent), CLV, value, and the holdout flag."""
    return pd.DataFrame(
        {
            "Customer": plan_rows["customer_id"].astype(str).to_numpy(),
            "Subscription": plan_rows["subscription_type"].astype(str).to_numpy(),
            "Action": plan_rows["action_name"].astype(str).to_numpy(),
            "Channel": plan_rows["channel"].astype(str).to_numpy(),
            "Cost": plan_rows["cost"].to_numpy(dtype=float),
            "Churn risk": 100.0 * plan_rows["churn_probability"].to_numpy(dtype=float),
            "CLV": plan_rows["clv"].to_numpy(dtype=float),
            "Expected retained CLV": plan_rows["expected_retained_clv"].to_numpy(dtype=float),
            "Net value": plan_rows["net_value"].to_numpy(dtype=float),
            "Held out": plan_rows["holdout"].to_numpy(dtype=bool),
        }
    )


def outcome_labels(files: pd.DataFrame) -> dict[int, str]:
    """Outcome files of a plan (`PlanHistory.list_outcomes`, newest first): id -> '#2 outcomes.csv
    (uploaded 2025-12-05 09:12 UTC)'."""
    return {
        int(r.id): f"#{r.id} {r.file_name} (uploaded {r.uploaded_at.replace('T', ' ')[:16]} UTC)"
        for r in files.itertuples()
    }


def problem_text(row: dict) -> str:
    """'row 3, column churned: churned must be 0 or 1 ...' for a row of `tables.problem_rows`."""
    where = [f"row {row['Row']}" if row["Row"] else "", f"column {row['Column']}" if row["Column"] else ""]
    where = ", ".join(w for w in where if w)
    return f"{where}: {row['Problem']}" if where else row["Problem"]


def problems_message(name: str, rows: list[dict], listed: int = PROBLEMS_LISTED) -> str:
    """Why an uploaded outcomes file was not used (Markdown, escaped): its first `listed` problems, and how
    many more there are."""
    lines = "\n".join(f"- {esc(problem_text(r))}" for r in rows[:listed])
    more = len(rows) - listed
    return (
        f"{esc(name)} was not used: {len(rows)} problem(s). Rows are numbered as in a spreadsheet "
        "(the header is row 1). Fix them and upload the file again.\n\n"
        + lines
        + (f"\n\n… and {more:,} more (all in the table below)." if more > 0 else "")
    )


# --- two plans side by side -----------------------------------------------------------------------------


def comparison_kpis(comparison: PlanComparison) -> pd.DataFrame:
    a, b = comparison.labels
    return pd.DataFrame(
        {
            "KPI": comparison.kpis["label"].to_numpy(),
            a: comparison.kpis["a"].astype(float).to_numpy(),
            b: comparison.kpis["b"].astype(float).to_numpy(),
            "Change": comparison.kpis["change"].astype(float).to_numpy(),
        }
    )


_KPI_UNITS = {" ($)": "money", " (%)": "percent", " (customers)": "decimal"}


def _kpi_kind(label: str) -> tuple[str, str]:
    """('Net value', 'money') for 'Net value ($)': the unit moves from the label into the values."""
    for suffix, kind in _KPI_UNITS.items():
        if label.endswith(suffix):
            return label[: -len(suffix)], kind
    return label, "count"


def kpi_text(value, kind: str, change: bool = False) -> str:
    """A KPI as people read it: $1,234.56, 1,234, 12.3, 1,234.5% (changes signed; percent changes in
    points)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    value = float(value)
    sign = "+" if change and value > 0 else ""
    if kind == "money":
        return signed_money(value) if change else money(value)
    if kind == "percent":
        return f"{sign}{value:,.1f} pts" if change else percent(value)
    if kind == "decimal":
        return f"{sign}{value:,.1f}"
    return f"{sign}{value:,.0f}"


def kpi_text_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A KPI frame (`comparison_kpis`, `reoptimization_kpis`) as text, each row in its own unit; the unit
    moves from the label into the values."""
    labels, kinds = zip(*(_kpi_kind(str(label)) for label in frame["KPI"]), strict=True)
    out = pd.DataFrame({"KPI": list(labels)})
    for column in frame.columns[1:]:
        out[column] = [
            kpi_text(value, kind, change=column == "Change")
            for value, kind in zip(frame[column], kinds, strict=True)
        ]
    return out


def comparison_settings(comparison: PlanComparison) -> pd.DataFrame:
    a, b = comparison.labels

    settings = comparison.settings
    return pd.DataFrame(
        {
            "Setting": settings["label"].to_numpy(),
            a: [setting_text(n, v) for n, v in zip(settings["setting"], settings["a"], strict=True)],
            b: [setting_text(n, v) for n, v in zip(settings["setting"], settings["b"], strict=True)],
            "Changed": np.where(settings["changed"].to_numpy(dtype=bool), "changed", ""),
        }
    )


def changed_customers_table(comparison: PlanComparison) -> pd.DataFrame:
    """The customers whose action differs between the two plans: Customer, Action in #a, Action in #b,
    Change."""
    a, b = comparison.labels
    shown = comparison.customers.rename(
        columns={
            "customer_id": "Customer",
            "action_a": f"Action in {a}",
            "action_b": f"Action in {b}",
            "change": "Change",
        }
    )
    shown["Customer"] = shown["Customer"].astype(str)
    return shown


def action_mix_figure(comparison: PlanComparison) -> go.Figure:
    """Customers per action in plan A and plan B, side by side."""
    a, b = comparison.labels
    mix = comparison.action_mix
    fig = go.Figure()
    for column, label, color in (("customers_a", a, GREY), ("customers_b", b, GREEN)):
        fig.add_trace(
            go.Bar(
                x=mix[column],
                y=mix["action_name"],
                orientation="h",
                name=label,
                marker={"color": color},
                hovertemplate="%{y}<br>%{x} customers<extra>" + label + "</extra>",
            )
        )
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.15})
    fig.update_xaxes(title="Customers")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return _layout(fig, "Action mix", height=max(HEIGHT, 60 + 40 * len(mix)))


# --- measured uplift -----------------------------------------------------------------------------------


def simulation_actions(plan: SavedPlan) -> list[tuple[int, str, float]]:
    """(action id, name, catalog uplift) of every action the plan uses, by id: the simulation form's
    inputs, each starting at the catalog's estimate."""
    used = plan.plan_rows.groupby("action_id")["action_name"].first().sort_index()
    estimates = plan.catalog.set_index("action_id")["uplift"]
    return [(int(i), str(name), float(estimates.loc[i])) for i, name in used.items()]


def evidence_rule_text(rule: SufficiencyRule) -> str:
    """'at least 30 holdout and 30 treated customers and a 95% interval at most 0.50 wide'."""
    return (
        f"at least {rule.min_holdout} holdout and {rule.min_treated} treated customers and a 95% interval "
        f"at most {rule.max_ci_width:.2f} wide"
    )


def measurement_overview(measurement: Measurement) -> str:
    """The sentence above the uplift table: rows matched, and treated vs holdout churn over all actions."""
    o = measurement.overall
    return (
        f"{measurement.outcome_rows:,} outcome rows; {measurement.matched:,} of the plan's customers "
        f"matched. All actions together: treated churn {percent(100 * o['treated_churn_rate'])} "
        f"({o['treated_churned']:,} of {o['treated_n']:,}), holdout churn "
        f"{percent(100 * o['holdout_churn_rate'])} ({o['holdout_churned']:,} of {o['holdout_n']:,})."
    )


def _interval_text(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return f"{100 * low:,.1f}% to {100 * high:,.1f}%"


def uplift_table(measurement: Measurement) -> pd.DataFrame:
    """The page's uplift table, most important first: measured uplift with its 95% interval (as text) beside
    the catalog's estimate, then the sample sizes and churn rates of both groups. Rates and uplifts in
    percent, the difference in percentage points."""
    t = measurement.table
    return pd.DataFrame(
        {
            "Action": t["action_name"].to_numpy(),
            "Measured uplift": 100 * t["measured_uplift"].astype(float).to_numpy(),
            "95% CI": [
                _interval_text(low, high)
                for low, high in zip(
                    t["uplift_ci_low"].astype(float), t["uplift_ci_high"].astype(float), strict=True
                )
            ],
            "Catalog estimate": 100 * t["catalog_uplift"].astype(float).to_numpy(),
            "Enough evidence": np.where(t["sufficient"].to_numpy(dtype=bool), "yes", "no"),
            "Treated": t["treated_n"].to_numpy(dtype=int),
            "Treated churn": 100 * t["treated_churn_rate"].astype(float).to_numpy(),
            "Holdout": t["holdout_n"].to_numpy(dtype=int),
            "Holdout churn": 100 * t["holdout_churn_rate"].astype(float).to_numpy(),
            "Churn prevented": 100 * t["churn_rate_difference"].astype(float).to_numpy(),
        }
    )


def measurement_warnings(measurement: Measurement) -> list[str]:
    """Plain sentences for the page: one per action with a warning, then the general notes."""
    out = [f"{r.action_name}: {r.warning}" for r in measurement.table.itertuples() if r.warning]
    return out + list(measurement.notes)


def uplift_figure(measurement: Measurement) -> go.Figure:
    """Measured relative uplift with its 95% interval per action, beside the catalog's estimate."""
    t = measurement.table
    names = t["action_name"].astype(str).tolist()
    measured = t["measured_uplift"].astype(float).to_numpy()
    low = t["uplift_ci_low"].astype(float).to_numpy()
    high = t["uplift_ci_high"].astype(float).to_numpy()
    # Intervals are drawn within [-1, 1]: a tiny holdout can give a lower bound far below -1.
    shown_low = np.maximum(low, -1.0)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=measured,
            y=names,
            mode="markers",
            name="Measured (95% CI)",
            marker={"color": [DARK_GREEN if s else GREY for s in t["sufficient"]], "size": 11},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": np.nan_to_num(high - measured),
                "arrayminus": np.nan_to_num(measured - shown_low),
                "color": GREY,
                "thickness": 2,
            },
            customdata=np.column_stack([low, high, t["holdout_n"], t["treated_n"]]),
            hovertemplate=(
                "%{y}<br>measured %{x:.3f}<br>95% CI %{customdata[0]:.3f} to %{customdata[1]:.3f}"
                "<br>%{customdata[2]} holdout, %{customdata[3]} treated<extra></extra>"
            ),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=t["catalog_uplift"].astype(float),
            y=names,
            mode="markers",
            name="Catalog estimate",
            marker={"color": RED, "symbol": "diamond", "size": 11},
            hovertemplate="%{y}<br>catalog estimate %{x:.3f}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_dash="dash", line_color="#555", opacity=0.6)
    fig.update_xaxes(title="Uplift (relative reduction of churn)", range=[-1.05, 1.05], tickformat=".0%")
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return _layout(fig, "Measured vs estimated uplift", height=max(HEIGHT, 80 + 50 * len(t)))


# --- recalibration ---------------------------------------------------------------------------------


def recalibration_table(recalibration: Recalibration) -> pd.DataFrame:
    c = recalibration.changes
    return pd.DataFrame(
        {
            "Action": c["action_name"].to_numpy(),
            "Estimate": c["estimate"].astype(float).to_numpy(),
            "Measured": c["measured"].astype(float).to_numpy(),
            "New uplift": c["new_uplift"].astype(float).to_numpy(),
            "Source": c["source"].to_numpy(),
            "Why": c["reason"].to_numpy(),
        }
    )


def reoptimization_kpis(change: Reoptimization) -> pd.DataFrame:
    kpis = change.kpis
    columns = [c for c in kpis.columns if c not in ("metric", "label")]
    out = pd.DataFrame({"KPI": kpis["label"].to_numpy()})
    for column in columns:
        out[column[0].upper() + column[1:]] = kpis[column].astype(float).to_numpy()
    return out


def reoptimization_summary(change: Reoptimization) -> str:
    c = change.comparison
    gain = change.net_value_gain
    text = (
        f"Re-optimized with the new catalog: {c.same:,} customers keep their action, {c.switched:,} switch, "
        f"{c.only_a:,} are no longer treated and {c.only_b:,} are newly treated."
    )
    if gain is not None:
        text += f" At the new uplifts this is worth ${gain:,.2f} more net value than the saved plan."
    return text
