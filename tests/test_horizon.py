"""Horizons past one year: a ``year`` column, quarters for every year, and whole years only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salessim.cli import main
from salessim.model import SalesForce
from salessim.model.clock import Clock
from salessim.results import PERIOD_COLUMNS, REP_COLUMNS
from salessim.scenario import load_scenario
from salessim.simulate import simulate

TINY = {
    "extends": "baseline",
    "name": "tiny",
    "organisation": {"managers": 2, "span": 4},
    "reviews": {"cadence": "monthly"},
    "metrics": "stage",
    "simulation": {"warmup_days": 90, "horizon_days": 730},
}


@pytest.fixture(scope="module")
def two_years() -> pd.DataFrame:
    return simulate(TINY, replications=2, seed=11)


def test_clock_slots() -> None:
    c = Clock(90.0, 1095.0)
    assert (c.years, c.quarters, c.slots, c.Q) == (3, 12, 15, 91.25)
    assert [c.slot_of(q) for q in (0, 3, 4, 11)] == [(0, 4), (3, 4), (5, 9), (13, 14)]
    assert c.period(90.0 + 365.0) == 4 and c.period(90.0 + 1095.0) == -1
    short = Clock(60.0, 120.0)  # up to a year: one short year of four quarters
    assert (short.years, short.Q, short.slots) == (1, 30.0, 5)


def test_periods_carry_a_year_column_with_four_quarters_and_a_year_each(two_years) -> None:
    p = two_years.periods
    assert list(p.columns) == PERIOD_COLUMNS and list(two_years.reps.columns) == REP_COLUMNS
    one = p[p["replication"] == 0]
    assert one["year"].tolist() == [1] * 5 + [2] * 5
    assert one["period"].tolist() == ["Q1", "Q2", "Q3", "Q4", "year"] * 2
    assert set(two_years.reps["year"]) == {1, 2}


def test_every_year_has_its_quarter_level_quantities(two_years) -> None:
    p = two_years.periods
    for _, g in p.groupby(["replication", "year"]):
        q, y = g[g["period"] != "year"], g[g["period"] == "year"].iloc[0]
        assert y["revenue"] == pytest.approx(q["revenue"].sum())
        assert y["coaching_hours"] == pytest.approx(q["coaching_hours"].sum())
        assert y["pipeline_coverage"] == pytest.approx(q["pipeline_coverage"].mean())
        assert y["forecast_error"] == pytest.approx(q["forecast_error"].mean())
        assert y["culture"] == q["culture"].iloc[-1]
        assert g[["headcount", "pipeline_coverage", "forecast_error", "culture"]].notna().all().all()
        assert (q["coaching_hours"] > 0).all() and (q["headcount"] > 0).all()
    # monthly reviews flag reps in both years; a rep flagged in a quarter is flagged in its year
    r = two_years.reps
    for year in (1, 2):
        ry = r[r["year"] == year]
        assert ry["gap_flagged"].any()
        flagged_q = set(
            ry[(ry["period"] != "year") & ry["gap_flagged"]]["rep_id"].astype(str)
            + "/"
            + ry[(ry["period"] != "year") & ry["gap_flagged"]]["replication"].astype(str)
        )
        flagged_y = set(
            ry[(ry["period"] == "year") & ry["gap_flagged"]]["rep_id"].astype(str)
            + "/"
            + ry[(ry["period"] == "year") & ry["gap_flagged"]]["replication"].astype(str)
        )
        assert flagged_q == flagged_y


def test_skill_snapshots_chain_across_years(two_years) -> None:
    """A rep in seat across a year's end starts year 2 with the skill they ended year 1 with."""
    r = two_years.reps
    stay = r[(r["period"] == "year") & ~r["left"] & ~r["hired"]]
    y1 = stay[stay["year"] == 1].set_index(["replication", "rep_id"])["skill_end"]
    y2 = stay[stay["year"] == 2].set_index(["replication", "rep_id"])["skill_start"]
    both = pd.concat([y1, y2], axis=1, keys=["end1", "start2"]).dropna()
    assert len(both) >= 5  # several reps stay in seat across the year end (16 seats × 2 runs)
    np.testing.assert_array_equal(both["end1"], both["start2"])


def test_a_longer_horizon_does_not_change_the_first_quarters() -> None:
    """The model looks only backwards: a 2-year run's first three quarters are a 1-year run's.

    (The last quarter of the shorter run can differ: its final step resolves stage ends up to the
    end of the run with the skills of that day, where the longer run resolves them a few days later.)
    """
    one = simulate({**TINY, "simulation": {"warmup_days": 90, "horizon_days": 365}}, replications=2, seed=11)
    two = simulate(TINY, replications=2, seed=11)
    for table in ("periods", "reps"):
        a, b = getattr(one, table), getattr(two, table)
        a = a[a["period"].isin(["Q1", "Q2", "Q3"])].reset_index(drop=True)
        b = b[(b["year"] == 1) & b["period"].isin(["Q1", "Q2", "Q3"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)


def test_arrays_sized_for_the_horizon() -> None:
    sf = SalesForce(load_scenario({**TINY, "simulation": {"warmup_days": 0, "horizon_days": 1825}}), 1, 0)
    assert sf.coach_hours.shape[1] == 25 and sf.skill_snap.shape[1] == 21
    assert sf.coverage.size == sf.culture_end.size == sf.headcount_sum.size == 25
    rec = sf.run()
    assert rec.forecast_error.size == 25 and not np.isnan(rec.forecast_error).any()


@pytest.mark.parametrize(("value", "why"), [(800, "whole years"), (1826, "1825"), (0, "greater than 0")])
def test_a_horizon_that_is_not_whole_years_is_refused(
    tmp_path: Path, capsys, monkeypatch, value, why
) -> None:
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "long.yaml"
    f.write_text(f"extends: baseline\nsimulation:\n  horizon_days: {value}\n", encoding="utf-8")
    assert main(["simulate", str(f), "-r", "1"]) == 2
    err = capsys.readouterr().err
    assert "long.yaml" in err and f"`simulation.horizon_days` = {value}" in err and why in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", [365, 730, 1825, 120])
def test_whole_years_and_short_years_are_accepted(value) -> None:
    assert (
        load_scenario({"extends": "baseline", "simulation": {"horizon_days": value}}).simulation.horizon_days
        == value
    )
