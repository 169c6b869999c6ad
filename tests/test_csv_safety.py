"""CSV injection: every CSV the product writes keeps one record per row and no cell a spreadsheet evaluates.

Hostile text (formulas, a DDE payload, a CR or LF inside a value) is put where users' text reaches the
outputs (action names, customer ids), every command that writes a CSV is run, and every file is read back
with the csv module: one record per row, every cell that starts like a formula neutralized with `'`, and
the original text recovered by `original_text`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from optimizer import load_bundled_cohort, load_catalog, to_csv_bytes
from optimizer.cli import main
from optimizer.csvout import csv_bytes, is_formula_text, neutralize_text, original_text

ROOT = Path(__file__).resolve().parents[1]

# (text, what a spreadsheet would do with it unprotected)
HOSTILE = [
    ("Personalized Email\r=1+3", "a lone CR splits the row; =1+3 evaluates in the next one"),
    ('=HYPERLINK("http://evil.example","click")', "a link formula"),
    ("@SUM(1)", "an @ formula"),
    ("+1", "a + formula"),
    ("-1", "a - formula"),
    ("=cmd|' /C calc'!A0", "a DDE payload"),
    ("two\nlines", "a LF inside a value"),
    ("crlf\r\n=2+2", "a CRLF inside a value"),
    ("\tTab", "a leading tab"),
    ("\r=1", "a leading CR"),
    ("  =1+1", "a formula after spaces"),
    ("'=already", "text that looks neutralized already"),
    ("comma, inside", "a comma"),
    ('a "quoted" word', "double quotes"),
    ("Plain text", "nothing"),
]


def read_back(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


def assert_safe(rows: list[list[str]], where: str) -> None:
    """Every row has the header's width; no cell starts like a formula unless neutralized."""
    width = len(rows[0])
    for number, row in enumerate(rows, start=1):
        assert len(row) == width, f"{where}: row {number} has {len(row)} cells, the header {width}"
        for cell in row:
            if cell and not _is_number(cell):
                assert not is_formula_text(cell) or cell.startswith("'"), f"{where}: row {number}: {cell!r}"


def _is_number(cell: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?(e[+-]?\d+)?", cell) is not None


@pytest.mark.parametrize(("text", "why"), HOSTILE, ids=[h[1] for h in HOSTILE])
def test_every_hostile_text_stays_one_cell_and_is_recoverable(text, why):
    frame = pd.DataFrame({"name": [text, "after"], "net_value": [-1.5, 2.0], "n": [-1, 3]})
    for content in (csv_bytes(frame), to_csv_bytes(frame)):
        rows = read_back(content)
        assert len(rows) == 3  # header + one row per record
        assert_safe(rows, why)
        assert original_text(rows[1][0]) == text
        assert rows[1][1:] == ["-1.5", "-1"]  # numbers are numbers, not neutralized
        assert rows[2] == ["after", "2.0", "3"]
        # the product's loaders read back exactly what was written
        back = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
        from optimizer.csvout import restore_text_cells

        assert restore_text_cells(back)["name"].tolist() == [text, "after"]


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+3", "'=1+3"),
        ("'=1+3", "''=1+3"),  # so that dropping one apostrophe on reading is exact
        ("''@x", "'''@x"),
        ("'quoted", "'quoted"),  # an apostrophe before ordinary text is left alone
        ("-", "'-"),
        ("a-b", "a-b"),
        ("Email", "Email"),
    ],
)
def test_neutralization_is_reversible(text, written):
    assert neutralize_text(text) == written
    assert original_text(written) == text


def test_ordinary_frames_are_written_as_pandas_writes_them():
    """For data without hostile text the bytes equal `DataFrame.to_csv`: fingerprints and stored files
    of existing plans do not change."""
    cohort = load_bundled_cohort()
    catalog = load_catalog()
    odd = pd.DataFrame(
        {
            "x": [1.5, float("nan"), 1e20, 1 / 3],
            "b": [True, False, True, False],
            "s": ["a", None, "y,z", 'q"'],
        }
    )
    for frame in (cohort, catalog, odd):
        assert csv_bytes(frame) == frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)


HOSTILE_IDS = [
    '=HYPERLINK("http://evil.example","x")',
    "@SUM(1)",
    "+1",
    "-1",
    "=cmd|' /C calc'!A0",
    "id\r=1+3",
    "id\nLF",
]


@pytest.fixture
def hostile_inputs(tmp_path):
    """The bundled cohort with seven hostile customer ids, and a catalog whose action names are hostile."""
    cohort = load_bundled_cohort()
    ids = cohort["customer_id"].astype(str).tolist()
    ids[: len(HOSTILE_IDS)] = HOSTILE_IDS
    predictions = [["customer_id", "churn_probability"]] + [
        [i, repr(p)] for i, p in zip(ids, cohort["churn_probability"], strict=True)
    ]
    features = [["customer_id", "subscription_type", "payment_plan", "weekly_hours", "weekly_songs_played"]]
    features += [
        [i, s, pl, repr(h), repr(n)]
        for i, s, pl, h, n in zip(
            ids,
            cohort["subscription_type"],
            cohort["payment_plan"],
            cohort["weekly_hours"],
            cohort["weekly_songs_played"],
            strict=True,
        )
    ]
    names = [
        "Personalized Email\r=1+3",
        '=HYPERLINK("http://evil.example","click")',
        "@SUM(1)",
        "+1",
        "-1",
        "=cmd|' /C calc'!A0",
        "In-app\nLF",
    ]
    catalog = [["action_id", "action_name", "channel", "cost", "uplift", "eligible_segment", "description"]]
    catalog.append(["0", "No Action", "none", "0", "0", "all", "=1+1"])
    channels = ["email", "in_app", "push", "call", "email", "push", "in_app"]
    for k, (name, channel) in enumerate(zip(names, channels, strict=True), start=1):
        catalog.append([str(k), name, channel, "1", f"0.1{k}", "all", f"-{name}"])
    _write_rows(tmp_path / "p.csv", predictions)
    _write_rows(tmp_path / "f.csv", features)
    _write_rows(tmp_path / "a.csv", catalog)
    return tmp_path, set(ids), {"No Action", *names}


def _check_file(path: Path, ids: set[str], names: set[str]) -> int:
    rows = read_back(path.read_bytes())
    assert_safe(rows, path.name)
    header = rows[0]
    for row in rows[1:]:
        cells = dict(zip(header, row, strict=True))
        if "customer_id" in cells:
            assert original_text(cells["customer_id"]) in ids, (path.name, cells["customer_id"])
        if "action_name" in cells:
            assert original_text(cells["action_name"]) in names, (path.name, cells["action_name"])
    return len(rows) - 1


def test_every_command_writes_safe_csv(hostile_inputs, capsys):
    """plan (the four exports), history export, simulate-outcomes --out and recalibrate --out."""
    folder, ids, names = hostile_inputs
    url = f"sqlite:///{(folder / 'h.sqlite').as_posix()}"
    inputs = ["--predictions", str(folder / "p.csv"), "--features", str(folder / "f.csv")]
    inputs += ["--actions", str(folder / "a.csv"), "--history", url, "--date", "2025-11-05"]
    inputs += ["--budget", "2000", "--max-saturation", "0.1", "--out-dir", str(folder / "ex")]
    assert main(["plan", *inputs, "--save", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    treated = payload["customers_treated"]
    assert _check_file(folder / "ex" / "treatment_plan_20251105.csv", ids, names) == treated
    channel_rows = sum(
        _check_file(folder / "ex" / f"{kind}_20251105.csv", ids, names)
        for kind in ("email_list", "push_list", "call_queue")
    )
    assert channel_rows == treated - payload["holdout_count"]
    plan_text = (folder / "ex" / "treatment_plan_20251105.csv").read_bytes()
    assert b"\r" in plan_text  # the CR of "Personalized Email\r=1+3" is kept, inside its quoted cell
    used = {original_text(r[9]) for r in read_back(plan_text)[1:]}
    assert used == names - {"No Action"}  # every hostile name was really exported

    plan_id = str(payload["plan_id"])
    assert (
        main(["history", "export", "--plan", plan_id, "--out-dir", str(folder / "again"), "--history", url])
        == 0
    )
    for path in (folder / "again").iterdir():
        assert path.read_bytes() == (folder / "ex" / path.name).read_bytes()

    outcomes = folder / "outcomes.csv"
    assert main(["simulate-outcomes", "--plan", plan_id, "--out", str(outcomes), "--history", url]) == 0
    assert _check_file(outcomes, ids, names) == 250  # every customer of the cohort, one row each

    new_catalog = folder / "new_actions.csv"
    args = ["recalibrate", "--plan", plan_id, "--outcomes", str(outcomes), "--out", str(new_catalog)]
    assert main([*args, "--history", url, "--no-reoptimize", "--min-holdout", "1", "--min-treated", "1"]) == 0
    assert _check_file(new_catalog, ids, names) == 8
    rows = read_back(new_catalog.read_bytes())
    assert {original_text(r[1]) for r in rows[1:]} == names
    assert rows[1][8] == "'=1+1"  # descriptions too
    # The recalibrated catalog loads back with the original names.
    assert set(load_catalog(new_catalog)["action_name"]) == names


def test_churn_outputs_are_safe(tmp_path):
    """score --out / --out-features with hostile customer ids (the churn CLI's CSV writers)."""
    from optimizer.churn import generate_customers
    from optimizer.csvout import csv_bytes as write

    customers = generate_customers(40, seed=5)
    customers["customer_id"] = customers["customer_id"].astype(str)
    customers.loc[: len(HOSTILE_IDS) - 1, "customer_id"] = HOSTILE_IDS
    population = tmp_path / "population.csv"
    population.write_bytes(write(customers))
    out, features = tmp_path / "pred.csv", tmp_path / "feat.csv"
    code = main(
        ["score", "--population", str(population), "--out", str(out), "--out-features", str(features)]
    )
    assert code == 0
    ids = set(customers["customer_id"])
    for path in (out, features):
        assert _check_file(path, ids, set()) == 40
        assert [original_text(r[0]) for r in read_back(path.read_bytes())[1:]] == customers[
            "customer_id"
        ].tolist()


def test_no_csv_is_written_around_the_one_writer():
    """`DataFrame.to_csv` and `csv.writer` appear only in optimizer/csvout.py (the pages, the app's helpers,
    the CLI and the core route every CSV through it)."""
    offenders = []
    for folder in ("optimizer", "app_lib", "pages"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "csvout.py":
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"\.to_csv\(|csv\.writer\(|csv\.DictWriter\(", text):
                offenders.append(str(path.relative_to(ROOT)))
    for path in (ROOT / "app.py",):
        if ".to_csv(" in path.read_text(encoding="utf-8"):
            offenders.append(path.name)
    assert offenders == []
