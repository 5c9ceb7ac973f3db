"""salessim.analysis.capacity_quota: what the capacity and quota report shows."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest

from salessim import load_scenario
from salessim.analysis import capacity_quota as cq
from salessim.capacity import hiring_study, quota_curve, quota_study
from salessim.notebook_helpers import fmt_pct

matplotlib.use("Agg")

#: a small sales force (2 teams of 4) that starts settled: cheap to run
SMALL = {
    "extends": "baseline",
    "name": "small",
    "organisation": {"managers": 2, "span": 4},
    "simulation": {"mode": "steady_state", "warmup_days": 0},
}


def _study(sc, openings):
    plan = SimpleNamespace(scenario=sc, openings=openings, total_hires=sum(k for _, k in openings))
    return SimpleNamespace(plan=plan)


def test_the_plan_scenario_opens_the_plans_seats_and_is_named_by_them() -> None:
    sc = load_scenario(SMALL)
    s = cq.report_scenarios(_study(sc, [(0, 1), (91, 2)]), SimpleNamespace(quota=1_234_567.4), sc)  # type: ignore[arg-type]
    assert s.today is sc
    assert s.plan.name == "small + 3 hires"
    assert [(h.day, h.reps) for h in s.plan.hiring.plan] == [(0, 1), (91, 2)]
    assert s.quota.organisation.quota == 1_234_567.4 and s.quota.name == "small, quota 1,234,567"
    # no hire planned: the plan is today's sales force itself
    assert cq.report_scenarios(_study(sc, []), SimpleNamespace(quota=1e6), sc).plan is sc  # type: ignore[arg-type]


def test_table_formats_cover_money_headcount_chances_and_signed_changes() -> None:
    curve = pd.DataFrame(
        columns=[
            "quota",
            "vs_today",
            "pct_at_quota",
            "revenue_change",
            "revenue_change_lo",
            "at_quota_change_hi",
        ]
    )
    f = cq.table_formats(curve)
    assert f["quota"] == f["revenue_plan"] == f["p90"] == "money"
    assert f["headcount_plan_p10"] == "num1" and f["probability"] == f["reach"] == "pct0"
    for c in ("vs_today", "revenue_change", "revenue_change_lo", "at_quota_change_hi"):
        assert f[c] == "pct_signed", c
    assert "pct_at_quota" not in f  # a share read from its name, not a change


def test_the_hires_axis_keeps_the_plan_well_inside_and_names_the_rest() -> None:
    tried = pd.DataFrame({"hires_x": [0.0, 1.0, 2.5, 12.0, 30.0]})
    x_max, shown, beyond = cq.hires_axis(tried, total_hires=2)
    assert (
        x_max == 10 and list(shown["hires_x"]) == [0.0, 1.0, 2.5] and list(beyond["hires_x"]) == [12.0, 30.0]
    )
    x_max, shown, beyond = cq.hires_axis(tried, total_hires=6)  # 2.5 × 6 + 5 = 20
    assert x_max == 20 and list(beyond["hires_x"]) == [30.0]


def test_quota_marks_find_todays_row_and_the_one_found() -> None:
    curve = pd.DataFrame(
        {"quota": [0.8, 1.0, 1.2], "today": [False, True, False], "found": [True, False, False]}
    )
    today, found = cq.quota_marks(curve)
    assert (today["quota"], found["quota"]) == (1.0, 0.8)


# ------------------------------------------------------------------------------------------
# on a small seeded simulation
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs():
    sc = load_scenario(SMALL)
    study = hiring_study(
        sc, growth=0.15, confidence=0.5, years=1, replications=3, seed=3, per_quarter=2, max_hires=6
    )
    quota = quota_study(sc, share=0.6, multiples=(0.85, 1.0, 1.15), replications=3, seed=3, steps=1)
    return sc, study, quota


def test_the_report_tables_are_the_studies_tables(runs) -> None:
    sc, study, quota = runs
    t = cq.report_tables(study, quota)
    assert list(t) == ["hiring_plan", "revenue_fan", "probability_by_hires", "quota_curve"]
    pd.testing.assert_frame_equal(t["hiring_plan"], study.headcount_table())
    pd.testing.assert_frame_equal(t["quota_curve"], quota_curve(quota))
    assert int(t["hiring_plan"]["hires"].sum()) == study.plan.total_hires
    s = cq.report_scenarios(study, quota, sc)
    assert not s.today.hiring.plan
    assert sum(h.reps for h in s.plan.hiring.plan) == study.plan.total_hires
    assert s.quota.organisation.quota == quota.quota and s.quota.n_reps == sc.n_reps


def test_the_charts_name_the_plan_the_target_and_the_quota(runs) -> None:
    _, study, quota = runs
    t = cq.report_tables(study, quota)
    res = study.plan
    title = cq.hiring_plan_figure(study, t["hiring_plan"]).axes[0].get_title()
    n = res.scenario.n_reps
    assert (f"seats become {n + res.total_hires}" if res.total_hires else f"No hires: {n} seats") in title
    sup = cq.revenue_fan_figure(study, t["revenue_fan"]).get_suptitle()
    assert f"year-{res.years} revenue reaches" in sup and "\\$" in sup  # dollars shown, not maths
    # no hire reaches the target in none of 3 years: its Wilson bound is 0 give or take rounding
    assert t["probability_by_hires"].iloc[0]["probability"] == 0.0
    ax = cq.probability_figure(study, t["probability_by_hires"]).axes[0]
    assert ax.get_xlim()[1] == cq.hires_axis(t["probability_by_hires"], res.total_hires)[0] + 1
    curve = t["quota_curve"]
    today, _ = cq.quota_marks(curve)
    sup = cq.quota_figure(curve, 0.6, quota.replications).get_suptitle()
    assert sup.startswith(f"Quota: {fmt_pct(today['pct_at_quota'], 0)} of reps") and "for 60" in sup
