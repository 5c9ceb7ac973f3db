"""What the coaching report computes (``notebooks/coaching.ipynb``).

The report runs two sweeps paired with today's sales force (common random numbers): joint-call
hours × manager training (the response curves), and coaching targeting × review cadence for
trained managers at the high-coaching hours (the heat map). The functions here turn their
results into the report's tables, its headline effects and the manager-time budget; the figures
are drawn by the ``*_figure`` functions. Nothing here displays or writes anything.

Effects are paired differences against a baseline scenario, replication by replication
(:func:`salessim.notebook_helpers.paired`): relative changes for revenue, percentage points for
shares, days for the detection lag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salessim.drivers.reviews import REVIEW_INTERVAL
from salessim.funnel import DAYS_PER_YEAR
from salessim.notebook_helpers import Effect, mean_ci, paired, scenario_mean, year_rows
from salessim.results import Results
from salessim.validation import band_gains

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from salessim.scenario import Scenario

__all__ = [
    "BANDS",
    "CADENCE",
    "CADENCES",
    "HOURS",
    "TARGETING",
    "TARGETINGS",
    "TARGET_LABEL",
    "TRAINING",
    "TRAIN_LABEL",
    "BandComparison",
    "BestCell",
    "CoachingEffects",
    "CoachingStep",
    "CoachingYears",
    "SkillBands",
    "band_comparison",
    "best_cell",
    "coaching_effects",
    "coaching_step",
    "coaching_years",
    "gain_by_skill_band",
    "heat_map_figure",
    "high_coaching_hours",
    "manager_time_cost",
    "manager_week",
    "manager_week_figure",
    "manager_week_settings",
    "response_curves",
    "response_curves_figure",
    "response_hours",
    "scenario_named",
    "scenario_results",
    "skill_band_figure",
    "targeting_by_cadence",
]

#: The fields the two sweeps vary.
HOURS = "coaching.joint_call_hours_per_week"
TRAINING = "managers.training"
TARGETING = "coaching.targeting"
CADENCE = "reviews.cadence"
#: The values of the targeting × cadence sweep, in the heat map's order.
TARGETINGS = ("reactive", "round_robin", "gap_targeted", "top_performers")
CADENCES = ("annual", "quarterly", "monthly")
#: How the report names them.
TARGET_LABEL = {
    "reactive": "reactive (biggest late deals)",
    "round_robin": "round robin",
    "gap_targeted": "gap-targeted",
    "top_performers": "top performers",
}
TRAIN_LABEL = {"none": "untrained managers", "trained": "trained managers"}
#: Skill bands of :func:`salessim.validation.band_gains`, in the words findings use.
BANDS = {"the middle 60 %": "middle 60%", "the top 20 %": "top 20%", "the bottom 20 %": "bottom 20%"}
#: Weeks a manager works in a year, for manager hours and their cost.
WEEKS_PER_YEAR = 52.0


# ------------------------------------------------------------------------------------------
# the grids
# ------------------------------------------------------------------------------------------
def high_coaching_hours(max_hours: int) -> int:
    """The high-coaching setting the targeting grid runs at: 6 joint-call hours per manager-week.

    Six hours for a team of eight is the "three-plus hours per rep per month" of the best-practice
    benchmark; a curve that stops below six uses its own top.
    """
    return 6 if max_hours >= 6 else max_hours


def response_hours(today_hours: float, max_hours: int, hours_step: int) -> list[int]:
    """The joint-call hours of the response curves: 0 to ``max_hours`` in steps of ``hours_step``.

    Today's hours and the high-coaching hours (:func:`high_coaching_hours`) are always included,
    so every finding's setting lies on the curves whatever the step.
    """
    return sorted(
        set(range(0, max_hours + 1, hours_step)) | {int(today_hours), high_coaching_hours(max_hours)}
    )


# ------------------------------------------------------------------------------------------
# the simulated years
# ------------------------------------------------------------------------------------------
def scenario_named(frame: pd.DataFrame, values: Mapping[str, Any]) -> str:
    """The scenario of ``frame`` whose columns hold ``values`` (``{HOURS: 4, TRAINING: "trained"}``).

    Raises:
        KeyError: no row of ``frame`` has those values.
    """
    sel = frame
    for k, v in values.items():
        sel = sel[sel[k] == v]
    if sel.empty:
        raise KeyError(f"no scenario with {dict(values)}")
    return str(sel["scenario"].iloc[0])


@dataclass(frozen=True)
class CoachingYears:
    """The whole-year rows (year 1) of the report's two sweeps.

    Attributes:
        curves: hours × training (:data:`HOURS`, :data:`TRAINING` columns).
        grid: targeting × cadence (:data:`TARGETING`, :data:`CADENCE` columns).
        both: every scenario once (the grid's base is a point of the curves), for paired effects
            between any two settings.
        today: the name of today's sales force, the baseline of both sweeps.
    """

    curves: pd.DataFrame
    grid: pd.DataFrame
    both: pd.DataFrame
    today: str

    def curve(self, hours: float, training: str) -> str:
        """The scenario of the response curves at ``hours`` with ``training`` (none / trained)."""
        return scenario_named(self.curves, {HOURS: hours, TRAINING: training})

    def cell(self, targeting: str, cadence: str) -> str:
        """The scenario of the heat map with ``targeting`` and review ``cadence``."""
        return scenario_named(self.grid, {TARGETING: targeting, CADENCE: cadence})

    def mean(self, scenario: str, column: str) -> float:
        """A year column's mean over the replications of one scenario (NaN if none)."""
        return scenario_mean(self.both, scenario, column)

    def effect(self, column: str, baseline: str, variant: str, kind: str = "rel") -> Effect:
        """The paired effect of ``variant`` against ``baseline`` on a year column."""
        return paired(self.both, column, baseline, variant, kind)


def coaching_years(curves: pd.DataFrame, grid: pd.DataFrame, today: str) -> CoachingYears:
    """The year-1 rows of both sweeps' ``periods`` tables (:class:`CoachingYears`).

    Args:
        curves: ``periods`` of the hours × training sweep.
        grid: ``periods`` of the targeting × cadence sweep.
        today: today's sales force, the baseline scenario.
    """
    year_c = year_rows(curves)
    year_g = year_rows(grid)
    both = pd.concat([year_c, year_g[~year_g["scenario"].isin(year_c["scenario"])]], ignore_index=True)
    return CoachingYears(year_c, year_g, both, today)


# ------------------------------------------------------------------------------------------
# the tables
# ------------------------------------------------------------------------------------------
def response_curves(years: CoachingYears, hours: Sequence[int]) -> pd.DataFrame:
    """Team revenue and reps at quota against today, by joint-call hours, trained or not.

    Returns:
        One row per training (untrained first) and hours: ``training``, ``hours``,
        ``scenario``; ``revenue_change`` (relative) with ``ci_low`` / ``ci_high``;
        ``at_quota_change`` (points); mean ``revenue``, ``delivered_hours`` (joint-call hours the
        team's managers delivered in the year) and ``delivered_share`` (of those promised). Today's
        own row changes by exactly zero.
    """
    y = years.curves
    n_today = int(y.loc[y["scenario"] == years.today, "replication"].nunique())
    rows = []
    for tr in ("none", "trained"):
        for h in hours:
            n = years.curve(h, tr)
            if n == years.today:
                e, q = Effect(0.0, 0.0, 0.0, n_today), Effect(0.0, 0.0, 0.0, n_today, "pts")
            else:
                e = years.effect("revenue", years.today, n)
                q = years.effect("pct_at_quota", years.today, n, "pts")
            rows.append(
                {
                    "training": TRAIN_LABEL[tr],
                    "hours": h,
                    "scenario": n,
                    "revenue_change": e.mean,
                    "ci_low": e.low,
                    "ci_high": e.high,
                    "at_quota_change": q.mean,
                    "revenue": scenario_mean(y, n, "revenue"),
                    "delivered_hours": scenario_mean(y, n, "coaching_hours"),
                    "delivered_share": scenario_mean(y, n, "coaching_delivered_share"),
                }
            )
    return pd.DataFrame(rows)


def targeting_by_cadence(
    years: CoachingYears, targetings: Sequence[str] = TARGETINGS, cadences: Sequence[str] = CADENCES
) -> pd.DataFrame:
    """Team revenue against today for each coaching targeting and review cadence (the heat map).

    Returns:
        One row per targeting and cadence: ``targeting`` (its label), ``cadence``, ``scenario``,
        ``revenue_change`` (relative) with ``ci_low`` / ``ci_high``, and mean annual ``turnover``.
    """
    rows = []
    for tg in targetings:
        for cad in cadences:
            n = years.cell(tg, cad)
            e = years.effect("revenue", years.today, n)
            rows.append(
                {
                    "targeting": TARGET_LABEL[tg],
                    "cadence": cad,
                    "scenario": n,
                    "revenue_change": e.mean,
                    "ci_low": e.low,
                    "ci_high": e.high,
                    "turnover": scenario_mean(years.grid, n, "turnover"),
                }
            )
    return pd.DataFrame(rows)


def scenario_results(results: Results, scenario: str) -> Results:
    """The reps and periods of one scenario of a comparison's results."""
    return Results(
        reps=results.reps[results.reps["scenario"] == scenario],
        periods=results.periods[results.periods["scenario"] == scenario],
    )


@dataclass(frozen=True)
class SkillBands:
    """Attainment gains by reps' starting skill band.

    Attributes:
        table: one row per coaching setting and band: ``coaching``, ``band``, ``gain`` (relative
            attainment change against today) with ``ci_low`` / ``ci_high``, and ``n``
            (replications).
        per_replication: by coaching setting, :func:`salessim.validation.band_gains` (one row per
            replication and band), for paired comparisons between bands.
    """

    table: pd.DataFrame
    per_replication: Mapping[str, pd.DataFrame]


def gain_by_skill_band(today: Results, variants: Mapping[str, Results]) -> SkillBands:
    """Who gains from coaching: each setting's attainment gain by reps' starting skill band.

    Args:
        today: today's sales force (its reps define the bands, replication by replication).
        variants: the coaching settings by label (``"trained, 6 h/week, gap-targeted"``), each
            paired with ``today`` (same seed and replications).
    """
    rows, per_rep = [], {}
    for label, var in variants.items():
        g = band_gains(today, var)
        per_rep[label] = g
        for band, gg in g.groupby("band", observed=True):
            m, lo, hi, k = mean_ci(gg["gain"].to_numpy())
            rows.append(
                {"coaching": label, "band": str(band), "gain": m, "ci_low": lo, "ci_high": hi, "n": k}
            )
    return SkillBands(pd.DataFrame(rows), per_rep)


def manager_time_cost(
    curves: pd.DataFrame,
    today_hours: float,
    managers: int,
    base_revenue: float,
    hourly_cost: float,
    gross_margin: float,
) -> pd.DataFrame:
    """What each point of the response curves costs in manager time, and what it earns.

    Args:
        curves: :func:`response_curves`.
        today_hours: today's joint-call hours per manager-week.
        managers: first-line managers in the organisation.
        base_revenue: today's mean team revenue (USD a year).
        hourly_cost: fully loaded cost of one manager hour (USD).
        gross_margin: share of revenue kept as gross profit.

    Returns:
        One row per curve point: ``managers`` (trained / untrained), ``joint-call hours /
        manager-week``, ``manager hours / year (team)``, ``extra manager cost / year`` (hours
        above today's at ``hourly_cost``), ``joint calls delivered``, ``revenue vs today``,
        ``extra gross profit / year`` and ``net of manager time`` (USD a year).
    """
    rows = []
    for tr in ("none", "trained"):
        d = curves[curves["training"] == TRAIN_LABEL[tr]]
        for h in d["hours"]:
            r = d[d["hours"] == h].iloc[0]
            extra_cost = (h - today_hours) * WEEKS_PER_YEAR * managers * hourly_cost
            gain = r["revenue_change"] * base_revenue
            rows.append(
                {
                    "managers": tr if tr == "trained" else "untrained",
                    "joint-call hours / manager-week": h,
                    "manager hours / year (team)": h * WEEKS_PER_YEAR * managers,
                    "extra manager cost / year": extra_cost,
                    "joint calls delivered": r["delivered_share"],
                    "revenue vs today": r["revenue_change"],
                    "extra gross profit / year": gross_margin * gain,
                    "net of manager time": gross_margin * gain - extra_cost,
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# the findings' numbers
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CoachingEffects:
    """The paired effects the findings rest on (revenue relative; shares in points).

    Attributes:
        high: trained, gap-targeted coaching at the high hours, annual reviews, vs today.
        high_at_quota: its change in the share of reps at quota.
        training: trained managers at today's hours vs today.
        untrained_max: untrained managers at the curves' top hours vs today.
        trained_vs_untrained: trained vs untrained managers, both at the top hours.
        training_vs_hours: training at today's hours vs untrained at the top hours.
        gap_vs_reactive: gap-targeted vs reactive coaching (high hours, annual reviews).
        monthly: monthly vs annual reviews on top of gap-targeted coaching.
        monthly_turnover, monthly_voluntary, monthly_let_go: their change in turnover, in
            voluntary leaving and in reps let go (points).
        monthly_detection_lag: their change in days from falling behind to being flagged.
    """

    high: Effect
    high_at_quota: Effect
    training: Effect
    untrained_max: Effect
    trained_vs_untrained: Effect
    training_vs_hours: Effect
    gap_vs_reactive: Effect
    monthly: Effect
    monthly_turnover: Effect
    monthly_voluntary: Effect
    monthly_detection_lag: Effect
    monthly_let_go: Effect


def coaching_effects(years: CoachingYears, today_hours: float, max_hours: int) -> CoachingEffects:
    """The headline effects (:class:`CoachingEffects`) from the two sweeps.

    Args:
        years: :func:`coaching_years`.
        today_hours: today's joint-call hours per manager-week.
        max_hours: the top of the response curves.
    """
    today = years.today
    gap, react = years.cell("gap_targeted", "annual"), years.cell("reactive", "annual")
    monthly = years.cell("gap_targeted", "monthly")
    trained_today = years.curve(today_hours, "trained")
    untrained_max, trained_max = years.curve(max_hours, "none"), years.curve(max_hours, "trained")
    both = years.both.assign(let_go=years.both["turnover"] - years.both["voluntary_turnover"])
    return CoachingEffects(
        high=years.effect("revenue", today, gap),
        high_at_quota=years.effect("pct_at_quota", today, gap, "pts"),
        training=years.effect("revenue", today, trained_today),
        untrained_max=years.effect("revenue", today, untrained_max),
        trained_vs_untrained=years.effect("revenue", untrained_max, trained_max),
        training_vs_hours=years.effect("revenue", untrained_max, trained_today),
        gap_vs_reactive=years.effect("revenue", react, gap),
        monthly=years.effect("revenue", gap, monthly),
        monthly_turnover=years.effect("turnover", gap, monthly, "pts"),
        monthly_voluntary=years.effect("voluntary_turnover", gap, monthly, "pts"),
        monthly_detection_lag=years.effect("detection_lag_days", gap, monthly, "days"),
        monthly_let_go=paired(both, "let_go", gap, monthly, "pts"),  # exits decided by the company
    )


@dataclass(frozen=True)
class CoachingStep:
    """The step from today's joint-call hours to the high hours, for trained managers.

    Attributes:
        effect: its paired effect on team revenue (trained at the high hours vs trained today).
        cost: the extra manager time, USD a year (zero or negative when the step is not up).
        profit: the gross profit of the mean revenue change, USD a year.
    """

    effect: Effect
    cost: float
    profit: float


def coaching_step(
    years: CoachingYears,
    today_hours: float,
    high_hours: int,
    managers: int,
    hourly_cost: float,
    gross_margin: float,
) -> CoachingStep:
    """What more joint-call time costs and earns (:class:`CoachingStep`).

    Args:
        years: :func:`coaching_years`.
        today_hours, high_hours: joint-call hours per manager-week today and at the high setting.
        managers: first-line managers in the organisation.
        hourly_cost: fully loaded cost of one manager hour (USD).
        gross_margin: share of revenue kept as gross profit.
    """
    e = years.effect("revenue", years.curve(today_hours, "trained"), years.curve(high_hours, "trained"))
    base_revenue = scenario_mean(years.curves, years.today, "revenue")
    cost = (high_hours - today_hours) * WEEKS_PER_YEAR * managers * hourly_cost
    return CoachingStep(e, cost, gross_margin * e.mean * base_revenue)


@dataclass(frozen=True)
class BandComparison:
    """Which skill band gained most, and whether it gained distinguishably more than the others.

    Attributes:
        gains: each band's row of :attr:`SkillBands.table` (``gain``, ``ci_low``, ``ci_high``),
            by its name in words (:data:`BANDS`).
        most: the band with the largest mean gain.
        others: the other two, larger mean gain first.
        lead: the paired difference (points) of ``most``'s gain over each of ``others``,
            replication by replication.
        clear: every ``lead`` lies above zero (95 % CI).
    """

    gains: Mapping[str, pd.Series]
    most: str
    others: tuple[str, str]
    lead: tuple[Effect, ...]
    clear: bool


def band_comparison(bands: SkillBands, coaching: str) -> BandComparison:
    """Which band gained most from one coaching setting, read from the simulation.

    Args:
        bands: :func:`gain_by_skill_band`.
        coaching: the setting's label (a key of ``bands.per_replication``).
    """
    t = bands.table[bands.table["coaching"] == coaching]
    gains = {k: t[t["band"] == b].iloc[0] for k, b in BANDS.items()}
    most = max(gains, key=lambda k: gains[k]["gain"])
    o1, o2 = sorted((k for k in gains if k != most), key=lambda k: -gains[k]["gain"])
    by_band = bands.per_replication[coaching].assign(scenario=lambda d: d["band"].astype(str))
    lead = tuple(paired(by_band, "gain", BANDS[o], BANDS[most], "pts") for o in (o1, o2))
    return BandComparison(gains, most, (o1, o2), lead, all(e.direction == 1 for e in lead))


@dataclass(frozen=True)
class BestCell:
    """The heat map's best cell and its lead over the runner-up.

    Attributes:
        best, runner_up: rows of :func:`targeting_by_cadence` with the highest mean revenue change.
        lead: the paired effect on revenue of ``best`` against ``runner_up``.
    """

    best: pd.Series
    runner_up: pd.Series
    lead: Effect


def best_cell(heat: pd.DataFrame, years: CoachingYears) -> BestCell:
    """The targeting and cadence with the highest revenue, and whether it beats the next."""
    ranked = heat.sort_values("revenue_change", ascending=False)
    best, runner_up = ranked.iloc[0], ranked.iloc[1]
    return BestCell(best, runner_up, years.effect("revenue", runner_up["scenario"], best["scenario"]))


# ------------------------------------------------------------------------------------------
# the manager's week
# ------------------------------------------------------------------------------------------
def manager_week_settings(
    base: Scenario, years: CoachingYears, high_hours: int
) -> list[tuple[str, float, str, str]]:
    """The settings whose manager week the report shows: (label, hours, review cadence, scenario).

    Today; the high hours untrained and trained (today's cadence); trained with monthly reviews.
    """
    return [
        ("today", base.coaching.joint_call_hours_per_week, base.reviews.cadence, years.today),
        (f"{high_hours} h, untrained", high_hours, base.reviews.cadence, years.curve(high_hours, "none")),
        (f"{high_hours} h, trained", high_hours, base.reviews.cadence, years.curve(high_hours, "trained")),
        (
            f"{high_hours} h, trained, monthly reviews",
            high_hours,
            "monthly",
            years.cell("reactive", "monthly"),
        ),
    ]


def manager_week(
    base: Scenario, settings: Sequence[tuple[str, float, str, str]], years: CoachingYears
) -> pd.DataFrame:
    """Where a first-line manager's week goes under each setting (hours per manager-week).

    Admin, forecasts and reviews as the scenario sets them (reviews: ``review_hours_per_rep`` ×
    span × reviews a year ÷ 52); joint calls promised split into delivered and not delivered by
    the share the simulated managers' weeks had room for (1 where the data have none); the rest
    (hiring interviews, training days, other work) is what is left of ``hours_per_week``.

    Args:
        base: today's sales force (the managers' week and the span).
        settings: :func:`manager_week_settings`.
        years: :func:`coaching_years` (the delivered share of each setting's scenario).

    Returns:
        Indexed by ``setting``: ``admin, forecasts, meetings``, ``reviews``, ``joint calls
        delivered``, ``promised, not delivered``, ``hiring, training and the rest``, ``share``.
    """
    mg = base.managers
    admin = mg.admin_hours_per_week + mg.forecast_hours_per_week
    rows = []
    for label, h, cadence, n in settings:
        reviews_a_year = round(DAYS_PER_YEAR / REVIEW_INTERVAL[cadence])
        rev_h = mg.review_hours_per_rep * base.organisation.span * reviews_a_year / WEEKS_PER_YEAR
        share = years.mean(n, "coaching_delivered_share")
        share = share if np.isfinite(share) else 1.0
        rows.append(
            {
                "setting": label,
                "admin, forecasts, meetings": admin,
                "reviews": rev_h,
                "joint calls delivered": h * share,
                "promised, not delivered": h * (1 - share),
                "hiring, training and the rest": max(mg.hours_per_week - admin - rev_h - h, 0),
                "share": share,
            }
        )
    return pd.DataFrame(rows).set_index("setting")


# ------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------
def response_curves_figure(curves: pd.DataFrame, today_hours: float, title: str) -> Figure:
    """Team revenue against today by joint-call hours, one line per training, 95 % CI shaded."""
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import GOOD, GREY, wrap_title

    fig, ax = plt.subplots(figsize=(10.5, 4.8))
    for tr, color in (("none", GREY), ("trained", GOOD)):
        d = curves[curves["training"] == TRAIN_LABEL[tr]]
        ax.plot(d["hours"], 100 * d["revenue_change"], "-o", color=color, lw=2.2, label=TRAIN_LABEL[tr])
        ax.fill_between(
            d["hours"],
            100 * d["ci_low"].fillna(d["revenue_change"]),
            100 * d["ci_high"].fillna(d["revenue_change"]),
            color=color,
            alpha=0.18,
        )
    ax.scatter([today_hours], [0], s=90, color="#222", zorder=5)
    ax.annotate("today", (today_hours, 0), xytext=(8, -16), textcoords="offset points", fontsize=10)
    ax.axhline(0, color="#333", lw=0.8)
    ax.set_xlabel("joint-call hours per manager-week")
    ax.set_ylabel("team revenue vs today (%)")
    ax.set_xticks(sorted(curves["hours"].unique()))
    ax.legend(loc="upper left")
    ax.set_title(wrap_title(title))
    return fig


def heat_map_figure(heat: pd.DataFrame, title: str) -> Figure:
    """Team revenue against today by targeting (rows) and review cadence (columns)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from salessim.notebook_helpers import fmt_pct, wrap_title

    rows = [t for t in TARGET_LABEL.values() if t in set(heat["targeting"])]
    cols = [c for c in CADENCES if c in set(heat["cadence"])]
    pv = heat.pivot(index="targeting", columns="cadence", values="revenue_change").reindex(
        index=rows, columns=cols
    )
    fig, ax = plt.subplots(figsize=(9, 4.2))
    sns.heatmap(
        100 * pv,
        annot=pv.map(lambda v: fmt_pct(v, signed=True)),
        fmt="",
        cmap="YlGn",
        linewidths=1,
        linecolor="white",
        cbar_kws={"label": "team revenue vs today (%)"},
        ax=ax,
    )
    ax.set_xlabel("review cadence")
    ax.set_ylabel("")
    ax.set_title(wrap_title(title))
    return fig


def skill_band_figure(bands: pd.DataFrame, title: str) -> Figure:
    """Attainment gain by starting-skill band, one bar per coaching setting, 95 % CI whiskers."""
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import GOOD, GREY, fmt_pct, wrap_title

    fig, ax = plt.subplots(figsize=(10.5, 4.2))
    band_order = ["bottom 20%", "middle 60%", "top 20%"]
    width = 0.38
    for i, (lab, color) in enumerate(zip(bands["coaching"].unique(), (GOOD, GREY), strict=False)):
        d = bands[bands["coaching"] == lab].set_index("band").reindex(band_order)
        x = np.arange(3) + (i - 0.5) * width
        ax.bar(x, 100 * d["gain"], width=width, color=color, label=lab)
        ax.errorbar(
            x,
            100 * d["gain"],
            yerr=[100 * (d["gain"] - d["ci_low"]).fillna(0), 100 * (d["ci_high"] - d["gain"]).fillna(0)],
            fmt="none",
            ecolor="#222",
            capsize=3,
        )
        for xi, v, hi_, lo_ in zip(x, d["gain"], d["ci_high"], d["ci_low"], strict=True):
            edge = (hi_ if np.isfinite(hi_) else v) if v >= 0 else (lo_ if np.isfinite(lo_) else v)
            ax.text(
                xi,
                100 * edge + (0.5 if v >= 0 else -0.5),
                fmt_pct(v, signed=True),
                ha="center",
                va="bottom" if v >= 0 else "top",
                fontsize=9.5,
            )
    ax.set_xticks(np.arange(3))
    ax.set_xticklabels(["bottom 20 % of reps\n(by starting skill)", "middle 60 %", "top 20 %"])
    ax.axhline(0, color="#333", lw=0.8)
    ax.set_ylabel("attainment vs today (relative %)")
    ax.legend(loc="upper right")
    ax.set_title(wrap_title(title))
    return fig


def manager_week_figure(
    budget: pd.DataFrame, hours: Sequence[float], manager_hours: float, title: str
) -> Figure:
    """Stacked bars of :func:`manager_week`, each labelled with its joint-call hours.

    Args:
        budget: :func:`manager_week`.
        hours: the joint-call hours promised in each setting (its rows' order).
        manager_hours: a manager's hours a week (the bars' full length).
        title: the chart's title.
    """
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import BAD, GOOD, GREY, fmt_pct

    all_delivered = bool(budget["share"].min() >= 0.995)
    parts = budget.drop(columns=["share", *(["promised, not delivered"] if all_delivered else [])])
    colors = [GREY, "#e9c46a", GOOD, *([] if all_delivered else [BAD]), "#dfe3e8"]
    fig, ax = plt.subplots(figsize=(10.5, 3.6))
    parts.plot.barh(stacked=True, ax=ax, color=colors, width=0.65)
    for i, (h, share) in enumerate(zip(hours, budget["share"], strict=True)):
        ax.text(
            manager_hours + 0.5,
            i,
            f"{h:g} h joint calls" + ("" if share >= 0.995 else f", {fmt_pct(share, 0)} delivered"),
            va="center",
            fontsize=9.5,
        )
    ax.invert_yaxis()
    ax.set_xlim(0, manager_hours * 1.25)
    ax.set_xlabel(f"hours per manager-week (of {manager_hours:g})")
    ax.set_ylabel("")
    ax.legend(ncol=len(colors), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.grid(axis="y", visible=False)
    ax.set_title(title)
    return fig
