"""Funnel math: the reverse funnel, the benchmark pipeline and deal-closing odds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import expit, logit

from salessim import load_scenario, plan

DAYS_PER_WEEK_YEAR = 365.0 / 7.0  # weeks in the 365-day year the plan uses


@pytest.fixture(scope="module")
def baseline():
    return load_scenario("baseline")


@pytest.fixture(scope="module")
def base_plan(baseline):
    return plan(baseline)


def _independent_mix(sc):
    """Win rate and average won deal of the natural mix, computed from the scenario by hand."""
    f = sc.funnel
    num = den = 0.0
    for seg in f.segments.values():
        for prod in f.products.values():
            share = seg.share * prod.share
            offset = seg.logit_offset + prod.logit_offset
            p_win = math.prod(float(expit(logit(s.conversion) + offset)) for s in f.stages)
            mean_amount = prod.amount_median * math.exp(prod.amount_sigma**2 / 2) * seg.amount_factor
            num += share * p_win * mean_amount
            den += share * p_win
    return den, num / den


def test_plan_accepts_a_name_or_a_scenario(baseline, base_plan):
    by_name = plan("baseline")
    assert by_name.wins_per_year == base_plan.wins_per_year
    assert by_name.new_per_week == base_plan.new_per_week


def test_win_rate_and_average_won_deal_match_the_mix(baseline, base_plan):
    win_rate, avg_won = _independent_mix(baseline)
    assert base_plan.win_rate == pytest.approx(win_rate, rel=1e-12)
    assert base_plan.avg_won_amount == pytest.approx(avg_won, rel=1e-12)
    assert base_plan.coverage_needed == pytest.approx(1 / win_rate, rel=1e-12)


def test_wins_are_quota_over_average_won_deal(baseline, base_plan):
    assert base_plan.quota == baseline.organisation.quota
    assert base_plan.wins_per_year == pytest.approx(
        baseline.organisation.quota / base_plan.avg_won_amount, rel=1e-12
    )


def test_opportunities_at_each_stage_are_wins_over_cumulative_conversion(base_plan):
    st_ = base_plan.stages
    conv = st_["conversion"].to_numpy()
    to_won = st_["to_won"].to_numpy()
    # cumulative conversion from stage s to won is the product of the stage conversions from s on
    for s in range(len(st_)):
        assert to_won[s] == pytest.approx(np.prod(conv[s:]), rel=1e-12)
    assert to_won[0] == pytest.approx(base_plan.win_rate, rel=1e-12)
    assert to_won[-1] == pytest.approx(conv[-1], rel=1e-12)
    opps = st_["opportunities_per_year"].to_numpy()
    np.testing.assert_allclose(opps, base_plan.wins_per_year / to_won, rtol=1e-12)
    assert np.all(np.diff(opps) < 0)  # fewer deals reach each later stage
    assert np.all((conv > 0) & (conv < 1))


def test_new_per_week_consistent_with_per_year(base_plan):
    new_per_year = base_plan.stages["opportunities_per_year"].iloc[0]
    assert new_per_year == pytest.approx(base_plan.wins_per_year / base_plan.win_rate, rel=1e-12)
    assert base_plan.new_per_week * DAYS_PER_WEEK_YEAR == pytest.approx(new_per_year, rel=1e-9)
    assert base_plan.stages["arrivals_per_week"].iloc[0] == pytest.approx(base_plan.new_per_week, rel=1e-9)
    assert base_plan.new_per_day == pytest.approx(base_plan.new_per_week / 7, rel=1e-12)
    summary = base_plan.summary()["per rep"]
    assert summary["new opportunities / year"] == pytest.approx(new_per_year, rel=1e-9)
    assert summary["new opportunities / week"] == pytest.approx(base_plan.new_per_week, rel=1e-12)


def test_benchmark_inventory_is_littles_law(base_plan):
    st_ = base_plan.stages
    arrivals_per_day = st_["opportunities_per_year"].to_numpy() / 365.0
    np.testing.assert_allclose(st_["arrivals_per_week"], arrivals_per_day * 7, rtol=1e-12)
    np.testing.assert_allclose(st_["inventory"], arrivals_per_day * st_["mean_days"], rtol=1e-12)
    assert base_plan.cycle_days == pytest.approx(st_["mean_days"].sum(), rel=1e-12)
    # coverage: benchmark open value ÷ next quarter's quota
    assert base_plan.pipeline_value == pytest.approx(st_["inventory_value"].sum(), rel=1e-12)
    assert base_plan.coverage == pytest.approx(base_plan.pipeline_value / (base_plan.quota / 4), rel=1e-12)
    # open deals in a stage are worth between the smallest and largest cell's mean deal
    per_deal = st_["inventory_value"] / st_["inventory"]
    amounts = base_plan.cells["mean_amount"]
    assert ((per_deal >= amounts.min()) & (per_deal <= amounts.max())).all()


def test_summary_team_and_organisation_totals():
    sc = load_scenario("baseline").replace(**{"organisation.managers": 3, "organisation.span": 5})
    p = plan(sc)
    df = p.summary()
    assert list(df.columns) == ["per rep", "per team", "organisation"]
    counts = [
        "quota",
        "wins needed",
        "new opportunities / week",
        "new opportunities / year",
        "benchmark open deals",
        "benchmark pipeline value",
        "accounts to acquire",
    ]
    ratios = [
        "win rate",
        "average won deal",
        "cycle days (won)",
        "pipeline coverage (next quarter)",
        "coverage needed (1 / win rate)",
    ]
    assert set(df.index) == set(counts) | set(ratios)
    for row in counts:
        assert df.loc[row, "per team"] == pytest.approx(5 * df.loc[row, "per rep"], rel=1e-12)
        assert df.loc[row, "organisation"] == pytest.approx(3 * df.loc[row, "per team"], rel=1e-12)
    for row in ratios:
        assert df.loc[row, "per team"] == df.loc[row, "per rep"] == df.loc[row, "organisation"]
    assert df.loc["wins needed", "per rep"] == pytest.approx(p.wins_per_year)
    assert df.loc["benchmark open deals", "per rep"] == pytest.approx(p.stages["inventory"].sum())
    assert df.loc["quota", "organisation"] == pytest.approx(15 * sc.organisation.quota)


def test_doubling_quota_doubles_volumes_not_rates(baseline, base_plan):
    p2 = plan(baseline.replace(**{"organisation.quota": 2 * baseline.organisation.quota}))
    assert p2.new_per_week == pytest.approx(2 * base_plan.new_per_week, rel=1e-12)
    assert p2.wins_per_year == pytest.approx(2 * base_plan.wins_per_year, rel=1e-12)
    assert p2.accounts_to_acquire == pytest.approx(2 * base_plan.accounts_to_acquire, rel=1e-12)
    for col in ("opportunities_per_year", "arrivals_per_week", "inventory", "inventory_value"):
        np.testing.assert_allclose(p2.stages[col], 2 * base_plan.stages[col], rtol=1e-12)
    # rates, sizes and times do not change with the quota
    assert p2.win_rate == base_plan.win_rate
    assert p2.avg_won_amount == base_plan.avg_won_amount
    assert p2.cycle_days == base_plan.cycle_days
    assert p2.coverage == pytest.approx(base_plan.coverage, rel=1e-12)
    for col in ("conversion", "to_won", "mean_days"):
        np.testing.assert_allclose(p2.stages[col], base_plan.stages[col], rtol=1e-12)


ONE_STAGE = {
    "name": "one_stage",
    "organisation": {"managers": 2, "span": 3, "quota": 1_000_000},
    "funnel": {
        "stages": [{"name": "pitch", "conversion": 0.25, "mean_days": 30, "cv": 0.5}],
        "segments": {
            "new_logo": {"share": 1.0, "logit_offset": 0.0, "amount_factor": 1.0},
            "expansion": {"share": 0.0, "logit_offset": 0.0, "amount_factor": 1.0},
        },
        "products": {"X": {"share": 1.0, "logit_offset": 0.0, "amount_median": 10_000, "amount_sigma": 0.0}},
    },
    "goals": [{"metric": "revenue", "weight": 1.0}],
}


def test_single_stage_funnel_by_hand():
    p = plan(load_scenario(ONE_STAGE))
    # one stage at 25 %, every deal 10,000, quota 1,000,000
    assert p.win_rate == pytest.approx(0.25, rel=1e-12)
    assert p.avg_won_amount == pytest.approx(10_000, rel=1e-12)
    assert p.wins_per_year == pytest.approx(100, rel=1e-12)
    new_per_year = 400.0
    assert p.stages["opportunities_per_year"].iloc[0] == pytest.approx(new_per_year, rel=1e-12)
    assert p.new_per_week == pytest.approx(400 * 7 / 365, rel=1e-9)
    assert p.cycle_days == pytest.approx(30, rel=1e-12)
    inventory = 400 / 365 * 30  # Little's law: 32.876… open deals
    assert p.stages["inventory"].iloc[0] == pytest.approx(inventory, rel=1e-12)
    assert p.pipeline_value == pytest.approx(inventory * 10_000, rel=1e-12)
    assert p.coverage == pytest.approx(inventory * 10_000 / 250_000, rel=1e-12)
    assert p.coverage_needed == pytest.approx(4.0, rel=1e-12)
    assert p.accounts_to_acquire == pytest.approx(100, rel=1e-12)  # every deal is a new logo
    df = p.summary()
    assert df.loc["wins needed", "organisation"] == pytest.approx(600, rel=1e-12)
    assert df.loc["benchmark open deals", "per team"] == pytest.approx(3 * inventory, rel=1e-12)
    # the remaining walk is one gamma(mean 30, cv 0.5) stage: shape 4, scale 7.5
    for days in (5.0, 30.0, 60.0):
        assert float(p.p_close_within(np.array([0]), days)[0]) == pytest.approx(
            stats.gamma.cdf(days, a=4, scale=7.5), rel=1e-10
        )


def test_single_stage_expansion_only_acquires_no_accounts():
    data = {
        **ONE_STAGE,
        "funnel": {
            **ONE_STAGE["funnel"],
            "segments": {"new_logo": {"share": 0.0}, "expansion": {"share": 1.0}},
        },
    }
    p = plan(load_scenario(data))
    assert p.wins_per_year == pytest.approx(100, rel=1e-12)
    assert p.accounts_to_acquire == 0.0


def test_segment_and_product_offsets_shift_the_win_rate():
    def with_offset(off):
        data = {
            **ONE_STAGE,
            "funnel": {
                **ONE_STAGE["funnel"],
                "products": {
                    "X": {"share": 1.0, "logit_offset": off, "amount_median": 10_000, "amount_sigma": 0.0}
                },
            },
        }
        return plan(load_scenario(data))

    assert with_offset(0.5).win_rate == pytest.approx(float(expit(logit(0.25) + 0.5)), rel=1e-12)
    assert with_offset(-0.5).win_rate < 0.25 < with_offset(0.5).win_rate
    assert with_offset(0.5).new_per_week < with_offset(-0.5).new_per_week


def test_p_close_within_is_a_probability_monotone_in_days_and_stage(base_plan):
    n = len(base_plan.stages)
    days = np.arange(1.0, 241.0)
    prev_stage = None
    for s in range(n):
        p = np.array([float(base_plan.p_close_within(np.array([s]), d)[0]) for d in days])
        assert np.all((p >= 0) & (p <= 1))
        assert np.all(np.diff(p) >= 0)
        assert p[-1] > p[0]
        early = p[days <= 60]
        assert np.all((early > 0) & (early < 1))
        if prev_stage is not None:  # fewer stages left → more likely to finish in time
            assert np.all(p >= prev_stage - 1e-12)
        prev_stage = p
    assert float(base_plan.p_close_within(np.array([0]), 0.0)[0]) == 0.0
    assert float(base_plan.p_close_within(np.array([0]), -5.0)[0]) == 0.0


def test_p_close_within_vector_days_match_scalar_calls(base_plan):
    stage = np.array([0, 1, 2, 2, 0])
    days = np.array([10.0, 35.0, 5.0, 80.0, 120.0])
    vec = base_plan.p_close_within(stage, days)
    one = [
        float(base_plan.p_close_within(np.array([s]), float(d))[0]) for s, d in zip(stage, days, strict=True)
    ]
    np.testing.assert_allclose(vec, one, rtol=1e-12)


@given(d1=st.floats(0.1, 400), d2=st.floats(0.1, 400), stage=st.integers(0, 2))
@settings(max_examples=200, deadline=None)
def test_p_close_within_monotone_property(base_plan, d1, d2, stage):
    lo, hi = sorted((d1, d2))
    p_lo = float(base_plan.p_close_within(np.array([stage]), lo)[0])
    p_hi = float(base_plan.p_close_within(np.array([stage]), hi)[0])
    assert 0.0 <= p_lo <= p_hi <= 1.0


def test_two_stage_single_cell_by_hand():
    data = {
        **ONE_STAGE,
        "funnel": {
            **ONE_STAGE["funnel"],
            "stages": [
                {"name": "qualify", "conversion": 0.5, "mean_days": 10, "cv": 1.0},
                {"name": "close", "conversion": 0.6, "mean_days": 20, "cv": 1.0},
            ],
        },
    }
    p = plan(load_scenario(data))
    st_ = p.stages.set_index("stage")
    assert p.win_rate == pytest.approx(0.3, rel=1e-12)
    assert list(st_["conversion"]) == pytest.approx([0.5, 0.6], rel=1e-12)
    assert list(st_["to_won"]) == pytest.approx([0.3, 0.6], rel=1e-12)
    # 100 wins need 100 / 0.3 new deals, of which half reach "close"
    assert list(st_["opportunities_per_year"]) == pytest.approx([1000 / 3, 500 / 3], rel=1e-12)
    assert list(st_["inventory"]) == pytest.approx([1000 / 3 / 365 * 10, 500 / 3 / 365 * 20], rel=1e-12)
    assert p.cycle_days == pytest.approx(30, rel=1e-12)
    # cv 1 → exponential stages: from "close" the remaining time is exponential with mean 20
    assert float(p.p_close_within(np.array([1]), 20.0)[0]) == pytest.approx(1 - math.exp(-1), rel=1e-10)
