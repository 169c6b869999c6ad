"""Deterministic, label-stratified train / validation / test split of a customer base."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from optimizer.churn.generate import DEFAULT_SEED


def split_customers(
    customers: pd.DataFrame,
    seed: int = DEFAULT_SEED,
    validation_size: float = 0.15,
    test_size: float = 0.15,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train / validation / test frames, stratified by `churned`, deterministic for a given seed."""
    rest, test = train_test_split(
        customers, test_size=test_size, stratify=customers["churned"], random_state=seed
    )
    train, validation = train_test_split(
        rest,
        test_size=validation_size / (1.0 - test_size),
        stratify=rest["churned"],
        random_state=seed,
    )
    return train, validation, test
