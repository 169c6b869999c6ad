"""Exports are all or nothing: a failure leaves the folder as it was, names the real file and the cause.

Each case makes one step of a write fail (a folder in the way, a full disk while writing, a failed rename
after others succeeded) for every command that writes a set of files, then checks: the folder holds exactly
what it held before (the previous files byte for byte), no temporary is left, and the message (and the
CLI's one line on stderr, exit 2) names the real file and the cause.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import subprocess
from pathlib import Path

import pytest

import optimizer.csvout as csvout
from optimizer import build_exports, load_bundled_cohort, load_catalog, solve_plan, write_exports
from optimizer.cli import main
from optimizer.csvout import STAGING_PREFIX, WriteError, write_files
from optimizer.model import PlanSettings

DATE = dt.date(2025, 11, 5)
NAMES = [f"{kind}_20251105.csv" for kind in ("treatment_plan", "email_list", "push_list", "call_queue")]


@pytest.fixture(scope="module")
def exports():
    result = solve_plan(load_bundled_cohort(), load_catalog(), PlanSettings(), solver="highs")
    return build_exports(result.assignments, plan_date=DATE)


def snapshot(folder: Path) -> dict[str, bytes | str]:
    return {p.name: (p.read_bytes() if p.is_file() else "<dir>") for p in sorted(folder.iterdir())}


def previous_set(folder: Path) -> dict[str, bytes | str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        (folder / name).write_bytes(f"last week's {name}\n".encode())
    (folder / "notes.txt").write_text("not ours")
    return snapshot(folder)


def _folder_in_the_way(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _full_disk(monkeypatch, on_call: int) -> None:
    """The `on_call`-th file write raises ENOSPC (as a full disk does)."""
    real = os.fdopen
    calls = {"n": 0}

    class Full:
        def __init__(self, stream):
            self.stream = stream

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdopen(fd, *args, **kwargs):
        calls["n"] += 1
        stream = real(fd, *args, **kwargs)
        return Full(stream) if calls["n"] == on_call else stream

    monkeypatch.setattr(csvout.os, "fdopen", fdopen)


def _rename_fails(monkeypatch, on_call: int) -> None:
    """The `on_call`-th rename into place fails (after the earlier ones succeeded)."""
    real = os.replace
    calls = {"n": 0}

    def replace(src, dst):
        if Path(dst).parent.name.startswith(STAGING_PREFIX):
            return real(src, dst)  # a rollback's own renames
        calls["n"] += 1
        if calls["n"] == on_call:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        return real(src, dst)

    monkeypatch.setattr(csvout.os, "replace", replace)


FAILURES = [
    ("a folder in the way", lambda folder, mp: _folder_in_the_way(folder / NAMES[2]), NAMES[2], "folder"),
    (
        "disk full on the third file",
        lambda folder, mp: _full_disk(mp, 3),
        NAMES[2],
        "No space left on device",
    ),
    (
        "disk full on the first file",
        lambda folder, mp: _full_disk(mp, 1),
        NAMES[0],
        "No space left on device",
    ),
    ("third rename fails", lambda folder, mp: _rename_fails(mp, 3), NAMES[2], "Input/output error"),
    ("last rename fails", lambda folder, mp: _rename_fails(mp, 4), NAMES[3], "Input/output error"),
]


@pytest.mark.parametrize(("case", "make_it_fail", "culprit", "cause"), FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failed_export_leaves_the_previous_set(
    exports, tmp_path, monkeypatch, case, make_it_fail, culprit, cause
):
    folder = tmp_path / "out"
    before = previous_set(folder)
    make_it_fail(folder, monkeypatch)
    if culprit == NAMES[2] and case == "a folder in the way":
        before = snapshot(folder)
    with pytest.raises(WriteError) as caught:
        write_exports(exports, folder)
    assert caught.value.filename == str(folder / culprit)  # the real file, not a temporary
    assert str(caught.value) == f"{folder / culprit}: {caught.value.strerror}" and cause in str(caught.value)
    assert snapshot(folder) == before  # nothing published, the previous files restored, no temporaries


def test_a_successful_export_replaces_the_whole_set(exports, tmp_path):
    folder = tmp_path / "out"
    previous_set(folder)
    written = write_exports(exports, folder)
    assert [p.name for p in written] == NAMES
    assert sorted(p.name for p in folder.iterdir()) == sorted([*NAMES, "notes.txt"])
    assert (folder / NAMES[0]).read_bytes().startswith(b"plan_date,customer_id,")


def test_stale_temporaries_of_killed_runs_are_removed(exports, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    dead = subprocess.run(["true"], check=True)  # noqa: S603, S607 - a pid that has exited
    del dead
    finished = subprocess.Popen(["true"])  # noqa: S603, S607
    finished.wait()
    stale = folder / f"{STAGING_PREFIX}{finished.pid}-0123"
    stale.mkdir()
    (stale / NAMES[0]).write_bytes(b"")
    live = folder / f"{STAGING_PREFIX}{os.getpid()}-4567"  # a write in progress in this process
    live.mkdir()
    legacy = [folder / f".{NAMES[1]}.{'ab' * 16}.tmp", folder / f".{NAMES[0]}.tmp"]
    for path in legacy:
        path.write_bytes(b"")
    keep = folder / ".hidden.tmp"
    keep.write_bytes(b"not a CSV temporary")
    write_exports(exports, folder)
    assert not stale.exists() and not any(p.exists() for p in legacy)
    assert live.is_dir() and keep.is_file()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(NAMES)


def test_write_files_refuses_a_file_as_folder(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(WriteError) as caught:
        write_files({"a.csv": b"x\n"}, tmp_path / "out")
    assert caught.value.filename == str(tmp_path / "out")


# --- the CLI: exit 2, one line naming the file and the cause --------------------------------------------


def _plan_args(folder: Path) -> list[str]:
    return ["plan", "--date", "2025-11-05", "--out-dir", str(folder), "--solver", "highs"]


def test_plan_with_a_folder_in_the_way(tmp_path, capsys):
    folder = tmp_path / "out"
    (folder / NAMES[2]).mkdir(parents=True)
    assert main(_plan_args(folder)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {folder / NAMES[2]}: ")
    assert sorted(p.name for p in folder.iterdir()) == [NAMES[2]]


def test_plan_on_a_full_disk(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "out"
    _full_disk(monkeypatch, 2)
    assert main(_plan_args(folder)) == 2
    err = capsys.readouterr().err
    assert err == f"error: {folder / NAMES[1]}: No space left on device\n"
    assert list(folder.iterdir()) == []


def test_history_export_and_single_files_are_all_or_nothing(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}"
    assert main([*_plan_args(tmp_path / "ex"), "--save", "--history", url]) == 0
    capsys.readouterr()
    again = tmp_path / "again"
    before = previous_set(again)
    _full_disk(monkeypatch, 4)
    assert main(["history", "export", "--plan", "1", "--out-dir", str(again), "--history", url]) == 2
    assert capsys.readouterr().err == f"error: {again / NAMES[3]}: No space left on device\n"
    assert snapshot(again) == before

    out = tmp_path / "outcomes.csv"
    out.write_text("previous\n")
    _full_disk(monkeypatch, 1)  # a new counter: the next write is the outcomes file
    assert main(["simulate-outcomes", "--plan", "1", "--out", str(out), "--history", url]) == 2
    assert capsys.readouterr().err == f"error: {out}: No space left on device\n"
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
