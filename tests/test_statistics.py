"""Moments against theory (the third layer of the tests): with every lever neutral the simulated
funnel must be the configured funnel — stage conversions, gamma stage durations, the Little's-law
benchmark pipeline — and a logistic regression on simulated stage attempts must recover the
configured log-odds effects (docs/model.md#deals-and-the-funnel).

Tolerances come from the sample size: binomial or M/G/∞ standard errors for means, the fourth
cumulant for variances, the fit's own standard errors for the regression. Seeds are fixed, so each
test is deterministic; a correct model fails a 4-SE check with probability ≈ 6e-5 per comparison.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special, stats

from salessim.funnel import gamma_quantile, plan
from salessim.model import LOST, OPEN, WON, ReplicationRecord, SalesForce
from salessim.scenario import Scenario, load_scenario
from salessim.simulate import simulate

SEED = 20260101

#: Every lever neutral: one revenue goal, a constant prescribed plan at exactly the reverse funnel's
#: rate, no skill spread, no coaching, nobody leaves, full CRM, hours and territory to spare so no
#: deal ever lacks attention, no extra hours or period-end timing games, effort
#: independent of culture, segments and products alike in odds.
NEUTRAL: Scenario = load_scenario("baseline").replace(
    **{
        "goals.items": [{"metric": "revenue", "weight": 1.0}],
        "prescription.enabled": True,
        "prescription.coverage_margin": 0.0,
        "reps.skill_sd": 0.0,
        "reps.stage_skill_sd": 0.0,
        "reps.hours_per_week": 80.0,
        "reps.non_selling_share": 0.0,
        "reps.max_extra_hours": 0.0,
        "territory.accounts": 1_000_000,
        "comp.period_end_days": 0.0,
        "motivation.give_up_below": 0.0,
        "simulation.mode": "steady_state",
        "coaching.targeting": "none",
        "coaching.joint_call_hours_per_week": 0.0,
        "attrition.voluntary_annual": 0.0,
        "reviews.involuntary_annual": 0.0,
        "managers.promotion": False,
        "crm.adoption": 1.0,
        "culture.effort_sensitivity": 0.0,
        "funnel.segments.new_logo.logit_offset": 0.0,
        "funnel.segments.expansion.logit_offset": 0.0,
        "funnel.products.A.logit_offset": 0.0,
        "funnel.products.B.logit_offset": 0.0,
    }
)


class ProbedSalesForce(SalesForce):
    """Samples the open deals per stage at every weekly tick of the reported horizon.

    The sample is taken between the tick's stage resolutions and its new deals: the open deals are
    then exactly those created before now whose current stage has not ended — the inventory at that
    instant. (Deals record only creation, close and the stage reached, so per-stage occupancy cannot
    be read off the deal log; this hook reads it from the live book instead.)
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ticks: list[float] = []
        self.inventory: list[np.ndarray] = []
        self.min_attention = 1.0
        self.rates: list[np.ndarray] = []

    def _seat_state(self) -> None:
        super()._seat_state()
        o = self.book.open_idx
        if o.size:
            self.min_attention = min(self.min_attention, float(self.book.att[o].min()))
        now = self.env.now
        if self.W <= now <= self.T:
            b = self.book
            o = b.open_idx
            assert np.all(b.created[o] <= now) and np.all(b.next_time[o] > now)
            self.ticks.append(now)
            self.inventory.append(np.bincount(b.stage[o], minlength=self.S) / self.N)

    def _plan_week(self, now: float) -> None:
        super()._plan_week(now)
        self.rates.append(self.rate[self.active])


@pytest.fixture(scope="module")
def neutral_runs() -> list[tuple[ProbedSalesForce, ReplicationRecord]]:
    """32 replications of the neutral 80-rep sales force (≈ 0.1 s each)."""
    out = []
    for r in range(32):
        sf = ProbedSalesForce(NEUTRAL, SEED, r)
        out.append((sf, sf.run()))
    return out


def test_neutral_levers_are_neutral(neutral_runs) -> None:
    """Preconditions of the tests below: one constant rate, nobody leaves, no stretch, no boosts."""
    p = plan(NEUTRAL)
    for sf, rec in neutral_runs:
        rates = np.concatenate(sf.rates)
        np.testing.assert_allclose(rates, p.new_per_day, rtol=1e-9)
        assert rec.person_seat.size == NEUTRAL.n_reps and np.all(np.isinf(rec.person_leave))
        assert sf.min_attention == 1.0
        b = rec.book
        assert np.all(b.boost[: b.n] == 0.0) and np.all(b.offset[: b.n] == 0.0)
        assert np.all(sf.penalty == 0.0) and np.all(sf.theta_eff == 0.0)


def _prospected(b) -> np.ndarray:
    """Deals opened by prospecting during the run, not the pipeline seeded at steady state at
    time 0 (already part-way through the funnel; tests/test_steady_state.py checks those)."""
    return b.seat_row[: b.n] >= 0


def _columns(runs) -> dict[str, np.ndarray]:
    books = [rec.book for _, rec in runs]
    return {
        name: np.concatenate([b.view(name)[_prospected(b)] for b in books])
        for name in ("status", "stage", "created", "closed")
    } | {
        "u_dur": np.concatenate([b.u_dur[: b.n][_prospected(b)] for b in books]),
        "T": np.concatenate(
            [
                np.full(int(_prospected(b).sum()), rec.warmup + rec.horizon)
                for (_, rec), b in zip(runs, books, strict=True)
            ]
        ),
    }


def test_stage_conversions_match_configuration(neutral_runs) -> None:
    """Each stage's pass rate over the deals that resolved it is the configured conversion.

    A deal that reached stage k passed every stage before k; it failed at k if lost there; an open
    deal at k has not resolved k yet and is left out of k's attempts. The outcome of a stage is drawn
    independently of when the stage ends, so leaving unresolved stages out does not bias the rate.
    """
    d = _columns(neutral_runs)
    stage, status = d["stage"], d["status"]
    for s, cfg in enumerate(NEUTRAL.funnel.stages):
        attempts = (stage > s) | ((stage == s) & (status == LOST))
        n = int(attempts.sum())
        passes = int((stage[attempts] > s).sum())
        p = cfg.conversion
        se = np.sqrt(p * (1 - p) / n)
        assert n > 100_000
        assert abs(passes / n - p) < 4 * se, (cfg.name, passes / n, p, n)
    # and overall: of the deals created early enough that all are resolved, the win rate
    early = d["created"] < d["T"] - 300.0
    assert np.all(status[early] != OPEN)
    win = float(np.prod([s.conversion for s in NEUTRAL.funnel.stages]))
    n = int(early.sum())
    assert abs((status[early] == WON).mean() - win) < 4 * np.sqrt(win * (1 - win) / n)


def test_deal_times_are_the_configured_gamma_draws(neutral_runs) -> None:
    """Closed − created is exactly the sum of the deal's own gamma stage draws up to its last stage
    (no off-by-one between stages and their duration columns, no time lost to weekly batching)."""
    mean = np.array([s.mean_days for s in NEUTRAL.funnel.stages])
    cv = np.array([s.cv for s in NEUTRAL.funnel.stages])
    for _, rec in neutral_runs[:2]:
        b = rec.book
        n = b.n
        done = np.flatnonzero((b.status[:n] != OPEN) & _prospected(b))
        last = np.where(b.status[done] == WON, b.stages - 1, b.stage[done])
        dur = np.zeros(done.size)
        for s in range(b.stages):
            took = last >= s
            dur[took] += gamma_quantile(b.u_dur[done[took], s], mean[s], cv[s])
        np.testing.assert_allclose(b.closed[done] - b.created[done], dur, rtol=1e-12, atol=1e-9)


def _gamma_cumulants(mean: np.ndarray, cv: np.ndarray) -> tuple[float, float, float]:
    """Mean, variance and fourth cumulant of a sum of independent gammas."""
    k = 1.0 / cv**2
    theta = mean * cv**2
    return float((k * theta).sum()), float((k * theta**2).sum()), float((6 * k * theta**4).sum())


def test_stage_durations_match_configured_gamma(neutral_runs) -> None:
    """Time from creation to close of deals lost at stage k is the sum of the gamma durations of
    stages 0..k, and of won deals the sum over all stages: mean and variance within 4 standard
    errors, and the first stage's duration is the configured gamma (Kolmogorov–Smirnov).

    Only deals created ≥ 300 days before the end are used, so that none is still open (checked):
    otherwise the slow deals would be missing and the mean biased low.
    """
    d = _columns(neutral_runs)
    early = d["created"] < d["T"] - 300.0
    assert np.all(d["status"][early] != OPEN)
    status, stage = d["status"][early], d["stage"][early]
    cycle = (d["closed"] - d["created"])[early]
    stages = NEUTRAL.funnel.stages
    mean = np.array([s.mean_days for s in stages])
    cv = np.array([s.cv for s in stages])
    S = len(stages)
    for k in range(S + 1):
        sel = (status == WON) if k == S else ((status == LOST) & (stage == k))
        x = cycle[sel]
        n = x.size
        upto = min(k, S - 1) + 1
        mu, var, k4 = _gamma_cumulants(mean[:upto], cv[:upto])
        assert n > 10_000
        assert abs(x.mean() - mu) < 4 * np.sqrt(var / n), (k, x.mean(), mu)
        # Var(s²) ≈ (κ4 + 2 κ2²) / n for large n
        assert abs(x.var(ddof=1) - var) < 4 * np.sqrt((k4 + 2 * var**2) / n), (k, x.var(), var)
    first = cycle[(status == LOST) & (stage == 0)]
    k0 = 1.0 / cv[0] ** 2
    ks = stats.kstest(first, stats.gamma(k0, scale=mean[0] / k0).cdf)
    assert ks.pvalue > 1e-3, ks


def test_deal_arrivals_match_the_prescribed_rate(neutral_runs) -> None:
    """Deals created in the horizon: Poisson with mean rate × reps × days (4 Poisson SE)."""
    rate = plan(NEUTRAL).new_per_day
    count, expected = 0, 0.0
    for _, rec in neutral_runs:
        b = rec.book
        created = b.created[: b.n]
        count += int(((created >= rec.warmup) & (created < rec.warmup + rec.horizon)).sum())
        expected += rate * NEUTRAL.n_reps * rec.horizon
    assert abs(count - expected) < 4 * np.sqrt(expected), (count, expected)


def _excess(h: np.ndarray, mean: float, cv: float) -> np.ndarray:
    """E[(D − h)⁺] for D gamma with the given mean and CV."""
    k = 1.0 / cv**2
    theta = mean / k
    return mean * special.gammaincc(k + 1, h / theta) - h * special.gammaincc(k, h / theta)


def test_open_deals_per_stage_match_littles_law_benchmark(neutral_runs) -> None:
    """Mean open deals per stage per rep over the horizon = the benchmark pipeline
    (arrival rate into the stage × mean days in it).

    Standard error: each rep's stage is an M/G/∞ queue — Poisson arrivals (a thinned, displaced
    Poisson process), independent gamma sojourns — so N(t) is Poisson and
    Cov(N(t), N(t+h)) = λ_s E[(D_s − h)⁺]; reps and replications are independent. The start-up
    deficit at the first sampled tick (day 182) is < 5e-4 of the mean in every stage, far inside
    the tolerance.
    """
    p = plan(NEUTRAL)
    bench = p.stages["inventory"].to_numpy()
    arrivals = p.stages["arrivals_per_week"].to_numpy() / 7.0
    ticks = np.array(neutral_runs[0][0].ticks)
    inv = np.stack([np.stack(sf.inventory) for sf, _ in neutral_runs])  # runs × ticks × stages
    assert all(np.array_equal(sf.ticks, ticks) for sf, _ in neutral_runs)
    observed = inv.mean(axis=(0, 1))
    lag = np.abs(ticks[:, None] - ticks[None, :])
    units = len(neutral_runs) * NEUTRAL.n_reps
    for s, st_ in enumerate(NEUTRAL.funnel.stages):
        cov = arrivals[s] * _excess(lag, st_.mean_days, st_.cv)
        se = np.sqrt(cov.sum() / ticks.size**2 / units)
        assert abs(observed[s] - bench[s]) < 4 * se, (st_.name, observed[s], bench[s], se)


# ------------------------------------------------------------------------------------------------
# a logistic regression recovers the configured log-odds effects
# ------------------------------------------------------------------------------------------------

EFFECTS: Scenario = NEUTRAL.replace(
    **{
        "reps.skill_sd": 0.45,
        "funnel.segments.new_logo.logit_offset": -0.4,
        "funnel.segments.expansion.logit_offset": 0.2,
        "funnel.products.A.logit_offset": 0.1,
        "funnel.products.B.logit_offset": -0.35,
    }
)


def _stage_attempts(deals: pd.DataFrame, reps: pd.DataFrame, sc: Scenario) -> pd.DataFrame:
    """One row per stage a deal resolved: the stage, whether it passed, and the deal's covariates."""
    names = [s.name for s in sc.funnel.stages]
    reached = deals["stage_reached"].map({n: i for i, n in enumerate([*names, "won"])}).to_numpy()
    lost = (deals["outcome"] == "lost").to_numpy()
    theta = reps[reps["period"] == "year"].set_index(["replication", "rep_id"])["skill_start"]
    key = pd.MultiIndex.from_arrays([deals["replication"], deals["rep_id"]])
    deal_theta = theta.reindex(key).to_numpy()
    assert not np.isnan(deal_theta).any(), "a deal's rep is missing from the reps table"
    rows = []
    for s in range(len(names)):
        att = (reached > s) | ((reached == s) & lost)
        rows.append(
            pd.DataFrame(
                {
                    "stage": s,
                    "passed": (reached[att] > s).astype(float),
                    "theta": deal_theta[att],
                    "new_logo": (deals["segment"].to_numpy()[att] == "new_logo").astype(float),
                    "product_B": (deals["product"].to_numpy()[att] == "B").astype(float),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_logistic_regression_recovers_configured_effects() -> None:
    """logit P(pass) = logit(p_s) + θ_rep + segment offset + product offset: fitted on
    simulated stage attempts, every coefficient is within 3 of its standard errors of the truth."""
    res = simulate(EFFECTS, replications=16, seed=SEED, deals=True)
    reps, deals = res.reps, res.deals
    assert deals is not None
    year = reps[reps["period"] == "year"]
    # θ is static here (no coaching, nobody hired or leaving): skill at start = skill at end
    np.testing.assert_allclose(year["skill_start"], year["skill_end"], atol=1e-12)
    assert year["skill_start"].std() == pytest.approx(0.45, rel=0.15)
    att = _stage_attempts(deals, reps, EFFECTS)
    S = len(EFFECTS.funnel.stages)
    X = pd.concat(
        [pd.get_dummies(att["stage"], prefix="stage", dtype=float), att[["theta", "new_logo", "product_B"]]],
        axis=1,
    )
    fit = sm.Logit(att["passed"], X).fit(disp=0)
    f = EFFECTS.funnel
    base = f.segments["expansion"].logit_offset + f.products["A"].logit_offset
    truth = pd.Series(
        {
            **{f"stage_{s}": special.logit(f.stages[s].conversion) + base for s in range(S)},
            "theta": 1.0,
            "new_logo": f.segments["new_logo"].logit_offset - f.segments["expansion"].logit_offset,
            "product_B": f.products["B"].logit_offset - f.products["A"].logit_offset,
        }
    )
    z = (fit.params - truth) / fit.bse
    assert len(att) > 300_000
    assert (fit.bse["theta"] < 0.03) and (fit.bse["product_B"] < 0.03)  # the test has power
    assert (z.abs() < 3).all(), pd.DataFrame({"fit": fit.params, "truth": truth, "z": z})
