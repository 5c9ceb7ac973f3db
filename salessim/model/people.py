"""Seats and the people in them: hiring, ramp, leaving, handing over deals, backfill, attrition.

Every seat has its own ``people`` stream; each person who fills it takes the next
``PERSON_DRAWS`` uniforms (skill, planning bias, goal perception, starting tenure), so the k-th
person in a seat is the same person in every scenario.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from salessim.drivers import culture
from salessim.funnel import gamma_quantile
from salessim.model.clock import MONTH, WEEK
from salessim.model.deals import LOST, OPEN
from salessim.model.steady import stationary_gain, stationary_tenure, tenure_hazard
from salessim.rng import stream

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "INVOLUNTARY",
    "MAX_GOALS",
    "PERSON_DRAWS",
    "PROMOTED",
    "SEAT_ARRAYS",
    "VOLUNTARY",
    "attrition",
    "backfill",
    "handover_order",
    "hire",
    "involuntary_draw",
    "leave",
    "open_seats",
    "openings",
    "perceive",
    "ramp",
    "reassign",
    "refresh_theta",
    "stage_deviations",
]

PERSON_DRAWS = 16  # uniforms per person from the seat's people stream (fixed: keeps CRN aligned)
MAX_GOALS = 10

# exit kinds
VOLUNTARY, INVOLUNTARY, PROMOTED = 1, 2, 3


def hire(sf: SalesForce, seat: int, start: bool = False) -> None:
    """A new person fills ``seat`` (``start``: one of the sales force at time 0, past ramp)."""
    sc = sf.sc
    u = np.maximum(sf.people_rng[seat].random(PERSON_DRAWS), 1e-12)
    z = special.ndtri(u)
    now = sf.env.now
    settled = None
    if start and sf.population is not None:  # a rep the settled sales force has in its seats
        settled = sf.population.draw(float(u[0]))
        z[0] = settled[0]
    sf.zskill[seat] = z[0]
    sf.theta0[seat] = sc.reps.skill_sd * z[0]
    sf.stage_dev[seat] = stage_deviations(sf.stage_rng[seat].standard_normal(sf.S), sc.reps.stage_skill_sd)
    sf.gain[seat] = 0.0
    sf.optimism[seat] = z[13]
    sf.log_habit[seat] = z[14]
    sf.burnout[seat] = 0.0
    sf.behind[seat] = 0
    sf.extra[seat] = 0.0
    sf.person_u[seat] = u  # kept: a change of policy re-derives what follows from the same draws
    perceive(sf, seat)
    if start:
        # a starting rep has held the seat for a draw from the stationary tenure distribution
        sf.hire_time[seat] = -(
            settled[1] if settled is not None else stationary_tenure(float(u[15]), tenure_hazard(sf))
        )
    else:
        sf.hire_time[seat] = now
    pid = len(sf.p_seat)
    if pid >= sf.skill_snap.shape[0]:
        _grow_persons(sf)
    sf.p_seat.append(seat)
    sf.p_manager.append(int(sf.seat_manager[seat]))
    sf.p_hire.append(float(sf.hire_time[seat]))
    sf.p_z.append(float(z[0]))
    sf.p_leave.append(math.inf)
    sf.p_exit.append(0)
    sf.seat_person[seat] = pid
    sf.active[seat] = True
    sf.flag[seat] = False
    sf.flag_since[seat] = np.nan
    sf.flag_streak[seat] = 0
    sf.diag_stage[seat] = -1
    sf.plan_hours_due[seat] = 0.0
    sf.est_ratio[seat] = 1.0
    sf.episode_start[seat] = np.nan
    sf.episode_seen[seat] = False
    if settled is not None:
        sf.gain[seat] = settled[3]
        sf.burnout[seat] = settled[4]
        sf.behind[seat] = int(settled[5])
        sf.start_culture[seat] = settled[6]
        if not math.isnan(settled[2]):  # on a streak of flagged formal reviews
            sf.flag[seat] = True
            sf.flag_since[seat] = -settled[2]
            sf.flag_streak[seat] = int(settled[7])
        if len(settled) == 8 + sf.S:  # their stage skills as the settled sales force left them
            sf.stage_dev[seat] = settled[8:]
    elif start:
        sf.gain[seat] = stationary_gain(sf, seat, -float(sf.hire_time[seat]))
    sf._refresh_theta()
    sf.p_theta_hire.append(float(sf.theta_eff[seat]))
    sf.p_theta_leave.append(math.nan)


def perceive(sf: SalesForce, seat: int) -> None:
    """What the policy makes of the person in ``seat``, from their stored draws.

    Their planning bias (prescription's self-planning spread) and the goals they perceive, pursue
    and tilt their prospecting mix toward (the goal plan). Called at hire and again, with the same
    draws, when the policy changes (:func:`salessim.model.policy.apply`).
    """
    u = sf.person_u[seat]
    z = special.ndtri(u)
    pr = sf.sc.prescription
    sf.bias[seat] = pr.self_plan_median * math.exp(pr.self_plan_sigma * z[1])
    perceived, _dropped, n_eff = sf.goalm.person(float(u[2]), z[3 : 3 + MAX_GOALS])
    sf.n_goals[seat] = n_eff
    sf.penalty[seat] = float(sf.goalm.focus_penalty(n_eff))
    sf.focus[seat] = float(sf.goalm.focus_effort(n_eff))
    mix = sf.goalm.mix(perceived)
    sf.mix[seat] = mix
    for g in range(2):
        cond = np.where(sf.cell_seg == g, mix, 0.0)
        mass = cond.sum()
        sf.seg_mass[seat, g] = mass
        sf.cell_cdf[seat, g] = np.cumsum(cond) / max(mass, 1e-300)


def _grow_persons(sf: SalesForce) -> None:
    for name in (
        "skill_snap",
        "coach_hours",
        "calls",
        "flagged",
        "hours_selling",
        "hours_worked",
        "hours_extra",
        "p_make_sum",
        "p_make_n",
    ):
        old = getattr(sf, name)
        new = np.full(
            (old.shape[0] * 2, old.shape[1]), np.nan if name == "skill_snap" else 0, dtype=old.dtype
        )
        new[: old.shape[0]] = old
        setattr(sf, name, new)


def ramp(sf: SalesForce) -> np.ndarray:
    """Share of the ramp completed by each seat's rep (1 = fully productive)."""
    days = sf.sc.attrition.ramp_days
    if days <= 0:
        return np.ones(sf.N)
    # read many times an instant: kept until time moves or someone is hired (hire_time's only
    # writer), read-only so no caller can change it
    key = (sf.env.now, len(sf.p_seat), days)
    if sf.ramp_cache is not None and sf.ramp_cache[0] == key:
        return sf.ramp_cache[1]
    r = np.clip((sf.env.now - sf.hire_time) / days, 0.0, 1.0)
    r.flags.writeable = False
    sf.ramp_cache = (key, r)
    return r


def stage_deviations(z: np.ndarray, sd: float) -> np.ndarray:
    """A rep's skill by stage around their overall skill: sd ``sd`` each, summing to zero."""
    n = z.size
    if n < 2:
        return np.zeros(n)
    return sd * (z - z.mean()) * math.sqrt(n / (n - 1))


def refresh_theta(sf: SalesForce) -> None:
    """Each seat's effective skill now: own skill + coached gain − what a new hire still lacks.

    ``theta_eff`` is the overall skill; ``stage_theta`` adds the rep's deviation in each stage.
    """
    r = sf._ramp()
    sf.theta_eff = sf.theta0 + sf.gain + sf.sc.attrition.new_hire_skill_offset * (1.0 - r)
    sf.stage_theta = sf.theta_eff[:, None] + sf.stage_dev


def leave(sf: SalesForce, seat: int, kind: int) -> None:
    """The rep in ``seat`` leaves (``kind``: VOLUNTARY, INVOLUNTARY or PROMOTED)."""
    now = sf.env.now
    pid = int(sf.seat_person[seat])
    sf._refresh_theta()
    sf.p_leave[pid] = now
    sf.p_exit[pid] = kind
    if kind == INVOLUNTARY:  # the team sees a peer let go
        sf.dismissed[sf.seat_manager[seat]] += 1.0
    sf.p_theta_leave[pid] = float(sf.theta_eff[seat])
    sf.active[seat] = False
    sf.seat_person[seat] = -1
    sf.rate[seat] = 0.0
    sf.extra[seat] = 0.0
    sf.p_make[seat] = np.nan
    _forgo_prospecting(sf, seat, pid)
    sf._reassign(seat)
    sf._spawn(backfill(sf, seat))


def _forgo_prospecting(sf: SalesForce, seat: int, pid: int) -> None:
    """A leaver stops prospecting when they leave.

    The deals this week's batch gave them after today never happen, and the seat's deal stream
    resumes there for their successor.
    """
    b = sf.book
    now = sf.env.now
    frac = min(max((now - sf.week_start) / WEEK, 0.0), 1.0)
    op_now = sf.op_time[seat] - sf.week_lam[seat] * (1.0 - frac)
    sf.week_lam[seat] = 0.0
    # only the latest week's batch holds deals created after now (earlier batches and the seeded
    # pipelines were all created by its start)
    lo = b.batch_start
    late = lo + np.flatnonzero((b.creator[lo : b.n] == pid) & (b.created[lo : b.n] > now))
    if late.size == 0:
        sf.op_time[seat] = op_now
        return
    first = int(b.seat_row[late].min())
    sf.next_row[seat] = first
    sf.op_time[seat] = min(op_now, np.nextafter(sf.draws.cum_gap[seat, first], -np.inf))
    lo, tail = b.remove_tail(late)
    sf.won_parts = [
        w if w.size == 0 or w.max() < lo else np.where(w >= lo, tail[np.maximum(w - lo, 0)], w)
        for w in sf.won_parts
    ]
    sf._won_cache = None


def handover_order(mates: np.ndarray, open_counts: np.ndarray) -> np.ndarray:
    """Teammates in the order they take a leaver's deals: fewest open deals first, then seat."""
    return mates[np.lexsort((mates, open_counts))]


def reassign(sf: SalesForce, seat: int) -> None:
    """Hand a leaver's open deals to teammates (fewest open deals first); some are lost."""
    b = sf.book
    sf._advance(sf.env.now)
    oi = b.open_idx
    held = b.seat[oi]
    is_open = b.status[oi] == OPEN
    pos = np.flatnonzero((held == seat) & is_open)
    if pos.size == 0:
        return
    o = oi[pos]
    lost = b.u_reassign[o] < sf.sc.attrition.reassignment_loss
    lo = o[lost]
    b.status[lo] = LOST
    b.closed[lo] = sf.env.now
    keep = o[~lost]
    if keep.size == 0:
        is_open[pos] = False
        b.open_idx = oi[is_open]  # what compact() leaves, without reading the book again
        return
    m = sf.seat_manager[seat]
    mates = np.flatnonzero(sf.active & (sf.seat_manager == m))
    if mates.size == 0:
        mates = np.flatnonzero(sf.active)
    if mates.size == 0:  # nobody left to take them: they are lost
        b.status[keep] = LOST
        b.closed[keep] = sf.env.now
        is_open[pos] = False
        b.open_idx = oi[is_open]
        return
    is_open[pos[lost]] = False
    counts = np.bincount(held[is_open], minlength=sf.N)[mates]
    order = handover_order(mates, counts)
    to = order[np.arange(keep.size) % order.size]
    b.seat[keep] = to
    b.person[keep] = sf.seat_person[to]
    b.manager[keep] = sf.seat_manager[to]
    b.open_idx = oi[is_open]


def backfill(sf: SalesForce, seat: int) -> Iterator[Any]:
    """Process: an empty seat stays vacant for a gamma-distributed delay, then a new rep is hired."""
    a = sf.sc.attrition
    rng = sf.backfill_rng.get(seat)
    if rng is None:
        rng = sf.backfill_rng[seat] = stream(sf.seed, sf.rep, "backfill", seat)
    u = max(float(rng.random()), 1e-12)
    delay = float(gamma_quantile(np.array([u]), a.backfill_mean_days, max(a.backfill_cv, 1e-3))[0])
    yield sf.env.timeout(delay)
    sf._hire(seat)


def involuntary_draw(sf: SalesForce, seat: int) -> float:
    """The next uniform of ``seat``'s involuntary stream: one per formal let-go decision.

    The n-th decision about whoever holds the seat takes the seat's n-th draw, whatever other
    seats and teams do, so common random numbers hold across sales forces of any size.
    """
    rng = sf.invol_rng.get(seat)
    if rng is None:
        rng = sf.invol_rng[seat] = stream(sf.seed, sf.rep, "involuntary", seat)
    return float(rng.random())


def hazard_multiplier(sf: SalesForce, now: float) -> np.ndarray:
    """Each seat's voluntary-leaving hazard relative to the scale: what its rep lives through.

    Tenure (the first two years are riskiest) × attainment (strugglers leave, top performers are
    poached) × the team's culture × the manager × burnout × two quarters far behind.
    """
    sc = sf.sc
    a = sc.attrition
    start = max(now - 365.0, 0.0)  # no window reads before the run began
    span = np.clip(now - np.maximum(sf.hire_time, start), 1.0, 365.0)
    trailing = sf._closed_revenue(start, now)
    pace = trailing / (sc.organisation.quota * span / 365.0)
    pace = np.where(sf._ramp() >= 1.0, pace, 1.0)
    mult = np.exp(a.attainment_sensitivity * np.maximum(0.0, 1.0 - pace))
    mult *= np.where(pace >= 1.5, a.top_performer_factor, 1.0)
    mult *= np.where(now - sf.hire_time < 730.0, a.early_tenure_factor, 1.0)
    mult *= culture.attrition_factor(sf.culture[sf.seat_manager], sc.culture)
    mult *= np.exp(-a.manager_sensitivity * (sf.quality[sf.seat_manager] - 0.5))
    mult *= np.exp(a.burnout_sensitivity * sf.burnout)
    mult *= np.where(sf.behind >= 2, sc.motivation.behind_exit_factor, 1.0)
    return mult


def attrition(sf: SalesForce) -> Iterator[Any]:
    """Process: each month, reps leave voluntarily at the hazard scale × what they live through."""
    month = 0
    while True:
        yield sf.env.timeout(MONTH)
        month += 1
        now = sf.env.now
        if now > sf.T:
            return
        sf._refresh_theta()
        sf._advance(now)
        mult = hazard_multiplier(sf, now)
        p_leave = 1.0 - np.exp(-sf.hazard_scale * mult / 12.0)
        if sf.keep_multipliers and sf.W <= now < sf.T:  # a pilot run of the hazard-scale solve
            sf.multipliers.append(mult[sf.active])
        leaving = sf.active & (sf.attr_u[month] < p_leave)
        for k in np.flatnonzero(leaving):
            sf._leave(int(k), VOLUNTARY)


# ------------------------------------------------------------------------------------------
# planned hires: new seats (scenario ``hiring.plan``)
# ------------------------------------------------------------------------------------------
#: Every per-seat array of a sales force (first axis: seats) and what an empty, never-held seat
#: holds in it — the values :class:`salessim.model.salesforce.SalesForce` starts every seat with.
#: A callable fill takes the sales force. Opening seats extends each of these.
SEAT_ARRAYS: dict[str, Any] = {
    "seat_person": -1,
    "theta0": 0.0,
    "zskill": 0.0,
    "gain": 0.0,
    "hire_time": 0.0,
    "bias": 1.0,
    "n_goals": lambda sf: sf.goalm.n,
    "mix": lambda sf: sf.goalm.natural,
    "seg_mass": 0.0,
    "cell_cdf": 0.0,
    "penalty": 0.0,
    "focus": 1.0,
    "active": False,
    "person_u": 0.0,
    "op_time": 0.0,
    "week_lam": 0.0,
    "next_row": 0,
    "flag": False,
    "flag_since": np.nan,
    "est_ratio": 1.0,
    "flag_streak": 0,
    "stage_dev": 0.0,
    "stage_theta": 0.0,
    "diag_stage": -1,
    "plan_hours_due": 0.0,
    "episode_start": np.nan,
    "episode_seen": False,
    "week_hours": 0.0,
    "week_effective": 0.0,
    "rate": 0.0,
    "uncontacted": lambda sf: float(sf.sc.territory.accounts),
    "new_att": 1.0,
    "extra": 0.0,
    "burnout": 0.0,
    "optimism": 0.0,
    "log_habit": 0.0,
    "p_make": np.nan,
    "gave_up": False,
    "behind": 0,
    "log_events": 0.0,
    "week_total": 0.0,
    "week_selling": 0.0,
    "week_prospect": 0.0,
    "pipe_value": 0.0,
    "open_count": 0.0,
    "theta_eff": 0.0,
    "recent_calls": 0.0,
    "start_culture": np.nan,
}


def open_seats(sf: SalesForce, n: int) -> np.ndarray:
    """Open ``n`` new, empty seats; returns their indices.

    The ``j``-th planned seat of the run is seat ``N0 + j`` (``N0`` the starting seats) and joins
    team ``j mod M``: the teams take new seats in turn and their spans grow. Each new seat has its
    own random streams keyed by its index, like every seat, so the seats that were there keep every
    draw (common random numbers) whatever is opened after them. A new seat's rep gets a fresh
    book of accounts (a new territory) and its deal stream starts at its first row.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    old = sf.N
    new = np.arange(old, old + n)
    for name, fill in SEAT_ARRAYS.items():
        arr = getattr(sf, name)
        value = fill(sf) if callable(fill) else fill
        extra = np.empty((n, *arr.shape[1:]), dtype=arr.dtype)
        extra[...] = value
        setattr(sf, name, np.concatenate([arr, extra]))
    sf.seat_manager = np.concatenate([sf.seat_manager, (new - sf.N0) % sf.M])
    sf.people_rng += [stream(sf.seed, sf.rep, "people", int(k)) for k in new]
    sf.stage_rng += [stream(sf.seed, sf.rep, "stage_skill", int(k)) for k in new]
    months = sf.attr_u.shape[0]
    sf.attr_u = np.concatenate(
        [
            sf.attr_u,
            np.stack([stream(sf.seed, sf.rep, "attrition", int(k)).random(months) for k in new], axis=1),
        ],
        axis=1,
    )
    sf.N = old + n
    # caches of per-seat values computed before the seats existed
    sf.ramp_cache = None
    sf.year_cache = None
    return new


def openings(sf: SalesForce) -> Iterator[Any]:
    """Process: planned seats open on their days of the reported horizon (``hiring.plan``).

    Each opened seat is recruited like a backfill — vacant for the recruiting delay, with the
    manager's interview hours — and its rep then ramps like any new hire.
    """
    plan = sorted(sf.target.hiring.plan, key=lambda o: o.day)  # stable: same-day order kept
    for o in plan:
        t = sf.W + float(o.day)
        if t > sf.env.now:
            yield sf.env.timeout(t - sf.env.now)
        for k in open_seats(sf, o.reps):
            sf._spawn(backfill(sf, int(k)))
