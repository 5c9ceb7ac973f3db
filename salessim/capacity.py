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

__all__ = ["CapacityPlan", "QuotaResult", "add_parsers", "capacity", "final_year_revenue",
           "openings_for", "quota_for_share"]

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


def _with_plan(sc: Scenario, openings: Sequence[tuple[int, int]], name: str | None = None
               ) -> Scenario:
    changes: dict[str, Any] = {"hiring.plan": [{"day": d, "reps": k} for d, k in openings]}
    if name is not None:
        changes["name"] = name
    return sc.replace(**changes)


# ==========================================================================================
# running
# ==========================================================================================
def final_year_revenue(sc: Scenario, seed: int, replications: int,
                       funnel_plan: Plan | None = None,
                       progress: Callable[[], None] | None = None) -> np.ndarray:
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


def _revenues(executor: Any, sc: Scenario, seed: int, replications: int,
              funnel_plan: Plan) -> np.ndarray:
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
                "year": q // 4 + 1, "quarter": f"Q{q % 4 + 1}", "first_day": d0, "hires": hires,
                "opening_days": " ".join(str(d) for d, _ in self.openings if d0 <= d < d1),
                "seats_start": n0 + opened}
            opened += hires
            row["seats_end"] = n0 + opened
            if self.periods is not None:
                p = self.periods[(self.periods["year"] == q // 4 + 1)
                                 & (self.periods["period"] == f"Q{q % 4 + 1}")]
                row["headcount"] = float(p["headcount"].mean())
                row["revenue"] = float(p["revenue"].mean())
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` holds."""
        return {
            "scenario": self.scenario.name, "scenario_hash": self.scenario.hash,
            "status": self.status, "target": self.target, "confidence": self.confidence,
            "years": self.years, "per_quarter": self.per_quarter, "max_hires": self.max_hires,
            "replications": self.replications, "seed": self.seed,
            "fresh_replications": self.fresh_replications, "fresh_seed": self.fresh_seed,
            "seats_start": self.scenario.n_reps, "total_hires": self.total_hires,
            "hires_x": round(self.hires, 6),
            "hiring_plan": [{"day": d, "reps": k} for d, k in self.openings],
            "probability": self.probability,
            "probability_ci95": list(self.probability_ci),
            "search_probability": self.search_probability,
            "no_hire_probability": self.no_hire_probability,
            "final_year_revenue": {"mean": float(np.mean(self.revenue)), **self.quantiles()},
            "final_year_revenue_no_hires": {"mean": float(np.mean(self.no_hire_revenue)),
                                            **self.quantiles(self.no_hire_revenue)},
            "evaluations": self.evaluations,
            "runtime_seconds": round(self.runtime, 3),
        }


def _fresh_seed(seed: int) -> int:
    from salessim.executors import MAX_SEED

    return seed + 1 if seed < MAX_SEED else seed - 1


def capacity(scenario: Any, target: float, confidence: float = 0.8, years: int | None = 2,
             replications: int = 200, seed: int = 1, per_quarter: int | None = None,
             max_hires: int | None = None, fresh_replications: int | None = None,
             timing_steps: int = TIMING_STEPS, workers: int | None = 1,
             progress: Callable[[str], None] | None = None) -> CapacityPlan:
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

    Raises:
        ScenarioError: bad input, naming the argument and its value.
    """
    from salessim.executors import check_replications, check_seed
    from salessim.funnel import plan

    t_start = time.perf_counter()
    sc = load_scenario(scenario)
    if isinstance(target, bool) or not isinstance(target, int | float) or not (
            math.isfinite(target) and 0 < target <= MAX_TARGET):
        raise ScenarioError(f"--target {safe_repr(target)}: the final year's revenue to reach "
                            f"must be a number above 0 and at most {MAX_TARGET:.0e}")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not (
            0.0 < confidence < 1.0):
        raise ScenarioError(f"--confidence {safe_repr(confidence)}: must be a probability "
                            "strictly between 0 and 1 (e.g. 0.8)")
    if years is not None:
        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
            raise ScenarioError(f"--years {safe_repr(years)}: must be a whole number of years "
                                f"from 1 to {MAX_YEARS}")
        sc = sc.replace(**{"simulation.horizon_days": 365 * years})
    else:
        years = max(1, round(sc.simulation.horizon_days / 365))
    replications = check_replications(replications)
    seed = check_seed(seed)
    fresh_n = check_replications(fresh_replications if fresh_replications is not None
                                 else replications)
    if sc.hiring.plan:
        sc = sc.replace(**{"hiring.plan": []})
    quarters = 4 * years
    if per_quarter is None:
        per_quarter = sc.organisation.managers
    if isinstance(per_quarter, bool) or not isinstance(per_quarter, int) or per_quarter < 1:
        raise ScenarioError(f"--per-quarter {safe_repr(per_quarter)}: must be a whole number "
                            "of seats of at least 1")
    room = MAX_SEATS - sc.n_reps
    cap = min(per_quarter * quarters, room)
    if max_hires is None:
        max_hires = min(sc.n_reps, cap)
    if isinstance(max_hires, bool) or not isinstance(max_hires, int) or not 1 <= max_hires <= cap:
        raise ScenarioError(f"--max-hires {safe_repr(max_hires)}: must be a whole number from 1 "
                            f"to {cap:,} ({per_quarter} a quarter over {quarters} quarters, "
                            f"within {MAX_SEATS:,} seats)")
    if sc.simulation.horizon_days < 365:
        raise ScenarioError(f"simulation.horizon_days {sc.simulation.horizon_days}: capacity "
                            "plans a whole final year; give --years")

    fp = plan(sc)
    executor = None
    if workers != 1:
        from salessim.executors import make_executor
        from salessim.model import hazard

        if sc.attrition.voluntary_annual > 0:  # solved once here; forked workers inherit it
            hazard.solve(sc)
        executor = make_executor(workers)
    try:
        return _search(sc, float(target), float(confidence), years, replications, seed, fresh_n,
                       per_quarter, max_hires, timing_steps, fp, executor, progress, t_start)
    finally:
        if executor is not None:
            executor.close()


def _search(sc: Scenario, target: float, confidence: float, years: int, replications: int,
            seed: int, fresh_n: int, per_quarter: int, max_hires: int, timing_steps: int,
            fp: Plan, executor: Any, progress: Callable[[str], None] | None,
            t_start: float) -> CapacityPlan:
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
            rev = _revenues(executor, cand, seed, replications, fp)
            p = float(np.mean(rev >= target))
            seen[x] = (p, rev)
            evaluations.append({"hires_x": x, "hires": sum(k for _, k in ops),
                                "probability": p, "revenue_mean": float(rev.mean())})
            if progress is not None:
                progress(f"  {x:7.3f} hires: P(final-year revenue ≥ target) = {p:.3f} "
                         f"on {replications} replications")
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
    if status == "unreachable":
        return CapacityPlan(
            scenario=sc, target=float(target), confidence=float(confidence), years=years,
            per_quarter=per_quarter, max_hires=max_hires, replications=replications, seed=seed,
            fresh_seed=_fresh_seed(seed), fresh_replications=0, status=status, hires=x, openings=openings,
            search_probability=search_p, probability=search_p,
            probability_ci=wilson(search_p * replications, replications),
            revenue=seen[round(x, 9)][1], no_hire_probability=p0, no_hire_revenue=rev0,
            evaluations=evaluations, runtime=time.perf_counter() - t_start)
    # the plan found, on fresh seeds: an independent measure of its probability
    from salessim.simulate import simulate

    final = _with_plan(sc, openings, name=f"{sc.name} + {sum(k for _, k in openings)} hires") \
        if openings else sc
    fresh = _fresh_seed(seed)
    if executor is None or executor.workers <= 1:
        periods = simulate(final, replications=fresh_n, seed=fresh).periods
    else:
        from salessim.executors import batches_for

        parts = sorted(((b.key, res[1]) for b, res in executor.map(batches_for(
            [final.to_dict()], [range(fresh_n)], fresh, False, executor.workers))),
            key=lambda kv: kv[0])
        periods = pd.concat([p for _, p in parts], ignore_index=True)
    yr = periods[(periods["period"] == "year") & (periods["year"] == years)]
    revenue = yr.sort_values("replication")["revenue"].to_numpy(dtype=float)
    k = int(np.sum(revenue >= target))
    return CapacityPlan(
        scenario=sc, target=float(target), confidence=float(confidence), years=years,
        per_quarter=per_quarter, max_hires=max_hires, replications=replications, seed=seed,
        fresh_seed=fresh, fresh_replications=fresh_n, status=status, hires=x, openings=openings,
        search_probability=search_p,
        probability=k / fresh_n, probability_ci=wilson(k, fresh_n), revenue=revenue,
        no_hire_probability=p0, no_hire_revenue=rev0, evaluations=evaluations, periods=periods,
        runtime=time.perf_counter() - t_start)


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

    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` holds."""
        return {"scenario": self.scenario.name, "scenario_hash": self.scenario.hash,
                "share": self.share, "quota": self.quota, "replications": self.replications,
                "seed": self.seed, "at_quota_found": self.found,
                "at_current_quota": self.current, "runtime_seconds": round(self.runtime, 3)}


#: Year-row metrics of a quota point: share at quota, revenue and attrition.
QUOTA_METRICS = ("pct_at_quota", "revenue", "turnover", "voluntary_turnover", "attainment_p50")
#: Quota bisection steps on its logarithm (after bracketing).
QUOTA_STEPS = 7
MAX_QUOTA_STEPS_OUT = 12


def quota_for_share(scenario: Any, share: float = 0.6, replications: int = 16, seed: int = 1,
                    progress: Callable[[str], None] | None = None) -> QuotaResult:
    """The annual quota at which ``share`` of the reps make it, with its revenue and attrition.

    The share is ``pct_at_quota`` of the final reported year — reps in seat and past ramp all
    year, against their quota. It falls as quota rises (a mechanism of the model, not an input),
    so the quota is bracketed by steps of ×1.5 from the scenario's own and then bisected on its
    logarithm; every quota runs the same replications (common random numbers).

    Raises:
        ScenarioError: bad input, naming the argument and its value.
    """
    from salessim.executors import check_replications, check_seed
    from salessim.scenario import MAX_AMOUNT
    from salessim.simulate import simulate
    from salessim.stats import mean_ci

    t_start = time.perf_counter()
    sc = load_scenario(scenario)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 < share < 1.0:
        raise ScenarioError(f"--share {safe_repr(share)}: must be a share strictly between 0 "
                            "and 1 (e.g. 0.6)")
    replications = check_replications(replications)
    seed = check_seed(seed)
    years = max(1, round(sc.simulation.horizon_days / 365))
    rows: dict[float, dict[str, Any]] = {}

    def evaluate(q: float) -> dict[str, Any]:
        q = float(round(q, 2))
        if q not in rows:
            res = simulate(sc.replace(**{"organisation.quota": q}), replications=replications,
                           seed=seed)
            p = res.periods
            y = p[(p["period"] == "year") & (p["year"] == years)]
            row: dict[str, Any] = {"quota": q}
            for m in QUOTA_METRICS:
                ci = mean_ci(y[m].to_numpy(dtype=float))
                row[m] = ci.mean
                row[f"{m}_lo"], row[f"{m}_hi"] = ci.low, ci.high
            rows[q] = row
            if progress is not None:
                progress(f"  quota {q:,.0f}: share at quota {row['pct_at_quota']:.3f}")
        return rows[q]

    q0 = float(sc.organisation.quota)
    current = evaluate(q0)
    lo = hi = q0
    if current["pct_at_quota"] >= share:  # too easy: raise the quota until too few make it
        for _ in range(MAX_QUOTA_STEPS_OUT):
            hi = min(hi * 1.5, MAX_AMOUNT)
            if evaluate(hi)["pct_at_quota"] < share or hi >= MAX_AMOUNT:
                break
            lo = hi
    else:
        for _ in range(MAX_QUOTA_STEPS_OUT):
            lo = lo / 1.5
            if evaluate(lo)["pct_at_quota"] >= share or lo < 1.0:
                break
            hi = lo
    for _ in range(QUOTA_STEPS):
        mid = math.sqrt(lo * hi)
        if evaluate(mid)["pct_at_quota"] >= share:
            lo = mid
        else:
            hi = mid
    # the tried quota whose share is nearest the one asked for (ties: the lower quota)
    points = pd.DataFrame(sorted(rows.values(), key=lambda r: r["quota"]))
    best = points.iloc[int(np.argmin(np.abs(points["pct_at_quota"].to_numpy() - share)))]
    return QuotaResult(scenario=sc, share=float(share), quota=float(best["quota"]),
                       replications=replications, seed=seed, points=points,
                       current=dict(current), found={k: float(v) for k, v in best.items()},
                       runtime=time.perf_counter() - t_start)


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

    s = sub.add_parser("capacity", help="hires per quarter to reach a revenue target with a "
                                        "given confidence (simulation search)")
    s.add_argument("scenario", help="scenario YAML file or library name (e.g. baseline)")
    s.add_argument("--target", required=True, type=_number("--target"), metavar="REVENUE",
                   help="annual revenue to reach in the final reported year")
    s.add_argument("--confidence", type=_number("--confidence"), default=0.8,
                   help="chance of reaching it, strictly between 0 and 1 (default 0.8)")
    s.add_argument("--years", type=_number("--years"), default=2,
                   help=f"reported years, 1 to {MAX_YEARS}; hires open from the first quarter, "
                        "the target is the final year's (default 2: hire this year for next "
                        "year's target)")
    s.add_argument("--replications", "-r", type=_replications(), default=200,
                   help="replications per candidate plan and of the fresh check (default 200)")
    s.add_argument("--seed", "-s", type=_seed, default=1,
                   help="root seed of the search; the fresh check uses seed + 1")
    s.add_argument("--per-quarter", type=_positive_int("--per-quarter", MAX_SEATS), default=None,
                   help="most new seats opened a quarter (recruiting pace; default: one per "
                        "manager)")
    s.add_argument("--max-hires", type=_positive_int("--max-hires", MAX_SEATS), default=None,
                   help="most hires considered (default: as many as the starting seats)")
    s.add_argument("--workers", "-w", type=_workers(), default=None,
                   help="local worker processes (default: all cores; 1 = serial); the numbers "
                        "are the same whatever runs them")
    s.add_argument("--out", "-o", type=_path, default=None,
                   help="directory for plan.csv, summary.json and manifest.json")
    s.set_defaults(func=cmd_capacity)

    s = sub.add_parser("quota", help="the quota at which a given share of reps makes it, with "
                                     "its revenue and attrition")
    s.add_argument("scenario", help="scenario YAML file or library name (e.g. baseline)")
    s.add_argument("--share", type=_number("--share"), default=0.6,
                   help="share of reps (in seat and past ramp all year) at quota, strictly "
                        "between 0 and 1 (default 0.6)")
    s.add_argument("--replications", "-r", type=_replications(), default=16)
    s.add_argument("--seed", "-s", type=_seed, default=1)
    s.add_argument("--out", "-o", type=_path, default=None,
                   help="directory for quota.csv, summary.json and manifest.json")
    s.set_defaults(func=cmd_quota)


def _say(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)


def _money(v: float) -> str:
    return f"${v / 1e6:,.2f}M"


def _check_years(v: float) -> int:
    if v != int(v) or not 1 <= v <= MAX_YEARS:
        raise ScenarioError(f"--years {v:g}: must be a whole number of years from 1 to "
                            f"{MAX_YEARS}")
    return int(v)


def cmd_capacity(args: Any) -> int:
    """``salessim capacity``: search, print the plan and outcomes, write plan.csv and summary.json."""
    from salessim.cli import BadInput, _output

    years = _check_years(args.years)
    # every input is checked before --out is touched or anything runs
    if not (0 < args.target <= MAX_TARGET):
        raise BadInput(f"--target {args.target:g}: the final year's revenue to reach must be "
                       f"above 0 and at most {MAX_TARGET:.0e}")
    if not 0 < args.confidence < 1:
        raise BadInput(f"--confidence {args.confidence:g}: must be strictly between 0 and 1 "
                       "(e.g. 0.8)")
    load_scenario(args.scenario)
    with _output(args.out, "dir", "--out") as out:
        res = capacity(args.scenario, args.target, args.confidence, years=years,
                       replications=args.replications, seed=args.seed,
                       per_quarter=args.per_quarter, max_hires=args.max_hires,
                       workers=args.workers, progress=_say)
        sc = res.scenario
        print(f"capacity of {sc.name}: {sc.n_reps} seats, target {_money(res.target)} in year "
              f"{res.years} with {res.confidence:.0%} confidence ({res.replications} "
              f"replications a candidate, seed {res.seed}; {res.runtime:.1f} s)")
        print(f"  with no planned hire: P(reach) = {res.no_hire_probability:.3f}, final-year "
              f"revenue median {_money(float(np.median(res.no_hire_revenue)))}")
        if res.status == "unreachable":
            raise BadInput(
                f"--target {res.target:,.0f} is out of reach: even {res.total_hires} hires "
                f"({res.per_quarter} a quarter from the first) reach it with probability "
                f"{res.search_probability:.3f} < {res.confidence}; allow more with --max-hires, "
                f"--per-quarter or --years, or lower the target")
        if res.status == "no_hires_needed":
            print(f"  no hire is needed: the sales force reaches the target with probability "
                  f"{res.no_hire_probability:.3f} ≥ {res.confidence}")
        table = res.plan_table()
        print(f"plan: {res.total_hires} hires (search: x = {res.hires:.3f}, "
              f"P = {res.search_probability:.3f} on the search's replications)")
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
        lo, hi = res.probability_ci
        print(f"on fresh seeds ({res.fresh_replications} replications, seed {res.fresh_seed}): "
              f"P(final-year revenue ≥ {_money(res.target)}) = {res.probability:.3f} "
              f"(95 % CI {lo:.3f}–{hi:.3f})")
        print("final-year revenue: " + ", ".join(f"{k} {_money(v)}"
                                                  for k, v in res.quantiles().items())
              + f", mean {_money(float(res.revenue.mean()))}")
        if out is not None:
            from salessim.io import manifest

            meta = manifest(command="capacity", scenario=sc.name, scenario_hash=sc.hash,
                            scenario_source=str(args.scenario), seed=res.seed,
                            fresh_seed=res.fresh_seed, replications=res.replications,
                            fresh_replications=res.fresh_replications,
                            target=res.target, confidence=res.confidence, years=res.years,
                            runtime_seconds=round(res.runtime, 3))
            with out.staging() as tmp:
                table.to_csv(tmp / "plan.csv", index=False)
                (tmp / "summary.json").write_text(json.dumps(res.summary(), indent=2) + "\n")
                (tmp / "manifest.json").write_text(
                    json.dumps({**meta, "files": {"plan.csv": len(table), "summary.json": 1}},
                               indent=2, default=str) + "\n")
            print(f"wrote {args.out}/ (plan.csv, summary.json, manifest.json)")
    return 0


def cmd_quota(args: Any) -> int:
    """``salessim quota``: the quota for a share at quota, with revenue and attrition."""
    from salessim.cli import BadInput, _output

    if not 0 < args.share < 1:
        raise BadInput(f"--share {args.share:g}: must be strictly between 0 and 1 (e.g. 0.6)")
    load_scenario(args.scenario)
    with _output(args.out, "dir", "--out") as out:
        res = quota_for_share(args.scenario, args.share, replications=args.replications,
                              seed=args.seed, progress=_say)
        f, c = res.found, res.current
        print(f"quota for {res.share:.0%} of reps at quota, {res.scenario.name} "
              f"({res.replications} replications, seed {res.seed}; {res.runtime:.1f} s)")
        for label, r in (("found", f), ("current", c)):
            print(f"  {label:8s} quota {_money(r['quota'])}: at quota {r['pct_at_quota']:.1%} "
                  f"({r['pct_at_quota_lo']:.1%}–{r['pct_at_quota_hi']:.1%}), revenue "
                  f"{_money(r['revenue'])} ({_money(r['revenue_lo'])}–{_money(r['revenue_hi'])}), "
                  f"turnover {r['turnover']:.1%} ({r['turnover_lo']:.1%}–{r['turnover_hi']:.1%}), "
                  f"voluntary {r['voluntary_turnover']:.1%}")
        if out is not None:
            from salessim.io import manifest

            meta = manifest(command="quota", scenario=res.scenario.name,
                            scenario_hash=res.scenario.hash, scenario_source=str(args.scenario),
                            seed=res.seed, replications=res.replications, share=res.share,
                            runtime_seconds=round(res.runtime, 3))
            with out.staging() as tmp:
                res.points.to_csv(tmp / "quota.csv", index=False)
                (tmp / "summary.json").write_text(json.dumps(res.summary(), indent=2) + "\n")
                (tmp / "manifest.json").write_text(
                    json.dumps({**meta, "files": {"quota.csv": len(res.points),
                                                  "summary.json": 1}},
                               indent=2, default=str) + "\n")
            print(f"wrote {args.out}/ (quota.csv, summary.json, manifest.json)")
    return 0
