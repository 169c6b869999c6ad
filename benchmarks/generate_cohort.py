"""Synthetic weekly cohorts in the reference schema, for benchmarks (never committed: `data/generated/`).

    python benchmarks/generate_cohort.py 75000 1000000   # data/generated/{predictions,features}_N.csv
    python benchmarks/generate_cohort.py 5000 --seed 3 --out-dir /tmp/cohorts

Deterministic: the same (n, seed) always writes byte-identical files. The distributions follow the
250-customer reference cohort: subscription types in equal shares (Free, Premium, Family, Student), 55% Yearly
plans, weekly hours uniform on [0.05, 50], songs uniform on 4..498, playlists uniform on 0..99, and a bimodal
churn probability (40% mostly low, Beta(0.6, 4); 20% uniform; 40% mostly high, Beta(4, 0.6)), written with
6 decimals. Customer ids are distinct integers from 200000 up, shuffled.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT_DIR = ROOT / "data" / "generated"
SUBSCRIPTIONS = np.array(["Free", "Premium", "Family", "Student"])
DEFAULT_SEED = 20251105


def synthetic_frames(n: int, seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The predictions frame (customer_id, churn_probability) and the features frame of n customers."""
    rng = np.random.default_rng(seed)
    ids = 200_000 + rng.permutation(n)
    mode = rng.choice(3, size=n, p=[0.4, 0.2, 0.4])
    p = np.where(
        mode == 0, rng.beta(0.6, 4.0, n), np.where(mode == 1, rng.uniform(0.0, 1.0, n), rng.beta(4.0, 0.6, n))
    )
    predictions = pd.DataFrame({"customer_id": ids, "churn_probability": np.round(p, 6)})
    features = pd.DataFrame(
        {
            "customer_id": ids,
            "subscription_type": SUBSCRIPTIONS[rng.integers(0, 4, n)],
            "payment_plan": np.where(rng.random(n) < 0.55, "Yearly", "Monthly"),
            "weekly_hours": np.round(rng.uniform(0.05, 50.0, n), 6),
            "weekly_songs_played": rng.integers(4, 499, n),
            "num_playlists_created": rng.integers(0, 100, n),
        }
    )
    return predictions, features


def cohort_paths(n: int, out_dir: Path = DEFAULT_OUT_DIR) -> tuple[Path, Path]:
    return out_dir / f"predictions_{n}.csv", out_dir / f"features_{n}.csv"


def write_cohort(n: int, seed: int = DEFAULT_SEED, out_dir: Path = DEFAULT_OUT_DIR) -> tuple[Path, Path]:
    """Write the two CSVs (if not already there for this seed) and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    predictions_path, features_path = cohort_paths(n, out_dir)
    stamp = out_dir / f".seed_{n}"
    if predictions_path.is_file() and features_path.is_file() and stamp.is_file():
        if stamp.read_text().strip() == str(seed):
            return predictions_path, features_path
    predictions, features = synthetic_frames(n, seed)
    predictions.to_csv(predictions_path, index=False)
    features.to_csv(features_path, index=False)
    stamp.write_text(str(seed))
    return predictions_path, features_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="+", help="cohort sizes, e.g. 75000 1000000")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args()
    for n in args.sizes:
        for path in write_cohort(n, args.seed, args.out_dir):
            print(path)


if __name__ == "__main__":
    main()
