"""One statistics module: intervals against scipy and statsmodels reference values, P(better) only
where it is defined, and the CLI, the experiments and the validation table all using it."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from salessim import stats
from salessim.experiments import compare, summarize

RNG = np.random.default_rng(20260615)
SAMPLES = [RNG.normal(10.0, 3.0, n) for n in (2, 3, 7, 30)]


# ------------------------------------------------------------------------------------------
# reference values
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x", SAMPLES, ids=lambda x: f"n={x.size}")
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_mean_ci_is_student_t(x, level):
    r = stats.mean_ci(x, level)
    lo, hi = DescrStatsW(x).tconfint_mean(alpha=1 - level)
    assert r.n == x.size and r.mean == pytest.approx(x.mean(), rel=1e-12)
    assert (r.low, r.high) == pytest.approx((lo, hi), rel=1e-12)
    assert r.se == pytest.approx(st.sem(x), rel=1e-12)


def test_mean_ci_edge_cases():
    assert all(np.isnan(v) for v in stats.mean_ci([])[:4]) and stats.mean_ci([]).n == 0
    one = stats.mean_ci([4.0, np.nan])
    assert one.mean == 4.0 and one.n == 1 and np.isnan(one.low) and np.isnan(one.high)
    flat = stats.mean_ci([2.0, 2.0, 2.0])
    assert (flat.low, flat.mean, flat.high, flat.se) == (2.0, 2.0, 2.0, 0.0)
    with pytest.raises(ValueError, match="confidence level"):
        stats.mean_ci([1.0, 2.0], level=95)


@pytest.mark.parametrize("n", [2, 5, 40])
def test_paired_diff_ci_is_the_paired_t_interval(n):
    b = RNG.normal(100.0, 10.0, n)
    v = b + RNG.normal(3.0, 2.0, n)
    r = stats.paired_diff_ci(v, b)
    ref = st.ttest_rel(v, b).confidence_interval(0.95)
    assert r.mean == pytest.approx((v - b).mean(), rel=1e-12)
    assert (r.low, r.high) == pytest.approx((ref.low, ref.high), rel=1e-12)


def test_paired_diff_ci_drops_incomplete_pairs_and_refuses_unaligned():
    r = stats.paired_diff_ci([1.0, 2.0, np.nan, 5.0], [0.0, 1.0, 1.0, np.nan])
    assert r.n == 2 and r.mean == 1.0
    with pytest.raises(ValueError, match="same length"):
        stats.paired_diff_ci([1.0, 2.0], [1.0])


@pytest.mark.parametrize(
    ("na", "nb", "sa", "sb"), [(5, 5, 1.0, 4.0), (3, 12, 2.0, 0.5), (30, 8, 1.0, 1.0), (2, 2, 3.0, 1.0)]
)
def test_welch_ci_matches_statsmodels_unequal_variances(na, nb, sa, sb):
    a, b = RNG.normal(5.0, sa, na), RNG.normal(4.0, sb, nb)
    r = stats.welch_ci(a, b)
    cm = CompareMeans(DescrStatsW(a), DescrStatsW(b))
    lo, hi = cm.tconfint_diff(alpha=0.05, usevar="unequal")
    _, _, df = cm.ttest_ind(usevar="unequal")
    assert r.df == pytest.approx(df, rel=1e-10)
    assert (r.low, r.high) == pytest.approx((lo, hi), rel=1e-10)
    assert r.diff == pytest.approx(a.mean() - b.mean(), rel=1e-12)


def test_welch_ci_edge_cases():
    assert np.isnan(stats.welch_ci([1.0], [1.0, 2.0]).low)
    flat = stats.welch_ci([3.0, 3.0], [1.0, 1.0])
    assert (flat.diff, flat.low, flat.high, flat.se) == (2.0, 2.0, 2.0, 0.0) and np.isnan(flat.df)


@pytest.mark.parametrize("better", [+1, -1])
@pytest.mark.parametrize("shift", [-1.0, 0.2, 2.0])
def test_p_better_is_the_one_sided_paired_t_probability(better, shift):
    b = RNG.normal(50.0, 5.0, 9)
    v = b + RNG.normal(shift, 1.5, 9)
    # P(mean difference on the better side) = the paired t-test's p-value against "better"
    alt = "less" if better > 0 else "greater"
    ref = st.ttest_rel(v, b, alternative=alt).pvalue
    assert stats.p_better(v, b, better) == pytest.approx(ref, rel=1e-10)


def test_p_better_is_undefined_without_information():
    x = np.array([3.0, 4.0, 5.0])
    assert np.isnan(stats.p_better(x, x))  # identical: no evidence either way (not 0 %)
    assert np.isnan(stats.p_better([5.0], [1.0]))  # one replication (not 100 %)
    assert np.isnan(stats.p_better(x + 1.0, x))  # a constant shift has no spread
    assert np.isnan(stats.p_better([], []))
    with pytest.raises(ValueError, match="better"):
        stats.p_better(x, x, better=2)


def test_wilson_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in ((0, 10), (3, 10), (10, 10), (47, 200)):
        assert stats.wilson(k, n) == pytest.approx(proportion_confint(k, n, method="wilson"), rel=1e-9)
    assert all(np.isnan(stats.wilson(0, 0)))


def test_wilson_bounds_are_exactly_0_and_1_at_the_ends():
    """None, or all, of n: the bound at that end is the end itself, never a hair inside or out
    (rounding put 0 of 3 at +5.6e-17 and 10 of 10 just below 1, and an error bar drawn from
    such an interval went negative)."""
    for n in range(1, 301):
        assert stats.wilson(0, n)[0] == 0.0 and stats.wilson(n, n)[1] == 1.0
        for k in (0, 1, n // 2, n - 1, n):
            lo, hi = stats.wilson(k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0


# ------------------------------------------------------------------------------------------
# the experiments' summary
# ------------------------------------------------------------------------------------------
def _periods(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for name, vals in values.items():
        for r, v in enumerate(vals):
            rows.append(
                {
                    "scenario": name,
                    "replication": r,
                    "period": "year",
                    **{
                        m: v
                        for m in (
                            "revenue",
                            "attainment_p50",
                            "pct_at_quota",
                            "win_rate",
                            "turnover",
                            "detection_lag_days",
                            "forecast_error",
                            "coaching_hours",
                        )
                    },
                }
            )
    return pd.DataFrame(rows)


def _row(summary: pd.DataFrame, scenario: str, metric: str = "revenue") -> pd.Series:
    return summary.set_index(["scenario", "metric"]).loc[(scenario, metric)]


def test_summary_p_better_is_undefined_for_identical_runs_and_one_replication():
    s = summarize(_periods({"a": [1.0, 2.0, 4.0], "b": [1.0, 2.0, 4.0]}), "a", ["a", "b"])
    assert np.isnan(_row(s, "b")["p_better"])
    s1 = summarize(_periods({"a": [1.0], "b": [3.0]}), "a", ["a", "b"])
    assert np.isnan(_row(s1, "b")["p_better"])


def test_summary_unpaired_interval_uses_welch_degrees_of_freedom():
    a = [10.0, 10.5, 9.5, 10.2, 9.8, 10.1]
    b = [12.0, 20.0, 5.0, 16.0, 9.0, 14.0]  # very unequal spreads: Welch df ≈ 5, not 10
    s = summarize(_periods({"a": a, "b": b}), "a", ["a", "b"])
    r = _row(s, "b")
    lo, hi = CompareMeans(DescrStatsW(np.array(b)), DescrStatsW(np.array(a))).tconfint_diff(usevar="unequal")
    assert (r["diff_ci_low_unpaired"], r["diff_ci_high_unpaired"]) == pytest.approx((lo, hi))
    # and the lower-is-better metrics flip P(better)
    ref = st.ttest_rel(b, a, alternative="less").pvalue
    assert r["p_better"] == pytest.approx(ref)
    assert _row(s, "b", "turnover")["p_better"] == pytest.approx(1 - ref)


# ------------------------------------------------------------------------------------------
# one interval for the same runs: simulate, compare and validation agree
# ------------------------------------------------------------------------------------------
def _money(text: str) -> float:
    return float(text.replace("$", "").replace("M", "").replace(",", "")) * 1e6


def test_simulate_prints_the_same_t_interval_as_compare(tmp_path, monkeypatch, capsys):
    """Two replications: the t quantile is 12.7, a z interval (1.96) is 6.5 times too narrow."""
    from salessim.cli import main

    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SALESSIM_NO_PROGRESS", "1")
    assert main(["simulate", "baseline", "-r", "2", "-s", "5"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"team revenue\s*│\s*(\$[\d.,]+M)\s*│\s*(\$?[\d.,]+M)", out)
    assert m, out
    comp = compare(["baseline"], replications=2, seed=5, workers=1, cache=False, progress=False)
    r = _row(comp.summary, "baseline")
    assert _money(m.group(1)) == pytest.approx(r["mean"], abs=5.01e3)
    assert _money(m.group(2)) == pytest.approx((r["ci_high"] - r["ci_low"]) / 2, abs=5.01e3)


def test_validation_rows_use_student_t():
    from salessim.validation import _mean_ci

    x = np.array([0.2, 0.25, 0.18])
    m, lo, hi = _mean_ci(x)
    ref = DescrStatsW(x).tconfint_mean()
    assert (lo, hi) == pytest.approx(ref, rel=1e-12) and m == pytest.approx(x.mean())


def test_notebook_intervals_are_the_package_intervals():
    from salessim.notebook_helpers import mean_ci, paired, wilson

    x = SAMPLES[2]
    m, lo, hi, n = mean_ci(x)
    r = stats.mean_ci(x)
    assert (m, lo, hi, n) == (r.mean, r.low, r.high, r.n)
    assert wilson(3, 10, z=st.norm.ppf(0.975)) == pytest.approx(stats.wilson(3, 10), rel=1e-12)
    frame = pd.DataFrame(
        {"scenario": ["a"] * 3 + ["b"] * 3, "replication": [0, 1, 2] * 2, "v": [1.0, 2.0, 3.0, 1.5, 2.0, 3.5]}
    )
    e = paired(frame, "v", "a", "b", kind="num")
    ref = stats.paired_diff_ci([1.5, 2.0, 3.5], [1.0, 2.0, 3.0])
    assert (e.mean, e.low, e.high, e.n) == pytest.approx((ref.mean, ref.low, ref.high, ref.n))


# ------------------------------------------------------------------------------------------
# one pipeline coverage: simulate's and plan's are the same quantity
# ------------------------------------------------------------------------------------------
def _year_coverage(sc, replications: int, seed: int) -> np.ndarray:
    from salessim.simulate import simulate

    p = simulate(sc, replications=replications, seed=seed).periods
    return p.loc[p["period"] == "year", "pipeline_coverage"].to_numpy(dtype=float)


def test_simulated_coverage_is_the_plans_benchmark_in_a_neutral_funnel():
    """Every lever neutral and prospecting at the natural market mix: the open pipeline at each
    quarter's start is the plan's Little's-law benchmark, so the mean simulated coverage must equal
    the plan's within 4 standard errors of the replication mean (16 replications, t on 15 df: a
    correct model fails with probability ≈ 1e-3; the seed is fixed)."""
    from test_statistics import NEUTRAL

    from salessim.funnel import plan

    sc = NEUTRAL.replace(**{"goals.mix_tilt": 0.0})
    r = stats.mean_ci(_year_coverage(sc, 16, 20260615))
    assert abs(r.mean - plan(sc).coverage) < 4 * r.se, (r.mean, plan(sc).coverage, r.se)


def test_baseline_reps_hold_less_than_the_benchmark_pipeline_when_their_week_is_full():
    """The reverse-funnel plan asks the baseline's reps for more prospecting than their week and
    territory allow, so their open pipeline stays below the plan's Little's-law benchmark: the
    95 % interval of simulated coverage lies below plan's (with ample hours and territory the two
    agree — test_simulated_coverage_is_the_plans_benchmark_in_a_neutral_funnel)."""
    from salessim.funnel import plan

    r = stats.mean_ci(_year_coverage("baseline", 8, 20260615))
    target = plan("baseline").coverage
    assert r.high < target, (r.mean, r.high, target)


def test_simulate_and_plan_print_the_same_coverage(tmp_path, monkeypatch, capsys):
    from salessim.cli import main

    monkeypatch.setenv("SALESSIM_NO_PROGRESS", "1")
    label = "pipeline coverage (next quarter)"
    # hours and territory to spare and the plan followed exactly: the benchmark is what reps hold
    ample = tmp_path / "ample.yaml"
    ample.write_text(
        "extends: baseline\nprescription: {enabled: true, coverage_margin: 0}\n"
        "reps: {hours_per_week: 80, non_selling_share: 0}\n"
        "territory: {accounts: 1000000}\nmotivation: {give_up_below: 0}\n"
        "simulation: {mode: steady_state}\n",
        encoding="utf-8",
    )
    assert main(["plan", str(ample)]) == 0
    planned = re.search(re.escape(label) + r"\s*│\s*([\d.]+)×", capsys.readouterr().out)
    assert main(["simulate", str(ample), "-r", "4", "-s", "3"]) == 0
    simulated = re.search(re.escape(label) + r"\s*│\s*([\d.]+)×\s*│\s*([\d.]+)×", capsys.readouterr().out)
    assert planned and simulated
    p, m, h = float(planned.group(1)), float(simulated.group(1)), float(simulated.group(2))
    assert abs(m - p) <= 2 * h + 0.01, (p, m, h)  # 2 × the 95 % half-width, and print rounding


def test_scenario_mean_takes_one_scenarios_rows_only():
    from salessim.notebook_helpers import scenario_mean

    frame = pd.DataFrame({"scenario": ["a", "b", "a", "b"], "revenue": [1.0, 10.0, 3.0, 30.0]})
    assert scenario_mean(frame, "a", "revenue") == 2.0 and scenario_mean(frame, "b", "revenue") == 20.0
    assert np.isnan(scenario_mean(frame, "c", "revenue"))
