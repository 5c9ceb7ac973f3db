"""Driver 6 — coaching: which deals and reps managers join on joint calls, and what a call does.

Each week a manager spends up to ``coaching.joint_call_hours_per_week`` of their people-time on
joint calls, chosen by the scenario's ``coaching.targeting`` policy (:data:`TARGETING`).

A joint call does two things: it lifts the odds of the deal's current stage *now* (× the manager's
quality), and it transfers skill to the rep *for later*: selling craft that helps in every stage,
with diminishing returns toward a ceiling and slow forgetting, and a share of the rep's shortfall
in *the stage the call is on* (``coaching.stage_fix_per_hour``) — coaching a rep's weakest stage
helps most. Both follow a bell-shaped responsiveness over the rep's position in the skill
distribution — the middle 60 % gain most, the top and bottom 20 % little (Sales Executive Council;
Dixon & Adamson 2011).

When a manager visits a rep whose weakest stage they have diagnosed (stage metrics name one at
every assessment, :mod:`salessim.drivers.reviews`), they join a deal of the rep's in that stage if
there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from salessim.model.clock import MONTH, WEEK
from salessim.model.sorting import stable_argsort
from salessim.scenario import Scenario

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "TARGETING",
    "OpenDeals",
    "Team",
    "coach_week",
    "gap_targeted",
    "reactive",
    "responsiveness",
    "round_robin",
    "skill_step",
    "stage_fix",
    "top_performers",
]


@dataclass(frozen=True)
class OpenDeals:
    """The open deals a manager could join, aligned arrays (one entry per deal)."""

    idx: np.ndarray  # the deal's index in the book
    seat: np.ndarray  # the seat holding it
    manager: np.ndarray  # that seat's manager
    stage: np.ndarray  # its current stage (0 = first)
    amount: np.ndarray  # its value


@dataclass(frozen=True)
class Team:
    """What managers know of the seats in their teams (one entry per seat unless noted)."""

    manager: np.ndarray  # each seat's manager
    active: np.ndarray  # the seat is filled
    flag: np.ndarray  # the rep's gap is flagged
    recent_calls: np.ndarray  # joint calls received lately (decaying count)
    est_ratio: np.ndarray  # the manager's estimate ÷ the flag threshold at the last assessment
    skill: np.ndarray  # the rep's effective skill (log-odds)
    diag_stage: np.ndarray  # the stage the manager found the rep weakest at (-1: none named)
    rr_pointer: np.ndarray  # per manager: the round-robin rotation's position (advanced in place)
    span: int  # seats per manager
    stages: int  # stages of the funnel


#: A targeting policy: which deals each manager joins this week (``n_calls[m]`` each, manager ``m``)
#: and whose they are — ``(deal indices, seats)``.
Targeting = Callable[[OpenDeals, Team, np.ndarray], tuple[np.ndarray, np.ndarray]]


def reactive(deals: OpenDeals, team: Team, n_calls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Managers jump on their team's most advanced, then largest, open deals (last two stages)."""
    sel = np.flatnonzero(deals.stage >= team.stages - 2) if team.stages >= 2 else np.arange(deals.idx.size)
    o, mgr_o, seat_o = deals.idx[sel], deals.manager[sel], deals.seat[sel]
    # one sort on a packed key: manager, then stage (descending), then amount (descending)
    key = mgr_o * 1e9 - deals.stage[sel] * 1e7 - np.minimum(deals.amount[sel], 9.99e6)
    order = stable_argsort(key)
    ordered = o[order]
    mgr = mgr_o[order]
    start = np.searchsorted(mgr, np.arange(n_calls.size))
    rank = np.arange(ordered.size) - start[mgr]
    pick = rank < n_calls[mgr]
    return ordered[pick], seat_o[order][pick]


def best_deal_per_seat(deals: OpenDeals, seats: int, prefer: np.ndarray | None = None) -> np.ndarray:
    """Each seat's most advanced, then largest, open deal (the one a joint call joins); -1: none.

    ``prefer`` (per seat, -1: none): a seat's deals in that stage come first.
    """
    if prefer is None:
        order = np.lexsort((-deals.amount, -deals.stage, deals.seat))
    else:
        miss = deals.stage != prefer[deals.seat]
        order = np.lexsort((-deals.amount, -deals.stage, miss, deals.seat))
    ordered = deals.idx[order]
    seats_sorted = deals.seat[order]
    first = np.ones(ordered.size, dtype=bool)
    first[1:] = seats_sorted[1:] != seats_sorted[:-1]
    best = np.full(seats, -1, dtype=np.int64)
    best[seats_sorted[first]] = ordered[first]
    return best


def _visit_seats(
    deals: OpenDeals, team: Team, n_calls: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each manager visits the ``n_calls[m]`` seats of lowest ``key`` (ties: lower seat first).

    A rep whose weakest stage the manager has diagnosed is joined on a deal in that stage.
    """
    prefer = team.diag_stage
    best = best_deal_per_seat(deals, team.manager.size, prefer if (prefer >= 0).any() else None)
    ok = team.active & (best >= 0)
    cand = np.flatnonzero(ok)
    cand = cand[np.lexsort((cand, key[cand], team.manager[cand]))]
    mgr = team.manager[cand]
    start = np.searchsorted(mgr, np.arange(n_calls.size))
    rank = np.arange(cand.size) - start[mgr]
    chosen = cand[rank < n_calls[mgr]]
    return best[chosen], chosen


def round_robin(deals: OpenDeals, team: Team, n_calls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Managers take the team's reps in turn; the rotation carries on next week (``rr_pointer``)."""
    local = np.arange(team.manager.size) % team.span
    key = (local - team.rr_pointer[team.manager]) % team.span  # seats after the pointer first
    picked, chosen = _visit_seats(deals, team, n_calls, key)
    np.add.at(team.rr_pointer, team.manager[chosen], 1)
    return picked, chosen


def gap_targeted(deals: OpenDeals, team: Team, n_calls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every rep is coached; reps with a flagged gap are visited half as often again.

    Among equals, the furthest behind go first.
    """
    recent = team.recent_calls * np.where(team.flag, 2 / 3, 1.0)
    key = recent + 1e-3 * np.clip(team.est_ratio, 0.0, 10.0)
    return _visit_seats(deals, team, n_calls, key)


def top_performers(deals: OpenDeals, team: Team, n_calls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Managers spend their calls on their most skilled reps."""
    return _visit_seats(deals, team, n_calls, -team.skill)


#: ``coaching.targeting`` → policy (``none`` spends no joint-call hours at all).
TARGETING: dict[str, Targeting] = {
    "reactive": reactive,
    "round_robin": round_robin,
    "gap_targeted": gap_targeted,
    "top_performers": top_performers,
}


def responsiveness(z_skill: np.ndarray, width: float) -> np.ndarray:
    """How much a rep gains from coaching, by their skill z-score: flat-topped bell, peak 1.

    ``exp(-(|z|/width)^4 / 2)``: near 1 across the middle 60 % (|z| < 0.84), falling fast in the
    top and bottom 20 %.
    """
    return np.exp(-0.5 * (np.abs(z_skill) / width) ** 4)


def skill_step(gain: np.ndarray, effective_hours: np.ndarray, scenario: Scenario) -> np.ndarray:
    """One week of coached-skill dynamics: growth with diminishing returns, and forgetting."""
    c = scenario.coaching
    grow = c.skill_gain_per_hour * effective_hours * np.maximum(0.0, 1.0 - gain / c.skill_ceiling)
    # one heavy week cannot carry a rep past the ceiling
    return np.minimum(gain + grow, c.skill_ceiling) - c.skill_decay_per_week * gain


def stage_fix(stage_dev: np.ndarray, effective_hours: np.ndarray, per_hour: float) -> np.ndarray:
    """Coaching on a stage closes a share of the rep's shortfall there (never past their norm).

    ``stage_dev``: reps × stages, skill in each stage less the rep's overall skill;
    ``effective_hours``: the week's effective coaching hours on each stage. Each hour closes
    ``per_hour`` of what is left of the shortfall; a stage the rep is good at gains nothing more.
    """
    closed = 1.0 - (1.0 - per_hour) ** effective_hours
    return stage_dev + closed * np.maximum(-stage_dev, 0.0)


def coach_week(sf: SalesForce, now: float) -> None:
    """Managers make the joint calls their week's ledger granted, by their targeting policy.

    Each manager's ledger (:mod:`salessim.model.managers`) has already spent the week's hours on
    admin, reviews, hiring and training; what it granted of the promised joint-call hours (plus
    a part-call carried from last week) becomes whole calls.
    """
    sc = sf.sc
    c = sc.coaching
    sf.week_hours[:] = 0.0
    sf.week_effective[:] = 0.0
    q = sf.clock.period(now)
    promised = c.joint_call_hours_per_week if c.targeting != "none" else 0.0
    if promised > 0:
        b = sf.book
        o = b.open_idx
        budget = sf.ledgers.granted + sf.carry
        n_calls = (budget // c.hours_per_call).astype(np.int64)
        sf.carry = np.minimum(budget - n_calls * c.hours_per_call, c.hours_per_call)
        if o.size:
            deals, seats = TARGETING[c.targeting](
                OpenDeals(idx=o, seat=b.seat[o], manager=b.manager[o], stage=b.stage[o], amount=b.amount[o]),
                Team(
                    manager=sf.seat_manager,
                    active=sf.active,
                    flag=sf.flag,
                    recent_calls=sf.recent_calls,
                    est_ratio=sf.est_ratio,
                    skill=sf.theta_eff,
                    diag_stage=sf.diag_stage,
                    rr_pointer=sf.rr_pointer,
                    span=sc.organisation.span,
                    stages=sf.S,
                ),
                n_calls,
            )
        else:
            deals = seats = np.zeros(0, dtype=np.int64)
        if deals.size:
            mgr = sf.seat_manager[seats]
            qm = sf.quality[mgr]
            np.add.at(b.boost, deals, c.deal_boost * qm)
            np.add.at(b.joint_calls, deals, 1)
            transfer = c.reactive_transfer if c.targeting == "reactive" else 1.0
            resp = responsiveness(sf.zskill[seats], c.responsiveness_width)
            effective = c.hours_per_call * qm * transfer * resp
            # the week's records start at zero: summing each seat's calls in order is the same
            sf.week_hours += np.bincount(seats, weights=np.full(seats.size, c.hours_per_call), minlength=sf.N)
            sf.week_effective += np.bincount(seats, weights=effective, minlength=sf.N)
            # the stage each call was on: a share of the rep's shortfall there closes
            on_stage = np.bincount(
                seats * sf.S + b.stage[deals], weights=effective, minlength=sf.N * sf.S
            ).reshape(sf.N, sf.S)
            sf.stage_dev = stage_fix(sf.stage_dev, on_stage, c.stage_fix_per_hour)
            sf.stage_theta = sf.theta_eff[:, None] + sf.stage_dev
    sf.recent_calls = 0.8 * sf.recent_calls + sf.week_hours / c.hours_per_call
    delivered = np.bincount(sf.seat_manager, weights=sf.week_hours, minlength=sf.M)
    reps = np.maximum(np.bincount(sf.seat_manager, weights=sf.active, minlength=sf.M), 1)
    per_rep_month = delivered / reps * (MONTH / WEEK)
    sf.delivered += 0.25 * (per_rep_month - sf.delivered)
    sf.gain = skill_step(sf.gain, sf.week_effective, sc)
    if q >= 0:
        pid = sf.seat_person
        has = (pid >= 0) & (sf.week_hours > 0)
        for k in sf.clock.slot_of(q):
            sf.coach_promised[k] += promised * sf.M
            sf.coach_delivered[k] += float(delivered.sum())
            np.add.at(sf.coach_hours[:, k], pid[has], sf.week_hours[has])
            np.add.at(sf.calls[:, k], pid[has], sf.week_hours[has] / c.hours_per_call)
