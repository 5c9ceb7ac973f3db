"""The SimPy model of a sales force under the eight drivers (DESIGN §3). Time is in days.

Who does what, and when:

* **week** (every 7 days): deals whose stage ends by now are resolved, each at its own exact
  stage-end time with the odds of the rep who holds it; managers spend their hours on joint calls;
  coached skill moves; team culture moves toward management's signal; every rep's true outlook is
  updated; and each rep's prospecting for the coming week creates deals at exact times.
* **review** (at the cadence): each manager — a contended ``simpy.Container`` of weekly hours —
  measures every rep with the scenario's metric on CRM-visible deals, flags gaps, orders corrective
  plans and, after repeated flags, may let a rep go.
* **quarter** boundaries: the manager's revenue forecast for the quarter, pipeline coverage, skill and
  culture snapshots.
* **month**: voluntary leaving; a leaver's open deals are reassigned (some are lost); the seat is
  backfilled after a delay by a new hire who ramps.

Deals are not SimPy processes: a replication moves tens of thousands of them, and resolving each
week's due stage-ends in one vectorised step keeps a deal's cost to a few bare SimPy events (see
``salessim bench``). Stage-end times stay exact; only the rep's state is read at the week's tick.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from scipy import special

from salessim.coaching import manager_quality, responsiveness, skill_step
from salessim.deals import (
    C_PROD,
    C_REASSIGN,
    C_SEG,
    C_VISIBLE,
    FIXED_COLS,
    LOST,
    OPEN,
    WON,
    DealBook,
    SeatDeals,
)
from salessim.funnel import Plan, gamma_quantile, plan
from salessim.goals import GoalModel
from salessim.rng import stream
from salessim.scenario import Scenario

__all__ = ["ReplicationRecord", "SalesForce"]

WEEK = 7.0
MONTH = 365.0 / 12.0
REVIEW_INTERVAL = {"annual": 365.0, "semiannual": 182.5, "quarterly": 91.25, "monthly": MONTH}
REVIEW_SIGNAL = {"annual": 0.0, "semiannual": 0.35, "quarterly": 0.7, "monthly": 1.0}
METRIC_SIGNAL = {"outcomes": 0.0, "pipeline": 0.5, "stage": 1.0}
PERSON_DRAWS = 16  # uniforms per person from the seat's people stream (fixed: keeps CRN aligned)
MAX_GOALS = 10
#: Stage log-odds are held within ±LOGIT_LIMIT so that every probability stays strictly inside
#: (0, 1) in float64 (expit rounds to exactly 1.0 beyond ≈ 36.7); realistic runs never come near it.
LOGIT_LIMIT = 30.0

# exit kinds
VOLUNTARY, INVOLUNTARY, PROMOTED = 1, 2, 3


@dataclass
class ReplicationRecord:
    """Everything one replication leaves behind, as flat arrays; tables are built from it."""

    scenario: Scenario
    replication: int
    seed: int
    warmup: float
    horizon: float
    book: DealBook
    goals: GoalModel
    person_seat: np.ndarray
    person_manager: np.ndarray
    person_hire: np.ndarray
    person_leave: np.ndarray
    person_exit: np.ndarray
    person_theta_hire: np.ndarray
    person_theta_leave: np.ndarray
    skill_snap: np.ndarray  # persons × 5 boundaries (NaN where not in seat)
    coaching_hours: np.ndarray  # persons × 5 periods (Q1..Q4, year)
    joint_calls: np.ndarray  # persons × 5
    flagged: np.ndarray  # persons × 5 (bool)
    headcount: np.ndarray  # 5 periods: mean weekly headcount
    coverage: np.ndarray  # pipeline coverage at Q1..Q4's starts (see _quarters); year: their mean
    culture: np.ndarray  # 5 periods: mean team culture at period end
    forecast_error: np.ndarray  # 5 periods
    detections: np.ndarray  # rows of (time, lag_days)
    false_flags: int
    events: int


class SalesForce:
    """One replication of one scenario: build it, then :meth:`run` it."""

    def __init__(self, scenario: Scenario, seed: int, replication: int,
                 funnel_plan: Plan | None = None) -> None:
        self.sc = scenario
        self.seed = int(seed)
        self.rep = int(replication)
        self.plan = funnel_plan or plan(scenario)
        if self.plan.new_per_week > 1000:
            from salessim.scenario import ScenarioError

            raise ScenarioError(
                f"{scenario.name}: organisation.quota {scenario.organisation.quota:,.0f} with a "
                f"win rate of {self.plan.win_rate:.2g} (funnel.stages conversions) needs "
                f"{self.plan.new_per_week:,.0f} new opportunities per rep per week; raise the "
                "conversions or lower the quota")
        self.goalm = GoalModel(scenario, self.plan)
        self.env = simpy.Environment()
        self._gens: list[Any] = []

        org = scenario.organisation
        self.M = org.managers
        self.N = org.managers * org.span
        self.W = float(scenario.simulation.warmup_days)
        self.H = float(scenario.simulation.horizon_days)
        self.T = self.W + self.H
        self.Q = self.H / 4.0
        f = scenario.funnel
        self.S = len(f.stages)
        self.base_logit = special.logit(np.array([s.conversion for s in f.stages]))
        self.stage_mean = np.array([s.mean_days for s in f.stages])
        self.stage_cv = np.array([s.cv for s in f.stages])
        cells = self.plan.cells
        self.cell_offset = cells["logit_offset"].to_numpy()
        self.cell_amount = cells["mean_amount"].to_numpy()
        seg_names = list(f.segments)
        prod_names = list(f.products)
        self.n_prod = len(prod_names)
        self.cell_seg = np.array([seg_names.index(s) for s in cells["segment"]])
        self.cell_prod = np.array([prod_names.index(p) for p in cells["product"]])
        self.prod_median = np.array([p.amount_median for p in f.products.values()])
        self.prod_sigma = np.array([p.amount_sigma for p in f.products.values()])
        self.seg_factor = np.array([f.segments[s].amount_factor for s in seg_names])
        self.seg_is_new_logo = np.array([s == "new_logo" for s in seg_names])

        # --- seats: the person in each and their state --------------------------------------
        self.seat_manager = np.repeat(np.arange(self.M), org.span)
        self.seat_person = np.full(self.N, -1, dtype=np.int64)
        self.theta0 = np.zeros(self.N)
        self.zskill = np.zeros(self.N)
        self.gain = np.zeros(self.N)
        self.hire_time = np.zeros(self.N)
        self.bias = np.ones(self.N)
        self.n_goals = np.full(self.N, self.goalm.n)
        self.mix = np.tile(self.goalm.natural, (self.N, 1))
        self.seg_mass = np.zeros((self.N, 2))
        self.cell_cdf = np.zeros((self.N, 2, len(self.cell_seg)))
        self.penalty = np.zeros(self.N)
        self.focus = np.ones(self.N)
        self.active = np.zeros(self.N, dtype=bool)
        self.op_time = np.zeros(self.N)  # operational time consumed (Poisson arrivals)
        self.week_start = 0.0  # the current week's prospecting: its start and intensity per seat
        self.week_lam = np.zeros(self.N)
        self.next_row = np.zeros(self.N, dtype=np.int64)
        self.flag = np.zeros(self.N, dtype=bool)
        self.flag_since = np.full(self.N, np.nan)
        self.est_ratio = np.ones(self.N)
        self.episode_start = np.full(self.N, np.nan)
        self.episode_seen = np.zeros(self.N, dtype=bool)
        self.week_hours = np.zeros(self.N)
        self.week_effective = np.zeros(self.N)
        self.rate = np.zeros(self.N)
        self.stretch = np.ones(self.N)
        self.pipe_value: np.ndarray = np.zeros(self.N)
        self.open_count: np.ndarray = np.zeros(self.N)
        self.theta_eff = np.zeros(self.N)
        self.rr_pointer = np.zeros(self.M, dtype=np.int64)
        self.recent_calls = np.zeros(self.N)
        self.won_parts: list[np.ndarray] = []
        self._won_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

        # --- persons (grown lists → arrays at the end) --------------------------------------
        self.p_seat: list[int] = []
        self.p_manager: list[int] = []
        self.p_hire: list[float] = []
        self.p_leave: list[float] = []
        self.p_exit: list[int] = []
        self.p_theta_hire: list[float] = []
        self.p_theta_leave: list[float] = []
        cap = self.N * 3
        self.skill_snap = np.full((cap, 5), np.nan)
        self.coach_hours = np.zeros((cap, 5))
        self.calls = np.zeros((cap, 5))
        self.flagged = np.zeros((cap, 5), dtype=bool)

        # --- random streams ----------------------------------------------------------------
        self.people_rng = [stream(seed, replication, "people", k) for k in range(self.N)]
        self.backfill_rng: dict[int, np.random.Generator] = {}  # made when a seat first empties
        months = int(self.T / MONTH) + 2
        self.attr_u = stream(seed, replication, "attrition").random((months, self.N))
        self.invol_u = stream(seed, replication, "attrition", 1).random((64, self.N))
        self.invol_count = 0
        mz = stream(seed, replication, "managers").standard_normal(2 * self.M)
        self.quality = manager_quality(scenario, mz[: self.M])
        self._promoted_quality = manager_quality(scenario, mz[self.M:])
        self.culture = np.full(self.M, scenario.culture.initial)
        self.delivered = np.full(self.M, 0.0)
        self.carry = np.zeros(self.M)
        people_hours = scenario.managers.weekly_hours * (1 - scenario.managers.admin_share)
        self.people_hours = people_hours
        self.hours = [simpy.Container(self.env, capacity=people_hours, init=people_hours)
                      for _ in range(self.M)]

        self.draws = SeatDeals(seed, replication, self.N, self.S, self.stage_cv)
        self.book = DealBook(self.S, capacity=max(4096, int(self.N * self.plan.new_per_week
                                                             * self.T / 7 * 1.3)))

        # --- outcome records ---------------------------------------------------------------
        self.headcount_sum = np.zeros(5)
        self.headcount_n = np.zeros(5)
        self.coverage = np.full(5, np.nan)
        self.culture_end = np.full(5, np.nan)
        self.forecasts: dict[int, np.ndarray] = {}
        self.detections: list[tuple[float, float]] = []
        self.false_flags = 0
        interval = REVIEW_INTERVAL[scenario.reviews.cadence]
        self.p_invol = 1.0 - (1.0 - scenario.reviews.involuntary_annual) ** (interval / 365.0)

        # prescribed plan and signals that do not change during a run
        p = self.plan
        self.prescribed = p.new_per_day * (1 + scenario.prescription.coverage_margin)
        self.bench_value = p.pipeline_value
        self.ratio_pipeline = float((p.stages["inventory_value"] * p.stage_win_prob).sum()
                                    / p.stages["inventory_value"].sum())
        self.value_per_new = p.win_rate * p.avg_won_amount
        self.signal_static = np.mean([
            self.goalm.clarity(),
            1.0 if scenario.prescription.enabled else 0.0,
            REVIEW_SIGNAL[scenario.reviews.cadence],
            METRIC_SIGNAL[scenario.metrics],
        ])
        # expected in-quarter revenue from deals not yet created, per unit of arrival rate
        grid = np.linspace(0, self.Q, 27)
        self.in_quarter_factor = float(np.trapezoid(
            p.p_close_within(np.zeros(grid.size, dtype=int), self.Q - grid), grid))

        for k in range(self.N):
            self._hire(k, start=True)
        if scenario.managers.promotion:
            self._promote()

    # ======================================================================================
    # people
    # ======================================================================================
    def _person_draws(self, seat: int) -> np.ndarray:
        return self.people_rng[seat].random(PERSON_DRAWS)

    def _hire(self, seat: int, start: bool = False) -> None:
        sc = self.sc
        u = np.maximum(self._person_draws(seat), 1e-12)
        z = special.ndtri(u)
        now = self.env.now
        self.zskill[seat] = z[0]
        self.theta0[seat] = sc.reps.skill_sd * z[0]
        self.gain[seat] = 0.0
        pr = sc.prescription
        self.bias[seat] = pr.self_plan_median * math.exp(pr.self_plan_sigma * z[1])
        perceived, _dropped, n_eff = self.goalm.person(float(u[2]), z[3:3 + MAX_GOALS])
        self.n_goals[seat] = n_eff
        self.penalty[seat] = float(self.goalm.focus_penalty(n_eff))
        self.focus[seat] = float(self.goalm.focus_effort(n_eff))
        mix = self.goalm.mix(perceived)
        self.mix[seat] = mix
        for g in range(2):
            cond = np.where(self.cell_seg == g, mix, 0.0)
            self.seg_mass[seat, g] = cond.sum()
            self.cell_cdf[seat, g] = np.cumsum(cond) / max(cond.sum(), 1e-300)
        if start:
            # starting reps are past ramp: tenure between ramp and six years
            ramp = sc.attrition.ramp_days
            self.hire_time[seat] = -(ramp + u[15] * (6 * 365 - ramp))
        else:
            self.hire_time[seat] = now
        pid = len(self.p_seat)
        if pid >= self.skill_snap.shape[0]:
            self._grow_persons()
        self.p_seat.append(seat)
        self.p_manager.append(int(self.seat_manager[seat]))
        self.p_hire.append(float(self.hire_time[seat]))
        self.p_leave.append(math.inf)
        self.p_exit.append(0)
        self.seat_person[seat] = pid
        self.active[seat] = True
        self.flag[seat] = False
        self.flag_since[seat] = np.nan
        self.est_ratio[seat] = 1.0
        self.episode_start[seat] = np.nan
        self.episode_seen[seat] = False
        self._refresh_theta()
        self.p_theta_hire.append(float(self.theta_eff[seat]))
        self.p_theta_leave.append(math.nan)

    def _grow_persons(self) -> None:
        for name in ("skill_snap", "coach_hours", "calls", "flagged"):
            old = getattr(self, name)
            new = np.full((old.shape[0] * 2, 5), np.nan if name == "skill_snap" else 0,
                          dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def _ramp(self) -> np.ndarray:
        """Share of the ramp completed by each seat's rep (1 = fully productive)."""
        days = self.sc.attrition.ramp_days
        if days <= 0:
            return np.ones(self.N)
        return np.clip((self.env.now - self.hire_time) / days, 0.0, 1.0)

    def _refresh_theta(self) -> None:
        ramp = self._ramp()
        self.theta_eff = (self.theta0 + self.gain
                          + self.sc.attrition.new_hire_skill_offset * (1.0 - ramp))

    def _leave(self, seat: int, kind: int) -> None:
        now = self.env.now
        pid = int(self.seat_person[seat])
        self._refresh_theta()
        self.p_leave[pid] = now
        self.p_exit[pid] = kind
        self.p_theta_leave[pid] = float(self.theta_eff[seat])
        self.active[seat] = False
        self.seat_person[seat] = -1
        self.rate[seat] = 0.0
        self._forgo_prospecting(seat, pid)
        self._reassign(seat)
        self._spawn(self._backfill(seat))

    def _forgo_prospecting(self, seat: int, pid: int) -> None:
        """A leaver stops prospecting when they leave.

        The deals this week's batch gave them after today never happen, and the seat's deal stream
        resumes there for their successor.
        """
        b = self.book
        now = self.env.now
        frac = min(max((now - self.week_start) / WEEK, 0.0), 1.0)
        op_now = self.op_time[seat] - self.week_lam[seat] * (1.0 - frac)
        self.week_lam[seat] = 0.0
        o = b.open_idx
        late = o[(b.creator[o] == pid) & (b.created[o] > now)]
        if late.size == 0:
            self.op_time[seat] = op_now
            return
        first = int(b.seat_row[late].min())
        self.next_row[seat] = first
        self.op_time[seat] = min(op_now, np.nextafter(self.draws.cum_gap[seat, first], -np.inf))
        new_index = b.remove(late)
        self.won_parts = [new_index[w] for w in self.won_parts]
        self._won_cache = None

    def _reassign(self, seat: int) -> None:
        """Hand a leaver's open deals to teammates (fewest open deals first); some are lost."""
        b = self.book
        self._advance(self.env.now)
        o = b.open_idx[(b.seat[b.open_idx] == seat) & (b.status[b.open_idx] == OPEN)]
        if o.size == 0:
            return
        lost = b.u_reassign[o] < self.sc.attrition.reassignment_loss
        lo = o[lost]
        b.status[lo] = LOST
        b.closed[lo] = self.env.now
        keep = o[~lost]
        if keep.size == 0:
            b.compact()
            return
        m = self.seat_manager[seat]
        mates = np.flatnonzero(self.active & (self.seat_manager == m))
        if mates.size == 0:
            mates = np.flatnonzero(self.active)
        if mates.size == 0:  # nobody left to take them: they are lost
            b.status[keep] = LOST
            b.closed[keep] = self.env.now
            b.compact()
            return
        counts = np.bincount(b.seat[b.open_idx][b.status[b.open_idx] == OPEN],
                             minlength=self.N)[mates]
        order = mates[np.lexsort((mates, counts))]
        to = order[np.arange(keep.size) % order.size]
        b.seat[keep] = to
        b.person[keep] = self.seat_person[to]
        b.manager[keep] = self.seat_manager[to]
        b.compact()

    def _backfill(self, seat: int):
        a = self.sc.attrition
        rng = self.backfill_rng.get(seat)
        if rng is None:
            rng = self.backfill_rng[seat] = stream(self.seed, self.rep, "backfill", seat)
        u = max(float(rng.random()), 1e-12)
        delay = float(gamma_quantile(np.array([u]), a.backfill_mean_days, max(a.backfill_cv, 1e-3))[0])
        yield self.env.timeout(delay)
        self._hire(seat)

    def _promote(self) -> None:
        """Each team's top rep becomes its (untrained-quality) manager; their seat is backfilled."""
        for m in range(self.M):
            seats = np.flatnonzero(self.seat_manager == m)
            top = seats[np.argmax(self.theta0[seats])]
            self._leave(int(top), PROMOTED)
            self.quality[m] = self._promoted_quality[m]

    # ======================================================================================
    # deals
    # ======================================================================================
    def _create(self, t0: float) -> None:
        """Deals created by this week's prospecting, at exact times within [t0, t0 + 7)."""
        d = self.draws
        lam = self.rate * WEEK
        new_op = self.op_time + lam
        self.week_start = t0
        self.week_lam = lam
        cnt = np.zeros(self.N, dtype=np.int64)
        ar = np.arange(self.N)
        while True:
            idx = self.next_row + cnt
            d.ensure(int(idx.max()) + 1)
            hit = (d.cum_gap[ar, idx] <= new_op) & (lam > 0)
            if not hit.any():
                break
            cnt += hit
        total = int(cnt.sum())
        if total:
            seats = np.repeat(ar, cnt)
            offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            rows = self.next_row[seats] + offs
            dr = d.draws[seats, rows]
            created = t0 + WEEK * (d.cum_gap[seats, rows] - self.op_time[seats]) / lam[seats]
            # segment by the rep's mix, then product within the segment
            mass = self.seg_mass[seats]
            seg = (dr[:, C_SEG] * mass.sum(axis=1) > mass[:, 0]).astype(np.int32)
            cdf = self.cell_cdf[seats, seg]
            cell = np.minimum((dr[:, C_PROD, None] > cdf).sum(axis=1), cdf.shape[1] - 1)
            prod = self.cell_prod[cell]
            amount = (self.prod_median[prod] * self.seg_factor[seg]
                      * np.exp(self.prod_sigma[prod] * d.z_amount[seats, rows]))
            u_stage = dr[:, FIXED_COLS:FIXED_COLS + self.S]
            u_dur = dr[:, FIXED_COLS + self.S:]
            # every stage's duration shape (pre-computed per block); the stage's mean and the
            # rep's load stretch apply when the stage starts
            dur_unit = d.dur_unit[seats, rows]
            first = dur_unit[:, 0] * self.stage_mean[0] * self.stretch[seats]
            self.book.add(
                seat=seats, creator=self.seat_person[seats], person=self.seat_person[seats],
                manager=self.seat_manager[seats], segment=seg, product=prod, stage=0,
                joint_calls=0, seat_row=rows, amount=amount, created=created,
                next_time=created + first, boost=0.0, offset=self.cell_offset[cell],
                visible=dr[:, C_VISIBLE] < self.sc.crm_adoption, u_stage=u_stage, u_dur=u_dur,
                dur_unit=dur_unit,
                u_reassign=dr[:, C_REASSIGN])
        self.next_row += cnt
        self.op_time = new_op

    def _advance(self, now: float) -> None:
        """Resolve every stage that has ended by ``now``, each at its own end time."""
        b = self.book
        o = b.open_idx
        o = o[b.next_time[o] <= now]
        if o.size == 0:
            return
        while o.size:
            s = b.stage[o]
            seat = b.seat[o]
            lo = np.clip(self.base_logit[s] + self.theta_eff[seat] + b.offset[o]
                         - self.penalty[seat] + b.boost[o], -LOGIT_LIMIT, LOGIT_LIMIT)
            adv = b.u_stage[o, s] < special.expit(lo)
            fail = o[~adv]
            b.status[fail] = LOST
            b.closed[fail] = b.next_time[fail]
            up = o[adv]
            ns = b.stage[up] + 1
            b.stage[up] = ns
            b.boost[up] = 0.0
            won = ns >= self.S
            w = up[won]
            b.status[w] = WON
            b.closed[w] = b.next_time[w]
            if w.size:
                self.won_parts.append(w)
                self._won_cache = None
            go = up[~won]
            if go.size:
                gs = b.stage[go]
                b.stage_t[go, gs] = b.next_time[go]
                b.next_time[go] += (b.dur_unit[go, gs] * self.stage_mean[gs]
                                    * self.stretch[b.seat[go]])
                go = go[b.next_time[go] <= now]
            o = go
        b.compact()

    # ======================================================================================
    # the weekly rhythm
    # ======================================================================================
    def _period(self, t: float) -> int:
        """Quarter index 0–3 of time t in the reported horizon, or -1 outside it."""
        if t < self.W or t >= self.T:
            return -1
        return min(int((t - self.W) // self.Q), 3)

    def _week(self):
        while self.env.now <= self.T:
            now = self.env.now
            self._refresh_theta()
            self._advance(now)
            self._seat_state()
            self._coach(now)
            self._culture_step()
            self._outlook(now)
            self._plan_rates()
            q = self._period(now)
            if q >= 0:
                n_active = float(self.active.sum())
                for k in (q, 4):
                    self.headcount_sum[k] += n_active
                    self.headcount_n[k] += 1
            self._create(now)
            yield self.env.timeout(WEEK)

    def _seat_state(self) -> None:
        b = self.book
        o = b.open_idx
        seat = b.seat[o]
        self.open_count = np.bincount(seat, minlength=self.N).astype(float)
        self.pipe_value = np.bincount(seat, weights=b.amount[o], minlength=self.N)
        r = self.sc.reps
        self.stretch = np.maximum(1.0, self.open_count / r.comfortable_load) ** r.load_elasticity

    def _plan_rates(self) -> None:
        """This week's prospecting rate per seat: plan × effort."""
        sc = self.sc
        pr = sc.prescription
        if pr.enabled:
            planned = np.full(self.N, self.prescribed)
        else:
            ratio = np.maximum(self.pipe_value, 1.0) / self.bench_value
            famine = np.clip(ratio ** (-pr.feast_or_famine), 0.5, 2.0)
            planned = self.plan.new_per_day * self.bias * famine
            corr = self.flag & (planned < self.prescribed)
            planned = np.where(corr, planned + pr.corrective_raise * (self.prescribed - planned),
                               planned)
        a = sc.attrition
        ramp = a.ramp_start + (1 - a.ramp_start) * self._ramp()
        engagement = 1.0 + sc.culture.effort_sensitivity * (self.culture[self.seat_manager] - 0.5)
        effort = ramp * engagement * self.focus
        self.rate = np.where(self.active, planned * effort, 0.0)

    def _coach(self, now: float) -> None:
        """Managers spend this week's joint-call hours, by their targeting policy."""
        sc = self.sc
        c = sc.coaching
        self.week_hours[:] = 0.0
        self.week_effective[:] = 0.0
        for box in self.hours:  # weekly refill of people-time
            if box.capacity - box.level > 1e-9:
                box.put(box.capacity - box.level)
        q = self._period(now)
        if c.targeting != "none" and c.joint_call_hours_per_week > 0:
            b = self.book
            o = b.open_idx
            n_calls = np.zeros(self.M, dtype=np.int64)
            for m in range(self.M):
                budget = min(self.hours[m].level, c.joint_call_hours_per_week) + self.carry[m]
                n_calls[m] = int(budget // c.hours_per_call)
                self.carry[m] = min(budget - n_calls[m] * c.hours_per_call, c.hours_per_call)
            deals, seats = self._targets(n_calls, o)
            if deals.size:
                mgr = self.seat_manager[seats]
                used = np.bincount(mgr, minlength=self.M) * c.hours_per_call
                for mi in np.flatnonzero(used):
                    take = min(float(used[mi]), self.hours[mi].level)
                    if take > 1e-9:
                        self.hours[mi].get(take)
                qm = self.quality[mgr]
                np.add.at(b.boost, deals, c.deal_boost * qm)
                np.add.at(b.joint_calls, deals, 1)
                transfer = c.reactive_transfer if c.targeting == "reactive" else 1.0
                focus = (np.where(self.flag[seats], c.gap_focus, 1.0)
                         if c.targeting == "gap_targeted" else 1.0)
                resp = responsiveness(self.zskill[seats], c.responsiveness_width)
                np.add.at(self.week_hours, seats, c.hours_per_call)
                np.add.at(self.week_effective, seats,
                          c.hours_per_call * qm * transfer * focus * resp)
        self.recent_calls = 0.8 * self.recent_calls + self.week_hours / c.hours_per_call
        delivered = np.bincount(self.seat_manager, weights=self.week_hours, minlength=self.M)
        reps = np.maximum(np.bincount(self.seat_manager, weights=self.active, minlength=self.M), 1)
        per_rep_month = delivered / reps * (MONTH / WEEK)
        self.delivered += 0.25 * (per_rep_month - self.delivered)
        self.gain = skill_step(self.gain, self.week_effective, sc)
        if q >= 0:
            pid = self.seat_person
            has = (pid >= 0) & (self.week_hours > 0)
            for k in (q, 4):
                np.add.at(self.coach_hours[:, k], pid[has], self.week_hours[has])
                np.add.at(self.calls[:, k], pid[has], self.week_hours[has] / c.hours_per_call)

    def _targets(self, n_calls: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which deals each manager joins this week (``n_calls[m]`` each), and whose they are."""
        b = self.book
        policy = self.sc.coaching.targeting
        empty = np.zeros(0, dtype=np.int64)
        if o.size == 0:
            return empty, empty
        if policy == "reactive":
            # the team's most advanced, then largest, open deals (one sort on a packed key)
            o = o[b.stage[o] >= self.S - 2] if self.S >= 2 else o
            key = (b.manager[o] * 1e9 - b.stage[o] * 1e7
                   - np.minimum(b.amount[o], 9.99e6))
            ordered = o[np.argsort(key, kind="stable")]
            mgr = b.manager[ordered]
            start = np.searchsorted(mgr, np.arange(self.M))
            rank = np.arange(ordered.size) - start[mgr]
            pick = ordered[rank < n_calls[mgr]]
            return pick, b.seat[pick]
        # seat-based policies: each rep's most advanced, then largest, open deal
        ordered = o[np.lexsort((-b.amount[o], -b.stage[o], b.seat[o]))]
        seats_sorted = b.seat[ordered]
        first = np.ones(ordered.size, dtype=bool)
        first[1:] = seats_sorted[1:] != seats_sorted[:-1]
        best = np.full(self.N, -1, dtype=np.int64)
        best[seats_sorted[first]] = ordered[first]
        ok = self.active & (best >= 0)
        if policy == "round_robin":
            # position in the rotation: seats after the manager's pointer come first
            local = np.arange(self.N) % self.sc.organisation.span
            key = (local - self.rr_pointer[self.seat_manager]) % self.sc.organisation.span
        elif policy == "gap_targeted":
            # every rep is coached; reps with a flagged gap are visited half as often again,
            # and among equals the furthest behind go first
            recent = self.recent_calls * np.where(self.flag, 2 / 3, 1.0)
            key = recent + 1e-3 * np.clip(self.est_ratio, 0.0, 10.0)
        else:  # top_performers
            key = -self.theta_eff
        cand = np.flatnonzero(ok)
        cand = cand[np.lexsort((cand, key[cand], self.seat_manager[cand]))]
        mgr = self.seat_manager[cand]
        start = np.searchsorted(mgr, np.arange(self.M))
        rank = np.arange(cand.size) - start[mgr]
        chosen = cand[rank < n_calls[mgr]]
        if policy == "round_robin":
            np.add.at(self.rr_pointer, self.seat_manager[chosen], 1)
        return best[chosen], chosen

    def _culture_step(self) -> None:
        cu = self.sc.culture
        coach_signal = np.minimum(1.0, self.delivered / 3.0)
        signal = (4 * self.signal_static + coach_signal) / 5
        self.culture += cu.adjustment_per_week * (signal - self.culture)

    # ======================================================================================
    # outlook: truth vs what managers can see
    # ======================================================================================
    def _year_window(self, now: float) -> tuple[float, float]:
        """The fiscal year containing ``now`` (years start at the end of the warm-up)."""
        k = math.floor((now - self.W) / 365.0)
        start = self.W + 365.0 * k
        return start, start + 365.0

    def _won(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Won deals so far: (person, amount, close time) — rebuilt only when new wins arrive."""
        if self._won_cache is None:
            idx = (np.concatenate(self.won_parts) if self.won_parts
                   else np.zeros(0, dtype=np.int64))
            self.won_parts = [idx]
            b = self.book
            self._won_cache = (b.person[idx], b.amount[idx], b.closed[idx])
        return self._won_cache

    def _closed_revenue(self, t0: float, t1: float) -> np.ndarray:
        """Won revenue per seat's current person, closed in [t0, t1]."""
        person, amount, closed = self._won()
        sel = (closed >= t0) & (closed <= t1)
        rev_p = np.bincount(person[sel], weights=amount[sel], minlength=len(self.p_seat))
        out = np.zeros(self.N)
        act = self.seat_person >= 0
        out[act] = rev_p[self.seat_person[act]]
        return out

    def _true_win_prob(self, o: np.ndarray) -> np.ndarray:
        b = self.book
        seat = b.seat[o]
        x = (self.theta_eff[seat] + b.offset[o] - self.penalty[seat])[:, None]
        p = special.expit(np.clip(self.base_logit[None, :] + x, -LOGIT_LIMIT, LOGIT_LIMIT))
        p = np.where(np.arange(self.S)[None, :] < b.stage[o][:, None], 1.0, p)
        return p.prod(axis=1)

    def _outlook(self, now: float) -> None:
        """Who is truly off track: expected fiscal-year outcome below threshold × quota.

        Lags are measured only for gaps that open in the reported year, so the outlook starts a
        week before it (a gap already open then counts as opened before the year).
        """
        if now < self.W - WEEK:
            return
        y0, y1 = self._year_window(now)
        rem = y1 - now
        b = self.book
        o = b.open_idx
        expected = self._closed_revenue(y0, now)
        if o.size:
            pw = self._true_win_prob(o) * self.plan.p_close_within(b.stage[o], rem)
            expected += np.bincount(b.seat[o], weights=b.amount[o] * pw, minlength=self.N)
        # future deals at this rep's own rate, mix and skill
        x = (self.theta_eff - self.penalty)[:, None, None]
        cellp = special.expit(np.clip(self.base_logit[None, None, :] + self.cell_offset[None, :, None]
                                      + x, -LOGIT_LIMIT, LOGIT_LIMIT))
        vnew = (self.mix * cellp.prod(axis=2) * self.cell_amount[None, :]).sum(axis=1)
        expected += self.rate * max(0.0, rem - self.plan.cycle_days) * vnew
        quota = self._prorated_quota(y0, y1)
        eligible = self.active & (self._ramp() >= 1.0)
        off = eligible & (expected < self.sc.reviews.threshold * quota)
        new = off & np.isnan(self.episode_start)
        self.episode_start[new] = now
        self.episode_seen[new] = False
        ended = ~off & ~np.isnan(self.episode_start)
        self.episode_start[ended] = np.nan

    def _prorated_quota(self, y0: float, y1: float) -> np.ndarray:
        in_seat = np.clip(y1 - np.maximum(self.hire_time, y0), 0.0, y1 - y0)
        return self.sc.organisation.quota * in_seat / 365.0

    def _visible_estimate(self, now: float, seats: np.ndarray) -> np.ndarray:
        """The manager's estimate of each rep's fiscal year, by the scenario's metric."""
        sc = self.sc
        y0, y1 = self._year_window(now)
        rem = y1 - now
        ytd = self._closed_revenue(y0, now)[seats]
        p = self.plan
        if sc.metrics == "outcomes":
            span = np.clip(now - np.maximum(self.hire_time[seats], now - 365.0), 1.0, 365.0)
            trailing = self._closed_revenue(now - 365.0, now)[seats]
            return ytd + trailing / span * rem
        b = self.book
        o = b.open_idx
        o = o[b.visible[o] & np.isin(b.seat[o], seats)]
        adopt = sc.crm_adoption
        loc = np.searchsorted(seats, b.seat[o])
        if sc.metrics == "pipeline":
            value = np.bincount(loc, weights=b.amount[o], minlength=seats.size) / adopt
            pipe = value * self.ratio_pipeline * min(1.0, rem / p.cycle_days)
            future = p.new_per_day * max(0.0, rem - p.cycle_days) * self.value_per_new
            return ytd + pipe + future
        # stage: each stage's inventory and the rep's own stage conversions against the benchmark
        to_won = self._observed_to_won(now, self.seat_person[seats], by="person")
        w = to_won[loc, b.stage[o]] * p.p_close_within(b.stage[o], rem)
        pipe = np.bincount(loc, weights=b.amount[o] * w, minlength=seats.size) / adopt
        top = np.bincount(loc[b.stage[o] == 0], minlength=seats.size) / adopt
        rate_hat = top / p.stages["mean_days"].iloc[0]  # Little's law read backwards
        value_new = to_won[:, 0] * p.avg_won_amount
        future = rate_hat * max(0.0, rem - p.cycle_days) * value_new
        return ytd + pipe + future

    def _observed_to_won(self, now: float, ids: np.ndarray, by: str) -> np.ndarray:
        """Stage-to-won probabilities seen in the CRM over the last year, per person or team.

        Each stage's pass rate is estimated from the visible deals resolved in the trailing 365
        days, shrunk toward the benchmark conversion (prior weight of 10 deals per stage).
        """
        b = self.book
        n = b.n
        done = (b.status[:n] != OPEN) & b.visible[:n] & (b.closed[:n] >= now - 365.0) & (
            b.closed[:n] <= now)
        key = (b.person if by == "person" else b.manager)[:n][done]
        size = (len(self.p_seat) if by == "person" else self.M)
        reached = b.stage[:n][done]  # stage lost at; S for won
        attempts = np.zeros((size, self.S))
        passes = np.zeros((size, self.S))
        for s_ in range(self.S):
            attempts[:, s_] = np.bincount(key[reached >= s_], minlength=size)
            passes[:, s_] = np.bincount(key[reached > s_], minlength=size)
        prior = 10.0
        bench = self.plan.stages["conversion"].to_numpy()
        rate = (passes + prior * bench) / (attempts + prior)
        to_won = np.cumprod(rate[:, ::-1], axis=1)[:, ::-1]
        return to_won[ids]

    # ======================================================================================
    # reviews, quarters, attrition
    # ======================================================================================
    def _calendar(self, interval: float) -> Iterator[float]:
        """Times of a recurring meeting, aligned to the start of the reported year, in (0, T]."""
        k = -math.floor(self.W / interval)
        while (t := self.W + k * interval) <= self.T + 1e-9:
            k += 1
            if t > 1e-9:
                yield t

    def _reviews(self):
        for t in self._calendar(REVIEW_INTERVAL[self.sc.reviews.cadence]):
            yield self.env.timeout(t - self.env.now)
            for m in range(self.M):
                self._spawn(self._review_team(m))

    def _review_team(self, m: int):
        mg = self.sc.managers
        seats = np.flatnonzero((self.seat_manager == m) & self.active)
        need = mg.review_hours_per_rep * seats.size
        box = self.hours[m]
        if need > 0:
            take = min(need, box.level)
            if take > 0:
                yield box.get(take)
            if need - take > 1e-9:  # not enough people-time this week: the rest waits
                yield box.get(min(need - take, box.capacity))
        self._assess(m, formal=True)

    def _pipeline_checks(self):
        """Forecast calls every quarter: with pipeline or stage metrics, gaps show between reviews.

        Outcome-only managers have nothing to look at until the review; managers who measure the
        pipeline see a falling-behind rep at the next forecast call (DESIGN §2, driver 3).
        """
        if self.sc.metrics == "outcomes":
            return
        for t in self._calendar(self.Q):
            yield self.env.timeout(t - self.env.now)
            for m in range(self.M):
                self._assess(m, formal=False)

    def _assess(self, m: int, formal: bool) -> None:
        """Manager ``m`` measures each rep, flags gaps; a formal review may end a flagged streak."""
        now = self.env.now
        self._refresh_theta()
        self._advance(now)
        seats = np.flatnonzero((self.seat_manager == m) & self.active & (self._ramp() >= 1.0))
        if seats.size == 0:
            return
        y0, y1 = self._year_window(now)
        est = self._visible_estimate(now, seats)
        quota = self._prorated_quota(y0, y1)[seats]
        thr = self.sc.reviews.threshold
        ratio = np.divide(est, thr * quota, out=np.ones_like(est), where=quota > 0)
        self.est_ratio[seats] = ratio
        flag = ratio < 1.0
        in_horizon = self.W <= now <= self.T
        q = min(self._period(now), 3) if now < self.T else 3
        rv = self.sc.reviews
        for k, f in zip(seats, flag, strict=True):
            pid = self.seat_person[k]
            if f:
                if in_horizon:
                    self.flagged[pid, q] = True
                    self.flagged[pid, 4] = True
                start = self.episode_start[k]
                if not np.isnan(start) and not self.episode_seen[k]:
                    self.episode_seen[k] = True
                    # lags are measured for gaps that open in the reported year
                    if in_horizon and start >= self.W:
                        self.detections.append((now, now - start))
                elif np.isnan(start) and in_horizon:
                    self.false_flags += 1
                if np.isnan(self.flag_since[k]):
                    self.flag_since[k] = now
                elif formal and now - self.flag_since[k] >= rv.involuntary_after_days - 1e-9:
                    u = self.invol_u[self.invol_count % 64, k]
                    if u < self.p_invol and now < self.T:
                        self._leave(int(k), INVOLUNTARY)
                        continue
            elif formal or not self.flag[k]:
                self.flag_since[k] = np.nan
            self.flag[k] = f
        if formal:
            self.invol_count += 1

    def _quarters(self):
        for q in range(5):
            t = self.W + q * self.Q
            yield self.env.timeout(t - self.env.now)
            self._refresh_theta()
            self._advance(t)
            act = self.seat_person >= 0
            self.skill_snap[self.seat_person[act], q] = self.theta_eff[act]
            if q > 0:
                self.culture_end[q - 1] = float(self.culture.mean())
            if q == 4:
                self.culture_end[4] = float(self.culture.mean())
                self.coverage[4] = float(self.coverage[:4].mean())  # the year: its quarters' mean
                return
            # pipeline coverage, as the plan defines it: the open pipeline's value at the quarter's
            # start ÷ the quarter's quota (a fourth of the annual quota) of the reps who hold it —
            # the seated reps (a vacant seat's deals were reassigned). Deals the week's prospecting
            # has already booked for later days do not exist yet and are left out.
            quota_q = self._prorated_quota(t, t + self.Q)[self.active].sum() * 365.0 / self.Q / 4
            o = self.book.open_idx
            open_value = self.book.amount[o][self.book.created[o] <= t].sum()
            self.coverage[q] = open_value / max(quota_q, 1.0)
            self.forecasts[q] = self._forecast(t)

    def _forecast(self, t: float) -> np.ndarray:
        """Each manager's forecast of the coming quarter's team revenue."""
        sc = self.sc
        p = self.plan
        if sc.metrics == "outcomes":
            b = self.book
            n = b.n
            won = (b.status[:n] == WON) & (b.closed[:n] >= t - self.Q) & (b.closed[:n] < t)
            return np.bincount(b.manager[:n][won], weights=b.amount[:n][won], minlength=self.M)
        b = self.book
        o = b.open_idx
        o = o[b.visible[o]]
        adopt = sc.crm_adoption
        mgr = b.manager[o]
        if sc.metrics == "pipeline":
            value = np.bincount(mgr, weights=b.amount[o], minlength=self.M) / adopt
            pipe = value * self.ratio_pipeline * min(1.0, self.Q / p.cycle_days)
            reps = np.bincount(self.seat_manager, weights=self.active, minlength=self.M)
            return pipe + reps * p.new_per_day * self.in_quarter_factor * self.value_per_new
        to_won = self._observed_to_won(t, np.arange(self.M), by="manager")
        w = to_won[mgr, b.stage[o]] * p.p_close_within(b.stage[o], self.Q)
        pipe = np.bincount(mgr, weights=b.amount[o] * w, minlength=self.M) / adopt
        top = np.bincount(mgr[b.stage[o] == 0], minlength=self.M) / adopt
        rate_hat = top / p.stages["mean_days"].iloc[0]
        return pipe + rate_hat * self.in_quarter_factor * to_won[:, 0] * p.avg_won_amount

    def _attrition(self):
        sc = self.sc
        a = sc.attrition
        base = -math.log(1.0 - min(a.voluntary_annual, 0.999))
        month = 0
        while True:
            yield self.env.timeout(MONTH)
            month += 1
            now = self.env.now
            if now > self.T:
                return
            self._refresh_theta()
            self._advance(now)
            span = np.clip(now - np.maximum(self.hire_time, now - 365.0), 1.0, 365.0)
            trailing = self._closed_revenue(now - 365.0, now)
            pace = trailing / (sc.organisation.quota * span / 365.0)
            pace = np.where(self._ramp() >= 1.0, pace, 1.0)
            hazard = (base * np.exp(-sc.culture.attrition_sensitivity
                                    * (self.culture[self.seat_manager] - 0.5))
                      * np.exp(a.attainment_sensitivity * np.maximum(0.0, 1.0 - pace)))
            p_leave = 1.0 - np.exp(-hazard / 12.0)
            leave = self.active & (self.attr_u[month % self.attr_u.shape[0]] < p_leave)
            for k in np.flatnonzero(leave):
                self._leave(int(k), VOLUNTARY)

    def _spawn(self, gen: Any) -> None:
        """Start a SimPy process, remembering its generator so a finished run can close it."""
        self._gens.append(gen)
        self.env.process(gen)

    # ======================================================================================
    def run(self) -> ReplicationRecord:
        """Run warm-up and horizon; return the flat record of what happened."""
        env = self.env
        for gen in (self._week(), self._reviews(), self._quarters(), self._attrition(),
                    self._pipeline_checks()):
            self._spawn(gen)
        events = 0
        while env.peek() <= self.T + 1e-6:
            env.step()
            events += 1
        self._refresh_theta()
        self._advance(self.T)
        # SimPy's event queue ties processes, the environment and this model into reference
        # cycles; clearing it lets a finished replication be freed at once, not at the next GC
        env._queue.clear()
        for gen in self._gens:
            gen.close()
        self._gens.clear()
        self.hours = []
        n_p = len(self.p_seat)
        # forecast error per quarter: mean absolute % error over teams
        b = self.book
        n = b.n
        fe = np.full(5, np.nan)
        for q, fc in self.forecasts.items():
            t0 = self.W + q * self.Q
            won = (b.status[:n] == WON) & (b.closed[:n] >= t0) & (b.closed[:n] < t0 + self.Q)
            actual = np.bincount(b.manager[:n][won], weights=b.amount[:n][won], minlength=self.M)
            ok = actual > 0
            fe[q] = float(np.mean(np.abs(fc[ok] - actual[ok]) / actual[ok])) if ok.any() else np.nan
        if not np.all(np.isnan(fe[:4])):
            fe[4] = float(np.nanmean(fe[:4]))
        return ReplicationRecord(
            scenario=self.sc, replication=self.rep, seed=self.seed, warmup=self.W,
            horizon=self.H, book=self.book, goals=self.goalm,
            person_seat=np.array(self.p_seat), person_manager=np.array(self.p_manager),
            person_hire=np.array(self.p_hire), person_leave=np.array(self.p_leave),
            person_exit=np.array(self.p_exit),
            person_theta_hire=np.array(self.p_theta_hire),
            person_theta_leave=np.array(self.p_theta_leave),
            skill_snap=self.skill_snap[:n_p], coaching_hours=self.coach_hours[:n_p],
            joint_calls=self.calls[:n_p], flagged=self.flagged[:n_p],
            headcount=self.headcount_sum / np.maximum(self.headcount_n, 1),
            coverage=self.coverage, culture=self.culture_end, forecast_error=fe,
            detections=np.array(self.detections, dtype=float).reshape(-1, 2),
            false_flags=self.false_flags, events=events,
        )
