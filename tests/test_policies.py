"""Each policy of the model, called alone on a few hand-made arrays (no sales force is built).

The registries are keyed by the scenario's settings; every setting the schema allows has a policy.
"""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest

from salessim.drivers import coaching, crm, metrics, prescription
from salessim.funnel import Plan, plan
from salessim.model.people import handover_order
from salessim.scenario import Coaching, Scenario, load_scenario


@pytest.fixture(scope="module")
def base_plan() -> Plan:
    return plan(load_scenario("baseline"))


# ------------------------------------------------------------------------------------------------
# registries cover the schema
# ------------------------------------------------------------------------------------------------
def test_every_setting_has_a_policy() -> None:
    targeting = set(get_args(Coaching.model_fields["targeting"].annotation))
    assert set(coaching.TARGETING) == targeting - {"none"}
    views = set(get_args(Scenario.model_fields["metrics"].annotation))
    assert set(metrics.ESTIMATES) == views
    assert set(metrics.FORECASTS) == views
    assert set(prescription.PROSPECTING_PLANS) == {True, False}


# ------------------------------------------------------------------------------------------------
# coaching targeting (driver 6)
# ------------------------------------------------------------------------------------------------
def _deals(seat, stage, amount, manager=None) -> coaching.OpenDeals:
    seat = np.asarray(seat)
    return coaching.OpenDeals(
        idx=np.arange(100, 100 + seat.size),
        seat=seat,
        manager=np.zeros(seat.size, dtype=np.int32) if manager is None else np.asarray(manager),
        stage=np.asarray(stage),
        amount=np.asarray(amount, dtype=float),
    )


def _team(n: int = 4, **kw) -> coaching.Team:
    fields = dict(
        manager=np.zeros(n, dtype=np.int64),
        active=np.ones(n, dtype=bool),
        flag=np.zeros(n, dtype=bool),
        recent_calls=np.zeros(n),
        est_ratio=np.ones(n),
        skill=np.zeros(n),
        rr_pointer=np.zeros(1, dtype=np.int64),
        span=n,
        stages=3,
        diag_stage=np.full(n, -1, dtype=np.int64),
    )
    fields.update(kw)
    return coaching.Team(**fields)


def test_best_deal_per_seat_is_most_advanced_then_largest() -> None:
    d = _deals(seat=[0, 0, 0, 2], stage=[1, 2, 2, 0], amount=[9e5, 1e4, 2e4, 5e3])
    np.testing.assert_array_equal(coaching.best_deal_per_seat(d, 4), [102, -1, 103, -1])


def test_reactive_joins_the_teams_latest_stage_largest_deals() -> None:
    # manager 0: deals in the last two stages only, latest stage first, then largest
    d = _deals(
        seat=[0, 1, 2, 3, 4], stage=[2, 1, 2, 0, 1], amount=[1e4, 5e5, 3e4, 9e6, 2e4], manager=[0, 0, 0, 0, 1]
    )
    deals, seats = coaching.reactive(d, _team(5, stages=3), np.array([2, 1]))
    np.testing.assert_array_equal(deals, [102, 100, 104])
    np.testing.assert_array_equal(seats, [2, 0, 4])


def test_round_robin_takes_reps_in_turn_and_carries_on() -> None:
    d = _deals(seat=[0, 1, 2, 3], stage=[0, 0, 0, 0], amount=[1.0, 1.0, 1.0, 1.0])
    team = _team(4)
    _, first = coaching.round_robin(d, team, np.array([2]))
    _, second = coaching.round_robin(d, team, np.array([2]))
    np.testing.assert_array_equal(first, [0, 1])
    np.testing.assert_array_equal(second, [2, 3])
    assert team.rr_pointer[0] == 4


def test_gap_targeted_visits_flagged_and_least_coached_reps_first() -> None:
    d = _deals(seat=[0, 1, 2, 3], stage=[0, 0, 0, 0], amount=[1.0, 1.0, 1.0, 1.0])
    team = _team(
        4,
        recent_calls=np.array([0.0, 1.2, 1.0, 1.0]),
        flag=np.array([False, True, False, False]),
        est_ratio=np.array([1.0, 0.5, 0.9, 0.2]),
    )
    # keys: 0.001, 0.8005, 1.0009, 1.0002 → seats 0, 1, 3, 2
    _, seats = coaching.gap_targeted(d, team, np.array([3]))
    np.testing.assert_array_equal(seats, [0, 1, 3])


def test_a_call_joins_a_deal_in_the_diagnosed_stage() -> None:
    # seats 0 and 1 have deals in stages 0 and 2; seat 0's weakest stage was found to be 0, seat
    # 1's not diagnosed: only seat 0's call goes to the named stage
    d = _deals(seat=[0, 0, 1, 1], stage=[0, 2, 0, 2], amount=[1.0, 5.0, 1.0, 5.0])
    team = _team(2, flag=np.array([False, True]), diag_stage=np.array([0, -1]))
    deals, seats = coaching.gap_targeted(d, team, np.array([2]))
    assert dict(zip(seats.tolist(), deals.tolist(), strict=True)) == {0: 100, 1: 103}
    # named stage without a deal in it: the most advanced deal, as without a diagnosis
    team = _team(2, flag=np.array([True, False]), diag_stage=np.array([1, -1]))
    deals, seats = coaching.gap_targeted(d, team, np.array([2]))
    assert dict(zip(seats.tolist(), deals.tolist(), strict=True)) == {0: 101, 1: 103}


def test_stage_fix_closes_a_share_of_a_shortfall_and_nothing_above_the_norm() -> None:
    dev = np.array([[-0.4, 0.1, 0.3]])
    hours = np.array([[2.0, 2.0, 0.0]])
    out = coaching.stage_fix(dev, hours, 0.1)
    closed = 1 - 0.9**2
    np.testing.assert_allclose(out, [[-0.4 + 0.4 * closed, 0.1, 0.3]])
    # no coaching: nothing moves; endless coaching: the shortfall closes, never past zero
    np.testing.assert_array_equal(coaching.stage_fix(dev, np.zeros((1, 3)), 0.1), dev)
    np.testing.assert_allclose(
        coaching.stage_fix(dev, np.full((1, 3), 1e4), 0.1), [[0.0, 0.1, 0.3]], atol=1e-12
    )


def test_weakest_stage_needs_logged_deals_to_find_the_real_weak_spot() -> None:
    bench = np.array([0.5, 0.5, 0.7])
    team_att = np.array([[400.0, 200.0, 100.0]])
    team_pass = np.array([[200.0, 100.0, 70.0]])
    # the rep converts stage 1 at 0.3 (team 0.5) and the others at the team's rates
    many_att = np.array([[200.0, 60.0, 18.0]])
    many_pass = np.array([[100.0, 18.0, 12.6]])
    assert metrics.weakest_stage(many_att, many_pass, team_att, team_pass, bench)[0] == 1
    # a handful of the same deals: shrunk to the team, the same stage still lowest but barely
    few = metrics.weakest_stage(many_att / 20, many_pass / 20, team_att, team_pass, bench)
    assert few[0] == 1
    # no logged deals at all: every stage at the team's rate, the first is named (a guess)
    none = metrics.weakest_stage(np.zeros((1, 3)), np.zeros((1, 3)), team_att, team_pass, bench)
    assert none[0] == 0


def test_stage_counts_count_reached_and_passed() -> None:
    key = np.array([0, 0, 1])
    reached = np.array([0, 2, 1])  # lost at stage 0; won (2 stages); lost at stage 1
    att, pas = metrics.stage_counts(key, reached, 2, 2)
    np.testing.assert_array_equal(att, [[2, 1], [1, 1]])
    np.testing.assert_array_equal(pas, [[1, 1], [1, 0]])


def test_top_performers_coaches_the_most_skilled_with_an_open_deal() -> None:
    d = _deals(seat=[0, 1, 3], stage=[0, 0, 0], amount=[1.0, 1.0, 1.0])
    team = _team(4, skill=np.array([0.1, 0.5, 0.9, -0.2]))  # seat 2 has no open deal
    deals, seats = coaching.top_performers(d, team, np.array([2]))
    np.testing.assert_array_equal(seats, [1, 0])
    np.testing.assert_array_equal(deals, [101, 100])


def test_seat_policies_skip_empty_seats_and_respect_each_managers_calls() -> None:
    d = _deals(seat=[0, 1, 2, 3], stage=[0, 0, 0, 0], amount=[1.0, 1.0, 1.0, 1.0], manager=[0, 0, 1, 1])
    team = _team(
        4,
        manager=np.array([0, 0, 1, 1]),
        active=np.array([False, True, True, True]),
        rr_pointer=np.zeros(2, dtype=np.int64),
        span=2,
    )
    _, seats = coaching.top_performers(d, team, np.array([5, 1]))
    np.testing.assert_array_equal(seats, [1, 2])


# ------------------------------------------------------------------------------------------------
# prospecting plans (driver 2)
# ------------------------------------------------------------------------------------------------
TARGETS = prescription.Targets(
    new_per_day=1.0, prescribed=1.1, pipeline_value=100.0, feast_or_famine=0.5, corrective_raise=0.5
)


def test_prescribed_plan_ignores_bias_and_pipeline() -> None:
    out = prescription.prescribed(
        np.array([0.0, 400.0]), np.array([0.5, 2.0]), np.array([True, False]), TARGETS
    )
    np.testing.assert_array_equal(out, [1.1, 1.1])


def test_self_planned_is_feast_or_famine_with_correction_for_the_flagged() -> None:
    pipe = np.array([100.0, 400.0, 25.0, 100.0])
    bias = np.array([1.0, 1.0, 1.0, 0.5])
    flag = np.array([False, False, False, True])
    out = prescription.self_planned(pipe, bias, flag, TARGETS)
    # full pipeline: half the rate; dry pipeline: double; flagged 0.5 closes half the gap to 1.1
    np.testing.assert_allclose(out, [1.0, 0.5, 2.0, 0.5 + 0.5 * 0.6])


# ------------------------------------------------------------------------------------------------
# metric views (driver 3) and the CRM (driver 4)
# ------------------------------------------------------------------------------------------------
def _crm(unit, amount, stage, units, adoption=0.5) -> metrics.CrmDeals:
    return metrics.CrmDeals(
        unit=np.asarray(unit),
        amount=np.asarray(amount, dtype=float),
        stage=np.asarray(stage),
        units=units,
        adoption=adoption,
    )


def _rep_view(p: Plan, rem: float, **kw) -> metrics.RepView:
    fields = dict(
        plan=p,
        rem=rem,
        ytd=np.array([100.0, 200.0]),
        crm=_crm([0, 0, 1], [10.0, 20.0, 40.0], [0, 2, 1], 2),
        ratio_pipeline=0.4,
        value_per_new=50.0,
        trailing_rate=lambda: np.array([2.0, 3.0]),
        to_won=lambda: np.full((2, p.stages.shape[0]), 0.5),
    )
    fields.update(kw)
    return metrics.RepView(**fields)


def test_outcomes_estimate_is_year_to_date_plus_trailing_pace(base_plan) -> None:
    v = _rep_view(base_plan, rem=100.0, to_won=lambda: pytest.fail("outcomes read the CRM"))
    np.testing.assert_allclose(metrics.ESTIMATES["outcomes"](v), [300.0, 500.0])


def test_pipeline_estimate_grosses_up_the_logged_pipeline(base_plan) -> None:
    p = base_plan
    rem = p.cycle_days / 2  # half a cycle left: half the pipeline closes, no new deals do
    v = _rep_view(p, rem=rem)
    np.testing.assert_allclose(
        metrics.ESTIMATES["pipeline"](v), [100.0 + 60.0 * 0.4 * 0.5, 200.0 + 80.0 * 0.4 * 0.5]
    )


def test_stage_estimate_uses_observed_odds_and_littles_law(base_plan) -> None:
    p = base_plan
    rem = p.cycle_days + 10.0
    v = _rep_view(p, rem=rem)
    close = p.p_close_within(np.array([0, 2, 1]), rem)
    pipe = np.array([10 * close[0] + 20 * close[1], 40 * close[2]]) * 0.5 / 0.5
    rate_hat = np.array([1.0, 0.0]) / 0.5 / p.stages["mean_days"].iloc[0]
    future = rate_hat * 10.0 * 0.5 * p.avg_won_amount
    np.testing.assert_allclose(metrics.ESTIMATES["stage"](v), np.array([100.0, 200.0]) + pipe + future)


def test_forecasts(base_plan) -> None:
    p = base_plan
    v = metrics.TeamView(
        plan=p,
        horizon=p.cycle_days,
        crm=_crm([0, 1], [10.0, 30.0], [0, 1], 2),
        reps=np.array([4.0, 0.0]),
        ratio_pipeline=0.5,
        value_per_new=10.0,
        in_quarter_factor=2.0,
        last_quarter=lambda: np.array([7.0, 8.0]),
        to_won=lambda: np.ones((2, p.stages.shape[0])),
    )
    np.testing.assert_array_equal(metrics.FORECASTS["outcomes"](v), [7.0, 8.0])
    np.testing.assert_allclose(
        metrics.FORECASTS["pipeline"](v), [20 * 0.5 + 4 * p.new_per_day * 2.0 * 10.0, 60 * 0.5]
    )
    close = p.p_close_within(np.array([0, 1]), p.cycle_days)
    top = np.array([2.0, 0.0]) / p.stages["mean_days"].iloc[0]
    np.testing.assert_allclose(
        metrics.FORECASTS["stage"](v), [20 * close[0] + top[0] * 2.0 * p.avg_won_amount, 60 * close[1]]
    )


def test_stage_to_won_shrinks_observed_passes_toward_the_benchmark() -> None:
    bench = np.array([0.5, 0.5])
    # unit 0: ten deals won (reached 2); unit 1: nothing seen → the benchmark
    key = np.zeros(10, dtype=np.int64)
    reached = np.full(10, 2)
    out = metrics.stage_to_won(key, reached, 2, bench)
    np.testing.assert_allclose(out[0], [0.75 * 0.75, 0.75])
    np.testing.assert_allclose(out[1], [0.25, 0.5])


def test_crm_logs_deals_below_adoption_and_grosses_up() -> None:
    np.testing.assert_array_equal(
        crm.logged(np.array([0.1, 0.69, 0.7, 0.9]), 0.7), [True, True, False, False]
    )
    np.testing.assert_allclose(crm.gross_up(np.array([7.0]), 0.7), [10.0])


# ------------------------------------------------------------------------------------------------
# handing over a leaver's deals
# ------------------------------------------------------------------------------------------------
def test_handover_goes_to_the_teammates_with_fewest_open_deals_first() -> None:
    np.testing.assert_array_equal(handover_order(np.array([3, 5, 7]), np.array([4, 1, 1])), [5, 7, 3])
