"""Driver 3 — pipeline metrics: what a manager can see of a rep's year and a team's quarter.

``metrics`` picks the view (:data:`ESTIMATES` for reviews, :data:`FORECASTS` for the quarterly
forecast):

* ``outcomes`` — only closed revenue: the year so far plus the trailing year's pace;
* ``pipeline`` — the CRM-logged open pipeline at the plan's average conversion, plus the plan's
  new deals;
* ``stage`` — each logged deal at the stage-to-won odds the rep (or team) has shown in the CRM
  over the last year, plus new deals at the rate the first stage's inventory implies.

With pipeline or stage metrics a manager also sees a falling-behind rep between reviews, at every
quarter's forecast call (:func:`pipeline_checks`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from salessim.drivers import reviews
from salessim.drivers.crm import gross_up
from salessim.funnel import Plan

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "DIAGNOSES",
    "ESTIMATES",
    "FORECASTS",
    "METRIC_SIGNAL",
    "CrmDeals",
    "RepView",
    "TeamView",
    "pipeline_checks",
    "stage_counts",
    "stage_to_won",
    "weakest_stage",
]

#: how much each kind of metric shows of the selling process (a culture signal)
METRIC_SIGNAL = {"outcomes": 0.0, "pipeline": 0.5, "stage": 1.0}
PRIOR_DEALS = 10.0  # weight of the benchmark conversion in a stage estimate, in deals per stage


@dataclass(frozen=True)
class CrmDeals:
    """The open deals logged in the CRM for some units (reps or teams), aligned arrays."""

    unit: np.ndarray  # each deal's unit, 0 … units − 1
    amount: np.ndarray
    stage: np.ndarray
    units: int
    adoption: float  # share of deals logged (what is counted is grossed up by it)


@dataclass(frozen=True)
class RepView:
    """What a manager has in hand to estimate each of some reps' fiscal year at a review."""

    plan: Plan
    rem: float  # days left in the fiscal year
    ytd: np.ndarray  # revenue won so far this fiscal year, per rep
    crm: CrmDeals
    ratio_pipeline: float  # the plan's value-weighted win probability of open pipeline
    value_per_new: float  # the plan's expected won value of a new opportunity
    trailing_rate: Callable[[], np.ndarray]  # won revenue per day in seat over the trailing year
    to_won: Callable[[], np.ndarray]  # reps × stages: stage-to-won odds seen in the CRM


@dataclass(frozen=True)
class TeamView:
    """What a manager has in hand to forecast the coming quarter's team revenue."""

    plan: Plan
    horizon: float  # days in the quarter
    crm: CrmDeals
    reps: np.ndarray  # seated reps per team
    ratio_pipeline: float
    value_per_new: float
    in_quarter_factor: float  # in-quarter revenue of future deals per unit of arrival rate
    last_quarter: Callable[[], np.ndarray]  # won revenue per team in the quarter just ended
    to_won: Callable[[], np.ndarray]  # teams × stages: stage-to-won odds seen in the CRM


def outcomes_estimate(v: RepView) -> np.ndarray:
    """The year so far plus the trailing year's pace for the days left."""
    return v.ytd + v.trailing_rate() * v.rem


def pipeline_estimate(v: RepView) -> np.ndarray:
    """The year so far, the logged pipeline at the plan's odds, and the plan's future deals."""
    p, c = v.plan, v.crm
    value = gross_up(np.bincount(c.unit, weights=c.amount, minlength=c.units), c.adoption)
    pipe = value * v.ratio_pipeline * min(1.0, v.rem / p.cycle_days)
    future = p.new_per_day * max(0.0, v.rem - p.cycle_days) * v.value_per_new
    return v.ytd + pipe + future


def stage_estimate(v: RepView) -> np.ndarray:
    """The year so far, each logged deal at the rep's own stage odds, and future deals.

    The rep's arrival rate is read backwards from the first stage's inventory (Little's law).
    """
    p, c = v.plan, v.crm
    to_won = v.to_won()
    w = to_won[c.unit, c.stage] * p.p_close_within(c.stage, v.rem)
    pipe = gross_up(np.bincount(c.unit, weights=c.amount * w, minlength=c.units), c.adoption)
    top = gross_up(np.bincount(c.unit[c.stage == 0], minlength=c.units), c.adoption)
    rate_hat = top / p.stages["mean_days"].iloc[0]  # Little's law read backwards
    value_new = to_won[:, 0] * p.avg_won_amount
    future = rate_hat * max(0.0, v.rem - p.cycle_days) * value_new
    return v.ytd + pipe + future


def outcomes_forecast(v: TeamView) -> np.ndarray:
    """Next quarter will be like the last one."""
    return v.last_quarter()


def pipeline_forecast(v: TeamView) -> np.ndarray:
    """The logged pipeline at the plan's odds plus the plan's new deals closing in the quarter."""
    p, c = v.plan, v.crm
    value = gross_up(np.bincount(c.unit, weights=c.amount, minlength=c.units), c.adoption)
    pipe = value * v.ratio_pipeline * min(1.0, v.horizon / p.cycle_days)
    return pipe + v.reps * p.new_per_day * v.in_quarter_factor * v.value_per_new


def stage_forecast(v: TeamView) -> np.ndarray:
    """Each logged deal at the team's stage odds plus new deals at the team's observed rate."""
    p, c = v.plan, v.crm
    to_won = v.to_won()
    w = to_won[c.unit, c.stage] * p.p_close_within(c.stage, v.horizon)
    pipe = gross_up(np.bincount(c.unit, weights=c.amount * w, minlength=c.units), c.adoption)
    top = gross_up(np.bincount(c.unit[c.stage == 0], minlength=c.units), c.adoption)
    rate_hat = top / p.stages["mean_days"].iloc[0]
    return pipe + rate_hat * v.in_quarter_factor * to_won[:, 0] * p.avg_won_amount


#: ``metrics`` → a manager's estimate of each rep's fiscal year (reviews, forecast calls)
ESTIMATES: dict[str, Callable[[RepView], np.ndarray]] = {
    "outcomes": outcomes_estimate,
    "pipeline": pipeline_estimate,
    "stage": stage_estimate,
}
#: ``metrics`` → whether a review names the stage a flagged rep is weakest at: only stage metrics
#: show conversion by stage; without them a corrective plan names none, and the manager joins the
#: rep's most advanced deal
DIAGNOSES: dict[str, bool] = {"outcomes": False, "pipeline": False, "stage": True}
#: ``metrics`` → a manager's forecast of the coming quarter's team revenue
FORECASTS: dict[str, Callable[[TeamView], np.ndarray]] = {
    "outcomes": outcomes_forecast,
    "pipeline": pipeline_forecast,
    "stage": stage_forecast,
}


def stage_counts(
    key: np.ndarray, reached: np.ndarray, units: int, stages: int
) -> tuple[np.ndarray, np.ndarray]:
    """Resolved deals that reached each stage, and those that passed it (units × stages).

    Args:
        key: each resolved deal's unit (rep or team).
        reached: the stage each was lost at (the number of stages when won).
    """
    attempts = np.zeros((units, stages))
    passes = np.zeros((units, stages))
    for s_ in range(stages):
        attempts[:, s_] = np.bincount(key[reached >= s_], minlength=units)
        passes[:, s_] = np.bincount(key[reached > s_], minlength=units)
    return attempts, passes


def weakest_stage(
    attempts: np.ndarray,
    passes: np.ndarray,
    team_attempts: np.ndarray,
    team_passes: np.ndarray,
    bench: np.ndarray,
    prior: float = PRIOR_DEALS,
) -> np.ndarray:
    """The stage where each rep's logged conversion falls furthest below their team's.

    Each rep's pass rate per stage is shrunk toward the team's (itself shrunk toward the plan's
    ``bench``) with a weight of ``prior`` deals, and compared on the log-odds scale: with few
    logged deals the estimate stays near the team's and the named stage is close to a guess;
    with many it finds the rep's real weak spot. Rows: reps; ``team_*`` rows: each rep's team.
    """
    team = (team_passes + prior * bench) / (team_attempts + prior)
    rep = (passes + prior * team) / (attempts + prior)
    eps = 1e-6
    rep = np.clip(rep, eps, 1 - eps)
    team = np.clip(team, eps, 1 - eps)
    gap = np.log(rep / (1 - rep)) - np.log(team / (1 - team))
    return np.argmin(gap, axis=1)


def stage_to_won(
    key: np.ndarray, reached: np.ndarray, units: int, bench: np.ndarray, prior: float = PRIOR_DEALS
) -> np.ndarray:
    """Stage-to-won probabilities per unit from resolved deals (units × stages).

    Args:
        key: each resolved deal's unit (rep or team).
        reached: the stage each was lost at (the number of stages when won).
        units: number of units.
        bench: the plan's conversion of each stage, toward which each estimate is shrunk with a
            weight of ``prior`` deals.
    """
    attempts, passes = stage_counts(key, reached, units, bench.size)
    rate = (passes + prior * bench) / (attempts + prior)
    return np.cumprod(rate[:, ::-1], axis=1)[:, ::-1]


def pipeline_checks(sf: SalesForce) -> Iterator[Any]:
    """Process: forecast calls every quarter: with pipeline or stage metrics, gaps show between reviews.

    Outcome-only managers have nothing to look at until the review; managers who measure the
    pipeline see a falling-behind rep at the next forecast call.
    """
    if sf.sc.metrics == "outcomes":
        return
    for t in sf.clock.calendar(sf.Q):
        yield sf.env.timeout(t - sf.env.now)
        reviews.assess(sf, np.arange(sf.M), formal=False)
