"""Funnel math: the tactical prescription and the benchmark pipeline.

See docs/model.md#the-reverse-funnel-and-the-benchmark-pipeline.

Reverse-engineers a quota through the funnel — wins needed, opportunities needed at each stage, new
opportunities per week — and gives the benchmark pipeline by Little's law (inventory = arrival rate ×
mean time in stage). The model uses the same numbers for prescribed plans, stage metrics and
forecasts, so the spreadsheet view and the simulation agree by construction. :class:`Capacity`
holds the plan against a rep's week — deal work and prospecting from a finite territory against
the hours left for selling — and gives the quota the week supports.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import product as cartesian

import numpy as np
import pandas as pd
from scipy import special

from salessim.scenario import Scenario, Territory

__all__ = [
    "Capacity",
    "Plan",
    "cell_table",
    "plan",
    "prospecting_hours",
    "territory_fresh_share",
    "territory_max_outbound",
]

DAYS_PER_YEAR = 365.0


def logit(p: np.ndarray | float) -> np.ndarray | float:
    """Log-odds of a probability."""
    return special.logit(p)


def cell_table(scenario: Scenario) -> pd.DataFrame:
    """The market cells (segment × product): natural share, log-odds offset and mean deal size.

    Win probability per cell uses the configured stage conversions shifted by the cell's offset,
    for an average rep (skill 0) with no goal penalty: the benchmark a plan is built on.
    """
    f = scenario.funnel
    base = np.array([logit(s.conversion) for s in f.stages])
    rows = []
    for (sname, seg), (pname, prod) in cartesian(f.segments.items(), f.products.items()):
        offset = seg.logit_offset + prod.logit_offset
        stage_p = special.expit(base + offset)
        mean_amount = prod.amount_median * np.exp(prod.amount_sigma**2 / 2) * seg.amount_factor
        rows.append(
            {
                "segment": sname,
                "product": pname,
                "share": seg.share * prod.share,
                "logit_offset": offset,
                "mean_amount": mean_amount,
                "win_prob": float(np.prod(stage_p)),
                **{f"p_{s.name}": float(p) for s, p in zip(f.stages, stage_p, strict=True)},
            }
        )
    return pd.DataFrame(rows)


def _returning(territory: Territory) -> float:
    """A·r: accounts a week that would come back if the whole book had been contacted.

    r = 7 ÷ ``requalify_days``, at most 1 (the model returns a share r of contacted accounts a week).
    """
    return territory.accounts * min(7.0 / territory.requalify_days, 1.0)


def territory_fresh_share(territory: Territory, prospecting_hours: float) -> float:
    """Steady-state share of a rep's book not yet contacted, prospecting ``prospecting_hours`` a week.

    Each week the rep's contacts and marketing's leads use up (h·c + i)·x fresh accounts and
    (1 − x)·A·r contacted ones come back (r = 7 ÷ ``requalify_days``, at most 1). At steady state
    the two balance: x = A·r ÷ (A·r + h·c + i).

    Args:
        territory: the scenario's territory section.
        prospecting_hours: prospecting hours a week (h).
    """
    back = _returning(territory)
    use = prospecting_hours * territory.contacts_per_hour + territory.inbound_per_week
    return back / (back + use)


def territory_max_outbound(territory: Territory) -> float:
    """The most outbound opportunities a week the book can give, however long the rep prospects.

    As h → ∞ the fresh accounts found each week tend to the A·r coming back, of which
    ``opportunity_rate`` open an opportunity.
    """
    return territory.opportunity_rate * _returning(territory)


def prospecting_hours(territory: Territory, outbound_per_week: float) -> float:
    """Prospecting hours a week that give ``outbound_per_week`` opportunities at steady state.

    Solves h·c·x·p = o with x from :func:`territory_fresh_share`:
    h = o·(A·r + i) ÷ (c·(p·A·r − o)). Infinite when o reaches the territory's maximum.
    """
    if outbound_per_week <= 0.0:
        return 0.0
    back = _returning(territory)
    most = territory_max_outbound(territory)
    if outbound_per_week >= most:
        return math.inf
    return (
        outbound_per_week
        * (back + territory.inbound_per_week)
        / (territory.contacts_per_hour * (most - outbound_per_week))
    )


@dataclass(frozen=True)
class Capacity:
    """Whether a plan fits a rep's week, and the quota the week supports (per rep, hours a week).

    The week is the model's (:mod:`salessim.model.reptime`) for an average, fully ramped rep on
    the contracted week: non-selling time comes off the top, then CRM logging (a minute cost per
    logged stage event: each logged deal's creation and each stage it resolves, logged at
    ``crm.adoption``), and what is left is scaled by the share of effort left after switching
    between goals (a rep with three or more goals may drop one). Reviews and coaching received
    cost the rep no hours in the model, and discretionary extra hours are left out (see
    ``fits_with_extra_hours``).

    Attributes:
        contracted_hours: ``reps.hours_per_week``.
        non_selling_hours: admin, internal meetings, travel and training
            (``reps.non_selling_share`` of the contracted week).
        logging_hours: CRM logging of the pipeline the rep carries.
        log_events_per_week: logged stage events a week behind ``logging_hours``.
        focus: share of selling effort left after switching between goals (expected over
            whether the rep drops a goal).
        switching_hours: hours lost to switching between goals.
        selling_hours: hours available for selling (deal work and prospecting).
        arrivals_per_week: new opportunities the rep carries: the plan's, or marketing's leads
            when those are more (they arrive whatever the plan).
        deal_work_hours: weekly work the open deals need at their base pace (Little's-law
            inventory per stage × its ``work_hours``).
        deal_hours_per_opportunity: deal work per new opportunity a week (the inventory of one
            arrival a week, weighted by work hours).
        inbound_per_week: marketing's opportunities (no prospecting time).
        outbound_needed: new opportunities a week the rep must find (the plan's less inbound).
        prospecting_hours: hours a week that find them from the territory at steady state;
            infinite when beyond the territory's maximum.
        fresh_share: share of the book not yet contacted at that steady state.
        territory_max_outbound: the most outbound opportunities a week the book can give.
        hours_needed: deal work plus prospecting.
        fits: whether the hours needed fit the hours available for selling.
        utilisation: hours needed ÷ hours available.
        extra_hours: ``reps.max_extra_hours``, the most a driven rep adds unpaid.
        fits_with_extra_hours: whether the plan fits if the rep also works those hours.
        revenue_per_opportunity: win rate × average won deal.
        supported_quota: the largest annual quota whose plan (deal work, logging and prospecting)
            fits the hours available. When marketing's leads alone need more than the week has,
            no quota fits and this is the revenue of the leads the rep can fully work.
    """

    contracted_hours: float
    non_selling_hours: float
    logging_hours: float
    log_events_per_week: float
    focus: float
    switching_hours: float
    selling_hours: float
    arrivals_per_week: float
    deal_work_hours: float
    deal_hours_per_opportunity: float
    inbound_per_week: float
    outbound_needed: float
    prospecting_hours: float
    fresh_share: float
    territory_max_outbound: float
    hours_needed: float
    fits: bool
    utilisation: float
    extra_hours: float
    fits_with_extra_hours: bool
    revenue_per_opportunity: float
    supported_quota: float

    @property
    def spare_hours(self) -> float:
        """Hours available less hours needed (negative: the plan overflows the week)."""
        return self.selling_hours - self.hours_needed


def _focus(scenario: Scenario, plan: Plan) -> float:
    """Expected share of selling effort left after goal switching, over dropping a goal or not."""
    from salessim.drivers.goals import GoalModel

    gm = GoalModel(scenario, plan)
    z = np.zeros(gm.n)
    _, _, n_drop = gm.person(0.0, z)  # a rep whose draw drops a goal, if the plan allows it
    _, _, n_keep = gm.person(1.0, z)  # a rep who keeps every goal
    d = scenario.goals.drop_probability
    return float(d * gm.focus_effort(n_drop) + (1 - d) * gm.focus_effort(n_keep))


def _capacity(scenario: Scenario, plan: Plan) -> Capacity:
    """The plan against the rep's week: see :class:`Capacity`."""
    r = scenario.reps
    t = scenario.territory
    st = plan.stages
    reach = (st["arrivals_per_week"] / plan.new_per_week).to_numpy()  # share reaching each stage
    work = np.array([s.work_hours for s in scenario.funnel.stages])
    deal_per_opp = float((reach * st["mean_days"].to_numpy() / 7.0) @ work)
    # a logged deal is one update when created and one when each stage it reaches resolves
    events_per_opp = scenario.crm.adoption * (1.0 + float(reach.sum()))
    log_per_opp = events_per_opp * scenario.crm.minutes_per_update / 60.0
    focus = _focus(scenario, plan)
    inbound = t.inbound_per_week

    arrivals = max(plan.new_per_week, inbound)
    non_selling = r.hours_per_week * r.non_selling_share
    logging = log_per_opp * arrivals
    before_focus = max(r.hours_per_week - non_selling - logging, 0.0)
    selling = before_focus * focus
    deal = deal_per_opp * arrivals
    outbound = max(plan.new_per_week - inbound, 0.0)
    prospect = prospecting_hours(t, outbound)
    needed = deal + prospect
    with_extra = max(r.hours_per_week + r.max_extra_hours - non_selling - logging, 0.0) * focus

    # supported quota: the largest new-opportunity rate n with
    # (deal + focus·logging per opportunity)·n + prospecting(n − i) = focus·(H − non-selling)
    per_opp = deal_per_opp + focus * log_per_opp
    budget = focus * (r.hours_per_week - non_selling)
    rev_per_opp = plan.win_rate * plan.avg_won_amount
    if per_opp * inbound > budget:  # the leads alone overflow the week
        n_star = budget / per_opp
    else:
        # u = n − i solves per_opp·(u + i) + K·u ÷ (M − u) = budget (prospecting_hours with
        # K = (A·r + i) ÷ c), i.e. the smaller root of per_opp·u² − b·u + c0 = 0
        back = _returning(t)
        most = territory_max_outbound(t)
        k = (back + inbound) / t.contacts_per_hour
        b = per_opp * (most - inbound) + k + budget
        c0 = most * (budget - per_opp * inbound)
        u = 2.0 * c0 / (b + math.sqrt(max(b * b - 4.0 * per_opp * c0, 0.0)))
        n_star = inbound + u
    return Capacity(
        contracted_hours=r.hours_per_week,
        non_selling_hours=non_selling,
        logging_hours=logging,
        log_events_per_week=events_per_opp * arrivals,
        focus=focus,
        switching_hours=before_focus - selling,
        selling_hours=selling,
        arrivals_per_week=arrivals,
        deal_work_hours=deal,
        deal_hours_per_opportunity=deal_per_opp,
        inbound_per_week=inbound,
        outbound_needed=outbound,
        prospecting_hours=prospect,
        fresh_share=territory_fresh_share(t, prospect) if math.isfinite(prospect) else 0.0,
        territory_max_outbound=territory_max_outbound(t),
        hours_needed=needed,
        fits=bool(needed <= selling),
        utilisation=needed / selling if selling > 0 else (0.0 if needed == 0 else math.inf),
        extra_hours=r.max_extra_hours,
        fits_with_extra_hours=bool(needed <= with_extra),
        revenue_per_opportunity=rev_per_opp,
        supported_quota=n_star * DAYS_PER_YEAR / 7.0 * rev_per_opp,
    )


@dataclass(frozen=True)
class Plan:
    """A reverse-funnel plan for one rep, and its team and org totals.

    Attributes:
        quota: annual quota per rep.
        avg_won_amount: expected size of a won deal under the natural mix.
        win_rate: probability a new opportunity is won.
        wins_per_year: wins a rep needs to make quota.
        new_per_week: new opportunities a rep must open per week.
        cycle_days: mean days from creation to win (the lead time of prospecting).
        stages: per stage — conversion, cumulative conversion to won, opportunities needed per
            year, arrival rate, mean days, benchmark inventory and its value (per rep).
        coverage: pipeline coverage (next quarter) — the open pipeline's value at a quarter's
            start ÷ that quarter's quota (a fourth of the annual quota), here for the benchmark
            pipeline. The simulation reports the same quantity as ``pipeline_coverage``.
        coverage_needed: 1 ÷ win rate, the textbook coverage target.
        accounts_to_acquire: new-logo wins per rep per year implied by the plan.
        reps_per_team / teams: organisation size, for team and org totals.
        capacity: whether the plan fits the rep's week and the quota the week supports
            (:class:`Capacity`; computed when first asked for).
    """

    quota: float
    avg_won_amount: float
    win_rate: float
    wins_per_year: float
    new_per_week: float
    cycle_days: float
    stages: pd.DataFrame
    coverage: float
    coverage_needed: float
    accounts_to_acquire: float
    reps_per_team: int
    teams: int
    cells: pd.DataFrame = field(repr=False)
    stage_win_prob: np.ndarray = field(repr=False)
    stage_remaining_mean: np.ndarray = field(repr=False)
    stage_remaining_var: np.ndarray = field(repr=False)
    scenario: Scenario = field(repr=False)

    @cached_property
    def capacity(self) -> Capacity:
        """The plan against the rep's week: hours needed and available, the supported quota."""
        return _capacity(self.scenario, self)

    @property
    def new_per_day(self) -> float:
        """New opportunities per rep per day."""
        return self.new_per_week / 7.0

    @property
    def pipeline_value(self) -> float:
        """Benchmark open pipeline value per rep."""
        return float(self.stages["inventory_value"].sum())

    def p_close_within(self, stage: np.ndarray, days: np.ndarray | float) -> np.ndarray:
        """Probability that a deal now in ``stage`` finishes its walk within ``days``.

        Moment-matched gamma for the sum of the remaining stage durations (memoryless
        approximation for the stage in progress).
        """
        m = self.stage_remaining_mean
        v = self.stage_remaining_var
        k = m * m / v
        theta = v / m
        if np.ndim(days) == 0:  # one horizon for every deal: evaluate per stage, then index
            return special.gammainc(k, max(float(days), 0.0) / theta)[stage]
        return special.gammainc(k[stage], np.maximum(days, 0.0) / theta[stage])

    def summary(self) -> pd.DataFrame:
        """Per-rep, per-team and org figures side by side."""
        per_rep = {
            "quota": self.quota,
            "wins needed": self.wins_per_year,
            "average won deal": self.avg_won_amount,
            "win rate": self.win_rate,
            "new opportunities / week": self.new_per_week,
            "new opportunities / year": self.new_per_week * DAYS_PER_YEAR / 7.0,
            "cycle days (won)": self.cycle_days,
            "benchmark open deals": float(self.stages["inventory"].sum()),
            "benchmark pipeline value": self.pipeline_value,
            "pipeline coverage (next quarter)": self.coverage,
            "coverage needed (1 / win rate)": self.coverage_needed,
            "accounts to acquire": self.accounts_to_acquire,
        }
        ratio_rows = {
            "win rate",
            "cycle days (won)",
            "pipeline coverage (next quarter)",
            "coverage needed (1 / win rate)",
            "average won deal",
        }
        df = pd.DataFrame({"per rep": per_rep})
        df["per team"] = [v if k in ratio_rows else v * self.reps_per_team for k, v in per_rep.items()]
        df["organisation"] = [
            v if k in ratio_rows else v * self.reps_per_team * self.teams for k, v in per_rep.items()
        ]
        return df

    def capacity_summary(self) -> pd.DataFrame:
        """Does the plan fit the week? Per rep, hours a week unless the row says otherwise.

        Returns:
            One column, ``per rep``, indexed by plain-language rows; ``fits the week`` is a bool,
            ``utilisation`` and ``supported quota ÷ quota`` are ratios, quotas are annual.
        """
        c = self.capacity
        rows: dict[str, float | bool] = {
            "contracted hours": c.contracted_hours,
            "non-selling time (admin, meetings, travel)": c.non_selling_hours,
            "CRM logging": c.logging_hours,
            "switching between goals": c.switching_hours,
            "hours available for selling": c.selling_hours,
            "deal work the pipeline needs": c.deal_work_hours,
            "prospecting the plan needs": c.prospecting_hours,
            "hours needed": c.hours_needed,
            "fits the week": c.fits,
            "utilisation": c.utilisation,
            f"fits with {c.extra_hours:g} extra hours": c.fits_with_extra_hours,
            "new opportunities needed / week": self.new_per_week,
            "from marketing / week": c.inbound_per_week,
            "from prospecting / week": c.outbound_needed,
            "territory maximum from prospecting / week": c.territory_max_outbound,
            "quota the week supports": c.supported_quota,
            "supported quota ÷ quota": c.supported_quota / self.quota,
        }
        return pd.DataFrame({"per rep": pd.Series(rows, dtype=object)})

    def capacity_cells(
        self, money: Callable[[float], str], share: Callable[[float], str], space: str = " "
    ) -> list[tuple[str, str, bool]]:
        """:meth:`capacity_summary` as words: (row, value, whether it is a part of the row above).

        Args:
            money: formats a dollar amount.
            share: formats a ratio as a percentage.
            space: the space between a number and its unit.
        """
        taken = {"non-selling time (admin, meetings, travel)", "CRM logging", "switching between goals"}
        out = []
        for label, v in self.capacity_summary()["per rep"].items():
            name = str(label)
            if isinstance(v, bool | np.bool_):
                cell = "yes" if v else "no"
            elif name == "utilisation":
                cell = f"{100 * v:.0f}{space}% of the hours available" if np.isfinite(v) else "no hours left"
            elif name == "supported quota ÷ quota":
                cell = share(v)
            elif "quota" in name:
                cell = money(v)
            elif "/ week" in name:
                cell = f"{v:.2f}"
            elif not np.isfinite(v):
                cell = "beyond the territory"
            else:
                cell = f"−{v:.1f}{space}h" if name in taken else f"{v:.1f}{space}h"
            out.append((name, cell, name in taken or name.startswith("from ")))
        return out


def plan(scenario: Scenario | str) -> Plan:
    """Reverse-engineer the scenario's quota through its funnel.

    Args:
        scenario: a Scenario, or anything :func:`salessim.load_scenario` accepts.

    Returns:
        The per-rep plan with team and organisation totals.
    """
    if not isinstance(scenario, Scenario):
        from salessim.scenario import load_scenario

        scenario = load_scenario(scenario)
    f = scenario.funnel
    cells = cell_table(scenario)
    share = cells["share"].to_numpy()
    names = [s.name for s in f.stages]
    stage_p = cells[[f"p_{n}" for n in names]].to_numpy()  # cells × stages

    win = cells["win_prob"].to_numpy()
    win_rate = float(share @ win)
    avg_won = float((share * win) @ cells["mean_amount"].to_numpy() / win_rate)
    wins = scenario.organisation.quota / avg_won
    new_per_year = wins / win_rate

    n = len(names)
    # mix-weighted reach and conversion at each stage
    reach = np.ones((len(cells), n))
    for s in range(1, n):
        reach[:, s] = reach[:, s - 1] * stage_p[:, s - 1]
    reach_avg = share @ reach  # share of new deals that reach stage s
    conv = np.array([(share * reach[:, s] * stage_p[:, s]).sum() / reach_avg[s] for s in range(n)])
    to_won = np.array([win_rate / reach_avg[s] for s in range(n)])
    mean_days = np.array([s.mean_days for s in f.stages])
    var_days = np.array([(s.cv * s.mean_days) ** 2 for s in f.stages])
    arrivals_per_day = new_per_year / DAYS_PER_YEAR * reach_avg
    inventory = arrivals_per_day * mean_days
    # value of open deals in a stage: deals that reached it, weighted by amount
    amount = cells["mean_amount"].to_numpy()
    value_per_deal = np.array([(share * reach[:, s]) @ amount / reach_avg[s] for s in range(n)])
    stages_df = pd.DataFrame(
        {
            "stage": names,
            "conversion": conv,
            "to_won": to_won,
            "opportunities_per_year": new_per_year * reach_avg,
            "arrivals_per_week": arrivals_per_day * 7,
            "mean_days": mean_days,
            "inventory": inventory,
            "inventory_value": inventory * value_per_deal,
        }
    )
    cycle = float(mean_days.sum())
    remaining_mean = np.cumsum(mean_days[::-1])[::-1]
    remaining_var = np.cumsum(var_days[::-1])[::-1]
    new_logo_win_share = float((share * win)[cells["segment"].to_numpy() == "new_logo"].sum() / win_rate)
    quarter_quota = scenario.organisation.quota / 4
    return Plan(
        quota=scenario.organisation.quota,
        avg_won_amount=avg_won,
        win_rate=win_rate,
        wins_per_year=wins,
        new_per_week=new_per_year * 7.0 / DAYS_PER_YEAR,
        cycle_days=cycle,
        stages=stages_df,
        coverage=float(stages_df["inventory_value"].sum() / quarter_quota),
        coverage_needed=1.0 / win_rate,
        accounts_to_acquire=wins * new_logo_win_share,
        reps_per_team=scenario.organisation.span,
        teams=scenario.organisation.managers,
        cells=cells,
        stage_win_prob=to_won,
        stage_remaining_mean=remaining_mean,
        stage_remaining_var=remaining_var,
        scenario=scenario,
    )


class _GammaQuantiles:
    """Fast inverse CDF of the unit-mean gamma for a given CV: a table on the logit-u scale.

    Linear interpolation over 8,193 knots spanning u in [6e-6, 1 − 6e-6]; beyond that the exact
    quantile is used. Relative error < 1e-4 over the body of the distribution.
    """

    X = np.linspace(-12.0, 12.0, 8193)

    def __init__(self) -> None:
        self._tables: dict[float, np.ndarray] = {}
        self._slopes: dict[float, np.ndarray] = {}

    def table(self, cv: float) -> np.ndarray:
        t = self._tables.get(cv)
        if t is None:
            k = 1.0 / (cv * cv)
            t = special.gammaincinv(k, special.expit(self.X)) / k
            self._tables[cv] = t
        return t

    def slopes(self, cv: float) -> np.ndarray:
        """Each interval's slope, ``(fp[j + 1] − fp[j]) / (X[j + 1] − X[j])`` as np.interp takes it."""
        s = self._slopes.get(cv)
        if s is None:
            t = self.table(cv)
            s = (t[1:] - t[:-1]) / (self.X[1:] - self.X[:-1])
            self._slopes[cv] = s
        return s

    def __call__(self, u: np.ndarray, cv: float) -> np.ndarray:
        x = special.logit(u)
        out = (
            self._interp(x, self.table(cv), self.slopes(cv))
            if x.size >= 256
            else np.interp(x, self.X, self.table(cv))
        )
        tail = np.abs(x) > 12.0
        if tail.any():
            k = 1.0 / (cv * cv)
            out[tail] = special.gammaincinv(k, u[tail]) / k
        return out

    def _interp(self, x: np.ndarray, fp: np.ndarray, slope: np.ndarray) -> np.ndarray:
        """``np.interp(x, X, fp)``, value for value, finding each knot by arithmetic.

        The knots are evenly spaced, so each x's interval is read off directly (then nudged so
        that ``X[j] <= x < X[j + 1]``, as the binary search finds it) instead of searched for;
        the interpolation is numpy's own formula, with each interval's slope (``slope``, from
        :meth:`slopes`) worked out once per table.
        """
        xp = self.X
        last = xp.size - 1
        j = np.floor((x - xp[0]) * (last / (xp[-1] - xp[0])))
        j = np.minimum(np.maximum(np.nan_to_num(j, nan=0.0), 0.0), last - 1).astype(np.intp)
        j -= xp[j] > x
        j = np.maximum(j, 0)
        j += xp[j + 1] <= x
        j = np.minimum(j, last - 1)
        lo, xj = fp[j], xp[j]
        out = slope[j] * (x - xj) + lo
        out = np.where(xj == x, lo, out)
        out = np.where(x < xp[0], fp[0], out)
        return np.where(x >= xp[-1], fp[-1], out)


_GAMMA = _GammaQuantiles()


def gamma_quantile(u: np.ndarray, mean: np.ndarray | float, cv: np.ndarray | float) -> np.ndarray:
    """Gamma-distributed durations with the given mean and CV, by inverse CDF of uniforms."""
    u = np.atleast_1d(np.asarray(u, dtype=float))
    cv_arr = np.asarray(cv, dtype=float)
    if cv_arr.ndim == 0:
        return _GAMMA(u, float(cv_arr)) * mean
    cv_b = np.broadcast_to(cv_arr, u.shape)
    out = np.empty_like(u)
    for c in np.unique(cv_b):
        sel = cv_b == c
        out[sel] = _GAMMA(u[sel], float(c))
    return out * mean


def lognormal_quantile(u: np.ndarray, median: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Lognormal amounts with the given median and sigma, by inverse CDF of uniforms."""
    return median * np.exp(sigma * special.ndtri(u))
