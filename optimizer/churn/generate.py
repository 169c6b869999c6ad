"""Synthetic PlaylistPro customer base with a documented latent churn model.

Nothing here is real customer data. The generating process is written out in `docs/churn_model.md`;
the constants below are the single source of truth for it.

Determinism: one `numpy.random.default_rng(seed)` stream, drawn in a fixed order, and every continuous
column rounded to a fixed precision, so the same seed gives the same CSV bytes (same pinned versions).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_CUSTOMERS = 75_000
DEFAULT_SEED = 20251105  # the report's date
FIRST_CUSTOMER_ID = 200_000  # the reference cohort's ids lie in 200000-274999
SNAPSHOT_DATE = date(2025, 11, 3)  # "today" for signup dates and tenure

SUBSCRIPTION_TYPES = ("Free", "Premium", "Family", "Student")
PAYMENT_PLANS = ("Monthly", "Yearly")
PAYMENT_METHODS = ("Credit Card", "Debit Card", "PayPal", "Apple Pay")
PAYMENT_METHOD_SHARES = (0.40, 0.25, 0.25, 0.10)
INQUIRY_LEVELS = ("Low", "Medium", "High")
LOCATIONS = (
    "California",
    "Texas",
    "Florida",
    "New York",
    "Illinois",
    "Pennsylvania",
    "Ohio",
    "Georgia",
    "Washington",
    "Arizona",
)
LOCATION_SHARES = (0.18, 0.14, 0.12, 0.11, 0.09, 0.09, 0.08, 0.07, 0.06, 0.06)
YEARLY_SHARE = 0.55

# Column order of the generated file.
COLUMNS = (
    "customer_id",
    "age",
    "location",
    "subscription_type",
    "payment_plan",
    "payment_method",
    "signup_date",
    "tenure_months",
    "num_subscription_pauses",
    "customer_service_inquiries",
    "weekly_hours",
    "average_session_length",
    "song_skip_rate",
    "weekly_songs_played",
    "weekly_unique_songs",
    "num_favorite_artists",
    "num_platform_friends",
    "num_playlists_created",
    "num_shared_playlists",
    "notifications_clicked",
    "churned",
)

# --- Latent churn model: logit P(churn) = sum of the terms below (see docs/churn_model.md) ---
CHURN_INTERCEPT = 0.2
SUBSCRIPTION_EFFECT = {"Free": 2.0, "Student": 1.2, "Premium": -1.8, "Family": -3.0}
INQUIRY_EFFECT = {"Low": 0.0, "Medium": 0.8, "High": 1.8}
LIGHT_LISTENER_EFFECT = 2.0  # x sigmoid((HOURS_THRESHOLD - weekly_hours) / HOURS_SCALE)
PAID_INQUIRY_MULTIPLIER = 3.0  # paying customers react more strongly to service problems
PAID_LIGHT_LISTENER_MULTIPLIER = 3.5  # ... and to paying for music they do not listen to
HOURS_THRESHOLD = 10.0
HOURS_SCALE = 2.0
HOURS_SLOPE = -0.06  # per weekly hour
SKIP_HINGE = 0.45  # skip rates above this start to hurt ...
SKIP_SLOPE = 14.0  # ... by this much per unit of skip rate
FREE_SKIP_SLOPE = 8.0  # extra skip-rate slope for Free users (ads plus skip limits)
STUDENT_AGE_OUT = 24  # students this old are about to lose the student discount ...
STUDENT_AGE_OUT_EFFECT = 2.5  # ... which adds this much
YEARLY_EFFECT = -0.9
PAUSE_EFFECT = 0.7  # per subscription pause
TENURE_EFFECT = -0.015  # per month of tenure
SHARED_PLAYLIST_EFFECT = -0.75  # when the customer shares 3 or more playlists
NOTIFICATION_EFFECT = -0.09  # per notification clicked
UNOBSERVED_SD = 0.5  # standard deviation of the unobserved part of the logit


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _round_significant_10(x: np.ndarray) -> np.ndarray:
    """Round values in [0, 100) to 10 significant digits, the precision of the reference cohort files."""
    return np.where(x < 10.0, np.round(x, 9), np.round(x, 8))


def churn_logit(customers: pd.DataFrame) -> np.ndarray:
    """Observable part of the latent churn logit for `customers` (columns as generated)."""
    hours = customers["weekly_hours"].to_numpy(dtype=float)
    skip = customers["song_skip_rate"].to_numpy(dtype=float)
    is_free = (customers["subscription_type"] == "Free").to_numpy()
    is_student = (customers["subscription_type"] == "Student").to_numpy()
    ages_out = is_student & (customers["age"] >= STUDENT_AGE_OUT).to_numpy()
    skip_excess = np.maximum(skip - SKIP_HINGE, 0.0)
    return (
        CHURN_INTERCEPT
        + customers["subscription_type"].map(SUBSCRIPTION_EFFECT).to_numpy(dtype=float)
        + customers["customer_service_inquiries"].map(INQUIRY_EFFECT).to_numpy(dtype=float)
        * np.where(is_free, 1.0, PAID_INQUIRY_MULTIPLIER)
        + LIGHT_LISTENER_EFFECT
        * np.where(is_free, 1.0, PAID_LIGHT_LISTENER_MULTIPLIER)
        * _sigmoid((HOURS_THRESHOLD - hours) / HOURS_SCALE)
        + HOURS_SLOPE * hours
        + SKIP_SLOPE * skip_excess
        + FREE_SKIP_SLOPE * skip_excess * is_free
        + STUDENT_AGE_OUT_EFFECT * ages_out
        + YEARLY_EFFECT * (customers["payment_plan"] == "Yearly").to_numpy()
        + PAUSE_EFFECT * customers["num_subscription_pauses"].to_numpy(dtype=float)
        + TENURE_EFFECT * customers["tenure_months"].to_numpy(dtype=float)
        + SHARED_PLAYLIST_EFFECT * (customers["num_shared_playlists"] >= 3).to_numpy()
        + NOTIFICATION_EFFECT * customers["notifications_clicked"].to_numpy(dtype=float)
    )


def generate_customers(n_customers: int = DEFAULT_CUSTOMERS, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Generate a synthetic PlaylistPro customer base with a `churned` label (0/1).

    Deterministic: the same `n_customers` and `seed` give the same frame, and the same CSV bytes via
    `write_customers`. Columns and their distributions are documented in `docs/churn_model.md`.
    """
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}")
    n = int(n_customers)
    rng = np.random.default_rng(seed)

    # Two unobserved customer traits drive the correlations between the observed columns.
    engagement = rng.standard_normal(n)
    dissatisfaction = rng.standard_normal(n)

    subscription = np.asarray(SUBSCRIPTION_TYPES)[rng.integers(0, len(SUBSCRIPTION_TYPES), n)]
    is_free = subscription == "Free"
    is_student = subscription == "Student"

    adult_age = np.clip(np.round(rng.normal(36.0, 12.0, n)), 16, 75)
    student_age = 18 + np.minimum(rng.poisson(4.0, n), 12)
    age = np.where(is_student, student_age, adult_age).astype(np.int64)

    location = np.asarray(LOCATIONS)[rng.choice(len(LOCATIONS), size=n, p=LOCATION_SHARES)]
    payment_plan = np.where(rng.random(n) < YEARLY_SHARE, "Yearly", "Monthly")
    payment_method = np.asarray(PAYMENT_METHODS)[
        rng.choice(len(PAYMENT_METHODS), size=n, p=PAYMENT_METHOD_SHARES)
    ]

    tenure_days = rng.integers(14, 2861, n)  # signed up between January 2018 and mid-October 2025
    signup = np.datetime64(SNAPSHOT_DATE.isoformat(), "D") - tenure_days.astype("timedelta64[D]")
    tenure_months = (tenure_days // 30).astype(np.int64)

    pauses = np.where(is_free, 0, np.minimum(rng.poisson(0.35 + 0.25 * (dissatisfaction > 0), n), 6))

    inquiry_latent = 0.8 * dissatisfaction + rng.standard_normal(n)
    inquiries = np.asarray(INQUIRY_LEVELS)[np.digitize(inquiry_latent, [0.0, 1.075])]

    hours = 50.0 * _sigmoid(1.3 * engagement + 0.7 * rng.standard_normal(n))
    hours = _round_significant_10(hours)
    session = np.round(np.clip(12.0 + 0.9 * hours + rng.normal(0.0, 8.0, n), 3.0, 120.0), 1)
    skip = np.round(_sigmoid(-0.45 + 0.9 * dissatisfaction + 0.5 * rng.standard_normal(n)), 4)

    songs = np.minimum(np.round(hours * rng.uniform(5.0, 11.0, n)), 500).astype(np.int64)
    unique_songs = np.round(songs * rng.beta(5.0, 3.0, n)).astype(np.int64)
    favorite_artists = np.minimum(rng.poisson(np.exp(2.3 + 0.35 * engagement)), 60)
    friends = np.minimum(rng.poisson(np.exp(2.6 + 0.4 * engagement + 0.6 * rng.standard_normal(n))), 300)
    playlist_share = _sigmoid(-0.3 + 0.9 * engagement + 0.6 * rng.standard_normal(n))
    playlists = np.minimum(np.floor(101.0 * playlist_share), 100).astype(np.int64)
    shared = rng.binomial(playlists, 0.15)
    notifications = np.minimum(rng.poisson(np.exp(1.2 + 0.3 * engagement - 0.2 * dissatisfaction)), 40)

    frame = pd.DataFrame(
        {
            "customer_id": np.arange(FIRST_CUSTOMER_ID, FIRST_CUSTOMER_ID + n, dtype=np.int64),
            "age": age,
            "location": location,
            "subscription_type": subscription,
            "payment_plan": payment_plan,
            "payment_method": payment_method,
            "signup_date": np.datetime_as_string(signup, unit="D"),
            "tenure_months": tenure_months,
            "num_subscription_pauses": pauses.astype(np.int64),
            "customer_service_inquiries": inquiries,
            "weekly_hours": hours,
            "average_session_length": session,
            "song_skip_rate": skip,
            "weekly_songs_played": songs,
            "weekly_unique_songs": unique_songs,
            "num_favorite_artists": favorite_artists.astype(np.int64),
            "num_platform_friends": friends.astype(np.int64),
            "num_playlists_created": playlists,
            "num_shared_playlists": shared.astype(np.int64),
            "notifications_clicked": notifications.astype(np.int64),
        }
    )
    logit = churn_logit(frame) + UNOBSERVED_SD * rng.standard_normal(n)
    frame["churned"] = (rng.random(n) < _sigmoid(logit)).astype(np.int64)
    return frame.loc[:, list(COLUMNS)]


def write_customers(customers: pd.DataFrame, path: str | Path) -> Path:
    """Write a customer base as CSV (UTF-8, `\\n` line ends, no index) and return the path."""
    from optimizer.csvout import csv_bytes, write_files

    path = Path(path)
    return write_files({path.name: csv_bytes(customers)}, path.parent)[0]
