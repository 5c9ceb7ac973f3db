"""What the CRM calibration report computes: the export's quality, its funnel, and the model's.

The report (``notebooks/crm_calibration.ipynb``) reads a CRM export into one row per opportunity
(:data:`REQUIRED` columns; ``stage_reached`` named as the scenario's stages, or ``won``), simulates
years of the scenario with their deal logs, and sets the two side by side. Every deal log, the
export's and each simulated year's, is measured by :func:`deal_log_stats`, which reads the win rate,
stage conversions (open deals censored), median won cycle and won amount with the calibration's own
estimators (:func:`salessim.calibrate.funnel_stats`), so the report and ``salessim calibrate``
measure a funnel the same way. :func:`analyse` gathers every table and statistic the report shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from salessim.calibrate import Calibration, funnel_stats
from salessim.crm import Opportunities, quality_checks
from salessim.funnel import plan
from salessim.notebook_helpers import (
    ACCENT,
    BAD,
    GREY,
    figure_note,
    fmt_days,
    fmt_money,
    fmt_pct,
)
from salessim.scenario import Scenario

__all__ = [
    "ESTIMATE_FORMATS",
    "ITERATION_FORMATS",
    "REQUIRED",
    "SIZE_FORMATS",
    "CrmAnalysis",
    "CycleFit",
    "ExportSummary",
    "analyse",
    "check_columns",
    "clean_deals",
    "comparison_table",
    "conversion_figure",
    "days_between",
    "deal_log_stats",
    "deal_size_fit",
    "distributions_figure",
    "estimates_table",
    "export_summary",
    "first_half_won_cycles",
    "fit_gamma_cycle",
    "iterations_table",
    "match_stages",
    "num4",
    "observed_from_export",
    "observed_from_simulation",
    "rename_to_scenario_stages",
    "stage_conversion_fit",
    "year_stats",
]

#: The columns of the observed table (one row per opportunity).
REQUIRED = [
    "opportunity_id",
    "rep_id",
    "segment",
    "product",
    "amount",
    "created_at",
    "closed_at",
    "stage_reached",
    "outcome",
]

#: Half a year in days: won deals opened before it have had time to close a long cycle.
HALF_YEAR_DAYS = 183


# ------------------------------------------------------------------------------------------
# the observed table
# ------------------------------------------------------------------------------------------
def match_stages(export_order: Sequence[str], stage_names: Sequence[str]) -> dict[str, str]:
    """Map the export's open stages onto the scenario's, and ``won`` onto itself.

    By name (any case) when every export stage names a scenario stage, else by position when both
    funnels have as many stages. Raises ``ValueError`` naming both lists when neither works.
    """
    order = [s for s in export_order if s != "won"]
    by_name = {s.lower(): s for s in stage_names}
    if all(s.lower() in by_name for s in order):
        stage_map = {s: by_name[s.lower()] for s in order}
    elif len(order) == len(stage_names):
        stage_map = dict(zip(order, stage_names, strict=True))
    else:
        raise ValueError(
            f"the export's stages {order} cannot be matched to the scenario's "
            f"{list(stage_names)}; edit the scenario's funnel stages to match"
        )
    stage_map["won"] = "won"
    return stage_map


def observed_from_export(opps: Opportunities, stage_names: Sequence[str]) -> pd.DataFrame:
    """The imported export as the observed table: :data:`REQUIRED` columns, the model's stages.

    A stage the mapping does not know is kept as it is (it then counts as no stage).
    """
    stage_map = match_stages(opps.stage_order or [], stage_names)
    t = opps.table.copy()
    t["stage_reached"] = t["stage"].map(stage_map).fillna(t["stage"])
    return t[REQUIRED].reset_index(drop=True)


def observed_from_simulation(deals: pd.DataFrame) -> pd.DataFrame:
    """A simulated year's deal log as the observed table (the stand-in for an export)."""
    return deals.drop(columns=["scenario", "replication"]).reset_index(drop=True)


def check_columns(observed: pd.DataFrame) -> None:
    """Raise ``ValueError`` naming the :data:`REQUIRED` columns the observed table lacks."""
    missing = [c for c in REQUIRED if c not in observed.columns]
    if missing:
        raise ValueError(f"the loaded export lacks the columns {', '.join(missing)}")


def rename_to_scenario_stages(observed: pd.DataFrame, stage_names: Sequence[str]) -> pd.DataFrame:
    """The observed table with its stages spelled as ``stage_names`` (matched in any case)."""
    to_cal = {s.lower(): s for s in stage_names}
    return observed.assign(
        stage_reached=observed["stage_reached"].map(
            lambda v: "won" if v == "won" else to_cal.get(str(v).lower(), v)
        )
    )


def clean_deals(observed: pd.DataFrame) -> pd.DataFrame:
    """The deals a funnel is fitted from: a known outcome, a positive amount, a creation date."""
    o = observed
    return o[o["outcome"].isin(["won", "lost", "open"]) & (o["amount"] > 0) & o["created_at"].notna()]


def days_between(a: Any, b: Any) -> pd.Series:
    """Whole days from ``a`` to ``b`` (dates or date columns)."""
    return (pd.to_datetime(b) - pd.to_datetime(a)).dt.days


# ------------------------------------------------------------------------------------------
# measuring a deal log
# ------------------------------------------------------------------------------------------
def deal_log_stats(d: pd.DataFrame, stage_names: Sequence[str]) -> dict[str, float]:
    """Win rate, stage reach and conversion, median cycle and size of one deal log.

    Keys: ``deals``; ``win_rate`` (won over closed: open deals are unfinished, not lost);
    ``reach:STAGE`` (share of all deals that got to the stage; a won deal reached every stage)
    and ``conv:STAGE`` (of the deals that got past the stage or were lost there, the share that
    got past: open deals censored) per stage; ``median_cycle`` (days, won deals),
    ``median_amount`` and ``median_won_amount``. Win rate, conversions and the won medians are
    :func:`salessim.calibrate.funnel_stats`' (NaN where there is nothing to measure).
    """
    fs = funnel_stats(d.rename(columns={"stage_reached": "stage"}), stage_names)
    pos = d["stage_reached"].map({s: i for i, s in enumerate([*stage_names, "won"])})
    res: dict[str, float] = {"deals": len(d), "win_rate": float(fs.win_rate)}
    for i, s in enumerate(stage_names):
        res[f"reach:{s}"] = float((pos >= i).mean())
        res[f"conv:{s}"] = float(fs.conversions[i])
    res["median_cycle"] = fs.median_won_cycle
    res["median_amount"] = float(d["amount"].median())
    res["median_won_amount"] = fs.median_won_amount
    return res


def year_stats(simulated: pd.DataFrame, stage_names: Sequence[str], seats: int, weeks: float) -> pd.DataFrame:
    """:func:`deal_log_stats` of each simulated year (one row per replication).

    Plus ``opps_per_seat_week``: the year's new opportunities per seat per week over ``weeks``
    (the export's span, so the two are counted alike).
    """
    groups = [g for _, g in simulated.groupby("replication")]
    t = pd.DataFrame([deal_log_stats(g, stage_names) for g in groups])
    t["opps_per_seat_week"] = [len(g) / seats / weeks for g in groups]
    return t


def first_half_won_cycles(d: pd.DataFrame) -> pd.Series:
    """Cycle days (at least half a day) of the won deals opened in the log's first half-year.

    Long cycles opened later may not have finished by the log's end; leaving them out keeps the
    fit from favouring short cycles.
    """
    t0 = d["created_at"].min()
    opened = days_between(pd.Series(t0, index=d.index), d["created_at"])
    w = d[(d["outcome"] == "won") & (opened < HALF_YEAR_DAYS)]
    return days_between(w["created_at"], w["closed_at"]).astype(float).clip(lower=0.5)


@dataclass(frozen=True)
class CycleFit:
    """A gamma distribution fitted to cycle times (location 0)."""

    shape: float
    scale: float

    @property
    def mean(self) -> float:
        """Mean days (shape × scale)."""
        return self.shape * self.scale

    @property
    def cv(self) -> float:
        """Coefficient of variation (1 / √shape)."""
        return float(1 / np.sqrt(self.shape))

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The fitted density at ``x`` days."""
        return np.asarray(stats.gamma.pdf(x, self.shape, scale=self.scale))


def fit_gamma_cycle(cycles: Sequence[float] | pd.Series) -> CycleFit:
    """Fit a gamma distribution to cycle days by maximum likelihood, location fixed at 0."""
    k, _, theta = stats.gamma.fit(cycles, floc=0)
    return CycleFit(shape=float(k), scale=float(theta))


def deal_size_fit(clean: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Per product: deals, lognormal median and sigma fitted from the amounts, and configured.

    ``fitted median`` is exp of the median log amount, ``fitted sigma`` the standard deviation of
    log amount; ``configured …`` are the scenario's (NaN for a product it does not sell).
    """
    rows = []
    for prod, g in clean.groupby("product"):
        la = np.log(g["amount"])
        cfg = scenario.funnel.products.get(prod)
        rows.append(
            {
                "product": prod,
                "deals": len(g),
                "fitted median": float(np.exp(la.median())),
                "fitted sigma": float(la.std()),
                "configured median": cfg.amount_median if cfg else np.nan,
                "configured sigma": cfg.amount_sigma if cfg else np.nan,
            }
        )
    return pd.DataFrame(rows)


def stage_conversion_fit(
    observed: Mapping[str, float],
    years: pd.DataFrame,
    stage_names: Sequence[str],
    configured: Sequence[float],
) -> pd.DataFrame:
    """Per stage: conversion fitted from the export, configured, and the 95 % range of years.

    ``observed`` and ``years`` are :func:`deal_log_stats` of the export and of each simulated year;
    ``configured`` the scenario's mix-weighted conversions (:func:`salessim.funnel.plan`).
    """
    rows = []
    for s, cfg_conv in zip(stage_names, configured, strict=True):
        lo, hi = years[f"conv:{s}"].quantile([0.025, 0.975])
        rows.append(
            {
                "stage": s,
                "fitted from export": observed[f"conv:{s}"],
                "configured (mix-weighted)": cfg_conv,
                "simulated years, 2.5 %": lo,
                "simulated years, 97.5 %": hi,
            }
        )
    return pd.DataFrame(rows)


_UNIT_FORMAT: dict[str, Callable[[float], str]] = {
    "share": fmt_pct,
    "days": fmt_days,
    "USD": fmt_money,
    "number": lambda v: f"{v:,.2f}",
}


def comparison_table(
    observed: Mapping[str, float], years: pd.DataFrame, stage_names: Sequence[str], seats: int
) -> pd.DataFrame:
    """Observed against simulated, measure by measure, with the 95 % range of simulated years.

    Measures: win rate, median won cycle, median won deal, new opportunities per seat per week and
    the share of deals reaching each stage after the first. Columns: the shown text (``measure``,
    ``observed``, ``simulated (mean)``, ``simulated range (95 % of years)``, ``within range``) and
    the numbers (``key``, ``unit``, ``obs_value``, ``sim_mean``, ``sim_low``, ``sim_high``).
    An observed value is within range when it lies inside the years' 2.5–97.5 % quantiles.
    """
    measures = [
        ("win_rate", "win rate (closed deals)", "share"),
        ("median_cycle", "median won cycle", "days"),
        ("median_won_amount", "median won deal", "USD"),
        ("opps_per_seat_week", f"new opportunities per seat per week ({seats} seats)", "number"),
        *[(f"reach:{s}", f"deals reaching {s}", "share") for s in stage_names[1:]],
    ]
    rows = []
    for key, label, unit in measures:
        f = _UNIT_FORMAT[unit]
        lo, hi = years[key].quantile([0.025, 0.975])
        m = years[key].mean()
        rows.append(
            {
                "measure": label,
                "observed": f(observed[key]),
                "simulated (mean)": f(m),
                "simulated range (95 % of years)": f"{f(lo)} to {f(hi)}",
                "within range": "yes" if lo <= observed[key] <= hi else "no",
                "key": key,
                "unit": unit,
                "obs_value": observed[key],
                "sim_mean": m,
                "sim_low": lo,
                "sim_high": hi,
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# the whole report
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportSummary:
    """The export in a few numbers."""

    rows: int  # opportunities kept
    reps: int  # distinct owners
    span_days: int  # from the first creation date to the last
    open_share: float  # share of deals still open
    checks: int  # data-quality checks run
    problems: int  # checks that found problem rows


def export_summary(observed: pd.DataFrame, quality: pd.DataFrame) -> ExportSummary:
    """Rows, reps, span and open share of the observed table, and its failed quality checks."""
    created = observed["created_at"]
    return ExportSummary(
        rows=len(observed),
        reps=int(observed["rep_id"].nunique()),
        span_days=int(days_between(created.min(), pd.Series([created.max()])).iloc[0]),
        open_share=float((observed["outcome"] == "open").mean()),
        checks=len(quality),
        problems=int((quality["rows"] > 0).sum()),
    )


@dataclass(frozen=True)
class CrmAnalysis:
    """Everything the CRM calibration report shows, from the export and the simulated years."""

    quality: pd.DataFrame  # data-quality checks (salessim.crm.quality_checks)
    summary: ExportSummary
    clean: pd.DataFrame  # the deals the funnel is fitted from
    observed: dict[str, float]  # deal_log_stats of the export, with opps_per_seat_week
    years: pd.DataFrame  # deal_log_stats of each simulated year, with opps_per_seat_week
    cycles_observed: pd.Series  # first-half won cycles of the export
    cycles_simulated: pd.Series  # the same, all simulated years
    cycle_fit: CycleFit  # gamma fitted to the export's cycles
    configured_cycle: float  # the scenario's mean cycle (days)
    sizes: pd.DataFrame  # deal_size_fit
    conversions: pd.DataFrame  # stage_conversion_fit
    comparison: pd.DataFrame  # comparison_table
    ks_cycle: float  # KS distance, won cycle: export vs simulated years
    ks_size: float  # KS distance, log deal size: export vs simulated years

    @property
    def inside(self) -> int:
        """How many measures of the comparison fall inside the simulated years' range."""
        return int((self.comparison["within range"] == "yes").sum())

    @property
    def largest_gap(self) -> float:
        """The larger of the two KS distances."""
        return max(self.ks_cycle, self.ks_size)


def analyse(
    observed: pd.DataFrame,
    simulated: pd.DataFrame,
    scenario: Scenario,
    dropped: Mapping[str, int] | None = None,
    set_aside: Mapping[str, int] | None = None,
    rows_read: int | None = None,
) -> CrmAnalysis:
    """Measure the export (``observed``) and the simulated years' deal logs, and compare them.

    ``dropped`` / ``set_aside`` / ``rows_read`` come from the import (rows dropped, amounts set
    aside, rows in the file) and enter the data-quality checks. Opportunities per seat per week
    count every opportunity over the export's span (at least a week) and the scenario's seats.
    """
    stage_names = [s.name for s in scenario.funnel.stages]
    quality = quality_checks(
        observed,
        stage_names,
        dropped=dict(dropped or {}),
        amounts_set_aside=dict(set_aside or {}),
        rows_read=rows_read,
    )
    summary = export_summary(observed, quality)
    clean = clean_deals(observed)
    weeks = max(summary.span_days, 7) / 7
    obs = deal_log_stats(clean, stage_names)
    obs["opps_per_seat_week"] = len(observed) / scenario.n_reps / weeks
    years = year_stats(simulated, stage_names, scenario.n_reps, weeks)
    cyc_obs = first_half_won_cycles(clean)
    cyc_sim = pd.concat([first_half_won_cycles(g) for _, g in simulated.groupby("replication")])
    p = plan(scenario)
    return CrmAnalysis(
        quality=quality,
        summary=summary,
        clean=clean,
        observed=obs,
        years=years,
        cycles_observed=cyc_obs,
        cycles_simulated=cyc_sim,
        cycle_fit=fit_gamma_cycle(cyc_obs),
        configured_cycle=float(p.cycle_days),
        sizes=deal_size_fit(clean, scenario),
        conversions=stage_conversion_fit(obs, years, stage_names, list(p.stages["conversion"])),
        comparison=comparison_table(obs, years, stage_names, scenario.n_reps),
        ks_cycle=float(stats.ks_2samp(cyc_obs, cyc_sim).statistic),
        ks_size=float(stats.ks_2samp(np.log(clean["amount"]), np.log(simulated["amount"])).statistic),
    )


def num4(v: float | None) -> str:
    """Four significant figures, thousands with separators: 25,860 not 2.586e+04 (– if unknown)."""
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


#: How the report shows :func:`deal_size_fit`'s columns.
SIZE_FORMATS = {
    "deals": "int",
    "fitted median": "money",
    "fitted sigma": "num2",
    "configured median": "money",
    "configured sigma": "num2",
}
#: How the report shows :func:`estimates_table`'s columns.
ESTIMATE_FORMATS: dict[str, str | Callable[[Any], str]] = {
    "value": num4,
    "95 % CI from": num4,
    "to": num4,
    "sample": "int",
}
#: How the report shows :func:`iterations_table`'s columns.
ITERATION_FORMATS = {
    "candidate": "int",
    "win rate": "pct",
    "median won cycle (days)": "num1",
    "median won deal": "money",
    "new opportunities per rep-week": "num2",
    "skill spread": "num2",
}


def estimates_table(calibration: Calibration) -> pd.DataFrame:
    """The calibration's estimates with their 95 % CI and sample size, columns as the report names them."""
    return calibration.estimates[["parameter", "value", "ci_low", "ci_high", "n", "note"]].rename(
        columns={"ci_low": "95 % CI from", "ci_high": "to", "n": "sample"}
    )


def iterations_table(calibration: Calibration) -> pd.DataFrame:
    """What each candidate scenario of the calibration showed, measured like the data."""
    names = {
        "iteration": "candidate",
        "win_rate": "win rate",
        "median_won_cycle": "median won cycle (days)",
        "median_won_amount": "median won deal",
        "new_per_rep_week": "new opportunities per rep-week",
        "skill_sd": "skill spread",
    }
    return pd.DataFrame(calibration.iterations).rename(columns=names)


# ------------------------------------------------------------------------------------------
# charts
# ------------------------------------------------------------------------------------------
def distributions_figure(a: CrmAnalysis, simulated: pd.DataFrame) -> Any:
    """Won cycle time and deal size: the export's histograms over the simulated years'."""
    import matplotlib.pyplot as plt

    cyc_obs, cyc_sim = a.cycles_observed, a.cycles_simulated
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.0))
    bins = np.linspace(0, np.quantile(np.concatenate([cyc_obs, cyc_sim]), 0.99), 40)
    axes[0].hist(cyc_sim, bins=bins, density=True, color=GREY, alpha=0.55, label="simulated years")
    axes[0].hist(cyc_obs, bins=bins, density=True, histtype="step", lw=2.2, color=ACCENT, label="export")
    xs = np.linspace(0.5, bins[-1], 200)
    axes[0].plot(xs, a.cycle_fit.pdf(xs), color=BAD, lw=1.6, ls="--", label="gamma fitted to export")
    axes[0].set_xlabel("days from created to won")
    axes[0].set_ylabel("share of won deals (density)")
    axes[0].set_title("Won cycle time")
    axes[0].legend()
    log_obs = np.log(a.clean["amount"])
    lb = np.linspace(log_obs.quantile(0.005), log_obs.quantile(0.995), 40) / np.log(10)
    for values, style in (
        (simulated["amount"], {"color": GREY, "alpha": 0.55, "label": "simulated years"}),
        (a.clean["amount"], {"histtype": "step", "lw": 2.2, "color": ACCENT, "label": "export"}),
    ):
        axes[1].hist(np.log10(values), bins=lb, density=True, **style)
    ticks = [5e3, 1e4, 2e4, 5e4, 1e5, 2e5]
    axes[1].set_xticks(np.log10(ticks))
    axes[1].set_xticklabels([fmt_money(t) for t in ticks])
    axes[1].set_xlim(lb[0], lb[-1])
    axes[1].set_xlabel("deal size (log scale)")
    axes[1].set_ylabel("share of deals (density)")
    axes[1].set_title("Deal size")
    axes[1].legend()
    fig.suptitle(
        f"Cycle time and deal size: the export and the model "
        f"{'agree' if a.largest_gap < 0.1 else 'differ'} "
        f"(largest gap between the distributions: {a.largest_gap:.0%})",
        x=0.01,
        ha="left",
        fontsize=14,
        fontweight="bold",
    )
    fig.tight_layout()
    return fig


def conversion_figure(conv: pd.DataFrame) -> Any:
    """Stage conversions fitted from the export (with the simulated years' range) and configured."""
    import matplotlib.pyplot as plt

    fitted = conv["fitted from export"]
    fig, ax = plt.subplots(figsize=(10.5, 3.8))
    x = np.arange(len(conv))
    ax.bar(x - 0.2, 100 * fitted, width=0.4, color=ACCENT, label="fitted from export")
    ax.bar(
        x + 0.2,
        100 * conv["configured (mix-weighted)"],
        width=0.4,
        color=GREY,
        label="configured in the model",
    )
    err_lo = 100 * (fitted - conv["simulated years, 2.5 %"]).clip(lower=0)
    err_hi = 100 * (conv["simulated years, 97.5 %"] - fitted).clip(lower=0)
    ax.errorbar(x - 0.2, 100 * fitted, yerr=[err_lo, err_hi], fmt="none", ecolor="#222", capsize=3)
    for xi, v in zip(x, fitted, strict=True):
        ax.text(xi - 0.2, 100 * v + 4, fmt_pct(v, 0), ha="center", fontsize=10)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{s} → next" for s in conv["stage"]])
    ax.set_ylim(0, 100)
    ax.set_ylabel("deals advancing from the stage (%)")
    ax.legend(loc="upper left")
    worst = (fitted - conv["configured (mix-weighted)"]).abs().max()
    gap = "–" if not math.isfinite(worst) else f"{100 * worst:.1f}"
    ax.set_title(f"Stage conversions fitted from the export are within {gap} points of the model's")
    figure_note(
        fig,
        "Open deals count as unfinished (censored), not lost. Whiskers: range of the "
        "same fit over simulated years.",
    )
    return fig
