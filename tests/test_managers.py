"""Managers' time ledger: one weekly budget per manager, spent in order, where requests contend.

The ledger itself (admin → reviews → hiring → training → joint calls, what does not fit is not
delivered, reviews wait), then what it does inside a run: review cadence takes coaching hours at a
wide span, vacant seats cost interview hours, training days are taken, delivered ÷ promised is
≤ 1 and exactly 1 with an ample budget, culture hears the coaching actually delivered; promotion
as the Peter principle; bad input for every new field.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import simpy

from salessim.cli import main
from salessim.drivers import training
from salessim.model import PROMOTED, SalesForce, policy
from salessim.model.clock import WEEK
from salessim.model.managers import (
    ADMIN,
    COACHING,
    HIRING,
    REVIEW,
    TRAINING,
    Ledger,
    _urgent_timeout,
)
from salessim.rng import stream
from salessim.scenario import Scenario, load_scenario
from salessim.simulate import simulate

SEED = 20240611


def small(**over: object) -> Scenario:
    """Two teams of eight, a 60-day warm-up and a 182-day horizon, the policy in force from time 0."""
    return load_scenario("baseline").replace(
        **{
            "organisation.managers": 2,
            "organisation.span": 8,
            "simulation.warmup_days": 60,
            "simulation.horizon_days": 182,
            "simulation.mode": "steady_state",
            **over,
        }
    )


def run(sc: Scenario, replication: int = 0) -> SalesForce:
    sf = SalesForce(sc, SEED, replication)
    sf.run()
    return sf


# --------------------------------------------------------------------------------------------
# The ledger on its own
# --------------------------------------------------------------------------------------------


def _ledger(hours: float = 20.0) -> tuple[simpy.Environment, Ledger, np.ndarray]:
    env = simpy.Environment()
    spent = np.zeros(5)
    return env, Ledger(env, hours, spent), spent


def test_requests_take_what_is_left_in_order_and_the_rest_is_not_delivered() -> None:
    _env, led, spent = _ledger(20.0)
    led.open_week()
    admin = led.spend(12.0, ADMIN)
    hiring = led.spend(3.0, HIRING)
    coach = led.spend(8.0, COACHING)  # only 5 h are left
    assert (admin.value, hiring.value, coach.value) == (12.0, 3.0, 5.0)
    late = led.spend(2.0, COACHING)  # nothing is left: granted nothing, at once
    assert late.triggered and late.value == 0.0
    np.testing.assert_allclose(spent, [12.0, 0.0, 3.0, 0.0, 5.0])
    assert led.level == 0.0


def test_a_review_that_does_not_fit_waits_and_goes_ahead_of_next_weeks_coaching() -> None:
    env, led, spent = _ledger(20.0)
    out: dict[str, float] = {}

    def manager() -> simpy.events.ProcessGenerator:
        for week in range(3):
            led.open_week()
            led.spend(8.0, ADMIN)
            out[f"coach{week}"] = led.spend(6.0, COACHING).value
            yield _urgent_timeout(env, WEEK)

    def reviewer() -> simpy.events.ProcessGenerator:
        yield env.timeout(3.0)  # mid-week: 6 h are left of week 0
        ask = led.spend(15.0, REVIEW, wait=True)
        assert not ask.triggered and ask.granted == 6.0
        yield ask
        out["review_done"] = env.now

    env.process(manager())
    env.process(reviewer())
    env.run(until=3 * WEEK)
    # week 0: coaching had its 6 h before the review came; week 1: admin, then the review's
    # remaining 9 h, leaving coaching 20 − 8 − 9 = 3 of its 6; week 2: coaching in full
    assert out["coach0"] == 6.0
    assert out["coach1"] == 3.0
    assert out["coach2"] == 6.0
    assert out["review_done"] == WEEK
    np.testing.assert_allclose(spent[[ADMIN, REVIEW, COACHING]], [24.0, 15.0, 15.0])


def test_pending_requests_are_served_by_priority_then_arrival() -> None:
    _env, led, _ = _ledger(10.0)
    first = led.spend(4.0, REVIEW, wait=True)  # the week has not opened: all wait
    second = led.spend(4.0, REVIEW, wait=True)
    led.open_week()
    admin = led.spend(4.0, ADMIN)  # admin comes first, then the reviews in arrival order
    assert admin.value == 4.0
    assert first.triggered and first.value == 4.0
    assert not second.triggered and second.granted == 2.0


# --------------------------------------------------------------------------------------------
# Review cadence costs hours: at a wide span, monthly reviews take coaching's hours
# --------------------------------------------------------------------------------------------


def _year(sc: Scenario, replications: int = 8, seed: int = 11):
    p = simulate(sc, replications=replications, seed=seed).periods
    return p[p["period"] == "year"].sort_values("replication")


def test_monthly_reviews_at_a_wide_span_leave_less_coaching_delivered_than_annual() -> None:
    """30 reps a manager, 12 promised joint-call hours: a monthly review (30 h) no longer fits in
    the week's free hours and waits into the next week, ahead of its joint calls."""
    wide = load_scenario("baseline").replace(
        **{
            "organisation.managers": 2,
            "organisation.span": 30,
            "simulation.warmup_days": 90,
            "simulation.horizon_days": 364,
            "coaching.joint_call_hours_per_week": 12,
        }
    )
    annual = _year(wide)
    monthly = _year(wide.replace(**{"reviews.cadence": "monthly"}))
    diff = (
        annual["coaching_delivered_share"].to_numpy() - monthly["coaching_delivered_share"].to_numpy()
    )  # paired: same seeds
    se = diff.std(ddof=1) / math.sqrt(diff.size)
    assert diff.mean() > 3 * se
    # about one week's calls lost per monthly review: well below the annual cadence's
    assert monthly["coaching_delivered_share"].max() < annual["coaching_delivered_share"].min()
    assert (monthly["coaching_hours"] < annual["coaching_hours"]).all()


def test_at_the_usual_span_reviews_fit_and_coaching_is_delivered_in_full() -> None:
    """Eight reps, 1 h each: even a monthly review fits in the hours admin and calls leave."""
    sf = run(
        small(
            **{
                "reviews.cadence": "monthly",
                "managers.promotion": False,
                "attrition.voluntary_annual": 0.0,
                "reviews.involuntary_annual": 0.0,
            }
        )
    )
    rec_share = sf.coach_delivered / sf.coach_promised
    np.testing.assert_array_equal(rec_share, np.ones(5))
    # every monthly review took its hours: 8 reps × 1 h per review, per manager, and every new
    # flag its corrective-plan meeting
    reviews_held = sum(1 for _ in sf.clock.calendar(365.0 / 12))
    plan_hours = sf.sc.reviews.plan_hours
    assert plan_hours > 0 and sf.plans_started.sum() > 0
    np.testing.assert_allclose(
        sf.ledgers.spent[:, REVIEW], 8.0 * reviews_held + plan_hours * sf.plans_started
    )


# --------------------------------------------------------------------------------------------
# Hiring: interview hours for every Monday a seat stands empty
# --------------------------------------------------------------------------------------------


def _vacant_mondays(sf: SalesForce) -> np.ndarray:
    """Per manager: Σ over Mondays of seats empty then (from persons' hire and leave times)."""
    seat = np.array(sf.p_seat)
    hire = np.array(sf.p_hire)
    leave = np.array(sf.p_leave)
    mondays = np.arange(0.0, sf.T + 1e-9, WEEK)
    out = np.zeros(sf.M)
    for k in range(sf.N):
        mine = seat == k
        filled = np.zeros(mondays.size, dtype=bool)
        for h, lv in zip(hire[mine], leave[mine], strict=True):
            filled |= (mondays >= h) & (mondays < lv)
        out[sf.seat_manager[k]] += (~filled).sum()
    return out


def test_hiring_hours_are_taken_for_every_week_a_seat_is_vacant() -> None:
    over = {
        "managers.hours_per_week": 100.0,
        "attrition.voluntary_annual": 0.6,
        "managers.interview_hours_per_vacancy": 3.0,
    }
    sf = run(small(**over))
    vacant = _vacant_mondays(sf)
    assert vacant.sum() >= 10  # promotions and many leavers: seats stood empty
    np.testing.assert_allclose(sf.ledgers.spent[:, HIRING], 3.0 * vacant)

    quiet = run(
        small(
            **{
                **over,
                "attrition.voluntary_annual": 0.0,
                "managers.promotion": False,
                "reviews.involuntary_annual": 0.0,
            }
        )
    )
    assert _vacant_mondays(quiet).sum() == 0
    assert quiet.ledgers.spent[:, HIRING].sum() == 0.0


def test_hiring_comes_before_coaching_when_the_week_is_short() -> None:
    """Free hours of 4 a week: a manager with an empty seat (3 h of interviews) has 1 h for calls."""
    sc = small(
        **{
            "managers.hours_per_week": 31.0,
            "managers.promotion": True,
            "attrition.voluntary_annual": 0.0,
            "reviews.involuntary_annual": 0.0,
        }
    )
    sf = SalesForce(sc, SEED, 0)
    for m in range(sf.M):  # every team gets a new manager, its top rep: one empty seat each
        training.replace_manager(sf, m)
    sf.env.run(until=1.0)  # the first Monday
    np.testing.assert_allclose(sf.ledgers.spent[:, HIRING], 3.0)
    np.testing.assert_allclose(sf.ledgers.granted, 1.0)


# --------------------------------------------------------------------------------------------
# Delivered ÷ promised
# --------------------------------------------------------------------------------------------


def test_delivered_share_is_one_when_the_budget_is_ample_and_matches_the_hours() -> None:
    sc = small(**{"managers.hours_per_week": 100.0})
    periods = simulate(sc, replications=3, seed=SEED).periods
    np.testing.assert_array_equal(periods["coaching_delivered_share"].to_numpy(), 1.0)
    # the share is the joint-call hours the reps received ÷ the hours promised
    sf = run(sc)
    mondays = np.arange(0.0, sf.T + 1e-9, WEEK)
    in_year = ((mondays >= sf.W) & (mondays < sf.T)).sum()
    promised = sc.coaching.joint_call_hours_per_week * sf.M * in_year
    assert sf.coach_promised[4] == promised
    assert sf.coach_hours[:, 4].sum() == pytest.approx(sf.coach_delivered[4])


def test_delivered_share_falls_below_one_when_the_week_is_short_and_never_exceeds_it() -> None:
    # 27 fixed hours of 30 leave 3 for a promise of 4 (and less in weeks with a vacancy)
    sc = small(**{"managers.hours_per_week": 30.0})
    p = simulate(sc, replications=3, seed=SEED).periods
    share = p["coaching_delivered_share"].to_numpy()
    assert (share <= 1.0).all() and (share > 0.0).all()
    assert (share < 0.8).all()  # at most 3 of 4 hours, in whole 2-hour calls
    none = simulate(small(**{"coaching.targeting": "none"}), replications=1, seed=SEED).periods
    assert none["coaching_delivered_share"].isna().all()  # nothing promised


def test_culture_hears_the_coaching_actually_delivered() -> None:
    ample = run(small(**{"managers.hours_per_week": 100.0}))
    starved = run(small(**{"managers.hours_per_week": 27.0}))  # admin and forecasts take it all
    assert starved.coach_delivered[4] == 0.0
    assert (starved.delivered == 0.0).all() and (ample.delivered > 1.0).all()
    assert (starved.culture < ample.culture).all()


# --------------------------------------------------------------------------------------------
# Training days away
# --------------------------------------------------------------------------------------------


def test_a_new_manager_attends_the_programme_and_its_days_come_before_joint_calls() -> None:
    """Two days away (20 h of a 50-hour week) from a new manager's first day: that week's calls
    get 3 of the 4 promised hours, and quality moves to the trained level once it is over. The
    managers in place at the start of a steady state were trained before it: no days away."""
    sc = small(**{"managers.training": "trained", "managers.training_days": 2.0, "managers.promotion": False})
    sf = SalesForce(sc, SEED, 0)
    trained = sf.quality.copy()
    training.replace_manager(sf, 1)
    z = np.array([stream(SEED, 0, "managers", 1, 2).standard_normal()])  # the team's new manager
    assert sf.quality[1] == training.manager_quality(sc, z, trained=False)[0]
    sf.env.run(until=1.0)
    np.testing.assert_allclose(sf.ledgers.spent[:, TRAINING], [0.0, 20.0])
    np.testing.assert_allclose(sf.ledgers.granted, [4.0, 3.0])
    assert sf.quality[0] == trained[0]
    sf.env.run(until=WEEK + 1.0)  # the programme is over
    np.testing.assert_allclose(sf.ledgers.spent[:, TRAINING], [0.0, 20.0])
    np.testing.assert_allclose(sf.ledgers.granted, [4.0, 4.0])
    assert sf.quality[1] == training.manager_quality(sc, z, trained=True)[0]


def test_in_a_transition_every_manager_attends_at_the_policys_start() -> None:
    """The warm-up runs untrained (the baseline policy); when the trained policy takes over at the
    end of the warm-up (day 60) every manager spends 10 working days (14 calendar days) away,
    coaching at the untrained level until the programme ends, then at the trained level — the
    same managers (the same quality draws). A steady state's managers were trained before it."""
    sc = small(
        **{"managers.training": "trained", "managers.training_days": 10.0, "managers.promotion": False}
    )
    sf = SalesForce(sc.replace(**{"simulation.mode": "transition"}), SEED, 0)
    sf._spawn(policy.switch(sf, sf.target))  # as run() does; the ledgers run from construction
    steady = SalesForce(sc, SEED, 0)
    assert np.isnan(steady.programme).all()
    np.testing.assert_allclose(steady.quality, training.manager_quality(sc, steady.q_z, trained=True))
    assert training.away_hours(np.array([60.0, 74.0]), 56.0, 50.0) == pytest.approx(50.0 * 3 / 7)
    assert training.away_hours(np.array([60.0, 74.0]), 77.0, 50.0) == 0.0
    sf.env.run(until=3 * WEEK)  # before the warm-up ends: no days away, untrained
    assert sf.ledgers.spent[:, TRAINING].sum() == 0.0
    np.testing.assert_allclose(sf.quality, training.manager_quality(sc, sf.q_z, trained=False))
    sf.env.run(until=60.0 + 1.0)  # the trained policy has taken over: every manager enrolled
    # the switch at day 60 falls mid-week (the week from 56 has opened): the programme begins
    # on the next Monday, day 63, so both of its weeks are booked whole
    np.testing.assert_allclose(sf.programme, [[63.0, 63.0 + 2 * WEEK]] * sf.M)
    np.testing.assert_allclose(sf.quality, training.manager_quality(sc, sf.q_z, trained=False))
    assert sf.ledgers.spent[:, TRAINING].sum() == 0.0
    sf.env.run(until=10 * WEEK + 1.0)  # the Mondays of 63 and 70 days: two whole weeks away
    # a week away takes what admin and forecasting leave of it (50 − 27 hours), reviews aside
    free = 50.0 - 27.0
    spent = sf.ledgers.spent[:, TRAINING]
    assert np.all(spent > free) and np.all(spent <= 2 * free + 1e-9)
    np.testing.assert_allclose(sf.quality, training.manager_quality(sc, sf.q_z, trained=False))
    sf.env.run(until=13 * WEEK + 1.0)  # the Monday of day 77: the programme is over
    np.testing.assert_allclose(sf.quality, training.manager_quality(sc, sf.q_z, trained=True))


def test_the_baseline_promotes_from_the_rep_ranks_as_it_says() -> None:
    base = load_scenario("baseline")
    assert base.managers.promotion is True
    assert "promoted from the rep ranks" in base.description
    assert base.managers.training == "none"


def test_a_promoted_reps_coaching_quality_is_drawn_apart_from_selling_skill() -> None:
    rng = np.random.default_rng(SEED)
    n = 20_000
    z_skill, z_own = rng.standard_normal(n), rng.standard_normal(n)
    for rho in (0.0, -0.2, -0.6):
        z = training.promoted_z(rho, z_skill, z_own)
        assert abs(z.std() - 1.0) < 4 * math.sqrt(0.5 / n)  # still standard normal (4 SE)
        r = np.corrcoef(z, z_skill)[0, 1]
        assert abs(r - rho) < 4 * (1 - rho * rho) / math.sqrt(n)  # 4 SE of a correlation


def test_a_new_manager_is_the_teams_top_rep_with_quality_drawn_apart_from_skill() -> None:
    sc = small(**{"managers.promoted_skill_correlation": -1.0})
    sf = SalesForce(sc, SEED, 0)
    # the managers at the start were promoted before the run from a team like this one: fully
    # against skill, their quality z is minus the top of `span` skill draws; no seat is empty
    np.testing.assert_allclose(sf.quality, training.manager_quality(sc, -sf.manager_z[:, 2:].max(axis=1)))
    assert sf.active.all()
    span = sc.organisation.span
    top = int(np.argmax(sf.theta0[span : 2 * span])) + span
    training.replace_manager(sf, 1)
    assert not sf.active[top] and sf.active.sum() == sf.N - 1
    assert np.array(sf.p_exit)[np.array(sf.p_seat) == top][0] == PROMOTED
    assert sf.quality[1] == training.manager_quality(sc, -sf.zskill[top])
    outside = SalesForce(small(**{"managers.promotion": False}), SEED, 0)
    np.testing.assert_allclose(outside.quality, training.manager_quality(sc, outside.manager_z[:, 0]))
    training.replace_manager(outside, 1)
    assert outside.active.all()
    # the last rep left in a team is not promoted
    lone = SalesForce(sc, SEED, 0)
    for k in range(span + 1, 2 * span):
        lone._leave(k, 1)
    training.replace_manager(lone, 1)
    assert lone.active[span]


def test_managers_turn_over_at_their_rate_and_promotion_drains_top_reps_every_year() -> None:
    """Two years of 60 teams at 30 % a year: replacements ≈ Binomial(teams × months, p_month),
    spread over the run (not a one-off at the start), each promoting a top rep."""
    sc = load_scenario("baseline").replace(
        **{
            "organisation.managers": 60,
            "organisation.span": 4,
            "simulation.warmup_days": 0,
            "simulation.horizon_days": 730,
            "managers.turnover_annual": 0.3,
            "attrition.voluntary_annual": 0.0,
            "reviews.involuntary_annual": 0.0,
        }
    )
    sf = run(sc)
    leave = np.array(sf.p_leave)[np.array(sf.p_exit) == PROMOTED]
    months = int(730 / (365 / 12))  # month ends within the run
    p = 1 - 0.7 ** (1 / 12)
    n = 60 * months
    assert abs(leave.size - n * p) < 4 * math.sqrt(n * p * (1 - p))
    assert (leave < 365).sum() > 0 and (leave >= 365).sum() > 0
    assert abs((leave < 365).sum() - (leave >= 365).sum()) < 4 * math.sqrt(leave.size)


# --------------------------------------------------------------------------------------------
# Bad input: exit 2 naming the file, the field and the value
# --------------------------------------------------------------------------------------------

BAD = [
    ("managers: {hours_per_week: -5}\n", "managers.hours_per_week", "-5"),
    ("managers: {hours_per_week: 0}\n", "managers.hours_per_week", "0"),
    ("managers: {hours_per_week: 200}\n", "managers.hours_per_week", "200"),
    ("managers: {admin_hours_per_week: -1}\n", "managers.admin_hours_per_week", "-1"),
    ("managers: {forecast_hours_per_week: -2.5}\n", "managers.forecast_hours_per_week", "-2.5"),
    ("managers: {forecast_hours_per_week: lots}\n", "managers.forecast_hours_per_week", "lots"),
    ("managers: {review_hours_per_rep: -1}\n", "managers.review_hours_per_rep", "-1"),
    ("managers: {interview_hours_per_vacancy: -3}\n", "managers.interview_hours_per_vacancy", "-3"),
    ("managers: {interview_hours_per_vacancy: .nan}\n", "managers.interview_hours_per_vacancy", "nan"),
    ("managers: {training_days: -1}\n", "managers.training_days", "-1"),
    ("managers: {training_days: 400}\n", "managers.training_days", "400"),
    ("managers: {promoted_skill_correlation: 1.5}\n", "managers.promoted_skill_correlation", "1.5"),
    ("managers: {promoted_skill_correlation: true}\n", "managers.promoted_skill_correlation", "True"),
    ("managers: {promotion: maybe}\n", "managers.promotion", "maybe"),
    ("managers: {turnover_annual: -0.1}\n", "managers.turnover_annual", "-0.1"),
    ("managers: {turnover_annual: 0.95}\n", "managers.turnover_annual", "0.95"),
    (
        "managers: {hours_per_week: 30, admin_hours_per_week: 28}\n",
        "managers",
        "admin_hours_per_week 28 + forecast_hours_per_week 4 = 32 exceed hours_per_week 30",
    ),
    ("managers: {weekly_hours: 45}\n", "managers.weekly_hours", "hours_per_week"),
    ("coaching: {joint_call_hours_per_week: -4}\n", "coaching.joint_call_hours_per_week", "-4"),
]


@pytest.mark.parametrize(("body", "field", "value"), BAD, ids=[b[1] + ":" + b[2][:12] for b in BAD])
def test_bad_manager_input_exits_2_naming_file_field_and_value(
    tmp_path: Path, capsys, monkeypatch, body: str, field: str, value: str
) -> None:
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "bad_manager.yaml"
    path.write_text("extends: baseline\n" + body, encoding="utf-8")
    code = main(["plan", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    flat = " ".join(err.split())
    assert "bad_manager.yaml" in flat
    assert f"`{field}`" in flat
    assert value in flat
