"""What a simulated year costs, and what a lever returns per dollar it costs.

Costs are priced *after* a run, from what its ``periods`` table records, at the prices of the
scenario's ``costs`` section (:class:`salessim.scenario.Costs`); nothing here changes what is
simulated. A year's cost is the sum of these components (USD):

* ``rep_pay`` — reps' base pay, benefits and overhead while in seat (mean weekly headcount ×
  ``rep_loaded_cost_per_year`` × the period's share of a year), less the part paid for CRM
  logging, which is its own line;
* ``crm_logging`` — reps' hours logging deals in the CRM × a rep's hourly cost
  (``rep_loaded_cost_per_year`` ÷ (``rep_working_weeks`` × ``reps.hours_per_week``)). This is paid
  time moved from selling to logging: it adds nothing to the total, which already pays the rep;
  the sales it displaces are in the simulated revenue;
* ``hiring`` — reps hired × ``hiring_per_hire``;
* ``crm_licences`` — a licence for every rep seat and every manager, filled or not;
* ``training_fees`` — managers who start the leadership programme × ``training_per_manager``;
* ``manager_joint_calls``, ``manager_reviews``, ``manager_hiring``, ``manager_training`` —
  managers' hours on joint calls, on reviews and corrective plans, on hiring interviews and away
  at the programme, as their weekly ledgers granted them, × ``manager_hour_rate``. A manager is
  paid either way: the price is that of the manager's other work the hours displace.

Against the cost stands the ``margin``: revenue × ``gross_margin`` (what is left of a sale after
delivering it and paying its commission), and ``margin_less_cost`` = margin − cost.

A lever's **return on cost** is its extra margin per extra dollar of cost (Δmargin ÷ Δcost, paired
against the baseline), given only where the lever clearly costs more (:func:`return_on_cost`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from salessim.model.clock import Clock
from salessim.scenario import Scenario
from salessim.stats import paired_diff_ci

__all__ = [
    "COMPONENTS",
    "COST_COLUMNS",
    "FOLLOWS",
    "GROUPS",
    "component_diffs",
    "cost_table",
    "rep_hour_cost",
    "return_on_cost",
]

#: Cost components: column → what it pays for (in tables and reports).
COMPONENTS: dict[str, str] = {
    "rep_pay": "reps' pay while in seat (besides CRM logging)",
    "crm_logging": "reps' time logging deals in the CRM",
    "hiring": "recruiting the reps hired",
    "crm_licences": "CRM licences",
    "training_fees": "leadership programme fees",
    "manager_joint_calls": "managers' hours on joint calls",
    "manager_reviews": "managers' hours on reviews and corrective plans",
    "manager_hiring": "managers' hours interviewing",
    "manager_training": "managers' days away at training",
}
#: Components grouped into the lines a reader sees: first what a lever buys (manager time, training,
#: the CRM), then what follows from who stays and who leaves (:data:`FOLLOWS`).
GROUPS: dict[str, tuple[str, ...]] = {
    "manager time on joint calls": ("manager_joint_calls",),
    "manager time on reviews": ("manager_reviews",),
    "training (fees and days away)": ("training_fees", "manager_training"),
    "CRM licences": ("crm_licences",),
    "reps' time logging in the CRM": ("crm_logging",),
    "reps' pay (seats filled)": ("rep_pay",),
    "recruiting and interviews": ("hiring", "manager_hiring"),
}
#: Lines of :data:`GROUPS` that no lever buys: they follow from reps leaving and seats standing
#: empty (fewer leavers: less recruiting, more seats filled and paid).
FOLLOWS = ("reps' pay (seats filled)", "recruiting and interviews")
#: Columns of :func:`cost_table` after the context columns.
COST_COLUMNS = (*COMPONENTS, "cost", "revenue", "margin", "margin_less_cost")
#: ``periods`` columns the costs are priced from.
NEEDED = (
    "headcount",
    "revenue",
    "coaching_hours",
    "hires",
    "manager_review_hours",
    "manager_hiring_hours",
    "manager_training_hours",
    "managers_trained",
    "crm_logging_hours",
)


def rep_hour_cost(scenario: Scenario) -> float:
    """A rep's loaded cost per working hour, USD."""
    c = scenario.costs
    return c.rep_loaded_cost_per_year / (c.rep_working_weeks * scenario.reps.hours_per_week)


def _period_days(scenario: Scenario, period: pd.Series) -> np.ndarray:
    """Days of each period row: a quarter or a year of the scenario's reported horizon."""
    clock = Clock(float(scenario.simulation.warmup_days), float(scenario.simulation.horizon_days))
    return np.where(period.to_numpy() == "year", clock.year_days, clock.Q)


def _planned_seats(scenario: Scenario, rows: pd.DataFrame) -> np.ndarray:
    """Seats of ``hiring.plan`` licensed in each period row.

    Each opening is licensed from its day on: a seat opened mid-period counts for the part of the
    period it is open.
    """
    plan = scenario.hiring.plan
    if not plan:
        return np.zeros(len(rows))
    clock = Clock(float(scenario.simulation.warmup_days), float(scenario.simulation.horizon_days))
    year = rows["year"].to_numpy(dtype=float)
    period = rows["period"].to_numpy()
    quarter = np.array([int(p[1]) if str(p).startswith("Q") else 0 for p in period], dtype=float)
    start = (year - 1) * clock.year_days + np.where(quarter > 0, (quarter - 1) * clock.Q, 0.0)
    length = np.where(quarter > 0, clock.Q, clock.year_days)
    open_share = np.zeros(len(rows))
    for opening in plan:
        open_share += opening.reps * np.clip((start + length - opening.day) / length, 0.0, 1.0)
    return open_share


def cost_table(
    periods: pd.DataFrame, scenarios: Scenario | Mapping[str, Scenario], period: str | None = "year"
) -> pd.DataFrame:
    """What each replication's periods cost, by component, and the margin they earned (USD).

    Args:
        periods: a ``periods`` table (one or more scenarios, replications and years).
        scenarios: the scenario whose ``costs`` prices the rows, or one per scenario name.
        period: keep only these rows (``"year"``: one row per replication and reported year);
            None keeps every row, quarters included.

    Returns:
        ``scenario``, ``replication``, ``year``, ``period``, then :data:`COST_COLUMNS`: each
        component, their sum ``cost``, ``revenue``, ``margin`` (revenue × gross margin) and
        ``margin_less_cost``.

    Raises:
        ValueError: ``periods`` lacks a column the costs need (a table written before they were
            recorded), or a scenario of the table has no scenario given.
    """
    missing = [c for c in NEEDED if c not in periods]
    if missing:
        raise ValueError(
            f"the periods table has no {', '.join(missing)}: it was written before "
            "salessim recorded what costs are priced from; run it again"
        )
    p = periods if period is None else periods[periods["period"] == period]
    if "year" not in p:
        p = p.assign(year=1)
    parts = []
    for name, rows in p.groupby("scenario", sort=False):
        sc = scenarios if isinstance(scenarios, Scenario) else scenarios.get(str(name))
        if sc is None:
            raise ValueError(f"no scenario given for {name!r}: its costs cannot be priced")
        parts.append(_price(rows, sc))
    cols = ["scenario", "replication", "year", "period", *COST_COLUMNS]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts).loc[p.index, cols].reset_index(drop=True)


def _price(rows: pd.DataFrame, sc: Scenario) -> pd.DataFrame:
    """The cost columns of one scenario's period rows."""
    c = sc.costs
    share_of_year = _period_days(sc, rows["period"]) / 365.0

    def col(name: str) -> np.ndarray:
        return rows[name].to_numpy(dtype=float)

    logging = col("crm_logging_hours") * rep_hour_cost(sc)
    seats = sc.organisation.managers * (sc.organisation.span + 1) + _planned_seats(sc, rows)
    out = {
        "rep_pay": col("headcount") * c.rep_loaded_cost_per_year * share_of_year - logging,
        "crm_logging": logging,
        "hiring": col("hires") * c.hiring_per_hire,
        "crm_licences": seats * c.crm_seat_per_year * share_of_year,
        "training_fees": col("managers_trained") * c.training_per_manager,
        "manager_joint_calls": col("coaching_hours") * c.manager_hour_rate,
        "manager_reviews": col("manager_review_hours") * c.manager_hour_rate,
        "manager_hiring": col("manager_hiring_hours") * c.manager_hour_rate,
        "manager_training": col("manager_training_hours") * c.manager_hour_rate,
    }
    frame = pd.DataFrame(out, index=rows.index)
    frame["cost"] = frame[list(COMPONENTS)].sum(axis=1)
    frame["revenue"] = col("revenue")
    frame["margin"] = frame["revenue"] * c.gross_margin
    frame["margin_less_cost"] = frame["margin"] - frame["cost"]
    for k in ("scenario", "replication", "year", "period"):
        frame[k] = rows[k].to_numpy()
    return frame


def return_on_cost(
    gain: float, cost: float, cost_low: float = np.nan, cost_high: float = np.nan
) -> tuple[float, str]:
    """A lever's extra margin per extra dollar of cost, and a verdict in words.

    Dividing by a change of cost that may be nothing would rank noise first, so the ratio is
    given only where the lever clearly costs more: its paired 95 % interval of Δcost lies above
    0 (with no interval — one replication — where Δcost itself is above 0).

    Args:
        gain: Δmargin against the baseline (USD; revenue × gross margin).
        cost: Δcost against the baseline (USD).
        cost_low, cost_high: the 95 % interval of Δcost (NaN: none).

    Returns:
        ``(ratio, verdict)``: ``ratio`` = gain ÷ cost where the lever clearly costs more, else
        NaN; ``verdict`` one of "pays back" (ratio ≥ 1), "returns less than it costs"
        (0 ≤ ratio < 1), "costs more and earns less" (ratio < 0), "saves money" (Δcost clearly
        below 0), "no clear change in cost" (an interval that straddles 0, or Δcost = 0), or
        "" when ``cost`` is not a number.
    """
    if not np.isfinite(cost):
        return np.nan, ""
    has_ci = np.isfinite(cost_low) and np.isfinite(cost_high)
    costs_more = cost_low > 0 if has_ci else cost > 0
    saves = cost_high < 0 if has_ci else cost < 0
    if saves:
        return np.nan, "saves money"
    if not costs_more:
        return np.nan, "no clear change in cost"
    ratio = gain / cost
    if not np.isfinite(ratio):
        return np.nan, ""
    if ratio >= 1:
        return ratio, "pays back"
    return ratio, ("returns less than it costs" if ratio >= 0 else "costs more and earns less")


def component_diffs(
    costs: pd.DataFrame, baseline: str, year: int = 1, groups: Mapping[str, tuple[str, ...]] | None = None
) -> pd.DataFrame:
    """Each variant's change in every cost component against the baseline, paired (USD a year).

    Unbundles a variant that changes several things at once: what each part of it costs.

    Args:
        costs: a :func:`cost_table` of year rows, baseline and variants, the same replications.
        baseline: the baseline scenario's name.
        year: the reported year.
        groups: component columns summed into named lines (default: each component on its own).

    Returns:
        One row per variant and line: ``scenario``, ``component``, ``label``, ``baseline``
        (the baseline's mean), ``diff`` and its paired 95 % CI ``diff_ci_low``, ``diff_ci_high``.
    """
    lines = groups if groups is not None else {k: (k,) for k in COMPONENTS}
    y = costs[(costs["year"] == year) & (costs["period"] == "year")]
    base = y[y["scenario"] == baseline].set_index("replication")
    rows: list[dict[str, Any]] = []
    for name in y["scenario"].unique():
        if name == baseline:
            continue
        v = y[y["scenario"] == name].set_index("replication")
        for line, cols in lines.items():
            pair = pd.concat(
                [v[list(cols)].sum(axis=1), base[list(cols)].sum(axis=1)], axis=1, keys=["v", "b"]
            ).dropna()
            d = paired_diff_ci(pair["v"].to_numpy(float), pair["b"].to_numpy(float))
            rows.append(
                {
                    "scenario": name,
                    "component": line,
                    "label": COMPONENTS.get(line, line),
                    "baseline": float(pair["b"].mean()) if len(pair) else np.nan,
                    "diff": d.mean,
                    "diff_ci_low": d.low,
                    "diff_ci_high": d.high,
                }
            )
    return pd.DataFrame(
        rows, columns=["scenario", "component", "label", "baseline", "diff", "diff_ci_low", "diff_ci_high"]
    )
