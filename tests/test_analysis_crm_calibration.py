"""salessim.analysis.crm_calibration: what the CRM calibration report computes."""

from __future__ import annotations

import math
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from salessim import load_scenario, plan, simulate
from salessim.analysis import crm_calibration as cc

matplotlib.use("Agg")

STAGES = ["a", "b"]


def _deal(i, stage, outcome, amount, created, closed=None, rep=1, product="A"):
    return {
        "opportunity_id": f"o{i}",
        "rep_id": rep,
        "segment": "new_logo",
        "product": product,
        "amount": amount,
        "created_at": pd.Timestamp(created),
        "closed_at": pd.Timestamp(closed) if closed else pd.NaT,
        "stage_reached": stage,
        "outcome": outcome,
    }


def _log() -> pd.DataFrame:
    """Six deals: two won (10 and 20 days), lost at a and at b, open at b and at a."""
    return pd.DataFrame(
        [
            _deal(1, "won", "won", 100.0, "2026-01-01", "2026-01-11", rep=1),
            _deal(2, "won", "won", 300.0, "2026-01-01", "2026-01-21", rep=2),
            _deal(3, "a", "lost", 50.0, "2026-01-05", "2026-01-08", rep=1),
            _deal(4, "b", "lost", 200.0, "2026-02-01", "2026-03-01", rep=2),
            _deal(5, "b", "open", 80.0, "2026-03-01", rep=3),
            _deal(6, "a", "open", 60.0, "2026-03-15", rep=3),
        ]
    )


# ------------------------------------------------------------------------------------------
# the observed table
# ------------------------------------------------------------------------------------------
def test_export_stages_map_by_name_in_any_case_else_by_position() -> None:
    assert cc.match_stages(["Discovery", "PROPOSAL", "won"], ["discovery", "proposal"]) == {
        "Discovery": "discovery",
        "PROPOSAL": "proposal",
        "won": "won",
    }
    assert cc.match_stages(["Qualify", "Pitch"], ["discovery", "proposal"]) == {
        "Qualify": "discovery",
        "Pitch": "proposal",
        "won": "won",
    }
    with pytest.raises(ValueError, match=r"\['Qualify'\] cannot be matched.*\['discovery', 'proposal'\]"):
        cc.match_stages(["Qualify"], ["discovery", "proposal"])


def test_the_export_becomes_the_observed_table_in_the_models_stages() -> None:
    table = _log().drop(columns="stage_reached")
    table["stage"] = ["won", "won", "Qualify", "Pitch", "Pitch", "odd"]
    table["extra"] = 1
    opps = SimpleNamespace(table=table, stage_order=["Qualify", "Pitch", "won"])
    obs = cc.observed_from_export(opps, STAGES)  # type: ignore[arg-type]
    assert list(obs.columns) == cc.REQUIRED
    # a stage the export's order does not name is kept as it is
    assert list(obs["stage_reached"]) == ["won", "won", "a", "b", "b", "odd"]


def test_missing_columns_are_named() -> None:
    cc.check_columns(_log())
    with pytest.raises(ValueError, match="lacks the columns amount, outcome"):
        cc.check_columns(_log().drop(columns=["outcome", "amount"]))


def test_stages_are_renamed_to_the_calibrated_spelling() -> None:
    t = _log().assign(stage_reached=["won", "won", "A", "b", "B", "other"])
    renamed = cc.rename_to_scenario_stages(t, ["a", "B"])
    assert list(renamed["stage_reached"]) == ["won", "won", "a", "B", "B", "other"]


def test_clean_deals_need_an_outcome_a_positive_amount_and_a_creation_date() -> None:
    t = _log()
    t.loc[0, "amount"] = 0.0
    t.loc[1, "outcome"] = "stalled"
    t.loc[2, "created_at"] = pd.NaT
    t.loc[3, "amount"] = np.nan
    assert list(cc.clean_deals(t)["opportunity_id"]) == ["o5", "o6"]


# ------------------------------------------------------------------------------------------
# measuring a deal log
# ------------------------------------------------------------------------------------------
def test_deal_log_stats_by_hand() -> None:
    s = cc.deal_log_stats(_log(), STAGES)
    assert s["deals"] == 6
    assert s["win_rate"] == 0.5  # 2 won of 4 closed; open deals are not lost
    assert s["reach:a"] == 1.0
    assert s["reach:b"] == pytest.approx(4 / 6)  # won ×2, lost at b, open at b
    # stage a: passed by won ×2, lost at b, open at b; lost there once; open at a is censored
    assert s["conv:a"] == pytest.approx(4 / 5)
    assert s["conv:b"] == pytest.approx(2 / 3)  # won ×2 against the loss at b; open at b censored
    assert s["median_cycle"] == 15.0
    assert s["median_amount"] == 90.0  # (80 + 100) / 2
    assert s["median_won_amount"] == 200.0


def test_a_log_without_closed_deals_has_no_win_rate_or_conversion() -> None:
    s = cc.deal_log_stats(_log().iloc[4:], STAGES)
    assert math.isnan(s["win_rate"]) and math.isnan(s["median_cycle"])
    assert s["conv:a"] == 1.0  # the deal open at b got past a; the one open at a is censored
    assert math.isnan(s["conv:b"])  # nothing resolved at b
    assert s["reach:b"] == 0.5


def test_year_stats_measure_each_replication_and_count_opportunities_per_seat_week() -> None:
    one, two = _log().assign(replication=0), _log().iloc[:4].assign(replication=1)
    t = cc.year_stats(pd.concat([one, two]), STAGES, seats=2, weeks=4.0)
    assert len(t) == 2
    assert list(t["deals"]) == [6, 4]
    assert list(t["win_rate"]) == [0.5, 0.5]
    assert list(t["opps_per_seat_week"]) == [6 / 2 / 4, 4 / 2 / 4]


def test_first_half_won_cycles_leave_out_late_deals_and_floor_at_half_a_day() -> None:
    t = pd.DataFrame(
        [
            _deal(1, "won", "won", 1.0, "2026-01-01", "2026-01-31"),
            _deal(2, "won", "won", 1.0, "2026-03-01", "2026-03-01"),  # closed the same day
            _deal(3, "won", "won", 1.0, "2026-07-10", "2026-07-20"),  # opened on day 190
            _deal(4, "a", "lost", 1.0, "2026-01-02", "2026-01-09"),
        ]
    )
    assert list(cc.first_half_won_cycles(t)) == [30.0, 0.5]


def test_a_gamma_fit_recovers_mean_and_cv() -> None:
    shape, scale, n = 2.0, 15.0, 4000
    x = np.random.default_rng(7).gamma(shape, scale, n)
    fit = cc.fit_gamma_cycle(x)
    # standard errors of the MLE: mean ≈ sd / √n; cv via the shape's Fisher information
    se_mean = scale * math.sqrt(shape) / math.sqrt(n)
    trigamma = 0.6449340668  # ψ'(2)
    se_shape = math.sqrt(shape / (n * (shape * trigamma - 1)))
    se_cv = 0.5 * shape**-1.5 * se_shape
    assert abs(fit.mean - shape * scale) < 4 * se_mean
    assert abs(fit.cv - 1 / math.sqrt(shape)) < 4 * se_cv
    assert fit.pdf(np.array([30.0]))[0] == pytest.approx(
        30.0 ** (fit.shape - 1) * math.exp(-30.0 / fit.scale) / (math.gamma(fit.shape) * fit.scale**fit.shape)
    )


def test_deal_size_fit_per_product_against_the_scenario() -> None:
    sc = load_scenario("baseline")
    t = pd.DataFrame(
        [_deal(i, "a", "lost", a, "2026-01-01", product="A") for i, a in enumerate([100.0, 1000.0, 10000.0])]
        + [_deal(9, "a", "lost", 5.0, "2026-01-01", product="Z")]
    )
    sizes = cc.deal_size_fit(t, sc).set_index("product")
    assert sizes.loc["A", "deals"] == 3
    assert sizes.loc["A", "fitted median"] == pytest.approx(1000.0)
    assert sizes.loc["A", "fitted sigma"] == pytest.approx(math.log(10))  # logs 2.3k, k = 2..4
    assert sizes.loc["A", "configured median"] == sc.funnel.products["A"].amount_median
    assert math.isnan(sizes.loc["Z", "configured median"]) and math.isnan(sizes.loc["Z", "fitted sigma"])


def test_stage_conversion_fit_sets_the_export_against_configured_and_the_years_range() -> None:
    years = pd.DataFrame({"conv:a": [0.0, 1.0], "conv:b": [0.5, 0.5]})
    t = cc.stage_conversion_fit({"conv:a": 0.3, "conv:b": 0.6}, years, STAGES, [0.4, 0.7])
    assert list(t["stage"]) == STAGES
    assert list(t["fitted from export"]) == [0.3, 0.6]
    assert list(t["configured (mix-weighted)"]) == [0.4, 0.7]
    # linear quantiles of two points: 2.5 % and 97.5 % of the way from one to the other
    assert list(t["simulated years, 2.5 %"]) == pytest.approx([0.025, 0.5])
    assert list(t["simulated years, 97.5 %"]) == pytest.approx([0.975, 0.5])


def test_comparison_table_says_which_measures_fall_inside_the_years_range() -> None:
    years = pd.DataFrame(
        {
            "win_rate": [0.2, 0.3],
            "median_cycle": [50.0, 60.0],
            "median_won_amount": [1000.0, 2000.0],
            "opps_per_seat_week": [1.0, 2.0],
            "reach:b": [0.4, 0.5],
        }
    )
    observed = {
        "win_rate": 0.25,
        "median_cycle": 70.0,
        "median_won_amount": 1500.0,
        "opps_per_seat_week": 1.5,
        "reach:b": 0.2,
    }
    t = cc.comparison_table(observed, years, STAGES, seats=8).set_index("key")
    assert list(t.index) == ["win_rate", "median_cycle", "median_won_amount", "opps_per_seat_week", "reach:b"]
    assert list(t["within range"]) == ["yes", "no", "yes", "yes", "no"]
    assert list(t["unit"]) == ["share", "days", "USD", "number", "share"]
    assert t.loc["win_rate", "sim_mean"] == 0.25
    assert t.loc["median_cycle", "sim_low"] == pytest.approx(50.25)
    assert t.loc["opps_per_seat_week", "measure"] == "new opportunities per seat per week (8 seats)"
    assert t.loc["opps_per_seat_week", "simulated range (95 % of years)"] == "1.02 to 1.98"
    assert t.loc["reach:b", "measure"] == "deals reaching b"


def test_export_summary() -> None:
    quality = pd.DataFrame({"check": ["x", "y", "z"], "rows": [0, 3, 1]})
    s = cc.export_summary(_log(), quality)
    assert (s.rows, s.reps, s.span_days, s.checks, s.problems) == (6, 3, 73, 3, 2)
    assert s.open_share == pytest.approx(2 / 6)


def test_iterations_table_names_the_columns_as_the_report_does() -> None:
    cal = SimpleNamespace(iterations=[{"iteration": 0, "win_rate": 0.2, "skill_sd": 0.3}])
    t = cc.iterations_table(cal)  # type: ignore[arg-type]
    assert list(t.columns) == ["candidate", "win rate", "skill spread"]


# ------------------------------------------------------------------------------------------
# the whole report, on a small seeded simulation
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_run():
    sc = load_scenario("baseline").replace(**{"organisation.managers": 2}, name="small")
    sim = simulate(sc, replications=3, seed=5, deals=True).deals
    return sc, sim


def test_a_simulated_year_as_the_export_measures_like_that_year(small_run) -> None:
    sc, sim = small_run
    observed = cc.observed_from_simulation(sim[sim["replication"] == 0])
    a = cc.analyse(observed, sim, sc)
    assert a.summary.rows == len(observed) and a.summary.problems == 0
    # the export is year 0: measured the same way, it gives year 0's numbers
    for key in ("win_rate", "conv:discovery", "reach:proposal", "median_cycle", "opps_per_seat_week"):
        assert a.observed[key] == a.years.loc[0, key], key
    assert len(a.years) == 3 and len(a.comparison) == 6 and len(a.conversions) == 3
    assert 0 <= a.inside <= 6 and a.largest_gap == max(a.ks_cycle, a.ks_size)
    # year 0's cycles are part of the simulated ones: D(year 0, all) = (m / N) D(year 0, the rest),
    # and the rest are independent years of the same model (two-sample KS, 99.9 % critical value)
    n, big_n = len(a.cycles_observed), len(a.cycles_simulated)
    m = big_n - n
    assert a.ks_cycle < (m / big_n) * 1.95 * math.sqrt((n + m) / (n * m))
    assert a.configured_cycle == plan(sc).cycle_days


def test_the_charts_say_what_the_numbers_say(small_run) -> None:
    sc, sim = small_run
    a = cc.analyse(cc.observed_from_simulation(sim[sim["replication"] == 0]), sim, sc)
    fig = cc.distributions_figure(a, sim)
    assert ("agree" if a.largest_gap < 0.1 else "differ") in fig.get_suptitle()
    conv = pd.DataFrame(
        {
            "stage": STAGES,
            "fitted from export": [0.5, 0.6],
            "configured (mix-weighted)": [0.55, 0.58],
            "simulated years, 2.5 %": [0.4, 0.5],
            "simulated years, 97.5 %": [0.6, 0.7],
        }
    )
    ax = cc.conversion_figure(conv).axes[0]
    assert ax.get_title().endswith("within 5.0 points of the model's")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a → next", "b → next"]


def test_estimates_show_four_significant_figures_and_thousands_whole() -> None:
    assert [cc.num4(v) for v in (25860.4, 0.123456, 12.3456, None, float("nan"))] == [
        "25,860",
        "0.1235",
        "12.35",
        "–",
        "–",
    ]
    est = pd.DataFrame(
        {
            "parameter": ["win rate"],
            "value": [0.2],
            "ci_low": [0.1],
            "ci_high": [0.3],
            "n": [40],
            "note": [""],
        }
    )
    t = cc.estimates_table(SimpleNamespace(estimates=est.assign(extra=1)))  # type: ignore[arg-type]
    assert list(t.columns) == ["parameter", "value", "95 % CI from", "to", "sample", "note"]
    assert set(cc.ESTIMATE_FORMATS) <= set(t.columns)
