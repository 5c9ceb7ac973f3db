"""Horizons past one year: a ``year`` column, quarters for every year, and one-year runs unchanged."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from salessim.results import PERIOD_COLUMNS, REP_COLUMNS
from salessim.simulate import simulate

TINY = {"extends": "baseline", "name": "tiny", "organisation": {"managers": 2, "span": 4},
        "simulation": {"warmup_days": 180, "horizon_days": 365}}
BUSY = {**TINY, "name": "busy", "reviews": {"cadence": "monthly"}, "metrics": "stage",
        "coaching": {"targeting": "gap_targeted"}, "prescription": {"enabled": True},
        "managers": {"promotion": True}, "crm_adoption": 1.0}

#: Frozen from the model before horizons could pass a year (tables of 2 replications, seed 20260):
#: a digest of every value of the ``periods`` and ``reps`` columns, and a few plain numbers.
GOLDEN = {
    "tiny": {"periods": "cda295c37dc79947", "reps": "1d0938facb1d578b", "rows": 85,
             "revenue_year": (11055563.83, 10066427.17), "coverage_q1": 1.50127,
             "forecast_error_year": 0.299391, "flagged": 31},
    "busy": {"periods": "5b13ea757d2b4d06", "reps": "bbf115b7303e3a53", "rows": 80,
             "revenue_year": (11091324.02, 12673987.42), "coverage_q1": 1.894368,
             "forecast_error_year": 0.167468, "flagged": 28},
}


def _digest(df: pd.DataFrame, cols: list[str]) -> str:
    h = hashlib.sha256()
    for c in cols:
        h.update(c.encode())
        h.update(pd.util.hash_pandas_object(df[c], index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("sc", [TINY, BUSY], ids=["tiny", "busy"])
def test_one_year_run_unchanged(sc: dict) -> None:
    res = simulate(sc, replications=2, seed=20260)
    g = GOLDEN[sc["name"]]
    p = res.periods
    year = p[p["period"] == "year"]
    assert tuple(round(float(x), 2) for x in year["revenue"]) == g["revenue_year"]
    assert round(float(p["pipeline_coverage"].iloc[0]), 6) == g["coverage_q1"]
    assert round(float(year["forecast_error"].iloc[0]), 6) == g["forecast_error_year"]
    assert len(res.reps) == g["rows"]
    assert int(res.reps["gap_flagged"].sum()) == g["flagged"]
    assert _digest(p, [c for c in PERIOD_COLUMNS if c != "year"]) == g["periods"]
    assert _digest(res.reps, [c for c in REP_COLUMNS if c != "year"]) == g["reps"]
