"""The one way the product writes CSV: every file it writes and every download goes through this module.

`csv_bytes(frame)` serializes a frame with two protections, applied to every text cell (and the header):

- Formula neutralization. A cell a spreadsheet would evaluate is written with one leading apostrophe `'`:
  a cell that starts, after any white space, with `=`, `+`, `-` or `@`, or starts with a tab, CR or LF
  (`=HYPERLINK(...)`, `@SUM(1)`, `+1`, `-1`, the DDE `=cmd|' /C calc'!A0`). So that this is reversible, a
  cell that already starts with apostrophes followed by such text gets one more. The original text is the
  cell without its first apostrophe (`original_text`); the product's CSV loaders do this on reading
  (`restore_text_cells`), so the product reads back exactly what it wrote. Numbers in numeric columns
  (a negative net value) are numbers and are written as such.
- Quoting. A cell holding a comma, a double quote, a CR or a LF is quoted (RFC 4180, quotes doubled), so a
  line break inside a value stays inside its cell and one record is one row. (Python's csv module, with
  `\\n` line ends, leaves a lone CR unquoted: a spreadsheet then splits the row there.)

Everything else is written as `DataFrame.to_csv(index=False, lineterminator="\\n")` writes it (floats in
their shortest repr, missing values empty, booleans True/False, UTF-8, `\\n` line ends), so ordinary data
gives the same bytes. `csv_bytes(frame, neutralize=False)` keeps the quoting but not the apostrophes: for
the product's own storage (the history), which must read back every value exactly.

`write_files(files, folder)` writes a set of files all or nothing (see its docstring).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

# Text a spreadsheet evaluates (after any apostrophes this module added): see the module docstring.
_RISKY = r"'*(?:\s*[=+\-@]|[\t\r\n])"
_RISKY_RE = re.compile(_RISKY)
_NEEDS_QUOTES = r'[",\r\n]'
_NEUTRALIZED = r"^'(?=" + _RISKY + ")"


def is_formula_text(text: str) -> bool:
    """Would a spreadsheet evaluate this cell (or is it already-neutralized text that needs one more `'`)?"""
    return _RISKY_RE.match(text) is not None


def neutralize_text(text: str) -> str:
    """The cell text `csv_bytes` writes for `text` (before quoting)."""
    return "'" + text if is_formula_text(text) else text


def original_text(cell: str) -> str:
    """The value a neutralized cell stands for: the cell without the apostrophe `csv_bytes` added."""
    if cell.startswith("'") and is_formula_text(cell[1:]):
        return cell[1:]
    return cell


def restore_text_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """`original_text` on every cell of a frame of text cells (as `read_csv(dtype=str)` gives), in place."""
    for column in frame.columns:
        values = frame[column]
        if values.str.startswith("'").any():
            frame[column] = values.str.replace(_NEUTRALIZED, "", n=1, regex=True)
    return frame


def _flags(result: pd.Series) -> np.ndarray:
    return result.to_numpy(dtype=bool, na_value=False)


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values.dtype)


def _as_text(values: pd.Series) -> pd.Series:
    """A text column's cells as str (missing values kept missing): what the csv module would write."""
    if values.dtype == object:
        other = values.notna() & ~values.map(lambda v: isinstance(v, str))
        if other.any():
            return values.where(~other, values.map(str))
    return values


def _quote(text: pd.Series) -> pd.Series:
    """RFC 4180 quoting of the cells that need it (a comma, a double quote, a CR or a LF)."""
    needs = _flags(text.str.contains(_NEEDS_QUOTES, regex=True))
    if not needs.any():
        return text
    return text.where(~needs, '"' + text.str.replace('"', '""', regex=False) + '"')


def csv_text(frame: pd.DataFrame, *, neutralize: bool = True) -> str:
    """The CSV text of `frame` (no index), formula cells neutralized and line breaks quoted."""
    safe = frame.copy(deep=False)
    safe.columns = [neutralize_text(str(c)) if neutralize else str(c) for c in frame.columns]
    lone_cr = any("\r" in c for c in safe.columns)
    for position in range(safe.shape[1]):
        values = safe.iloc[:, position]
        if not _is_text(values):
            continue
        text = _as_text(values)
        if neutralize:
            risky = _flags(text.str.match(_RISKY))
            if risky.any():
                text = text.astype(object).where(~risky, "'" + text)
        lone_cr = lone_cr or bool(_flags(text.str.contains("\r", regex=False)).any())
        if text is not values:
            safe.isetitem(position, text)
    if not lone_cr:  # pandas' writer (the csv module) quotes everything else that needs it
        return safe.to_csv(index=False, lineterminator="\n")
    return _quoted_text(safe)


def _quoted_text(frame: pd.DataFrame) -> str:
    """The CSV text of a frame with a CR inside a text cell, which the csv module would leave unquoted."""
    header = _quote(pd.Series(list(frame.columns), dtype=object)).tolist()
    columns = []
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if _is_text(values):
            text = _quote(values.astype(object).where(values.notna(), ""))
            columns.append(text.to_numpy(dtype=object))
        else:  # numbers, formatted by pandas exactly as in its CSV
            cells = values.to_frame().to_csv(index=False, header=False, lineterminator="\n")
            cells = np.array(cells.split("\n")[:-1], dtype=object)
            columns.append(np.where(cells == '""', "", cells).astype(object))  # a lone empty cell
    if len(columns) == 1:  # a lone empty cell would read as a blank line: quote it, as the csv module does
        columns[0] = np.where(columns[0] == "", '""', columns[0]).astype(object)
    lines = [",".join(header)]
    lines.extend(",".join(cells) for cells in zip(*columns, strict=True))
    return "\n".join(lines) + "\n"


def csv_bytes(frame: pd.DataFrame, *, neutralize: bool = True) -> bytes:
    """`csv_text` as UTF-8 bytes."""
    return csv_text(frame, neutralize=neutralize).encode("utf-8")


# --- writing files all or nothing --------------------------------------------------------------------

STAGING_PREFIX = ".playlistpro-staging-"
# Hidden temporaries of earlier versions (`.name.csv.<hex>.tmp`, `.name.csv.tmp`), left by a killed run.
_LEGACY_TEMP = re.compile(r"^\..+\.csv(?:\.[0-9a-f]{32})?\.tmp$")
STALE_AFTER_SECONDS = 24 * 3600


class WriteError(OSError):
    """A file of a set could not be written; nothing of the set was published. Names the real file."""

    def __init__(self, path: Path, cause: OSError | str):
        if isinstance(cause, OSError):
            code = cause.errno
            reason = cause.strerror or (os.strerror(code) if code else "") or str(cause)
            reason = reason or type(cause).__name__
        else:
            code, reason = None, cause
        super().__init__(code, reason, str(path))
        self.path = path

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove what killed runs left in `folder`: staging folders of processes that are gone (or older than
    a day), and the hidden `.tmp` files of earlier versions. Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        try:
            if name.startswith(STAGING_PREFIX) and entry.is_dir():
                pid = name[len(STAGING_PREFIX) :].partition("-")[0]
                old = time.time() - entry.stat().st_mtime > STALE_AFTER_SECONDS
                if pid.isdigit() and _alive(int(pid)) and not old:
                    continue  # a write in progress (this process's threads included)
                shutil.rmtree(entry)
                removed.append(entry)
            elif _LEGACY_TEMP.match(name) and entry.is_file():
                entry.unlink()
                removed.append(entry)
        except OSError:
            pass  # gone already, or not ours to remove: the write goes on
    return removed


def write_files(files: Mapping[str, bytes], folder: str | os.PathLike) -> list[Path]:
    """Write `files` (name -> bytes) into `folder`, all or nothing; return the paths written.

    Every file is first written into a fresh staging folder inside `folder`; only when all are written are
    they renamed into place, and if a rename fails the ones already renamed are put back as they were (the
    previous files restored, new ones removed). So a failure (a full disk, a directory in the way, a kill)
    never leaves a partial set. Staging folders and temporaries that killed runs left behind are removed
    first. Errors are `WriteError`s naming the real file (not the temporary) and the cause.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(folder, exc) from None
    if not folder.is_dir():
        raise WriteError(folder, "not a folder")
    remove_stale_temporaries(folder)
    targets = {name: folder / name for name in files}
    for target in targets.values():
        if target.is_dir():
            raise WriteError(target, OSError(errno.EISDIR, "a folder of that name is in the way"))
    staging = folder / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
    try:
        staging.mkdir()
    except OSError as exc:
        raise WriteError(folder, exc) from None
    try:
        for name, content in files.items():
            try:
                # os.open with mode 0o666 honours the umask (mkstemp would leave the files private, 0600).
                handle = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                with os.fdopen(handle, "wb") as stream:
                    stream.write(content)
            except OSError as exc:
                raise WriteError(targets[name], exc) from None
        _publish(staging, targets)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return list(targets.values())


def _publish(staging: Path, targets: dict[str, Path]) -> None:
    """Rename the staged files into place; on a failure, undo the renames already done."""
    done: list[tuple[Path, Path | None]] = []  # (target, backup of the file it replaced)
    try:
        for name, target in targets.items():
            backup = None
            if target.exists():
                backup = staging / f".previous-{name}"
                try:
                    os.link(target, backup)  # the previous file, kept by a second name until published
                except OSError:
                    shutil.copy2(target, backup)
            try:
                os.replace(staging / name, target)
            except OSError as exc:
                if backup is not None:
                    backup.unlink(missing_ok=True)
                raise WriteError(target, exc) from None
            done.append((target, backup))
    except BaseException:
        for target, backup in reversed(done):
            try:
                if backup is None:
                    target.unlink(missing_ok=True)
                else:
                    os.replace(backup, target)
            except OSError:
                pass
        raise
