"""The capacity and quota report: its library functions (salessim.capacity) and the notebook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salessim import load_scenario
from salessim.capacity import (
    QuotaResult,
    capacity,
    final_year_revenue,
    hiring_findings,
    hiring_study,
    quota_curve,
    quota_findings,
    quota_for_share,
    quota_study,
    schedule_text,
)
from salessim.notebook_helpers import Findings
from salessim.scenario import ScenarioError
from salessim.simulate import simulate

REPO = Path(__file__).resolve().parent.parent
SALESSIM = Path(sys.executable).parent / "salessim"
#: a small sales force (2 teams of 4) that starts settled: cheap to run
SMALL = {
    "extends": "baseline",
    "name": "small",
    "organisation": {"managers": 2, "span": 4},
    "simulation": {"mode": "steady_state", "warmup_days": 0},
}


def small(**changes):
    sc = load_scenario(SMALL)
    return sc.replace(**changes) if changes else sc


@pytest.fixture(scope="module")
def study():
    return hiring_study(
        small(), growth=0.15, confidence=0.5, years=1, replications=6, seed=3, per_quarter=2, max_hires=8
    )


# ------------------------------------------------------------------------------------------
# the hiring plan for growth
# ------------------------------------------------------------------------------------------
def test_the_target_is_growth_over_the_final_year_with_no_hires(study):
    sc = small(**{"simulation.horizon_days": 365})
    rev0 = final_year_revenue(sc, 3, 6)
    assert study.today_revenue == pytest.approx(float(rev0.mean()), rel=1e-12)
    assert study.target == pytest.approx(1.15 * float(rev0.mean()), rel=1e-12)
    # the no-hire revenue handed to the search is the one it would have simulated itself
    zero = next(e for e in study.plan.evaluations if e["hires_x"] == 0.0)
    assert zero["probability"] == float(np.mean(rev0 >= study.target))
    assert np.array_equal(study.plan.candidate_revenue[0.0], rev0)


def test_handing_the_search_its_no_hire_revenue_changes_nothing():
    sc = small(**{"simulation.horizon_days": 365})
    rev0 = final_year_revenue(sc, 5, 4)
    kw = dict(confidence=0.5, years=1, replications=4, seed=5, per_quarter=2, max_hires=4, timing_steps=1)
    a = capacity(sc, 1.1 * rev0.mean(), **kw)
    b = capacity(sc, 1.1 * rev0.mean(), no_hire_revenue=rev0, **kw)
    assert a.evaluations == b.evaluations and a.openings == b.openings
    assert np.array_equal(a.revenue, b.revenue)
    with pytest.raises(ScenarioError, match="no_hire_revenue: 3 values for 4 replications"):
        capacity(sc, 1e7, no_hire_revenue=rev0[:3], **kw)


def test_plan_and_no_hires_run_the_same_fresh_seeds(study):
    res = study.plan
    assert res.status == "reached" and res.total_hires >= 1
    sc = small(**{"simulation.horizon_days": 365})
    fresh = simulate(sc, replications=6, seed=res.fresh_seed).periods
    assert fresh.drop(columns="scenario").equals(study.today.drop(columns="scenario"))
    out = study.outcome()
    y0 = study.today[study.today["period"] == "year"].sort_values("replication")
    y1 = study.plan_periods[study.plan_periods["period"] == "year"].sort_values("replication")
    gain = y1["revenue"].to_numpy() - y0["revenue"].to_numpy()
    assert out["revenue_gain"][0] == pytest.approx(gain.mean(), rel=1e-12)
    assert out["gain_per_hire"][0] == pytest.approx(gain.mean() / res.total_hires, rel=1e-12)
    assert out["revenue_change"][3] == 6
    k = int(np.sum(y1["revenue"].to_numpy() >= study.target))
    assert study.probability == k / 6
    assert study.probability_ci[0] <= study.probability <= study.probability_ci[1]


def test_the_headcount_table_counts_seats_and_people(study):
    t = study.headcount_table()
    assert len(t) == 4 and list(t["quarter"]) == [1, 2, 3, 4]
    assert int(t["hires"].sum()) == study.plan.total_hires
    assert (t["seats"] == 8 + t["hires"].cumsum()).all()
    # no more reps in seat than seats; fewer than the seats on average (recruiting, leavers)
    assert (t["headcount_plan"] <= t["seats"] + 1e-9).all()
    assert (t["headcount_plan_p10"] <= t["headcount_plan"] + 1e-9).all()
    assert (t["headcount_plan"] <= t["headcount_plan_p90"] + 1e-9).all()
    assert (t["headcount_no_hires"] <= 8 + 1e-9).all()
    assert all(pd.api.types.is_numeric_dtype(t[c]) for c in t.columns)


def test_the_revenue_fan_is_ordered_and_its_reach_is_the_plans_probability(study):
    f = study.revenue_fan()
    assert set(f["arm"]) == {"plan", "no_hires"}
    assert len(f) == 2 * 5  # four quarters and the year, per arm
    q = f[["p10", "p25", "p50", "p75", "p90"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    year = f[f["quarter"] == 0].set_index("arm")
    assert year.loc["plan", "reach"] == study.probability
    assert f[f["quarter"] > 0]["reach"].isna().all()
    assert all(pd.api.types.is_numeric_dtype(f[c]) for c in f.columns if c != "arm")


def test_every_plan_tried_is_listed_with_its_interval(study):
    t = study.probability_by_hires()
    assert len(t) == len(study.plan.evaluations)
    assert list(t["hires_x"]) == sorted(t["hires_x"])
    assert int(t["plan"].sum()) == 1
    assert t.loc[t["plan"], "hires"].iloc[0] == study.plan.total_hires
    assert ((t["ci_low"] <= t["probability"] + 1e-12) & (t["probability"] <= t["ci_high"] + 1e-12)).all()
    # the plan is the fewest whole hires the search found reaching the confidence
    whole = t[t["whole"]].set_index("hires")
    n = study.plan.total_hires
    assert whole.loc[n, "probability"] >= 0.5
    assert n - 1 not in whole.index or whole.loc[n - 1, "probability"] < 0.5


def test_schedule_text_names_the_quarters():
    assert schedule_text([(0, 2), (91, 2), (182, 1)], 1) == "2 in Q1, 2 in Q2 and 1 in Q3 of year 1"
    assert schedule_text([(0, 3)], 2) == "3 in Q1 of year 1"
    assert schedule_text([(100, 1), (400, 2)], 2) == "1 in Q2 of year 1; 2 in Q1 of year 2"


def test_hiring_findings_say_the_plan_and_its_check(study):
    F = Findings("capacity_quota", "q")
    hiring_findings(study, F)
    by_id = {f["id"]: f for f in F.items}
    assert {"plan", "gain", "no_hires"} <= set(by_id)
    plan = by_id["plan"]
    assert f"hire {study.plan.total_hires} reps" in plan["headline"]
    assert plan["hires"] == study.plan.total_hires and plan["reached"] is True
    assert "nan" not in F.markdown().lower()


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"growth": -0.1}, "growth -0.1"),
        ({"growth": float("nan")}, "growth nan"),
        ({"years": 0}, "years 0"),
        ({"replications": 0}, "replications"),
    ],
)
def test_hiring_study_refuses_bad_input_naming_it(kw, named):
    with pytest.raises((ScenarioError, ValueError), match=named):
        hiring_study(small(), **kw)


# ------------------------------------------------------------------------------------------
# quota
# ------------------------------------------------------------------------------------------
def test_the_quota_sweep_and_search_pair_every_quota_with_todays():
    res = quota_study(small(), share=0.6, multiples=(0.7, 1.0, 1.3), replications=4, seed=3, steps=2)
    q0 = 1_100_000.0
    assert {770_000.0, q0, 1_430_000.0} <= set(res.points["quota"])
    # 0.6 lies between the grid's 0.7× and 1.0× shares: two bisections inside that bracket
    assert len(res.points) == 3 + 2
    searched = set(res.points["quota"]) - {770_000.0, q0, 1_430_000.0}
    assert all(770_000.0 < q < q0 for q in searched)
    assert len(res.years) == 4 * len(res.points)
    c = quota_curve(res)
    today = c[c["today"]].iloc[0]
    assert today["quota"] == q0 and today["revenue_change"] == 0.0
    assert int(c["found"].sum()) == 1 and c.loc[c["found"], "quota"].iloc[0] == res.quota
    # each change is the mean of the per-replication differences against today's quota
    y = res.years
    base = y[y["quota"] == q0].set_index("replication")
    for _, row in c.iterrows():
        v = y[y["quota"] == row["quota"]].set_index("replication")
        assert row["turnover_change"] == pytest.approx(
            float((v["turnover"] - base["turnover"]).mean()), abs=1e-12
        )
        assert row["revenue_change"] == pytest.approx(
            float((v["revenue"] / base["revenue"] - 1).mean()), abs=1e-12
        )
    # a harder quota: fewer reps make it (a mechanism of the model)
    assert c.iloc[0]["pct_at_quota"] > c.iloc[-1]["pct_at_quota"]


def test_quota_on_workers_gives_the_same_numbers():
    kw = dict(share=0.6, replications=2, seed=4, grid=(900_000.0,), steps=1)
    a = quota_for_share(small(), workers=1, **kw)
    b = quota_for_share(small(), workers=2, **kw)
    pd.testing.assert_frame_equal(a.points, b.points)
    assert a.quota == b.quota


def test_quota_study_refuses_a_bad_grid():
    with pytest.raises(ScenarioError, match="quota multiples 0"):
        quota_study(small(), multiples=(0, 1.0))
    with pytest.raises(ScenarioError, match="steps -1"):
        quota_for_share(small(), steps=-1)


def _curve(revenue_ci, turnover_ci) -> tuple[QuotaResult, pd.DataFrame]:
    """A quota curve with chosen intervals: today's quota, and one 10 % higher (found)."""
    rows = []
    for q, today, (m, lo, hi), (tm, tlo, thi) in (
        (1.0e6, True, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        (1.1e6, False, revenue_ci, turnover_ci),
    ):
        row = {
            "quota": q,
            "vs_today": q / 1e6 - 1,
            "today": today,
            "found": not today,
            "pct_at_quota": 0.5,
            "pct_at_quota_lo": 0.45,
            "pct_at_quota_hi": 0.55,
            "revenue": 1e7 * (1 + m),
            "attainment_p50": 1.0,
        }
        for name, (a, b, c) in (
            ("revenue_change", (m, lo, hi)),
            ("turnover_change", (tm, tlo, thi)),
            ("voluntary_change", (0.0, -0.01, 0.01)),
            ("at_quota_change", (-0.05, -0.08, -0.02)),
        ):
            row[name], row[f"{name}_lo"], row[f"{name}_hi"] = a, b, c
        rows.append(row)
    curve = pd.DataFrame(rows)
    res = QuotaResult(
        scenario=small(),
        share=0.5,
        quota=1.1e6,
        replications=8,
        seed=1,
        points=curve,
        current={"quota": 1e6},
        found={"quota": 1.1e6},
    )
    return res, curve


def test_quota_findings_claim_a_direction_only_when_the_interval_excludes_zero():
    res, curve = _curve((0.02, -0.01, 0.05), (0.03, 0.01, 0.05))
    F = Findings("capacity_quota", "q")
    quota_findings(res, curve, F)
    found = next(f for f in F.items if f["id"] == "quota_for_share")
    assert "did not change team revenue distinguishably from zero" in found["meaning"]
    assert "turnover rose by 3.0" in found["meaning"]
    res, curve = _curve((0.02, 0.01, 0.03), (0.0, -0.01, 0.01))
    F = Findings("capacity_quota", "q")
    quota_findings(res, curve, F)
    found = next(f for f in F.items if f["id"] == "quota_for_share")
    assert "raised team revenue by 2.0" in found["meaning"]
    assert "turnover did not change distinguishably" in found["meaning"]
    harder = next(f for f in F.items if f["id"] == "harder_quota")
    assert "share at quota fell by 5.0" in harder["headline"]


# ------------------------------------------------------------------------------------------
# the notebook, run as a report
# ------------------------------------------------------------------------------------------
def _report(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SALESSIM_QUICK": "1",
        "SALESSIM_CACHE_DIR": str(tmp_path / "cache"),
        "SALESSIM_NO_PROGRESS": "1",
    }
    return subprocess.run(
        [str(SALESSIM), "report", "capacity_quota", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_a_bad_report_parameter_exits_2_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    for args, named in (
        (["-p", "target_growth", "5"], "target_growth must be ≤ 2"),
        (["-p", "confidence", "1"], "confidence must be ≤ 0.99"),
        (["-p", "share", "0"], "share must be ≥ 0.05"),
        (["-p", "years", "1.5"], "years"),
    ):
        r = _report(tmp_path, *args, "--out", str(out))
        assert r.returncode == 2, r.stderr
        assert named in r.stderr and "Traceback" not in r.stderr
        assert not out.exists()


@pytest.mark.slow
def test_the_report_runs_and_writes_findings_and_numeric_tables(tmp_path):
    out = tmp_path / "out"
    r = _report(tmp_path, "-p", "target_growth", "0.1", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    data = out / "capacity_quota"
    findings = json.loads((data / "findings.json").read_text(encoding="utf-8"))
    assert findings["report"] == "capacity_quota"
    ids = {f["id"] for f in findings["findings"]}
    assert {"plan", "no_hires", "quota_today", "quota_for_share"} <= ids
    meta = findings["metadata"]
    assert meta["quick_mode"] is True and meta["replications"] <= 2
    assert meta["target_growth"] == 0.1
    for f in findings["findings"]:
        assert f["headline"].endswith("."), f["headline"]
        assert "nan" not in f["text"].lower(), f["text"]
    text_columns = {"revenue_fan": {"arm"}}
    for name in ("hiring_plan", "revenue_fan", "probability_by_hires", "quota_curve"):
        t = pd.read_csv(data / f"{name}.csv")
        assert len(t), name
        for c in t.columns:
            if c in text_columns.get(name, set()):
                continue
            assert pd.api.types.is_numeric_dtype(t[c]) or pd.api.types.is_bool_dtype(t[c]), (
                f"{name}.{c} is not numbers"
            )
    plan = pd.read_csv(data / "hiring_plan.csv")
    assert int(plan["hires"].sum()) == findings["metadata"]["hires"]
    quota = pd.read_csv(data / "quota_curve.csv")
    assert quota["today"].sum() == 1 and quota["found"].sum() == 1
    page = (out / "capacity_quota.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 4 and "Traceback" not in page
    tf = json.loads((data / "time_frame.json").read_text())
    assert tf["horizon_days"] == 730
