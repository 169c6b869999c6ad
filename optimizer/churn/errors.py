"""Bad-input errors of the churn stage: the project's own `InputError`, under the churn stage's names.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first customer row 2.
"""

from __future__ import annotations

from optimizer.errors import InputError, InputProblem, spreadsheet_row

ChurnProblem = InputProblem
ChurnInputError = InputError

__all__ = ["ChurnInputError", "ChurnProblem", "spreadsheet_row"]
