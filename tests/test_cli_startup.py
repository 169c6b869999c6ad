"""A command imports what it uses: `plan` without --save never loads SQLAlchemy (nor the churn model's
XGBoost); `plan --save` does. (What this costs in time is measured in benchmarks/sweep.py, not here.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["sqlalchemy", "xgboost", "sklearn", "optimizer.loop.history", "optimizer.loop.recalibrate"]

PROBE = """
import json, sys
from optimizer.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
"""


def loaded_by(*argv: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE % HEAVY, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], []),
        (["--history", "URL"], ["sqlalchemy", "optimizer.loop.history"]),  # planned against the history
        (["--cooldown-days", "7"], ["sqlalchemy", "optimizer.loop.history"]),  # a contact policy needs it
        (["--history", "URL", "--save", "--label", "probe"], ["sqlalchemy", "optimizer.loop.history"]),
    ],
)
def test_plan_imports_the_history_only_to_save(tmp_path, extra, expected, monkeypatch):
    """A plain plan never loads SQLAlchemy; planning against the history (--history, --save or a
    contact-policy flag) does."""
    url = f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}"
    monkeypatch.setenv("PLAYLISTPRO_HISTORY_URL", url)
    extra = [url if value == "URL" else value for value in extra]
    probe = loaded_by("plan", "--out-dir", str(tmp_path / "out"), *extra)
    assert probe == {"code": 0, "loaded": expected}


def test_history_url_variable_is_the_historys():
    from optimizer.loop import cli as loop_cli
    from optimizer.loop.history import HISTORY_URL_ENV

    assert loop_cli.HISTORY_URL_ENV == HISTORY_URL_ENV
