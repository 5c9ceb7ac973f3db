"""Outlook: each rep's true chance of making the year, and what managers can see of it.

The *true* outlook (:func:`outlook`) uses every open deal at the holder's real odds; it marks when
a rep truly falls off track, so the lag until a manager notices can be measured. What managers
*see* (:func:`visible_estimate`, :func:`forecast`) depends on the scenario's metrics and CRM
adoption (:mod:`salessim.drivers.metrics`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from salessim.drivers import metrics
from salessim.drivers.crm import called_value
from salessim.model.clock import WEEK
from salessim.model.deals import OPEN, WON, clip_logit

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "closed_revenue",
    "diagnose",
    "forecast",
    "observed_to_won",
    "outlook",
    "prorated_quota",
    "true_win_prob",
    "visible_estimate",
    "win_table",
    "won",
    "year_so_far",
]


def won(sf: SalesForce) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Won deals so far: (person, amount, close time) — rebuilt only when new wins arrive."""
    if sf._won_cache is None:
        idx = np.concatenate(sf.won_parts) if sf.won_parts else np.zeros(0, dtype=np.int64)
        sf.won_parts = [idx]
        b = sf.book
        sf._won_cache = (b.person[idx], b.amount[idx], b.closed[idx])
    return sf._won_cache


def crm_coverage(sf: SalesForce, now: float) -> float:
    """The share of won revenue the CRM holds, over the trailing year (clipped at time 0).

    Every win is booked, logged or not, so reconciling the CRM against bookings tells managers how
    much of the book the CRM shows; they gross up what they count by it
    (:func:`salessim.drivers.crm.gross_up`). The nominal ``crm.adoption`` stands in before any win.
    """
    won(sf)  # gathers the won deals' indices into one array
    idx = sf.won_parts[0] if sf.won_parts else np.zeros(0, dtype=np.int64)
    b = sf.book
    recent = idx[(b.closed[idx] >= max(now - 365.0, 0.0)) & (b.closed[idx] <= now)]
    total = float(b.amount[recent].sum())
    if total <= 0:
        return float(sf.sc.crm.adoption)
    return max(float(b.amount[recent][b.visible[recent]].sum()) / total, 1e-3)


def closed_revenue(sf: SalesForce, t0: float, t1: float) -> np.ndarray:
    """Won revenue per seat's current person, closed in [t0, t1]."""
    person, amount, closed = won(sf)
    sel = (closed >= t0) & (closed <= t1)
    rev_p = np.bincount(person[sel], weights=amount[sel], minlength=len(sf.p_seat))
    out = np.zeros(sf.N)
    act = sf.seat_person >= 0
    out[act] = rev_p[sf.seat_person[act]]
    return out


def win_table(sf: SalesForce) -> np.ndarray:
    """The real chance of a win of a deal held by each seat, of each market cell, in each stage.

    ``win_table(sf)[k, c, s]``: the product of the odds of stages ``s`` … S−1 at the odds of seat
    ``k``'s rep for cell ``c``, taken stage by stage in order. Every open deal of a seat and cell
    in a stage has this chance, so it is worked out once per seat, cell and stage, not per deal.
    """
    x = (sf.stage_theta - sf.penalty[:, None])[:, None, :] + sf.cell_offset[None, :, None]
    p = special.expit(clip_logit(sf.base_logit + x))
    won = np.ones(p.shape)
    for j in range(sf.S):
        won[:, :, : j + 1] *= p[:, :, j, None]  # the deals in stage j or before still face stage j
    return won


def true_win_prob(sf: SalesForce, o: np.ndarray) -> np.ndarray:
    """The real chance that each of the open deals ``o`` is won, at its holder's odds."""
    b = sf.book
    return win_table(sf)[b.seat[o], b.cell[o], b.stage[o]]


def year_so_far(sf: SalesForce, now: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The year so far and what it holds: the true outlook's and each rep's own shared inputs.

    Returns won revenue per seat in the fiscal year so far; each open deal's chance of a win by
    the year's end (``book.open_idx`` order, at its holder's real odds); each seat's chance of
    winning a new deal of each market cell. The true outlook and each rep's own view read these
    at the same instant of a week; they are computed once (a new open index or a new skill array
    — any deal resolved, handed over or created, anyone hired or gone — means something changed,
    and they are computed again). Callers must not change them.
    """
    b = sf.book
    o = b.open_idx
    c = sf.year_cache
    if c is not None and c[0] == now and c[1] is o and c[2] is sf.stage_theta:
        return c[3], c[4], c[5]
    y0, y1 = sf.clock.year_window(now)
    ytd = closed_revenue(sf, y0, now)
    if o.size:  # a win by the year's end: won at all × closed in time, by seat, cell and stage
        by_year_end = win_table(sf) * sf.plan.p_close_within(np.arange(sf.S), y1 - now)
        pw = by_year_end[b.seat[o], b.cell[o], b.stage[o]]
    else:
        pw = np.zeros(0)
    x = (sf.stage_theta - sf.penalty[:, None])[:, None, :]
    cell_win = special.expit(
        clip_logit(sf.base_logit[None, None, :] + sf.cell_offset[None, :, None] + x)
    ).prod(axis=2)
    sf.year_cache = (now, o, sf.stage_theta, ytd, pw, cell_win)
    return ytd, pw, cell_win


def prorated_quota(sf: SalesForce, y0: float, y1: float) -> np.ndarray:
    """Each seat's quota for [y0, y1], prorated by its rep's time in seat."""
    in_seat = np.clip(y1 - np.maximum(sf.hire_time, y0), 0.0, y1 - y0)
    return sf.sc.organisation.quota * in_seat / 365.0


def outlook(sf: SalesForce, now: float) -> None:
    """Who is truly off track: expected fiscal-year outcome below threshold × quota.

    Lags are measured only for gaps that open in the reported year, so the outlook starts a
    week before it (a gap already open then counts as opened before the year).
    """
    if now < sf.W - WEEK:
        return
    y0, y1 = sf.clock.year_window(now)
    rem = y1 - now
    b = sf.book
    o = b.open_idx
    ytd, pw, cell_win = year_so_far(sf, now)
    expected = ytd.copy()
    if o.size:
        expected += np.bincount(b.seat[o], weights=b.amount[o] * pw, minlength=sf.N)
    # future deals at this rep's own rate, mix and skill
    vnew = (sf.mix * cell_win * sf.cell_amount[None, :]).sum(axis=1)
    expected += sf.rate * max(0.0, rem - sf.plan.cycle_days) * vnew
    quota = prorated_quota(sf, y0, y1)
    eligible = sf.active & (sf._ramp() >= 1.0)
    off = eligible & (expected < sf.sc.reviews.threshold * quota)
    new = off & np.isnan(sf.episode_start)
    sf.episode_start[new] = now
    sf.episode_seen[new] = False
    ended = ~off & ~np.isnan(sf.episode_start)
    sf.episode_start[ended] = np.nan


def _logged_resolved(sf: SalesForce, now: float) -> np.ndarray:
    """Which deals of the book are logged and resolved in the trailing year (clipped at time 0)."""
    b = sf.book
    n = b.n
    return (
        (b.status[:n] != OPEN)
        & b.visible[:n]
        & (b.closed[:n] >= max(now - 365.0, 0.0))
        & (b.closed[:n] <= now)
    )


def observed_to_won(sf: SalesForce, now: float, ids: np.ndarray, by: str) -> np.ndarray:
    """Stage-to-won probabilities seen in the CRM over the last year, per person or team.

    Each stage's pass rate is estimated from the visible deals resolved in the trailing 365
    days (clipped at time 0), shrunk toward the benchmark conversion.
    """
    b = sf.book
    n = b.n
    done = _logged_resolved(sf, now)
    key = (b.person if by == "person" else b.manager)[:n][done]
    size = len(sf.p_seat) if by == "person" else sf.M
    reached = b.stage[:n][done]  # stage lost at; S for won
    bench = sf.plan.stages["conversion"].to_numpy()
    return metrics.stage_to_won(key, reached, size, bench)[ids]


def diagnose(sf: SalesForce, now: float, seats: np.ndarray) -> np.ndarray:
    """The stage each rep in ``seats`` is weakest at, as the CRM shows it (stage metrics).

    From the logged deals resolved in the trailing year (clipped at time 0): each rep's pass rate
    per stage against their team's (:func:`salessim.drivers.metrics.weakest_stage`).
    """
    b = sf.book
    n = b.n
    done = _logged_resolved(sf, now)
    reached = b.stage[:n][done]
    bench = sf.plan.stages["conversion"].to_numpy()
    att_p, pass_p = metrics.stage_counts(b.person[:n][done], reached, len(sf.p_seat), sf.S)
    att_t, pass_t = metrics.stage_counts(b.manager[:n][done], reached, sf.M, sf.S)
    pid = sf.seat_person[seats]
    team = sf.seat_manager[seats]
    return metrics.weakest_stage(att_p[pid], pass_p[pid], att_t[team], pass_t[team], bench)


def visible_estimate(sf: SalesForce, now: float, seats: np.ndarray) -> np.ndarray:
    """The manager's estimate of each rep's fiscal year, by the scenario's metric."""
    y0, y1 = sf.clock.year_window(now)
    rem = y1 - now
    ytd = closed_revenue(sf, y0, now)[seats]
    b = sf.book
    o = b.open_idx
    o = o[b.visible[o] & np.isin(b.seat[o], seats)]

    def trailing_rate() -> np.ndarray:
        since = max(now - 365.0, 0.0)  # the trailing year, clipped at time 0
        span = np.clip(now - np.maximum(sf.hire_time[seats], since), 1.0, 365.0)
        trailing = closed_revenue(sf, since, now)[seats]
        return trailing / span

    view = metrics.RepView(
        plan=sf.plan,
        rem=rem,
        ytd=ytd,
        crm=metrics.CrmDeals(
            unit=np.searchsorted(seats, b.seat[o]),
            amount=b.amount[o],
            stage=b.stage[o],
            units=seats.size,
            adoption=crm_coverage(sf, now),
        ),
        ratio_pipeline=sf.ratio_pipeline,
        value_per_new=sf.value_per_new,
        trailing_rate=trailing_rate,
        to_won=lambda: observed_to_won(sf, now, sf.seat_person[seats], by="person"),
    )
    return metrics.ESTIMATES[sf.sc.metrics](view)


def forecast(sf: SalesForce, t: float) -> np.ndarray:
    """Each manager's forecast of the coming quarter's team revenue, by the scenario's metric."""
    b = sf.book
    o = b.open_idx
    o = o[b.visible[o]]

    def last_quarter() -> np.ndarray:
        # the last quarter's wins, clipped at time 0 and scaled up to a quarter from the span seen
        n = b.n
        since = max(t - sf.Q, 0.0)
        w = (b.status[:n] == WON) & (b.closed[:n] >= since) & (b.closed[:n] < t)
        won = np.bincount(b.manager[:n][w], weights=b.amount[:n][w], minlength=sf.M)
        return won * sf.Q / (t - since) if t > since else won

    view = metrics.TeamView(
        plan=sf.plan,
        horizon=sf.Q,
        crm=metrics.CrmDeals(
            unit=b.manager[o],
            amount=called_value(b.amount[o], sf.optimism[b.seat[o]], sf.sc.crm),
            stage=b.stage[o],
            units=sf.M,
            adoption=crm_coverage(sf, t),
        ),
        reps=np.bincount(sf.seat_manager, weights=sf.active, minlength=sf.M),
        ratio_pipeline=sf.ratio_pipeline,
        value_per_new=sf.value_per_new,
        in_quarter_factor=sf.in_quarter_factor,
        last_quarter=last_quarter,
        to_won=lambda: observed_to_won(sf, t, np.arange(sf.M), by="manager"),
    )
    return metrics.FORECASTS[sf.sc.metrics](view)
