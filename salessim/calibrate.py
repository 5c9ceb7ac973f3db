"""Calibrate a scenario to a CRM export, and check that the calibrated model reproduces it.

Estimates, each with its sample size and uncertainty: stage conversions with open deals
treated as censored; cycle time with a fitted distribution (gamma, lognormal or Weibull by AIC), or
the empirical distribution when the data are multi-modal; deal size by product (lognormal); new
opportunities per rep per week; and the rep-to-rep skill spread with shrinkage, saying when it is
indistinguishable from noise.

Copying raw rates into a scenario is not enough: the baseline's levers (goal focus, skill spread,
coaching, load, censoring at the end of the export) shift what a simulation shows. So the
calibration is *simulation-based*: simulate the candidate scenario, measure it with exactly the same
estimators as the data, correct the parameters by the gap, and repeat; then verify.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import optimize, special, stats

from salessim.crm import (
    CRMError,
    Opportunities,
    read_crm,
    segment_map,
    stage_durations,
    usable_name,
)
from salessim.model import hazard
from salessim.scenario import MAX_AMOUNT, MAX_STAGE_DAYS, Scenario, load_scenario

__all__ = ["TOLERANCES", "Calibration", "FunnelStats", "calibrate", "funnel_stats"]

#: Bounds of the organisation a calibration writes (the scenario's own limits).
MAX_MANAGERS, MAX_SPAN = 500, 40
#: The most reps ``--reps`` may name (managers × span at their bounds).
MAX_REPS = MAX_MANAGERS * MAX_SPAN
#: Fewest deals a segment needs before its share, win rate and deal size are calibrated.
MIN_SEGMENT_DEALS = 30
#: Fewest finished stage visits a stage needs before its time is read from the history.
MIN_STAGE_VISITS = 10


# ------------------------------------------------------------------------------------------
# the estimators (applied identically to data and to simulated deal logs)
# ------------------------------------------------------------------------------------------
@dataclass
class FunnelStats:
    """What an opportunity table shows about the funnel."""

    n: int
    won: int
    lost: int
    open: int
    win_rate: float
    win_rate_se: float
    stage_names: list[str]
    conversions: np.ndarray  # per stage, NaN where unknown
    conversion_n: np.ndarray  # resolved attempts per stage
    won_cycle: np.ndarray  # days, won deals
    won_amount: np.ndarray
    amount_by_product: dict[str, tuple[float, float, int]]  # median, log-sd, n
    product_share: dict[str, float]
    new_per_rep_week: float
    seats: float
    span_days: float

    @property
    def median_won_cycle(self) -> float:
        """Median days from creation to win."""
        return float(np.median(self.won_cycle)) if self.won_cycle.size else math.nan

    @property
    def median_won_amount(self) -> float:
        """Median amount of a won deal."""
        a = self.won_amount[~np.isnan(self.won_amount)]
        return float(np.median(a)) if a.size else math.nan


def funnel_stats(t: pd.DataFrame, stage_names: Sequence[str]) -> FunnelStats:
    """Measure a clean opportunity table (``salessim.crm`` schema; ``stage`` = stage reached)."""
    out = t["outcome"].to_numpy()
    won = int((out == "won").sum())
    lost = int((out == "lost").sum())
    n_open = int((out == "open").sum())
    closed = won + lost
    wr = won / closed if closed else math.nan
    se = math.sqrt(wr * (1 - wr) / closed) if closed else math.nan
    names = list(stage_names)
    pos = {s: i for i, s in enumerate(names)}
    S = len(names)
    conv = np.full(S, np.nan)
    n_res = np.zeros(S, dtype=int)
    if S:
        stage_idx = t["stage"].map(pos)
        reached = np.where(out == "won", S, stage_idx.fillna(-1).to_numpy()).astype(int)
        known = (out == "won") | (reached >= 0)
        for s in range(S):
            lost_here = ((out == "lost") & (reached == s) & known).sum()
            passed = (known & (reached > s)).sum()  # won, lost later, or open beyond s
            n_res[s] = passed + lost_here
            conv[s] = passed / n_res[s] if n_res[s] else np.nan
    w = t[t["outcome"] == "won"]
    cycle = (w["closed_at"] - w["created_at"]).dt.days.to_numpy(dtype=float)
    amounts = {}
    shares = {}
    if "product" in t and t["product"].astype(str).ne("").any():
        counts = t["product"].value_counts()
        shares = (counts / counts.sum()).to_dict()
        for p, g in t.groupby("product"):
            a = g["amount"].to_numpy(dtype=float)
            a = a[(a > 0) & np.isfinite(a)]
            if a.size >= 5:
                amounts[str(p)] = (float(np.median(a)), float(np.std(np.log(a), ddof=1)), a.size)
    created = t["created_at"]
    span = float((pd.concat([created, t["closed_at"].dropna()]).max() - created.min()).days) + 1
    per_rep = t.groupby("rep_id")["created_at"].agg(["min", "max", "count"])
    rep_weeks = ((per_rep["max"] - per_rep["min"]).dt.days + 7).sum() / 7.0
    rate = float(per_rep["count"].sum() / rep_weeks) if rep_weeks else math.nan
    seats = float(rep_weeks * 7.0 / max(float((created.max() - created.min()).days) + 7, 1.0))
    return FunnelStats(
        n=len(t),
        won=won,
        lost=lost,
        open=n_open,
        win_rate=wr,
        win_rate_se=se,
        stage_names=names,
        conversions=conv,
        conversion_n=n_res,
        won_cycle=cycle,
        won_amount=w["amount"].to_numpy(dtype=float),
        amount_by_product=amounts,
        product_share=shares,
        new_per_rep_week=rate,
        seats=seats,
        span_days=span,
    )


def deals_to_opportunities(deals: pd.DataFrame) -> pd.DataFrame:
    """A salessim deal log in the clean CRM schema (for measuring simulations like data)."""
    return pd.DataFrame(
        {
            "opportunity_id": deals["opportunity_id"].astype(str),
            "rep_id": deals["replication"].astype(str) + ":" + deals["rep_id"].astype(str),
            "manager_id": deals["manager_id"].astype(str),
            "segment": deals["segment"],
            "product": deals["product"].astype(str),
            "amount": deals["amount"].astype(float),
            "created_at": pd.to_datetime(deals["created_at"]),
            "closed_at": pd.to_datetime(deals["closed_at"]),
            "stage": np.where(deals["outcome"] == "won", "won", deals["stage_reached"]),
            "outcome": deals["outcome"],
        }
    )


# ------------------------------------------------------------------------------------------
# distributions and skill spread
# ------------------------------------------------------------------------------------------
def fit_cycle(days: np.ndarray) -> dict[str, Any]:
    """Fit gamma, lognormal and Weibull to cycle times by maximum likelihood; pick by AIC.

    Also fits a two-component lognormal mixture: when it beats the best single distribution by
    more than 10 BIC points with both components carrying ≥ 15 % of deals, the data are called
    multi-modal and the empirical distribution is recommended instead of a single shape.
    """
    x = np.asarray(days, dtype=float)
    x = x[x > 0]
    if x.size < 10:
        return {"n": int(x.size), "chosen": "too few deals", "table": pd.DataFrame()}
    rows = []
    for name, dist in (("gamma", stats.gamma), ("lognormal", stats.lognorm), ("weibull", stats.weibull_min)):
        params = dist.fit(x, floc=0)
        ll = float(np.sum(dist.logpdf(x, *params)))
        k = 2
        rows.append(
            {
                "distribution": name,
                "loglik": ll,
                "aic": 2 * k - 2 * ll,
                "bic": k * math.log(x.size) - 2 * ll,
                "params": params,
                "ks": float(stats.kstest(x, dist.cdf, args=params).statistic),
            }
        )
    table = pd.DataFrame(rows).sort_values("aic").reset_index(drop=True)
    best = table.iloc[0]
    mix = _lognormal_mixture(np.log(x))
    multimodal = mix is not None and mix["bic"] < best["bic"] - 10 and min(mix["weights"]) >= 0.15
    return {
        "n": int(x.size),
        "table": table,
        "best": str(best["distribution"]),
        "mean": float(x.mean()),
        "cv": float(x.std(ddof=1) / x.mean()),
        "median": float(np.median(x)),
        "mixture": mix,
        "multimodal": bool(multimodal),
        "chosen": "empirical" if multimodal else str(best["distribution"]),
        "why": (
            "a two-component mixture fits better than any single distribution by "
            f"{best['bic'] - mix['bic']:.0f} BIC points (modes near "
            f"{', '.join(f'{math.exp(m):.0f}' for m in mix['means'])} days)"
            if multimodal and mix is not None
            else f"{best['distribution']} has the lowest AIC; no second mode worth a mixture"
        ),
    }


def _lognormal_mixture(y: np.ndarray, iters: int = 200) -> dict[str, Any] | None:
    """Two-component Gaussian mixture on log durations, by EM."""
    if y.size < 30:
        return None
    w = np.array([0.5, 0.5])
    mu = np.quantile(y, [0.25, 0.75])
    sd = np.full(2, y.std() / 2 + 1e-6)
    ll_old = -np.inf
    for _ in range(iters):
        dens = w * stats.norm.pdf(y[:, None], mu, sd)
        tot = dens.sum(axis=1, keepdims=True) + 1e-300
        r = dens / tot
        ll = float(np.log(tot).sum())
        nk = r.sum(axis=0) + 1e-12
        w = nk / y.size
        mu = (r * y[:, None]).sum(axis=0) / nk
        sd = np.sqrt((r * (y[:, None] - mu) ** 2).sum(axis=0) / nk) + 1e-6
        if ll - ll_old < 1e-8:
            break
        ll_old = ll
    # the log-likelihood in days (Jacobian of the log transform)
    ll_days = ll - float(y.sum())
    return {
        "weights": w.tolist(),
        "means": mu.tolist(),
        "sds": sd.tolist(),
        "bic": 5 * math.log(y.size) - 2 * ll_days,
    }


def skill_spread(t: pd.DataFrame, stage_conv: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Rep-to-rep skill spread (log-odds sd, as in the model) with shrinkage and a noise test.

    Method of moments on per-rep win rates: the variance of the rep win rates beyond what
    binomial noise explains, converted to the model's log-odds scale through the sensitivity of
    the win probability to a shift of every stage's log-odds. A chi-square test of homogeneity
    says whether any spread is distinguishable from noise; shrunken per-rep estimates pull small
    samples toward the mean.
    """
    c = t[t["outcome"] != "open"]
    g = c.groupby("rep_id")["outcome"].agg(n="size", k=lambda s: int((s == "won").sum()))
    g = g[g["n"] >= 5]
    if len(g) < 3:
        return {
            "reps": len(g),
            "sd": math.nan,
            "indistinguishable": True,
            "note": "fewer than 3 reps with 5+ closed deals",
        }
    n, k = g["n"].to_numpy(float), g["k"].to_numpy(float)
    p = k.sum() / n.sum()
    if not 0 < p < 1:
        return {
            "reps": len(g),
            "sd": math.nan,
            "indistinguishable": True,
            "note": f"every rep with 5+ closed deals {'won' if p == 1 else 'lost'} them all: "
            "no spread can be measured",
        }
    sens = p * float(np.sum(1 - np.asarray(stage_conv))) if len(stage_conv) else p * (1 - p)
    if not sens > 0:
        return {
            "reps": len(g),
            "sd": math.nan,
            "indistinguishable": True,
            "note": "every stage converts all its deals: no spread can be measured",
        }
    phat = k / n
    var_between = float(np.var(phat, ddof=1) - np.mean(p * (1 - p) / n))
    chi2 = float((((k - n * p) ** 2) / (n * p * (1 - p))).sum())
    dof = len(g) - 1
    p_value = float(stats.chi2.sf(chi2, dof))
    sd = math.sqrt(max(var_between, 0.0)) / sens
    # bootstrap CI over reps
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(400):
        i = rng.integers(0, len(g), len(g))
        nb, kb = n[i], k[i]
        pb = kb.sum() / nb.sum()
        vb = np.var(kb / nb, ddof=1) - np.mean(pb * (1 - pb) / nb)
        boots.append(math.sqrt(max(vb, 0.0)) / sens)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    shrink = var_between / (var_between + p * (1 - p) / n) if var_between > 0 else np.zeros_like(n)
    indistinct = p_value > 0.05 or var_between <= 0
    return {
        "reps": len(g),
        "sd": sd,
        "ci": (float(lo), float(hi)),
        "p_value": p_value,
        "indistinguishable": bool(indistinct),
        "shrunken_win_rates": pd.Series(p + shrink * (phat - p), index=g.index),
        "note": (
            "rep differences are indistinguishable from binomial noise "
            f"(homogeneity test p = {p_value:.2f}); skill spread left at the baseline"
            if indistinct
            else f"reps differ beyond noise (homogeneity test p = {p_value:.3g})"
        ),
    }


def _offset_for(win: float, base_logits: np.ndarray) -> float:
    """The log-odds shift of every stage that turns the stage walk's win rate into ``win``."""

    def f(o: float) -> float:
        return float(np.prod(special.expit(base_logits + o)) - win)

    return float(optimize.brentq(f, -20, 20))


# ------------------------------------------------------------------------------------------
#: How far the calibrated scenario, simulated, may miss the export: quantity → (absolute or
#: relative, tolerance). Beyond them `salessim calibrate` says which and exits 3.
TOLERANCES: dict[str, tuple[str, float]] = {
    "win rate": ("abs", 0.03),
    "median won cycle (days)": ("rel", 0.15),
    "median won amount": ("rel", 0.15),
    "KS distance, won cycle": ("abs", 0.15),
}


@dataclass
class Calibration:
    """A calibrated scenario, the estimates behind it, and how well it reproduces the data."""

    data: Opportunities
    observed: FunnelStats
    scenario: Scenario
    estimates: pd.DataFrame
    cycle_fit: dict[str, Any]
    skill: dict[str, Any]
    simulated: FunnelStats | None = None
    iterations: list[dict[str, float]] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    #: what the calibration did with the organisation, segments and stage times, and what it
    #: left at the base and why (printed, and written as comments)
    notes: list[str] = field(default_factory=list)
    #: per segment, observed vs simulated share, win rate and median amount (with a segment
    #: column that maps onto the scenario's segments)
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)

    def comparison(self) -> pd.DataFrame:
        """Observed vs simulated: win rate, median won cycle and amount, KS distances."""
        o, s = self.observed, self.simulated
        if s is None:
            return pd.DataFrame()
        rows = [
            ("win rate", o.win_rate, s.win_rate),
            ("median won cycle (days)", o.median_won_cycle, s.median_won_cycle),
            ("median won amount", o.median_won_amount, s.median_won_amount),
            ("new opportunities per rep-week", o.new_per_rep_week, s.new_per_rep_week),
        ]
        df = pd.DataFrame(rows, columns=["quantity", "observed", "simulated"])
        df["difference"] = df["simulated"] - df["observed"]
        df["relative"] = df["difference"] / df["observed"]
        return df

    def misses(self) -> list[str]:
        """The verification figures the simulated scenario misses beyond :data:`TOLERANCES`.

        Each says what was observed, what the simulation gave, by how much it misses and the
        tolerance. Empty when every figure is within tolerance (or nothing was simulated).
        """
        if self.simulated is None:
            return []
        out = []
        cmp = self.comparison().set_index("quantity")
        for quantity, (kind, tol) in TOLERANCES.items():
            if quantity.startswith("KS"):
                d = self.ks().get("won_cycle", math.nan)
                if math.isfinite(d) and d > tol:
                    out.append(f"{quantity}: {d:.3f} (tolerance {tol:g})")
                continue
            obs, sim = cmp.loc[quantity, "observed"], cmp.loc[quantity, "simulated"]
            if not (math.isfinite(obs) and math.isfinite(sim)):
                continue
            if kind == "abs":
                gap = sim - obs
            else:  # relative; the same value (0 and 0 too) is no miss
                gap = 0.0 if sim == obs else (sim - obs) / obs if obs else math.inf
            if abs(gap) > tol:
                size = f"{gap:+.3f}" if kind == "abs" else f"{100 * gap:+.1f} %"
                bound = f"±{tol:g}" if kind == "abs" else f"±{100 * tol:g} %"
                out.append(
                    f"{quantity}: observed {obs:,.4g}, simulated {sim:,.4g} ({size}; tolerance {bound})"
                )
        return out

    def ks(self) -> dict[str, float]:
        """KS distances between observed and simulated won-cycle and won-amount distributions."""
        o, s = self.observed, self.simulated
        if s is None:
            return {}
        oa = o.won_amount[~np.isnan(o.won_amount)]
        sa = s.won_amount[~np.isnan(s.won_amount)]
        return {
            "won_cycle": float(stats.ks_2samp(o.won_cycle, s.won_cycle).statistic),
            "won_amount": float(stats.ks_2samp(oa, sa).statistic) if oa.size else math.nan,
        }

    def to_yaml(self) -> str:
        """The calibrated scenario file: ``extends: baseline`` plus the calibrated sections."""
        lines = [
            f"# Calibrated by salessim from {Path(self.data.source).name}",
            f"# {self.observed.n} opportunities ({self.observed.won} won, "
            f"{self.observed.lost} lost, {self.observed.open} open).",
        ]
        for r in self.estimates.itertuples():
            lines.append(
                f"#   {r.parameter}: {r.value:.4g} (95 % CI {r.ci_low:.4g}–{r.ci_high:.4g},"
                f" n = {r.n}) {r.note}".rstrip()
            )
        if self.simulated is not None:
            cmp = self.comparison()
            lines.append("# Simulated with this file vs observed:")
            for r in cmp.itertuples():
                lines.append(f"#   {r.quantity}: {r.simulated:.4g} vs {r.observed:.4g}")
            ks = self.ks()
            lines.append(
                f"#   KS distance, won cycle {ks['won_cycle']:.3f}; won amount {ks['won_amount']:.3f}"
            )
            for r in self.segments.to_dict("records"):
                lines.append(
                    f"#   segment {r['segment']}: share {r['share simulated']:.3f} vs "
                    f"{r['share observed']:.3f}, win rate {r['win rate simulated']:.3f} vs "
                    f"{r['win rate observed']:.3f}, geometric mean amount "
                    f"{r['geometric mean amount simulated']:,.0f} vs "
                    f"{r['geometric mean amount observed']:,.0f}"
                )
        lines.append(f"# Cycle time: {self.cycle_fit.get('chosen')} — {self.cycle_fit.get('why', '')}")
        lines.append(f"# Skill spread: {self.skill.get('note', '')}")
        lines += [f"# {n}" for n in self.notes]
        # text from the data (file and product names) must not break out of its comment line
        lines = ["# " + _one_line(line[2:], width=300) for line in lines]
        return "\n".join(lines) + "\n" + yaml.safe_dump(self.overrides, sort_keys=False)


def _one_line(text: str, width: int = 200) -> str:
    """Text from a file on one printable line: control and format characters escaped, cut."""
    out = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))
    return out if len(out) <= width else out[: width - 1] + "…"


def _slug(text: str) -> str:
    """A scenario-name fragment: lower-case letters, digits and underscores, at most 60."""
    s = "".join(c if c.isascii() and c.isalnum() else "_" for c in text.lower()).strip("_")
    return s[:60] or "export"


def _round(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


def calibrate(
    crm: str | Path | Opportunities,
    history: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    won: Sequence[str] = (),
    lost: Sequence[str] = (),
    base: str | Scenario = "baseline",
    replications: int = 6,
    iterations: int = 5,
    seed: int = 7,
    verify_replications: int = 8,
    reps: int | None = None,
) -> Calibration:
    """Calibrate a scenario to a CRM export (simulation-based correction, then verification).

    Args:
        crm: the opportunity CSV, or an already-read :class:`~salessim.crm.Opportunities`.
        history: optional stage history CSV (Salesforce ``OpportunityHistory.csv``).
        columns, won, lost: as for :func:`salessim.crm.read_crm`.
        base: the scenario the calibrated one extends (its levers stay as they are).
        replications: replications per correction step.
        iterations: correction steps.
        seed: root seed of the calibration simulations.
        verify_replications: replications of the final check (0: no check; the calibration's
            ``simulated`` is then None).
        reps: the number of reps (seats) the sales force has; default: estimated from the owner
            column, or the base's when the export has none.

    Raises:
        CRMError: the data cannot be calibrated to (too few won deals, no lost deal).
        ValueError: ``reps`` is not a whole number from 1 to :data:`MAX_REPS`.
    """
    from salessim.simulate import simulate

    if reps is not None and (
        isinstance(reps, bool) or not isinstance(reps, int | np.integer) or not 1 <= reps <= MAX_REPS
    ):
        raise ValueError(f"reps: expected a whole number from 1 to {MAX_REPS:,}, got {reps!r}")
    data = crm if isinstance(crm, Opportunities) else read_crm(crm, history, columns, won, lost)
    base_sc = load_scenario(base)
    t = data.table
    base_names = [s.name for s in base_sc.funnel.stages]
    names = data.stage_order or base_names
    obs = funnel_stats(t, names)
    notes: list[str] = []
    has_owner = data.has_owner
    if not has_owner:  # one "rep" holds every deal: its rate is the export's, per week
        per_rep = obs.new_per_rep_week / reps if reps else math.nan
        obs.new_per_rep_week, obs.seats = per_rep, float(reps) if reps else math.nan
    outcome_col = _outcome_columns(data)
    if obs.won < 10:
        raise CRMError(
            f"{data.source}: only {obs.won} won deals in {outcome_col}; at least 10 "
            "are needed to calibrate (name other won stages with --won VALUE)"
        )
    if obs.lost == 0:
        raise CRMError(
            f"{data.source}: all {obs.won} closed deals are won, none lost (outcome "
            f"from {outcome_col}): a win rate of 100 % cannot be calibrated; name the "
            "lost stages with --lost VALUE"
        )
    per_stage = bool(data.stage_order) and np.all(np.isfinite(obs.conversions))

    # -- raw estimates -------------------------------------------------------------------
    est: list[dict[str, Any]] = []

    def add(parameter: str, value: float, lo: float, hi: float, n: int, note: str = "") -> None:
        est.append(
            {"parameter": parameter, "value": value, "ci_low": lo, "ci_high": hi, "n": n, "note": note}
        )

    add(
        "win rate",
        obs.win_rate,
        obs.win_rate - 1.96 * obs.win_rate_se,
        obs.win_rate + 1.96 * obs.win_rate_se,
        obs.won + obs.lost,
        f"{obs.open} open deals censored, not counted as lost",
    )
    for s, c, n in zip(names, obs.conversions, obs.conversion_n, strict=True):
        # without a stage order the data do not say where lost deals were lost: the per-stage
        # conversions would count only won and open deals (all 1.0), so none are reported
        if data.stage_order and np.isfinite(c):
            h = 1.96 * math.sqrt(c * (1 - c) / n) if n else math.nan
            add(
                f"conversion {s}",
                float(c),
                float(c - h),
                float(c + h),
                int(n),
                "open deals at this stage censored",
            )
    cyc = fit_cycle(obs.won_cycle)
    if cyc.get("n", 0) >= 10:
        boots = np.random.default_rng(1).choice(obs.won_cycle, (300, obs.won_cycle.size))
        med = np.median(boots, axis=1)
        add(
            "median won cycle (days)",
            obs.median_won_cycle,
            float(np.quantile(med, 0.025)),
            float(np.quantile(med, 0.975)),
            cyc["n"],
            f"distribution: {cyc['chosen']}",
        )
    for p, (m, sd, n) in obs.amount_by_product.items():
        h = 1.2533 * sd / math.sqrt(n)  # se of a median on the log scale
        add(
            f"deal size median, product {p}",
            m,
            m * math.exp(-1.96 * h),
            m * math.exp(1.96 * h),
            n,
            f"lognormal sigma {sd:.2f}",
        )
    amounts = t["amount"].to_numpy(dtype=float)
    amounts = amounts[np.isfinite(amounts) & (amounts > 0)]
    overall_size = not obs.amount_by_product and amounts.size >= 10
    if overall_size:  # no product column: one lognormal for every deal
        m_all, sd_all = float(np.median(amounts)), float(np.std(np.log(amounts), ddof=1))
        h = 1.2533 * sd_all / math.sqrt(amounts.size)
        add(
            "deal size median, all deals",
            m_all,
            m_all * math.exp(-1.96 * h),
            m_all * math.exp(1.96 * h),
            amounts.size,
            f"lognormal sigma {sd_all:.2f}; no product column: every product of the base gets this deal size",
        )
    n_reps = t["rep_id"].nunique() if has_owner else 0
    if np.isfinite(obs.new_per_rep_week):
        add(
            "new opportunities per rep-week",
            obs.new_per_rep_week,
            obs.new_per_rep_week * (1 - 1.96 / math.sqrt(max(obs.n, 1))),
            obs.new_per_rep_week * (1 + 1.96 / math.sqrt(max(obs.n, 1))),
            obs.n,
            f"{n_reps} reps, ≈{obs.seats:.0f} in seat at a time"
            if has_owner
            else f"the export's arrivals ÷ {reps} reps (--reps)",
        )
    conv_for_sens = obs.conversions if per_stage else [s.conversion for s in base_sc.funnel.stages]
    if has_owner:
        sk = skill_spread(t, conv_for_sens)
    else:
        sk = {
            "reps": 0,
            "sd": math.nan,
            "indistinguishable": True,
            "note": "not estimated: the export has no owner column, so rep-to-rep differences "
            "cannot be seen; skill spread left at the base",
        }
    if np.isfinite(sk.get("sd", math.nan)):
        add(
            "skill spread (log-odds sd)",
            sk["sd"],
            sk["ci"][0],
            sk["ci"][1],
            sk["reps"],
            "indistinguishable from noise" if sk["indistinguishable"] else "shrinkage applied",
        )

    # -- first candidate -----------------------------------------------------------------
    bd = base_sc.to_dict()
    base_stages = bd["funnel"]["stages"]
    if len(names) != len(base_stages):
        base_stages = [{"name": n, "conversion": 0.5, "mean_days": 20.0, "cv": 0.7} for n in names]
    base_means = np.array([s["mean_days"] for s in base_stages], dtype=float)
    if per_stage:
        logits = special.logit(np.clip(obs.conversions, 0.02, 0.98))
    else:
        bl = special.logit([s["conversion"] for s in base_stages])
        logits = bl + _offset_for(obs.win_rate, np.asarray(bl))
    # stage times: from the history where every stage has enough finished visits, else the
    # base's split of the cycle
    dur = stage_durations(data) if data.history is not None else pd.DataFrame()
    visits = dur.groupby("stage")["days"].agg(["mean", "std", "size"]) if not dur.empty else pd.DataFrame()
    from_history = (
        data.stage_order
        and not visits.empty
        and all(
            s in visits.index and visits.loc[s, "size"] >= MIN_STAGE_VISITS and visits.loc[s, "mean"] > 0
            for s in names
        )
    )
    if from_history:
        split = np.array([visits.loc[s, "mean"] for s in names], dtype=float)
        split_cv = np.array([visits.loc[s, "std"] / visits.loc[s, "mean"] for s in names])
        for s in names:
            v = visits.loc[s]
            add(
                f"mean days in {s}",
                float(v["mean"]),
                float(v["mean"] - 1.96 * v["std"] / math.sqrt(v["size"])),
                float(v["mean"] + 1.96 * v["std"] / math.sqrt(v["size"])),
                int(v["size"]),
                f"from the stage history (cv {v['std'] / v['mean']:.2f}); scaled with the rest "
                "to the won cycle",
            )
        notes.append(
            "Stage times: each stage's share of the cycle and its spread from the "
            f"stage history ({len(dur):,} finished stage visits)"
        )
    else:
        split, split_cv = base_means, np.full(len(names), math.nan)
        if data.history is not None:
            short = [
                s
                for s in names
                if visits.empty or s not in visits.index or visits.loc[s, "size"] < MIN_STAGE_VISITS
            ]
            notes.append(
                "Stage times: the base's split of the cycle (the history has fewer "
                f"than {MIN_STAGE_VISITS} finished visits of "
                f"{', '.join(_one_line(x, 30) for x in short) or 'a stage'})"
            )
    share = split / split.sum()
    means = share * max(cyc.get("mean", base_means.sum()), 1.0)
    cv_total = cyc.get("cv", 0.6)
    cv = float(np.clip(cv_total * means.sum() / math.sqrt(np.sum(means**2)), 0.1, 2.5))
    cvs = np.where(np.isfinite(split_cv), np.clip(split_cv, 0.1, 2.5), cv)
    # a fast mode in the won cycle: a fast lane in every stage (the same deals fast throughout)
    lanes = _fast_lane_start(cyc, obs.won_cycle, share, dur if from_history else None, t, names)
    fast_f, fast_means, slow_means = 0.0, np.zeros(len(names)), means
    if lanes is not None:
        fast_f, fast_means, slow_means, lane_cv, threshold = lanes
        cvs = np.full(len(names), lane_cv)  # the spread within a lane, not across the two
        h = 1.96 * math.sqrt(fast_f * (1 - fast_f) / max(obs.won, 1))
        add(
            "share of fast deals",
            fast_f,
            fast_f - h,
            fast_f + h,
            obs.won,
            f"won deals faster than {threshold:.0f} days (the cycle's two modes split there)",
        )
        notes.append(
            f"Cycle time has two modes: {100 * fast_f:.0f} % of won deals close in "
            f"under {threshold:.0f} days; every stage gets a fast lane "
            "(fast_share, fast_mean_days) for them"
        )
    products: dict[str, dict[str, float]] = {}
    if obs.amount_by_product and obs.product_share:
        for p, (m, sd, _n) in obs.amount_by_product.items():
            if not usable_name(p):  # an empty or unprintable product value names no product
                continue
            products[p] = {
                "share": obs.product_share.get(p, 0.0),
                "logit_offset": 0.0,
                "amount_median": m,
                "amount_sigma": float(np.clip(sd, 0.05, 2.5)),
            }
        tot = sum(v["share"] for v in products.values())
        for v in products.values():
            v["share"] = v["share"] / tot
    size_all = (
        {"amount_median": m_all, "amount_sigma": float(np.clip(sd_all, 0.05, 2.5))} if overall_size else None
    )
    if not products and size_all is None:
        notes.append("Deal size: left at the base (no usable amounts in the export)")
    elif size_all is not None:
        notes.append(
            "Deal size: one lognormal for all deals (no product column); every product "
            "of the base gets it, their mix and odds kept"
        )
    # segments: a segment column whose values name new and existing-customer business
    seg = _segment_start(data, t, logits, notes)

    # -- the organisation ----------------------------------------------------------------
    source_name = Path(data.source).name
    has_manager = t["manager_id"].astype(str).ne("").any()
    base_span = int(bd["organisation"]["span"])
    if reps is not None:
        seats, seat_why = reps, f"{reps} reps from --reps"
    elif has_owner:
        seats = max(1, round(obs.seats))
        seat_why = (
            f"{seats} reps in seat at a time, estimated from the export's {n_reps} "
            "distinct owners and the weeks each was active"
        )
    else:
        seats = int(bd["organisation"]["managers"]) * base_span
        seat_why = (
            f"{seats} reps kept from the base scenario (the export has no owner column; "
            "give the number with --reps N)"
        )
    if has_manager:
        managers = int(t["manager_id"].nunique())
        mgr_why = f"{managers} managers from the manager column"
    elif reps is None and not has_owner:
        managers = int(bd["organisation"]["managers"])
        mgr_why = f"{managers} managers kept from the base"
    else:
        managers = max(1, round(seats / base_span))
        mgr_why = f"{managers} managers at the base's span of about {base_span}"
    managers = int(np.clip(managers, 1, MAX_MANAGERS))
    span = int(np.clip(round(seats / managers), 1, MAX_SPAN))
    made = managers * span
    notes.append(
        f"Rep count: {seat_why}; {mgr_why}; the organisation holds {managers} × {span} "
        f"= {made} reps" + (f" (the closest to {seats})" if made != seats else "")
    )
    if has_owner:
        notes.append(
            "Per-rep figures (opportunities per rep-week, quota scaling, skill spread) from the owner column"
        )
    elif reps is not None:
        notes.append(
            "Not calibrated (no owner column): the skill spread (rep-to-rep "
            "differences cannot be seen); opportunities per rep-week are the export's "
            f"arrivals ÷ {reps} reps"
        )
    else:
        notes.append(
            "Not calibrated (no owner column): opportunities per rep-week and the "
            "quota that drives them (the base's kept), and the skill spread; give the "
            "number of reps with --reps N to calibrate the arrivals per rep"
        )
    horizon = int(np.clip(math.ceil(obs.span_days), 30, 1825))
    if horizon > 365:  # past a year, the model reports whole years
        horizon = 365 * min(5, round(horizon / 365))
    start = t["created_at"].min().date()
    quota = float(bd["organisation"]["quota"])
    scale_quota = bool(np.isfinite(obs.new_per_rep_week) and obs.new_per_rep_week > 0)

    fit_skill = bool(np.isfinite(sk.get("sd", math.nan)) and not sk["indistinguishable"])
    skill_sd = float(np.clip(sk["sd"], 0.0, 3.0)) if fit_skill else float(bd["reps"]["skill_sd"])

    def build(
        logits: np.ndarray,
        means: np.ndarray,
        cvs: np.ndarray,
        quota: float,
        products: dict[str, dict[str, float]],
    ) -> dict[str, Any]:
        # every value inside the scenario's bounds, however extreme the data
        stages = []
        for n, lg, m, c, fm in zip(names, logits, means, cvs, fast_means, strict=True):
            st: dict[str, Any] = {
                "name": n,
                "conversion": _round(float(np.clip(special.expit(lg), 1e-3, 0.999))),
                "mean_days": _round(float(np.clip(m, 0.01, MAX_STAGE_DAYS))),
                "cv": _round(float(np.clip(c, 0.05, 3.0))),
            }
            if fast_f > 0:
                st["fast_share"] = _round(float(np.clip(fast_f, 0.001, 0.99)))
                st["fast_mean_days"] = min(
                    _round(float(np.clip(fm, 0.005, MAX_STAGE_DAYS))), _round(st["mean_days"] * 0.98)
                )
            stages.append(st)
        funnel: dict[str, Any] = {"stages": stages}
        if products:
            funnel["products"] = {
                p: {
                    k: _round(float(np.clip(v, 1e-6, MAX_AMOUNT))) if k == "amount_median" else v
                    for k, v in d.items()
                }
                for p, d in products.items()
            }
            # shares rounded one by one need not sum to 1: the largest takes up the difference
            fp = funnel["products"]
            exact = shares_summing_to_one({q: d["share"] for q, d in fp.items()})
            for q, v in exact.items():
                fp[q]["share"] = v
            # the file extends the base, whose products merge into these: the data's products
            # replace them only if the base's own products are written with no share
            for q in bd["funnel"]["products"]:
                fp.setdefault(q, {"share": 0.0})
        elif size_all is not None:  # every product of the base, the same deal size
            funnel["products"] = {
                q: {
                    "amount_median": _round(float(np.clip(size_all["amount_median"], 1e-6, MAX_AMOUNT))),
                    "amount_sigma": _round(float(np.clip(size_all["amount_sigma"], 0.05, 2.5))),
                }
                for q in bd["funnel"]["products"]
            }
        if seg is not None:
            segs = {
                k: {
                    "share": _round(float(seg["share"][k]), 6),
                    "logit_offset": _round(float(np.clip(seg["offset"][k], -5, 5))),
                    "amount_factor": _round(float(np.clip(seg["factor"][k], 0.01, 100))),
                }
                for k in ("new_logo", "expansion")
            }
            exact = shares_summing_to_one({k: v["share"] for k, v in segs.items()})
            for k, v in exact.items():
                segs[k]["share"] = v
            funnel["segments"] = segs
        goals = _goals_for(bd, products)
        org: dict[str, Any] = {"managers": int(managers), "span": int(span)}
        if scale_quota:
            org["quota"] = _round(float(np.clip(quota, 1.0, MAX_AMOUNT)), 6)
        ov: dict[str, Any] = {
            "extends": base_sc.name if isinstance(base, str) else "baseline",
            "name": f"calibrated_{_slug(Path(data.source).stem)}",
            "description": f"Funnel calibrated to {_one_line(source_name)}",
            "start_date": start.isoformat(),
            "simulation": {"horizon_days": horizon},
            "organisation": org,
            "funnel": funnel,
        }
        if fit_skill:
            ov["reps"] = {"skill_sd": _round(skill_sd)}
        if goals is not None:
            ov["goals"] = goals
        return ov

    def realise(ov: dict[str, Any]) -> Scenario:
        body = {k: v for k, v in ov.items() if k != "extends"}
        merged = _merge(base_sc.to_dict(), body)  # exactly as the written file will merge
        if "goals" in ov:
            merged["goals"] = ov["goals"]
        return load_scenario(merged)

    def measure(sc: Scenario, reps: int, seed_: int) -> tuple[FunnelStats, pd.DataFrame]:
        res = simulate(sc, replications=reps, seed=seed_, deals=True)
        table = deals_to_opportunities(res.deals)
        return funnel_stats(table, names), table

    # -- simulation-based correction -----------------------------------------------------
    from salessim.funnel import plan as _plan

    def lane_means() -> np.ndarray:
        return fast_f * fast_means + (1 - fast_f) * slow_means if fast_f > 0 else slow_means

    ov = build(logits, lane_means(), cvs, quota, products)
    sc = realise(ov)
    if scale_quota:
        quota *= _plan(sc).new_per_week / obs.new_per_rep_week
    steps: list[dict[str, float]] = []
    # the candidates differ a little from step to step: each settles its attrition hazard from
    # the one before (the written scenario is verified below with the full solve)
    with hazard.settling_from_the_last():
        for it in range(iterations):
            ov = build(logits, lane_means(), cvs, quota, products)
            sc = realise(ov)
            sim, sim_table = measure(sc, replications, seed + it)
            steps.append(
                {
                    "iteration": it,
                    "win_rate": sim.win_rate,
                    "median_won_cycle": sim.median_won_cycle,
                    "median_won_amount": sim.median_won_amount,
                    "new_per_rep_week": sim.new_per_rep_week,
                    "skill_sd": skill_sd,
                }
            )
            # full corrections first, then damped ones: each step's simulation is noisy, and a
            # damped stochastic-approximation step settles instead of chasing that noise
            a = 1.0 if it == 0 else 0.6
            if per_stage:
                logits = logits + a * (
                    special.logit(np.clip(obs.conversions, 0.01, 0.99))
                    - special.logit(np.clip(sim.conversions, 0.01, 0.99))
                )
            else:
                logits = (
                    logits
                    + a * (special.logit(obs.win_rate) - special.logit(sim.win_rate)) / len(logits) * 1.5
                )
            if fast_f > 0 and lanes is not None:
                fast_f, fast_means, slow_means, ratio = _correct_lanes(
                    obs.won_cycle, sim.won_cycle, lanes[4], fast_f, fast_means, slow_means, a
                )
                cvs = np.clip(cvs * ratio, 0.05, 3.0)
            else:
                # cycles are whole days: a median of 0 (won the day it was created) counts as half
                # a day, so a same-day funnel corrects toward short stages, never to 0 ÷ 0
                o_med, s_med = max(obs.median_won_cycle, 0.5), max(sim.median_won_cycle, 0.5)
                slow_means = slow_means * (o_med / s_med) ** a
                o_iqr = max(float(np.subtract(*np.quantile(obs.won_cycle, [0.75, 0.25]))) / o_med, 1e-3)
                s_iqr = max(float(np.subtract(*np.quantile(sim.won_cycle, [0.75, 0.25]))) / s_med, 1e-3)
                cvs = np.clip(cvs * (o_iqr / s_iqr) ** a, 0.05, 3.0)
            for p, d in products.items():
                if p in sim.amount_by_product and p in obs.amount_by_product:
                    d["amount_median"] *= (obs.amount_by_product[p][0] / sim.amount_by_product[p][0]) ** a
                    d["amount_sigma"] = float(
                        np.clip(
                            d["amount_sigma"]
                            * (obs.amount_by_product[p][1] / sim.amount_by_product[p][1]) ** a,
                            0.05,
                            2.5,
                        )
                    )
                if p in sim.product_share and sim.product_share[p] > 0:
                    d["share"] *= (obs.product_share[p] / sim.product_share[p]) ** a
            tot = sum(d["share"] for d in products.values())
            for d in products.values():
                d["share"] /= tot
            if size_all is not None:  # one deal size for all: matched on the won deals
                size_all["amount_median"] *= (obs.median_won_amount / sim.median_won_amount) ** a
                o_sd, s_sd = _log_sd(obs.won_amount), _log_sd(sim.won_amount)
                if o_sd > 0 and s_sd > 0:
                    size_all["amount_sigma"] = float(
                        np.clip(size_all["amount_sigma"] * (o_sd / s_sd) ** a, 0.05, 2.5)
                    )
            if seg is not None:
                _correct_segments(seg, sim_table, len(names), a)
            if scale_quota:
                quota *= (obs.new_per_rep_week / sim.new_per_rep_week) ** a
            if fit_skill:  # the same estimator on the simulation: correct the spread by the gap
                sim_sd = skill_spread(sim_table, conv_for_sens).get("sd", math.nan)
                if np.isfinite(sim_sd) and sim_sd > 0:
                    skill_sd = float(np.clip(skill_sd * (sk["sd"] / sim_sd) ** a, 0.0, 3.0))
    ov = build(logits, lane_means(), cvs, quota, products)
    sc = realise(ov)
    final, segments = None, pd.DataFrame()
    if verify_replications > 0:
        final, final_table = measure(sc, verify_replications, seed + 1000)
        if not has_owner and not reps:  # no rep count: no rate per rep to compare
            final.new_per_rep_week = math.nan
        if seg is not None:
            segments = _segment_table(seg, final_table)
    cal = Calibration(
        data=data,
        observed=obs,
        scenario=sc,
        estimates=pd.DataFrame(est),
        cycle_fit=cyc,
        skill=sk,
        simulated=final,
        iterations=steps,
        overrides=ov,
        notes=notes,
        segments=segments,
    )
    return cal


def shares_summing_to_one(shares: Mapping[str, float], digits: int = 6) -> dict[str, float]:
    """Shares rounded to ``digits`` decimals whose float sum is exactly 1.

    The largest share takes up the rounding of the others. Decimal fractions are not exact in
    binary, so where the float sum (in the order given, or exactly, as :func:`math.fsum`) still
    misses 1 by a last bit, the largest share and the last are moved by a few last bits (a change
    below 1e-14) until both sums are 1.0, or else every share is put on a binary grid (2**-40).
    """
    out = {k: round(float(v), digits) for k, v in shares.items()}
    top = max(out, key=lambda k: out[k])
    out[top] = round(1.0 - math.fsum(v for k, v in out.items() if k != top), digits)

    def exact(d: Mapping[str, float]) -> bool:
        return sum(d.values()) == 1.0 and math.fsum(d.values()) == 1.0

    if exact(out):
        return out
    # the share added last decides the ordered sum's last rounding, the largest the exact sum
    positive = [k for k in out if out[k] > 0]
    movable = list(dict.fromkeys([positive[-1], top]))
    steps = sorted(
        ((a, b) for a in range(-24, 25) for b in range(-24, 25)), key=lambda ab: abs(ab[0]) + abs(ab[1])
    )
    for a, b in steps:
        if len(movable) == 1 and b:
            continue
        d = dict(out)
        for k, n in zip(movable, (a, b), strict=False):
            d[k] = max(d[k] + n * 2.0**-55, 0.0)  # a quarter of the last bit of 1
        if exact(d):
            return d
    # rarely, the ordered sum's roundings add up beyond that: multiples of 2**-40, whose sums
    # are exact in any order (written with more decimals)
    grid = 2.0**-40
    d = {k: round(v / grid) * grid for k, v in out.items()}
    d[top] = 1.0 - math.fsum(v for k, v in d.items() if k != top)
    return d


def _log_sd(a: np.ndarray) -> float:
    a = a[np.isfinite(a) & (a > 0)]
    return float(np.std(np.log(a), ddof=1)) if a.size > 2 else math.nan


def _lane_threshold(mix: Mapping[str, Any]) -> float:
    """Days where the two lognormal components of a cycle mixture are equally likely."""
    lo, hi = sorted(range(2), key=lambda i: mix["means"][i])
    grid = np.linspace(mix["means"][lo], mix["means"][hi], 400)
    dens = [mix["weights"][i] * stats.norm.pdf(grid, mix["means"][i], mix["sds"][i]) for i in (lo, hi)]
    cross = np.flatnonzero(dens[1] >= dens[0])
    return float(math.exp(grid[cross[0]] if cross.size else grid[len(grid) // 2]))


def _fast_lane_start(
    cyc: Mapping[str, Any],
    won_cycle: np.ndarray,
    share: np.ndarray,
    dur: pd.DataFrame | None,
    t: pd.DataFrame,
    names: Sequence[str],
) -> tuple[float, np.ndarray, np.ndarray, float, float] | None:
    """The first fast lane for a bimodal won cycle, or None when the cycle has one mode.

    Returns (fast share, fast and other deals' mean days per stage, the lanes' stage cv, the
    threshold in days between the modes). The won deals below the threshold are the fast ones.
    Per stage, with a history, each lane's cycle is split as its deals' mean times in the
    stages; without one, as ``share``.
    """
    if not cyc.get("multimodal") or cyc.get("mixture") is None:
        return None
    thr = _lane_threshold(cyc["mixture"])
    x = won_cycle[won_cycle > 0]
    fast, slow = x[x < thr], x[x >= thr]
    if fast.size < 5 or slow.size < 5:
        return None
    f = fast.size / x.size
    fast_means, slow_means = share * fast.mean(), share * slow.mean()
    if dur is not None and not dur.empty:
        w = t[t["outcome"] == "won"]
        cyc_of = pd.Series(
            ((w["closed_at"] - w["created_at"]).dt.days).to_numpy(float), index=w["opportunity_id"].to_numpy()
        )
        d = dur[dur["opportunity_id"].isin(cyc_of.index)].copy()
        d["fast"] = d["opportunity_id"].map(cyc_of).to_numpy() < thr
        by = d.groupby(["stage", "fast"])["days"].agg(["mean", "size"])
        for arr, lane in ((fast_means, True), (slow_means, False)):
            got = [
                by.loc[(s, lane), "mean"]
                if (s, lane) in by.index and by.loc[(s, lane), "size"] >= 5
                else math.nan
                for s in names
            ]
            if len(got) == len(arr) and np.all(np.isfinite(got)) and sum(got) > 0:
                # the history's split of the lane's cycle, scaled to the lane's mean cycle
                total = fast.mean() if lane else slow.mean()
                arr[:] = np.maximum(np.asarray(got), 1e-3) / max(sum(got), 1e-9) * total
    # the lanes' spread: each stage's cv such that the sum over stages has the lanes' mean cv
    lane_cv = float(np.sqrt((fast.std(ddof=1) / fast.mean()) * (slow.std(ddof=1) / slow.mean())))
    m = slow_means
    cv = float(np.clip(lane_cv * m.sum() / math.sqrt(np.sum(m**2)), 0.05, 2.5))
    return f, fast_means, slow_means, cv, thr


def _correct_lanes(
    obs: np.ndarray,
    sim: np.ndarray,
    thr: float,
    f: float,
    fast_means: np.ndarray,
    slow_means: np.ndarray,
    a: float,
) -> tuple[float, np.ndarray, np.ndarray, float]:
    """One correction of the fast lanes by the simulated won cycle's gap to the data's.

    Each side of the threshold on its own: the share below it (on the log-odds scale), each
    lane's median, and each lane's relative spread (interquartile range ÷ median; the returned
    factor for the stages' cv is the geometric mean of the two lanes' ratios).
    """

    def side(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        return float(np.mean(x < thr)), x[x < thr], x[x >= thr]

    qo, fo, so = side(obs)
    qs, fs, ss = side(sim)
    if 0 < qs < 1:
        lo = special.logit(f) + a * (
            special.logit(np.clip(qo, 0.01, 0.99)) - special.logit(np.clip(qs, 0.01, 0.99))
        )
        f = float(np.clip(special.expit(lo), 0.01, 0.95))
    ratios = []
    if fs.size >= 10:
        fast_means = fast_means * (np.median(fo) / np.median(fs)) ** a
        ratios.append(_rel_iqr(fo) / _rel_iqr(fs))
    if ss.size >= 10:
        slow_means = slow_means * (np.median(so) / np.median(ss)) ** a
        ratios.append(_rel_iqr(so) / _rel_iqr(ss))
    fast_means = np.minimum(fast_means, 0.9 * slow_means)  # fast stays faster
    ok = [r for r in ratios if np.isfinite(r) and r > 0]
    return f, fast_means, slow_means, float(np.prod(ok) ** (a / len(ok))) if ok else 1.0


def _rel_iqr(x: np.ndarray) -> float:
    q1, q2, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    return float((q3 - q1) / q2) if q2 > 0 else math.nan


def _segment_stats(t: pd.DataFrame, mapping: Mapping[str, str]) -> dict[str, dict[str, float]]:
    """Per scenario segment: deals, share of the mapped deals, win rate, mean log amount."""
    seg = t["segment"].astype(str).map(mapping)
    out: dict[str, dict[str, float]] = {}
    n_all = int(seg.notna().sum())
    for k in ("new_logo", "expansion"):
        g = t[seg == k]
        closed = g["outcome"] != "open"
        a = g["amount"].to_numpy(dtype=float)
        a = a[np.isfinite(a) & (a > 0)]
        won = int((g["outcome"] == "won").sum())
        out[k] = {
            "n": len(g),
            "share": len(g) / n_all if n_all else math.nan,
            "win": won / int(closed.sum()) if closed.any() else math.nan,
            "log_amount": float(np.mean(np.log(a))) if a.size else math.nan,
        }
    return out


def _segment_table(seg: Mapping[str, Any], sim_table: pd.DataFrame) -> pd.DataFrame:
    """Observed vs simulated, per segment: share of deals, win rate, geometric mean amount."""
    sim = _segment_stats(sim_table, {"new_logo": "new_logo", "expansion": "expansion"})
    obs = seg["obs"]
    return pd.DataFrame(
        [
            {
                "segment": k,
                "share observed": obs[k]["share"],
                "share simulated": sim[k]["share"],
                "win rate observed": obs[k]["win"],
                "win rate simulated": sim[k]["win"],
                "geometric mean amount observed": math.exp(obs[k]["log_amount"]),
                "geometric mean amount simulated": math.exp(sim[k]["log_amount"]),
            }
            for k in ("new_logo", "expansion")
        ]
    )


def _segment_start(
    data: Opportunities, t: pd.DataFrame, logits: np.ndarray, notes: list[str]
) -> dict[str, Any] | None:
    """The segments' first shares, log-odds offsets and deal-size factors, or None.

    Only when the export's segment values map onto new-logo and expansion business
    (:func:`salessim.crm.segment_map`) and each has :data:`MIN_SEGMENT_DEALS` deals; otherwise
    a note says why the base's segments are kept. Offsets and log factors are centred (their
    share-weighted mean is 0), so the stages and products carry the overall level.
    """
    if "segment" not in data.roles:
        return None
    col = data.roles["segment"]
    mapping, unmapped = segment_map(pd.unique(t["segment"].astype(str)))
    shown = ", ".join(repr(_one_line(v, 30)) for v in unmapped[:4])
    if not mapping or len(set(mapping.values())) < 2:
        notes.append(
            f"Segments: left at the base — the values of column {_one_line(col, 40)!r} "
            f"({shown or 'one kind only'}) do not name both new and existing-customer "
            "business (e.g. 'New Business' / 'Existing Business')"
        )
        return None
    st = _segment_stats(t, mapping)
    small = [k for k in st if st[k]["n"] < MIN_SEGMENT_DEALS or not 0 < st[k]["win"] < 1]
    if small:
        notes.append(
            f"Segments: left at the base — fewer than {MIN_SEGMENT_DEALS} deals, or no "
            f"won and lost ones, in {', '.join(small)}"
        )
        return None
    shares = {k: st[k]["share"] for k in st}
    walk = np.asarray(logits, dtype=float)
    off = {k: _offset_for(st[k]["win"], walk) for k in st}
    mean_off = sum(shares[k] * off[k] for k in st)
    log_f = {k: st[k]["log_amount"] for k in st}
    if not all(np.isfinite(v) for v in log_f.values()):
        log_f = dict.fromkeys(st, 0.0)
    mean_lf = sum(shares[k] * log_f[k] for k in st)
    groups = {k: sorted(v for v, s in mapping.items() if s == k) for k in st}
    notes.append(
        "Segments: "
        + "; ".join(f"{k} = {', '.join(repr(_one_line(v, 30)) for v in groups[k][:4])}" for k in st)
        + (f"; not mapped (counted in neither): {shown}" if unmapped else "")
        + f" (column {_one_line(col, 40)!r})"
    )
    return {
        "mapping": mapping,
        "obs": st,
        "share": shares,
        "offset": {k: off[k] - mean_off for k in st},
        "factor": {k: math.exp(log_f[k] - mean_lf) for k in st},
    }


def _correct_segments(seg: dict[str, Any], sim_table: pd.DataFrame, n_stages: int, a: float) -> None:
    """Correct the segments' shares, offsets and deal-size factors by the simulation's gap."""
    sim = _segment_stats(sim_table, {"new_logo": "new_logo", "expansion": "expansion"})
    obs = seg["obs"]
    ks = ("new_logo", "expansion")
    if all(sim[k]["share"] > 0 for k in ks):
        raw = {k: seg["share"][k] * (obs[k]["share"] / sim[k]["share"]) ** a for k in ks}
        tot = sum(raw.values())
        seg["share"] = {k: float(np.clip(raw[k] / tot, 0.01, 0.99)) for k in ks}
        seg["share"]["expansion"] = 1.0 - seg["share"]["new_logo"]
    if all(0 < sim[k]["win"] < 1 for k in ks):
        # the gap between the segments' win rates (the level is the stages' to correct)
        gap = (special.logit(obs["new_logo"]["win"]) - special.logit(obs["expansion"]["win"])) - (
            special.logit(sim["new_logo"]["win"]) - special.logit(sim["expansion"]["win"])
        )
        step = a * gap / n_stages * 1.5
        seg["offset"]["new_logo"] += seg["share"]["expansion"] * step
        seg["offset"]["expansion"] -= seg["share"]["new_logo"] * step
    if all(np.isfinite(sim[k]["log_amount"]) and np.isfinite(obs[k]["log_amount"]) for k in ks):
        d = (obs["new_logo"]["log_amount"] - obs["expansion"]["log_amount"]) - (
            sim["new_logo"]["log_amount"] - sim["expansion"]["log_amount"]
        )
        seg["factor"]["new_logo"] *= math.exp(a * d * seg["share"]["expansion"])
        seg["factor"]["expansion"] *= math.exp(-a * d * seg["share"]["new_logo"])


def _outcome_columns(data: Opportunities) -> str:
    """Where the outcome of a deal was read from, for messages."""
    r = data.roles
    if "outcome" in r:
        return f"column {r['outcome']!r}"
    if "is_closed" in r and "is_won" in r:
        return f"columns {r['is_closed']!r} and {r['is_won']!r}"
    return f"column {r.get('stage', 'stage')!r}"


def _goals_for(bd: dict[str, Any], products: Mapping[str, Any]) -> dict[str, Any] | None:
    """Drop goals on products the data do not have (their weight moves to revenue)."""
    if not products:
        return None
    items = bd["goals"]["items"]
    keep = [g for g in items if g["metric"] != "product_revenue" or g["product"] in products]
    if len(keep) == len(items):
        return None
    lost_w = sum(g["weight"] for g in items if g not in keep)
    out = []
    for g in keep:
        g = {k: v for k, v in g.items() if v is not None}
        if g["metric"] == "revenue":
            g["weight"] = round(g["weight"] + lost_w, 6)
        out.append(g)
    if not any(g["metric"] == "revenue" for g in out):
        out.append({"metric": "revenue", "weight": round(lost_w, 6)})
    return {**bd["goals"], "items": out}


def _merge(a: dict[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    from salessim.scenario import deep_merge

    return deep_merge(a, b)
