"""What the drivers overview report computes (``notebooks/drivers_overview.ipynb``).

The report runs every one-driver variant of the scenario library against today's sales force
(:func:`salessim.experiments.library_swings`, common random numbers, each variant also run with
culture held on today's path), then reruns the "done well" variant of each driver with key
modelling assumptions set low and high. The functions here turn those runs into the report's
tables (the tornado, the culture split, where the hours go, the ranking under each assumption
setting, what each fix costs and returns, the assumption screening) and into the numbers its
findings rest on. Nothing here displays or writes anything.

Effects are paired differences against today, replication by replication
(:func:`salessim.notebook_helpers.paired`): relative changes for revenue, percentage points for
shares, days for the detection lag, USD for costs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salessim.experiments import DRIVER_VARIANTS, variant_changes, variants_over
from salessim.notebook_helpers import (
    Effect,
    cost_breakdown,
    cost_effects,
    effect_columns,
    paired,
    scenario_mean,
    year_rows,
)
from salessim.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from salessim.experiments import Comparison

__all__ = [
    "ACTION",
    "DONE_WELL",
    "DRIVER_NAME",
    "DRIVER_OF",
    "KEY_ASSUMPTIONS",
    "LIBRARY_NAMES",
    "PARAM_LABEL",
    "SCREEN_COLUMNS",
    "VARIANT_LABEL",
    "CostView",
    "Ranking",
    "Robustness",
    "Screening",
    "assumption_value",
    "cost_components_figure",
    "cost_view",
    "culture_share",
    "culture_split",
    "culture_split_figure",
    "driver_effects",
    "driver_label",
    "driver_name",
    "library_scenarios",
    "net_value_figure",
    "quota_turnover_figure",
    "rank_drivers",
    "rank_table",
    "ranking_figure",
    "ranking_sensitivity",
    "read_screening",
    "robustness",
    "screening_movers",
    "screening_view",
    "sensitivity_parameters",
    "sensitivity_scenarios",
    "setting_label",
    "single_drivers",
    "swings_numbers",
    "swings_view",
    "time_use",
    "tornado_figure",
]

#: The assumptions the ranking leans on most: rerun at their low and high values unless others are named.
KEY_ASSUMPTIONS = (
    "goals.focus_penalty_per_goal",
    "coaching.skill_gain_per_hour",
    "culture.attrition_sensitivity",
)
#: The library's scenarios the report runs: today's, each one-driver variant, all eight done well.
LIBRARY_NAMES = ("baseline", *[n for v in DRIVER_VARIANTS.values() for n in v], "best_practice")
#: Each variant as a table row names the change.
VARIANT_LABEL = {
    "goals_focused": "two goals instead of four",
    "goals_many": "six goals instead of four",
    "prescription": "plan from quota + stage metrics",
    "metrics_stage": "stage metrics",
    "crm_full": "every deal in the CRM",
    "managers_trained": "leadership training",
    "coaching_none": "no joint calls",
    "coaching_high": "3+ h/rep/month, trained, aimed at gaps",
    "reviews_quarterly": "quarterly reviews",
    "reviews_monthly": "monthly reviews",
    "best_practice": "all eight done well",
}
#: Each variant as a sentence names what a sales leader would do.
ACTION = {
    "goals_focused": "cutting goals from four to two",
    "goals_many": "going from four goals to six",
    "prescription": "giving every rep a tactical prescription tracked with stage metrics",
    "metrics_stage": "measuring stage-by-stage pipeline instead of closed revenue only",
    "crm_full": "getting every deal into the CRM",
    "managers_trained": "training the managers",
    "coaching_none": "stopping joint calls",
    "coaching_high": "more and better-aimed joint calls (three-plus hours per rep per month by "
    "trained managers, aimed at the gaps reviews find)",
    "reviews_quarterly": "quarterly instead of annual reviews",
    "reviews_monthly": "monthly instead of annual reviews",
    "best_practice": "doing all eight well",
}
#: The key assumptions in words.
PARAM_LABEL = {
    "goals.focus_penalty_per_goal": "focus lost per extra goal",
    "coaching.skill_gain_per_hour": "skill gained per coaching hour",
    "culture.attrition_sensitivity": "how much culture keeps reps from leaving",
}
#: A driver's name without its number: ``"1 goal clarity"`` → ``"goal clarity"``.
DRIVER_NAME = {d: d.split(" ", 1)[1] for d in DRIVER_VARIANTS}
#: The driver (numbered, as in :data:`salessim.experiments.DRIVER_VARIANTS`) each variant changes.
DRIVER_OF = {n: d for d, vs in DRIVER_VARIANTS.items() for n in vs} | {"best_practice": "all eight"}
#: The "done well" variant of each driver: the candidates for "fix first".
DONE_WELL = {
    "1 goal clarity": "goals_focused",
    "2 tactical prescription": "prescription",
    "3 performance metrics": "metrics_stage",
    "4 CRM adoption": "crm_full",
    "5 manager training": "managers_trained",
    "6 joint calls": "coaching_high",
    "7 review cadence": "reviews_monthly",
}


def driver_name(scenario: str) -> str:
    """The driver a variant changes, unnumbered (``goal clarity``; ``all eight``; "" if none)."""
    d = DRIVER_OF.get(scenario)
    return DRIVER_NAME.get(d, d) if d else ""


def driver_label(scenario: str) -> str:
    """A variant as the report names it: ``goal clarity: two goals instead of four``."""
    return (
        f"{DRIVER_NAME.get(DRIVER_OF.get(scenario, ''), scenario)}: {VARIANT_LABEL.get(scenario, scenario)}"
    )


# ------------------------------------------------------------------------------------------
# the scenarios
# ------------------------------------------------------------------------------------------
def sensitivity_parameters(names: str, quick: bool = False) -> list[str]:
    """The assumptions rerun low and high: a comma-separated list, else :data:`KEY_ASSUMPTIONS`.

    ``quick`` (a smoke run) keeps the first only.
    """
    params = [s.strip() for s in names.split(",") if s.strip()] or list(KEY_ASSUMPTIONS)
    return params[:1] if quick else params


def library_scenarios(
    directory: Path, baseline: Scenario | None = None
) -> tuple[Scenario, list[Scenario], dict[str, str]]:
    """Today's sales force and each library variant of it, as the report runs them.

    Args:
        directory: the scenario library (``baseline.yaml`` and a file per variant).
        baseline: the sales force the drivers are tried on; None: the library's own baseline
            and its variant files as they are. Otherwise each variant's changes are laid over
            it (:func:`salessim.experiments.variants_over`).

    Returns:
        The baseline, the variants (in :data:`LIBRARY_NAMES` order) and those left out because
        they are not valid over this baseline, with the reason.
    """
    directory = Path(directory)
    if baseline is None:
        base = load_scenario(directory / "baseline.yaml")
        return base, [load_scenario(directory / f"{n}.yaml") for n in LIBRARY_NAMES[1:]], {}
    variants, left_out = variants_over(
        baseline, {n: variant_changes(n, directory) for n in LIBRARY_NAMES[1:]}, skip_invalid=True
    )
    return baseline, variants, left_out


def assumption_value(scenario: Scenario, parameter: str, multiplier: float) -> Any:
    """A scenario's value of a dotted parameter times ``multiplier``, keeping a float a float.

    ``assumption_value(sc, "coaching.skill_gain_per_hour", 0.5)`` is half its value in ``sc``.
    """
    value: Any = scenario.to_dict()
    for k in parameter.split("."):
        value = value[k]
    return type(value)(value * multiplier) if isinstance(value, float) else value * multiplier


def sensitivity_scenarios(
    scenarios: Mapping[str, Scenario],
    baseline: str,
    parameters: Sequence[str],
    low: float,
    high: float,
) -> dict[tuple[str, str, Any], list[Scenario]]:
    """The reruns of the ranking: today and each driver's "done well" variant, one assumption moved.

    Args:
        scenarios: every scenario of the report by name (today's under ``baseline``).
        baseline: today's scenario name.
        parameters: dotted assumptions to move.
        low, high: the multipliers of today's value.

    Returns:
        ``(parameter, "low" | "high", value)`` → the scenarios to compare (today's first), each
        with that assumption set to ``value``.
    """
    out: dict[tuple[str, str, Any], list[Scenario]] = {}
    for param in parameters:
        for tag, mult in (("low", low), ("high", high)):
            value = assumption_value(scenarios[baseline], param, mult)
            out[(param, tag, value)] = [
                scenarios[n].replace(**{param: value}) for n in [baseline, *DONE_WELL.values()]
            ]
    return out


# ------------------------------------------------------------------------------------------
# the effects of each driver
# ------------------------------------------------------------------------------------------
def driver_effects(year: pd.DataFrame, baseline: str, variants: Sequence[str]) -> pd.DataFrame:
    """Each variant's paired effect on revenue, the share of reps at quota and turnover.

    Args:
        year: one row per scenario and replication (:func:`salessim.notebook_helpers.year_rows`).
        baseline: today's scenario name.
        variants: the variants, in the order the rows come.

    Returns:
        One row per variant: ``driver``, ``change``, ``scenario``; ``revenue`` (relative),
        ``at_quota`` and ``turnover`` (points) as :class:`Effect` s.
    """
    rows = [
        {
            "driver": driver_name(n),
            "change": VARIANT_LABEL.get(n, n),
            "scenario": n,
            "revenue": paired(year, "revenue", baseline, n),
            "at_quota": paired(year, "pct_at_quota", baseline, n, "pts"),
            "turnover": paired(year, "turnover", baseline, n, "pts"),
        }
        for n in variants
    ]
    return pd.DataFrame(rows, columns=["driver", "change", "scenario", "revenue", "at_quota", "turnover"])


def single_drivers(effects: pd.DataFrame) -> pd.DataFrame:
    """The one-driver variants (all but ``best_practice``), largest average revenue effect first.

    Adds ``rev_mean``, the average revenue effect the rows are sorted by.
    """
    single = effects[effects["scenario"] != "best_practice"].copy()
    single["rev_mean"] = single["revenue"].map(lambda e: e.mean)
    return single.sort_values("rev_mean", ascending=False)


def swings_view(single: pd.DataFrame) -> pd.DataFrame:
    """The tornado's numbers as the page shows them: each effect and its 95 % CI as text."""
    return pd.DataFrame(
        {
            "driver": single["driver"],
            "change": single["change"],
            "team revenue": single["revenue"].map(lambda e: e.mean),
            "revenue 95 % CI": single["revenue"].map(lambda e: e.ci_short() + " %"),
            "reps at quota": single["at_quota"].map(lambda e: e.mean),
            "at-quota 95 % CI": single["at_quota"].map(lambda e: e.ci_short() + " pts"),
            "turnover": single["turnover"].map(lambda e: e.mean),
            "turnover 95 % CI": single["turnover"].map(lambda e: e.ci_short() + " pts"),
        }
    )


def swings_numbers(single: pd.DataFrame) -> pd.DataFrame:
    """The numbers behind the tornado (``swings.csv``): each paired effect and its 95 % CI.

    Shares and points stay fractions.
    """
    return pd.DataFrame(
        {
            "driver": single["driver"],
            "change": single["change"],
            "scenario": single["scenario"],
            **effect_columns("revenue_diff_rel", single["revenue"]),
            **effect_columns("at_quota_diff_pts", single["at_quota"]),
            **effect_columns("turnover_diff_pts", single["turnover"]),
        }
    )


def culture_split(summary: pd.DataFrame, baseline: str, single: pd.DataFrame) -> pd.DataFrame:
    """Each revenue effect split: the direct part (culture held on today's path) and culture's part.

    Args:
        summary: the comparison's summary, run with ``culture_split=True`` (its ``direct`` and
            ``mediated`` columns and their CIs).
        baseline: today's scenario name.
        single: :func:`single_drivers` (the rows and their order).

    Returns:
        ``driver``, ``change``, ``scenario``, ``total`` and the parts with their 95 % CIs, as
        shares of today's revenue.
    """
    rev = summary[summary["metric"] == "revenue"].set_index("scenario")
    today = rev.loc[baseline, "mean"]
    names = single["scenario"]

    def share(col: str) -> list[float]:
        return [rev.loc[n, col] / today for n in names]

    return pd.DataFrame(
        {
            "driver": single["driver"].to_numpy(),
            "change": single["change"].to_numpy(),
            "scenario": names.to_numpy(),
            "total": share("diff"),
            "direct part": share("direct"),
            "direct 95 % CI low": share("direct_ci_low"),
            "direct 95 % CI high": share("direct_ci_high"),
            "via culture": share("mediated"),
            "via culture 95 % CI low": share("mediated_ci_low"),
            "via culture 95 % CI high": share("mediated_ci_high"),
        }
    )


def culture_share(split: pd.DataFrame) -> float:
    """The share of all revenue effects (in absolute value) that culture carries."""
    return float(split["via culture"].abs().sum() / max(split["total"].abs().sum(), 1e-12))


def time_use(year: pd.DataFrame, baseline: str, single: pd.DataFrame) -> pd.DataFrame:
    """Where the hours go: reps' time selling and the joint calls delivered, today and per variant.

    Returns:
        Today's row first, then one per row of ``single``: ``time selling`` (share of working
        hours), ``change in time selling`` (paired, points; NaN for today) and ``joint calls
        delivered`` (share of the promised hours managers delivered).
    """
    rows = [
        {
            "driver": "",
            "change": "today",
            "scenario": baseline,
            "time selling": scenario_mean(year, baseline, "selling_time_share"),
            "change in time selling": np.nan,
            "joint calls delivered": scenario_mean(year, baseline, "coaching_delivered_share"),
        }
    ]
    for _, r in single.iterrows():
        n = r["scenario"]
        rows.append(
            {
                "driver": r["driver"],
                "change": r["change"],
                "scenario": n,
                "time selling": scenario_mean(year, n, "selling_time_share"),
                "change in time selling": paired(year, "selling_time_share", baseline, n, "pts").mean,
                "joint calls delivered": scenario_mean(year, n, "coaching_delivered_share"),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# which driver to fix first
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranking:
    """The "done well" variants ranked by revenue, and what the findings say about the order.

    ``top``, ``second``, ``best_at_quota``, ``best_turnover`` and ``worst`` are rows of
    :func:`driver_effects` (``worst``: the single-driver variant with the lowest revenue effect).
    """

    done: pd.DataFrame
    top: pd.Series
    second: pd.Series
    #: revenue of the top variant against the second's, paired
    gap: Effect
    best_at_quota: pd.Series
    best_turnover: pd.Series
    worst: pd.Series
    #: full CRM adoption's effect on the detection lag (days) and forecast error (points)
    crm_detection_lag: Effect | None = None
    crm_forecast_error: Effect | None = None
    #: doing all eight well, on revenue
    all_eight: Effect | None = None

    @property
    def verdict(self) -> str:
        """How clear the first pick is: ``clear``, ``too_close`` or ``none``.

        ``clear``: the top fix raises revenue and distinguishably more than the second;
        ``too_close``: it raises revenue, but not distinguishably more than the second; ``none``:
        it does not clearly raise revenue.
        """
        if self.top["revenue"].direction != 1:
            return "none"
        return "clear" if self.gap.direction == 1 else "too_close"

    @property
    def quota_clear(self) -> bool:
        """The biggest at-quota lever raises the share of reps at quota distinguishably."""
        return bool(self.best_at_quota["at_quota"].direction == 1)

    @property
    def turnover_clear(self) -> bool:
        """The biggest turnover lever lowers turnover distinguishably."""
        return bool(self.best_turnover["turnover"].direction == -1)

    @property
    def leads(self) -> set[str]:
        """The drivers that clearly lead on revenue, at-quota share and turnover (one each)."""
        return {
            d
            for d, ok in (
                (self.top["driver"], self.top["revenue"].direction == 1),
                (self.best_at_quota["driver"], self.quota_clear),
                (self.best_turnover["driver"], self.turnover_clear),
            )
            if ok
        }

    @property
    def same_first_move(self) -> bool | None:
        """Whether revenue, at-quota share and turnover point to the same first move.

        True: all three clearly point to one driver; False: they clearly point to different
        ones; None: otherwise (some measure moves with no fix distinguishably).
        """
        if len(self.leads) > 1:
            return False
        if len(self.leads) == 1 and self.quota_clear and self.turnover_clear and self.verdict != "none":
            return True
        return None


def rank_drivers(year: pd.DataFrame, baseline: str, effects: pd.DataFrame) -> Ranking:
    """Rank the "done well" variants by their revenue effect and pick the leaders on each measure.

    Args:
        year: one row per scenario and replication.
        baseline: today's scenario name.
        effects: :func:`driver_effects` of every variant (``best_practice`` included if run).

    Raises:
        ValueError: fewer than two "done well" variants to rank.
    """
    single = single_drivers(effects)
    done = single[single["scenario"].isin(DONE_WELL.values())].reset_index(drop=True)
    if len(done) < 2:
        raise ValueError("fewer than two drivers' fixes to rank")
    top, second = done.iloc[0], done.iloc[1]
    names = set(effects["scenario"])
    crm = "crm_full" in names
    bp = effects[effects["scenario"] == "best_practice"]
    return Ranking(
        done=done,
        top=top,
        second=second,
        gap=paired(year, "revenue", second["scenario"], top["scenario"]),
        best_at_quota=done.loc[done["at_quota"].map(lambda e: e.mean).idxmax()],
        best_turnover=done.loc[done["turnover"].map(lambda e: e.mean).idxmin()],
        worst=single.iloc[-1],
        crm_detection_lag=paired(year, "detection_lag_days", baseline, "crm_full", "days") if crm else None,
        crm_forecast_error=paired(year, "forecast_error", baseline, "crm_full", "pts") if crm else None,
        all_eight=bp.iloc[0]["revenue"] if len(bp) else None,
    )


def setting_label(parameter: str, multiplier: float) -> str:
    """An assumption setting in words: ``focus lost per extra goal halved``, ``… × 0.25``."""
    how = {0.5: "halved", 2.0: "doubled"}.get(multiplier, f"× {multiplier:g}")
    return f"{PARAM_LABEL.get(parameter, parameter)} {how}"


def ranking_sensitivity(
    done: pd.DataFrame,
    reruns: Mapping[tuple[str, str, Any], Comparison],
    baseline: str,
    low: float,
    high: float,
) -> pd.DataFrame:
    """The rank of each driver's fix by its revenue effect under each assumption setting.

    Args:
        done: :attr:`Ranking.done` (the ranking at the default assumptions).
        reruns: :func:`sensitivity_scenarios`' keys → the comparison run of those scenarios.
        baseline: today's scenario name in each rerun.
        low, high: the multipliers the ``low`` and ``high`` settings used.

    Returns:
        One row per setting and fix (the default assumptions first): ``setting``,
        ``scenario``, ``rank`` (1 = largest revenue effect), ``revenue`` (relative effect
        against today), ``change``, ``driver``.
    """
    mult = {"low": low, "high": high}
    by = done.set_index("scenario")
    default_rank = {r["scenario"]: i + 1 for i, r in done.iterrows()}
    rows = [
        {
            "setting": "default assumptions",
            "scenario": n,
            "rank": default_rank[n],
            "revenue": by.loc[n, "revenue"].mean,
        }
        for n in DONE_WELL.values()
    ]
    for (param, tag, _value), comp in reruns.items():
        y = year_rows(comp.results.periods)
        effs = {n: paired(y, "revenue", baseline, n).mean for n in DONE_WELL.values()}
        order = sorted(effs, key=lambda n: effs[n], reverse=True)
        rows += [
            {
                "setting": setting_label(param, mult[tag]),
                "scenario": n,
                "rank": order.index(n) + 1,
                "revenue": effs[n],
            }
            for n in DONE_WELL.values()
        ]
    ranks = pd.DataFrame(rows)
    ranks["change"] = ranks["scenario"].map(VARIANT_LABEL)
    ranks["driver"] = ranks["scenario"].map(lambda n: DRIVER_NAME[DRIVER_OF[n]])
    return ranks


@dataclass(frozen=True)
class Robustness:
    """Whether the first pick survives the assumption reruns."""

    #: the settings in order, the default assumptions first
    settings: list[str]
    #: setting → the scenario ranked first under it
    tops: dict[str, str]
    #: reruns (default excluded) where the default's first pick stays first, and their number
    same: int
    reruns: int
    #: the reruns where another fix leads
    changed: list[str] = field(default_factory=list)


def robustness(ranks: pd.DataFrame, top: str) -> Robustness:
    """How often ``top`` (the first pick at the default assumptions) stays first in the reruns."""
    settings = [str(s) for s in ranks["setting"].unique()]
    tops = {str(k): str(v) for k, v in ranks[ranks["rank"] == 1].set_index("setting")["scenario"].items()}
    return Robustness(
        settings=settings,
        tops=tops,
        same=sum(tops[s] == top for s in settings) - 1,
        reruns=len(settings) - 1,
        changed=[s for s in settings[1:] if tops[s] != top],
    )


# ------------------------------------------------------------------------------------------
# what each fix costs, and what it returns
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostView:
    """What each fix costs and returns, USD a year against today (paired).

    ``effects``: :func:`salessim.notebook_helpers.cost_effects` with ``driver``, ``change`` and
    ``net_mean`` added, single-driver fixes by margin less cost (best first), then
    ``best_practice``; ``by_net``: the single-driver fixes alone, in that order; ``breakdown``:
    :func:`salessim.notebook_helpers.cost_breakdown`.
    """

    effects: pd.DataFrame
    by_net: pd.DataFrame
    breakdown: pd.DataFrame

    @property
    def table(self) -> pd.DataFrame:
        """The page's table: levels as numbers, CIs as text (``scenario`` last)."""
        e = self.effects
        return pd.DataFrame(
            {
                "driver": e["driver"],
                "change": e["change"],
                "revenue (USD)": e["revenue"].map(lambda x: x.mean),
                "cost (USD)": e["cost"].map(lambda x: x.mean),
                "cost 95 % CI": e["cost"].map(lambda x: x.ci_range()),
                "gross margin (USD)": e["margin"],
                "margin per extra $1 of cost": e["return_on_cost"],
                "verdict": e["verdict"],
                "margin less cost (USD)": e["net_mean"],
                "margin less cost 95 % CI": e["net"].map(lambda x: x.ci_range()),
                "scenario": e["scenario"],
            }
        )

    @property
    def numbers(self) -> pd.DataFrame:
        """The numbers behind the table (``costs.csv``), with their 95 % CIs."""
        e = self.effects
        return pd.DataFrame(
            {
                "driver": e["driver"],
                "change": e["change"],
                "scenario": e["scenario"],
                "revenue_diff_usd": e["revenue"].map(lambda x: x.mean),
                **effect_columns("cost_diff_usd", e["cost"]),
                "gross_margin_diff_usd": e["margin"],
                "margin_per_extra_usd_of_cost": e["return_on_cost"],
                "verdict": e["verdict"],
                **effect_columns("margin_less_cost_diff_usd", e["net"]),
            }
        )

    @property
    def best(self) -> pd.Series:
        """The single-driver fix with the largest average margin less cost."""
        return self.by_net.iloc[0]

    @property
    def paying(self) -> pd.DataFrame:
        """Fixes that clearly cost more, by the gross margin each extra dollar buys (most first)."""
        return self.by_net[self.by_net["return_on_cost"] >= 0].sort_values("return_on_cost", ascending=False)

    @property
    def losing(self) -> pd.DataFrame:
        """Fixes that cost more and, on average, earn less."""
        return self.by_net[self.by_net["verdict"] == "costs more and earns less"]

    @property
    def savers(self) -> pd.DataFrame:
        """Fixes that save money."""
        return self.by_net[self.by_net["verdict"] == "saves money"]

    def of(self, scenario: str) -> pd.Series:
        """One fix's row of :attr:`effects`."""
        return self.effects.set_index("scenario").loc[scenario]


def cost_view(comp: Comparison) -> CostView:
    """What each variant of the comparison costs and returns (see :class:`CostView`)."""
    eff = cost_effects(comp)
    eff["driver"] = eff["scenario"].map(driver_name)
    eff["change"] = eff["scenario"].map(lambda n: VARIANT_LABEL.get(n, n))
    eff["net_mean"] = eff["net"].map(lambda e: e.mean)
    by_net = eff[eff["scenario"] != "best_practice"].sort_values("net_mean", ascending=False)
    ranked = [*by_net["scenario"], *(["best_practice"] if "best_practice" in set(eff["scenario"]) else [])]
    eff = eff.set_index("scenario", drop=False).loc[ranked].reset_index(drop=True)
    return CostView(effects=eff, by_net=by_net, breakdown=cost_breakdown(comp))


# ------------------------------------------------------------------------------------------
# the assumption screening (``salessim sensitivity``)
# ------------------------------------------------------------------------------------------
#: The columns a screening table must have.
SCREEN_COLUMNS = frozenset(
    {
        "parameter",
        "driver",
        "mu_star",
        "mu_star_conf",
        "sigma",
        "low",
        "high",
        "noise_mu_star",
        "top_changes",
        "clear_top_changes",
        "steps",
    }
)


@dataclass(frozen=True)
class Screening:
    """A screening read from disk: its table and manifest, or why it could not be used.

    ``table`` None and ``problem`` empty: there is no screening file.
    """

    table: pd.DataFrame | None
    meta: dict[str, Any]
    problem: str = ""


def read_screening(path: Path) -> Screening:
    """Read a screening (``sensitivity.parquet`` and the ``manifest.json`` beside it).

    A file that cannot be read or lacks a column is not trusted: ``problem`` says why. A
    manifest that cannot be read is left out.
    """
    path = Path(path)
    if not path.is_file():
        return Screening(None, {})
    try:
        table = pd.read_parquet(path)
    except Exception as e:  # a broken file is reported, not trusted
        return Screening(None, {}, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    missing = SCREEN_COLUMNS - set(table.columns)
    if missing:
        return Screening(None, {}, f"it lacks the columns {', '.join(sorted(missing))}")
    meta: dict[str, Any] = {}
    man = path.parent / "manifest.json"
    if man.is_file():
        try:
            meta = json.loads(man.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
    return Screening(table, meta if isinstance(meta, dict) else {})


def screening_movers(screen: pd.DataFrame) -> pd.DataFrame:
    """The assumptions whose steps changed which driver leads, those clear of noise first.

    One row per assumption with ``top_changes`` > 0, by ``clear_top_changes`` then
    ``top_changes`` (descending).
    """
    return (
        screen.drop_duplicates("parameter")
        .query("top_changes > 0")
        .sort_values(["clear_top_changes", "top_changes"], ascending=False)
    )


def _range_number(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def screening_view(screen: pd.DataFrame) -> pd.DataFrame:
    """The three assumptions each driver's revenue effect moves with most, as the page lists them.

    Drivers in :data:`DONE_WELL` order, then any other; within a driver, by mu* (largest
    first). The driver is named on its first row only; ``range screened`` is text, the rest
    numbers (points as fractions).
    """
    top_rows = screen.sort_values("mu_star", ascending=False).groupby("driver", sort=False).head(3)
    order = [n for n in DONE_WELL.values() if n in set(top_rows["driver"])]
    order += [n for n in top_rows["driver"].unique() if n not in order]
    top_rows = top_rows.assign(_o=top_rows["driver"].map({n: i for i, n in enumerate(order)}))
    top_rows = top_rows.sort_values(["_o", "mu_star"], ascending=[True, False])
    return pd.DataFrame(
        {
            "driver": [
                driver_label(d) if i == 0 or d != prev else ""
                for i, (d, prev) in enumerate(
                    zip(top_rows["driver"], top_rows["driver"].shift(), strict=True)
                )
            ],
            "assumption": top_rows["parameter"],
            "range screened": [
                f"{_range_number(lo)} … {_range_number(hi)}"
                for lo, hi in zip(top_rows["low"], top_rows["high"], strict=True)
            ],
            "mu* (points)": top_rows["mu_star"],
            "± 95 %": top_rows["mu_star_conf"],
            "sigma": top_rows["sigma"],
            "noise level": top_rows["noise_mu_star"],
        }
    )


def rank_table(ranks: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """:func:`ranking_sensitivity` wide: one row per setting (in its order), a rank per driver.

    Args:
        ranks: :func:`ranking_sensitivity`.
        order: the fixes (scenario names) in the column order wanted, e.g. the default ranking.
    """
    settings = list(ranks["setting"].unique())
    return (
        ranks.pivot(index="setting", columns="driver", values="rank")
        .reindex(index=settings, columns=[DRIVER_NAME[DRIVER_OF[n]] for n in order])
        .reset_index()
    )


# ------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------
def _row_labels(rows: pd.DataFrame) -> list[str]:
    return [f"{d}: {c}" for d, c in zip(rows["driver"], rows["change"], strict=True)]


def tornado_figure(single: pd.DataFrame, title: str) -> Figure:
    """The tornado: each one-driver variant's paired effect on team revenue, largest first.

    Args:
        single: :func:`single_drivers`.
        title: the chart's title (wrapped to the figure).
    """
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import effect_chart, wrap_title

    fig, ax = plt.subplots(figsize=(10, 5.4))
    effect_chart(ax, _row_labels(single), list(single["revenue"]), xlabel="team revenue vs today (%)")
    ax.set_title(wrap_title(title))
    return fig


def quota_turnover_figure(single: pd.DataFrame, title: str) -> Figure:
    """Each one-driver variant's effect on the share of reps at quota and on turnover, side by side."""
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import effect_chart, wrap_title

    labels = _row_labels(single)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.4), sharey=True)
    effect_chart(
        axes[0], labels, list(single["at_quota"]), xlabel="reps at quota\n(change, percentage points)"
    )
    effect_chart(
        axes[1],
        labels,
        list(single["turnover"]),
        better=-1,
        xlabel="annual turnover\n(change, percentage points)",
    )
    axes[0].set_title("Share of reps at quota")
    axes[1].set_title("Turnover (lower is better)")
    fig.suptitle(wrap_title(title), x=0.01, ha="left", fontsize=13.5, fontweight="bold")
    fig.tight_layout(w_pad=4)  # value labels sit outside the bars
    return fig


def net_value_figure(by_net: pd.DataFrame, title: str) -> Figure:
    """Each fix's gross margin less cost against today (USD a year), its return on cost in brackets.

    Args:
        by_net: :attr:`CostView.by_net`.
        title: the chart's title (wrapped).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from salessim.notebook_helpers import effect_chart, fmt_money, return_text, wrap_title

    labels = [
        f"{r['driver']}: {r['change']}\n({return_text(r['return_on_cost'], r['verdict'], chart=True)})"
        for _, r in by_net.iterrows()
    ]
    fig, ax = plt.subplots(figsize=(10, 6.4))
    effect_chart(ax, labels, list(by_net["net"]), xlabel="gross margin less cost against today (USD a year)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_money(v).replace("$", r"\$")))
    ax.set_title(wrap_title(title))
    return fig


def cost_components_figure(view: CostView, title: str) -> Figure:
    """What each fix's change in cost is made of (:func:`salessim.notebook_helpers.cost_components_chart`).

    The single-driver fixes in :attr:`CostView.by_net` order, then ``best_practice`` if run.
    """
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import cost_components_chart, wrap_title

    label_of = dict(zip(view.effects["scenario"], _row_labels(view.effects), strict=True))
    bundle = [*view.by_net["scenario"], *(["best_practice"] if "best_practice" in label_of else [])]
    fig, ax = plt.subplots(figsize=(10, 6.4))
    cost_components_chart(ax, view.breakdown, bundle, [label_of[n] for n in bundle])
    ax.set_title(wrap_title(title).replace("$", r"\$"))
    return fig


def culture_split_figure(split: pd.DataFrame, title: str) -> Figure:
    """Each revenue effect as its direct part (with its 95 % CI) and the part culture carries.

    Args:
        split: :func:`culture_split`.
        title: the chart's title (wrapped).
    """
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import ACCENT, wrap_title

    fig, ax = plt.subplots(figsize=(10, 5.4))
    yy = np.arange(len(split))[::-1]
    direct = 100 * split["direct part"]
    ax.barh(yy, direct, color=ACCENT, label="direct part (culture held)")
    ax.barh(yy, 100 * split["via culture"], left=direct, color="#9ecae1", label="carried by culture")
    err = 100 * np.vstack(
        [
            split["direct part"] - split["direct 95 % CI low"],
            split["direct 95 % CI high"] - split["direct part"],
        ]
    )
    ax.errorbar(direct, yy, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(yy, _row_labels(split))
    ax.set_xlabel("team revenue vs today (%)")
    ax.legend(loc="lower right", frameon=False)
    ax.set_title(wrap_title(title))
    return fig


def ranking_figure(ranks: pd.DataFrame, order: Sequence[str], title: str) -> Figure:
    """Each fix's revenue effect under each assumption setting (default: large diamonds).

    Args:
        ranks: :func:`ranking_sensitivity`.
        order: the fixes top to bottom (e.g. the default ranking).
        title: the chart's title.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from salessim.notebook_helpers import ACCENT

    settings = list(ranks["setting"].unique())
    fig, ax = plt.subplots(figsize=(11.5, 5.4))
    palette = [ACCENT, *sns.color_palette("tab10", len(settings) - 1)]
    for i, (s_, col) in enumerate(zip(settings, palette, strict=True)):
        d = ranks[ranks["setting"] == s_].set_index("scenario").reindex(order)
        yy = np.arange(len(order))[::-1] + (i - (len(settings) - 1) / 2) * 0.09
        ax.scatter(
            100 * d["revenue"],
            yy,
            color=col,
            s=90 if i == 0 else 40,
            marker="D" if i == 0 else "o",
            label=s_,
            zorder=3 if i == 0 else 2,
        )
    ax.set_yticks(np.arange(len(order))[::-1])
    ax.set_yticklabels([driver_label(n) for n in order])
    ax.axvline(0, color="#333", lw=0.8)
    ax.set_xlabel("team revenue vs today (%)")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.35, -0.13), ncol=2, fontsize=9.5)
    ax.set_title(title)
    return fig
