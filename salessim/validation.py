"""The validation table (docs/model.md#validation), measured: what the defaults reproduce, with uncertainty.

Each row simulates the scenarios it needs with common random numbers (the same seed and
replications), so differences between scenarios are paired replication by replication.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salessim.results import Results
from salessim.scenario import Scenario, load_scenario
from salessim.simulate import simulate
from salessim.stats import mean_ci

__all__ = ["ValidationRow", "band_gains", "validation_table"]

SCENARIOS = (
    "baseline",
    "coaching_high",
    "managers_trained",
    "prescription",
    "goals_focused",
    "reviews_monthly",
    "metrics_stage",
)
#: the stage-metrics variant with every deal logged (the CRM rows)
CRM_FULL_STAGE = "metrics_stage_crm_full"
#: the suffix of a scenario run with its culture frozen
FROZEN = "_culture_frozen"


@dataclass(frozen=True)
class ValidationRow:
    """One row: what is measured, its target range, the estimate and its 95 % CI."""

    quantity: str
    target: str
    low: float
    high: float
    estimate: float
    ci_low: float
    ci_high: float
    source: str

    @property
    def ok(self) -> bool:
        """The point estimate lies in the target range."""
        return bool(self.low <= self.estimate <= self.high)


def _mean_ci(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval (:func:`salessim.stats.mean_ci`)."""
    r = mean_ci(x)
    return r.mean, r.low, r.high


def _year(res: Results, col: str) -> np.ndarray:
    y = res.periods[res.periods["period"] == "year"].sort_values("replication")
    return y[col].to_numpy(dtype=float)


def _rel(a: Results, b: Results, col: str) -> np.ndarray:
    """Per-replication relative change of a year metric, b over a."""
    return _year(b, col) / _year(a, col) - 1.0


def band_gains(base: Results, variant: Results) -> pd.DataFrame:
    """Relative attainment gain per skill band (bottom 20 %, middle 60 %, top 20 %).

    Bands come from the baseline's starting skill within each replication; reps are paired by
    ``rep_id`` (the same starting person under common random numbers) and must be full-period in
    both runs. Returns one row per replication and band.
    """
    cols = ["replication", "rep_id", "attainment", "skill_start"]
    a = base.reps[(base.reps["period"] == "year") & base.reps["full_period"]][cols]
    b = variant.reps[(variant.reps["period"] == "year") & variant.reps["full_period"]][cols]
    m = a.merge(b, on=["replication", "rep_id"], suffixes=("_a", "_b"))
    m["pct"] = m.groupby("replication")["skill_start_a"].rank(pct=True)
    m["band"] = pd.cut(m["pct"], [0, 0.2, 0.8, 1.0], labels=["bottom 20%", "middle 60%", "top 20%"])
    g = m.groupby(["replication", "band"], observed=True)[["attainment_a", "attainment_b"]].mean()
    g["gain"] = g["attainment_b"] / g["attainment_a"] - 1.0
    return g.reset_index()


def validation_table(
    replications: int = 32,
    seed: int = 20261127,
    results: dict[str, Results] | None = None,
    mode: str | None = None,
    warmup_days: int | None = None,
) -> list[ValidationRow]:
    """Measure every row of the validation table with the default scenario library.

    ``mode`` and ``warmup_days`` (``simulation.mode`` and ``simulation.warmup_days``) apply to every
    scenario; by default each keeps its own (the library's: year 1 of each change, a year's
    warm-up).
    """
    res = dict(results or {})
    clock = {
        k: v for k, v in (("simulation.mode", mode), ("simulation.warmup_days", warmup_days)) if v is not None
    }

    def run(sc: Scenario) -> Results:
        return simulate(sc.replace(**clock) if clock else sc, replications=replications, seed=seed)

    for name in SCENARIOS:
        if name not in res:
            res[name] = run(load_scenario(name))
    for name in ("baseline", "prescription"):  # culture held where it starts: the direct part
        if f"{name}{FROZEN}" not in res:
            res[f"{name}{FROZEN}"] = run(
                load_scenario(name).replace(**{"culture.enabled": False, "name": f"{name}{FROZEN}"})
            )
    if CRM_FULL_STAGE not in res:  # full CRM adoption, under stage metrics
        res[CRM_FULL_STAGE] = run(
            load_scenario("metrics_stage").replace(**{"crm.adoption": 1.0, "name": CRM_FULL_STAGE})
        )
    base = res["baseline"]
    rows: list[ValidationRow] = []

    def add(q: str, target: str, lo: float, hi: float, x: np.ndarray, source: str) -> None:
        m, ci_lo, ci_hi = _mean_ci(x)
        rows.append(ValidationRow(q, target, lo, hi, m, ci_lo, ci_hi, source))

    add("overall win rate", "17–23 %", 0.17, 0.23, _year(base, "win_rate"), "Ebsta×Pavilion 2025")
    add("median won cycle (days)", "55–80", 55, 80, _year(base, "cycle_days"), "Bridge Group 2017")
    add(
        "share of full-period reps at quota",
        "35–55 %",
        0.35,
        0.55,
        _year(base, "pct_at_quota"),
        "Ebsta 2024; RepVue",
    )
    yr = base.reps[(base.reps["period"] == "year") & base.reps["full_period"]]
    skew = yr.groupby("replication")["attainment"].agg(lambda s: s.mean() - s.median())
    add("attainment mean − median (right skew)", "> 0", 1e-9, np.inf, skew.to_numpy(), "Ebsta 2024")
    add("annual rep turnover", "22–38 %", 0.22, 0.38, _year(base, "turnover"), "HBR 27 %; surveys 35 %")
    bands = band_gains(base, res["coaching_high"])
    mid = bands[bands["band"] == "middle 60%"].sort_values("replication")["gain"].to_numpy()
    add(
        "coaching_high: middle-60 % attainment gain",
        "+10 % to +25 %",
        0.10,
        0.25,
        mid,
        "Sales Executive Council; Dixon & Adamson 2011",
    )
    for band in ("top 20%", "bottom 20%"):
        g = bands[bands["band"] == band].sort_values("replication")["gain"].to_numpy()
        add(
            f"coaching_high: {band} gain ÷ middle-60 % gain",
            "< 0.5",
            -np.inf,
            0.5,
            g / np.where(mid == 0, np.nan, mid),
            "Dixon & Adamson 2011",
        )
    add(
        "trained vs untrained managers: team revenue",
        "+5 % to +12 %",
        0.05,
        0.12,
        _rel(base, res["managers_trained"], "revenue"),
        "Benson, Li & Shue 2019",
    )
    add(
        "prescription (+ stage metrics) vs off: revenue",
        "+8 % to +15 %",
        0.08,
        0.15,
        _rel(base, res["prescription"], "revenue"),
        "Locke & Latham; CALLPLAN +8.1 %",
    )
    total = _rel(base, res["prescription"], "revenue")
    direct = _rel(res[f"baseline{FROZEN}"], res[f"prescription{FROZEN}"], "revenue")
    add(
        "prescription: direct part (culture frozen) − half the total",
        "≥ 0",
        0.0,
        np.inf,
        direct - 0.5 * total,
        "the direct part is at least half of the effect",
    )
    add(
        "2 goals vs 4: revenue",
        "+2 % to +8 % (assumption)",
        0.02,
        0.08,
        _rel(base, res["goals_focused"], "revenue"),
        "Slocum, Cron & Brown 2002",
    )
    comp = (
        res["goals_focused"]
        .reps.query("period == 'year' and full_period")
        .groupby("replication")["composite_attainment"]
        .mean()
        .to_numpy()
        - base.reps.query("period == 'year' and full_period")
        .groupby("replication")["composite_attainment"]
        .mean()
        .to_numpy()
    )
    add("2 goals vs 4: composite attainment (points)", "> 0", 1e-9, np.inf, comp, "goal-overload research")
    add(
        "monthly vs annual reviews: voluntary attrition",
        "−20 % to −35 %",
        -0.35,
        -0.20,
        _rel(base, res["reviews_monthly"], "voluntary_turnover"),
        "Adobe Check-in −30 %",
    )
    add(
        "monthly vs annual reviews: detection lag (days)",
        "shorter by ≥ 60",
        -np.inf,
        -60,
        _year(res["reviews_monthly"], "detection_lag_days") - _year(base, "detection_lag_days"),
        "driver 7",
    )
    add(
        "stage metrics vs outcomes: detection lag (days)",
        "shorter (< 0)",
        -np.inf,
        -1e-9,
        _year(res["metrics_stage"], "detection_lag_days") - _year(base, "detection_lag_days"),
        "driver 3 (assumption for its size)",
    )
    add(
        "stage metrics vs outcomes: forecast error (points)",
        "lower (< 0)",
        -np.inf,
        -1e-9,
        _year(res["metrics_stage"], "forecast_error") - _year(base, "forecast_error"),
        "driver 3 (assumption for its size)",
    )
    add(
        "stage metrics vs outcomes: diagnosis accuracy (points)",
        "higher (> 0)",
        1e-9,
        np.inf,
        _year(res["metrics_stage"], "diagnosis_accuracy") - _year(base, "diagnosis_accuracy"),
        "driver 3",
    )
    stage, full = res["metrics_stage"], res[CRM_FULL_STAGE]
    add(
        "CRM 0.7 → 1.0 under stage metrics: forecast error (points)",
        "lower (< 0)",
        -np.inf,
        -1e-9,
        _year(full, "forecast_error") - _year(stage, "forecast_error"),
        "driver 4",
    )
    add(
        "CRM 0.7 → 1.0 under stage metrics: detection lag (days)",
        "shorter (< 0)",
        -np.inf,
        -1e-9,
        _year(full, "detection_lag_days") - _year(stage, "detection_lag_days"),
        "driver 4",
    )
    return rows


def as_frame(rows: list[ValidationRow]) -> pd.DataFrame:
    """The rows as a DataFrame, with a pass column."""
    return pd.DataFrame([{**r.__dict__, "ok": r.ok} for r in rows])
