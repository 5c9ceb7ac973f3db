"""Driver 7 — performance reviews: how often managers formally measure reps, and what follows.

At each review (``reviews.cadence``) a manager spends ``managers.review_hours_per_rep`` per rep
from their week's hours (:mod:`salessim.model.managers`: after admin, before hiring, training and
joint calls, waiting for next week's hours if this week's are gone), estimates each rep's fiscal
year with the scenario's metric (:mod:`salessim.drivers.metrics`), and flags reps whose estimate falls below
``reviews.threshold`` × quota. A flag orders a corrective prospecting plan; a rep flagged for
``reviews.involuntary_after_days`` may be let go at a formal review.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from salessim.drivers import metrics
from salessim.model import outlook, people
from salessim.model.clock import MONTH
from salessim.model.managers import REVIEW
from salessim.scenario import Reviews

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "REVIEW_INTERVAL",
    "REVIEW_SIGNAL",
    "assess",
    "corrective_plans",
    "involuntary_probability",
    "review_round",
    "reviews",
]

#: days between formal reviews
REVIEW_INTERVAL = {"annual": 365.0, "semiannual": 182.5, "quarterly": 91.25, "monthly": MONTH}
#: how strongly the cadence signals that performance is watched (a culture signal)
REVIEW_SIGNAL = {"annual": 0.0, "semiannual": 0.35, "quarterly": 0.7, "monthly": 1.0}


def involuntary_probability(rv: Reviews) -> float:
    """Chance that a formal review lets a long-flagged rep go (``involuntary_annual`` per year)."""
    interval = REVIEW_INTERVAL[rv.cadence]
    return 1.0 - (1.0 - rv.involuntary_annual) ** (interval / 365.0)


def reviews(sf: SalesForce) -> Iterator[Any]:
    """Process: at every review date all managers start reviewing their teams."""
    for t in sf.clock.calendar(REVIEW_INTERVAL[sf.sc.reviews.cadence]):
        yield sf.env.timeout(t - sf.env.now)
        sf._spawn(review_round(sf))


def review_round(sf: SalesForce) -> Iterator[Any]:
    """Process: each manager asks their week's ledger for the hours to review every rep.

    A team is assessed as soon as its manager's ledger has found all the hours — at once if the
    week has them left, otherwise from the coming weeks' hours, before that week's hiring,
    training and joint calls. Teams whose hours are found at the same instant are assessed
    together.
    """
    need = sf.sc.managers.review_hours_per_rep * np.bincount(
        sf.seat_manager, weights=sf.active, minlength=sf.M
    )
    asks = [sf.ledgers[m].spend(float(need[m]), REVIEW, wait=True) for m in range(sf.M)]
    ready = [m for m, ev in enumerate(asks) if ev.triggered]
    waiting = [(m, ev) for m, ev in enumerate(asks) if not ev.triggered]
    while True:
        if ready:
            assess(sf, np.array(ready), formal=True)
        if not waiting:
            return
        yield sf.env.any_of([ev for _, ev in waiting])
        ready = [m for m, ev in waiting if ev.triggered]
        waiting = [(m, ev) for m, ev in waiting if not ev.triggered]


def assess(sf: SalesForce, managers: int | np.ndarray, formal: bool) -> None:
    """Managers ``managers`` measure their reps and flag gaps; a formal review may end a streak.

    All the teams are measured in one pass over the deal book (the cost is linear in the sales
    force, however many teams are assessed at once).
    """
    now = sf.env.now
    sf._refresh_theta()
    sf._advance(now)
    in_team = np.zeros(sf.M, dtype=bool)
    in_team[managers] = True
    seats = np.flatnonzero(in_team[sf.seat_manager] & sf.active & (sf._ramp() >= 1.0))
    if seats.size == 0:
        return
    y0, y1 = sf.clock.year_window(now)
    est = outlook.visible_estimate(sf, now, seats)
    quota = outlook.prorated_quota(sf, y0, y1)[seats]
    thr = sf.sc.reviews.threshold
    ratio = np.divide(est, thr * quota, out=np.ones_like(est), where=quota > 0)
    sf.est_ratio[seats] = ratio
    flag = ratio < 1.0
    in_horizon = sf.W <= now <= sf.T
    slots = list(sf.clock.slot_of(sf.clock.period(now) if now < sf.T else sf.clock.quarters - 1))
    rv = sf.sc.reviews
    if metrics.DIAGNOSES[sf.sc.metrics]:  # every rep's weakest stage, as the CRM shows it
        sf.diag_stage[seats] = outlook.diagnose(sf, now, seats)
    if flag.any():
        corrective_plans(sf, now, seats[flag], in_horizon)
    for k, f in zip(seats, flag, strict=True):
        pid = sf.seat_person[k]
        if f:
            sf.flag_streak[k] += 1
            if in_horizon:
                sf.flagged[pid, slots] = True
            start = sf.episode_start[k]
            if not np.isnan(start) and not sf.episode_seen[k]:
                sf.episode_seen[k] = True
                # lags are measured for gaps that open in the reported year
                if in_horizon and start >= sf.W:
                    sf.detections.append((now, now - start))
            elif np.isnan(start) and in_horizon:
                sf.false_flags += 1
            if in_horizon:  # every flag raised: false when the rep's year is not off track
                sf.flag_log.append((now, float(np.isnan(start))))
            if np.isnan(sf.flag_since[k]):
                sf.flag_since[k] = now
            # (a pilot run lets go at its last review too: its end is the next run's start)
            elif (
                formal
                and (now < sf.T or sf.keep_multipliers)
                and sf.flag_streak[k] >= rv.consecutive_flags
                and now - sf.flag_since[k] >= rv.involuntary_after_days - 1e-9
                and people.involuntary_draw(sf, int(k)) < sf.p_invol
            ):  # the seat's next draw
                sf._leave(int(k), people.INVOLUNTARY)
                continue
        elif formal or not sf.flag[k]:
            sf.flag_since[k] = np.nan
            sf.flag_streak[k] = 0
        sf.flag[k] = f


def corrective_plans(sf: SalesForce, now: float, seats: np.ndarray, in_horizon: bool) -> None:
    """Flagged reps get a corrective plan: a meeting, and the stage its coaching aims at.

    A new flag costs the manager and the rep ``reviews.plan_hours`` each (the manager's from the
    ledger, before the week's joint calls; the rep's from next week's selling) — hours a false
    flag wastes. With stage metrics the plan coaches the stage the assessment found the rep
    weakest at (:func:`salessim.model.outlook.diagnose`; the manager aims every visit to a rep
    there, flagged or not); without them it names none and the manager's calls go to the rep's
    most advanced deal, usually in the closing stage. Each plan records whether the stage it
    coaches is the one the rep is truly weakest at (``diagnosis_accuracy``).
    """
    rv = sf.sc.reviews
    new = seats[np.isnan(sf.flag_since[seats])]
    if rv.plan_hours > 0 and new.size:
        sf.plan_hours_due[new] += rv.plan_hours
        started = np.bincount(sf.seat_manager[new], minlength=sf.M)
        sf.plans_started += started
        per_manager = started * rv.plan_hours
        for m in np.flatnonzero(per_manager):
            sf.ledgers[int(m)].spend(float(per_manager[m]), REVIEW, wait=True)
    # without a stage view the calls go to the rep's most advanced deal: the closing stage
    diagnosed = metrics.DIAGNOSES[sf.sc.metrics]
    named = sf.diag_stage[seats] if diagnosed else np.full(seats.size, sf.S - 1)
    if in_horizon:
        right = named == np.argmin(sf.stage_dev[seats], axis=1)
        sf.diag_log.extend((now, float(r)) for r in right)
