"""Quota, motivation and pay: how hard a rep pushes, and how they time their closes.

Each week a rep reads their own chance of making the year's quota from what they can see of
their own book — revenue closed this fiscal year, their open deals at their own odds, and the
deals their prospecting will still bring — with a personal optimism (``motivation.estimate_noise``).
Effort follows goal-setting and expectancy theory: discretionary hours (up to
``reps.max_extra_hours``, scaled by the team's culture) are highest when making quota is
uncertain, fall as it becomes sure (coasting — unless the accelerator pays for more), and stop
when it looks hopeless (below ``motivation.give_up_below`` a rep gives up and also prospects
less). Past the commission ``cap`` there is nothing to gain.

Near a period's end (the last ``comp.period_end_days`` of a quarter) reps game the timing of
their final-stage deals: when a threshold that pays — the quarter's quota with a quarterly bonus,
the year's quota, or the accelerator above it at year end — is within reach of deals due soon
after, they pull those deals in at a discount; when the year's quota is out of reach at year end
(or the cap is passed) they push deals due now into the next year. A quarterly bonus already lost
is not worth risking a deal for. Managers carry the team's quarterly number too: when the
team can still make it with deals due soon after, they have every rep bring theirs in.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from salessim.drivers import culture

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = ["QUARTER", "drive", "motivation_step", "own_outlook", "period_end", "quarter_close"]

QUARTER = 365.0 / 4
#: lognormal deal sizes: E[amount²] = mean² · exp(σ²); the default σ 0.6 gives 1.43
_SECOND_MOMENT = math.exp(0.6**2)


def own_outlook(sf: SalesForce, now: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each rep's own view of the fiscal year: (closed so far, expected total, variance, quota)."""
    from salessim.model import outlook

    y0, y1 = sf.clock.year_window(now)
    rem = y1 - now
    ytd, pw, cellp = outlook.year_so_far(sf, now)
    b = sf.book
    o = b.open_idx
    expected = ytd.copy()
    var = np.zeros(sf.N)
    if o.size:
        seat, amount = b.seat[o], b.amount[o]
        expected += np.bincount(seat, weights=amount * pw, minlength=sf.N)
        var += np.bincount(seat, weights=amount**2 * pw * (1 - pw), minlength=sf.N)
    mix_win = sf.mix * cellp
    vnew = (mix_win * sf.cell_amount[None, :]).sum(axis=1)
    v2new = (mix_win * sf.cell_amount[None, :] ** 2).sum(axis=1) * _SECOND_MOMENT
    n_future = sf.rate * max(0.0, rem - sf.plan.cycle_days)
    expected += n_future * vnew
    var += n_future * v2new
    quota = outlook.prorated_quota(sf, y0, y1)
    return ytd, expected, var, quota


def drive(
    p: np.ndarray, attained: np.ndarray, sc_accelerator: float, cap: float | None, give_up_below: float
) -> np.ndarray:
    """Discretionary drive in [0, 1] from a rep's chance of making quota and their attainment.

    An inverted U of the chance (4p(1−p): highest when the outcome is in doubt); zero when the rep
    has given up; once quota is made, what the accelerator adds (none at 1, full at 2); zero past
    the cap.
    """
    d = 4.0 * p * (1.0 - p)
    d = np.where(p < give_up_below, 0.0, d)
    d = np.where(attained >= 1.0, min(1.0, sc_accelerator - 1.0), d)
    if cap is not None:
        d = np.where(attained >= cap, 0.0, d)
    return d


def motivation_step(sf: SalesForce, now: float) -> None:
    """This week's chance each rep sees of making quota, their drive and their extra hours."""
    sc = sf.sc
    mo = sc.motivation
    ytd, expected, var, quota = own_outlook(sf, now)
    # besides the luck of the draw, a rep is unsure of their own odds and pace
    sd = np.sqrt(var + (mo.estimate_uncertainty * (expected - ytd)) ** 2)
    z = (expected - quota) / np.maximum(sd, 1.0) + mo.estimate_noise * sf.optimism
    p = special.ndtr(z)
    attained = np.divide(ytd, quota, out=np.zeros(sf.N), where=quota > 0)
    ramped = sf._ramp() >= 1.0
    # a rep still ramping has no quota pressure yet: they work as hard as someone in doubt
    p = np.where(ramped, p, 0.5)
    d = drive(p, np.where(ramped, attained, 0.0), sc.comp.accelerator, sc.comp.cap, mo.give_up_below)
    sf.p_make = np.where(sf.active, p, np.nan)
    sf.gave_up = sf.active & ramped & (p < mo.give_up_below)
    engaged = culture.engagement(sf.culture[sf.seat_manager], sc.culture)
    sf.extra = np.where(sf.active, sc.reps.max_extra_hours * d * engaged, 0.0)
    if sc.reps.max_extra_hours > 0:
        sf.burnout += (sf.extra / sc.reps.max_extra_hours - sf.burnout) / sc.reps.burnout_weeks
    if sf.clock.period(now) >= 0:
        sf.book_motivation(p)


def _period_end(now: float, w: float) -> tuple[float, float] | None:
    """(start, end) of the quarter ending within the next week, if ``now`` is in its last days."""
    k = math.floor((now - w) / QUARTER + 1e-9)
    end = w + (k + 1) * QUARTER
    return (max(end - QUARTER, 0.0), end)  # nothing is known before the run began


def period_end(sf: SalesForce, now: float) -> None:
    """In a quarter's last days, reps pull final-stage deals in or push them out."""
    c = sf.sc.comp
    q0, q1 = _period_end(now, sf.W)  # type: ignore[misc]
    if q1 - now > c.period_end_days + 1e-9 or q1 - now <= 1e-9:
        return
    from salessim.model import outlook

    b = sf.book
    o = b.open_idx
    if o.size == 0:
        return
    last = b.stage[o] == sf.S - 1
    y0, y1 = sf.clock.year_window(now)
    year_end = abs(y1 - q1) < 1.0
    ytd = outlook.closed_revenue(sf, y0, now)
    qtd = outlook.closed_revenue(sf, q0, now)
    annual = outlook.prorated_quota(sf, y0, y1)
    quarterly = outlook.prorated_quota(sf, q0, q1)
    ramped = sf.active & (sf._ramp() >= 1.0)
    # what could still close this period: final-stage deals due soon after it ends
    soon = o[last & (b.next_time[o] > q1) & (b.next_time[o] <= q1 + c.pull_forward_days)]
    due = o[last & (b.next_time[o] > now) & (b.next_time[o] <= q1)]
    reachable = np.bincount(
        b.seat[soon], weights=b.amount[soon] * (1 - c.pull_forward_discount), minlength=sf.N
    )
    due_value = np.bincount(b.seat[due], weights=b.amount[due], minlength=sf.N)
    pull = np.zeros(sf.N, dtype=bool)
    push = np.zeros(sf.N, dtype=bool)
    if c.quarterly_bonus > 0:  # a lost quarterly bonus is not worth risking a deal for
        gap = quarterly - qtd - due_value
        pull |= (gap > 0) & (gap <= reachable)
    # the manager carries the team's number for the quarter: when the team can still make it,
    # they push every rep to bring deals in
    team = sf.seat_manager
    t_gap = np.bincount(team, weights=(quarterly - qtd - due_value) * ramped, minlength=sf.M)
    t_reach = np.bincount(team, weights=reachable * ramped, minlength=sf.M)
    pull |= ((t_gap > 0) & (t_gap <= t_reach))[team]
    if year_end:
        gap = annual - ytd - due_value
        in_reach = (gap > 0) & (gap <= reachable)
        pull |= in_reach
        if c.accelerator > 1.0:  # above quota, each deal pulled in pays at the accelerated rate
            pull |= (gap <= 0) & ((c.cap is None) | (ytd < (c.cap or 0) * annual))
        push |= gap > reachable  # the year is lost: start the next one with these deals
        if c.cap is not None:
            push |= ytd >= c.cap * annual
    push &= ~pull
    pull &= ramped
    push &= ramped
    take = soon[pull[b.seat[soon]]]
    if take.size:
        # the customer signs in the period's last days, at a discount
        b.next_time[take] = np.maximum(now, q1 - 1.0)
        b.amount[take] *= 1 - c.pull_forward_discount
        b.gamed[take] = 1
        sf.pulled += take.size
    hold = due[push[b.seat[due]]]
    if hold.size:
        b.next_time[hold] = q1 + 1.0 + (b.next_time[hold] - now)
        b.gamed[hold] = 2
        sf.pushed += hold.size


def quarter_close(sf: SalesForce, q0: float, q1: float) -> None:
    """At a quarter's end: who was far behind, and for how many quarters running."""
    from salessim.model import outlook

    q0 = max(q0, 0.0)  # nothing is known before the run began
    qtd = outlook.closed_revenue(sf, q0, q1)
    quota = outlook.prorated_quota(sf, q0, q1)
    ramped = sf.active & (sf._ramp() >= 1.0)
    behind = ramped & (qtd < sf.sc.motivation.behind_share * quota)
    sf.behind = np.where(behind, sf.behind + 1, 0)
