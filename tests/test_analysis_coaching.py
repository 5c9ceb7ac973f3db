"""The coaching report's numbers (salessim.analysis.coaching), on frames whose answers are known."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from salessim import load_scenario
from salessim.analysis import coaching as ca
from salessim.results import Results

H, T, TG, CAD = ca.HOURS, ca.TRAINING, ca.TARGETING, ca.CADENCE
TODAY = "today"
TODAY_REVENUE = np.array([100.0, 200.0, 400.0])  # three replications


def t_ci(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval, computed here from the textbook formula."""
    m, s, n = x.mean(), x.std(ddof=1), x.size
    h = stats.t.ppf(0.975, n - 1) * s / np.sqrt(n)
    return m, m - h, m + h


def year_frame(scenario: str, ratio: list[float], **cols: object) -> pd.DataFrame:
    """Year-1 rows of one scenario: revenue = today's × ratio, replication by replication."""
    n = len(TODAY_REVENUE)
    base = {
        "scenario": scenario,
        "replication": np.arange(n),
        "period": "year",
        "year": 1,
        "revenue": TODAY_REVENUE * np.asarray(ratio),
        "pct_at_quota": 0.5,
        "coaching_hours": 100.0,
        "coaching_delivered_share": 1.0,
        "turnover": 0.2,
        "voluntary_turnover": 0.15,
        "detection_lag_days": 100.0,
    }
    return pd.DataFrame({**base, **cols})


@pytest.fixture
def years() -> ca.CoachingYears:
    """Curves 0/4 h × none/trained (today = 4 h untrained) and a 2 × 2 grid over 4 h trained."""
    curves = pd.concat(
        [
            year_frame(TODAY, [1, 1, 1], **{H: 4, T: "none"}),
            year_frame("h0n", [0.9, 0.9, 0.9], **{H: 0, T: "none"}, coaching_hours=0.0),
            year_frame("h0t", [1.0, 1.1, 1.2], **{H: 0, T: "trained"}, pct_at_quota=[0.5, 0.6, 0.7]),
            year_frame(
                "h4t", [1.1, 1.2, 1.3], **{H: 4, T: "trained"}, coaching_delivered_share=[0.9, 0.8, 1.0]
            ),
        ],
        ignore_index=True,
    )
    grid = pd.concat(
        [  # the grid's base is the curves' h4t (reactive, annual)
            year_frame("h4t", [1.1, 1.2, 1.3], **{TG: "reactive", CAD: "annual"}),
            year_frame("react_m", [1.0, 1.0, 1.0], **{TG: "reactive", CAD: "monthly"}, turnover=0.3),
            year_frame("gap_a", [1.3, 1.3, 1.3], **{TG: "gap_targeted", CAD: "annual"}),
            year_frame(
                "gap_m",
                [1.3, 1.3, 1.3],
                **{TG: "gap_targeted", CAD: "monthly"},
                turnover=[0.25, 0.3, 0.35],
                voluntary_turnover=0.15,
                detection_lag_days=[60.0, 70.0, 80.0],
            ),
        ],
        ignore_index=True,
    )
    return ca.coaching_years(curves, grid, TODAY)


def test_the_curves_hold_todays_hours_and_the_high_point_whatever_the_step():
    assert ca.high_coaching_hours(8) == 6 and ca.high_coaching_hours(4) == 4
    assert ca.response_hours(4, 8, 2) == [0, 2, 4, 6, 8]
    assert ca.response_hours(4, 10, 4) == [0, 4, 6, 8]  # 6: the high-coaching point
    assert ca.response_hours(4, 2, 2) == [0, 2, 4]  # today's 4 hours above the curves' top


def test_each_scenario_appears_once_and_is_found_by_its_settings(years):
    assert years.both.groupby("scenario").size().to_dict() == {
        s: 3 for s in (TODAY, "h0n", "h0t", "h4t", "react_m", "gap_a", "gap_m")
    }
    assert years.curve(4, "trained") == "h4t" and years.cell("gap_targeted", "monthly") == "gap_m"
    with pytest.raises(KeyError, match="no scenario"):
        years.curve(6, "trained")


def test_response_curves_are_paired_changes_against_today(years):
    tab = ca.response_curves(years, [0, 4])
    assert list(tab["training"]) == ["untrained managers"] * 2 + ["trained managers"] * 2
    assert list(tab["scenario"]) == ["h0n", TODAY, "h0t", "h4t"]
    row = tab.set_index("scenario")
    # today against itself: exactly nothing
    assert row.loc[TODAY, ["revenue_change", "ci_low", "ci_high", "at_quota_change"]].tolist() == [0, 0, 0, 0]
    assert row.loc["h0n", "revenue_change"] == pytest.approx(-0.1)
    m, lo, hi = t_ci(np.array([0.1, 0.2, 0.3]))  # h4t: ratios 1.1, 1.2, 1.3
    assert row.loc["h4t", ["revenue_change", "ci_low", "ci_high"]].tolist() == pytest.approx([m, lo, hi])
    assert row.loc["h0t", "at_quota_change"] == pytest.approx(0.1)  # points: 0.5 → 0.5, 0.6, 0.7
    assert row.loc["h4t", "revenue"] == pytest.approx(np.mean(TODAY_REVENUE * [1.1, 1.2, 1.3]))
    assert row.loc["h4t", "delivered_share"] == pytest.approx(0.9)
    assert row.loc["h0n", "delivered_hours"] == 0


def test_the_heat_map_names_each_cell_and_pairs_it_with_today(years):
    heat = ca.targeting_by_cadence(years, ["reactive", "gap_targeted"], ["annual", "monthly"])
    assert list(heat["targeting"]) == ["reactive (biggest late deals)"] * 2 + ["gap-targeted"] * 2
    cell = heat.set_index("scenario")
    assert cell.loc["gap_a", "revenue_change"] == pytest.approx(0.3)
    assert cell.loc["react_m", "revenue_change"] == pytest.approx(0.0)
    assert cell.loc["react_m", "turnover"] == pytest.approx(0.3)
    best = ca.best_cell(heat, years)
    # gap_a and gap_m tie at +30 %; the runner-up is the other one and the lead is exactly zero
    assert {best.best["scenario"], best.runner_up["scenario"]} == {"gap_a", "gap_m"}
    assert best.lead.mean == pytest.approx(0.0) and best.lead.direction == 0


def test_headline_effects_pair_the_right_settings(years):
    e = ca.coaching_effects(years, today_hours=4, max_hours=4)
    assert e.high.mean == pytest.approx(0.3)  # gap-targeted, annual vs today
    assert e.training.mean == pytest.approx(0.2)  # trained at today's 4 h vs today
    assert e.untrained_max.mean == 0.0  # the top of the curves is today's hours
    assert e.gap_vs_reactive.mean == pytest.approx(np.mean([1.3 / 1.1, 1.3 / 1.2, 1.3 / 1.3]) - 1)
    assert e.monthly.mean == pytest.approx(0.0)
    assert e.monthly_turnover.kind == "pts" and e.monthly_turnover.mean == pytest.approx(0.1)
    assert e.monthly_voluntary.mean == pytest.approx(0.0)
    # let go = turnover − voluntary leaving: 0.05 today, 0.10, 0.15, 0.20 with monthly reviews
    assert e.monthly_let_go.mean == pytest.approx(0.1)
    assert e.monthly_let_go.low == pytest.approx(t_ci(np.array([0.05, 0.1, 0.15]))[1])
    assert e.monthly_detection_lag.mean == pytest.approx(-30.0)
    assert e.monthly_detection_lag.direction == -1


def test_manager_time_is_priced_against_the_gross_profit_it_earns(years):
    curves = ca.response_curves(years, [0, 4])
    cost = ca.manager_time_cost(
        curves, today_hours=4, managers=10, base_revenue=1e6, hourly_cost=100.0, gross_margin=0.5
    )
    row = cost.set_index(["managers", "joint-call hours / manager-week"])
    # no joint calls: 4 h × 52 weeks × 10 managers fewer hours at $100
    assert row.loc[("untrained", 0), "extra manager cost / year"] == pytest.approx(-4 * 52 * 10 * 100)
    assert row.loc[("untrained", 0), "manager hours / year (team)"] == 0
    assert row.loc[("trained", 4), "manager hours / year (team)"] == pytest.approx(4 * 52 * 10)
    assert row.loc[("trained", 4), "extra gross profit / year"] == pytest.approx(0.5 * 0.2 * 1e6)
    assert row.loc[("trained", 4), "net of manager time"] == pytest.approx(0.5 * 0.2 * 1e6)
    assert row.loc[("untrained", 0), "net of manager time"] == pytest.approx(
        0.5 * -0.1 * 1e6 + 4 * 52 * 10 * 100
    )
    step = ca.coaching_step(years, 0, 4, managers=10, hourly_cost=100.0, gross_margin=0.5)
    assert step.cost == pytest.approx(4 * 52 * 10 * 100)
    assert step.effect.mean == pytest.approx(np.mean([1.1 / 1.0, 1.2 / 1.1, 1.3 / 1.2]) - 1)
    assert step.profit == pytest.approx(0.5 * step.effect.mean * TODAY_REVENUE.mean())


def band_results(factors: dict[str, list[float]], reps: int = 4) -> tuple[Results, Results]:
    """Today and a variant with 5 reps per replication: skill ranks 1…5 → bottom 1, middle 3, top 1.

    Each band's attainment is multiplied, replication by replication, by ``factors[band][r]``.
    """
    band = ["bottom", "middle", "middle", "middle", "top"]
    rows_a, rows_b = [], []
    for r in range(reps):
        for i in range(5):
            base = {"replication": r, "rep_id": i, "period": "year", "full_period": True, "skill_start": i}
            att = 0.5 + 0.1 * i
            rows_a.append({**base, "attainment": att})
            rows_b.append({**base, "attainment": att * factors[band[i]][r]})
    empty = pd.DataFrame()
    return Results(pd.DataFrame(rows_a), empty), Results(pd.DataFrame(rows_b), empty)


def test_skill_bands_gain_as_built_and_the_clear_leader_is_found():
    today, var = band_results({"bottom": [1.1] * 4, "middle": [1.2, 1.25, 1.3, 1.2], "top": [1.0] * 4})
    bands = ca.gain_by_skill_band(today, {"gap": var})
    t = bands.table.set_index("band")
    assert t.loc["bottom 20%", "gain"] == pytest.approx(0.1) and t.loc["top 20%", "gain"] == pytest.approx(
        0.0
    )
    m, lo, hi = t_ci(np.array([0.2, 0.25, 0.3, 0.2]))
    assert t.loc["middle 60%", ["gain", "ci_low", "ci_high"]].tolist() == pytest.approx([m, lo, hi])
    assert (t["n"] == 4).all()
    bc = ca.band_comparison(bands, "gap")
    assert bc.most == "the middle 60 %" and bc.others == ("the bottom 20 %", "the top 20 %")
    assert bc.clear and bc.lead[0].mean == pytest.approx(m - 0.1)


def test_a_leader_within_the_noise_is_not_called_clear():
    # the top band gains most on average, but one replication has it below the middle band
    today, var = band_results({"bottom": [1.0] * 4, "middle": [1.1] * 4, "top": [1.5, 1.3, 0.9, 1.4]})
    bc = ca.band_comparison(ca.gain_by_skill_band(today, {"gap": var}), "gap")
    assert bc.most == "the top 20 %" and bc.others[0] == "the middle 60 %"
    assert bc.lead[0].direction == 0 and not bc.clear


def test_the_managers_week_adds_up_to_their_hours(years):
    base = load_scenario("baseline")
    mg = base.managers
    settings = [("today", 4.0, "annual", TODAY), ("4 h trained monthly", 4.0, "monthly", "h4t")]
    week = ca.manager_week(base, settings, years)
    parts = week.drop(columns="share")
    assert parts.sum(axis=1).to_numpy() == pytest.approx([mg.hours_per_week] * 2)
    reviews = mg.review_hours_per_rep * base.organisation.span / 52
    assert week.loc["today", "reviews"] == pytest.approx(reviews)
    assert week.loc["4 h trained monthly", "reviews"] == pytest.approx(12 * reviews)
    assert week.loc["4 h trained monthly", "joint calls delivered"] == pytest.approx(4 * 0.9)
    assert week.loc["4 h trained monthly", "promised, not delivered"] == pytest.approx(4 * 0.1)
    named = ca.manager_week_settings(base, years, 4)
    assert [s[3] for s in named] == [TODAY, TODAY, "h4t", "react_m"]


def test_the_figures_show_the_tables_numbers(years):
    import matplotlib.pyplot as plt

    heat = ca.targeting_by_cadence(years, ["reactive", "gap_targeted"], ["annual", "monthly"])
    fig = ca.heat_map_figure(heat, "a title")
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"+30.0\u00a0%", "+20.0\u00a0%"} <= labels
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "reactive (biggest late deals)",
        "gap-targeted",
    ]
    curves = ca.response_curves(years, [0, 4])
    fig2 = ca.response_curves_figure(curves, 4, "curves")
    lines = fig2.axes[0].get_lines()
    trained = next(ln for ln in lines if ln.get_label() == "trained managers")
    want = 100 * curves.loc[curves["training"] == "trained managers", "revenue_change"].to_numpy()
    assert np.asarray(trained.get_ydata(), dtype=float) == pytest.approx(want)
    plt.close("all")


def test_a_small_seeded_sweep_agrees_with_the_comparison_summary(small_scenario_file):
    """Paired changes of the response curves match the summary salessim.compare computes."""
    from salessim.experiments import sweep

    base = load_scenario(small_scenario_file)
    comp = sweep(base, {H: [0, 4], T: ["none", "trained"]}, replications=3, seed=7, workers=1, cache=False)
    grid_like = comp.results.periods.assign(**{TG: "reactive", CAD: "annual"})
    years = ca.coaching_years(comp.results.periods, grid_like, base.name)
    tab = ca.response_curves(years, [0, 4])
    sm = comp.summary[(comp.summary["metric"] == "pct_at_quota") & (comp.summary["year"] == 1)].set_index(
        "scenario"
    )
    for r in tab[tab["scenario"] != base.name].itertuples():
        assert r.at_quota_change == pytest.approx(sm.loc[r.scenario, "diff"])
    rev = comp.summary[(comp.summary["metric"] == "revenue") & (comp.summary["year"] == 1)].set_index(
        "scenario"
    )
    assert tab.set_index("scenario")["revenue"].to_dict() == pytest.approx(rev["mean"].to_dict())
    # no joint calls planned: none delivered
    assert (tab.loc[tab["hours"] == 0, "delivered_hours"] == 0).all()
