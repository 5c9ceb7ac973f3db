"""Orchestration: one replication of one scenario — its state, its processes and its run.

Who does what, and when (each process lives with the part of the model it moves):

* **manager weeks** (every Monday, before the week's step, :mod:`salessim.model.managers`): each
  manager's ledger of weekly hours is spent in order on admin and forecasting, waiting reviews,
  hiring interviews, training days and then joint calls; what does not fit is not delivered.
* **week** (every 7 days, :meth:`SalesForce._week`): deals whose stage ends by now are resolved,
  each at its own exact stage-end time with the odds of the rep who holds it
  (:mod:`salessim.model.deals`); managers make the joint calls their ledgers granted
  (:mod:`salessim.drivers.coaching`); coached skill moves; team culture moves toward management's
  signal (:mod:`salessim.drivers.culture`); every rep's true outlook is updated
  (:mod:`salessim.model.outlook`); each rep reads their own chance of making quota, which sets
  their extra hours, and near a quarter's end times their closes (:mod:`salessim.drivers.comp`);
  then each rep's week is spent — deal work by priority, then prospecting in their territory
  (:mod:`salessim.model.reptime`, plans from :mod:`salessim.drivers.prescription`) — which
  creates deals at exact times.
* **review** (at the cadence, :mod:`salessim.drivers.reviews`): each manager, once their ledger
  has found the hours, measures every rep with the scenario's metric on CRM-visible deals
  (:mod:`salessim.drivers.metrics`), flags gaps, orders corrective plans and, after repeated
  flags, may let a rep go.
* **quarter** boundaries (:meth:`SalesForce._quarters`): the manager's revenue forecast for the
  quarter, pipeline coverage, skill and culture snapshots.
* **month** (:mod:`salessim.model.people`): voluntary leaving; a leaver's open deals are reassigned
  (some are lost); the seat is backfilled after a delay by a new hire who ramps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import simpy
from scipy import special

from salessim.drivers import coaching, comp, crm, culture, prescription, reviews, training
from salessim.drivers.goals import GoalModel
from salessim.funnel import Plan, plan
from salessim.model import deals, hazard, managers, outlook, people, policy, reptime, steady
from salessim.model.clock import MONTH, WEEK, Clock
from salessim.model.deals import DealBook, SeatDeals
from salessim.model.record import ReplicationRecord, record
from salessim.rng import stream
from salessim.scenario import Scenario

__all__ = ["SalesForce"]


class SalesForce:
    """One replication of one scenario: build it, then :meth:`run` it."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        replication: int,
        funnel_plan: Plan | None = None,
        warmup: Any = None,
        hazard_scale: float | None = None,
        population: steady.Population | None = None,
        culture_path: np.ndarray | None = None,
    ) -> None:
        # in transition mode the warm-up runs under the warm-up policy (`warmup`'s driver
        # sections, by default the library baseline's); the scenario's own takes over at its end
        self.target = scenario
        self.warmup_sc = policy.warmup_policy(scenario, warmup)
        scenario = self.warmup_sc or scenario
        self.sc = scenario
        self.seed = int(seed)
        self.rep = int(replication)
        self.plan = (
            funnel_plan
            if funnel_plan is not None and funnel_plan.quota == scenario.organisation.quota
            else plan(scenario)
        )
        if self.plan.new_per_week > 1000:
            from salessim.scenario import ScenarioError

            raise ScenarioError(
                f"{scenario.name}: organisation.quota {scenario.organisation.quota:,.0f} with a "
                f"win rate of {self.plan.win_rate:.2g} (funnel.stages conversions) needs "
                f"{self.plan.new_per_week:,.0f} new opportunities per rep per week; raise the "
                "conversions or lower the quota"
            )
        self.goalm = GoalModel(scenario, self.plan)
        self.env = simpy.Environment()
        self._gens: list[Any] = []

        org = scenario.organisation
        self.M = org.managers
        self.N = org.managers * org.span
        self.N0 = self.N  # the seats at the start; planned hires (hiring.plan) open more
        self.planned_seats = sum(o.reps for o in self.target.hiring.plan)
        self.clock = Clock(float(scenario.simulation.warmup_days), float(scenario.simulation.horizon_days))
        self.W = self.clock.W
        self.H = self.clock.H
        self.T = self.clock.T
        self.Q = self.clock.Q
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
        self.person_u = np.zeros((self.N, people.PERSON_DRAWS))  # the seated person's draws
        self.op_time = np.zeros(self.N)  # operational time consumed (Poisson arrivals)
        self.week_start = 0.0  # the current week's prospecting: its start and intensity per seat
        self.week_lam = np.zeros(self.N)
        self.next_row = np.zeros(self.N, dtype=np.int64)
        self.flag = np.zeros(self.N, dtype=bool)
        self.flag_since = np.full(self.N, np.nan)
        self.est_ratio = np.ones(self.N)
        self.flag_streak = np.zeros(self.N, dtype=np.int64)  # assessments flagged in a row
        # skill by stage: the rep's deviation from their overall skill (a shortfall closes with
        # coaching on that stage), and overall + deviation as the stage's log-odds skill
        self.stage_dev = np.zeros((self.N, self.S))
        self.stage_theta = np.zeros((self.N, self.S))
        self.diag_stage = np.full(self.N, -1, dtype=np.int64)  # the weakest stage, as diagnosed
        self.plan_hours_due = np.zeros(self.N)  # corrective-plan hours the rep owes next week
        self.plans_started = np.zeros(self.M, dtype=np.int64)  # corrective plans, per manager
        self.episode_start = np.full(self.N, np.nan)
        self.episode_seen = np.zeros(self.N, dtype=bool)
        self.week_hours = np.zeros(self.N)
        self.week_effective = np.zeros(self.N)
        self.rate = np.zeros(self.N)
        # --- the rep's week (salessim.model.reptime) and drive (salessim.drivers.comp) ----------
        r = scenario.reps
        self.work_hours = np.array([s.work_hours for s in f.stages])
        self.overload = r.overload_penalty
        self.uncontacted = np.full(self.N, float(scenario.territory.accounts))
        self.new_att = np.ones(self.N)
        self.extra = np.zeros(self.N)
        self.burnout = np.zeros(self.N)
        self.optimism = np.zeros(self.N)
        self.log_habit = np.zeros(self.N)  # each rep's own CRM logging habit (standard normal)
        self.p_make = np.full(self.N, np.nan)
        self.gave_up = np.zeros(self.N, dtype=bool)
        self.behind = np.zeros(self.N, dtype=np.int64)
        self.log_events = np.zeros(self.N)
        self.week_total = np.zeros(self.N)
        self.week_selling = np.zeros(self.N)
        self.week_prospect = np.zeros(self.N)
        self.next_quarter_end = self.W - comp.QUARTER * np.floor(self.W / comp.QUARTER)
        if self.next_quarter_end <= 0:
            self.next_quarter_end += comp.QUARTER
        self.pulled = 0
        self.pushed = 0
        # voluntary leaving: the scale solved so the baseline realises attrition.voluntary_annual
        # and who holds the seats at the start: the reps a running sales force keeps
        if hazard_scale is None:
            if scenario.attrition.voluntary_annual > 0:
                # the settled sales force is the one that holds the starting seats: planned
                # hires are not part of it
                hazard_scale, population = hazard.solve(
                    self.target.replace(**{"hiring.plan": []}) if self.target.hiring.plan else self.target
                )
            else:
                hazard_scale = 0.0
        self.hazard_scale = float(hazard_scale)
        self.population = population
        self.keep_multipliers = False
        self.multipliers: list[np.ndarray] = []
        self.pipe_value: np.ndarray = np.zeros(self.N)
        self.open_count: np.ndarray = np.zeros(self.N)
        self.theta_eff = np.zeros(self.N)
        self.rr_pointer = np.zeros(self.M, dtype=np.int64)
        self.recent_calls = np.zeros(self.N)
        self.won_parts: list[np.ndarray] = []
        self._won_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.year_cache: tuple[Any, ...] | None = None  # salessim.model.outlook.year_so_far
        self.ramp_cache: tuple[Any, np.ndarray] | None = None  # salessim.model.people.ramp

        # --- persons (grown lists → arrays at the end) --------------------------------------
        self.p_seat: list[int] = []
        self.p_manager: list[int] = []
        self.p_hire: list[float] = []
        self.p_z: list[float] = []
        self.p_leave: list[float] = []
        self.p_exit: list[int] = []
        self.p_theta_hire: list[float] = []
        self.p_theta_leave: list[float] = []
        cap = self.N * 3
        P = self.clock.slots  # per-period slots: each year's four quarters and the year
        self.skill_snap = np.full((cap, self.clock.quarters + 1), np.nan)  # at quarter starts, end
        self.coach_hours = np.zeros((cap, P))
        self.calls = np.zeros((cap, P))
        self.flagged = np.zeros((cap, P), dtype=bool)
        self.hours_selling = np.zeros((cap, P))  # hours spent selling (deal work + prospecting)
        self.hours_worked = np.zeros((cap, P))  # hours worked, extra hours included
        self.hours_extra = np.zeros((cap, P))
        self.p_make_sum = np.zeros((cap, P))  # the rep's own chance of making quota, summed weekly
        self.p_make_n = np.zeros((cap, P))

        # --- random streams ----------------------------------------------------------------
        self.people_rng = [stream(seed, replication, "people", k) for k in range(self.N)]
        self.stage_rng = [stream(seed, replication, "stage_skill", k) for k in range(self.N)]
        self.backfill_rng: dict[int, np.random.Generator] = {}  # made when a seat first empties
        # exit draws per seat and per event: month m's voluntary-leave draw of seat k is the m-th
        # of seat k's attrition stream, and its n-th let-go decision takes the n-th of its
        # involuntary stream, so a rep's fate never depends on how many other seats or teams draw
        months = int(self.T / MONTH) + 2
        self.attr_u = np.stack(
            [stream(seed, replication, "attrition", k).random(months) for k in range(self.N)], axis=1
        )  # (months, seats)
        self.invol_rng: dict[int, np.random.Generator] = {}  # made at a seat's first decision
        # managers: coaching quality (and its draws), programme windows, where they came from
        self.manager_z = np.zeros((self.M, 2 + org.span))
        self.q_z = np.zeros(self.M)  # each manager's own coaching-quality draw
        self.manager_rng: dict[int, np.random.Generator] = {}
        self.quality = np.zeros(self.M)
        self.quality_after = np.full(self.M, np.nan)  # quality once a programme ends (NaN: none)
        self.programme = np.full((self.M, 2), np.nan)  # each manager's programme (start, end)
        training.start_quality(self)
        self.culture = np.full(self.M, scenario.culture.initial)  # settled below, with the reps
        # how closely each manager inspects the CRM: where the policy in force settles it
        self.inspection = np.full(self.M, crm.inspection_target(scenario.metrics))
        self.dismissed = np.zeros(self.M)  # peers let go lately, per team (decaying count)
        self.culture_trace: list[np.ndarray] = []  # each team's culture, week by week
        # a run whose culture follows another's (weeks × teams): the direct part of an effect
        self.culture_path = None if culture_path is None else np.asarray(culture_path, dtype=float)
        if self.culture_path is not None and (
            self.culture_path.ndim != 2 or self.culture_path.shape[1] != self.M
        ):
            raise ValueError(
                f"culture_path must be weeks × {self.M} teams, got shape {self.culture_path.shape}"
            )
        self.delivered = np.full(self.M, 0.0)
        self.carry = np.zeros(self.M)
        self.coach_promised = np.zeros(self.clock.slots)  # joint-call hours promised, delivered
        self.coach_delivered = np.zeros(self.clock.slots)
        # what the year's costs are priced from (salessim.costs): managers who start the
        # leadership programme, and reps' hours logging in the CRM, per reported period
        self.trained_started = np.zeros(self.clock.slots)
        self.log_hours = np.zeros(self.clock.slots)
        self.ledgers = managers.start(self)  # each manager's week: a ledger and its process

        # room for 1.5× the deals a rep is expected to prospect over the run
        # planned seats' deal streams are drawn with the others' (each seat's own stream)
        self.draws = SeatDeals(
            seed,
            replication,
            self.N + self.planned_seats,
            self.S,
            self.stage_cv,
            rows_hint=int(1.5 * self.plan.new_per_week * self.T / 7),
        )
        self.book = DealBook(
            self.S, capacity=max(4096, int(self.N * self.plan.new_per_week * self.T / 7 * 1.3))
        )

        # --- outcome records ---------------------------------------------------------------
        self.headcount_sum = np.zeros(P)
        self.headcount_n = np.zeros(P)
        self.coverage = np.full(P, np.nan)
        self.culture_end = np.full(P, np.nan)
        self.forecasts: dict[int, np.ndarray] = {}
        self.detections: list[tuple[float, float]] = []
        self.false_flags = 0
        self.flag_log: list[tuple[float, float]] = []  # (time, 1 if false) of every flag raised
        # (time, 1 if right) of every corrective plan: is the stage it coaches the rep's weakest?
        self.diag_log: list[tuple[float, float]] = []
        self.p_invol = reviews.involuntary_probability(scenario.reviews)

        # prescribed plan and signals that do not change during a run
        p = self.plan
        self.prescribed = prescription.prescribed_rate(p, scenario.prescription)
        self.bench_value = p.pipeline_value
        pr = scenario.prescription
        self.targets = prescription.Targets(
            new_per_day=p.new_per_day,
            prescribed=self.prescribed,
            pipeline_value=self.bench_value,
            feast_or_famine=pr.feast_or_famine,
            corrective_raise=pr.corrective_raise,
        )
        self.ratio_pipeline = float(
            (p.stages["inventory_value"] * p.stage_win_prob).sum() / p.stages["inventory_value"].sum()
        )
        self.value_per_new = p.win_rate * p.avg_won_amount
        # expected in-quarter revenue from deals not yet created, per unit of arrival rate
        grid = np.linspace(0, self.Q, 27)
        self.in_quarter_factor = float(
            np.trapezoid(p.p_close_within(np.zeros(grid.size, dtype=int), self.Q - grid), grid)
        )

        self.start_culture = np.full(self.N, np.nan)  # the culture each settled rep's team had
        for k in range(self.N):
            self._hire(k, start=True)
        if population is not None:  # each team starts where its reps' settled teams stood
            self.culture = np.bincount(
                self.seat_manager, weights=self.start_culture, minlength=self.M
            ) / np.bincount(self.seat_manager, minlength=self.M)
        steady.seed_pipelines(self)
        self.apply_policy(scenario)

    def apply_policy(self, scenario: Scenario) -> None:
        """Put the driver levers of ``scenario`` in force (at construction and after the warm-up).

        Everything policy-dependent is re-derived from the same stored draws
        (:func:`salessim.model.policy.apply`).
        """
        policy.apply(self, scenario)

    # ======================================================================================
    # hooks: each step of the model, overridable one by one (instrumented tests subclass these)
    # ======================================================================================
    def _hire(self, seat: int, start: bool = False) -> None:
        people.hire(self, seat, start)

    def _ramp(self) -> np.ndarray:
        """Share of the ramp completed by each seat's rep (1 = fully productive)."""
        return people.ramp(self)

    def _refresh_theta(self) -> None:
        people.refresh_theta(self)

    def _leave(self, seat: int, kind: int) -> None:
        people.leave(self, seat, kind)

    def _reassign(self, seat: int) -> None:
        people.reassign(self, seat)

    def _advance(self, now: float) -> None:
        """Resolve every stage that has ended by ``now``, each at its own end time."""
        deals.advance(self, now)

    def _seat_state(self) -> None:
        deals.seat_state(self)

    def _closed_revenue(self, t0: float, t1: float) -> np.ndarray:
        return outlook.closed_revenue(self, t0, t1)

    def _plan_week(self, now: float) -> None:
        """This week's drive, period-end timing and hours: sets each seat's prospecting rate."""
        comp.motivation_step(self, now)
        comp.period_end(self, now)
        reptime.allocate(self, now)

    def _book(self, *records: tuple[np.ndarray, np.ndarray]) -> None:
        """Add per-seat values to persons × periods records for this week's period.

        ``records``: ``(record, values)`` pairs, each record added its seat's values.
        """
        q = self.clock.period(self.env.now)
        if q < 0:
            return
        pid = self.seat_person
        has = pid >= 0
        who = pid[has]  # each seated person once: a plain indexed add
        slots = self.clock.slot_of(q)
        for arr, values in records:
            v = values[has]
            for k in slots:
                arr[who, k] += v

    def book_hours(self, selling: np.ndarray, worked: np.ndarray, extra: np.ndarray) -> None:
        """Record the week's selling, worked and extra hours of every seated rep."""
        self._book((self.hours_selling, selling), (self.hours_worked, worked), (self.hours_extra, extra))

    def book_motivation(self, p_make: np.ndarray) -> None:
        """Record each seated rep's own chance of making quota this week."""
        ok = np.isfinite(p_make)
        self._book((self.p_make_sum, np.where(ok, p_make, 0.0)), (self.p_make_n, ok.astype(float)))

    def _spawn(self, gen: Any) -> None:
        """Start a SimPy process, remembering its generator so a finished run can close it."""
        self._gens.append(gen)
        self.env.process(gen)

    # ======================================================================================
    # processes
    # ======================================================================================
    def _week(self) -> Iterator[Any]:
        """Process: the weekly rhythm of resolving deals, coaching, culture, outlook and prospecting."""
        while self.env.now <= self.T:
            now = self.env.now
            self._refresh_theta()
            self._advance(now)
            self._seat_state()
            coaching.coach_week(self, now)
            culture.culture_step(self)
            crm.inspect_week(self)
            outlook.outlook(self, now)
            if now >= self.next_quarter_end - 1e-9:
                comp.quarter_close(self, self.next_quarter_end - comp.QUARTER, self.next_quarter_end)
                self.next_quarter_end += comp.QUARTER
            self._plan_week(now)
            q = self.clock.period(now)
            if q >= 0:
                n_active = float(self.active.sum())
                for k in self.clock.slot_of(q):
                    self.headcount_sum[k] += n_active
                    self.headcount_n[k] += 1
            deals.create(self, now)
            yield self.env.timeout(WEEK)

    def _quarters(self) -> Iterator[Any]:
        """Process: at each quarter's start, snapshots, pipeline coverage and the team forecasts."""
        clock = self.clock
        for q in range(clock.quarters + 1):
            t = self.W + q * self.Q
            yield self.env.timeout(t - self.env.now)
            self._refresh_theta()
            self._advance(t)
            act = self.seat_person >= 0
            self.skill_snap[self.seat_person[act], q] = self.theta_eff[act]
            if q > 0:
                ended, year = clock.slot_of(q - 1)
                self.culture_end[ended] = float(self.culture.mean())
                if q % 4 == 0:  # a year ends: its culture, and its quarters' mean coverage
                    self.culture_end[year] = float(self.culture.mean())
                    self.coverage[year] = float(self.coverage[year - 4 : year].mean())
            if q == clock.quarters:
                return
            # pipeline coverage, as the plan defines it: the open pipeline's value at the quarter's
            # start ÷ the quarter's quota (a fourth of the annual quota) of the reps who hold it —
            # the seated reps (a vacant seat's deals were reassigned). Deals the week's prospecting
            # has already booked for later days do not exist yet and are left out.
            quota_q = outlook.prorated_quota(self, t, t + self.Q)[self.active].sum() * 365.0 / self.Q / 4
            o = self.book.open_idx
            open_value = self.book.amount[o][self.book.created[o] <= t].sum()
            self.coverage[clock.slot_of(q)[0]] = open_value / max(quota_q, 1.0)
            self.forecasts[q] = outlook.forecast(self, t)

    # ======================================================================================
    def run(self) -> ReplicationRecord:
        """Run warm-up and horizon; return the flat record of what happened."""
        env = self.env
        if self.warmup_sc is not None:  # first, so that at the switch it acts before anything else
            self._spawn(policy.switch(self, self.target))
        for gen in (
            self._week(),
            policy.review_calendar(self),
            self._quarters(),
            people.attrition(self),
            policy.forecast_calls(self, (self.sc, self.target)),
        ):
            self._spawn(gen)
        if self.target.hiring.plan:  # planned new seats (none: the same run as before)
            self._spawn(people.openings(self))
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
        self.ledgers.close()
        return record(self, events)
