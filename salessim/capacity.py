"""Headcount planning and quota setting: how many reps to hire, when, and where quota sits.

**Capacity** (:func:`capacity`, ``salessim capacity``): the hires per quarter that make the final
reported year's revenue reach a target with a given probability, given recruiting time, ramp,
attrition and backfill — found by simulation, not by a spreadsheet's one deterministic number.

A candidate plan is one number *x* ≥ 0 of hires. Its whole part *n* opens seats as early as the
recruiting pace allows (``per_quarter`` seats at the start of each quarter, from the first); its
fractional part places one more seat, the marginal hire, between the quarter where it would go
(*x* = *n* + 1) and the horizon's last day (*x* → *n*, where it adds nothing). Each new seat is
recruited like a backfill and its rep ramps (:mod:`salessim.model.people`). The chance of
reaching the target rises with *x*, so the search is a bisection: over whole hires first (the
fewest that reach the confidence), then over the marginal hire's timing, so the plan's
probability can land near the confidence asked for rather than jump past it. Every candidate is
simulated on the same replications (common random numbers: the same people, deals and luck),
so candidates differ only by their hires. The plan found is then simulated on *fresh* seeds,
and that independent run gives the probability reported, with its Wilson interval.

**Quota** (:func:`quota_for_share`, ``salessim quota``): the annual quota at which a given share
of the reps who are in seat and past ramp all year make it (``pct_at_quota`` of the final year),
found by bisection on the logarithm of quota under common random numbers; with the revenue and
attrition that quota brings.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salessim.scenario import MAX_SEATS, Scenario, ScenarioError, load_scenario, safe_repr

if TYPE_CHECKING:
    from salessim.funnel import Plan

__all__ = [
    "CapacityPlan",
    "HiringStudy",
    "QuotaResult",
    "add_parsers",
    "capacity",
    "final_year_revenue",
    "hiring_findings",
    "hiring_study",
    "openings_for",
    "quota_curve",
    "quota_findings",
    "quota_for_share",
    "quota_study",
    "schedule_text",
]

#: Longest plan: the model's longest reported horizon.
MAX_YEARS = 5
#: Quantiles of final-year revenue printed and written.
QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
#: Halvings of the marginal hire's timing window (its opening day to within 1/32 of it).
TIMING_STEPS = 5
#: Largest annual revenue target accepted (a larger one is a typo).
MAX_TARGET = 1e13


# ==========================================================================================
# plans
# ==========================================================================================
def quarter_days(years: int) -> list[int]:
    """Day of the reported horizon on which each of its ``4 · years`` quarters starts."""
    return [round(q * 365.0 / 4.0) for q in range(4 * years)]


def openings_for(x: float, years: int, per_quarter: int) -> list[tuple[int, int]]:
    """The plan of ``x`` hires as ``(day, seats)`` openings (see module).

    ``floor(x)`` seats open as early as the pace of ``per_quarter`` a quarter allows; a fractional
    part places the marginal seat between its quarter's start (fraction 1) and the horizon's last
    day (fraction → 0).
    """
    days = quarter_days(years)
    horizon = 365 * years
    n = math.floor(x + 1e-12)
    frac = x - n
    out: list[tuple[int, int]] = []
    left = n
    for d in days:
        if left <= 0:
            break
        k = min(per_quarter, left)
        out.append((d, k))
        left -= k
    if frac > 1e-9:
        q = n // per_quarter
        start = days[q] if q < len(days) else horizon - 1
        day = start + round((1.0 - frac) * (horizon - 1 - start))
        if out and out[-1][0] == day:
            out[-1] = (day, out[-1][1] + 1)
        else:
            out.append((day, 1))
    return out


def _with_plan(sc: Scenario, openings: Sequence[tuple[int, int]], name: str | None = None) -> Scenario:
    changes: dict[str, Any] = {"hiring.plan": [{"day": d, "reps": k} for d, k in openings]}
    if name is not None:
        changes["name"] = name
    return sc.replace(**changes)


# ==========================================================================================
# running
# ==========================================================================================
def final_year_revenue(
    sc: Scenario,
    seed: int,
    replications: int,
    funnel_plan: Plan | None = None,
    progress: Callable[[], None] | None = None,
) -> np.ndarray:
    """Revenue of the final reported year in each replication (``periods.revenue`` of its year row).

    Replication ``r`` is the same sales force as replication ``r`` of ``salessim simulate`` with
    the same seed (common random numbers); only the revenue is gathered, no tables are built.
    """
    from salessim.funnel import plan
    from salessim.model import SalesForce
    from salessim.model.clock import Clock
    from salessim.model.deals import WON

    fp = funnel_plan if funnel_plan is not None else plan(sc)
    out = np.empty(replications)
    for r in range(replications):
        rec = SalesForce(sc, seed, r, fp).run()
        clock = Clock(rec.warmup, rec.horizon)
        t1 = clock.W + clock.H
        t0 = t1 - clock.year_days
        b = rec.book
        n = b.n
        closed = b.closed[:n]
        won = (b.status[:n] == WON) & (closed >= t0) & (closed < t1)
        out[r] = float(b.amount[:n][won].sum())
        if progress is not None:
            progress()
    return out


def _revenues(executor: Any, sc: Scenario, seed: int, replications: int, funnel_plan: Plan) -> np.ndarray:
    """Final-year revenue of each replication: in this process, or on ``executor``'s workers."""
    if executor is None or executor.workers <= 1:
        return final_year_revenue(sc, seed, replications, funnel_plan)
    from salessim.executors import batches_for

    years = max(1, round(sc.simulation.horizon_days / 365))
    out = np.full(replications, np.nan)
    batches = batches_for([sc.to_dict()], [range(replications)], seed, False, executor.workers)
    for _, (_, periods, _) in executor.map(batches):
        y = periods[(periods["period"] == "year") & (periods["year"] == years)]
        out[y["replication"].to_numpy(dtype=int)] = y["revenue"].to_numpy(dtype=float)
    return out


def _periods(
    executor: Any, sc: Scenario, seed: int, replications: int, warmup: Scenario | None = None
) -> pd.DataFrame:
    """The ``periods`` of replications 0 … R − 1 of ``sc``, in replication order.

    Run in this process, or on ``executor``'s workers: the same numbers either way.
    """
    from salessim.simulate import simulate

    if executor is None or executor.workers <= 1:
        return simulate(sc, replications=replications, seed=seed, warmup=warmup).periods
    from salessim.executors import batches_for

    parts = sorted(
        (
            (b.key, res[1])
            for b, res in executor.map(
                batches_for(
                    [sc.to_dict()],
                    [range(replications)],
                    seed,
                    False,
                    executor.workers,
                    warmup=warmup.to_dict() if warmup is not None else None,
                )
            )
        ),
        key=lambda kv: kv[0],
    )
    return pd.concat([p for _, p in parts], ignore_index=True)


@dataclass
class CapacityPlan:
    """What :func:`capacity` found: the plan, its probability on fresh seeds, and how it was found."""

    scenario: Scenario  # the scenario as planned (horizon set to ``years``), without the plan
    target: float
    confidence: float
    years: int
    per_quarter: int
    max_hires: int
    replications: int  # per candidate plan, on the search's seeds
    seed: int
    fresh_seed: int
    fresh_replications: int  # of the fresh check
    status: str  # "reached", "no_hires_needed" or "unreachable"
    hires: float  # the search's x (whole hires + the marginal hire's timing)
    openings: list[tuple[int, int]]  # (day, seats) of the plan
    search_probability: float  # on the search's replications
    probability: float  # on fresh seeds
    probability_ci: tuple[float, float]
    revenue: np.ndarray  # final-year revenue of each fresh replication
    no_hire_probability: float  # the target's chance with no planned hire (search replications)
    no_hire_revenue: np.ndarray
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    periods: pd.DataFrame | None = None  # the fresh runs' periods
    runtime: float = 0.0
    #: final-year revenue of each replication of every candidate tried, by its ``hires_x``
    candidate_revenue: dict[float, np.ndarray] = field(default_factory=dict)

    @property
    def total_hires(self) -> int:
        """Seats the plan opens."""
        return sum(k for _, k in self.openings)

    def quantiles(self, revenue: np.ndarray | None = None) -> dict[str, float]:
        """Quantiles of final-year revenue (default: the fresh runs')."""
        r = self.revenue if revenue is None else revenue
        return {f"p{round(100 * q):02d}": float(np.quantile(r, q)) for q in QUANTILES}

    def plan_table(self) -> pd.DataFrame:
        """One row per reported quarter: hires opened, seats at its start and end, people in seat.

        ``first_day``: the quarter's first day of the reported horizon; ``opening_days``: the days
        its new seats open (recruiting starts then). ``seats_*`` count the starting seats plus the
        planned seats opened by then; ``headcount`` is the mean number of reps in seat in the
        fresh runs (vacancies and recruiting show here); ``revenue`` their mean revenue in the
        quarter.
        """
        days = quarter_days(self.years)
        n0 = self.scenario.n_reps
        rows = []
        opened = 0
        for q, d0 in enumerate(days):
            d1 = days[q + 1] if q + 1 < len(days) else 365 * self.years
            hires = sum(k for d, k in self.openings if d0 <= d < d1)
            row: dict[str, Any] = {
                "year": q // 4 + 1,
                "quarter": f"Q{q % 4 + 1}",
                "first_day": d0,
                "hires": hires,
                "opening_days": " ".join(str(d) for d, _ in self.openings if d0 <= d < d1),
                "seats_start": n0 + opened,
            }
            opened += hires
            row["seats_end"] = n0 + opened
            if self.periods is not None:
                p = self.periods[
                    (self.periods["year"] == q // 4 + 1) & (self.periods["period"] == f"Q{q % 4 + 1}")
                ]
                row["headcount"] = float(p["headcount"].mean())
                row["revenue"] = float(p["revenue"].mean())
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` holds."""
        return {
            "scenario": self.scenario.name,
            "scenario_hash": self.scenario.hash,
            "status": self.status,
            "target": self.target,
            "confidence": self.confidence,
            "years": self.years,
            "per_quarter": self.per_quarter,
            "max_hires": self.max_hires,
            "replications": self.replications,
            "seed": self.seed,
            "fresh_replications": self.fresh_replications,
            "fresh_seed": self.fresh_seed,
            "seats_start": self.scenario.n_reps,
            "total_hires": self.total_hires,
            "hires_x": round(self.hires, 6),
            "hiring_plan": [{"day": d, "reps": k} for d, k in self.openings],
            "probability": self.probability,
            "probability_ci95": list(self.probability_ci),
            "search_probability": self.search_probability,
            "no_hire_probability": self.no_hire_probability,
            "final_year_revenue": {"mean": float(np.mean(self.revenue)), **self.quantiles()},
            "final_year_revenue_no_hires": {
                "mean": float(np.mean(self.no_hire_revenue)),
                **self.quantiles(self.no_hire_revenue),
            },
            "evaluations": self.evaluations,
            "runtime_seconds": round(self.runtime, 3),
        }


def _fresh_seed(seed: int) -> int:
    from salessim.executors import MAX_SEED

    return seed + 1 if seed < MAX_SEED else seed - 1


def capacity(
    scenario: Any,
    target: float,
    confidence: float = 0.8,
    years: int | None = 2,
    replications: int = 200,
    seed: int = 1,
    per_quarter: int | None = None,
    max_hires: int | None = None,
    fresh_replications: int | None = None,
    timing_steps: int = TIMING_STEPS,
    workers: int | None = 1,
    progress: Callable[[str], None] | None = None,
    no_hire_revenue: np.ndarray | None = None,
) -> CapacityPlan:
    """The hires per quarter that reach ``target`` final-year revenue with ``confidence``.

    Args:
        scenario: a Scenario, file, library name or mapping (any ``hiring`` plan of its own is
            replaced by the plan searched for).
        target: annual revenue of the final reported year to reach.
        confidence: the chance of reaching it, in (0, 1).
        years: reported years (the final one is the target year; hires may open in every
            quarter); None: the scenario's own horizon.
        replications: replications per candidate plan, and of the fresh check.
        seed: root seed of the search; the fresh check runs ``seed + 1``.
        per_quarter: most seats opened a quarter (recruiting pace); default one per manager.
        max_hires: most hires considered (default: as many as the starting seats, within the
            pace); a target out of reach within it gives ``status == "unreachable"``.
        fresh_replications: replications of the fresh check (default ``replications``).
        timing_steps: halvings of the marginal hire's timing window (0: whole hires only).
        workers: local worker processes (1: this process; None: all cores); the numbers are
            the same whatever runs them.
        progress: called with a line of text after each candidate.
        no_hire_revenue: the final-year revenue of the search's replications with no planned
            hire, if the caller has simulated it already (:func:`final_year_revenue` of the
            scenario as planned, with ``seed`` and ``replications``): it is not run again.

    Raises:
        ScenarioError: bad input, naming the argument and its value.
    """
    from salessim.executors import check_replications, check_seed
    from salessim.funnel import plan

    t_start = time.perf_counter()
    sc = load_scenario(scenario)
    if (
        isinstance(target, bool)
        or not isinstance(target, int | float)
        or not (math.isfinite(target) and 0 < target <= MAX_TARGET)
    ):
        raise ScenarioError(
            f"--target {safe_repr(target)}: the final year's revenue to reach "
            f"must be a number above 0 and at most {MAX_TARGET:.0e}"
        )
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not (0.0 < confidence < 1.0)
    ):
        raise ScenarioError(
            f"--confidence {safe_repr(confidence)}: must be a probability strictly between 0 and 1 (e.g. 0.8)"
        )
    if years is not None:
        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
            raise ScenarioError(
                f"--years {safe_repr(years)}: must be a whole number of years from 1 to {MAX_YEARS}"
            )
        sc = sc.replace(**{"simulation.horizon_days": 365 * years})
    else:
        years = max(1, round(sc.simulation.horizon_days / 365))
    replications = check_replications(replications)
    seed = check_seed(seed)
    fresh_n = check_replications(fresh_replications if fresh_replications is not None else replications)
    if sc.hiring.plan:
        sc = sc.replace(**{"hiring.plan": []})
    quarters = 4 * years
    if per_quarter is None:
        per_quarter = sc.organisation.managers
    if isinstance(per_quarter, bool) or not isinstance(per_quarter, int) or per_quarter < 1:
        raise ScenarioError(
            f"--per-quarter {safe_repr(per_quarter)}: must be a whole number of seats of at least 1"
        )
    room = MAX_SEATS - sc.n_reps
    cap = min(per_quarter * quarters, room)
    if max_hires is None:
        max_hires = min(sc.n_reps, cap)
    if isinstance(max_hires, bool) or not isinstance(max_hires, int) or not 1 <= max_hires <= cap:
        raise ScenarioError(
            f"--max-hires {safe_repr(max_hires)}: must be a whole number from 1 "
            f"to {cap:,} ({per_quarter} a quarter over {quarters} quarters, "
            f"within {MAX_SEATS:,} seats)"
        )
    if sc.simulation.horizon_days < 365:
        raise ScenarioError(
            f"simulation.horizon_days {sc.simulation.horizon_days}: capacity "
            "plans a whole final year; give --years"
        )

    known: dict[float, np.ndarray] = {}
    if no_hire_revenue is not None:
        known[0.0] = np.asarray(no_hire_revenue, dtype=float)
        if known[0.0].shape != (replications,):
            raise ScenarioError(f"no_hire_revenue: {known[0.0].size} values for {replications} replications")
    fp = plan(sc)
    executor = None
    if workers != 1:
        from salessim.executors import make_executor
        from salessim.model import hazard

        if sc.attrition.voluntary_annual > 0:  # solved once here; forked workers inherit it
            hazard.solve(sc)
        executor = make_executor(workers)
    try:
        return _search(
            sc,
            float(target),
            float(confidence),
            years,
            replications,
            seed,
            fresh_n,
            per_quarter,
            max_hires,
            timing_steps,
            fp,
            executor,
            progress,
            t_start,
            known,
        )
    finally:
        if executor is not None:
            executor.close()


def _search(
    sc: Scenario,
    target: float,
    confidence: float,
    years: int,
    replications: int,
    seed: int,
    fresh_n: int,
    per_quarter: int,
    max_hires: int,
    timing_steps: int,
    fp: Plan,
    executor: Any,
    progress: Callable[[str], None] | None,
    t_start: float,
    known: dict[float, np.ndarray] | None = None,
) -> CapacityPlan:
    """The search of :func:`capacity` (see module), on validated input."""
    from salessim.stats import wilson

    seen: dict[float, tuple[float, np.ndarray]] = {}
    evaluations: list[dict[str, Any]] = []
    q_low = 1.0 - confidence

    def evaluate(x: float) -> tuple[float, np.ndarray]:
        x = round(x, 9)
        if x not in seen:
            ops = openings_for(x, years, per_quarter)
            cand = _with_plan(sc, ops) if ops else sc
            rev = (known or {}).get(x)
            if rev is None:
                rev = _revenues(executor, cand, seed, replications, fp)
            p = float(np.mean(rev >= target))
            seen[x] = (p, rev)
            evaluations.append(
                {
                    "hires_x": x,
                    "hires": sum(k for _, k in ops),
                    "probability": p,
                    "revenue_mean": float(rev.mean()),
                }
            )
            if progress is not None:
                progress(
                    f"  {x:7.3f} hires: P(final-year revenue ≥ target) = {p:.3f} "
                    f"on {replications} replications"
                )
        return seen[x]

    def gap(x: float) -> float:  # the revenue the (1 − confidence) quantile lacks or exceeds
        return float(np.quantile(evaluate(x)[1], q_low)) - target

    p0, rev0 = evaluate(0.0)
    status = "reached"
    if p0 >= confidence:
        x = 0.0
        status = "no_hires_needed"
    else:
        p_max, _ = evaluate(float(max_hires))
        if p_max < confidence:
            x = float(max_hires)
            status = "unreachable"
        else:
            lo, hi = 0, max_hires
            secant = True
            while hi - lo > 1:
                g_lo, g_hi = gap(lo), gap(hi)
                if secant and g_hi > g_lo:  # where the quantile's straight line meets the target
                    guess = lo + (-g_lo) / (g_hi - g_lo) * (hi - lo)
                    mid = min(max(round(guess), lo + 1), hi - 1)
                else:
                    mid = (lo + hi) // 2
                secant = not secant
                if evaluate(float(mid))[0] >= confidence:
                    hi = mid
                else:
                    lo = mid
            a, b = float(lo), float(hi)  # P(a) < confidence ≤ P(b): the marginal hire's timing
            for _ in range(timing_steps):
                m = (a + b) / 2
                if evaluate(m)[0] >= confidence:
                    b = m
                else:
                    a = m
            x = b
    openings = openings_for(x, years, per_quarter) if status != "no_hires_needed" else []
    search_p = seen[round(x, 9)][0]

    def plan(**outcome: Any) -> CapacityPlan:
        """The plan found, with what every outcome shares: the search, its seeds, the no-hire base."""
        return CapacityPlan(
            scenario=sc,
            target=float(target),
            confidence=float(confidence),
            years=years,
            per_quarter=per_quarter,
            max_hires=max_hires,
            replications=replications,
            seed=seed,
            status=status,
            hires=x,
            openings=openings,
            search_probability=search_p,
            no_hire_probability=p0,
            no_hire_revenue=rev0,
            evaluations=evaluations,
            runtime=time.perf_counter() - t_start,
            candidate_revenue={h: r for h, (_, r) in seen.items()},
            **outcome,
        )

    if status == "unreachable":
        return plan(
            fresh_seed=_fresh_seed(seed),
            fresh_replications=0,
            probability=search_p,
            probability_ci=wilson(search_p * replications, replications),
            revenue=seen[round(x, 9)][1],
        )
    # the plan found, on fresh seeds: an independent measure of its probability
    final = (
        _with_plan(sc, openings, name=f"{sc.name} + {sum(k for _, k in openings)} hires") if openings else sc
    )
    fresh = _fresh_seed(seed)
    periods = _periods(executor, final, fresh, fresh_n)
    yr = periods[(periods["period"] == "year") & (periods["year"] == years)]
    revenue = yr.sort_values("replication")["revenue"].to_numpy(dtype=float)
    k = int(np.sum(revenue >= target))
    return plan(
        fresh_seed=fresh,
        fresh_replications=fresh_n,
        probability=k / fresh_n,
        probability_ci=wilson(k, fresh_n),
        revenue=revenue,
        periods=periods,
    )


# ==========================================================================================
# quota
# ==========================================================================================
@dataclass
class QuotaResult:
    """What :func:`quota_for_share` found: the quota, and what it does."""

    scenario: Scenario
    share: float
    quota: float
    replications: int
    seed: int
    points: pd.DataFrame  # every quota tried: share at quota, revenue, turnover (means and CIs)
    current: dict[str, Any]  # the scenario's own quota's row
    found: dict[str, Any]  # the row of the quota found
    runtime: float = 0.0
    #: the final year's row of every replication at every quota tried (``quota`` column added):
    #: the quotas run the same replications, so they pair row by row
    years: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` holds."""
        return {
            "scenario": self.scenario.name,
            "scenario_hash": self.scenario.hash,
            "share": self.share,
            "quota": self.quota,
            "replications": self.replications,
            "seed": self.seed,
            "at_quota_found": self.found,
            "at_current_quota": self.current,
            "runtime_seconds": round(self.runtime, 3),
        }


#: Year-row metrics of a quota point: share at quota, revenue and attrition.
QUOTA_METRICS = ("pct_at_quota", "revenue", "turnover", "voluntary_turnover", "attainment_p50")
#: Quota bisection steps on its logarithm (after bracketing).
QUOTA_STEPS = 7
MAX_QUOTA_STEPS_OUT = 12


def quota_for_share(
    scenario: Any,
    share: float = 0.6,
    replications: int = 16,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
    grid: Sequence[float] = (),
    steps: int = QUOTA_STEPS,
    workers: int | None = 1,
    warmup: Any = None,
) -> QuotaResult:
    """The annual quota at which ``share`` of the reps make it, with its revenue and attrition.

    The share is ``pct_at_quota`` of the final reported year — reps in seat and past ramp all
    year, against their quota. It falls as quota rises (a mechanism of the model, not an input),
    so the quota is bracketed by steps of ×1.5 from the scenario's own and then bisected on its
    logarithm; every quota runs the same replications (common random numbers).

    Args:
        grid: further quotas to run first (a sweep); the bracket then starts from the closest
            two of all the quotas run, so fewer ``steps`` give the same precision.
        steps: bisections of the bracket on the logarithm of quota.
        workers: local worker processes (1: this process; None: all cores); the same numbers.
        warmup: in ``simulation.mode: transition``, the scenario whose way of working the
            warm-up runs under (default the library baseline, as ``salessim simulate``).

    Raises:
        ScenarioError: bad input, naming the argument and its value.
    """
    from salessim.executors import check_replications, check_seed
    from salessim.scenario import MAX_AMOUNT
    from salessim.stats import mean_ci

    t_start = time.perf_counter()
    sc = load_scenario(scenario)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 < share < 1.0:
        raise ScenarioError(
            f"--share {safe_repr(share)}: must be a share strictly between 0 and 1 (e.g. 0.6)"
        )
    replications = check_replications(replications)
    seed = check_seed(seed)
    grid = [float(q) for q in grid]
    for q in grid:
        if not (math.isfinite(q) and 1.0 <= q <= MAX_AMOUNT):
            raise ScenarioError(
                f"quota grid {safe_repr(q)}: each quota must be a number from 1 to {MAX_AMOUNT:,.0f}"
            )
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= 30:
        raise ScenarioError(f"steps {safe_repr(steps)}: must be a whole number from 0 to 30")
    warm = load_scenario(warmup) if warmup is not None else None
    years = max(1, round(sc.simulation.horizon_days / 365))
    rows: dict[float, dict[str, Any]] = {}
    per_rep: list[pd.DataFrame] = []
    executor = None
    if workers != 1:
        from salessim.executors import make_executor
        from salessim.model import hazard

        if sc.attrition.voluntary_annual > 0:  # solved once here; forked workers inherit it
            hazard.solve(sc)
        executor = make_executor(workers)

    def evaluate(q: float) -> dict[str, Any]:
        q = float(round(q, 2))
        if q not in rows:
            p = _periods(executor, sc.replace(**{"organisation.quota": q}), seed, replications, warm)
            y = p[(p["period"] == "year") & (p["year"] == years)]
            per_rep.append(y.assign(quota=q))
            row: dict[str, Any] = {"quota": q}
            for m in QUOTA_METRICS:
                ci = mean_ci(y[m].to_numpy(dtype=float))
                row[m] = ci.mean
                row[f"{m}_lo"], row[f"{m}_hi"] = ci.low, ci.high
            rows[q] = row
            if progress is not None:
                progress(f"  quota {q:,.0f}: share at quota {row['pct_at_quota']:.3f}")
        return rows[q]

    def up(start: float) -> tuple[float, float]:  # too easy: raise quota until too few make it
        lo = hi = start
        for _ in range(MAX_QUOTA_STEPS_OUT):
            hi = min(hi * 1.5, MAX_AMOUNT)
            if evaluate(hi)["pct_at_quota"] < share or hi >= MAX_AMOUNT:
                break
            lo = hi
        return lo, hi

    def down(start: float) -> tuple[float, float]:  # too hard: lower it until enough make it
        lo = hi = start
        for _ in range(MAX_QUOTA_STEPS_OUT):
            lo = lo / 1.5
            if evaluate(lo)["pct_at_quota"] >= share or lo < 1.0:
                break
            hi = lo
        return lo, hi

    try:
        q0 = float(sc.organisation.quota)
        current = evaluate(q0)
        for q in grid:
            evaluate(q)
        # the highest quota tried that enough reps make, and the next higher one they do not
        made = [q for q, r in rows.items() if r["pct_at_quota"] >= share]
        lo_q = max(made) if made else None
        missed = [q for q, r in rows.items() if r["pct_at_quota"] < share and (lo_q is None or q > lo_q)]
        if lo_q is None:
            lo, hi = down(min(rows) if grid else q0)
        elif not missed:
            lo, hi = up(lo_q if grid else q0)
        else:
            lo, hi = lo_q, min(missed)
        for _ in range(steps):
            mid = math.sqrt(lo * hi)
            if evaluate(mid)["pct_at_quota"] >= share:
                lo = mid
            else:
                hi = mid
    finally:
        if executor is not None:
            executor.close()
    # the tried quota whose share is nearest the one asked for (ties: the lower quota)
    points = pd.DataFrame(sorted(rows.values(), key=lambda r: r["quota"]))
    best = points.iloc[int(np.argmin(np.abs(points["pct_at_quota"].to_numpy() - share)))]
    return QuotaResult(
        scenario=sc,
        share=float(share),
        quota=float(best["quota"]),
        replications=replications,
        seed=seed,
        points=points,
        current=dict(current),
        found={k: float(v) for k, v in best.items()},
        runtime=time.perf_counter() - t_start,
        years=pd.concat(per_rep, ignore_index=True),
    )


# ==========================================================================================
# the capacity_quota report: the hiring plan for a growth target, and where quota sits
# ==========================================================================================
#: Quantiles of the revenue fans: the bands drawn (10–90 and 25–75) and the median.
FAN = (0.1, 0.25, 0.5, 0.75, 0.9)
#: Quotas of the report's sweep, as multiples of the scenario's own.
QUOTA_MULTIPLES = (0.7, 0.85, 1.0, 1.15, 1.3)


def _executor(sc: Scenario, workers: int | None) -> Any:
    """A local executor for ``workers`` (None when serial), the leaving hazard solved first."""
    if workers == 1:
        return None
    from salessim.executors import make_executor
    from salessim.model import hazard

    if sc.attrition.voluntary_annual > 0:  # solved once here; forked workers inherit it
        hazard.solve(sc)
    return make_executor(workers)


def _q(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if x.size else math.nan


def _paired(a: np.ndarray, b: np.ndarray, relative: bool) -> tuple[float, float, float, int]:
    """Mean of b − a (or b / a − 1) over paired replications, with its 95 % Student-t CI."""
    from salessim.stats import mean_ci

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b) & ((a != 0) if relative else True)
    d = b[ok] / a[ok] - 1.0 if relative else b[ok] - a[ok]
    ci = mean_ci(d)
    return ci.mean, ci.low, ci.high, int(ci.n)


@dataclass
class HiringStudy:
    """A hiring plan for revenue growth (:func:`hiring_study`), and the runs that show it."""

    plan: CapacityPlan  # the search and its plan (or, out of reach, the most hires considered)
    growth: float  # the target as growth over today's final-year revenue
    today_revenue: float  # mean final-year revenue with no planned hire (search replications)
    today: pd.DataFrame  # periods of the sales force with no planned hire, on the fresh seeds
    plan_periods: pd.DataFrame  # periods of the plan on the fresh seeds
    probability: float  # the plan's chance of reaching the target on the fresh seeds
    probability_ci: tuple[float, float]
    runtime: float = 0.0

    @property
    def target(self) -> float:
        """The final year's revenue to reach."""
        return self.plan.target

    @property
    def reached(self) -> bool:
        """The search found a plan within the hires allowed (or none was needed)."""
        return self.plan.status != "unreachable"

    def _final(self, periods: pd.DataFrame, column: str = "revenue") -> np.ndarray:
        y = periods[(periods["period"] == "year") & (periods["year"] == self.plan.years)]
        return y.sort_values("replication")[column].to_numpy(dtype=float)

    def headcount_table(self) -> pd.DataFrame:
        """One row per reported quarter: the hires the plan opens, the seats, and people in seat.

        ``hires``: seats opened in the quarter; ``seats``: starting seats plus the planned seats
        opened by its end; ``headcount_*``: reps in seat in the quarter (vacancies, recruiting and
        leavers show here), mean and 10th/90th percentiles over the fresh replications, with the
        plan and with no planned hire; ``revenue_*``: the quarter's mean revenue in each.
        """
        days = quarter_days(self.plan.years)
        n0 = self.plan.scenario.n_reps
        rows, opened = [], 0
        for q, d0 in enumerate(days):
            d1 = days[q + 1] if q + 1 < len(days) else 365 * self.plan.years
            hires = sum(k for d, k in self.plan.openings if d0 <= d < d1)
            opened += hires
            year, quarter = q // 4 + 1, q % 4 + 1

            def sel(p: pd.DataFrame, year: int = year, quarter: int = quarter) -> pd.DataFrame:
                return p[(p["year"] == year) & (p["period"] == f"Q{quarter}")]

            hp, h0 = sel(self.plan_periods), sel(self.today)
            hc = hp["headcount"].to_numpy(dtype=float)
            rows.append(
                {
                    "year": year,
                    "quarter": quarter,
                    "first_day": d0,
                    "hires": hires,
                    "seats": n0 + opened,
                    "headcount_plan": float(hc.mean()),
                    "headcount_plan_p10": _q(hc, 0.1),
                    "headcount_plan_p90": _q(hc, 0.9),
                    "headcount_no_hires": float(h0["headcount"].mean()),
                    "revenue_plan": float(hp["revenue"].mean()),
                    "revenue_no_hires": float(h0["revenue"].mean()),
                }
            )
        return pd.DataFrame(rows)

    def revenue_fan(self) -> pd.DataFrame:
        """Quantiles of revenue per quarter and for the final year, with the plan and without.

        One row per ``arm`` (``plan`` or ``no_hires``) and period (``year``, ``quarter`` 1–4, or
        ``quarter`` 0 for the whole final year): ``mean`` and ``p10`` … ``p90`` over the fresh
        replications, and ``reach`` (the share of them at or above the target: final year only).
        """
        rows = []
        for arm, p in (("plan", self.plan_periods), ("no_hires", self.today)):
            for year in range(1, self.plan.years + 1):
                for quarter in range(5):
                    period = f"Q{quarter}" if quarter else "year"
                    if quarter == 0 and year != self.plan.years:
                        continue
                    v = p[(p["year"] == year) & (p["period"] == period)]["revenue"].to_numpy(dtype=float)
                    row: dict[str, Any] = {
                        "arm": arm,
                        "year": year,
                        "quarter": quarter,
                        "mean": float(v.mean()),
                    }
                    row.update({f"p{round(100 * q):02d}": _q(v, q) for q in FAN})
                    row["reach"] = float(np.mean(v >= self.target)) if quarter == 0 else math.nan
                    rows.append(row)
        return pd.DataFrame(rows)

    def probability_by_hires(self) -> pd.DataFrame:
        """Every plan the search tried: hires, the chance of reaching the target, its 95 % CI.

        ``hires_x`` is the search's number (a fraction: the last hire opened later in the
        year); ``hires`` the seats it opens; ``probability`` on the search's replications, with
        its Wilson interval; ``revenue_mean`` and ``revenue_p10`` the final year's; ``plan``
        marks the plan chosen.
        """
        from salessim.stats import wilson

        n = self.plan.replications
        rows = []
        for e in sorted(self.plan.evaluations, key=lambda e: e["hires_x"]):
            rev = self.plan.candidate_revenue.get(e["hires_x"], np.array([]))
            lo, hi = wilson(e["probability"] * n, n)
            rows.append(
                {
                    "hires_x": e["hires_x"],
                    "hires": e["hires"],
                    "whole": bool(abs(e["hires_x"] - round(e["hires_x"])) < 1e-9),
                    "probability": e["probability"],
                    "ci_low": lo,
                    "ci_high": hi,
                    "revenue_mean": e["revenue_mean"],
                    "revenue_p10": _q(rev, 0.1),
                    "plan": bool(abs(e["hires_x"] - self.plan.hires) < 1e-9),
                }
            )
        return pd.DataFrame(rows)

    def outcome(self) -> dict[str, Any]:
        """The plan against no planned hire on the same fresh replications (paired).

        ``revenue_change`` (relative), ``revenue_gain`` (dollars) and ``headcount_change`` (reps
        in seat) of the final year, each ``(mean, low, high, n)``; ``gain_per_hire`` (dollars of
        final-year revenue per seat opened); ``no_hire_probability`` and its CI on the fresh
        replications.
        """
        from salessim.stats import wilson

        r0, r1 = self._final(self.today), self._final(self.plan_periods)
        h0 = self._final(self.today, "headcount")
        h1 = self._final(self.plan_periods, "headcount")
        gain = _paired(r0, r1, relative=False)
        hires = self.plan.total_hires
        k0 = int(np.sum(r0 >= self.target))
        return {
            "revenue_change": _paired(r0, r1, relative=True),
            "revenue_gain": gain,
            "headcount_change": _paired(h0, h1, relative=False),
            "gain_per_hire": (*(v / hires for v in gain[:3]), gain[3])
            if hires
            else (math.nan, math.nan, math.nan, gain[3]),
            "no_hire_probability": k0 / max(r0.size, 1),
            "no_hire_probability_ci": wilson(k0, r0.size),
        }


def hiring_study(
    scenario: Any,
    growth: float = 0.2,
    confidence: float = 0.8,
    years: int = 2,
    replications: int = 32,
    seed: int = 1,
    per_quarter: int | None = None,
    max_hires: int | None = None,
    timing_steps: int = 0,
    workers: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> HiringStudy:
    """The hires that lift the final year's revenue by ``growth`` with ``confidence``.

    Today's final-year revenue is the mean over the search's replications of the sales force
    with no planned hire; the target is ``(1 + growth)`` times it, and :func:`capacity` finds the
    plan. The sales force with no planned hire and the plan are then both run on the fresh
    seeds, so they pair replication by replication (the same people and luck) and every
    outcome reported is independent of the search. Out of reach, the most hires considered are
    run instead, to show how far they get.

    Raises:
        ScenarioError: bad input, naming the argument and its value.
    """
    from salessim.executors import check_replications, check_seed
    from salessim.funnel import plan
    from salessim.stats import wilson

    t_start = time.perf_counter()
    sc = load_scenario(scenario)
    if (
        isinstance(growth, bool)
        or not isinstance(growth, int | float)
        or not (math.isfinite(growth) and 0.0 <= growth <= 10.0)
    ):
        raise ScenarioError(
            f"growth {safe_repr(growth)}: the target's growth over today's "
            "final-year revenue must be a number from 0 to 10 (0.2: +20 %)"
        )
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
        raise ScenarioError(
            f"years {safe_repr(years)}: must be a whole number of years from 1 to {MAX_YEARS}"
        )
    replications, seed = check_replications(replications), check_seed(seed)
    sc = sc.replace(**{"simulation.horizon_days": 365 * years, "hiring.plan": []})
    executor = _executor(sc, workers)
    try:
        rev0 = _revenues(executor, sc, seed, replications, plan(sc))
    finally:
        if executor is not None:
            executor.close()
    today = float(np.mean(rev0))
    if not today > 0:
        raise ScenarioError(
            f"{sc.name}: the sales force sold nothing in the final year with no "
            "hires, so there is no revenue to grow"
        )
    res = capacity(
        sc,
        (1.0 + growth) * today,
        confidence,
        years=years,
        replications=replications,
        seed=seed,
        per_quarter=per_quarter,
        max_hires=max_hires,
        timing_steps=timing_steps,
        workers=workers,
        progress=progress,
        no_hire_revenue=rev0,
    )
    fresh = res.fresh_seed
    executor = _executor(sc, workers)
    try:
        no_hires = _periods(executor, sc, fresh, replications)
        if res.periods is not None:
            grown = res.periods
        else:  # out of reach: how far the most hires considered get, on the same seeds
            grown = _periods(
                executor,
                _with_plan(sc, res.openings, name=f"{sc.name} + {res.total_hires} hires"),
                fresh,
                replications,
            )
    finally:
        if executor is not None:
            executor.close()
    y = grown[(grown["period"] == "year") & (grown["year"] == years)]
    k = int(np.sum(y["revenue"].to_numpy(dtype=float) >= res.target))
    return HiringStudy(
        plan=res,
        growth=float(growth),
        today_revenue=today,
        today=no_hires,
        plan_periods=grown,
        probability=k / len(y),
        probability_ci=wilson(k, len(y)),
        runtime=time.perf_counter() - t_start,
    )


def quota_study(
    scenario: Any,
    share: float = 0.6,
    multiples: Sequence[float] = QUOTA_MULTIPLES,
    replications: int = 16,
    seed: int = 1,
    steps: int = 3,
    workers: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> QuotaResult:
    """Quota swept over ``multiples`` of today's, and the quota at which ``share`` make it.

    :func:`quota_for_share` with the sweep as its grid and today's way of working as every
    warm-up: each quota starts on the first reported day, so the figures are the year after the
    change. Read it with :func:`quota_curve`.
    """
    sc = load_scenario(scenario)
    q0 = float(sc.organisation.quota)
    bad = [
        m
        for m in multiples
        if isinstance(m, bool) or not isinstance(m, int | float) or not (math.isfinite(m) and 0.05 <= m <= 20)
    ]
    if bad:
        raise ScenarioError(
            f"quota multiples {safe_repr(bad[0])}: each must be a number from "
            "0.05 to 20 (times today's quota)"
        )
    grid = [m * q0 for m in multiples if abs(m - 1.0) > 1e-9]
    return quota_for_share(
        sc,
        share,
        replications=replications,
        seed=seed,
        progress=progress,
        grid=grid,
        steps=steps,
        workers=workers,
        warmup=sc,
    )


def quota_curve(result: QuotaResult) -> pd.DataFrame:
    """Every quota tried, with what it does against today's quota on the same replications.

    One row per quota: ``vs_today`` (its ratio to today's − 1); share at quota, revenue,
    turnover, voluntary turnover and median attainment (mean and 95 % CI, as ``points``); and
    paired changes against today's quota: ``revenue_change`` (relative), ``at_quota_change``,
    ``turnover_change`` and ``voluntary_change`` (differences of shares), each with ``_lo`` and
    ``_hi``. ``today`` and ``found`` mark today's quota and the one found for the share.
    """
    if result.years.empty:
        raise ValueError("quota_curve needs the per-replication rows of quota_for_share")
    q0 = float(round(result.current["quota"], 2))
    y = result.years
    base = y[y["quota"] == q0].set_index("replication")
    rows = []
    for _, pt in result.points.iterrows():
        q = float(pt["quota"])
        var = y[y["quota"] == q].set_index("replication").reindex(base.index)
        row = {
            **{k: float(v) for k, v in pt.items()},
            "vs_today": q / q0 - 1.0,
            "today": q == q0,
            "found": q == result.quota,
        }
        for name, col, rel in (
            ("revenue_change", "revenue", True),
            ("at_quota_change", "pct_at_quota", False),
            ("turnover_change", "turnover", False),
            ("voluntary_change", "voluntary_turnover", False),
        ):
            m, lo, hi, _ = _paired(base[col].to_numpy(), var[col].to_numpy(), rel)
            row[name], row[f"{name}_lo"], row[f"{name}_hi"] = m, lo, hi
        rows.append(row)
    front = ["quota", "vs_today", "today", "found"]
    df = pd.DataFrame(rows)
    return df[front + [c for c in df.columns if c not in front]]


def _effect(t: tuple[float, float, float, int], kind: str) -> Any:
    from salessim.notebook_helpers import Effect

    return Effect(t[0], t[1], t[2], t[3], kind)


def schedule_text(openings: Sequence[tuple[int, int]], years: int) -> str:
    """``10 in Q1 and 1 in Q3 of year 1``: a plan's openings by quarter, in words."""
    days = quarter_days(years)
    per: dict[tuple[int, int], int] = {}
    for d, k in openings:
        q = max(i for i, d0 in enumerate(days) if d0 <= d)
        per[(q // 4 + 1, q % 4 + 1)] = per.get((q // 4 + 1, q % 4 + 1), 0) + k
    by_year: dict[int, list[str]] = {}
    for (y, q), k in sorted(per.items()):
        by_year.setdefault(y, []).append(f"{k} in Q{q}")
    parts = []
    for y, items in by_year.items():
        text = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
        parts.append(f"{text} of year {y}")
    return "; ".join(parts)


def hiring_findings(study: HiringStudy, findings: Any) -> None:
    """The hiring plan's findings, in plain sentences with their intervals, added to ``findings``."""
    from salessim.notebook_helpers import direction_sentence, fmt_money, fmt_pct

    res, y, n = study.plan, study.plan.years, len(study.today["replication"].unique())
    out = study.outcome()
    lo, hi = study.probability_ci
    p_txt = f"{fmt_pct(study.probability, 0)} (95 % CI {fmt_pct(lo, 0)}–{fmt_pct(hi, 0)})"
    goal = (
        f"{fmt_money(study.target)} of year-{y} revenue ({fmt_pct(study.growth, 0)} above "
        f"today's {fmt_money(study.today_revenue)})"
    )
    if res.status == "no_hires_needed":
        findings.add(
            "plan",
            f"No hire is needed: today's {res.scenario.n_reps} reps reach "
            f"{goal} with {fmt_pct(res.confidence, 0)} confidence.",
            f"On {n} fresh simulated years they reached it in {p_txt}.",
            hires=0,
            probability=study.probability,
            probability_ci=[lo, hi],
            target=study.target,
        )
    elif res.status == "unreachable":
        findings.add(
            "plan",
            f"Even {res.total_hires} hires ({res.per_quarter} a quarter from "
            f"the first) do not reach {goal} with {fmt_pct(res.confidence, 0)} "
            "confidence.",
            f"They reached it in {p_txt} of {n} fresh simulated years. Lower the "
            "target, allow more time (years) or recruit faster.",
            hires=res.total_hires,
            probability=study.probability,
            probability_ci=[lo, hi],
            target=study.target,
            reached=False,
        )
    else:
        if hi < res.confidence:
            check = (
                f"below the {fmt_pct(res.confidence, 0)} asked for: the search's "
                "simulated years were kinder than these, so plan a hire or two more or "
                "rerun with more replications"
            )
        elif lo > res.confidence:
            check = f"above the {fmt_pct(res.confidence, 0)} asked for"
        else:
            check = f"consistent with the {fmt_pct(res.confidence, 0)} asked for"
        findings.add(
            "plan",
            f"To reach {goal} with {fmt_pct(res.confidence, 0)} confidence, "
            f"hire {res.total_hires} reps: "
            f"{schedule_text(res.openings, y)}.",
            f"On {n} fresh simulated years the plan reached the target in {p_txt}, "
            f"{check}. A new seat stands empty while it is recruited and its rep "
            "then ramps for months, so the plan hires as early as it can.",
            hires=res.total_hires,
            hiring_plan=[[d, k] for d, k in res.openings],
            probability=study.probability,
            probability_ci=[lo, hi],
            target=study.target,
            today_revenue=study.today_revenue,
            reached=True,
        )
    if res.total_hires:
        e_rev = _effect(out["revenue_change"], "rel")
        g = out["gain_per_hire"]
        per_hire = _effect(g, "money")
        hc = out["headcount_change"]
        findings.add(
            "gain",
            f"The {res.total_hires} hires {e_rev.phrase(f'year-{y} revenue')}.",
            direction_sentence(
                per_hire,
                f"That is about {fmt_money(g[0])} of year-{y} revenue per hire ({per_hire.ci()})",
                f"Each hire cost {fmt_money(-g[0])} of revenue",
                "No gain per hire can be told",
            )
            + f"; on average {hc[0]:.1f} more reps were in seat in year {y} (vacancies, "
            "recruiting and leavers included). Same simulated years with and without "
            "the hires.",
            effect=e_rev,
            gain_per_hire=per_hire,
            headcount_change=hc[0],
        )
    p0, (a, b) = out["no_hire_probability"], out["no_hire_probability_ci"]
    findings.add(
        "no_hires",
        f"With no hires the sales force reaches the target in "
        f"{fmt_pct(p0, 0)} of simulated years (95 % CI {fmt_pct(a, 0)}–"
        f"{fmt_pct(b, 0)}).",
        f"Today's {res.scenario.n_reps} reps sell {fmt_money(study.today_revenue)} in "
        f"year {y} on average: leavers are backfilled, but each seat stands empty while "
        "it is recruited and its new rep ramps.",
        probability=p0,
        probability_ci=[a, b],
    )
    tried = study.probability_by_hires()
    whole = tried[tried["whole"] & (tried["hires"] > 0)]
    if res.status == "reached" and len(whole) >= 2:
        below = whole[whole["hires"] < res.total_hires].tail(1)
        above = whole[whole["hires"] > res.total_hires].head(1)
        parts = [
            f"{int(r['hires'])} hires reached it in {fmt_pct(r['probability'], 0)} "
            f"(95 % CI {fmt_pct(r['ci_low'], 0)}–{fmt_pct(r['ci_high'], 0)})"
            for _, r in pd.concat([below, above]).iterrows()
        ]
        if parts:
            findings.add(
                "by_hires",
                "Around the plan the chance moves fast with headcount: " + " and ".join(parts) + ".",
                f"Each plan tried ran {res.replications} simulated years, so "
                "neighbouring headcounts' intervals overlap; the chart shows them all.",
                tried=tried[["hires", "probability", "ci_low", "ci_high"]].to_dict("records"),
            )


def quota_findings(result: QuotaResult, curve: pd.DataFrame, findings: Any) -> None:
    """Where quota sits: today's share at quota, the quota for the share asked, a harder quota."""
    from salessim.notebook_helpers import direction_sentence, fmt_money, fmt_pct

    today = curve[curve["today"]].iloc[0]
    n = result.replications

    def share_ci(row: pd.Series) -> str:  # a share's t-interval, held within 0 … 100 %
        lo, hi = max(0.0, row["pct_at_quota_lo"]), min(1.0, row["pct_at_quota_hi"])
        return f"95 % CI {fmt_pct(lo, 0)}–{fmt_pct(hi, 0)}"

    findings.add(
        "quota_today",
        f"At today's quota of {fmt_money(today['quota'])}, {fmt_pct(today['pct_at_quota'], 0)}"
        f" of reps make it ({share_ci(today)}).",
        "Reps in seat and past ramp all year; the median rep reaches "
        f"{fmt_pct(today['attainment_p50'], 0)} of quota.",
        share=today["pct_at_quota"],
        quota=today["quota"],
    )

    def eff(row: pd.Series, name: str, kind: str) -> Any:
        from salessim.notebook_helpers import Effect

        return Effect(row[name], row[f"{name}_lo"], row[f"{name}_hi"], n, kind)

    f = curve[curve["found"]].iloc[0]
    e_rev, e_turn = eff(f, "revenue_change", "rel"), eff(f, "turnover_change", "pts")
    e_vol = eff(f, "voluntary_change", "pts")
    move = (
        "today's quota"
        if f["today"]
        else f"{fmt_pct(abs(f['vs_today']), 0)} {'below' if f['vs_today'] < 0 else 'above'} today's"
    )
    findings.add(
        "quota_for_share",
        f"For {fmt_pct(result.share, 0)} of reps to make quota, it would sit at about "
        f"{fmt_money(f['quota'])}, {move}.",
        (
            ""
            if f["today"]
            else f"That quota {e_rev.phrase('team revenue')}; turnover "
            f"{e_turn.phrase('', 'rose', 'fell')} and voluntary leaving "
            f"{e_vol.phrase('', 'rose', 'fell')}. "
        )
        + f"At it, {fmt_pct(f['pct_at_quota'], 0)} of reps made quota ({share_ci(f)}).",
        effect=e_rev,
        quota=f["quota"],
        share=f["pct_at_quota"],
        turnover=e_turn,
        voluntary=e_vol,
    )
    hard = curve[curve["vs_today"] > 1e-9]
    if len(hard):
        h = hard.iloc[-1]
        e_rev, e_q = eff(h, "revenue_change", "rel"), eff(h, "at_quota_change", "pts")
        e_turn = eff(h, "turnover_change", "pts")
        best = curve.loc[curve["revenue"].idxmax()]
        e_best = eff(best, "revenue_change", "rel")
        peak = (
            direction_sentence(
                e_best,
                f"Of the quotas tried, revenue was highest at {fmt_money(best['quota'])} "
                f"({e_best.brief()} against today's)",
                "",
                f"Revenue was highest at {fmt_money(best['quota'])}, but not distinguishably above "
                "today's quota",
            )
            if not best["today"]
            else ("Of the quotas tried, today's brought the most revenue")
        )
        findings.add(
            "harder_quota",
            f"A quota {fmt_pct(h['vs_today'], 0)} higher ({fmt_money(h['quota'])}) "
            f"{e_rev.phrase('team revenue')}; the share at quota "
            f"{e_q.phrase('', 'rose', 'fell')} and turnover "
            f"{e_turn.phrase('', 'rose', 'fell')}.",
            f"{peak}. In the model quota acts through reps' time and motivation, and "
            "reps far behind are likelier to leave; every quota ran the same simulated "
            "years.",
            effect=e_rev,
            quota=h["quota"],
            at_quota=e_q,
            turnover=e_turn,
        )


# ==========================================================================================
# command line
# ==========================================================================================
def _number(name: str) -> Callable[[str], float]:
    import argparse

    def parse(text: str) -> float:
        try:
            v = float(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text[:40]!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number, got {text[:40]!r}")
        return v

    return parse


def add_parsers(sub: Any) -> None:
    """Add the ``capacity`` and ``quota`` subcommands to the CLI's subparsers."""
    from salessim.cli import _path, _positive_int, _replications, _seed, _workers

    s = sub.add_parser(
        "capacity",
        help="hires per quarter to reach a revenue target with a given confidence (simulation search)",
    )
    s.add_argument("scenario", help="scenario YAML file or library name (e.g. baseline)")
    s.add_argument(
        "--target",
        required=True,
        type=_number("--target"),
        metavar="REVENUE",
        help="annual revenue to reach in the final reported year",
    )
    s.add_argument(
        "--confidence",
        type=_number("--confidence"),
        default=0.8,
        help="chance of reaching it, strictly between 0 and 1 (default 0.8)",
    )
    s.add_argument(
        "--years",
        type=_number("--years"),
        default=2,
        help=f"reported years, 1 to {MAX_YEARS}; hires open from the first quarter, "
        "the target is the final year's (default 2: hire this year for next "
        "year's target)",
    )
    s.add_argument(
        "--replications",
        "-r",
        type=_replications(),
        default=200,
        help="replications per candidate plan and of the fresh check (default 200)",
    )
    s.add_argument(
        "--seed", "-s", type=_seed, default=1, help="root seed of the search; the fresh check uses seed + 1"
    )
    s.add_argument(
        "--per-quarter",
        type=_positive_int("--per-quarter", MAX_SEATS),
        default=None,
        help="most new seats opened a quarter (recruiting pace; default: one per manager)",
    )
    s.add_argument(
        "--max-hires",
        type=_positive_int("--max-hires", MAX_SEATS),
        default=None,
        help="most hires considered (default: as many as the starting seats)",
    )
    s.add_argument(
        "--workers",
        "-w",
        type=_workers(),
        default=None,
        help="local worker processes (default: all cores; 1 = serial); the numbers "
        "are the same whatever runs them",
    )
    s.add_argument(
        "--out", "-o", type=_path, default=None, help="directory for plan.csv, summary.json and manifest.json"
    )
    s.set_defaults(func=cmd_capacity)

    s = sub.add_parser(
        "quota", help="the quota at which a given share of reps makes it, with its revenue and attrition"
    )
    s.add_argument("scenario", help="scenario YAML file or library name (e.g. baseline)")
    s.add_argument(
        "--share",
        type=_number("--share"),
        default=0.6,
        help="share of reps (in seat and past ramp all year) at quota, strictly "
        "between 0 and 1 (default 0.6)",
    )
    s.add_argument("--replications", "-r", type=_replications(), default=16)
    s.add_argument("--seed", "-s", type=_seed, default=1)
    s.add_argument(
        "--out",
        "-o",
        type=_path,
        default=None,
        help="directory for quota.csv, summary.json and manifest.json",
    )
    s.set_defaults(func=cmd_quota)


def _say(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)


def _money(v: float) -> str:
    return f"${v / 1e6:,.2f}M"


def _check_years(v: float) -> int:
    if v != int(v) or not 1 <= v <= MAX_YEARS:
        raise ScenarioError(f"--years {v:g}: must be a whole number of years from 1 to {MAX_YEARS}")
    return int(v)


def cmd_capacity(args: Any) -> int:
    """``salessim capacity``: search, print the plan and outcomes, write plan.csv and summary.json."""
    from salessim.cli import BadInput, _output

    years = _check_years(args.years)
    # every input is checked before --out is touched or anything runs
    if not (0 < args.target <= MAX_TARGET):
        raise BadInput(
            f"--target {args.target:g}: the final year's revenue to reach must be "
            f"above 0 and at most {MAX_TARGET:.0e}"
        )
    if not 0 < args.confidence < 1:
        raise BadInput(f"--confidence {args.confidence:g}: must be strictly between 0 and 1 (e.g. 0.8)")
    load_scenario(args.scenario)
    with _output(args.out, "dir", "--out") as out:
        res = capacity(
            args.scenario,
            args.target,
            args.confidence,
            years=years,
            replications=args.replications,
            seed=args.seed,
            per_quarter=args.per_quarter,
            max_hires=args.max_hires,
            workers=args.workers,
            progress=_say,
        )
        sc = res.scenario
        print(
            f"capacity of {sc.name}: {sc.n_reps} seats, target {_money(res.target)} in year "
            f"{res.years} with {res.confidence:.0%} confidence ({res.replications} "
            f"replications a candidate, seed {res.seed}; {res.runtime:.1f} s)"
        )
        print(
            f"  with no planned hire: P(reach) = {res.no_hire_probability:.3f}, final-year "
            f"revenue median {_money(float(np.median(res.no_hire_revenue)))}"
        )
        if res.status == "unreachable":
            raise BadInput(
                f"--target {res.target:,.0f} is out of reach: even {res.total_hires} hires "
                f"({res.per_quarter} a quarter from the first) reach it with probability "
                f"{res.search_probability:.3f} < {res.confidence}; allow more with --max-hires, "
                f"--per-quarter or --years, or lower the target"
            )
        if res.status == "no_hires_needed":
            print(
                f"  no hire is needed: the sales force reaches the target with probability "
                f"{res.no_hire_probability:.3f} ≥ {res.confidence}"
            )
        table = res.plan_table()
        print(
            f"plan: {res.total_hires} hires (search: x = {res.hires:.3f}, "
            f"P = {res.search_probability:.3f} on the search's replications)"
        )
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
        lo, hi = res.probability_ci
        print(
            f"on fresh seeds ({res.fresh_replications} replications, seed {res.fresh_seed}): "
            f"P(final-year revenue ≥ {_money(res.target)}) = {res.probability:.3f} "
            f"(95 % CI {lo:.3f}–{hi:.3f})"
        )
        print(
            "final-year revenue: "
            + ", ".join(f"{k} {_money(v)}" for k, v in res.quantiles().items())
            + f", mean {_money(float(res.revenue.mean()))}"
        )
        if out is not None:
            from salessim.io import manifest

            meta = manifest(
                command="capacity",
                scenario=sc.name,
                scenario_hash=sc.hash,
                scenario_source=str(args.scenario),
                seed=res.seed,
                fresh_seed=res.fresh_seed,
                replications=res.replications,
                fresh_replications=res.fresh_replications,
                target=res.target,
                confidence=res.confidence,
                years=res.years,
                runtime_seconds=round(res.runtime, 3),
            )
            with out.staging() as tmp:
                table.to_csv(tmp / "plan.csv", index=False)
                (tmp / "summary.json").write_text(json.dumps(res.summary(), indent=2) + "\n")
                (tmp / "manifest.json").write_text(
                    json.dumps(
                        {**meta, "files": {"plan.csv": len(table), "summary.json": 1}}, indent=2, default=str
                    )
                    + "\n"
                )
            print(f"wrote {args.out}/ (plan.csv, summary.json, manifest.json)")
    return 0


def cmd_quota(args: Any) -> int:
    """``salessim quota``: the quota for a share at quota, with revenue and attrition."""
    from salessim.cli import BadInput, _output

    if not 0 < args.share < 1:
        raise BadInput(f"--share {args.share:g}: must be strictly between 0 and 1 (e.g. 0.6)")
    load_scenario(args.scenario)
    with _output(args.out, "dir", "--out") as out:
        res = quota_for_share(
            args.scenario, args.share, replications=args.replications, seed=args.seed, progress=_say
        )
        f, c = res.found, res.current
        print(
            f"quota for {res.share:.0%} of reps at quota, {res.scenario.name} "
            f"({res.replications} replications, seed {res.seed}; {res.runtime:.1f} s)"
        )
        for label, r in (("found", f), ("current", c)):
            print(
                f"  {label:8s} quota {_money(r['quota'])}: at quota {r['pct_at_quota']:.1%} "
                f"({r['pct_at_quota_lo']:.1%}–{r['pct_at_quota_hi']:.1%}), revenue "
                f"{_money(r['revenue'])} ({_money(r['revenue_lo'])}–{_money(r['revenue_hi'])}), "
                f"turnover {r['turnover']:.1%} ({r['turnover_lo']:.1%}–{r['turnover_hi']:.1%}), "
                f"voluntary {r['voluntary_turnover']:.1%}"
            )
        if out is not None:
            from salessim.io import manifest

            meta = manifest(
                command="quota",
                scenario=res.scenario.name,
                scenario_hash=res.scenario.hash,
                scenario_source=str(args.scenario),
                seed=res.seed,
                replications=res.replications,
                share=res.share,
                runtime_seconds=round(res.runtime, 3),
            )
            with out.staging() as tmp:
                res.points.to_csv(tmp / "quota.csv", index=False)
                (tmp / "summary.json").write_text(json.dumps(res.summary(), indent=2) + "\n")
                (tmp / "manifest.json").write_text(
                    json.dumps(
                        {**meta, "files": {"quota.csv": len(res.points), "summary.json": 1}},
                        indent=2,
                        default=str,
                    )
                    + "\n"
                )
            print(f"wrote {args.out}/ (quota.csv, summary.json, manifest.json)")
    return 0
