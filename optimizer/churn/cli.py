"""Churn subcommands of `python -m optimizer`: train, score, simulate, cohort.

`register(subparsers)` adds them to the project's argparse parser. Each parser sets
`handler=<function(args) -> int>`: 0 ok, 1 check failed (`cohort --check`), 2 bad input (message on
stderr naming the file, row and column; no traceback). Heavy imports (XGBoost, scikit-learn) happen
inside the handlers, so registering costs nothing for the other subcommands.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from optimizer import cliargs
from optimizer.churn.errors import ChurnInputError
from optimizer.churn.generate import DEFAULT_CUSTOMERS, DEFAULT_SEED
from optimizer.churn.paths import DEFAULT_DATA_DIR, DEFAULT_MODEL_DIR

SCALE_SEED = DEFAULT_SEED + 1  # default seed of `score --simulate`: customers the model never saw
MIN_TRAINING_CUSTOMERS = 1_000


def _positive_int(text: str) -> int:
    return cliargs.positive_count(text)


def _training_size(text: str) -> int:
    value = cliargs.positive_count(text)
    if value < MIN_TRAINING_CUSTOMERS:
        raise argparse.ArgumentTypeError(
            f"at least {MIN_TRAINING_CUSTOMERS:,} customers are needed to train and test, got {text}"
        )
    return value


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn bad-input and file-system errors into a message on stderr and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ChurnInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
            return 2

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _train(args: argparse.Namespace) -> int:
    from optimizer.churn.train import TrainingSettings, save_training_result, train_churn_model

    settings = TrainingSettings(
        n_customers=args.customers, seed=args.seed, random_forest=not args.no_forest, nthread=args.threads
    )
    result = train_churn_model(settings)
    written = save_training_result(result, args.out)
    metrics = result.metrics
    print(f"Trained on {metrics['n_train']:,} customers; test set {metrics['n_test']:,} customers.")
    print(result.comparison.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(
        f"XGBoost: {metrics['n_trees']} trees, calibration {metrics['calibration']}; "
        f"total time {metrics['train_seconds']:.1f} s. Report's AUC: {metrics['report_auc']}."
    )
    print("Wrote " + ", ".join(str(p) for p in written))
    if args.json:
        summary = {
            key: metrics[key]
            for key in (
                "model",
                "auc",
                "brier",
                "log_loss",
                "baseline_model",
                "baseline_auc",
                "baseline_brier",
                "baseline_log_loss",
                "calibration",
                "n_customers",
                "n_train",
                "n_validation",
                "n_test",
                "churn_rate",
                "n_trees",
                "train_seconds",
                "report_auc",
                "seed",
            )
        }
        summary["models"] = metrics["models"]
        summary["model_dir"] = str(args.out)
        print(json.dumps(summary))
    return 0


def _score(args: argparse.Namespace) -> int:
    from optimizer.churn.generate import generate_customers
    from optimizer.churn.model import ChurnModel
    from optimizer.churn.score import score_customers, score_file, write_scored

    if args.population is not None:
        scored = score_file(args.population, None, None, args.model)
    else:
        customers = generate_customers(args.simulate, args.seed)
        scored = score_customers(customers, ChurnModel.load(args.model), source="simulated customers")
    out = None if args.out == "-" else args.out
    written = write_scored(scored, out, args.out_features)
    if out is None:
        from optimizer.churn.export import predictions_csv

        sys.stdout.write(predictions_csv(scored))
    if written:
        print(
            f"Scored {len(scored):,} customers (mean churn probability "
            f"{scored['churn_probability'].mean():.3f}); wrote " + ", ".join(str(p) for p in written),
            file=sys.stderr,
        )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from optimizer.churn.generate import generate_customers, write_customers

    customers = generate_customers(args.customers, args.seed)
    path = write_customers(customers, args.out)
    rate = customers["churned"].mean()
    print(f"Wrote {len(customers):,} synthetic customers (churn rate {rate:.3f}) to {path}")
    return 0


def _cohort(args: argparse.Namespace) -> int:
    from optimizer.churn.cohort import build_cohort
    from optimizer.churn.paths import COHORT_FEATURES_FILE, COHORT_PREDICTIONS_FILE
    from optimizer.csvout import write_files

    cohort, predictions, features = build_cohort(args.model)
    targets = {
        Path(args.out_dir) / COHORT_PREDICTIONS_FILE: predictions,
        Path(args.out_dir) / COHORT_FEATURES_FILE: features,
    }
    if args.check:
        stale = [
            p for p, text in targets.items() if not p.is_file() or p.read_bytes() != text.encode("utf-8")
        ]
        for path in stale:
            print(
                f"error: {path}: differs from the regenerated cohort; run `python -m optimizer cohort`",
                file=sys.stderr,
            )
        if not stale:
            print("Cohort files are up to date: " + ", ".join(str(p) for p in targets))
        return 1 if stale else 0
    write_files({path.name: text.encode("utf-8") for path, text in targets.items()}, args.out_dir)
    counts = cohort["subscription_type"].value_counts().sort_index()
    print(
        f"Wrote {len(cohort)} customers ("
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + ") to "
        + ", ".join(str(p) for p in targets)
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the churn subcommands (`train`, `score`, `simulate`, `cohort`) to `subparsers`."""
    train = subparsers.add_parser(
        "train",
        help="train the churn model on a synthetic customer base and save it under data/model/",
        description="Generate the synthetic base, compare logistic regression, random forest and XGBoost "
        "on a held-out test set, and save the XGBoost model and its evaluation.",
    )
    train.add_argument("--customers", type=_training_size, default=DEFAULT_CUSTOMERS, help="size of the base")
    train.add_argument(
        "--seed", type=cliargs.seed, default=DEFAULT_SEED, help="seed of the base, split and models"
    )
    train.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help="model directory to write")
    train.add_argument("--no-random-forest", dest="no_forest", action="store_true", help="skip the forest")
    train.add_argument(
        "--threads", type=_positive_int, default=1, help="XGBoost threads (the model does not depend on it)"
    )
    train.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    train.set_defaults(handler=_guarded(_train))

    score = subparsers.add_parser(
        "score",
        help="churn probabilities for a customer file (or a freshly simulated base)",
        description="Score customers with the saved model. Writes the predictions file "
        "(customer_id,churn_probability) and optionally the optimizer's features file, both in the "
        "schema of the bundled cohort files.",
    )
    source = score.add_mutually_exclusive_group(required=True)
    source.add_argument("--population", type=Path, help="customer CSV with the model's input columns")
    source.add_argument("--simulate", type=_positive_int, metavar="N", help="score N simulated customers")
    score.add_argument("--seed", type=cliargs.seed, default=SCALE_SEED, help="seed for --simulate")
    score.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model directory")
    score.add_argument("--out", default="-", help="predictions CSV to write ('-': standard output)")
    score.add_argument("--out-features", type=Path, help="also write the features CSV (optimizer input)")
    score.set_defaults(handler=_guarded(_score))

    simulate = subparsers.add_parser(
        "simulate",
        help="write a synthetic PlaylistPro customer base (with the churned label) as CSV",
    )
    simulate.add_argument("--customers", type=_positive_int, default=DEFAULT_CUSTOMERS)
    simulate.add_argument("--seed", type=cliargs.seed, default=DEFAULT_SEED)
    simulate.add_argument("--out", type=Path, required=True, help="CSV file to write")
    simulate.set_defaults(handler=_guarded(_simulate))

    cohort = subparsers.add_parser(
        "cohort",
        help="regenerate data/prediction_250.csv and data/test_250.csv from the saved model",
    )
    cohort.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model directory")
    cohort.add_argument("--out-dir", type=Path, default=DEFAULT_DATA_DIR, help="where the two files go")
    cohort.add_argument("--check", action="store_true", help="only compare; exit 1 if the files differ")
    cohort.set_defaults(handler=_guarded(_cohort))
