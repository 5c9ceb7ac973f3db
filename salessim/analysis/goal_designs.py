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

from salessim.experiments import variant_changes, variants_over
from salessim.notebook_helpers import (
    ACCENT,
    GOOD,
    GREY,
    Effect,
    effect_columns,
    goal_attainment,
    goal_label,
    number_word,
    paired,
    per_replication,
    prospecting_mix,
    scenario_mean,
    year_rows,
)
from salessim.scenario import Scenario

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from salessim.results import Results

__all__ = [
    "LIBRARY",
    "PLANS",
    "PLAN_COLOURS",
    "VARIANTS",
    "PlanEffects",
    "PlanFrames",
    "attainment_spread_figure",
    "effects_figure",
    "goal_attainment_by_plan",
    "goal_attainment_figure",
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
    "prospecting_figure",
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


# ------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------
#: One colour per plan, in :data:`PLANS` order: today grey, fewer goals green, more goals
#: yellow, the prescription dark.
PLAN_COLOURS = (GREY, GOOD, "#e9c46a", ACCENT)


def effects_figure(labels: Mapping[str, str], effects: Mapping[str, PlanEffects], title: str) -> Figure:
    """Each plan's paired effect on team revenue and on the share of reps at quota, side by side."""
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import effect_chart

    keys = [k for k in VARIANTS if k in effects]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, what, xlabel, title_ in (
        (axes[0], "revenue", "change in team revenue vs today (%)", "Team revenue"),
        (axes[1], "at_quota", "change in reps at quota (percentage points)", "Share of reps at quota"),
    ):
        effect_chart(ax, [labels[k] for k in keys], [getattr(effects[k], what) for k in keys], xlabel=xlabel)
        ax.set_title(title_)
    fig.suptitle(title, x=0.01, ha="left", fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig


def goal_attainment_figure(table: pd.DataFrame, goals: list[str], plans: list[str], title: str) -> Figure:
    """Average attainment of each goal's target, a bar per plan (a plan without the goal has none).

    Args:
        table: :func:`goal_table`.
        goals: the goals in order (:func:`goal_order`).
        plans: the plans' labels in :data:`PLANS` order.
        title: the chart's title.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    gt = table.assign(**{"attainment %": 100 * table["attainment"]})
    fig, ax = plt.subplots(figsize=(11, 4.4))
    sns.barplot(
        data=gt,
        x="goal",
        y="attainment %",
        hue="plan",
        order=goals,
        hue_order=plans,
        palette=list(PLAN_COLOURS[: len(plans)]),
        ax=ax,
    )
    ax.axhline(100, color="#333", lw=1, ls="--")
    ax.text(len(goals) - 0.5, 101.5, "target", ha="right", va="bottom", fontsize=9.5)
    ax.set_xlabel("")
    ax.set_xticks(range(len(goals)))
    ax.set_xticklabels([g.replace(" ", "\n", 1) if len(g) > 10 else g for g in goals])
    ax.set_ylabel("average attainment of target (%)")
    ax.set_ylim(0, max(100, gt["attainment %"].max()) * 1.25)
    ax.legend(title="", ncol=4, loc="upper center", bbox_to_anchor=(0.5, 1.0))
    ax.set_title(title)
    return fig


def attainment_spread_figure(
    reps: pd.DataFrame,
    plan_of: Mapping[str, str],
    plans: list[str],
    at_quota: Mapping[str, float],
    title: str,
) -> Figure:
    """How revenue attainment is spread across full-period reps, a violin per plan.

    Args:
        reps: the comparison's ``reps`` table (its year rows are drawn, capped at 300 %).
        plan_of: scenario name → plan label.
        plans: the plans' labels, top to bottom.
        at_quota: plan label → share of reps at quota (written beside its violin).
        title: the chart's title.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from salessim.notebook_helpers import fmt_pct

    yr = reps[(reps["period"] == "year") & reps["full_period"]].copy()
    yr["plan"] = yr["scenario"].map(plan_of)
    yr["attainment %"] = (100 * yr["attainment"]).clip(upper=300)
    fig, ax = plt.subplots(figsize=(11, 4.2))
    sns.violinplot(
        data=yr,
        x="attainment %",
        y="plan",
        order=plans,
        cut=0,
        inner="quartile",
        palette=list(PLAN_COLOURS[: len(plans)]),
        hue="plan",
        legend=False,
        ax=ax,
        density_norm="width",
    )
    ax.axvline(100, color="#333", lw=1.2, ls="--")
    for i, p in enumerate(plans):
        ax.text(302, i, f"{fmt_pct(at_quota[p], 0)} at quota", va="center", fontsize=10)
    ax.set_xlim(0, 360)
    ax.set_xlabel("revenue attainment, % of annual quota (full-period reps; capped at 300 %)")
    ax.set_ylabel("")
    ax.set_title(title)
    return fig


def prospecting_figure(shares: pd.DataFrame, title: str) -> Figure:
    """Each plan's new opportunities split by market cell, one stacked bar per plan.

    Args:
        shares: :func:`prospecting_shares` (a row per plan, a column per cell).
        title: the chart's title.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(11, 3.6))
    left = np.zeros(len(shares))
    colors = sns.color_palette("Set2", len(shares.columns))
    for c, col in zip(shares.columns, colors, strict=True):
        vals = shares[c].to_numpy()
        ax.barh(range(len(shares)), 100 * vals, left=100 * left, color=col, label=c)
        for i, (l_, v) in enumerate(zip(left, vals, strict=True)):
            if v > 0.06:
                ax.text(100 * (l_ + v / 2), i, f"{100 * v:.0f} %", ha="center", va="center", fontsize=9.5)
        left += vals
    ax.set_yticks(range(len(shares)))
    ax.set_yticklabels(shares.index)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of new opportunities (%)")
    ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    ax.grid(axis="y", visible=False)
    ax.set_title(title)
    return fig
