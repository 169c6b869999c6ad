"""Input errors that name the file, the row and the column.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first customer row 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import SupportsIndex


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong with one input cell (or a whole file/column when row/column is None)."""

    file: str
    message: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}"


class InputError(ValueError):
    """Bad input. Holds every problem found, so a user can fix them all in one go."""

    def __init__(self, problems: list[InputProblem] | InputProblem):
        self.problems: list[InputProblem] = (
            [problems] if isinstance(problems, InputProblem) else list(problems)
        )
        shown = self.problems[:20]
        text = "\n".join(str(p) for p in shown)
        if len(self.problems) > len(shown):
            text += f"\n... and {len(self.problems) - len(shown)} more problems"
        super().__init__(text)


def spreadsheet_row(position: SupportsIndex) -> int:
    """Spreadsheet row number of the data row at 0-based `position` (the header is row 1)."""
    return int(position) + 2


class HistoryError(RuntimeError):
    """The history database cannot be opened, read, written or upgraded. The message is one readable line
    naming the database (password hidden) and the reason, with no SQL. (Defined here, with no database
    import, so a command can catch it without loading SQLAlchemy.)"""
