"""What the goal designs report computes (``notebooks/goal_designs.ipynb``).

The report runs today's sales force under four goal plans — today's, fewer goals, more goals,
today's goals plus a tactical prescription — in one paired comparison (common random numbers),
and a smaller run that keeps the deal log. The functions here build the plans, turn the runs into
the report's tables (the plans side by side, attainment of each goal, the prospecting mix) and
compute the paired effects its findings rest on. Nothing here displays or writes anything.

Effects are paired differences against today's plan, replication by replication
(:func:`salessim.notebook_helpers.paired`): relative changes for revenue, percentage points for
shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from salessim.analysis.drivers_overview import scenario_mean
from salessim.experiments import variant_changes, variants_over
from salessim.notebook_helpers import (
    Effect,
    effect_columns,
    goal_attainment,
    goal_label,
    number_word,
    paired,
    per_replication,
    prospecting_mix,
    year_rows,
)
from salessim.scenario import Scenario

if TYPE_CHECKING:
    from salessim.results import Results

__all__ = [
    "LIBRARY",
    "PLANS",
    "VARIANTS",
    "PlanEffects",
    "PlanFrames",
    "goal_attainment_by_plan",
    "goal_order",
    "goal_table",
    "plan_effects",
    "plan_frames",
    "plan_labels",
    "plan_scenarios",
    "plans_numbers",
    "plans_table",
    "product_share",
    "prospecting_by_plan",
    "prospecting_shares",
]

#: The plans, today's first.
PLANS = ("baseline", "focused", "many", "prescription")
#: The plans compared with today's.
VARIANTS = PLANS[1:]
#: The library variant whose changes make each plan when no scenario is given for it.
LIBRARY = {"focused": "goals_focused", "many": "goals_many", "prescription": "prescription"}


def plan_scenarios(baseline: Scenario, given: Mapping[str, Scenario | None]) -> dict[str, Scenario]:
    """The four plans: today's, and each other plan as given or as the library's change of it.

    Args:
        baseline: the sales force and its plan today.
        given: a scenario given for a plan (``focused``, ``many``, ``prescription``); a plan
            missing or None is the library variant (:data:`LIBRARY`) laid over ``baseline``.

    Returns:
        Plan key (:data:`PLANS`) → scenario.

    Raises:
        ScenarioError: a library variant that is not valid over ``baseline``.
    """
    sc = {"baseline": baseline}
    for key, lib in LIBRARY.items():
        own = given.get(key)
        sc[key] = own if own is not None else variants_over(baseline, {lib: variant_changes(lib)})[0][0]
    return sc


def plan_labels(scenarios: Mapping[str, Scenario]) -> dict[str, str]:
    """Each plan as the report names it, by its number of goals: ``Four goals (today)``."""
    n = {k: number_word(len(s.goals.items)).capitalize() for k, s in scenarios.items()}
    return {
        "baseline": f"{n['baseline']} goals (today)",
        "focused": f"{n['focused']} goals",
        "many": f"{n['many']} goals",
        "prescription": f"{n['prescription']} goals + prescription",
    }


def product_share(deals: pd.DataFrame, product: str = "B") -> pd.DataFrame:
    """The share of new opportunities for one product, per scenario and simulated year.

    Returns:
        ``scenario``, ``replication``, ``product_b`` (the share, whatever the product).
    """
    return (
        deals.assign(product_b=lambda d: d["product"] == product)
        .groupby(["scenario", "replication"])["product_b"]
        .mean()
        .reset_index()
    )


@dataclass(frozen=True)
class PlanFrames:
    """Per-replication tables the plans are compared on (one row per scenario and replication).

    ``year``: the periods' year rows; ``composite``, ``attainment`` and ``p_make``: full-period
    reps' mean composite attainment, revenue attainment and own estimate of making quota;
    ``product_b``: product B's share of new opportunities (from the deal-log run).
    """

    year: pd.DataFrame
    composite: pd.DataFrame
    attainment: pd.DataFrame
    p_make: pd.DataFrame
    product_b: pd.DataFrame


def plan_frames(results: Results, deals: pd.DataFrame) -> PlanFrames:
    """The per-replication tables of a comparison's results and of a deal log (see :class:`PlanFrames`)."""
    reps = results.reps
    return PlanFrames(
        year=year_rows(results.periods),
        composite=per_replication(reps, "composite_attainment"),
        attainment=per_replication(reps, "attainment"),
        p_make=per_replication(reps, "p_make_quota"),
        product_b=product_share(deals),
    )


@dataclass(frozen=True)
class PlanEffects:
    """One plan's paired effects against today's.

    ``revenue`` is relative; the rest are differences in percentage points: composite and
    revenue attainment, share of reps at quota, turnover, share of hours selling, reps' own
    chance of making quota, product B's share of new opportunities.
    """

    revenue: Effect
    composite: Effect
    attainment: Effect
    at_quota: Effect
    turnover: Effect
    selling: Effect
    p_make: Effect
    mix_b: Effect


def plan_effects(frames: PlanFrames, baseline: str, variant: str) -> PlanEffects:
    """The paired effects of scenario ``variant`` against ``baseline`` (see :class:`PlanEffects`)."""
    y = frames.year
    return PlanEffects(
        revenue=paired(y, "revenue", baseline, variant, "rel"),
        composite=paired(frames.composite, "composite_attainment", baseline, variant, "pts"),
        attainment=paired(frames.attainment, "attainment", baseline, variant, "pts"),
        at_quota=paired(y, "pct_at_quota", baseline, variant, "pts"),
        turnover=paired(y, "turnover", baseline, variant, "pts"),
        selling=paired(y, "selling_time_share", baseline, variant, "pts"),
        p_make=paired(frames.p_make, "p_make_quota", baseline, variant, "pts"),
        mix_b=paired(frames.product_b, "product_b", baseline, variant, "pts"),
    )


def plans_table(
    scenarios: Mapping[str, Scenario],
    labels: Mapping[str, str],
    frames: PlanFrames,
    effects: Mapping[str, PlanEffects],
) -> pd.DataFrame:
    """The plans side by side (the page's table): one row per plan in :data:`PLANS` order.

    Levels are averages over simulated years (shares as fractions); ``revenue vs today`` is the
    paired relative change with its ``95 % CI`` as text (NaN and "" for today's plan).
    """
    rows = []
    for k in PLANS:
        n = scenarios[k].name
        e = effects.get(k)
        rows.append(
            {
                "plan": labels[k],
                "goals (weight)": ", ".join(
                    f"{goal_label(g)} {g.weight:.0%}" for g in scenarios[k].goals.items
                ),
                "team revenue": scenario_mean(frames.year, n, "revenue"),
                "revenue vs today": e.revenue.mean if e is not None else np.nan,
                "95 % CI": e.revenue.ci_range() if e is not None else "",
                "composite attainment": scenario_mean(frames.composite, n, "composite_attainment"),
                "revenue attainment": scenario_mean(frames.attainment, n, "attainment"),
                "reps at quota": scenario_mean(frames.year, n, "pct_at_quota"),
                "time selling": scenario_mean(frames.year, n, "selling_time_share"),
                "annual turnover": scenario_mean(frames.year, n, "turnover"),
            }
        )
    return pd.DataFrame(rows)


def plans_numbers(table: pd.DataFrame, effects: Mapping[str, PlanEffects]) -> pd.DataFrame:
    """The numbers behind :func:`plans_table` (``plans.csv``): the revenue change with its 95 % CI."""
    return pd.DataFrame(
        {
            "plan": table["plan"],
            "goals_and_weights": table["goals (weight)"],
            "revenue_usd": table["team revenue"],
            **effect_columns(
                "revenue_diff_rel", [effects[k].revenue if k in effects else None for k in PLANS]
            ),
            "composite_attainment": table["composite attainment"],
            "revenue_attainment": table["revenue attainment"],
            "pct_at_quota": table["reps at quota"],
            "selling_time_share": table["time selling"],
            "turnover": table["annual turnover"],
        }
    )


def goal_attainment_by_plan(
    deals: pd.DataFrame, reps: pd.DataFrame, scenarios: Mapping[str, Scenario], labels: Mapping[str, str]
) -> pd.DataFrame:
    """Each full-period rep's attainment of each of its plan's goals (second half of the year).

    :func:`salessim.notebook_helpers.goal_attainment` of every plan, with ``plan`` (its label).
    """
    att = pd.concat(
        [goal_attainment(deals, reps, s) for s in scenarios.values()],
        ignore_index=True,
    )
    by_name = {s.name: labels[k] for k, s in scenarios.items()}
    att["plan"] = att["scenario"].map(by_name)
    return att


def goal_table(attainment: pd.DataFrame) -> pd.DataFrame:
    """Per plan and goal: its ``weight``, the average ``attainment`` and the share ``at_target``.

    ``at_target``: the share of rep-years that reached the goal's target (attainment ≥ 1).
    """
    return (
        attainment.groupby(["plan", "goal"], observed=True)
        .agg(
            weight=("weight", "first"),
            attainment=("attainment", "mean"),
            at_target=("attainment", lambda s: float((s >= 1).mean())),
        )
        .reset_index()
    )


def goal_order(attainment: pd.DataFrame) -> list[str]:
    """The goals, heaviest weight (in any plan) first."""
    return list(dict.fromkeys(attainment.sort_values("weight", ascending=False)["goal"]))


def prospecting_by_plan(
    deals: pd.DataFrame, scenarios: Mapping[str, Scenario], labels: Mapping[str, str]
) -> pd.DataFrame:
    """Each plan's share of new opportunities per market cell.

    :func:`salessim.notebook_helpers.prospecting_mix` with ``plan`` (its label).
    """
    mix = prospecting_mix(deals)
    mix["plan"] = mix["scenario"].map({s.name: labels[k] for k, s in scenarios.items()})
    return mix


def prospecting_shares(mix: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """:func:`prospecting_by_plan` wide: one row per plan (in ``order``), one column per cell."""
    return mix.pivot_table(index="plan", columns="cell", values="share").reindex(order)
