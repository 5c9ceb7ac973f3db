"""CRM import and calibration: messy exports in, a calibrated scenario out.

See docs/model.md#calibrating-to-a-crm-export.

Fast tests read small synthetic CSVs written into ``tmp_path``; the few full calibrations (each
simulates for a few seconds) are marked ``slow``. Stochastic checks are seeded, and their
tolerances are either the issue's contract (win rate ±0.02, medians ±10 %, KS < 0.1) or derived
from the sampling distribution of the statistic in question.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from salessim import load_scenario, simulate
from salessim.calibrate import (
    calibrate,
    deals_to_opportunities,
    fit_cycle,
    funnel_stats,
    skill_spread,
)
from salessim.crm import CRMError, guess_roles, parse_amounts, parse_dates, quality_checks, read_crm
from salessim.sample_crm import make_sample

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "crm_sample"
SAMPLE_OPP = SAMPLE / "Opportunity.csv"
SAMPLE_HIST = SAMPLE / "OpportunityHistory.csv"
SAMPLE_STAGES = ["Discovery", "Proposal", "Negotiation"]
SIM_STAGES = ["discovery", "proposal", "negotiation"]

# --------------------------------------------------------------------------------------------
# small synthetic exports
# --------------------------------------------------------------------------------------------
HEADER = ["Id", "OwnerId", "StageName", "Amount", "CreatedDate", "CloseDate"]
# 2 won, 2 lost, 2 open (one open deal has no close date, the other a planned one)
BASE = [
    ["D1", "R1", "Closed Won", "1000", "2025-01-05", "2025-02-10"],
    ["D2", "R1", "Closed Lost", "2000", "2025-01-06", "2025-01-20"],
    ["D3", "R2", "Closed Won", "3000", "2025-01-10", "2025-03-01"],
    ["D4", "R2", "Closed Lost", "4000", "2025-01-12", "2025-01-30"],
    ["D5", "R3", "Proposal", "5000", "2025-02-01", ""],
    ["D6", "R3", "Discovery", "6000", "2025-03-01", "2025-06-30"],
]


def write_csv(
    path: Path,
    rows: list[list[str]],
    header: list[str] = HEADER,
    sep: str = ",",
    eol: str = "\n",
    bom: bool = False,
    encoding: str = "utf-8",
) -> Path:
    """Write an export the way a CRM would (quoting only where the separator needs it)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator=eol)
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes((("\ufeff" if bom else "") + buf.getvalue()).encode(encoding))
    return path


def by_id(opps) -> pd.DataFrame:
    return opps.table.set_index("opportunity_id")


def first_line(path: Path, read: int, kept: int) -> str:
    return f"{path}: {read} rows read, {kept} kept"


# --------------------------------------------------------------------------------------------
# messy data, one case at a time
# --------------------------------------------------------------------------------------------
def test_clean_file_reads_into_the_clean_schema(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "opps.csv", BASE)
    o = read_crm(p)
    lines = o.summary_lines()
    assert lines[0] == first_line(p, 6, 6)
    assert "  outcomes: 2 won, 2 lost, 2 open" in lines
    assert not any(line.startswith("  dropped") for line in lines)
    assert o.roles == {
        "id": "Id",
        "owner": "OwnerId",
        "stage": "StageName",
        "created": "CreatedDate",
        "closed": "CloseDate",
        "amount": "Amount",
    }
    t = by_id(o)
    assert t.loc[["D1", "D3"], "outcome"].eq("won").all()
    assert t.loc[["D2", "D4"], "outcome"].eq("lost").all()
    assert t.loc[["D5", "D6"], "outcome"].eq("open").all()
    assert t.loc["D1", "closed_at"] == pd.Timestamp("2025-02-10")
    assert t.loc["D4", "amount"] == 4000.0
    q = o.quality().set_index("item")["count"]
    assert (q["rows read"], q["rows kept"], q["won deals"], q["lost deals"], q["open deals"]) == (
        6,
        6,
        2,
        2,
        2,
    )


def test_bom_and_crlf_read_identically_to_a_clean_file(tmp_path: Path) -> None:
    clean = write_csv(tmp_path / "clean.csv", BASE)
    messy = write_csv(tmp_path / "messy.csv", BASE, eol="\r\n", bom=True)
    raw = messy.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the fixture really is messy
    a, b = read_crm(clean), read_crm(messy)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.roles == b.roles and b.roles["id"] == "Id"  # no BOM glued to the first header
    assert a.summary_lines()[1:] == b.summary_lines()[1:]
    assert b.summary_lines()[0] == first_line(messy, 6, 6)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_semicolon_separated_with_comma_decimals(tmp_path: Path, encoding: str) -> None:
    rows = [r[:] for r in BASE]
    rows[0][3] = "1.234,50 €"
    rows[1][3] = "EUR 1.000"  # whole euros, dot as thousands separator
    rows[2][3] = "16741,58"
    rows[3][3] = "€ 2.000.000,00"
    p = write_csv(tmp_path / "opps.csv", rows, sep=";", encoding=encoding)
    assert b"," in p.read_bytes() and b";" in p.read_bytes()
    o = read_crm(p)
    assert o.roles["amount"] == "Amount" and len(o.table) == 6
    assert "  outcomes: 2 won, 2 lost, 2 open" in o.summary_lines()
    amt = by_id(o)["amount"]
    assert amt["D1"] == pytest.approx(1234.50)
    assert amt["D2"] == pytest.approx(1000.0)
    assert amt["D3"] == pytest.approx(16741.58)
    assert amt["D4"] == pytest.approx(2_000_000.0)
    assert amt["D5"] == 5000.0


def test_currency_symbols_thousands_and_bracket_negatives(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE]
    rows[0][3] = "$12,345.00"
    rows[1][3] = "USD 1,000"
    rows[2][3] = "(500)"
    p = write_csv(tmp_path / "opps.csv", rows)
    o = read_crm(p)
    amt = by_id(o)["amount"]
    assert amt["D1"] == 12345.0
    assert amt["D2"] == 1000.0
    assert math.isnan(amt["D3"])  # a negative amount is cleared, the deal kept
    assert by_id(o).loc["D3", "outcome"] == "won"
    lines = o.summary_lines()
    assert lines[0] == first_line(p, 6, 6)
    assert "  amount set aside 1: negative amount (deal kept without its amount)" in lines
    assert not o.dropped and o.amounts_set_aside == {"negative amount": 1}
    assert (
        "  note: 1 deals have no amount: kept for conversion and timing, left out of deal-size estimates"
    ) in lines


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.234,50 €", 1234.50),
        ("$12,345.00", 12345.0),
        ("USD 1,000", 1000.0),
        ("(500)", -500.0),
        ("1,234,567.89", 1234567.89),
        ("€1.234.567,89", 1234567.89),
        ("12,5", 12.5),
        ("1.234.567", 1234567.0),
        ("-1,000", -1000.0),
        ("1 234,50", 1234.5),
        ("16741.58", 16741.58),
    ],
)
def test_parse_amounts_single_values(text: str, value: float) -> None:
    assert parse_amounts(pd.Series([text])).iloc[0] == pytest.approx(value)


def test_parse_amounts_blank_and_garbage_are_missing() -> None:
    assert parse_amounts(pd.Series(["", "n/a", "—"])).isna().all()


def test_parse_amounts_dot_thousands_in_a_comma_decimal_column() -> None:
    """'EUR 1.000' means a thousand euros when the column writes decimals as ',50'."""
    v = parse_amounts(pd.Series(["1.234,50 €", "EUR 1.000", "25.000 €"]))
    assert v.tolist() == pytest.approx([1234.5, 1000.0, 25000.0])
    # in a column with dot decimals a lone "2.500" keeps its decimal point
    assert parse_amounts(pd.Series(["2.500", "1,000.25"])).tolist() == pytest.approx([2.5, 1000.25])


def test_mixed_date_formats_in_one_column(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE]
    rows[0][4], rows[0][5] = "1/5/25", "2/10/2025"  # M/D/YY, M/D/YYYY
    rows[1][4], rows[1][5] = "01/06/2025", "2025-01-20"  # M/D/YYYY, ISO
    rows[2][4], rows[2][5] = "2025-01-10T09:30:00.000+0000", "3/1/25"  # Salesforce ISO, M/D/YY
    rows[3][4] = "2025-01-12 14:00:00"
    p = write_csv(tmp_path / "opps.csv", rows)
    o = read_crm(p)
    assert len(o.table) == 6 and not o.dropped
    pd.testing.assert_frame_equal(o.table, read_crm(write_csv(tmp_path / "iso.csv", BASE)).table)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("1/2/25", "2025-01-02"),
        ("01/02/2025", "2025-01-02"),
        ("1/2/2025", "2025-01-02"),
        ("2025-01-02", "2025-01-02"),
        ("2025-01-02T10:11:12.000+0000", "2025-01-02"),
        ("2025-01-02 08:00:00", "2025-01-02"),
        ("12/31/99", "1999-12-31"),
        ("1/2/25 14:30", "2025-01-02"),
        ("2.1.2025", "2025-01-02"),
    ],
)
def test_parse_dates_single_values(text: str, iso: str) -> None:
    assert parse_dates(pd.Series([text])).iloc[0] == pd.Timestamp(iso)


def test_parse_dates_blank_and_unreadable_are_missing() -> None:
    assert parse_dates(pd.Series(["", "null", "13/45/25", "someday"])).isna().all()


def test_missing_amounts_are_kept_and_counted(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE]
    rows[0][3] = ""
    rows[4][3] = ""
    p = write_csv(tmp_path / "opps.csv", rows)
    o = read_crm(p)
    lines = o.summary_lines()
    assert lines[0] == first_line(p, 6, 6)
    assert (
        "  note: 2 deals have no amount: kept for conversion and timing, left out of deal-size estimates"
    ) in lines
    t = by_id(o)
    assert t.loc[["D1", "D5"], "amount"].isna().all()
    assert t.loc["D1", "outcome"] == "won"  # still counts for conversion
    assert o.quality().set_index("item")["count"]["deals without an amount"] == 2


def test_file_without_an_amount_column_says_so(tmp_path: Path) -> None:
    p = write_csv(
        tmp_path / "opps.csv", [r[:3] + r[4:] for r in BASE], header=[h for h in HEADER if h != "Amount"]
    )
    o = read_crm(p)
    assert "amount" not in o.roles and len(o.table) == 6
    assert "  note: no amount column: deal sizes are not calibrated" in o.summary_lines()


def test_open_deals_without_a_close_date_are_kept_as_open(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE] + [["D7", "R1", "Negotiation", "700", "2025-02-15", ""]]
    p = write_csv(tmp_path / "opps.csv", rows)
    o = read_crm(p)
    t = by_id(o)
    assert o.summary_lines()[0] == first_line(p, 7, 7)
    assert "  outcomes: 2 won, 2 lost, 3 open" in o.summary_lines()
    assert t.loc[["D5", "D6", "D7"], "outcome"].eq("open").all()
    # an open deal's planned close date is not a close: it is ignored
    assert t.loc[["D5", "D6", "D7"], "closed_at"].isna().all()
    assert t.loc["D7", "stage"] == "Negotiation"


def test_close_before_create_is_dropped_with_the_reason(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE] + [
        ["D7", "R1", "Closed Won", "700", "3/1/25", "1/2/25"],
        ["D8", "R2", "Closed Lost", "800", "2025-02-01", "2025-01-31"],
        ["D9", "R3", "Proposal", "900", "2025-02-10", "2025-01-01"],  # open: planned date ignored
    ]
    p = write_csv(tmp_path / "opps.csv", rows)
    o = read_crm(p)
    lines = o.summary_lines()
    assert lines[0] == first_line(p, 9, 7)
    assert "  dropped 2: closes before it was created" in lines
    ids = set(o.table["opportunity_id"])
    assert "D7" not in ids and "D8" not in ids and "D9" in ids
    assert "  outcomes: 2 won, 2 lost, 3 open" in lines


def test_stale_open_deals_are_dropped_with_the_reason(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE] + [
        ["L1", "R1", "Discovery", "", "3/1/21", ""],
        ["L2", "R2", "Proposal", "", "3/2/21", ""],
        ["D7", "R3", "Discovery", "700", "2025-01-05", ""],  # as old as the oldest closed: kept
    ]
    p = write_csv(tmp_path / "opps.csv", rows)
    o = read_crm(p)
    lines = o.summary_lines()
    assert lines[0] == first_line(p, 9, 7)
    assert "  dropped 2: stale open deal, older than every closed deal" in lines
    ids = set(o.table["opportunity_id"])
    assert {"L1", "L2"}.isdisjoint(ids) and "D7" in ids
    assert "  outcomes: 2 won, 2 lost, 3 open" in lines


def test_duplicate_and_empty_ids_are_dropped(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE] + [
        ["D1", "R9", "Closed Lost", "99", "2025-01-07", "2025-01-09"],  # a second D1
        ["", "R1", "Closed Won", "10", "2025-01-07", "2025-01-09"],
    ]
    p = write_csv(tmp_path / "opps.csv", rows)
    o = read_crm(p)
    lines = o.summary_lines()
    assert lines[0] == first_line(p, 8, 6)
    assert "  dropped 2: duplicate or empty opportunity id" in lines
    t = by_id(o)
    assert t.index.is_unique
    assert t.loc["D1", "rep_id"] == "R1" and t.loc["D1", "outcome"] == "won"  # the first one kept


def test_unreadable_created_date_and_missing_close_are_dropped(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE] + [
        ["D7", "R1", "Closed Won", "700", "someday", "2025-02-01"],
        ["D8", "R1", "Closed Lost", "800", "2025-02-01", ""],
    ]
    o = read_crm(write_csv(tmp_path / "opps.csv", rows))
    lines = o.summary_lines()
    assert "  dropped 1: created date missing or unreadable" in lines
    assert "  dropped 1: closed deal without a close date" in lines
    assert len(o.table) == 6


def test_kept_plus_dropped_rows_add_up(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE] + [
        ["D1", "R9", "Closed Lost", "99", "2025-01-07", "2025-01-09"],
        ["D7", "R1", "Closed Won", "700", "3/1/25", "1/2/25"],
        ["L1", "R1", "Discovery", "", "3/1/21", ""],
        ["D8", "R1", "Closed Won", "(5)", "2025-01-07", "2025-01-09"],
    ]
    o = read_crm(write_csv(tmp_path / "opps.csv", rows))
    assert o.rows_read == len(o.table) + sum(o.dropped.values()) == 10
    assert o.amounts_set_aside == {"negative amount": 1}  # D8: kept, without its amount
    assert by_id(o).loc["D8", "outcome"] == "won"


def test_summary_never_says_dropped_for_a_kept_row(tmp_path: Path) -> None:
    """Every amount set aside names its deal as kept; every "dropped" line is a row that is gone."""
    rows = [r[:] for r in BASE] + [
        ["D7", "R1", "Closed Won", "1e300", "2025-01-07", "2025-01-09"],  # implausible
        ["D8", "R1", "Closed Lost", "about 3k", "2025-01-07", "2025-01-09"],  # unreadable
        ["D9", "R1", "Closed Won", "(5)", "2025-01-07", "2025-01-09"],  # negative
        ["D10", "R1", "Closed Won", "700", "3/1/25", "1/2/25"],  # dropped
    ]
    o = read_crm(write_csv(tmp_path / "opps.csv", rows))
    kept = set(o.table["opportunity_id"])
    assert {"D7", "D8", "D9"} <= kept and "D10" not in kept
    assert o.dropped == {"closes before it was created": 1}
    assert o.amounts_set_aside == {"implausible amount": 1, "unreadable amount": 1, "negative amount": 1}
    lines = o.summary_lines()
    assert [line for line in lines if line.startswith("  dropped")] == [
        "  dropped 1: closes before it was created"
    ]
    for reason in ("implausible amount", "unreadable amount", "negative amount"):
        assert f"  amount set aside 1: {reason} (deal kept without its amount)" in lines
    assert not any("kept" in line for line in lines if line.startswith("  dropped"))
    q = o.quality().set_index("item")["count"]
    assert q["dropped: closes before it was created"] == 1
    assert q["amount set aside, deal kept: implausible amount"] == 1
    assert not any(item.startswith("dropped") and "amount" in item for item in q.index)


def test_a_dropped_row_has_no_amount_set_aside(tmp_path: Path) -> None:
    """A stale open deal with an absurd amount is dropped, and counted only as dropped."""
    rows = [r[:] for r in BASE] + [["L1", "R1", "Discovery", "1e300", "2020-03-01", ""]]
    o = read_crm(write_csv(tmp_path / "opps.csv", rows))
    assert "L1" not in set(o.table["opportunity_id"])
    assert o.dropped == {"stale open deal, older than every closed deal": 1}
    assert not o.amounts_set_aside
    assert not any("amount" in line for line in o.summary_lines()[1:] if "columns used" not in line)


def _observed(o) -> pd.DataFrame:
    """The report's observed table: the import's, with stage_reached."""
    return o.table.assign(stage_reached=o.table["stage"])


def test_quality_checks_count_each_problem_once(tmp_path: Path) -> None:
    """A kept deal whose amount was set aside is neither a dropped row nor a missing amount."""
    rows = [r[:] for r in BASE] + [
        ["D7", "R1", "Closed Won", "1e300", "2025-01-07", "2025-01-09"],  # set aside, kept
        ["D8", "R1", "Closed Lost", "", "2025-01-07", "2025-01-09"],  # missing, kept
        ["D9", "R1", "Closed Won", "700", "3/1/25", "1/2/25"],  # dropped
    ]
    o = read_crm(write_csv(tmp_path / "opps.csv", rows))
    dq = quality_checks(
        _observed(o), ["Proposal", "Discovery"], o.dropped, o.amounts_set_aside, o.rows_read
    ).set_index("check")
    assert dq.loc["dropped on import: closes before it was created", "rows"] == 1
    assert (
        dq.loc["dropped on import: closes before it was created", "why it matters"]
        == "left out of every estimate"
    )
    assert dq.loc["amount set aside on import: implausible amount", "rows"] == 1
    assert "kept" in dq.loc["amount set aside on import: implausible amount", "why it matters"]
    assert dq.loc["missing or non-positive amount", "rows"] == 1  # D8 only, not D7 again
    # every deal without an amount is counted once, and only the dropped row is left out
    amount_rows = dq.loc[[c for c in dq.index if "amount" in c], "rows"].sum()
    assert amount_rows == int(o.table["amount"].isna().sum()) == 2
    left_out = dq.loc[[c for c in dq.index if c.startswith("dropped")], "rows"].sum()
    assert left_out == o.rows_read - len(o.table) == 1
    assert dq.loc["dropped on import: closes before it was created", "share"] == pytest.approx(1 / 9)
    assert set(dq["status"]) <= {"ok", "minor", "fix"}
    assert dq.loc["duplicate opportunity ids", "status"] == "ok"


def test_quality_checks_without_an_import() -> None:
    """The stand-in export: no import counts; the share is over the rows given."""
    t = pd.DataFrame(
        {
            "opportunity_id": ["A", "A", "B"],
            "amount": [1.0, np.nan, 0.0],
            "created_at": pd.to_datetime(["2025-01-01"] * 3),
            "closed_at": pd.to_datetime(["2025-02-01", None, "2024-12-01"]),
            "outcome": ["won", "open", "lost"],
            "stage_reached": ["won", "x", "s1"],
        }
    )
    dq = quality_checks(t, ["s1"]).set_index("check")
    assert not any(c.startswith(("dropped", "amount set aside")) for c in dq.index)
    assert dq.loc["duplicate opportunity ids", "rows"] == 1
    assert dq.loc["missing or non-positive amount", "rows"] == 2
    assert dq.loc["closed before created", "rows"] == 1
    assert dq.loc["stage not in the funnel", "rows"] == 1
    assert dq.loc["duplicate opportunity ids", "share"] == pytest.approx(1 / 3)
    assert dq.loc["duplicate opportunity ids", "status"] == "fix"


# --------------------------------------------------------------------------------------------
# roles and outcomes
# --------------------------------------------------------------------------------------------
ALT_HEADER = [
    "Opportunity ID",
    "Sales Rep",
    "Stage",
    "Deal Value",
    "Created Date",
    "Close Date",
    "Product Family",
    "Opportunity Type",
    "Sales Manager",
]


def test_roles_guessed_from_alternative_header_names(tmp_path: Path) -> None:
    rows = [[*r, "A", "New", "M1"] for r in BASE]
    p = write_csv(tmp_path / "export.csv", rows, header=ALT_HEADER)
    o = read_crm(p)
    assert o.roles == {
        "id": "Opportunity ID",
        "owner": "Sales Rep",
        "stage": "Stage",
        "created": "Created Date",
        "closed": "Close Date",
        "amount": "Deal Value",
        "product": "Product Family",
        "segment": "Opportunity Type",
        "manager": "Sales Manager",
    }
    ref = read_crm(write_csv(tmp_path / "ref.csv", BASE)).table
    cols = ["opportunity_id", "rep_id", "amount", "created_at", "closed_at", "stage", "outcome"]
    pd.testing.assert_frame_equal(o.table[cols], ref[cols])
    assert o.table["product"].eq("A").all() and o.table["manager_id"].eq("M1").all()


def test_column_mapping_overrides_the_guess(tmp_path: Path) -> None:
    header = ["Id", "Owner", "Rep Name", "Stage", "Created", "Opened", "Closed", "Amount"]
    rows = [[r[0], "owner-" + r[1], "rep-" + r[1], r[2], "2020-01-01", r[4], r[5], r[3]] for r in BASE]
    p = write_csv(tmp_path / "opps.csv", rows, header=header)
    guessed = read_crm(p)
    assert guessed.roles["owner"] == "Owner" and guessed.roles["created"] == "Created"
    o = read_crm(p, columns={"owner": "Rep Name", "created": "Opened"})
    assert o.roles["owner"] == "Rep Name" and o.roles["created"] == "Opened"
    t = by_id(o)
    assert t.loc["D1", "rep_id"] == "rep-R1"
    assert t.loc["D1", "created_at"] == pd.Timestamp("2025-01-05")


def test_guess_roles_rejects_an_unknown_role_and_a_missing_column() -> None:
    cols = ["Id", "Owner", "Stage", "Created"]
    with pytest.raises(CRMError, match=r"--column colour=Id: unknown role \(roles: id, owner"):
        guess_roles(cols, {"colour": "Id"})
    with pytest.raises(
        CRMError,
        match=r"--column owner=Rep: no such column \(columns: Id, Owner, "
        r"Stage, Created\)",
    ):
        guess_roles(cols, {"owner": "Rep"})


def test_read_crm_rejects_a_mapping_to_a_missing_column(tmp_path: Path) -> None:
    p = write_csv(tmp_path / "opps.csv", BASE)
    with pytest.raises(CRMError, match="no such column"):
        read_crm(p, columns={"owner": "Sales Rep"})


def test_common_won_lost_names_are_recognised(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE]
    rows[0][2], rows[1][2], rows[2][2], rows[3][2] = "Signed", "Dead", "Won", "closed-lost"
    o = read_crm(write_csv(tmp_path / "opps.csv", rows))
    assert "  outcomes: 2 won, 2 lost, 2 open" in o.summary_lines()


def test_custom_won_lost_values(tmp_path: Path) -> None:
    rows = [r[:] for r in BASE]
    rows[0][2], rows[1][2], rows[2][2], rows[3][2] = "Booked-Q", "Gone-Q", "booked-q", "Gone-Q"
    p = write_csv(tmp_path / "opps.csv", rows)
    with pytest.raises(CRMError, match=r"Name them with --won VALUE / --lost VALUE") as e:
        read_crm(p)
    assert "'StageName'" in str(e.value) and "Booked-Q" in str(e.value)
    o = read_crm(p, won=["Booked-Q"], lost=["Gone-Q"])
    assert "  outcomes: 2 won, 2 lost, 2 open" in o.summary_lines()
    t = by_id(o)
    assert t.loc[["D1", "D3"], "outcome"].eq("won").all()
    assert t.loc[["D2", "D4"], "outcome"].eq("lost").all()


def test_no_recognisable_won_lost_values_asks_for_won_lost(tmp_path: Path) -> None:
    rows = [
        [r[0], r[1], s, r[3], r[4], r[5]]
        for r, s in zip(BASE, ["Stage 5", "Stage 0", "Stage 5", "Stage 0", "Stage 2", "Stage 1"], strict=True)
    ]
    with pytest.raises(CRMError) as e:
        read_crm(write_csv(tmp_path / "opps.csv", rows))
    msg = str(e.value)
    assert "no won or lost deals recognised" in msg and "--won" in msg and "--lost" in msg
    assert "Stage 0, Stage 1, Stage 2, Stage 5" in msg


def test_salesforce_is_closed_is_won_flags_decide_the_outcome(tmp_path: Path) -> None:
    header = [*HEADER, "IsClosed", "IsWon"]
    rows = [
        ["D1", "R1", "Contract Executed", "1000", "2025-01-05", "2025-02-10", "true", "true"],
        ["D2", "R1", "Rejected", "2000", "2025-01-06", "2025-01-20", "TRUE", "FALSE"],
        ["D3", "R2", "Contract Executed", "3000", "2025-01-10", "2025-03-01", "1", "1"],
        ["D4", "R2", "Proposal", "4000", "2025-01-12", "2025-01-30", "1", "0"],
        ["D5", "R3", "Proposal", "5000", "2025-02-01", "", "false", "false"],
        ["D6", "R3", "Discovery", "6000", "2025-03-01", "2025-06-30", "False", "False"],
    ]
    o = read_crm(write_csv(tmp_path / "opps.csv", rows, header=header))
    assert o.roles["is_closed"] == "IsClosed" and o.roles["is_won"] == "IsWon"
    t = by_id(o)
    assert t["outcome"].to_dict() == {
        "D1": "won",
        "D2": "lost",
        "D3": "won",
        "D4": "lost",
        "D5": "open",
        "D6": "open",
    }
    assert t.loc["D4", "stage"] == "Proposal"  # a lost deal keeps the stage it was closed at


# --------------------------------------------------------------------------------------------
# stage history
# --------------------------------------------------------------------------------------------
def test_history_gives_stage_order_and_where_lost_deals_were_lost(tmp_path: Path) -> None:
    # stage names deliberately out of alphabetical order: Qualify → Demo → Contract
    opp = write_csv(
        tmp_path / "Opportunity.csv",
        [
            ["A", "R1", "Closed Won", "100", "2025-01-01", "2025-01-20"],
            ["B", "R1", "Closed Lost", "100", "2025-01-02", "2025-01-08"],
            ["C", "R2", "Closed Lost", "100", "2025-01-03", "2025-01-09"],
            ["D", "R2", "Closed Lost", "100", "2025-01-04", "2025-01-30"],
            ["E", "R3", "Demo", "100", "2025-01-05", ""],
        ],
    )
    hist_rows = [
        ["D", "Contract", "2025-01-20"],
        ["A", "Closed Won", "2025-01-20"],
        ["A", "Qualify", "2025-01-01"],
        ["A", "Demo", "2025-01-05"],
        ["A", "Contract", "2025-01-10"],
        ["B", "Qualify", "2025-01-02"],
        ["B", "Closed Lost", "2025-01-08"],
        ["C", "Qualify", "2025-01-03"],
        ["C", "Demo", "2025-01-03"],  # same day, file order
        ["C", "Closed Lost", "2025-01-09"],
        ["D", "Qualify", "1/4/25"],
        ["D", "Demo", "1/10/25"],
        ["D", "Closed Lost", "1/30/25"],
        ["E", "Qualify", "2025-01-05"],
        ["E", "Demo", "2025-01-07"],
        ["E", "Demo", "not a date"],
    ]
    hist = write_csv(
        tmp_path / "OpportunityHistory.csv",
        hist_rows,
        header=["OpportunityId", "StageName", "CreatedDate"],
        eol="\r\n",
        bom=True,
    )
    o = read_crm(opp, history=hist)
    assert o.stage_order == ["Qualify", "Demo", "Contract"]
    assert by_id(o)["stage"].to_dict() == {
        "A": "won",
        "B": "Qualify",
        "C": "Demo",
        "D": "Contract",
        "E": "Demo",
    }
    assert "  dropped 1: history rows with unreadable dates" in o.summary_lines()
    assert o.history is not None and set(o.history["kind"]) == {"open", "won", "lost"}
    # the funnel measured on it: Qualify 4 passed (A, C, D, E) of 5, Demo 2 (A, D) of 3, ...
    fs = funnel_stats(o.table, o.stage_order)
    np.testing.assert_allclose(fs.conversions, [4 / 5, 2 / 3, 1 / 2])


def test_history_file_without_the_needed_columns_is_an_error(tmp_path: Path) -> None:
    opp = write_csv(tmp_path / "opps.csv", BASE)
    hist = write_csv(tmp_path / "hist.csv", [["D1", "x"]], header=["Deal", "When"])
    with pytest.raises(CRMError, match=r"OpportunityId, StageName and CreatedDate.*found: Deal, When"):
        read_crm(opp, history=hist)


def test_sample_export_with_history(tmp_path: Path) -> None:
    o = read_crm(SAMPLE_OPP, history=SAMPLE_HIST)
    assert o.stage_order == SAMPLE_STAGES
    lines = o.summary_lines()
    # make_sample writes 3 close-before-create deals and 4 stale open deals on purpose
    assert lines[0] == first_line(SAMPLE_OPP, 12634, 12627)
    assert "  dropped 4: stale open deal, older than every closed deal" in lines
    assert "  dropped 3: closes before it was created" in lines
    assert "  outcomes: 2454 won, 8984 lost, 1189 open" in lines
    assert o.roles["is_won"] == "IsWon" and o.roles["is_closed"] == "IsClosed"
    assert o.roles["product"] == "Product__c" and o.roles["segment"] == "Type"
    t = o.table
    lost = t[t["outcome"] == "lost"]
    assert lost["stage"].isin(SAMPLE_STAGES).all()  # every lost deal attributed to a stage
    # independently: the last open stage in each lost deal's history
    h = pd.read_csv(SAMPLE_HIST, encoding="utf-8-sig")
    h = h[h["StageName"].isin(SAMPLE_STAGES)]
    last = h.groupby("OpportunityId")["StageName"].last()  # file rows are chronological
    pd.testing.assert_series_equal(
        lost.set_index("opportunity_id")["stage"], last.reindex(lost["opportunity_id"]), check_names=False
    )
    assert lost["stage"].value_counts()[SAMPLE_STAGES].is_monotonic_decreasing


def test_sample_export_without_history_knows_no_stage_order() -> None:
    """Lost deals say only 'Closed Lost': the stage order cannot be read from the table."""
    o = read_crm(SAMPLE_OPP)
    assert o.stage_order == []
    assert (
        "  note: stage where lost deals were lost is unknown (no history file, no "
        "stage_reached): only the overall win rate can be estimated"
    ) in o.summary_lines()


def test_make_sample_reproduces_the_committed_sample(tmp_path: Path) -> None:
    opp, hist = make_sample(tmp_path)
    assert opp.read_bytes() == SAMPLE_OPP.read_bytes()
    assert hist.read_bytes() == SAMPLE_HIST.read_bytes()


# --------------------------------------------------------------------------------------------
# salessim's own deals.csv
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sim_deals(tmp_path_factory, cli) -> Path:
    """`salessim simulate baseline -r 1 --deals --out DIR` → DIR/deals.csv."""
    out = tmp_path_factory.mktemp("sim") / "baseline"
    res = cli("simulate", "baseline", "-r", "1", "--deals", "--out", out)
    assert res.returncode == 0, res.stderr
    return out / "deals.csv"


def test_salessim_deals_csv_read_as_is(sim_deals: Path) -> None:
    raw = pd.read_csv(sim_deals)
    o = read_crm(sim_deals)
    assert o.rows_read == len(raw) == len(o.table) and not o.dropped
    assert o.stage_order == SIM_STAGES
    assert o.roles == {
        "id": "opportunity_id",
        "owner": "rep_id",
        "stage": "stage_reached",
        "created": "created_at",
        "closed": "closed_at",
        "amount": "amount",
        "product": "product",
        "segment": "segment",
        "manager": "manager_id",
        "outcome": "outcome",
    }
    assert o.table["outcome"].value_counts().to_dict() == raw["outcome"].value_counts().to_dict()
    t = by_id(o)
    r = raw.set_index("opportunity_id").loc[t.index]
    np.testing.assert_allclose(t["amount"].to_numpy(), r["amount"].to_numpy())
    lost = t["outcome"] == "lost"
    assert (t.loc[lost, "stage"] == r.loc[lost, "stage_reached"]).all()
    assert t.loc[t["outcome"] == "won", "stage"].eq("won").all()
    assert t["rep_id"].str.startswith("baseline/0:").all()
    assert any("salessim deal log" in line for line in o.summary_lines())


# --------------------------------------------------------------------------------------------
# estimators
# --------------------------------------------------------------------------------------------
def _table(spec: list[tuple[str, str, int]]) -> pd.DataFrame:
    """A clean opportunity table from (outcome, stage reached, count) groups."""
    rows = []
    day = pd.Timestamp("2025-01-01")
    for outcome, stage, count in spec:
        for _ in range(count):
            i = len(rows)
            created = day + pd.Timedelta(days=i)
            closed = created + pd.Timedelta(days=10 + i) if outcome != "open" else pd.NaT
            rows.append(
                {
                    "opportunity_id": f"O{i}",
                    "rep_id": f"R{i % 3}",
                    "manager_id": "",
                    "segment": "",
                    "product": "",
                    "amount": 1000.0 + i,
                    "created_at": created,
                    "closed_at": closed,
                    "stage": "won" if outcome == "won" else stage,
                    "outcome": outcome,
                }
            )
    return pd.DataFrame(rows)


def test_funnel_stats_treats_open_deals_as_censored_not_lost() -> None:
    t = _table(
        [
            ("won", "", 10),
            ("lost", "a", 6),
            ("lost", "b", 4),
            ("lost", "c", 2),
            ("open", "a", 5),
            ("open", "b", 3),
            ("open", "c", 1),
        ]
    )
    fs = funnel_stats(t, ["a", "b", "c"])
    assert (fs.n, fs.won, fs.lost, fs.open) == (31, 10, 12, 9)
    assert fs.win_rate == pytest.approx(10 / 22)  # not 10 / 31
    assert fs.win_rate_se == pytest.approx(math.sqrt((10 / 22) * (12 / 22) / 22))
    # a: passed = 10 won + 6 lost later + 4 open beyond a; resolved = passed + 6 lost at a
    np.testing.assert_allclose(fs.conversions, [20 / 26, 13 / 17, 10 / 12])
    np.testing.assert_array_equal(fs.conversion_n, [26, 17, 12])
    assert np.prod(fs.conversions) != pytest.approx(fs.win_rate)  # censoring is per stage
    won_cycles = (
        t.loc[t["outcome"] == "won", "closed_at"] - t.loc[t["outcome"] == "won", "created_at"]
    ).dt.days
    np.testing.assert_array_equal(fs.won_cycle, won_cycles.to_numpy(float))


def test_funnel_stats_open_deals_do_not_change_the_win_rate() -> None:
    closed = [("won", "", 10), ("lost", "a", 6), ("lost", "b", 4), ("lost", "c", 2)]
    a = funnel_stats(_table(closed), ["a", "b", "c"])
    b = funnel_stats(_table([*closed, ("open", "a", 30)]), ["a", "b", "c"])
    assert a.win_rate == b.win_rate
    # 30 deals open at the first stage are unresolved there: every conversion stays the same
    np.testing.assert_allclose(a.conversions, b.conversions)


def test_fit_cycle_calls_a_bimodal_sample_empirical() -> None:
    rng = np.random.default_rng(20260)
    n = 2000
    fast = rng.random(n) < 0.5
    x = np.where(fast, rng.lognormal(math.log(20), 0.3, n), rng.lognormal(math.log(120), 0.3, n))
    f = fit_cycle(x)
    assert f["n"] == n and f["multimodal"] is True
    assert f["chosen"] == "empirical"
    assert f["why"].startswith("a two-component mixture fits better than any single distribution")
    modes = sorted(math.exp(m) for m in f["mixture"]["means"])
    assert modes[0] == pytest.approx(20, rel=0.1) and modes[1] == pytest.approx(120, rel=0.1)
    assert min(f["mixture"]["weights"]) > 0.4


def test_fit_cycle_picks_gamma_for_a_gamma_sample() -> None:
    rng = np.random.default_rng(20261)
    x = rng.gamma(3.0, 20.0, 2000)
    f = fit_cycle(x)
    assert f["multimodal"] is False
    assert f["chosen"] == "gamma" == f["best"]
    assert f["why"] == "gamma has the lowest AIC; no second mode worth a mixture"
    assert f["table"]["distribution"].iloc[0] == "gamma"
    shape, _, scale = f["table"].iloc[0]["params"]
    assert shape == pytest.approx(3.0, rel=0.1) and scale == pytest.approx(20.0, rel=0.1)


def test_fit_cycle_with_too_few_deals() -> None:
    assert fit_cycle(np.array([5.0, 10.0, 12.0]))["chosen"] == "too few deals"


def _reps(p_of_rep, reps: int, deals: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (f"r{i}", "won" if rng.random() < p_of_rep(i) else "lost") for i in range(reps) for _ in range(deals)
    ]
    return pd.DataFrame(rows, columns=["rep_id", "outcome"])


STAGE_CONV = [0.5, 0.55, 0.7]


def test_skill_spread_indistinguishable_for_homogeneous_reps() -> None:
    # 40 reps × 60 deals at p = 0.2: the homogeneity test should reject only ~5 % of the time.
    # Over 20 seeds, ≥ 16 "indistinguishable" verdicts fails with probability ≈ 0.3 % if it works.
    verdicts = [skill_spread(_reps(lambda i: 0.2, 40, 60, seed), STAGE_CONV) for seed in range(20)]
    assert sum(v["indistinguishable"] for v in verdicts) >= 16
    v = next(v for v in verdicts if v["indistinguishable"])
    assert v["reps"] == 40
    assert v["note"].startswith("rep differences are indistinguishable from binomial noise")
    assert v["note"].endswith("skill spread left at the baseline")
    # no spread beyond noise: every rep is shrunk all the way to the pooled rate
    assert v["shrunken_win_rates"].nunique() == 1


def test_skill_spread_distinguishable_when_reps_really_differ() -> None:
    t = _reps(lambda i: 0.10 if i % 2 else 0.35, 40, 60, seed=3)
    v = skill_spread(t, STAGE_CONV)
    assert v["indistinguishable"] is False and v["p_value"] < 1e-6
    assert v["note"].startswith("reps differ beyond noise")
    # the true between-rep sd of the win rate is 0.125; on the model's log-odds scale
    p = (t["outcome"] == "won").mean()
    true_sd = 0.125 / (p * sum(1 - c for c in STAGE_CONV))
    assert v["ci"][0] < true_sd < v["ci"][1]
    raw = t.groupby("rep_id")["outcome"].apply(lambda s: (s == "won").mean())
    shrunk = v["shrunken_win_rates"]
    assert ((shrunk - p).abs() <= (raw[shrunk.index] - p).abs() + 1e-12).all()


def test_skill_spread_with_too_few_reps() -> None:
    v = skill_spread(_reps(lambda i: 0.2, 2, 30, seed=0), STAGE_CONV)
    assert v["indistinguishable"] is True and "fewer than 3 reps" in v["note"]


# --------------------------------------------------------------------------------------------
# missing roles: read_crm and the CLI
# --------------------------------------------------------------------------------------------
def test_missing_required_roles_name_the_roles_and_the_columns(tmp_path: Path) -> None:
    p = write_csv(
        tmp_path / "thin.csv", [["Acme", "Closed Won", "100"]], header=["Account", "Stage", "Amount"]
    )
    with pytest.raises(CRMError) as e:
        read_crm(p)
    msg = str(e.value)
    assert "missing required column roles: id, created." in msg
    assert "Columns found: Account, Stage, Amount." in msg
    assert "--column ROLE=COLUMN" in msg


def _assert_exit_2(res, *needles: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    assert res.stderr.startswith("salessim: error: ")
    for n in needles:
        assert n in res.stderr, (n, res.stderr)


def test_cli_missing_roles_exits_2_and_writes_nothing(tmp_path: Path, cli) -> None:
    p = write_csv(
        tmp_path / "thin.csv", [["Acme", "Closed Won", "100"]], header=["Account", "Stage", "Amount"]
    )
    new = tmp_path / "new.yaml"
    res = cli("calibrate", p, "-o", new)
    _assert_exit_2(res, "missing required column roles: id, created", "Columns found: Account, Stage, Amount")
    assert not new.exists()
    old = tmp_path / "old.yaml"
    old.write_text("extends: baseline\nname: keep_me\n", encoding="utf-8")
    before = (old.read_bytes(), old.stat().st_mtime_ns)
    res = cli("calibrate", p, "-o", old)
    _assert_exit_2(res, "id, created")
    assert (old.read_bytes(), old.stat().st_mtime_ns) == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["old.yaml", "thin.csv"]


def test_cli_bad_column_mapping_exits_2(tmp_path: Path, cli) -> None:
    p = write_csv(tmp_path / "opps.csv", BASE)
    _assert_exit_2(cli("calibrate", p, "--column", "colour=Id"), "unknown role")
    _assert_exit_2(
        cli("calibrate", p, "--column", "owner=Sales Rep"), "no such column", "Id, OwnerId, StageName"
    )
    _assert_exit_2(cli("calibrate", p, "--column", "owner"), "expected ROLE=COLUMN")


def test_cli_unrecognised_won_lost_exits_2(tmp_path: Path, cli) -> None:
    rows = [r[:] for r in BASE]
    for r in rows[:4]:
        r[2] = "Booked-Q" if r[2] == "Closed Won" else "Gone-Q"
    _assert_exit_2(cli("calibrate", write_csv(tmp_path / "opps.csv", rows)), "--won VALUE / --lost VALUE")


def test_cli_missing_file_exits_2(tmp_path: Path, cli) -> None:
    _assert_exit_2(cli("calibrate", tmp_path / "nope.csv"), "file not found")


# --------------------------------------------------------------------------------------------
# full calibrations (slow: each simulates for a few seconds) — three in this file
# --------------------------------------------------------------------------------------------
VERIFY_REPLICATIONS, VERIFY_SEED = 8, 4242
# Tolerances: the contract. Single-replication win rates of the calibrated baseline
# scatter with sd ≈ 0.009 (rep skill draws), so the mean of 8 replications has sd ≈ 0.003 and the
# ±0.02 band is ~6 sd wide; medians of ~18 000 won deals have standard errors well under 2 %.


def _simulated(sc, stages: list[str]):
    res = simulate(sc, replications=VERIFY_REPLICATIONS, seed=VERIFY_SEED, deals=True)
    return funnel_stats(deals_to_opportunities(res.deals), stages)


@pytest.mark.slow
def test_round_trip_simulate_export_calibrate_simulate(sim_deals: Path, tmp_path: Path) -> None:
    cal = calibrate(sim_deals)
    assert cal.data.stage_order == SIM_STAGES
    out = tmp_path / "calibrated.yaml"
    out.write_text(cal.to_yaml(), encoding="utf-8")
    sc = load_scenario(out)
    obs = cal.observed
    sim = _simulated(sc, SIM_STAGES)
    from scipy import stats

    ks = float(stats.ks_2samp(obs.won_cycle, sim.won_cycle).statistic)
    d_cycle = sim.median_won_cycle / obs.median_won_cycle - 1
    d_amount = sim.median_won_amount / obs.median_won_amount - 1
    report = (
        f"round trip: win rate observed {obs.win_rate:.4f} simulated {sim.win_rate:.4f}; "
        f"median won cycle {obs.median_won_cycle:.1f} → {sim.median_won_cycle:.1f} days "
        f"({100 * d_cycle:+.1f} %); median won amount {obs.median_won_amount:,.0f} → "
        f"{sim.median_won_amount:,.0f} ({100 * d_amount:+.1f} %); KS won cycle {ks:.3f}"
    )
    print(report)
    assert abs(sim.win_rate - obs.win_rate) <= 0.02, report
    assert abs(d_cycle) <= 0.10, report
    assert abs(d_amount) <= 0.10, report
    assert ks < 0.1, report
    # the calibration's own verification says the same
    cmp = cal.comparison().set_index("quantity")
    assert abs(cmp.loc["win rate", "difference"]) <= 0.02
    assert abs(cmp.loc["median won cycle (days)", "relative"]) <= 0.10
    assert abs(cmp.loc["median won amount", "relative"]) <= 0.10
    assert cal.ks()["won_cycle"] < 0.1
    # estimates: censoring note, the configured baseline recovered where the levers leave it
    est = cal.estimates.set_index("parameter")
    assert est.loc["win rate", "value"] == pytest.approx(obs.win_rate)
    assert f"{obs.open} open deals censored" in est.loc["win rate", "note"]
    assert cal.cycle_fit["chosen"] in {"gamma", "lognormal", "weibull"}
    assert cal.skill["indistinguishable"] is False
    lo, hi = cal.skill["ci"]
    # the spread of the sellers' effective skill over the year (the settled sales force has let
    # go of its weakest hires, and coaching and ramp move skill), from the run's own reps table
    reps = pd.read_parquet(sim_deals.parent / "reps.parquet")
    year = reps[reps["period"] == "year"]
    realised = float(((year["skill_start"] + year["skill_end"]) / 2).std())
    assert lo < realised < hi, (lo, realised, hi)
    for product, configured in (("A", 26000.0), ("B", 20000.0)):
        assert est.loc[f"deal size median, product {product}", "value"] == pytest.approx(configured, rel=0.10)
    text = out.read_text(encoding="utf-8")
    assert yaml.safe_load(text)["extends"] == "baseline"
    assert "# Cycle time:" in text and "# Skill spread:" in text


@pytest.mark.slow
def test_cli_calibrate_on_the_sample(tmp_path: Path, cli, monkeypatch) -> None:
    out = tmp_path / "calibrated.yaml"
    res = cli(
        "calibrate",
        "data/crm_sample/Opportunity.csv",
        "--history",
        "data/crm_sample/OpportunityHistory.csv",
        "-o",
        out,
    )
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    monkeypatch.chdir(REPO)
    data = read_crm("data/crm_sample/Opportunity.csv", "data/crm_sample/OpportunityHistory.csv")
    printed = res.stdout.splitlines()
    flat = " ".join(res.stdout.split())
    for line in data.summary_lines():
        assert " ".join(line.split()) in flat, line
        if len(line) <= 120:  # the console is 120 wide: longer lines wrap
            assert line in printed, line
    assert "data/crm_sample/Opportunity.csv: 12634 rows read, 12627 kept" in printed
    assert "  dropped 3: closes before it was created" in printed
    assert out.exists() and f"wrote {out}" in flat
    text = out.read_text(encoding="utf-8")
    assert yaml.safe_load(text)["extends"] == "baseline"
    sc = load_scenario(out)
    base = load_scenario("baseline").to_dict()
    d = sc.to_dict()
    assert [s["name"] for s in d["funnel"]["stages"]] == SAMPLE_STAGES
    assert d["coaching"] == base["coaching"] and d["reviews"] == base["reviews"]  # inherited
    obs = funnel_stats(data.table, data.stage_order)
    sim = _simulated(sc, SAMPLE_STAGES)
    print(f"sample: win rate observed {obs.win_rate:.4f}, simulated {sim.win_rate:.4f}")
    assert obs.win_rate == pytest.approx(2454 / (2454 + 8984))
    assert abs(sim.win_rate - obs.win_rate) <= 0.02


@pytest.mark.slow
def test_calibrate_the_sample_without_history() -> None:
    """Without a history, only the overall win rate is known, and the calibration must hit it.

    (Regression: the 'Closed Lost' stage used to be compared case-sensitively with the lower-case
    lost names, giving a bogus stage order with every conversion 1.0 and a simulated win rate
    of ~0.97 against 0.19 observed.)
    """
    cal = calibrate(SAMPLE_OPP)
    assert cal.data.stage_order == []
    assert not any(p.startswith("conversion ") for p in cal.estimates["parameter"])
    cmp = cal.comparison().set_index("quantity")
    print(cmp.to_string())
    assert abs(cmp.loc["win rate", "difference"]) <= 0.02
    assert abs(cmp.loc["median won cycle (days)", "relative"]) <= 0.10
    assert abs(cmp.loc["median won amount", "relative"]) <= 0.10
