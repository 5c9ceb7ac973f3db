"""Tables leave as numbers: ``--xlsx`` on simulate, compare, sweep and swings writes a spreadsheet whose
figures are numbers with number formats, whose text stays text, and which never replaces a link."""

from __future__ import annotations

import io
import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import run_cli

from salessim import xlsx
from salessim.xlsx import MONEY, SHARE, column_format, workbook_bytes


def _sheet(book: openpyxl.Workbook, name: str) -> pd.DataFrame:
    rows = list(book[name].iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def _formats(book: openpyxl.Workbook, name: str) -> dict[str, set[str]]:
    ws = book[name]
    rows = list(ws.iter_rows())
    head = [c.value for c in rows[0]]
    out: dict[str, set[str]] = {h: set() for h in head}
    for r in rows[1:]:
        for h, c in zip(head, r, strict=True):
            if isinstance(c.value, int | float) and not isinstance(c.value, bool):
                out[h].add(c.number_format)
    return out


def test_simulate_xlsx_holds_numbers_with_formats(tmp_path: Path, small_scenario_file: Path) -> None:
    path = tmp_path / "run.xlsx"
    r = run_cli("simulate", small_scenario_file, "-r", "2", "-s", "3", "--xlsx", path)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(["run.xlsx", "small.yaml"])  # no lock or partial left
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:3] == ["about", "periods", "reps"]
    periods = _sheet(book, "periods")
    assert pd.api.types.is_numeric_dtype(periods["revenue"])
    assert periods["replication"].tolist().count(0) == periods["replication"].tolist().count(1)
    fm = _formats(book, "periods")
    assert fm["revenue"] == {MONEY} and fm["pct_at_quota"] == {SHARE} and fm["win_rate"] == {SHARE}
    about = dict(book["about"].iter_rows(min_row=2, max_col=2, values_only=True))
    assert about["command"] == "simulate" and about["seed"] == 3 and about["replications"] == 2
    # the same figures as the Parquet tables of --out
    out = tmp_path / "out"
    assert run_cli("simulate", small_scenario_file, "-r", "2", "-s", "3", "-o", out).returncode == 0
    parquet = pd.read_parquet(out / "periods.parquet")
    assert periods["revenue"].to_numpy() == pytest.approx(parquet["revenue"].to_numpy())


def test_compare_xlsx_summary_rows_read_in_their_metric_unit(
    tmp_path: Path, small_scenario_file: Path, write_yaml
) -> None:
    variant = write_yaml(
        "more_coaching.yaml",
        f"extends: {small_scenario_file}\nname: more coaching\ncoaching:\n  joint_call_hours_per_week: 8\n",
    )
    path = tmp_path / "cmp.xlsx"
    r = run_cli(
        "compare",
        small_scenario_file,
        variant,
        "-r",
        "3",
        "-w",
        "1",
        "--no-cache",
        "--no-culture-split",
        "--xlsx",
        path,
    )
    assert r.returncode == 0, r.stderr
    book = openpyxl.load_workbook(path)
    summary = _sheet(book, "summary")
    assert pd.api.types.is_float_dtype(summary["mean"])
    ws = book["summary"]
    head = [c.value for c in next(ws.iter_rows())]
    im, imean, idiff = head.index("metric"), head.index("mean"), head.index("diff")
    seen = {}
    for row in ws.iter_rows(min_row=2):
        seen[row[im].value] = (row[imean].number_format, row[idiff].number_format)
    assert seen["revenue"] == (MONEY, MONEY)
    assert seen["win_rate"] == (SHARE, SHARE) and seen["pct_at_quota"][0] == SHARE


def test_text_from_scenarios_stays_text() -> None:
    df = pd.DataFrame(
        {"scenario": ['=HYPERLINK("http://x")', "+1", "@a", "ok\x07"], "revenue": [1.0, 2.0, 3.0, 4.0]}
    )
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes({"t": df}, {"note": "=1+1"})))
    cells = [row[0] for row in book["t"].iter_rows(min_row=2)]
    assert [c.value for c in cells] == ['=HYPERLINK("http://x")', "+1", "@a", "ok"]
    assert {c.data_type for c in cells} == {"s"}
    note = next(r for r in book["about"].iter_rows() if r[0].value == "note")[1]
    assert note.value == "=1+1" and note.data_type == "s"


def test_a_table_too_long_for_a_sheet_is_left_out_and_said(monkeypatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 3)
    small = pd.DataFrame({"revenue": [1.0, 2.0]})
    big = pd.DataFrame({"revenue": [1.0, 2.0, 3.0, 4.0]})
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes({"small": small, "big": big})))
    assert book.sheetnames == ["about", "small"]
    said = [r for r in book["about"].iter_rows(values_only=True) if r[0] == "big"]
    assert said and "left out: 4 rows" in said[0][1]


def test_column_formats_follow_names_and_types() -> None:
    assert column_format("revenue", "float64") == MONEY
    assert column_format("turnover", "float64") == SHARE
    assert column_format("detection_lag_days", "float64") == "0.0"
    assert column_format("replication", "int64") == "0"
    assert column_format("scenario", "object") is None
    assert column_format("left", "bool") is None


@pytest.mark.parametrize("kind", ["symlink", "directory"])
def test_xlsx_never_replaces_a_link_or_a_folder(tmp_path: Path, small_scenario_file: Path, kind: str) -> None:
    target = tmp_path / "book.xlsx"
    keep = tmp_path / "keep.txt"
    keep.write_text("mine")
    if kind == "symlink":
        target.symlink_to(keep)
    else:
        target.mkdir()
    r = run_cli("simulate", small_scenario_file, "-r", "1", "--xlsx", target)
    assert r.returncode == 2
    assert "--xlsx" in r.stderr and "Traceback" not in r.stderr
    assert keep.read_text() == "mine"
    assert target.is_symlink() if kind == "symlink" else target.is_dir()


def test_sweep_takes_three_fields_and_labels_every_row(tmp_path: Path, small_scenario_file: Path) -> None:
    path = tmp_path / "sweep.xlsx"
    r = run_cli(
        "sweep",
        small_scenario_file,
        "--vary",
        "coaching.joint_call_hours_per_week=2,6",
        "--vary",
        "reviews.cadence=annual,quarterly",
        "--vary",
        "prescription.enabled=false,true",
        "-r",
        "2",
        "-w",
        "1",
        "--no-cache",
        "--xlsx",
        path,
    )
    assert r.returncode == 0, r.stderr
    summary = _sheet(openpyxl.load_workbook(path), "summary")
    for col in ("coaching.joint_call_hours_per_week", "reviews.cadence", "prescription.enabled"):
        assert col in summary.columns
    combos = summary[summary["metric"] == "revenue"][
        ["coaching.joint_call_hours_per_week", "reviews.cadence", "prescription.enabled"]
    ]
    assert len(combos.drop_duplicates()) == len(combos) == 9  # 2 × 2 × 2 and the baseline
