"""TEMPORARY entry point for the churn branch only: the real one (plan, sweep, ...) lives on main.

Dispatch convention used by `optimizer.churn.cli.register`: each subparser sets `handler(args) -> int`.
"""

from __future__ import annotations

import argparse
import sys

from optimizer.churn.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimizer")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register(subparsers)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
