"""Invariants of every run (the second layer of the tests): Hypothesis draws small sales forces with varied
levers and each run must keep its books straight.

* the deal book: every deal is exactly one of won / lost / open, closed after it was created and no
  later than the stage end that resolved it, never closed twice, held only by someone in seat;
* the people: one person per seat at a time, headcount never above the seats;
* stage probabilities: every probability the model computes is strictly inside (0, 1);
* the output tables add up: reps to periods, quarters to the year, attainment = revenue / quota.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from salessim.drivers.coaching import skill_step
from salessim.funnel import plan
from salessim.model import LOGIT_LIMIT, LOST, OPEN, WON, ReplicationRecord, SalesForce
from salessim.results import PERIODS, tables
from salessim.scenario import Scenario, load_scenario

BASE = load_scenario("baseline")

# deadline=None: a run takes 10–100 ms, which is noisy on a shared machine; derandomize: the examples
# are fixed (seeded), so a failure reproduces; database=None: no Hypothesis cache on disk.
RUNS = settings(max_examples=150, deadline=None, derandomize=True, database=None)

GOAL_PLANS: list[list[dict[str, Any]]] = [
    [{"metric": "revenue", "weight": 1.0}],
    [{"metric": "revenue", "weight": 0.7}, {"metric": "new_logos", "weight": 0.3}],
    [g.model_dump() for g in BASE.goals.items],  # the baseline's four goals
    [
        {"metric": "revenue", "weight": 0.3},
        {"metric": "new_logos", "weight": 0.15},
        {"metric": "product_revenue", "product": "B", "weight": 0.15},
        {"metric": "avg_deal_size", "weight": 0.1},
        {"metric": "expansion_revenue", "weight": 0.15},
        {"metric": "win_rate", "weight": 0.15},
    ],
    [{"metric": "opportunities", "weight": 0.5}, {"metric": "new_logo_revenue", "weight": 0.5}],
]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A small sales force (≤ 12 seats, ≤ 330 days) with every lever drawn."""
    n_stages = draw(st.integers(1, 4))
    stages = [
        {
            "name": f"s{i}",
            "conversion": draw(st.floats(0.05, 0.95)),
            "mean_days": draw(st.floats(2.0, 40.0)),
            "cv": draw(st.floats(0.2, 1.5)),
        }
        for i in range(n_stages)
    ]
    changes: dict[str, Any] = {
        "organisation.managers": draw(st.integers(1, 3)),
        "organisation.span": draw(st.integers(1, 4)),
        "simulation.warmup_days": draw(st.sampled_from([0, 35, 90])),
        "simulation.horizon_days": draw(st.integers(28, 240)),
        "funnel.stages": stages,
        "goals.items": draw(st.sampled_from(GOAL_PLANS)),
        "goals.interwoven": draw(st.booleans()),
        "prescription.enabled": draw(st.booleans()),
        "metrics": draw(st.sampled_from(["outcomes", "pipeline", "stage"])),
        "crm.adoption": draw(st.sampled_from([0.05, 0.4, 0.7, 1.0])),
        "coaching.targeting": draw(
            st.sampled_from(["none", "reactive", "round_robin", "gap_targeted", "top_performers"])
        ),
        "coaching.joint_call_hours_per_week": draw(st.sampled_from([0.0, 2.0, 6.0, 12.0])),
        "managers.training": draw(st.sampled_from(["none", "trained"])),
        "managers.promotion": draw(st.booleans()),
        "reviews.cadence": draw(st.sampled_from(["annual", "semiannual", "quarterly", "monthly"])),
        "reviews.involuntary_annual": draw(st.sampled_from([0.0, 0.35, 1.0])),
        "reviews.involuntary_after_days": draw(st.sampled_from([0.0, 90.0, 180.0])),
        "attrition.voluntary_annual": draw(st.sampled_from([0.0, 0.14, 0.6, 0.95])),
        "attrition.reassignment_loss": draw(st.sampled_from([0.0, 0.25, 1.0])),
        "attrition.backfill_mean_days": draw(st.floats(3.0, 90.0)),
        "attrition.ramp_days": draw(st.sampled_from([0, 30, 150])),
        "reps.skill_sd": draw(st.floats(0.0, 1.5)),
        "reps.hours_per_week": draw(st.sampled_from([10.0, 45.0, 70.0])),
        "reps.deal_priority": draw(st.sampled_from(["late_and_big", "oldest_first", "biggest_first"])),
        "territory.inbound_per_week": draw(st.sampled_from([0.0, 1.5, 8.0])),
        "territory.accounts": draw(st.sampled_from([20, 500])),
        "comp.cap": draw(st.sampled_from([None, 1.2])),
        "comp.accelerator": draw(st.sampled_from([1.0, 2.0])),
        "culture.initial": draw(st.floats(0.0, 1.0)),
    }
    sc = BASE.replace(**changes)
    # size the quota so the reverse funnel asks for 1–6 new deals per rep-week whatever the
    # stages' conversions: runs stay small, and the plan's rates stay meaningful
    per_week = draw(st.floats(1.0, 6.0))
    return sc.replace(**{"organisation.quota": sc.organisation.quota * per_week / plan(sc).new_per_week})


run_args = st.tuples(scenarios(), st.integers(0, 2**31 - 1), st.integers(0, 7))


def fixed_scale(sc: Scenario) -> float:
    """A voluntary-hazard scale given outright: these properties hold at any scale, and solving it
    (pilot runs per sales force, tested in tests/test_stylized_facts.py) for every generated
    scenario would cost seconds an example."""
    return -math.log(1.0 - min(sc.attrition.voluntary_annual, 0.95))


# ------------------------------------------------------------------------------------------------
# instruments
# ------------------------------------------------------------------------------------------------


class CheckedSalesForce(SalesForce):
    """A SalesForce that checks, at every resolution step and every handover, that deals already
    closed stay exactly as they were (never closed twice, never moved) and that newly closed deals
    close at a stage end no later than now and no earlier than their creation."""

    def _snapshot(self) -> SimpleNamespace:
        b = self.book
        n = b.n
        return SimpleNamespace(
            n=n,
            status=b.status[:n].copy(),
            closed=b.closed[:n].copy(),
            person=b.person[:n].copy(),
            stage=b.stage[:n].copy(),
        )

    def _check_since(self, before: SimpleNamespace) -> None:
        b = self.book
        n = before.n
        assert b.n == n, "resolving or reassigning deals must not add or remove deals"
        was_closed = before.status != OPEN
        np.testing.assert_array_equal(b.status[:n][was_closed], before.status[was_closed])
        np.testing.assert_array_equal(b.closed[:n][was_closed], before.closed[was_closed])
        np.testing.assert_array_equal(b.person[:n][was_closed], before.person[was_closed])
        np.testing.assert_array_equal(b.stage[:n][was_closed], before.stage[was_closed])
        new = ~was_closed & (b.status[:n] != OPEN)
        now = self.env.now
        assert np.all(b.closed[:n][new] <= now + 1e-9), "a deal closed in the future"
        assert np.all(b.closed[:n][new] >= b.created[:n][new]), "a deal closed before it existed"
        # a stage is only ever passed forward
        assert np.all(b.stage[:n][~was_closed] >= before.stage[~was_closed])

    def _advance(self, now: float) -> None:
        before = self._snapshot()
        super()._advance(now)
        self._check_since(before)

    def _reassign(self, seat: int) -> None:
        before = self._snapshot()
        super()._reassign(seat)
        self._check_since(before)


class _ExpitProbe:
    """Stands in for ``scipy.special`` inside the model's modules and keeps every expit call."""

    def __init__(self) -> None:
        self.lo_min = math.inf
        self.lo_max = -math.inf
        self.p_min = math.inf
        self.p_max = -math.inf
        self.calls = 0
        self.nonfinite = 0

    def expit(self, x: Any) -> Any:
        x = np.asarray(x, dtype=float)
        p = special.expit(x)
        self.calls += 1
        if x.size:
            self.nonfinite += int((~np.isfinite(x)).sum())
            self.lo_min = min(self.lo_min, float(np.nanmin(x)))
            self.lo_max = max(self.lo_max, float(np.nanmax(x)))
            self.p_min = min(self.p_min, float(np.nanmin(p)))
            self.p_max = max(self.p_max, float(np.nanmax(p)))
        return p

    def __getattr__(self, name: str) -> Any:
        return getattr(special, name)


@contextlib.contextmanager
def expit_probe() -> Iterator[_ExpitProbe]:
    """Record every probability salessim.model computes with expit (stage advances, win and
    outlook probabilities). Not a fixture: Hypothesis re-runs the body many times per test."""
    probe = _ExpitProbe()
    # every module of the model that uses scipy.special
    users = [
        m
        for name, m in sorted(sys.modules.items())
        if name.startswith(("salessim.model.", "salessim.drivers."))
        and getattr(m, "special", None) is special
    ]
    assert users, "no model module uses scipy.special"
    for m in users:
        m.special = probe  # type: ignore[attr-defined]
    try:
        yield probe
    finally:
        for m in users:
            m.special = special  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------
# the deal book
# ------------------------------------------------------------------------------------------------


def check_book(rec: ReplicationRecord) -> None:
    b = rec.book
    n = b.n
    S = b.stages
    T = rec.warmup + rec.horizon
    status, stage = b.status[:n], b.stage[:n]
    created, closed = b.created[:n], b.closed[:n]
    won, lost, is_open = status == WON, status == LOST, status == OPEN
    assert won.sum() + lost.sum() + is_open.sum() == n, "a deal with no valid status"
    np.testing.assert_array_equal(np.sort(b.open_idx), np.flatnonzero(is_open))
    # won deals walked every stage; lost and open ones stopped inside the funnel
    assert np.all(stage[won] == S)
    assert np.all((stage[lost] >= 0) & (stage[lost] < S))
    assert np.all((stage[is_open] >= 0) & (stage[is_open] < S))
    # close times: none for open deals; after creation and within the run for closed ones
    assert np.all(np.isnan(closed[is_open]))
    done = ~is_open
    assert np.all(np.isfinite(closed[done]))
    assert np.all(closed[done] >= created[done])
    assert np.all(closed[done] <= T + 1e-9)
    # no deal is left open past the end of its stage
    assert np.all(b.next_time[:n][is_open] > T)
    # won deals close at their last stage end
    np.testing.assert_array_equal(closed[won], b.next_time[:n][won])


def check_people(rec: ReplicationRecord, n_seats: int) -> None:
    b = rec.book
    n = b.n
    T = rec.warmup + rec.horizon
    hire, leave, seat = rec.person_hire, rec.person_leave, rec.person_seat
    assert np.all(leave >= hire)
    assert np.all(hire <= T) and np.all(np.isinf(leave) | (leave <= T + 1e-9))
    # one person per seat at a time: in each seat, the next person starts after the last one left
    for k in range(n_seats):
        pids = np.flatnonzero(seat == k)
        order = pids[np.argsort(hire[pids], kind="stable")]
        assert np.all(leave[order[:-1]] <= hire[order[1:]]), f"seat {k} held by two people"
    assert np.all(rec.headcount <= n_seats + 1e-9)
    assert np.all(rec.headcount >= 0)
    # deals are created by someone in seat, in that person's seat
    creator, holder = b.creator[:n], b.person[:n]
    created, closed, status = b.created[:n], b.closed[:n], b.status[:n]
    assert np.all(created >= hire[creator]), "a deal created before its creator was hired"
    assert np.all(created < leave[creator]), "a deal created after its creator left"
    # a deal is held (and closed) only by someone in seat at the time, in the deal's seat
    done = status != OPEN
    assert np.all(closed[done] >= hire[holder[done]])
    assert np.all(closed[done] <= leave[holder[done]])
    np.testing.assert_array_equal(seat[holder], b.seat[:n])
    assert np.all(np.isinf(leave[holder[~done]])), "an open deal held by someone who left"
    # reassigned deals (created by a leaver, held by someone else) changed hands when the creator left
    moved = creator != holder
    assert np.all(np.isfinite(leave[creator[moved]]))
    assert np.all(closed[moved & done] >= leave[creator[moved & done]])


@RUNS
@given(run_args)
def test_deal_book_and_stage_probabilities(args: tuple[Scenario, int, int]) -> None:
    sc, seed, replication = args
    sf = CheckedSalesForce(sc, seed, replication, hazard_scale=fixed_scale(sc))
    with expit_probe() as probe:
        rec = sf.run()
    check_book(rec)
    assert np.all(np.isfinite(sf.theta_eff))
    assert np.all((sf.gain >= 0) & (sf.gain <= sc.coaching.skill_ceiling))
    assert probe.calls > 0
    assert probe.nonfinite == 0, "a stage log-odds was NaN or infinite"
    if rec.book.n:
        assert probe.p_min > 0.0 and probe.p_max < 1.0


@RUNS
@given(run_args)
def test_people_seats_and_handovers(args: tuple[Scenario, int, int]) -> None:
    sc, seed, replication = args
    rec = SalesForce(sc, seed, replication, hazard_scale=fixed_scale(sc)).run()
    check_people(rec, sc.n_reps)


def test_leavers_and_handovers_are_exercised() -> None:
    """The property above must meet leavers with open deals, some lost and some handed over."""
    sc = BASE.replace(
        **{
            "organisation.managers": 2,
            "organisation.span": 4,
            "simulation.warmup_days": 60,
            "simulation.horizon_days": 200,
            "attrition.voluntary_annual": 0.95,
            "managers.promotion": True,
        }
    )
    rec = SalesForce(sc, 11, 0, hazard_scale=fixed_scale(sc)).run()
    check_people(rec, sc.n_reps)
    check_book(rec)
    b = rec.book
    n = b.n
    moved = b.creator[:n] != b.person[:n]
    assert moved.sum() > 10
    assert (moved & (b.status[:n] != OPEN)).sum() > 0
    left = np.isfinite(rec.person_leave)
    lost_at_leave = np.isin(b.closed[:n], rec.person_leave[left]) & (b.status[:n] == LOST)
    assert lost_at_leave.sum() > 0


# ------------------------------------------------------------------------------------------------
# the output tables
# ------------------------------------------------------------------------------------------------


def check_tables(rec: ReplicationRecord) -> None:
    reps, periods, deals = tables(rec, deals=True)
    assert deals is not None
    assert list(periods["period"]) == list(PERIODS)
    per = periods.set_index("period")
    # revenue of the reps in a period adds up to the period's revenue
    by_period = reps.groupby("period")["revenue"].sum().reindex(list(PERIODS), fill_value=0.0)
    np.testing.assert_allclose(by_period, per["revenue"], rtol=1e-9, atol=1e-6)
    # attainment is revenue over (pro-rated) quota
    ok = reps["quota"] > 0
    np.testing.assert_allclose(
        reps.loc[ok, "attainment"], reps.loc[ok, "revenue"] / reps.loc[ok, "quota"], rtol=1e-12
    )
    assert (reps["quota"] <= rec.scenario.organisation.quota * (1 + 1e-12)).all()
    # counts are non-negative integers
    for col in ("wins", "losses", "opportunities", "joint_calls"):
        assert pd.api.types.is_integer_dtype(reps[col]), col
        assert (reps[col] >= 0).all(), col
    assert (reps["revenue"] >= 0).all()
    # the year is the sum of its four quarters, per rep and overall
    cols = ["revenue", "wins", "losses", "opportunities", "coaching_hours", "quota"]
    quarters = reps[reps["period"] != "year"].groupby("rep_id")[cols].sum()
    year = reps[reps["period"] == "year"].set_index("rep_id")[cols]
    assert set(quarters.index) == set(year.index), "a rep in a quarter but not in the year"
    quarters = quarters.reindex(year.index)
    np.testing.assert_allclose(quarters, year, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(
        per.loc[["Q1", "Q2", "Q3", "Q4"], "revenue"].sum(), per.loc["year", "revenue"], rtol=1e-9, atol=1e-6
    )
    # win rate is the year's closed deals in the book; the reps' wins and losses are those of the
    # people with time in seat in the year (a rep fired at the instant the year starts has none,
    # yet the deals lost as they leave are the organisation's losses of the year)
    yr = reps[reps["period"] == "year"]
    bk = rec.book
    t0, t1 = rec.warmup, rec.warmup + rec.horizon
    closed_in = (bk.closed[: bk.n] >= t0) & (bk.closed[: bk.n] < t1)
    won_in = closed_in & (bk.status[: bk.n] == WON)
    lost_in = closed_in & (bk.status[: bk.n] == LOST)
    if won_in.sum() + lost_in.sum():
        assert per.loc["year", "win_rate"] == pytest.approx(
            won_in.sum() / (won_in.sum() + lost_in.sum()), rel=1e-12
        )
    seated = np.isin(bk.person[: bk.n], yr["rep_id"].to_numpy())
    assert yr["wins"].sum() == (won_in & seated).sum()
    assert yr["losses"].sum() == (lost_in & seated).sum()
    # the deal log lists each deal created in the reported horizon once, with its true outcome
    b = rec.book
    n = b.n
    in_horizon = (b.created[:n] >= rec.warmup) & (b.created[:n] < rec.warmup + rec.horizon)
    assert len(deals) == in_horizon.sum()
    assert deals["opportunity_id"].is_unique
    outcome = np.array(["open", "won", "lost"])[b.status[:n][in_horizon]]
    np.testing.assert_array_equal(deals["outcome"].to_numpy(), outcome)
    assert (deals["closed_at"].isna() == (deals["outcome"] == "open")).all()
    assert (deals["closed_at"].dropna() >= deals.loc[deals["closed_at"].notna(), "created_at"]).all()
    won = deals["outcome"] == "won"
    assert (deals.loc[won, "stage_reached"] == "won").all()
    assert (deals.loc[~won, "stage_reached"] != "won").all()
    assert deals["rep_id"].isin(reps.loc[reps["period"] == "year", "rep_id"]).all()


@RUNS
@given(run_args)
def test_output_tables_add_up(args: tuple[Scenario, int, int]) -> None:
    sc, seed, replication = args
    check_tables(SalesForce(sc, seed, replication, hazard_scale=fixed_scale(sc)).run())


# ------------------------------------------------------------------------------------------------
# probabilities stay in (0, 1) at the extremes
# ------------------------------------------------------------------------------------------------


def test_largest_log_odds_stay_inside_unit_interval() -> None:
    """At the model's log-odds limit (and beyond), stage probabilities stay strictly in (0, 1)."""
    p = special.expit(
        np.clip(np.array([-np.inf, -1e6, -LOGIT_LIMIT, LOGIT_LIMIT, 1e6, np.inf]), -LOGIT_LIMIT, LOGIT_LIMIT)
    )
    assert np.all(p > 0.0) and np.all(p < 1.0)
    assert 1.0 - p[-1] > 0.0 and p[0] > 0.0


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(conversion=st.floats(0.5, 1.0, exclude_max=True), seed=st.integers(0, 2**31 - 1))
def test_extreme_scenarios_keep_probabilities_inside_unit_interval(conversion: float, seed: int) -> None:
    """Every log-odds lever at the edge the scenario schema allows and a conversion as close to 1
    as float64 goes (where expit saturates): probabilities stay strictly inside (0, 1).

    (The low side needs no search: expit(x) > 0 in float64 down to x ≈ −745, far below any
    log-odds the schema allows, and conversions near 0 make the reverse funnel ask for absurd
    prospecting rates.)
    """
    sc = BASE.replace(
        **{
            "organisation.managers": 1,
            "organisation.span": 6,
            "simulation.warmup_days": 30,
            "simulation.horizon_days": 60,
            "funnel.stages": [
                {"name": "a", "conversion": conversion, "mean_days": 3.0, "cv": 0.5},
                {"name": "b", "conversion": 0.5, "mean_days": 3.0, "cv": 0.5},
            ],
            "funnel.segments.new_logo.logit_offset": 5.0,
            "funnel.segments.expansion.logit_offset": 5.0,
            "funnel.products.A.logit_offset": 5.0,
            "funnel.products.B.logit_offset": 5.0,
            "reps.skill_sd": 3.0,
            "coaching.deal_boost": 3.0,
            "coaching.skill_gain_per_hour": 1.0,
            "coaching.skill_ceiling": 5.0,
            "coaching.targeting": "reactive",
            "coaching.joint_call_hours_per_week": 40.0,
            "coaching.hours_per_call": 0.5,
            "managers.training": "trained",
            "managers.admin_hours_per_week": 0.0,
            "managers.forecast_hours_per_week": 0.0,
        }
    )
    sf = CheckedSalesForce(sc, seed, 0, hazard_scale=fixed_scale(sc))
    with expit_probe() as probe:
        rec = sf.run()
    check_book(rec)
    assert rec.book.n > 0
    assert probe.nonfinite == 0
    assert probe.p_min > 0.0 and probe.p_max < 1.0


def test_extreme_log_odds_are_reached() -> None:
    """The extreme scenario above does push log-odds past where float64 expit saturates."""
    sc = BASE.replace(
        **{
            "organisation.managers": 1,
            "organisation.span": 6,
            "simulation.warmup_days": 30,
            "simulation.horizon_days": 60,
            "funnel.stages": [{"name": "a", "conversion": 1 - 1e-12, "mean_days": 3.0, "cv": 0.5}],
            "funnel.segments.new_logo.logit_offset": 5.0,
            "funnel.segments.expansion.logit_offset": 5.0,
            "funnel.products.A.logit_offset": 5.0,
            "funnel.products.B.logit_offset": 5.0,
        }
    )
    sf = SalesForce(sc, 3, 0, hazard_scale=fixed_scale(sc))
    raw = float(sf.base_logit.max() + sf.cell_offset.max())
    assert special.expit(raw) == 1.0  # unguarded, this would be a probability of exactly 1
    with expit_probe() as probe:
        sf.run()
    assert probe.lo_max == LOGIT_LIMIT
    assert probe.p_max < 1.0


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    gain=st.floats(0.0, 1.0),
    hours=st.floats(0.0, 500.0),
    per_hour=st.floats(0.0, 1.0),
    ceiling=st.floats(0.01, 5.0),
    decay=st.floats(0.0, 1.0),
)
def test_coached_skill_stays_within_its_ceiling(
    gain: float, hours: float, per_hour: float, ceiling: float, decay: float
) -> None:
    """Coached skill never exceeds the ceiling or goes negative, whatever one week's hours."""
    sc = BASE.replace(
        **{
            "coaching.skill_gain_per_hour": per_hour,
            "coaching.skill_ceiling": ceiling,
            "coaching.skill_decay_per_week": decay,
        }
    )
    g = np.array([gain * ceiling])
    for _ in range(3):
        g = skill_step(g, np.array([hours]), sc)
        assert 0.0 <= g[0] <= ceiling * (1 + 1e-12)


def test_removing_deals_keeps_every_per_deal_array_aligned() -> None:
    """DealBook.remove (a leaver's unmet deals) compacts every per-deal array alike."""
    sc = BASE.replace(
        **{
            "organisation.managers": 1,
            "organisation.span": 4,
            "simulation.warmup_days": 0,
            "simulation.horizon_days": 60,
        }
    )
    sf = SalesForce(sc, 5, 0, hazard_scale=fixed_scale(sc))
    sf.run()
    b = sf.book
    n = b.n
    per_deal = {
        name: arr[:n].copy()
        for name, arr in vars(b).items()
        if name != "open_idx" and isinstance(arr, np.ndarray) and arr.shape[:1] == (b.cap,)
    }
    assert {"seat", "created", "u_stage", "u_dur", "visible"} <= set(per_deal)
    open_before = set(b.open_idx.tolist())
    gone = np.flatnonzero(b.status[:n] == OPEN)[::2]
    new_index = b.remove(gone)
    kept = np.setdiff1d(np.arange(n), gone)
    assert b.n == kept.size
    np.testing.assert_array_equal(new_index[kept], np.arange(kept.size))
    assert np.all(new_index[gone] == -1)
    for name, before in per_deal.items():
        np.testing.assert_array_equal(getattr(b, name)[: b.n], before[kept], err_msg=name)
    assert set(b.open_idx.tolist()) == {int(new_index[i]) for i in open_before - set(gone.tolist())}
