"""What the capacity and quota report computes: the hiring plan, the revenue it buys, where quota sits.

The simulations and their statistics are :mod:`salessim.capacity`'s (:func:`~salessim.capacity.
hiring_study`, :func:`~salessim.capacity.quota_study`, :func:`~salessim.capacity.quota_curve` and
the findings built from them); this module gathers what the report
(``notebooks/capacity_quota.ipynb``) shows from them: the scenarios it names, its four tables with
their spreadsheet formats, the points its charts mark, and the charts themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salessim.capacity import HiringStudy, QuotaResult, quota_curve
from salessim.notebook_helpers import (
    ACCENT,
    BAD,
    GOOD,
    GREY,
    figure_note,
    fmt_money,
    fmt_pct,
    wrap_title,
)
from salessim.scenario import Scenario

__all__ = [
    "MONEY_COLUMNS",
    "ReportScenarios",
    "hires_axis",
    "hiring_plan_figure",
    "probability_figure",
    "quota_figure",
    "quota_marks",
    "report_scenarios",
    "report_tables",
    "revenue_fan_figure",
    "table_formats",
]

#: Columns of the report's tables that hold dollars.
MONEY_COLUMNS = (
    "revenue_plan",
    "revenue_no_hires",
    "mean",
    "p10",
    "p25",
    "p50",
    "p75",
    "p90",
    "revenue_mean",
    "revenue_p10",
    "quota",
    "revenue",
    "revenue_lo",
    "revenue_hi",
)


@dataclass(frozen=True)
class ReportScenarios:
    """The scenarios the report names: today's sales force, with the plan, and at the quota found."""

    today: Scenario  # the sales force as planned (horizon of the years reported), no new seats
    plan: Scenario  # the same with the plan's seats (today's when no hire is planned)
    quota: Scenario  # the sales force at the quota found for the share asked for


def report_scenarios(study: HiringStudy, quota: QuotaResult, sales_force: Scenario) -> ReportScenarios:
    """The scenarios behind the report's figures, named as the report names them."""
    res = study.plan
    today = res.scenario
    plan = (
        today.replace(
            **{"hiring.plan": [{"day": d, "reps": k} for d, k in res.openings]},
            name=f"{today.name} + {res.total_hires} hires",
        )
        if res.openings
        else today
    )
    at_quota = sales_force.replace(
        **{"organisation.quota": quota.quota}, name=f"{sales_force.name}, quota {quota.quota:,.0f}"
    )
    return ReportScenarios(today=today, plan=plan, quota=at_quota)


def report_tables(study: HiringStudy, quota: QuotaResult) -> dict[str, pd.DataFrame]:
    """The report's tables by their file names.

    ``hiring_plan`` (:meth:`~salessim.capacity.HiringStudy.headcount_table`), ``revenue_fan``,
    ``probability_by_hires`` and ``quota_curve`` (:func:`salessim.capacity.quota_curve`).
    """
    return {
        "hiring_plan": study.headcount_table(),
        "revenue_fan": study.revenue_fan(),
        "probability_by_hires": study.probability_by_hires(),
        "quota_curve": quota_curve(quota),
    }


def table_formats(curve: pd.DataFrame) -> dict[str, str]:
    """Spreadsheet formats of the report's tables' columns (one map for all four tables).

    Dollars as money, mean headcounts with one decimal, chances as whole percentages, and the
    quota curve's changes against today (``…_change``, its CI and ``vs_today``) as signed shares.
    """
    changes = [
        c for c in curve.columns if c.endswith(("_change", "_change_lo", "_change_hi")) or c == "vs_today"
    ]
    return {
        **dict.fromkeys(MONEY_COLUMNS, "money"),
        **dict.fromkeys(
            ["headcount_plan", "headcount_plan_p10", "headcount_plan_p90", "headcount_no_hires"], "num1"
        ),
        **dict.fromkeys(["reach", "probability", "ci_low", "ci_high"], "pct0"),
        **dict.fromkeys(changes, "pct_signed"),
    }


def hires_axis(tried: pd.DataFrame, total_hires: int) -> tuple[float, pd.DataFrame, pd.DataFrame]:
    """The hires axis of the chance chart: its end, the plans on it and the plans beyond it.

    The axis runs to 10 hires, or 2.5 × the plan + 5 when that is more, so the plan sits well
    inside it; plans the search tried further out are named in a note instead.
    """
    x_max = max(10, 2.5 * total_hires + 5)
    return x_max, tried[tried["hires_x"] <= x_max], tried[tried["hires_x"] > x_max]


def quota_marks(curve: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The quota curve's rows of today's quota and of the quota found for the share."""
    return curve[curve["today"]].iloc[0], curve[curve["found"]].iloc[0]


# ------------------------------------------------------------------------------------------
# charts
# ------------------------------------------------------------------------------------------
def _tex(text: str) -> str:
    """Chart text with its dollar signs shown as such (matplotlib reads a pair as maths)."""
    return text.replace("$", r"\$")


def hiring_plan_figure(study: HiringStudy, headcount: pd.DataFrame) -> Any:
    """Seats and reps in seat quarter by quarter, with the plan (10th–90th percentile) and without."""
    import matplotlib.pyplot as plt

    res = study.plan
    h = headcount
    labels = [f"Y{y} Q{q}" for y, q in zip(h["year"], h["quarter"], strict=True)]
    x = np.arange(len(h))
    fig, ax = plt.subplots(figsize=(10.5, 4.6))
    ax.step(x, h["seats"], where="mid", color="#555", lw=1.4, ls="--", label="seats, with the planned ones")
    ax.fill_between(
        x,
        h["headcount_plan_p10"],
        h["headcount_plan_p90"],
        color=GOOD,
        alpha=0.2,
        label="reps in seat with the plan, 10th–90th percentile",
    )
    ax.plot(x, h["headcount_plan"], "-o", color=GOOD, lw=2.4, label="reps in seat with the plan")
    ax.plot(x, h["headcount_no_hires"], "-o", color=GREY, lw=2.0, label="reps in seat with no hires")
    for xi, n, seats in zip(x, h["hires"], h["seats"], strict=True):
        if n:
            ax.annotate(
                f"+{n:d} seat" + ("s" if n > 1 else ""),
                (xi, seats),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                fontsize=10,
                color="#333",
            )
    ax.set_xticks(x)
    ax.set_xticklabels(labels)
    ax.set_ylabel("reps")
    low = min(h["headcount_no_hires"].min(), h["headcount_plan_p10"].min())
    ax.set_ylim(low - 0.12 * (h["seats"].max() - low) - 1, h["seats"].max() * 1.06 + 1)
    ax.legend(loc="center right", fontsize=9.5)
    n_reps = res.scenario.n_reps
    if res.total_hires:
        title = (
            f"Hire {res.total_hires} reps, as early as recruiting allows: {n_reps} "
            f"seats become {n_reps + res.total_hires}"
        )
    else:
        title = f"No hires: {n_reps} seats"
    ax.set_title(_tex(wrap_title(title)))
    figure_note(
        fig,
        "Each new seat stands empty while it is recruited; its rep then ramps. Reps in "
        "seat count vacancies and leavers, so they stay below the seats. Fresh simulated years "
        f"({len(study.today['replication'].unique())} with the plan, the same with no hires).",
    )
    return fig


def revenue_fan_figure(study: HiringStudy, fan: pd.DataFrame) -> Any:
    """Quarterly revenue fans with the plan and without, and the final year against the target."""
    import matplotlib.pyplot as plt

    res, years = study.plan, study.plan.years
    fig, (ax, axy) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [2.3, 1]})
    arms = (("plan", GOOD, f"with the {res.total_hires} hires"), ("no_hires", GREY, "with no hires"))
    for arm, color, lab in arms:
        d = fan[(fan["arm"] == arm) & (fan["quarter"] > 0)]
        xq = np.arange(len(d))
        ax.fill_between(xq, d["p10"] / 1e6, d["p90"] / 1e6, color=color, alpha=0.15)
        ax.fill_between(xq, d["p25"] / 1e6, d["p75"] / 1e6, color=color, alpha=0.3)
        ax.plot(xq, d["p50"] / 1e6, "-o", color=color, lw=2.2, label=f"{lab} (median)")
    ax.set_xticks(np.arange(4 * years))
    ax.set_xticklabels([f"Y{q // 4 + 1} Q{q % 4 + 1}" for q in range(4 * years)])
    ax.set_ylabel("revenue in the quarter ($M)")
    ax.legend(loc="upper left")
    ax.set_title("Quarterly revenue: the fan of simulated years")
    fy = fan[fan["quarter"] == 0].set_index("arm")
    for i, (arm, color, _) in enumerate(arms):
        r = fy.loc[arm]
        axy.plot(
            [i, i], [r["p10"] / 1e6, r["p90"] / 1e6], color=color, lw=6, alpha=0.35, solid_capstyle="butt"
        )
        axy.plot(
            [i, i], [r["p25"] / 1e6, r["p75"] / 1e6], color=color, lw=16, alpha=0.7, solid_capstyle="butt"
        )
        axy.plot([i - 0.18, i + 0.18], [r["p50"] / 1e6] * 2, color="#222", lw=2)
        axy.text(
            i,
            r["p90"] / 1e6,
            f"reach {fmt_pct(r['reach'], 0)}",
            ha="center",
            va="bottom",
            fontsize=10,
            color="#222",
        )
    axy.axhline(study.target / 1e6, color=BAD, lw=1.6, ls="--")
    axy.text(
        1.45,
        study.target / 1e6,
        _tex(f"target\n{fmt_money(study.target)}"),
        color=BAD,
        va="center",
        fontsize=10,
    )
    axy.set_xticks([0, 1])
    axy.set_xticklabels([f"{res.total_hires} hires", "no hires"])
    axy.set_xlim(-0.6, 1.9)
    axy.set_ylabel(f"year-{years} revenue ($M)")
    axy.grid(axis="x", visible=False)
    axy.set_title(f"Year {years}: the target's chance")
    lo_ci, hi_ci = study.probability_ci
    fig.suptitle(
        _tex(
            wrap_title(
                f"With the plan, year-{years} revenue reaches {fmt_money(study.target)} in "
                f"{fmt_pct(study.probability, 0)} of simulated years (95 % CI {fmt_pct(lo_ci, 0)}–"
                f"{fmt_pct(hi_ci, 0)}); with no hires in {fmt_pct(fy.loc['no_hires', 'reach'], 0)}",
                110,
            )
        ),
        x=0.01,
        ha="left",
        fontsize=13.5,
        fontweight="bold",
        y=1.04,
    )
    fig.tight_layout()
    figure_note(
        fig,
        "Bands: the middle 50 % and 80 % of simulated years; line and tick: the median. "
        "The plan and no hires run the same fresh simulated years, independent of the search.",
    )
    return fig


def probability_figure(study: HiringStudy, tried: pd.DataFrame) -> Any:
    """The chance of reaching the target by hires: every plan tried, and the plan's fresh check."""
    import matplotlib.pyplot as plt

    res = study.plan
    lo_ci, hi_ci = study.probability_ci
    fig, ax = plt.subplots(figsize=(10.5, 4.4))
    x_max, shown, beyond = hires_axis(tried, res.total_hires)
    d = shown[shown["whole"]]
    ax.errorbar(
        d["hires"],
        100 * d["probability"],
        # clipped at 0: a Wilson bound at 0 or 1 can land a rounding error beyond the share
        yerr=[
            100 * (d["probability"] - d["ci_low"]).clip(lower=0),
            100 * (d["ci_high"] - d["probability"]).clip(lower=0),
        ],
        fmt="-o",
        color=ACCENT,
        ecolor=GREY,
        capsize=3,
        lw=1.8,
        label=f"plans the search tried ({res.replications} simulated years each)",
    )
    part = shown[~shown["whole"]]
    if len(part):
        ax.scatter(
            part["hires_x"],
            100 * part["probability"],
            color=GREY,
            marker="s",
            zorder=3,
            label="the last hire opened later in the year",
        )
    if res.status != "no_hires_needed":
        ax.errorbar(
            [res.total_hires],
            [100 * study.probability],
            yerr=[[100 * max(study.probability - lo_ci, 0)], [100 * max(hi_ci - study.probability, 0)]],
            fmt="D",
            color=GOOD,
            ecolor=GOOD,
            capsize=4,
            ms=9,
            zorder=4,
            label="the plan, on fresh simulated years",
        )
    ax.axhline(100 * res.confidence, color=BAD, ls="--", lw=1.2)
    ax.text(
        x_max + 1,
        100 * res.confidence,
        f" {fmt_pct(res.confidence, 0)} asked for",
        color=BAD,
        va="center",
        fontsize=10,
    )
    ax.set_xlabel("hires (new seats opened from the first quarter)")
    ax.set_ylabel("chance of reaching the target (%)")
    ax.set_ylim(-3, 103)
    ax.set_xlim(-1, x_max + 1)
    ax.legend(loc="lower right")
    gives = (
        f"{res.total_hires} hires give {fmt_pct(study.probability, 0)}"
        if res.total_hires
        else "no hire is needed"
    )
    ax.set_title(
        _tex(wrap_title(f"The chance of reaching {fmt_money(study.target)} rises with headcount: {gives}"))
    )
    far = "; ".join(f"{int(r['hires'])} hires: {fmt_pct(r['probability'], 0)}" for _, r in beyond.iterrows())
    figure_note(
        fig,
        "Error bars: 95 % Wilson intervals. Plans differ only by their hires: every "
        "plan ran the same simulated people, deals and luck."
        + (f" Also tried, beyond the axis: {far}." if far else ""),
    )
    return fig


def quota_figure(curve: pd.DataFrame, share: float, replications: int) -> Any:
    """Share of reps at quota, revenue and turnover against quota, with today's and the one found."""
    import matplotlib.pyplot as plt

    c = curve.sort_values("quota")
    t_row, f_row = quota_marks(c)
    q_m = c["quota"] / 1e6
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
    ax = axes[0]
    ax.fill_between(
        q_m,
        100 * c["pct_at_quota_lo"].clip(0, 1),
        100 * c["pct_at_quota_hi"].clip(0, 1),
        color=ACCENT,
        alpha=0.15,
    )
    ax.plot(q_m, 100 * c["pct_at_quota"], "-o", color=ACCENT, lw=2, ms=4)
    ax.axhline(100 * share, color=BAD, ls="--", lw=1.2)
    ax.scatter([f_row["quota"] / 1e6], [100 * f_row["pct_at_quota"]], s=110, color=BAD, zorder=5)
    ax.annotate(
        _tex(f"{fmt_pct(share, 0)} make it:\n{fmt_money(f_row['quota'])}"),
        (f_row["quota"] / 1e6, 100 * f_row["pct_at_quota"]),
        xytext=(10, 8),
        textcoords="offset points",
        fontsize=10,
        color=BAD,
    )
    ax.scatter([t_row["quota"] / 1e6], [100 * t_row["pct_at_quota"]], s=90, color="#222", zorder=5)
    ax.annotate(
        "today",
        (t_row["quota"] / 1e6, 100 * t_row["pct_at_quota"]),
        xytext=(8, -14),
        textcoords="offset points",
        fontsize=10,
    )
    ax.set_ylabel("reps at quota (%)")
    ax.set_title("Share of reps at quota")
    for ax, col, lab in (
        (axes[1], "revenue_change", "team revenue vs today (%)"),
        (axes[2], "turnover_change", "turnover vs today (points)"),
    ):
        ax.fill_between(q_m, 100 * c[f"{col}_lo"], 100 * c[f"{col}_hi"], color=ACCENT, alpha=0.15)
        ax.plot(q_m, 100 * c[col], "-o", color=ACCENT, lw=2, ms=4)
        ax.axhline(0, color="#333", lw=0.8)
        ax.axvline(t_row["quota"] / 1e6, color="#222", lw=0.8, ls=":")
        ax.set_ylabel(lab)
    axes[1].set_title("Revenue")
    axes[2].set_title("Turnover")
    for ax in axes:
        ax.set_xlabel("annual quota per rep ($M)")
    fig.suptitle(
        _tex(
            wrap_title(
                f"Quota: {fmt_pct(t_row['pct_at_quota'], 0)} of reps make today's "
                f"{fmt_money(t_row['quota'])}; "
                f"for {fmt_pct(share, 0)} to make it, quota would sit near {fmt_money(f_row['quota'])}",
                120,
            )
        ),
        x=0.01,
        ha="left",
        fontsize=13.5,
        fontweight="bold",
        y=1.04,
    )
    fig.tight_layout()
    figure_note(
        fig,
        "Shaded: 95 % confidence intervals; revenue and turnover are paired differences "
        f"with today's quota on the same {replications} simulated years. Reps at quota: "
        "those in seat and past ramp all year.",
    )
    return fig
