"""Every CSV the CLI reads: a column named twice, or bytes that are not UTF-8, are refused with the file,
row and column (never the first column silently used, never a byte offset)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from optimizer.cli import main
from optimizer.data import read_csv_text
from optimizer.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = {"--predictions": "prediction_250.csv", "--features": "test_250.csv", "--actions": "actions.csv"}


def duplicate_column(lines: list[bytes], column: bytes, header_spelling: bytes | None = None) -> list[bytes]:
    """Repeat `column` at the end of every line (the header spelled `header_spelling`)."""
    header = lines[0].split(b",")
    at = header.index(column)
    out = [lines[0] + b"," + (header_spelling or column)]
    out += [line + b"," + line.split(b",")[at] for line in lines[1:]]
    return out


def replace_cell(lines: list[bytes], row: int, column: bytes, value: bytes) -> list[bytes]:
    """Set the cell at spreadsheet row `row` (the header is row 1)."""
    at = lines[0].split(b",").index(column)
    cells = lines[row - 1].split(b",")
    cells[at] = value
    return [*lines[: row - 1], b",".join(cells), *lines[row:]]


CASES = [
    (
        "--predictions",
        lambda lines: duplicate_column(lines, b"churn_probability"),
        "row 1, column 'churn_probability': the header names this column twice",
    ),
    (
        "--predictions",
        lambda lines: duplicate_column(lines, b"churn_probability", b" churn_probability "),
        "row 1, column 'churn_probability': the header names this column twice",
    ),
    (
        "--features",
        lambda lines: duplicate_column(lines, b"subscription_type"),
        "row 1, column 'subscription_type': the header names this column twice",
    ),
    (
        "--actions",
        lambda lines: duplicate_column(lines, b"cost"),
        "row 1, column 'cost': the header names this column twice",
    ),
    (
        "--features",
        lambda lines: replace_cell(lines, 4, b"subscription_type", "Premiüm".encode("latin-1")),
        "row 4, column 'subscription_type': not UTF-8 text (byte 0xfc)",
    ),
    (
        "--predictions",
        lambda lines: replace_cell(lines, 200, b"customer_id", b"20\xff0123"),
        "row 200, column 'customer_id': not UTF-8 text (byte 0xff)",
    ),
    (
        "--actions",
        lambda lines: replace_cell(lines, 3, b"action_name", "Café call".encode("cp1252")),
        "row 3, column 'action_name': not UTF-8 text (byte 0xe9)",
    ),
]


@pytest.mark.parametrize(("flag", "change", "message"), CASES)
def test_plan_refuses_the_file_naming_row_and_column(flag, change, message, tmp_path, capsys):
    name = FILES[flag]
    lines = (DATA / name).read_bytes().splitlines()
    bad = tmp_path / "in" / name
    bad.parent.mkdir()
    bad.write_bytes(b"\n".join(change(lines)) + b"\n")
    out = tmp_path / "out"
    assert main(["plan", flag, str(bad), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: {name}, {message}" in err, err
    assert "position" not in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda lines: duplicate_column(lines, b"age"),
            "row 1, column 'age': the header names this column twice",
        ),
        (
            lambda lines: replace_cell(lines, 3, b"location", b"Espa\xf1a"),
            "row 3, column 'location': not UTF-8 text (byte 0xf1)",
        ),
    ],
)
def test_score_refuses_the_population_naming_row_and_column(change, message, tmp_path, capsys):
    from optimizer.churn.generate import generate_customers, write_customers

    source = write_customers(generate_customers(5, 3), tmp_path / "population.csv")
    lines = Path(source).read_bytes().splitlines()
    bad = tmp_path / "bad_population.csv"
    bad.write_bytes(b"\n".join(change(lines)) + b"\n")
    assert main(["score", "--population", str(bad), "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and "bad_population.csv" in err, err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize(
    "source",
    [
        b"customer_id,churn_probability, churn_probability\n1,0.5,0.7\n",
        io.BytesIO(b"customer_id,churn_probability, churn_probability\n1,0.5,0.7\n"),
        io.StringIO("customer_id,churn_probability, churn_probability\n1,0.5,0.7\n"),
    ],
)
def test_uploads_with_a_column_named_twice_are_refused(source):
    with pytest.raises(InputError) as refused:
        read_csv_text(source, "upload.csv")
    assert (
        str(refused.value)
        == "upload.csv, row 1, column 'churn_probability': the header names this column twice"
    )


def test_an_upload_is_read_whole_after_the_header_check():
    upload = io.BytesIO(b"\xef\xbb\xbfcustomer_id,churn_probability\n007,0.5\n")
    frame, _ = read_csv_text(upload, "upload.csv")
    assert frame.to_dict(orient="list") == {"customer_id": ["007"], "churn_probability": ["0.5"]}
