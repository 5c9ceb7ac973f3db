"""What each report says it shows: year 1 after a change (transition) or the steady state, and the
horizon — from the scenarios it runs, escaped on the page, and repeated on the index page.
"""

from __future__ import annotations

import json
from unittest import mock

import pandas as pd
import pytest

from salessim import load_scenario
from salessim.notebook_helpers import (
    STEADY_LABEL,
    TRANSITION_LABEL,
    per_replication,
    show_time_frame,
    time_frame,
    year_rows,
)
from salessim.reports import REPORTS, write_index


@pytest.fixture(scope="module")
def pair():
    return load_scenario("baseline"), load_scenario("prescription")


def _with(sc, **changes):
    return sc.replace(**{f"simulation.{k}": v for k, v in changes.items()})


def test_a_change_in_transition_mode_is_year_one_after_it(pair):
    base, presc = pair
    tf = time_frame([base, presc], baseline=base)
    assert tf["mode"] == "transition" and tf["label"] == TRANSITION_LABEL
    assert "a year the way it is run today (scenario “baseline”)" in tf["detail"]
    assert tf["horizon"] == "one year, in four quarters" and tf["horizon_days"] == 365


def test_steady_state_mode_says_the_steady_state(pair):
    base, presc = pair
    tf = time_frame([_with(base, mode="steady_state"), _with(presc, mode="steady_state")])
    assert tf["mode"] == "steady_state" and tf["label"] == STEADY_LABEL
    assert "not the first year's ramp-in" in tf["detail"]


def test_a_transition_that_changes_nothing_is_the_steady_state(pair):
    base, _ = pair
    tf = time_frame([base])
    assert tf["mode"] == "steady_state" and tf["label"] != TRANSITION_LABEL
    assert tf["label"].startswith("The steady state")
    assert "nothing changes" in tf["detail"]


def test_no_warm_up_is_said(pair):
    base, presc = pair
    tf = time_frame([_with(base, warmup_days=0), _with(presc, warmup_days=0)])
    assert tf["mode"] == "steady_state" and "no settling period" in tf["detail"]


def test_the_horizon_comes_from_the_scenario(pair):
    base, presc = pair
    tf = time_frame([_with(base, horizon_days=1095), _with(presc, horizon_days=1095)])
    assert tf["label"] == TRANSITION_LABEL
    assert tf["horizon"].startswith("three years, each in four quarters")
    assert "year 1" in tf["horizon"]
    assert (
        time_frame([_with(base, horizon_days=180), _with(presc, horizon_days=180)])["horizon"]
        == "the first 180 days of a year, in quarters"
    )


def test_scenarios_that_disagree_are_named(pair):
    base, presc = pair
    tf = time_frame([base, _with(presc, mode="steady_state")], baseline=base)
    assert tf["mode"] == "steady_state"  # described by the change, the variant
    assert "do not all share this setting" in tf["detail"]
    assert "baseline: transition mode" in tf["detail"]
    assert "prescription: steady state mode" in tf["detail"]


def test_the_statement_is_escaped_and_saved(pair, tmp_path):
    base, presc = pair
    evil = presc.replace(name="<script>alert(1)</script>")
    shown = []
    with mock.patch("IPython.display.display", side_effect=shown.append):
        tf = show_time_frame([evil, base], tmp_path, baseline=evil)
    page = shown[0].data
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "today&#x27;s way of working" in page and tf["label"] == TRANSITION_LABEL
    assert json.loads((tmp_path / "time_frame.json").read_text()) == tf


def _periods(years: int) -> pd.DataFrame:
    rows = []
    for sc in ("a", "b"):
        for r in range(3):
            for y in range(1, years + 1):
                for per in ("Q1", "Q2", "Q3", "Q4", "year"):
                    rows.append(
                        {
                            "scenario": sc,
                            "replication": r,
                            "year": y,
                            "period": per,
                            "revenue": 100.0 * y + r,
                            "full_period": True,
                        }
                    )
    return pd.DataFrame(rows)


def test_year_rows_keep_one_row_per_replication_over_a_longer_horizon():
    p = _periods(3)
    y1 = year_rows(p)
    assert len(y1) == 6 and set(y1["year"]) == {1}
    y3 = year_rows(p, year=3)
    assert set(y3["revenue"]) == {300.0, 301.0, 302.0}
    means = per_replication(p, "revenue", year=2)
    assert len(means) == 6 and set(means["revenue"]) == {200.0, 201.0, 202.0}


def test_the_index_says_what_each_report_shows(tmp_path):
    name = next(iter(REPORTS))
    (tmp_path / name).mkdir()
    (tmp_path / f"{name}.html").write_text("<html></html>")
    (tmp_path / name / "run.json").write_text(json.dumps({"parameters": {}, "created_utc": ""}))
    (tmp_path / name / "time_frame.json").write_text(
        json.dumps(
            {
                "label": "Year 1 <b>after</b> the change",
                "horizon": "three years, each in four quarters; the tables and charts show year 1",
            }
        )
    )
    page = write_index(tmp_path).read_text()
    assert (
        "<b>Shows:</b> Year 1 &lt;b&gt;after&lt;/b&gt; the change (three years, each in four "
        "quarters)." in page
    )
    assert page.count("Shows:") == 1  # reports not built say nothing about a time frame
