"""Report tables leave as numbers: each table a report saves is a CSV of numbers and a spreadsheet
beside it with number formats (both written atomically), and the report's page links them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from salessim import reports
from salessim.io import OutputError, atomic_write_text
from salessim.notebook_helpers import save_table
from salessim.xlsx import MONEY, SHARE, UNIT_FORMATS, workbook_bytes

#: A formatted number: an optional sign (a Unicode minus too), dollar, digits with separators,
#: then a unit a page adds (%, K/M/B, points, days, ×), and optionally "to" a second one.
_NUM = r"[+\-−±]?\s*\$?\d[\d,]*(?:\.\d+)?\s*(?:%|[KMB]|pts|points?|days?|×)?"
_FORMATTED = re.compile(rf"\s*{_NUM}(?:\s*(?:to|…|–)\s*{_NUM})?\s*(?:%|pts|points?)?\s*")


def formatted_cells(df: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, cell) for every text cell that is a formatted number or interval, not a label.

    A label may hold a number ("bottom 20%", "CRM 70%"); a cell that is nothing but a number in a
    page's format ("+11.3 to +17.8 %", "$23K", "−4.1 pts", "58 days"), or any cell with a Unicode
    minus, is a figure saved as text.
    """
    found = []
    for c in df.columns:
        if pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
            continue
        for v in df[c].dropna().astype(str):
            if _FORMATTED.fullmatch(v.replace("\u00a0", " ")) or "\u2212" in v:
                found.append((str(c), v))
    return found


def check_report_tables(out: Path) -> list[str]:
    """Problems with the CSVs under ``out/*/``: text figures, or a CSV without its spreadsheet."""
    problems = []
    csvs = sorted(out.glob("*/*.csv"))
    for path in csvs:
        df = pd.read_csv(path)
        for col, cell in formatted_cells(df)[:3]:
            problems.append(f"{path.relative_to(out)}: column {col!r} holds text {cell!r}")
        if not path.with_suffix(".xlsx").is_file():
            problems.append(f"{path.relative_to(out)}: no spreadsheet beside it")
    return problems


# ------------------------------------------------------------------------------------------
# the check itself
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cell",
    [
        "+11.3 to +17.8 %",
        "−4.1",
        "$23K",
        "+2.3 to +17.7 pts",
        "58\u00a0days",
        "21.5\u00a0%",
        "$23K to $23K",
        "2.94 to 3.00",
        "1.20×",
    ],
)
def test_a_formatted_figure_is_found(cell: str) -> None:
    assert formatted_cells(pd.DataFrame({"x": [cell, "label"]})) == [("x", cell)]


@pytest.mark.parametrize(
    "cell",
    [
        "bottom 20%",
        "baseline, pipeline metrics, CRM 70%",
        "revenue 70%, new logos 30%",
        "Q3",
        "3+ h/rep/month, trained",
        "dropped on import: closes before it was created",
    ],
)
def test_a_label_with_a_number_in_it_is_not(cell: str) -> None:
    assert formatted_cells(pd.DataFrame({"x": [cell], "y": [1.5]})) == []


# ------------------------------------------------------------------------------------------
# writing: bytes atomically, CSV and spreadsheet
# ------------------------------------------------------------------------------------------
def test_atomic_write_text_writes_bytes_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    atomic_write_text(target, b"PK\x03\x04\x00\xff")
    assert target.read_bytes() == b"PK\x03\x04\x00\xff"
    atomic_write_text(target, "text again")
    assert target.read_text(encoding="utf-8") == "text again"
    assert os.listdir(tmp_path) == ["t.xlsx"]


def test_atomic_write_text_never_writes_bytes_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "t.xlsx").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        atomic_write_text(tmp_path / "t.xlsx", b"PK")
    assert victim.read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["t.xlsx", "victim.txt"]


def _cells(path: Path, sheet: str) -> dict[str, list[tuple[object, str]]]:
    ws = openpyxl.load_workbook(path)[sheet]
    rows = list(ws.iter_rows())
    head = [c.value for c in rows[0]]
    return {h: [(r[i].value, r[i].number_format) for r in rows[1:]] for i, h in enumerate(head)}


def test_save_table_writes_numbers_to_csv_and_spreadsheet(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "plan": ["=cmd()", "two goals"],
            "revenue_usd": [8.8e7, 9.1e7],
            "revenue_diff_rel": [0.0, 0.034],
            "ci_low": [-0.01, 0.012],
            "detection_lag_days": [40.0, 33.5],
            "n": [2, 2],
        }
    )
    save_table(
        df,
        tmp_path,
        "plans",
        {"ci_low": "pct_signed", "plan": "money", "missing": "money", "n": lambda v: str(v)},
    )
    assert sorted(os.listdir(tmp_path)) == ["plans.csv", "plans.xlsx"]
    back = pd.read_csv(tmp_path / "plans.csv")
    pd.testing.assert_frame_equal(back, df)
    cells = _cells(tmp_path / "plans.xlsx", "plans")
    assert [v for v, _ in cells["revenue_usd"]] == [8.8e7, 9.1e7]
    assert {f for _, f in cells["revenue_usd"]} == {MONEY}  # from the name
    assert {f for _, f in cells["revenue_diff_rel"]} == {SHARE}
    assert {f for _, f in cells["ci_low"]} == {"+0.0%;-0.0%;0.0%"}  # given: pct_signed
    assert cells["plan"][0][0] == "=cmd()"  # text stays text (no formula), whatever it is given
    about = dict(
        openpyxl.load_workbook(tmp_path / "plans.xlsx")["about"].iter_rows(
            min_row=2, max_col=2, values_only=True
        )
    )
    assert about["table"] == "plans" and about["same as"] == "plans.csv"


def test_save_table_refuses_to_replace_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "t.xlsx").symlink_to(victim)
    with pytest.raises(OutputError):
        save_table(pd.DataFrame({"x": [1.0]}), tmp_path, "t")
    assert victim.read_text() == "keep me"


def test_a_unit_column_formats_each_row_by_its_unit() -> None:
    import io

    df = pd.DataFrame(
        {
            "item": ["quota", "win rate", "cycle", "fits the week"],
            "unit": ["USD", "share", "days", "yes = 1"],
            "per_rep": [1.1e6, 0.2, 64.0, 0.0],
            "n": [1, 2, 3, 4],
        }
    )
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes({"t": df})))
    rows = list(book["t"].iter_rows(min_row=2))
    assert [r[2].number_format for r in rows] == [
        UNIT_FORMATS[u] for u in ("usd", "share", "days", "yes = 1")
    ]
    assert {r[3].number_format for r in rows} == {"0"}  # a count keeps its own format


# ------------------------------------------------------------------------------------------
# the page links its tables
# ------------------------------------------------------------------------------------------
def test_tables_section_links_every_table_escaped(tmp_path: Path) -> None:
    data = tmp_path / "mine"
    data.mkdir()
    for f in ("plans.csv", "plans.xlsx", "a b&<i>.csv", "findings.json", "mine.ipynb"):
        (data / f).write_text("x")
    (data / ".hidden.csv").write_text("x")
    (data / "elsewhere.csv").symlink_to(tmp_path / "nowhere.csv")
    section = reports.tables_section("mine", data)
    assert "<h2" in section and "Tables" in section
    hrefs = re.findall(r"href='([^']*)'", section)
    assert hrefs == ["mine/a%20b%26%3Ci%3E.csv", "mine/plans.csv", "mine/plans.xlsx"]
    assert "<i>" not in section and "a b&amp;&lt;i&gt;.csv" in section
    assert reports.active_content(section) == ""
    assert reports.tables_section("mine", tmp_path / "empty") == ""
    page = "<html><body><h1>T</h1></body></html>"
    linked = reports.with_tables(page, section)
    assert linked.index("<h1>") < linked.index("Tables") < linked.index("</body>")
    assert reports.with_tables(page, "") == page


def test_a_report_page_links_the_tables_its_notebook_wrote(tmp_path: Path) -> None:
    from test_report_notebooks import _my_notebook

    path = _my_notebook(tmp_path / "mine.ipynb")
    run = reports.run_report(str(path), out=tmp_path / "out", params={"replications": 2}, update_index=False)
    assert sorted(p.name for p in run.data.glob("numbers.*")) == ["numbers.csv", "numbers.xlsx"]
    page = run.html.read_text(encoding="utf-8")
    body = page[page.index("salessim-tables") :]
    assert re.findall(r"href='([^']*)'", body) == ["mine/numbers.csv", "mine/numbers.xlsx"]
    for href in ("mine/numbers.csv", "mine/numbers.xlsx"):  # each link opens a file beside the page
        assert (run.html.parent / href).is_file()
    assert reports.active_content(page) == ""
    assert check_report_tables(tmp_path / "out") == []


# ------------------------------------------------------------------------------------------
# the numbers the notebooks save
# ------------------------------------------------------------------------------------------
def test_capacity_numbers_are_the_plans_capacity_as_numbers_with_units() -> None:
    from salessim import plan
    from salessim.notebook_helpers import capacity_numbers

    p = plan("baseline")
    df = capacity_numbers(p)
    summary = p.capacity_summary()["per rep"]
    assert list(df["item"]) == list(summary.index)
    assert pd.api.types.is_float_dtype(df["per rep"]) and formatted_cells(df) == []
    unit = dict(zip(df["item"], df["unit"], strict=True))
    value = dict(zip(df["item"], df["per rep"], strict=True))
    assert unit["fits the week"] == "yes = 1" and value["fits the week"] == float(p.capacity.fits)
    assert unit["quota the week supports"] == "USD"
    assert value["quota the week supports"] == pytest.approx(p.capacity.supported_quota)
    assert unit["contracted hours"] == "hours" and unit["utilisation"] == "share"
    assert unit["new opportunities needed / week"] == "number"
    assert set(df["unit"]) <= set(UNIT_FORMATS) | {"USD"}


def test_effect_columns_hold_each_effect_and_its_interval() -> None:
    import math

    from salessim.notebook_helpers import Effect, effect_columns

    cols = effect_columns("revenue_diff_rel", [Effect(0.05, 0.02, 0.08, 8), None])
    assert list(cols) == ["revenue_diff_rel", "revenue_diff_rel_ci_low", "revenue_diff_rel_ci_high"]
    assert [cols[c][0] for c in cols] == [0.05, 0.02, 0.08]
    assert all(math.isnan(cols[c][1]) for c in cols)  # nothing to compare: no number, not zero
