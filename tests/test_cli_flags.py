"""Every flag of every command is validated where it is parsed: exit 2, one line on stderr naming the flag.

The table covers each flag that takes a value; `test_every_value_flag_is_in_the_table` walks the parser so a
new flag without an entry (a bad value, or a reason it is free text) fails.
"""

from __future__ import annotations

import argparse

import pytest

from optimizer.cli import build_parser, main

# (command, flag, bad value). Parsing stops at the bad flag, so no file or history is touched.
BAD_VALUES = [
    *[
        (cmd, flag, value)
        for cmd in ("plan", "sweep")
        for flag, value in [
            ("--time-limit", "-1"),
            ("--time-limit", "0"),
            ("--time-limit", "nan"),
            ("--time-limit", "inf"),
            ("--time-limit", "ten"),
            ("--budget", "-5"),
            ("--budget", "nan"),
            ("--budget", "inf"),
            ("--budget", "lots"),
            ("--email-capacity", "1.5"),
            ("--email-capacity", "-1"),
            ("--email-capacity", "nan"),
            ("--push-capacity", "2.25"),
            ("--push-capacity", "many"),
            ("--call-capacity", "0.5"),
            ("--min-high-risk", "1.5"),
            ("--min-high-risk", "nan"),
            ("--min-premium", "-0.1"),
            ("--max-saturation", "2"),
            ("--min-segment", "x"),
            ("--high-risk-threshold", "nan"),
            ("--coverage-rounding", "round"),
            ("--solver", "cplex"),
        ]
    ],
    ("plan", "--seed", "-1"),
    ("plan", "--seed", "1.5"),
    ("plan", "--seed", str(2**64)),
    ("plan", "--holdout", "1.1"),
    ("plan", "--holdout", "nan"),
    ("plan", "--date", "2025-02-30"),
    ("sweep", "--budgets", "150,abc"),
    ("sweep", "--budgets", "150,-1"),
    ("sweep", "--budgets", "150,nan"),
    ("sweep", "--budgets", "150,,200"),
    ("train", "--customers", "999"),
    ("train", "--customers", "2.5"),
    ("train", "--seed", "-1"),
    ("train", "--threads", "0"),
    ("score", "--simulate", "0"),
    ("score", "--seed", "-3"),
    ("simulate", "--customers", "-10"),
    ("simulate", "--seed", "x"),
    ("history show", "--plan", "0"),
    ("history export", "--plan", "-2"),
    ("history compare", "--plans", "one"),
    ("simulate-outcomes", "--plan", "1.5"),
    ("simulate-outcomes", "--uplift", "1=nan"),
    ("simulate-outcomes", "--uplift", "1=1.5"),
    ("simulate-outcomes", "--uplift", "one=0.1"),
    ("simulate-outcomes", "--uplift", "1=0.1,1=0.2"),
    ("simulate-outcomes", "--seed", "-1"),
    ("simulate-outcomes", "--baseline-scale", "nan"),
    ("simulate-outcomes", "--baseline-scale", "-1"),
    ("simulate-outcomes", "--baseline-scale", "inf"),
    ("measure", "--plan", "x"),
    ("measure", "--min-holdout", "0"),
    ("measure", "--min-treated", "2.5"),
    ("measure", "--max-ci-width", "nan"),
    ("measure", "--max-ci-width", "wide"),
    ("recalibrate", "--plan", "0"),
    ("recalibrate", "--min-holdout", "-1"),
    ("recalibrate", "--min-treated", "x"),
    ("recalibrate", "--max-ci-width", "3"),
    ("recalibrate", "--solver", "decomposition"),
    ("plan", "--holdout-window-days", "-1"),
    ("plan", "--holdout-window-days", "7.5"),
    ("plan", "--cooldown-days", "x"),
    ("plan", "--channel-cap", "email=2"),
    ("plan", "--channel-cap", "pigeon=1:7"),
    ("plan", "--channel-cap", "email=0:7"),
    ("plan", "--global-control", "0.51"),
    ("plan", "--global-control", "nan"),
    ("history withdraw", "--plan", "0"),
    ("measure", "--plans", "3,x"),
    ("measure", "--since", "2026-13-01"),
    ("measure", "--until", "yesterday"),
    ("recalibrate", "--plans", "0"),
    ("recalibrate", "--since", "2026-02-30"),
    ("recalibrate", "--until", "soon"),
    ("simulate-weeks", "--weeks", "0"),
    ("simulate-weeks", "--cohort-size", "-5"),
    ("simulate-weeks", "--seed", "-1"),
    ("simulate-weeks", "--recalibrate-week", "0"),
    ("simulate-weeks", "--budget", "nan"),
    ("simulate-weeks", "--holdout-window-days", "-2"),
    ("simulate-weeks", "--cooldown-days", "1.5"),
    ("simulate-weeks", "--channel-cap", "email:2:28"),
    ("simulate-weeks", "--global-control", "2"),
]

# Flags whose value is free text or a path: checked where the file, URL or folder is used (file, row and
# column; or the path in an OSError message), not by the parser.
FREE_TEXT = {
    "--predictions",
    "--features",
    "--actions",
    "--out-dir",
    "--out",
    "--out-features",
    "--label",
    "--history",
    "--population",
    "--model",
    "--outcomes",
}


def _value_flags(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _value_flags(sub, f"{prefix} {name}".strip())
        elif action.option_strings and action.nargs != 0 and not isinstance(action, argparse._HelpAction):
            yield prefix, action.option_strings[-1]


# Arguments a command needs so that parsing reaches the flag under test.
REQUIRED = {
    "sweep": ["--budgets", "150"],
    "score": ["--simulate", "5"],
    "simulate": ["--out", "x.csv"],
    "history show": ["--plan", "1"],
    "history export": ["--plan", "1"],
    "history compare": ["--plans", "1", "2"],
    "history withdraw": ["--plan", "1"],
    "simulate-outcomes": ["--plan", "1", "--out", "x.csv"],
    "measure": ["--plan", "1"],
    "recalibrate": ["--plan", "1"],
}


@pytest.mark.parametrize(("command", "flag", "value"), BAD_VALUES)
def test_bad_flag_value_exits_2_with_one_line_naming_the_flag(command, flag, value, capsys, tmp_path):
    argv = [*command.split(), *REQUIRED.get(command, []), flag, value]
    if flag == "--plans":
        argv = [*command.split(), flag, value, "2"]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--out-dir", str(tmp_path)] if command == "plan" else argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: argument {flag}"), err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_every_value_flag_is_in_the_table():
    tested = {(command, flag) for command, flag, _ in BAD_VALUES}
    untested = [
        (command, flag)
        for command, flag in _value_flags(build_parser())
        if (command, flag) not in tested and flag not in FREE_TEXT
    ]
    assert untested == []


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["plan", "--email-capacity", "none"], "email_capacity", None),
        (["plan", "--email-capacity", "unlimited"], "email_capacity", None),
        (["plan", "--email-capacity", "12"], "email_capacity", 12.0),
        (["plan", "--email-capacity", "12.0"], "email_capacity", 12.0),
        (["plan", "--call-capacity", "0"], "call_capacity", 0.0),
        (["plan", "--time-limit", "0.5"], "time_limit", 0.5),
        (["plan"], "time_limit", None),
        (["plan", "--budget", "0"], "budget", 0.0),
        (["plan", "--seed", "0"], "seed", 0),
        (["plan", "--min-premium", "1"], "min_premium", 1.0),
        (["sweep", "--budgets", " 150, 175 ,200"], "budgets", [150.0, 175.0, 200.0]),
        (["sweep", "--budgets", "150", "--time-limit", "2"], "time_limit", 2.0),
        (
            ["simulate-outcomes", "--plan", "1", "--out", "o.csv", "--baseline-scale", "0"],
            "baseline_scale",
            0.0,
        ),
        (
            ["simulate-outcomes", "--plan", "1", "--out", "o.csv", "--uplift", "1=0.05, 2=-0.1"],
            "uplift",
            {1: 0.05, 2: -0.1},
        ),
        (["measure", "--plan", "3", "--max-ci-width", "2"], "max_ci_width", 2.0),
    ],
)
def test_good_flag_values_parse(argv, field, expected):
    assert getattr(build_parser().parse_args(argv), field) == expected


def test_parser_defaults_match_the_settings_defaults():
    from optimizer.model import PlanSettings

    args = build_parser().parse_args(["plan"])
    defaults = PlanSettings()
    assert {name: getattr(args, name) for name in defaults.to_dict()} == defaults.to_dict()
