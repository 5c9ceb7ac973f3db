"""Steady state at time 0: the open pipeline each starting rep holds, and how long they have held the seat.

A replication starts as a going concern, not as a new sales force with empty pipelines:

* **Open deals.** Each seat starts with the plan's benchmark inventory of open deals per stage
  (:func:`salessim.funnel.plan`: arrivals × mean time in stage, by Little's law) — a Poisson
  count per stage — less any opened before its rep was hired (a recent hire's pipeline is
  short). A deal in stage *s* is drawn from the deals that reach *s* under the rep's own
  prospecting mix, and has been in its stage for a *stationary* time: its stage's duration is drawn
  length-biased (a deal found in a stage is more likely one with a long stay) and it is a uniform
  share of the way through it, so the time it has left is the stage's residual life. Its earlier
  stages took their own gamma durations, which date its creation before time 0.
* **Who holds the seats.** A sales force that has run for years keeps the reps who stay:
  strugglers are let go or leave, stars are poached or promoted, the coaching they have had has
  built their skill, and some are on a performance plan. The starting rep of a seat is a rep
  found in a seat of the settled sales force (:class:`Population`: the reps at the end of the
  hazard solve's pilot runs, which start from the previous pilot's reps) — with their skill
  (ranked by the rep's own skill draw, so common random numbers hold), tenure, review streak and
  coached skill; everything else about them is their own. Without it (a hazard scale given by
  hand) skill is the hiring distribution, the tenure is drawn (:func:`stationary_tenure`) at the
  voluntary hazard of an on-pace rep in the starting culture, and coached skill is what an even
  share of the team's coaching has built over it (:func:`stationary_gain`).

Every seeded deal uses its seat's own ``seed_pipeline`` stream, so the deals rep *k* holds at time
0 are the same in every scenario (common random numbers), and no other stream moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from scipy import special

from salessim.drivers import culture
from salessim.drivers.crm import logged, propensity
from salessim.funnel import gamma_quantile
from salessim.rng import stream

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "MAX_TENURE_YEARS",
    "Population",
    "seed_pipelines",
    "stationary_gain",
    "stationary_tenure",
    "tenure_hazard",
]

#: Longest tenure a starting rep may have: a working life in sales (assumption).
MAX_TENURE_YEARS = 40.0


@dataclass(frozen=True)
class Population:
    """The reps a settled sales force has in its seats.

    One row per rep seen at the end of the hazard solve's pilot runs (:mod:`salessim.model.hazard`),
    sorted by skill.

    Columns: skill z-score, days in the seat, days since a formal review first flagged them in
    the current streak (NaN: not flagged), coached skill gained, burnout, consecutive quarters
    far behind, the culture of the team they were in, flags in a row, then their skill deviation
    in each stage.
    """

    COLUMNS: ClassVar[int] = 8  # and one per stage after these
    rows: tuple[tuple[float, ...], ...]

    def draw(self, u: float) -> tuple[float, ...]:
        """The row at quantile ``u`` of skill (the same draw finds a rep of the same rank)."""
        return self.rows[min(int(u * len(self.rows)), len(self.rows) - 1)]

    @classmethod
    def of(cls, table: np.ndarray) -> Population | None:
        """From an (n, :attr:`COLUMNS`) table, or None if it is empty."""
        if table.size == 0:
            return None
        table = table[np.argsort(table[:, 0], kind="stable")]
        return cls(tuple(tuple(float(v) for v in row) for row in table))


def stationary_gain(sf: SalesForce, seat: int, tenure_days: float) -> float:
    """Coached skill a starting rep has built in ``tenure_days`` under the policy in force.

    Their manager's promised joint-call hours, spread evenly over the team, at the manager's
    quality, the policy's transfer and the rep's responsiveness, give a steady weekly dose *h*;
    :func:`salessim.drivers.coaching.skill_step` then grows the gain toward its fixed point
    g* = a·h ÷ (d + a·h ÷ C) at the weekly rate 1 − d − a·h ÷ C. Policies that concentrate the calls
    (on gaps, on top performers, on big deals) spread the same hours unevenly; the warm-up moves
    each rep from this even-spread start.
    """
    from salessim.drivers.coaching import responsiveness

    c = sf.sc.coaching
    if c.targeting == "none" or c.joint_call_hours_per_week <= 0:
        return 0.0
    transfer = c.reactive_transfer if c.targeting == "reactive" else 1.0
    # an unselected sales force: the hiring distribution is where the rep stands among peers
    resp = float(responsiveness(np.array([sf.zskill[seat]]), c.responsiveness_width)[0])
    h = (
        c.joint_call_hours_per_week
        / sf.sc.organisation.span
        * float(sf.quality[sf.seat_manager[seat]])
        * transfer
        * resp
    )
    ah = c.skill_gain_per_hour * h
    if ah <= 0:
        return 0.0
    g_star = ah / (c.skill_decay_per_week + ah / c.skill_ceiling)
    rate = min(max(1.0 - c.skill_decay_per_week - ah / c.skill_ceiling, 0.0), 1.0)
    return min(g_star * (1.0 - rate ** (tenure_days / 7.0)), c.skill_ceiling)


def stationary_tenure(u: float, rate: float) -> float:
    """Days a starting rep has been in the seat, for a uniform draw ``u``.

    The stationary age of a seat's occupant has density S(t) ÷ E[tenure], S the survival function of
    a rep's time in seat. The model's leaving hazard does not depend on tenure, so at an annual
    hazard ``rate`` S is exponential and so is the stationary age (mean 1 ÷ ``rate`` years), cut at
    :data:`MAX_TENURE_YEARS`.
    """
    if rate <= 0.0:
        return MAX_TENURE_YEARS * 365.0 * u
    cut = 1.0 - math.exp(-rate * MAX_TENURE_YEARS)
    return -math.log1p(-u * cut) / rate * 365.0


def tenure_hazard(sf: SalesForce) -> float:
    """Annual voluntary hazard of an on-pace rep in the starting culture (what tenures are drawn at)."""
    a, cu = sf.sc.attrition, sf.sc.culture
    base = -math.log(1.0 - min(a.voluntary_annual, 0.999))
    return base * float(culture.attrition_factor(np.array([cu.initial]), cu)[0])


def seed_pipelines(sf: SalesForce) -> None:
    """Give every seated rep the plan's benchmark open deals, at stationary ages (see module)."""
    p = sf.plan
    S = sf.S
    inventory = p.stages["inventory"].to_numpy()
    cells = p.cells
    stage_p = cells[[f"p_{s.name}" for s in sf.sc.funnel.stages]].to_numpy()  # cells × stages
    reach = np.cumprod(np.hstack([np.ones((len(cells), 1)), stage_p[:, :-1]]), axis=1)
    cv = sf.stage_cv
    k_shape = 1.0 / (cv * cv)
    # each seat's own stream gives its counts and uniforms; the arithmetic is done for all at once
    seats_l, stage_l, u_l = [], [], []
    for k in np.flatnonzero(sf.seat_person >= 0):
        rng = stream(sf.seed, sf.rep, "seed_pipeline", int(k))
        counts = rng.poisson(inventory)
        stage_k = np.repeat(np.arange(S), counts)
        if stage_k.size == 0:
            continue
        seats_l.append(np.full(stage_k.size, k))
        stage_l.append(stage_k)
        u_l.append(rng.random((stage_k.size, 7 + 2 * S)))
    if not seats_l:
        return
    seat = np.concatenate(seats_l)
    stage = np.concatenate(stage_l)
    u = np.maximum(np.concatenate(u_l), 1e-12)
    n = stage.size
    u_cell, z_amt, u_vis, u_reas, u_len, u_at = (
        u[:, 0],
        special.ndtri(u[:, 1]),
        u[:, 2],
        u[:, 3],
        u[:, 4],
        u[:, 5],
    )
    u_stage, u_dur = u[:, 7 : 7 + S], u[:, 7 + S :]
    # the cell of a deal found in stage s: the rep's mix × the chance a deal of that cell gets there
    w = sf.mix[:, :, None] * reach[None, :, :]  # seats × cells × stages
    cdf = np.cumsum(w, axis=1) / w.sum(axis=1)[:, None, :]
    cell = np.minimum((u_cell[:, None] > cdf[seat, :, stage]).sum(axis=1), len(cells) - 1)
    seg, prod = sf.cell_seg[cell], sf.cell_prod[cell]
    amount = sf.prod_median[prod] * sf.seg_factor[seg] * np.exp(sf.prod_sigma[prod] * z_amt)
    dur_unit = np.column_stack([gamma_quantile(u_dur[:, j], 1.0, cv[j]) for j in range(S)])
    # the current stage: a length-biased duration (gamma of shape k + 1), u_at of the way through
    mean_s, k_s = sf.stage_mean[stage], k_shape[stage]
    length = gamma_quantile(u_len, mean_s * (k_s + 1) / k_s, 1.0 / np.sqrt(k_s + 1))
    age = u_at * length
    dur_unit[np.arange(n), stage] = length / mean_s
    earlier = dur_unit * sf.stage_mean[None, :] * (np.arange(S)[None, :] < stage[:, None])
    entered = -age[:, None] - np.cumsum(earlier[:, ::-1], axis=1)[:, ::-1]
    entered = np.where(np.arange(S)[None, :] <= stage[:, None], entered, np.nan)
    # entered[:, j] for j ≤ stage: −age − the durations of stages j … stage − 1.
    # A rep holds only deals opened since they were hired: a recent hire's pipeline is short.
    own = entered[:, 0] >= sf.hire_time[seat]
    seat, stage, entered, dur_unit, length, age = (
        seat[own],
        stage[own],
        entered[own],
        dur_unit[own],
        length[own],
        age[own],
    )
    seg, prod, amount, cell = seg[own], prod[own], amount[own], cell[own]
    u_vis, u_reas, u_stage, u_dur = u_vis[own], u_reas[own], u_stage[own], u_dur[own]
    stage_t = entered
    c = {
        "segment": seg,
        "product": prod,
        "cell": cell,
        "stage": stage,
        "amount": amount,
        "created": entered[:, 0],
        "next_time": length - age,
        "offset": sf.cell_offset[cell],
        "visible": logged(
            u_vis,
            propensity(
                sf.sc.crm,
                stage,
                S,
                np.log(amount / sf.prod_median[prod]),
                sf.inspection[sf.seat_manager[seat]],
                sf.log_habit[seat],
            ),
        ),
        "u_visible": u_vis,
        "u_stage": u_stage,
        "u_dur": u_dur,
        "dur_unit": dur_unit,
        "u_reassign": u_reas,
    }
    idx = sf.book.add(
        seat=seat,
        creator=sf.seat_person[seat],
        person=sf.seat_person[seat],
        manager=sf.seat_manager[seat],
        joint_calls=0,
        seat_row=-1,
        boost=0.0,
        att=1.0,
        gamed=0,
        list_amount=c["amount"],
        **c,
    )
    sf.book.stage_t[idx] = stage_t
