"""Funnel math: the tactical prescription and the benchmark pipeline.

See docs/model.md#the-reverse-funnel-and-the-benchmark-pipeline.

Reverse-engineers a quota through the funnel — wins needed, opportunities needed at each stage, new
opportunities per week — and gives the benchmark pipeline by Little's law (inventory = arrival rate ×
mean time in stage). The model uses the same numbers for prescribed plans, stage metrics and
forecasts, so the spreadsheet view and the simulation agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product as cartesian

import numpy as np
import pandas as pd
from scipy import special

from salessim.scenario import Scenario

__all__ = ["Plan", "cell_table", "plan"]

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
        rows.append({
            "segment": sname, "product": pname, "share": seg.share * prod.share,
            "logit_offset": offset, "mean_amount": mean_amount,
            "win_prob": float(np.prod(stage_p)),
            **{f"p_{s.name}": float(p) for s, p in zip(f.stages, stage_p, strict=True)},
        })
    return pd.DataFrame(rows)


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
            "quota": self.quota, "wins needed": self.wins_per_year,
            "average won deal": self.avg_won_amount, "win rate": self.win_rate,
            "new opportunities / week": self.new_per_week,
            "new opportunities / year": self.new_per_week * DAYS_PER_YEAR / 7.0,
            "cycle days (won)": self.cycle_days,
            "benchmark open deals": float(self.stages["inventory"].sum()),
            "benchmark pipeline value": self.pipeline_value,
            "pipeline coverage (next quarter)": self.coverage,
            "coverage needed (1 / win rate)": self.coverage_needed,
            "accounts to acquire": self.accounts_to_acquire,
        }
        ratio_rows = {"win rate", "cycle days (won)", "pipeline coverage (next quarter)",
                      "coverage needed (1 / win rate)", "average won deal"}
        df = pd.DataFrame({"per rep": per_rep})
        df["per team"] = [v if k in ratio_rows else v * self.reps_per_team
                          for k, v in per_rep.items()]
        df["organisation"] = [v if k in ratio_rows else v * self.reps_per_team * self.teams
                              for k, v in per_rep.items()]
        return df


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
    stages_df = pd.DataFrame({
        "stage": names,
        "conversion": conv,
        "to_won": to_won,
        "opportunities_per_year": new_per_year * reach_avg,
        "arrivals_per_week": arrivals_per_day * 7,
        "mean_days": mean_days,
        "inventory": inventory,
        "inventory_value": inventory * value_per_deal,
    })
    cycle = float(mean_days.sum())
    remaining_mean = np.cumsum(mean_days[::-1])[::-1]
    remaining_var = np.cumsum(var_days[::-1])[::-1]
    new_logo_win_share = float((share * win)[cells["segment"].to_numpy() == "new_logo"].sum()
                               / win_rate)
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
    )


class _GammaQuantiles:
    """Fast inverse CDF of the unit-mean gamma for a given CV: a table on the logit-u scale.

    Linear interpolation over 8,193 knots spanning u in [6e-6, 1 − 6e-6]; beyond that the exact
    quantile is used. Relative error < 1e-4 over the body of the distribution.
    """

    X = np.linspace(-12.0, 12.0, 8193)

    def __init__(self) -> None:
        self._tables: dict[float, np.ndarray] = {}

    def table(self, cv: float) -> np.ndarray:
        t = self._tables.get(cv)
        if t is None:
            k = 1.0 / (cv * cv)
            t = special.gammaincinv(k, special.expit(self.X)) / k
            self._tables[cv] = t
        return t

    def __call__(self, u: np.ndarray, cv: float) -> np.ndarray:
        x = special.logit(u)
        out = np.interp(x, self.X, self.table(cv))
        tail = np.abs(x) > 12.0
        if tail.any():
            k = 1.0 / (cv * cv)
            out[tail] = special.gammaincinv(k, u[tail]) / k
        return out


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

