"""What the pipeline benchmark report computes (``notebooks/pipeline_benchmark.ipynb``).

The report works the quota back through the funnel (:func:`salessim.funnel.plan`: the reverse
funnel, the benchmark pipeline per stage and whether it fits a rep's week), then reads from the
simulation what a spreadsheet cannot: the chance of making the quarter at each pipeline coverage
(a logistic fit over simulated rep-quarters), the paired effect of giving every rep the
prescription, and how early managers see a falling-behind rep under each performance metric and
CRM adoption. The functions here return those tables and numbers; the ``*_figure`` functions draw
the report's charts. Nothing here displays or writes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salessim.notebook_helpers import (
    Effect,
    fmt_days,
    fmt_money,
    fmt_pct,
    mean_ci,
    paired,
    per_replication,
    rep_coverage,
    scenario_mean,
    wilson,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from salessim.funnel import Capacity, Plan
    from salessim.scenario import Scenario

__all__ = [
    "COVERAGE_EDGES",
    "METRIC_LABEL",
    "PRESCRIPTION_MEASURES",
    "STAGE_LABELS",
    "CoverageCurve",
    "DetectionEffects",
    "PrescriptionEffects",
    "article",
    "capacity_figure",
    "coverage_curve",
    "coverage_figure",
    "detection_effects",
    "funnel_unit",
    "gap_detection",
    "gap_detection_figure",
    "hit_rate_by_coverage",
    "inventory_figure",
    "library_prescription",
    "metric_scenarios",
    "prescription_effects",
    "prescription_table",
    "prescription_table_text",
    "quarter_coverage",
    "reverse_funnel",
    "reverse_funnel_text",
]

#: What managers measure (``metrics``), in a sales leader's words.
METRIC_LABEL = {
    "outcomes": "closed revenue only",
    "pipeline": "total pipeline",
    "stage": "stage-by-stage inventory",
}
#: The benchmark-stage columns (:attr:`salessim.funnel.Plan.stages`) as the report heads them.
STAGE_LABELS = {
    "stage": "stage",
    "conversion": "advances to next stage",
    "to_won": "chance to win from here",
    "opportunities_per_year": "deals reaching stage / year",
    "arrivals_per_week": "arrivals / week",
    "mean_days": "days in stage",
    "inventory": "open deals (benchmark)",
    "inventory_value": "open value (benchmark)",
}
#: Coverage bins of the observed hit rates: 0–0.5×, 0.5–1×, …, 4–5×, 5× and more.
COVERAGE_EDGES = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, np.inf)
#: The lowest coverage the logistic fit takes the logarithm of (a rep with no pipeline).
_MIN_COVERAGE = 0.05


def article(share: float) -> str:
    """The article for a percentage read aloud: "an 80 %", "an 11 %", "a 90 %"."""
    return "an" if str(round(100 * share)).startswith(("8", "11", "18")) else "a"


# ------------------------------------------------------------------------------------------
# the scenarios
# ------------------------------------------------------------------------------------------
def library_prescription(today: Scenario) -> Scenario:
    """The library's prescription variant laid over ``today`` (only the fields it changes)."""
    from salessim.experiments import variant_changes, variants_over

    return variants_over(today, {"prescription": variant_changes("prescription")})[0][0]


def metric_scenarios(base: Scenario) -> dict[tuple[str, float], Scenario]:
    """``base`` under each performance metric, at its own CRM adoption and with every deal logged.

    Returns:
        By (metric, CRM adoption), for metrics ``outcomes``, ``pipeline``, ``stage`` (in that
        order) and adoptions ``base.crm.adoption`` and 1.0: ``base`` itself where it already has
        them, else a copy named ``"<base>, <metric> metrics, CRM <adoption>"``.
    """
    out: dict[tuple[str, float], Scenario] = {}
    for metric in METRIC_LABEL:
        for adoption in (base.crm.adoption, 1.0):
            if (metric, adoption) in out:
                continue
            out[(metric, adoption)] = (
                base
                if (metric, adoption) == (base.metrics, base.crm.adoption)
                else base.replace(
                    **{
                        "metrics": metric,
                        "crm.adoption": adoption,
                        "name": f"{base.name}, {metric} metrics, CRM {adoption:.0%}",
                    }
                )
            )
    return out


# ------------------------------------------------------------------------------------------
# the reverse funnel
# ------------------------------------------------------------------------------------------
_MONEY_ROWS = {"quota", "average won deal", "benchmark pipeline value"}


def funnel_unit(item: str) -> str:
    """The unit of a row of :meth:`salessim.funnel.Plan.summary`: USD, share, ratio, days or number."""
    if item in _MONEY_ROWS:
        return "USD"
    if item == "win rate":
        return "share"
    if "coverage" in item:
        return "ratio"
    if item == "cycle days (won)":
        return "days"
    return "number"


def reverse_funnel(plan: Plan) -> pd.DataFrame:
    """The reverse funnel as numbers: ``item``, ``unit``, ``per rep``, ``per team``, ``organisation``."""
    funnel = plan.summary().reset_index(names="item")
    funnel.insert(1, "unit", [funnel_unit(i) for i in funnel["item"]])
    return funnel


_SHOW_UNIT: dict[str, Callable[[float], str]] = {
    "USD": fmt_money,
    "share": fmt_pct,
    "ratio": lambda v: f"{v:.2f}×",
    "days": lambda v: f"{v:.0f} days",
    "number": lambda v: f"{v:,.1f}",
}


def reverse_funnel_text(funnel: pd.DataFrame) -> pd.DataFrame:
    """:func:`reverse_funnel` as the page shows it: each figure as text in its row's unit."""
    cols = [c for c in funnel.columns if c not in ("item", "unit")]
    return pd.DataFrame(
        {
            "": funnel["item"],
            **{c: [_SHOW_UNIT[u](v) for u, v in zip(funnel["unit"], funnel[c], strict=True)] for c in cols},
        }
    )


# ------------------------------------------------------------------------------------------
# the chance of making the quarter, by pipeline coverage
# ------------------------------------------------------------------------------------------
def quarter_coverage(deals: pd.DataFrame, reps: pd.DataFrame, scenarios: Sequence[Scenario]) -> pd.DataFrame:
    """Full-period reps' coverage at the start of Q3 and Q4 and whether they made quota.

    :func:`salessim.notebook_helpers.rep_coverage` for each scenario, stacked; rep-quarters
    without a finite coverage (no quota) are left out.
    """
    cov = pd.concat([rep_coverage(deals, reps, s) for s in scenarios], ignore_index=True)
    return cov[np.isfinite(cov["coverage"])]


def hit_rate_by_coverage(
    cov: pd.DataFrame, edges: Sequence[float] = COVERAGE_EDGES, min_n: int = 10
) -> pd.DataFrame:
    """The observed chance of making the quarter in bins of coverage, with Wilson 95 % intervals.

    Args:
        cov: :func:`quarter_coverage` (``coverage``, ``hit``).
        edges: bin edges (left-closed).
        min_n: bins with fewer rep-quarters are left out.

    Returns:
        One row per bin: ``bin``, ``n``, ``hits``, ``mid`` (median coverage in the bin), ``p``,
        ``lo``, ``hi``.
    """
    binned = (
        cov.assign(bin=pd.cut(cov["coverage"], np.asarray(edges, dtype=float), right=False))
        .groupby("bin", observed=True)
        .agg(n=("hit", "size"), hits=("hit", "sum"), mid=("coverage", "median"))
        .reset_index()
    )
    binned = binned[binned["n"] >= min_n].copy()
    binned["p"] = binned["hits"] / binned["n"]
    ci = [wilson(k, n) for k, n in zip(binned["hits"], binned["n"], strict=True)]
    binned["lo"] = [c[0] for c in ci]
    binned["hi"] = [c[1] for c in ci]
    return binned


@dataclass(frozen=True)
class CoverageCurve:
    """The chance of making the quarter against coverage at its start: a logistic fit in log coverage.

    P(hit | c) = 1 / (1 + exp(−(intercept + slope · ln max(c, 0.05)))).

    Attributes:
        intercept, slope: the fitted coefficients.
        confidence: the chance the coverage target is set for.
        needed: the coverage at which the fitted chance reaches ``confidence`` (NaN when the
            chance does not rise with coverage).
        seen: the 95th percentile of the coverage reps carried (beyond it the curve is an
            extrapolation).
        needed_seen: ``needed`` is finite and within ``seen``.
        hit_rate_seen: the observed share of rep-quarters starting at ``seen`` or more that made it.
        n: rep-quarters fitted.
        bins: :func:`hit_rate_by_coverage`.
    """

    intercept: float
    slope: float
    confidence: float
    needed: float
    seen: float
    needed_seen: bool
    hit_rate_seen: float
    n: int
    bins: pd.DataFrame

    def p_hit(self, coverage: Any) -> Any:
        """The fitted chance of making the quarter at ``coverage`` (a number or an array)."""
        c = np.log(np.maximum(coverage, _MIN_COVERAGE))
        return 1 / (1 + np.exp(-(self.intercept + self.slope * c)))


def coverage_curve(cov: pd.DataFrame, confidence: float) -> CoverageCurve:
    """Fit :class:`CoverageCurve` to simulated rep-quarters (:func:`quarter_coverage`).

    Args:
        cov: rep-quarters with ``coverage`` and ``hit``.
        confidence: the chance of making the quarter to find the coverage for (0 < p < 1).
    """
    import statsmodels.api as sm

    x = sm.add_constant(np.log(cov["coverage"].clip(lower=_MIN_COVERAGE)))
    fit = sm.Logit(cov["hit"].astype(float), x).fit(disp=0)
    a, b = fit.params.iloc[0], fit.params.iloc[1]
    needed = float(np.exp((np.log(confidence / (1 - confidence)) - a) / b)) if b > 0 else np.nan
    seen = float(cov["coverage"].quantile(0.95))
    return CoverageCurve(
        intercept=float(a),
        slope=float(b),
        confidence=confidence,
        needed=needed,
        seen=seen,
        needed_seen=bool(np.isfinite(needed) and needed <= seen),
        hit_rate_seen=float(cov.loc[cov["coverage"] >= seen, "hit"].mean()),
        n=len(cov),
        bins=hit_rate_by_coverage(cov),
    )


# ------------------------------------------------------------------------------------------
# what the prescription does
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrescriptionEffects:
    """The prescription's paired effects against today (reps planning for themselves).

    Attributes:
        revenue: team revenue (relative).
        at_quota, turnover, selling_time: share of reps at quota, annual turnover and share of
            reps' time spent selling (points).
        detection_lag: days from falling behind to being flagged.
        self_planned: new opportunities a full-period rep opens when planning for themselves,
            relative to reps handed the plan.
        self_per_week, prescribed_per_week: those new opportunities a week, per rep.
    """

    revenue: Effect
    at_quota: Effect
    turnover: Effect
    detection_lag: Effect
    selling_time: Effect
    self_planned: Effect
    self_per_week: float
    prescribed_per_week: float


def prescription_effects(
    year: pd.DataFrame, reps: pd.DataFrame, today: str, prescription: str
) -> PrescriptionEffects:
    """The prescription against today (:class:`PrescriptionEffects`).

    Args:
        year: year-1 rows of the comparison's ``periods``.
        reps: the comparison's ``reps`` (new opportunities per full-period rep).
        today, prescription: the two scenarios' names.
    """
    opps = per_replication(reps, "opportunities")
    return PrescriptionEffects(
        revenue=paired(year, "revenue", today, prescription),
        at_quota=paired(year, "pct_at_quota", today, prescription, "pts"),
        turnover=paired(year, "turnover", today, prescription, "pts"),
        detection_lag=paired(year, "detection_lag_days", today, prescription, "days"),
        selling_time=paired(year, "selling_time_share", today, prescription, "pts"),
        self_planned=paired(opps, "opportunities", prescription, today),
        self_per_week=scenario_mean(opps, today, "opportunities") / 52,
        prescribed_per_week=scenario_mean(opps, prescription, "opportunities") / 52,
    )


#: The rows of :func:`prescription_table`: (measure, year column, effect of
#: :class:`PrescriptionEffects`, unit of the levels).
PRESCRIPTION_MEASURES = (
    ("team revenue", "revenue", "revenue", "money"),
    ("reps at quota", "pct_at_quota", "at_quota", "pct"),
    ("annual turnover", "turnover", "turnover", "pct"),
    ("days to spot a falling-behind rep", "detection_lag_days", "detection_lag", "days"),
    ("share of reps' time spent selling", "selling_time_share", "selling_time", "pct"),
)


def prescription_table(
    year: pd.DataFrame, effects: PrescriptionEffects, today: str, prescription: str
) -> pd.DataFrame:
    """Each measure today and with the prescription, and the paired change.

    Returns:
        One row per :data:`PRESCRIPTION_MEASURES`: ``measure``, ``unit`` (of the levels),
        ``today``, ``with the prescription`` (means), ``kind`` (of the change: ``rel``, ``pts``
        or ``days``), ``change``, ``ci_low``, ``ci_high``.
    """
    rows = []
    for measure, column, attr, unit in PRESCRIPTION_MEASURES:
        e: Effect = getattr(effects, attr)
        rows.append(
            {
                "measure": measure,
                "unit": unit,
                "today": scenario_mean(year, today, column),
                "with the prescription": scenario_mean(year, prescription, column),
                "kind": e.kind,
                "change": e.mean,
                "ci_low": e.low,
                "ci_high": e.high,
            }
        )
    return pd.DataFrame(rows)


_LEVEL: dict[str, Callable[[float], str]] = {"money": fmt_money, "pct": fmt_pct, "days": fmt_days}
_CI_UNIT = {"rel": " %", "pts": " pts", "days": " days"}


def prescription_table_text(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`prescription_table` as the page shows it: levels, change and its 95 % CI as text."""
    rows = []
    for r in table.to_dict("records"):
        e = Effect(r["change"], r["ci_low"], r["ci_high"], 0, r["kind"])
        level = _LEVEL[r["unit"]]
        rows.append(
            {
                "measure": r["measure"],
                "today": level(r["today"]),
                "with the prescription": level(r["with the prescription"]),
                "change": e.short(),
                "95 % CI": e.ci_short() + _CI_UNIT[r["kind"]],
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# early gap detection
# ------------------------------------------------------------------------------------------
def _name(s: Scenario | str) -> str:
    return s if isinstance(s, str) else s.name


def gap_detection(year: pd.DataFrame, scenarios: Mapping[tuple[str, float], Scenario | str]) -> pd.DataFrame:
    """Detection lag and forecast error by what managers measure and CRM adoption.

    Args:
        year: year-1 rows of the comparison's ``periods``.
        scenarios: :func:`metric_scenarios` (or their names), by (metric, adoption).

    Returns:
        One row per scenario: ``what managers measure``, ``CRM adoption``, ``scenario``; mean
        ``detection lag (days)`` with its 95 % CI (``lag low``, ``lag high``), mean ``forecast
        error`` with ``fe low`` / ``fe high``, mean ``team revenue``.
    """
    rows = []
    for (metric, adoption), s in scenarios.items():
        y = year[year["scenario"] == _name(s)]
        lag = mean_ci(y["detection_lag_days"])
        fe = mean_ci(y["forecast_error"])
        rows.append(
            {
                "what managers measure": METRIC_LABEL[metric],
                "CRM adoption": adoption,
                "scenario": _name(s),
                "detection lag (days)": lag[0],
                "lag low": lag[1],
                "lag high": lag[2],
                "forecast error": fe[0],
                "fe low": fe[1],
                "fe high": fe[2],
                "team revenue": y["revenue"].mean(),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class DetectionEffects:
    """Stage metrics against closed revenue only, and full CRM adoption on top (paired).

    Attributes:
        stage_metrics: days from falling behind to being flagged, stage metrics vs today.
        stage_forecast_error: their change in forecast error (points).
        full_crm: the lag with every deal logged vs stage metrics at today's adoption.
        full_crm_forecast_error: its change in forecast error (points).
        adoption: today's CRM adoption.
    """

    stage_metrics: Effect
    stage_forecast_error: Effect
    full_crm: Effect
    full_crm_forecast_error: Effect
    adoption: float


def detection_effects(
    year: pd.DataFrame, today: str, scenarios: Mapping[tuple[str, float], Scenario | str], adoption: float
) -> DetectionEffects:
    """What stage metrics and full CRM adoption do to gap detection (:class:`DetectionEffects`).

    Args:
        year: year-1 rows of the comparison's ``periods``.
        today: today's scenario (its own metrics and adoption).
        scenarios: :func:`metric_scenarios` (or their names).
        adoption: today's CRM adoption.
    """
    stage, full = _name(scenarios[("stage", adoption)]), _name(scenarios[("stage", 1.0)])
    return DetectionEffects(
        stage_metrics=paired(year, "detection_lag_days", today, stage, "days"),
        stage_forecast_error=paired(year, "forecast_error", today, stage, "pts"),
        full_crm=paired(year, "detection_lag_days", stage, full, "days"),
        full_crm_forecast_error=paired(year, "forecast_error", stage, full, "pts"),
        adoption=adoption,
    )


# ------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------
def capacity_figure(cap: Capacity, title: str) -> Figure:
    """The hours a rep has for selling against the hours the plan needs (deal work, prospecting)."""
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import ACCENT, BAD, GOOD, GREY

    fig, ax = plt.subplots(figsize=(10.5, 2.4))
    avail, deal_h, prosp_h = cap.selling_hours, cap.deal_work_hours, cap.prospecting_hours
    ax.barh(1, avail, color=GREY, height=0.55)
    ax.text(avail + 0.3, 1, f"{avail:.1f} h", va="center", fontsize=10)
    ax.barh(0, deal_h, color=ACCENT, height=0.55, label="work on open deals")
    if np.isfinite(prosp_h):
        ax.barh(0, prosp_h, left=deal_h, color=GOOD, height=0.55, label="prospecting")
        ax.text(deal_h + prosp_h + 0.3, 0, f"{deal_h + prosp_h:.1f} h", va="center", fontsize=10)
        right = max(avail, deal_h + prosp_h)
    else:
        ax.text(deal_h + 0.3, 0, "+ prospecting beyond what the territory gives", va="center", fontsize=10)
        right = max(avail, deal_h) * 1.6
    ax.axvline(avail, color="#333" if cap.fits else BAD, ls="--", lw=1.2)
    ax.set_yticks([1, 0])
    ax.set_yticklabels(["hours a rep has for selling", "hours the plan needs"])
    ax.set_xlim(0, right * 1.18)
    ax.set_xlabel("hours per rep per week")
    ax.grid(axis="y", visible=False)
    ax.legend(ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.45))
    ax.set_title(title.replace("$", r"\$"))  # a dollar sign, not mathematics
    return fig


def inventory_figure(stages: pd.DataFrame, title: str) -> Figure:
    """Open deals and open pipeline value a rep on plan carries in each stage."""
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import ACCENT, GOOD

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    y = np.arange(len(stages))[::-1]
    axes[0].barh(y, stages["inventory"], color=ACCENT, height=0.6)
    axes[1].barh(y, stages["inventory_value"] / 1e3, color=GOOD, height=0.6)
    for yi, v, w in zip(y, stages["inventory"], stages["inventory_value"], strict=True):
        axes[0].text(v + 0.2, yi, f"{v:.1f}", va="center", fontsize=10)
        axes[1].text(w / 1e3 + 3, yi, fmt_money(w), va="center", fontsize=10)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(stages["stage"])
    axes[0].set_xlabel("open deals per rep")
    axes[1].set_xlabel("open pipeline value per rep ($ thousands)")
    axes[0].set_xlim(0, stages["inventory"].max() * 1.25)
    axes[1].set_xlim(0, stages["inventory_value"].max() / 1e3 * 1.3)
    for ax in axes:
        ax.grid(axis="y", visible=False)
    fig.suptitle(title.replace("$", r"\$"), x=0.01, ha="left", fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig


def coverage_figure(curve: CoverageCurve, textbook: float, title: str) -> Figure:
    """The fitted chance of making the quarter by coverage, the binned observed rates, the targets.

    Args:
        curve: :func:`coverage_curve`.
        textbook: the textbook coverage target (1 ÷ win rate).
        title: the chart's title.
    """
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import ACCENT, BAD, GOOD

    b = curve.bins
    fig, ax = plt.subplots(figsize=(10.5, 4.6))
    xmax = float(np.clip(np.ceil(curve.seen + 0.5), 6, 12))  # the coverage reps carry, at least 6×
    grid = np.linspace(0.1, xmax, 200)
    ax.plot(grid, 100 * curve.p_hit(grid), color=ACCENT, lw=2.2, label="fitted curve")
    ax.errorbar(
        b["mid"],
        100 * b["p"],
        yerr=[100 * (b["p"] - b["lo"]), 100 * (b["hi"] - b["p"])],
        fmt="o",
        color=GOOD,
        capsize=3,
        label="simulated rep-quarters (95 % CI)",
    )
    ax.axhline(100 * curve.confidence, color="#555", ls="--", lw=1)
    if curve.needed_seen:
        ax.axvline(curve.needed, color="#555", ls="--", lw=1)
        ax.annotate(
            f"{curve.needed:.1f}× for {fmt_pct(curve.confidence, 0)}",
            (curve.needed, 100 * curve.confidence),
            xytext=(10, -24),
            textcoords="offset points",
            fontsize=10.5,
        )
    ax.axvline(textbook, color=BAD, ls=":", lw=1.4)
    ax.annotate(
        f"textbook 1 ÷ win rate = {textbook:.1f}×",
        (textbook, 8),
        xytext=(6, 0),
        textcoords="offset points",
        fontsize=10,
        color=BAD,
    )
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 100)
    ax.set_xlabel("pipeline coverage at the start of the quarter (open pipeline ÷ quarterly quota)")
    ax.set_ylabel("chance of making the quarter's quota (%)")
    ax.legend(loc="upper left")
    ax.set_title(title)
    return fig


def gap_detection_figure(table: pd.DataFrame, title: str) -> Figure:
    """Detection lag and forecast error by what managers measure (:func:`gap_detection`), 95 % CIs."""
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import GOOD, GREY

    fig, axes = plt.subplots(1, 2, figsize=(11.5, 3.8), sharey=True)
    labels = [f"{r['what managers measure']}, CRM {r['CRM adoption']:.0%}" for _, r in table.iterrows()]
    y = np.arange(len(table))[::-1]
    colors = [
        GREY if m == METRIC_LABEL["outcomes"] else (GOOD if m == METRIC_LABEL["stage"] else "#e9c46a")
        for m in table["what managers measure"]
    ]
    for ax, col, lo, hi, scale in (
        (axes[0], "detection lag (days)", "lag low", "lag high", 1.0),
        (axes[1], "forecast error", "fe low", "fe high", 100.0),
    ):
        ax.barh(y, scale * table[col], color=colors, height=0.62)
        ax.errorbar(
            scale * table[col],
            y,
            xerr=[scale * (table[col] - table[lo]).fillna(0), scale * (table[hi] - table[col]).fillna(0)],
            fmt="none",
            ecolor="#222",
            capsize=3,
        )
        ax.grid(axis="y", visible=False)
    for yi, (_, r) in zip(y, table.iterrows(), strict=True):
        v, f = r["detection lag (days)"], r["forecast error"]
        vh = r["lag high"] if np.isfinite(r["lag high"]) else v
        fh = r["fe high"] if np.isfinite(r["fe high"]) else f
        axes[0].text(vh + 4, yi, fmt_days(v), va="center", fontsize=10)
        axes[1].text(100 * fh + 0.6, yi, fmt_pct(f), va="center", fontsize=10)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(labels)
    axes[0].set_xlabel("days from falling behind to being flagged")
    axes[1].set_xlabel("quarterly forecast error (% of actual)")
    axes[0].set_xlim(0, np.nanmax(table["lag high"].fillna(table["detection lag (days)"])) * 1.3)
    axes[1].set_xlim(0, 100 * np.nanmax(table["fe high"].fillna(table["forecast error"])) * 1.35)
    fig.suptitle(title, x=0.01, ha="left", fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig
