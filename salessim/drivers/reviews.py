"""Driver 7 — performance reviews: how often managers formally measure reps, and what follows.

At each review (``reviews.cadence``) a manager spends ``managers.review_hours_per_rep`` of their
people-time per rep, estimates each rep's fiscal year with the scenario's metric
(:mod:`salessim.drivers.metrics`), and flags reps whose estimate falls below
``reviews.threshold`` × quota. A flag orders a corrective prospecting plan; a rep flagged for
``reviews.involuntary_after_days`` may be let go at a formal review.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from salessim.model import outlook, people
from salessim.model.clock import MONTH
from salessim.scenario import Reviews

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = ["REVIEW_INTERVAL", "REVIEW_SIGNAL", "assess", "involuntary_probability", "review_team",
           "reviews"]

#: days between formal reviews
REVIEW_INTERVAL = {"annual": 365.0, "semiannual": 182.5, "quarterly": 91.25, "monthly": MONTH}
#: how strongly the cadence signals that performance is watched (a culture signal)
REVIEW_SIGNAL = {"annual": 0.0, "semiannual": 0.35, "quarterly": 0.7, "monthly": 1.0}


def involuntary_probability(rv: Reviews) -> float:
    """Chance that a formal review lets a long-flagged rep go (``involuntary_annual`` per year)."""
    interval = REVIEW_INTERVAL[rv.cadence]
    return 1.0 - (1.0 - rv.involuntary_annual) ** (interval / 365.0)


def reviews(sf: SalesForce) -> Iterator[Any]:
    """Process: at every review date each manager starts reviewing their team."""
    for t in sf.clock.calendar(REVIEW_INTERVAL[sf.sc.reviews.cadence]):
        yield sf.env.timeout(t - sf.env.now)
        for m in range(sf.M):
            sf._spawn(review_team(sf, m))


def review_team(sf: SalesForce, m: int) -> Iterator[Any]:
    """Process: manager ``m`` finds the hours to review each rep (waiting if need be), then assesses."""
    mg = sf.sc.managers
    seats = np.flatnonzero((sf.seat_manager == m) & sf.active)
    need = mg.review_hours_per_rep * seats.size
    box = sf.hours[m]
    if need > 0:
        take = min(need, box.level)
        if take > 0:
            yield box.get(take)
        if need - take > 1e-9:  # not enough people-time this week: the rest waits
            yield box.get(min(need - take, box.capacity))
    assess(sf, m, formal=True)


def assess(sf: SalesForce, m: int, formal: bool) -> None:
    """Manager ``m`` measures each rep, flags gaps; a formal review may end a flagged streak."""
    now = sf.env.now
    sf._refresh_theta()
    sf._advance(now)
    seats = np.flatnonzero((sf.seat_manager == m) & sf.active & (sf._ramp() >= 1.0))
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
    for k, f in zip(seats, flag, strict=True):
        pid = sf.seat_person[k]
        if f:
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
            if np.isnan(sf.flag_since[k]):
                sf.flag_since[k] = now
            elif (formal and now < sf.T and now - sf.flag_since[k] >= rv.involuntary_after_days - 1e-9
                  and people.involuntary_draw(sf, int(k)) < sf.p_invol):  # the seat's next draw
                sf._leave(int(k), people.INVOLUNTARY)
                continue
        elif formal or not sf.flag[k]:
            sf.flag_since[k] = np.nan
        sf.flag[k] = f
