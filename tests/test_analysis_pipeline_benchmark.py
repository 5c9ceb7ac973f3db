"""The pipeline benchmark report's numbers (salessim.analysis.pipeline_benchmark), on known inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from salessim import load_scenario, plan
from salessim.analysis import pipeline_benchmark as pb

NBSP = "\u00a0"


def t_ci(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval, from the textbook formula."""
    m, s, n = x.mean(), x.std(ddof=1), x.size
    h = stats.t.ppf(0.975, n - 1) * s / np.sqrt(n)
    return m, m - h, m + h


def test_the_article_follows_how_the_percentage_is_read():
    assert [pb.article(s) for s in (0.8, 0.9, 0.11, 0.18, 0.08, 0.5, 0.85)] == [
        "an",
        "a",
        "an",
        "an",
        "an",
        "a",
        "an",
    ]


def test_metric_scenarios_vary_the_metric_and_adoption_and_keep_the_base():
    base = load_scenario("baseline")
    assert (base.metrics, base.crm.adoption) == ("outcomes", 0.7)
    sc = pb.metric_scenarios(base)
    assert list(sc) == [(m, a) for m in ("outcomes", "pipeline", "stage") for a in (0.7, 1.0)]
    assert sc[("outcomes", 0.7)] is base
    for (metric, adoption), s in sc.items():
        assert (s.metrics, s.crm.adoption) == (metric, adoption)
        assert s.organisation == base.organisation
    assert sc[("stage", 1.0)].name == "baseline, stage metrics, CRM 100%"
    # a sales force that already logs every deal: one scenario per metric
    full = base.replace(**{"crm.adoption": 1.0})
    assert list(pb.metric_scenarios(full)) == [("outcomes", 1.0), ("pipeline", 1.0), ("stage", 1.0)]


def test_the_library_prescription_changes_only_its_own_fields():
    today = load_scenario("baseline").replace(**{"organisation.quota": 900_000.0, "organisation.span": 6})
    presc = pb.library_prescription(today)
    assert presc.prescription.enabled and presc.metrics == "stage"
    assert presc.organisation == today.organisation  # the sales force's own quota and teams stay


def test_the_reverse_funnel_keeps_the_plans_numbers_with_their_units():
    p = plan(load_scenario("baseline"))
    funnel = pb.reverse_funnel(p).set_index("item")
    assert funnel.loc["quota", ["unit", "per rep"]].tolist() == ["USD", p.quota]
    assert funnel.loc["wins needed", "per team"] == pytest.approx(p.wins_per_year * p.reps_per_team)
    assert funnel.loc["win rate", "organisation"] == p.win_rate  # a ratio: not summed over reps
    units = funnel["unit"].to_dict()
    assert units["win rate"] == "share" and units["cycle days (won)"] == "days"
    assert units["pipeline coverage (next quarter)"] == "ratio" and units["benchmark open deals"] == "number"
    text = pb.reverse_funnel_text(pb.reverse_funnel(p)).set_index("")
    assert text.loc["quota", "per rep"] == "$1.10M"
    assert text.loc["pipeline coverage (next quarter)", "per rep"] == f"{p.coverage:.2f}×"
    assert text.loc["cycle days (won)", "per rep"] == f"{p.cycle_days:.0f} days"


def test_quarter_coverage_reads_open_pipeline_at_each_quarters_start():
    sc = load_scenario("baseline")
    day = lambda d: pd.Timestamp(sc.start_date + dt.timedelta(days=d))  # noqa: E731
    deals = pd.DataFrame(
        {
            "scenario": sc.name,
            "replication": 0,
            "rep_id": [1, 1, 1, 2],
            "created_at": [day(100), day(150), day(190), day(10)],
            "closed_at": [day(200), pd.NaT, day(300), day(20)],
            "amount": [100.0, 50.0, 30.0, 999.0],
        }
    )
    reps = pd.DataFrame(
        {
            "scenario": sc.name,
            "replication": 0,
            "rep_id": [1, 1, 2, 2],
            "period": ["Q3", "Q4", "Q3", "Q4"],
            "full_period": True,
            "quota": [100.0, 100.0, 0.0, 0.0],  # rep 2 has no quota: no coverage to read
            "attainment": [1.2, 0.9, 0.0, 0.0],
        }
    )
    cov = pb.quarter_coverage(deals, reps, [sc]).set_index("quarter")
    assert list(cov.index) == ["Q3", "Q4"] and (cov["rep_id"] == 1).all()
    # Q3 (day 182): the first two deals are open; Q4 (day 274): the second and the third
    assert cov.loc["Q3", "coverage"] == pytest.approx(1.5) and cov.loc["Q4", "coverage"] == pytest.approx(0.8)
    assert cov["hit"].tolist() == [True, False]


def wilson_by_hand(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_hit_rates_by_coverage_bin_with_wilson_intervals():
    cov = pd.DataFrame(
        {
            "coverage": [1.2] * 20 + [0.3] * 12 + [3.1] * 5,
            "hit": [True] * 10 + [False] * 10 + [True] * 3 + [False] * 9 + [True] * 5,
        }
    )
    b = pb.hit_rate_by_coverage(cov).set_index("mid")
    assert list(b.index) == [0.3, 1.2]  # the 3–3.5× bin has 5 rep-quarters: too few to show
    assert b.loc[1.2, ["n", "hits", "p"]].tolist() == [20, 10, 0.5]
    assert b.loc[0.3, "p"] == pytest.approx(0.25)
    assert b.loc[0.3, ["lo", "hi"]].tolist() == pytest.approx(wilson_by_hand(3, 12), abs=1e-4)
    assert b.loc[1.2, ["lo", "hi"]].tolist() == pytest.approx(wilson_by_hand(10, 20), abs=1e-4)


def logistic_sample(intercept: float, slope: float, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = np.exp(rng.normal(0.5, 0.6, n))
    p = 1 / (1 + np.exp(-(intercept + slope * np.log(np.maximum(c, 0.05)))))
    return pd.DataFrame({"coverage": c, "hit": rng.random(n) < p})


def test_the_coverage_curve_recovers_a_known_logistic_relation():
    a, b, n = -0.5, 2.0, 20_000
    cov = logistic_sample(a, b, n, seed=11)
    curve = pb.coverage_curve(cov, 0.8)
    # standard errors at the true parameters from the Fisher information X'WX
    x = np.column_stack([np.ones(n), np.log(np.maximum(cov["coverage"], 0.05))])
    p = 1 / (1 + np.exp(-(x @ [a, b])))
    se = np.sqrt(np.diag(np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))))
    assert abs(curve.intercept - a) < 4 * se[0] and abs(curve.slope - b) < 4 * se[1]
    assert curve.p_hit(curve.needed) == pytest.approx(0.8, abs=1e-12)  # the target is where 80 % is met
    assert curve.seen == pytest.approx(cov["coverage"].quantile(0.95))
    assert curve.needed_seen == (curve.needed <= curve.seen)
    assert curve.hit_rate_seen == pytest.approx(cov.loc[cov["coverage"] >= curve.seen, "hit"].mean())
    assert curve.n == n and curve.bins["n"].sum() <= n
    assert curve.p_hit(np.array([0.0, 0.05])) == pytest.approx([curve.p_hit(0.05)] * 2)  # floor at 0.05×


def test_a_chance_that_falls_with_coverage_gives_no_coverage_target():
    curve = pb.coverage_curve(logistic_sample(1.0, -1.0, 5_000, seed=12), 0.8)
    assert curve.slope < 0 and np.isnan(curve.needed) and not curve.needed_seen


def year_rows(values: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """Year-1 rows: scenario → column → one value per replication."""
    frames = []
    for s, cols in values.items():
        n = len(next(iter(cols.values())))
        frames.append(
            pd.DataFrame({"scenario": s, "replication": range(n), "period": "year", "year": 1, **cols})
        )
    return pd.concat(frames, ignore_index=True)


def prescription_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    common = {"turnover": [0.2, 0.2, 0.2], "selling_time_share": [0.3, 0.3, 0.3]}
    year = year_rows(
        {
            "today": {
                "revenue": [100.0, 200.0, 300.0],
                "pct_at_quota": [0.4, 0.5, 0.6],
                "detection_lag_days": [120.0, 100.0, 110.0],
                **common,
            },
            "presc": {
                "revenue": [110.0, 220.0, 330.0],
                "pct_at_quota": [0.5, 0.6, 0.7],
                "detection_lag_days": [60.0, 50.0, 40.0],
                **common,
            },
        }
    )
    rows = []
    for s, opps in (("today", [104.0, 208.0]), ("presc", [52.0, 104.0])):
        for r in range(3):
            for i, o in enumerate(opps):
                rows.append(
                    {
                        "scenario": s,
                        "replication": r,
                        "rep_id": i,
                        "period": "year",
                        "year": 1,
                        "full_period": True,
                        "opportunities": o * (1 + r),
                    }
                )
            # a rep who joined during the year: left out of the per-rep averages
            rows.append({**rows[-1], "rep_id": 9, "full_period": False, "opportunities": 1e6})
    return year, pd.DataFrame(rows)


def test_the_prescriptions_effects_are_paired_with_today():
    year, reps = prescription_inputs()
    e = pb.prescription_effects(year, reps, "today", "presc")
    assert e.revenue.mean == pytest.approx(0.1) and e.revenue.half_width == pytest.approx(0, abs=1e-12)
    assert e.at_quota.kind == "pts" and e.at_quota.mean == pytest.approx(0.1)
    assert e.turnover.mean == 0 and e.selling_time.mean == 0
    m, lo, hi = t_ci(np.array([-60.0, -50.0, -70.0]))
    assert (e.detection_lag.mean, e.detection_lag.low, e.detection_lag.high) == pytest.approx((m, lo, hi))
    # reps planning for themselves open 156 a year per rep against 78 (×1, ×2, ×3): +100 %
    assert e.self_planned.mean == pytest.approx(1.0)
    assert e.self_per_week == pytest.approx(156 * 2 / 52) and e.prescribed_per_week == pytest.approx(
        78 * 2 / 52
    )


def test_the_prescription_table_and_its_text():
    year, reps = prescription_inputs()
    e = pb.prescription_effects(year, reps, "today", "presc")
    tab = pb.prescription_table(year, e, "today", "presc").set_index("measure")
    assert tab.loc["team revenue", ["today", "with the prescription", "change"]].tolist() == pytest.approx(
        [200.0, 220.0, 0.1]
    )
    assert tab.loc["days to spot a falling-behind rep", "kind"] == "days"
    text = pb.prescription_table_text(tab.reset_index()).set_index("measure")
    assert text.loc["team revenue", "change"] == f"+10.0{NBSP}%"
    assert text.loc["reps at quota", ["today", "change"]].tolist() == [f"50.0{NBSP}%", f"+10.0{NBSP}pts"]
    assert text.loc["days to spot a falling-behind rep", "with the prescription"] == f"50{NBSP}days"
    assert text.loc["days to spot a falling-behind rep", "95 % CI"].endswith(" days")
    assert text.loc["days to spot a falling-behind rep", "change"] == f"−60{NBSP}days"


def test_gap_detection_by_metric_and_its_paired_effects():
    year = year_rows(
        {
            "today": {
                "detection_lag_days": [200.0, 180.0, 190.0],
                "forecast_error": [0.3, 0.2, 0.25],
                "revenue": [1.0, 2.0, 3.0],
            },
            "stage": {
                "detection_lag_days": [100.0, 90.0, 110.0],
                "forecast_error": [0.2, 0.2, 0.2],
                "revenue": [1.0, 2.0, 3.0],
            },
            "stage_full": {
                "detection_lag_days": [80.0, 80.0, 80.0],
                "forecast_error": [0.1, 0.1, 0.1],
                "revenue": [2.0, 2.0, 2.0],
            },
        }
    )
    names = {("outcomes", 0.7): "today", ("stage", 0.7): "stage", ("stage", 1.0): "stage_full"}
    tab = pb.gap_detection(year, names).set_index("scenario")
    assert tab["what managers measure"].tolist() == ["closed revenue only"] + ["stage-by-stage inventory"] * 2
    m, lo, hi = t_ci(np.array([200.0, 180.0, 190.0]))
    assert tab.loc["today", ["detection lag (days)", "lag low", "lag high"]].tolist() == pytest.approx(
        [m, lo, hi]
    )
    assert tab.loc["stage_full", ["forecast error", "team revenue"]].tolist() == pytest.approx([0.1, 2.0])
    de = pb.detection_effects(year, "today", names, 0.7)
    assert de.stage_metrics.mean == pytest.approx(-90.0) and de.stage_metrics.direction == -1
    assert de.stage_forecast_error.mean == pytest.approx(-0.05)
    assert de.full_crm.mean == pytest.approx(-20.0) and de.full_crm_forecast_error.mean == pytest.approx(-0.1)


def test_the_capacity_chart_prints_dollars_not_mathematics():
    import matplotlib.pyplot as plt

    p = plan(load_scenario("baseline"))
    fig = pb.capacity_figure(p.capacity, "supports a $883K quota, 80 % of $1.10M")
    ax = fig.axes[0]
    assert ax.get_title() == r"supports a \$883K quota, 80 % of \$1.10M"
    bars = [b.get_width() for b in ax.patches]
    assert bars[0] == pytest.approx(p.capacity.selling_hours)
    assert bars[1] == pytest.approx(p.capacity.deal_work_hours)
    plt.close("all")


def test_a_small_seeded_comparison_agrees_with_the_summary(small_scenario_file):
    """Paired point changes and rep-quarter coverage from a real run match salessim.compare."""
    from salessim.experiments import compare
    from salessim.notebook_helpers import year_rows as years_of

    # a whole year, so that the deal log covers Q3's and Q4's starts
    base = load_scenario(small_scenario_file).replace(**{"simulation.horizon_days": 365})
    presc = pb.library_prescription(base)
    comp = compare(
        [base, presc], baseline=base.name, replications=3, seed=5, workers=1, cache=False, deals=True
    )
    year = years_of(comp.results.periods)
    e = pb.prescription_effects(year, comp.results.reps, base.name, presc.name)
    sm = comp.summary[(comp.summary["scenario"] == presc.name) & (comp.summary["year"] == 1)].set_index(
        "metric"
    )
    for metric, effect in (("pct_at_quota", e.at_quota), ("turnover", e.turnover)):
        assert (effect.mean, effect.low, effect.high) == pytest.approx(
            tuple(sm.loc[metric, ["diff", "diff_ci_low", "diff_ci_high"]]), nan_ok=True
        )
    cov = pb.quarter_coverage(comp.results.deals, comp.results.reps, [base, presc])
    assert len(cov) > 0 and set(cov["quarter"]) <= {"Q3", "Q4"}
    assert np.isfinite(cov["coverage"]).all()
    assert (cov["coverage"] == cov["open_value"] / cov["quota"]).all()
    assert (cov["hit"] == (cov["attainment"] >= 1.0)).all()
