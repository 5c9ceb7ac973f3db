"""salessim.analysis.drivers_overview: the drivers overview report's tables and numbers.

Most tests build small per-replication tables by hand, where the right effect, rank or share is
known; one runs a tiny seeded comparison through the functions the report calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from salessim import load_scenario
from salessim.analysis import drivers_overview as do
from salessim.experiments import compare, variant_changes, variants_over
from salessim.notebook_helpers import paired, year_rows

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "data" / "scenarios"


def year_frame(values: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """Year rows: scenario → column → one value per replication."""
    rows = []
    for sc, cols in values.items():
        n = len(next(iter(cols.values())))
        for r in range(n):
            rows.append(
                {
                    "scenario": sc,
                    "replication": r,
                    "period": "year",
                    "year": 1,
                    **{c: v[r] for c, v in cols.items()},
                }
            )
    return pd.DataFrame(rows)


def metrics(revenue, at_quota=(0.5, 0.5, 0.5), turnover=(0.2, 0.2, 0.2), **more):
    return {"revenue": list(revenue), "pct_at_quota": list(at_quota), "turnover": list(turnover), **more}


BASE_REV = [100.0, 200.0, 400.0]


def scaled(factors):
    return [b * f for b, f in zip(BASE_REV, factors, strict=True)]


# ------------------------------------------------------------------------------------------
# labels and effects
# ------------------------------------------------------------------------------------------
def test_driver_names_and_labels_follow_the_library_drivers():
    assert do.driver_name("goals_focused") == "goal clarity"
    assert do.driver_name("coaching_none") == "joint calls"
    assert do.driver_name("best_practice") == "all eight"
    assert do.driver_name("something_else") == ""
    assert do.driver_label("reviews_monthly") == "review cadence: monthly reviews"
    assert do.driver_label("mystery") == "mystery: mystery"
    # every driver has exactly one "done well" variant, and it is one of its own variants
    assert {do.DRIVER_OF[n] for n in do.DONE_WELL.values()} == set(do.DONE_WELL)


def test_driver_effects_are_paired_ratios_and_point_differences():
    year = year_frame(
        {
            "baseline": metrics(BASE_REV, at_quota=(0.4, 0.5, 0.6), turnover=(0.2, 0.2, 0.2)),
            # +10 % in every replication: the paired ratio is exactly 0.10 with a zero-width CI
            "goals_focused": metrics(
                scaled([1.1, 1.1, 1.1]), at_quota=(0.5, 0.6, 0.7), turnover=(0.1, 0.2, 0.3)
            ),
            "coaching_none": metrics(scaled([0.9, 1.0, 0.95]), at_quota=(0.4, 0.5, 0.6)),
        }
    )
    eff = do.driver_effects(year, "baseline", ["goals_focused", "coaching_none"])
    assert list(eff["scenario"]) == ["goals_focused", "coaching_none"]
    assert list(eff["driver"]) == ["goal clarity", "joint calls"]
    assert list(eff["change"]) == ["two goals instead of four", "no joint calls"]
    f = eff.iloc[0]
    assert f["revenue"].mean == pytest.approx(0.10)
    assert f["revenue"].low == pytest.approx(0.10) and f["revenue"].direction == 1
    assert f["at_quota"].mean == pytest.approx(0.10) and f["at_quota"].kind == "pts"
    assert f["turnover"].mean == pytest.approx(0.0)  # −0.1, 0, +0.1
    c = eff.iloc[1]
    assert c["revenue"].mean == pytest.approx((-0.1 + 0.0 - 0.05) / 3)
    assert c["at_quota"].mean == pytest.approx(0.0)


def test_single_drivers_leave_out_best_practice_and_sort_by_revenue():
    year = year_frame(
        {
            "baseline": metrics(BASE_REV),
            "crm_full": metrics(scaled([1.02, 1.02, 1.02])),
            "goals_focused": metrics(scaled([1.08, 1.08, 1.08])),
            "coaching_none": metrics(scaled([0.97, 0.97, 0.97])),
            "best_practice": metrics(scaled([1.3, 1.3, 1.3])),
        }
    )
    eff = do.driver_effects(year, "baseline", ["crm_full", "goals_focused", "coaching_none", "best_practice"])
    single = do.single_drivers(eff)
    assert list(single["scenario"]) == ["goals_focused", "crm_full", "coaching_none"]
    assert single["rev_mean"].to_numpy() == pytest.approx([0.08, 0.02, -0.03])
    nums = do.swings_numbers(single)
    assert list(nums.columns) == [
        "driver",
        "change",
        "scenario",
        "revenue_diff_rel",
        "revenue_diff_rel_ci_low",
        "revenue_diff_rel_ci_high",
        "at_quota_diff_pts",
        "at_quota_diff_pts_ci_low",
        "at_quota_diff_pts_ci_high",
        "turnover_diff_pts",
        "turnover_diff_pts_ci_low",
        "turnover_diff_pts_ci_high",
    ]
    assert nums["revenue_diff_rel"].to_numpy() == pytest.approx([0.08, 0.02, -0.03])
    view = do.swings_view(single)
    assert view["revenue 95 % CI"].iloc[0] == "+8.0 to +8.0 %"
    assert view["team revenue"].to_numpy() == pytest.approx([0.08, 0.02, -0.03])


def test_culture_split_divides_each_part_by_todays_revenue():
    summary = pd.DataFrame(
        [
            {"scenario": "baseline", "metric": "revenue", "mean": 1000.0},
            {
                "scenario": "goals_focused",
                "metric": "revenue",
                "mean": 1100.0,
                "diff": 100.0,
                "direct": 60.0,
                "direct_ci_low": 40.0,
                "direct_ci_high": 80.0,
                "mediated": 40.0,
                "mediated_ci_low": 10.0,
                "mediated_ci_high": 70.0,
            },
            {"scenario": "goals_focused", "metric": "turnover", "mean": 0.2, "diff": -0.01},
        ]
    )
    single = pd.DataFrame(
        {"driver": ["goal clarity"], "change": ["two goals"], "scenario": ["goals_focused"]}
    )
    split = do.culture_split(summary, "baseline", single)
    row = split.iloc[0]
    assert row["total"] == pytest.approx(0.10)
    assert row["direct part"] == pytest.approx(0.06) and row["via culture"] == pytest.approx(0.04)
    assert (row["direct 95 % CI low"], row["direct 95 % CI high"]) == pytest.approx((0.04, 0.08))
    assert (row["via culture 95 % CI low"], row["via culture 95 % CI high"]) == pytest.approx((0.01, 0.07))
    assert do.culture_share(split) == pytest.approx(0.4)
    # culture taking away as much as another adds still counts: shares of absolute effects
    two = pd.DataFrame({"total": [0.1, -0.1], "via culture": [0.05, -0.05]})
    assert do.culture_share(two) == pytest.approx(0.5)


def test_time_use_puts_today_first_and_pairs_the_change_in_selling_time():
    year = year_frame(
        {
            "baseline": metrics(
                BASE_REV, selling_time_share=[0.5, 0.6, 0.7], coaching_delivered_share=[0.8, 0.8, 0.8]
            ),
            "goals_focused": metrics(
                BASE_REV, selling_time_share=[0.55, 0.66, 0.7], coaching_delivered_share=[1.0, 0.9, 0.8]
            ),
        }
    )
    single = pd.DataFrame(
        {"driver": ["goal clarity"], "change": ["two goals"], "scenario": ["goals_focused"]}
    )
    t = do.time_use(year, "baseline", single)
    assert list(t["change"]) == ["today", "two goals"]
    assert t.loc[0, "time selling"] == pytest.approx(0.6) and np.isnan(t.loc[0, "change in time selling"])
    assert t.loc[1, "time selling"] == pytest.approx(0.6366666667)
    assert t.loc[1, "change in time selling"] == pytest.approx((0.05 + 0.06 + 0.0) / 3)
    assert t.loc[1, "joint calls delivered"] == pytest.approx(0.9)


# ------------------------------------------------------------------------------------------
# ranking
# ------------------------------------------------------------------------------------------
def ranking_year(top=1.10, second=1.05, noise=0.0):
    """Every "done well" variant plus best practice; goals_focused leads, prescription second."""
    factors = {
        "goals_focused": top,
        "prescription": second,
        "metrics_stage": 1.01,
        "crm_full": 1.00,
        "managers_trained": 1.02,
        "coaching_high": 1.03,
        "reviews_monthly": 0.99,
        "coaching_none": 0.95,
        "best_practice": 1.2,
    }
    values = {
        "baseline": metrics(BASE_REV, detection_lag_days=[40.0, 50.0, 60.0], forecast_error=[0.2, 0.2, 0.2]),
    }
    for i, (n, f) in enumerate(factors.items()):
        q = 0.5 + (0.1 if n == "managers_trained" else 0.0) + np.array([0.0, 0.01, -0.01])
        t = 0.2 - (0.05 if n == "coaching_high" else 0.0) + np.array([0.0, 0.01, -0.01])
        sign = 1 if i % 2 == 0 else -1  # neighbours wobble in opposite directions
        values[n] = metrics(
            scaled([f + sign * noise, f - sign * noise, f]),
            at_quota=q,
            turnover=t,
            detection_lag_days=[30.0, 40.0, 50.0] if n == "crm_full" else [40.0, 50.0, 60.0],
            forecast_error=[0.15, 0.15, 0.15] if n == "crm_full" else [0.2, 0.2, 0.2],
        )
    return year_frame(values), [n for n in values if n != "baseline"]


def test_rank_drivers_picks_the_leaders_on_each_measure():
    year, variants = ranking_year()
    eff = do.driver_effects(year, "baseline", variants)
    r = do.rank_drivers(year, "baseline", eff)
    assert list(r.done["scenario"]) == [
        "goals_focused",
        "prescription",
        "coaching_high",
        "managers_trained",
        "metrics_stage",
        "crm_full",
        "reviews_monthly",
    ]
    assert r.top["scenario"] == "goals_focused" and r.second["scenario"] == "prescription"
    # the gap is goals_focused against prescription, replication by replication: 1.10 / 1.05 − 1
    assert r.gap.mean == pytest.approx(1.10 / 1.05 - 1)
    assert r.verdict == "clear"
    assert r.best_at_quota["scenario"] == "managers_trained"
    assert r.best_turnover["scenario"] == "coaching_high"
    assert r.worst["scenario"] == "coaching_none"  # worst of all single drivers, not only "done well"
    assert r.crm_detection_lag.mean == pytest.approx(-10.0) and r.crm_detection_lag.kind == "days"
    assert r.crm_forecast_error.mean == pytest.approx(-0.05)
    assert r.all_eight.mean == pytest.approx(0.2)
    assert r.quota_clear and r.turnover_clear
    assert r.leads == {"goal clarity", "manager training", "joint calls"}
    assert r.same_first_move is False


def test_rank_drivers_says_too_close_and_none_when_the_intervals_do_not_separate():
    # the top two differ by 0.5 % on average but swing ±3 % replication to replication
    year, variants = ranking_year(top=1.10, second=1.095, noise=0.03)
    r = do.rank_drivers(year, "baseline", do.driver_effects(year, "baseline", variants))
    assert r.top["revenue"].direction == 1 and r.gap.direction == 0
    assert r.verdict == "too_close"
    # no fix raises revenue distinguishably: every variant wobbles around today
    year, variants = ranking_year(top=1.01, second=1.005, noise=0.05)
    r = do.rank_drivers(year, "baseline", do.driver_effects(year, "baseline", variants))
    assert r.verdict == "none"


def test_same_first_move_needs_all_three_measures_to_point_one_way():
    year, variants = ranking_year()
    r = do.rank_drivers(year, "baseline", do.driver_effects(year, "baseline", variants))
    top = r.top.copy()
    one = do.Ranking(
        done=r.done, top=top, second=r.second, gap=r.gap, best_at_quota=top, best_turnover=top, worst=r.worst
    )
    # the same driver leads on revenue; whether quota and turnover point there clearly decides
    clear_q = r.best_at_quota["at_quota"]
    clear_t = r.best_turnover["turnover"]
    top["at_quota"], top["turnover"] = clear_q, clear_t
    assert one.leads == {"goal clarity"} and one.same_first_move is True
    top["turnover"] = r.top["turnover"]  # zero effect: not clear
    assert one.same_first_move is None


def test_rank_drivers_needs_two_fixes():
    year = year_frame({"baseline": metrics(BASE_REV), "goals_focused": metrics(scaled([1.1, 1.1, 1.1]))})
    with pytest.raises(ValueError, match="two"):
        do.rank_drivers(year, "baseline", do.driver_effects(year, "baseline", ["goals_focused"]))


def test_ranking_sensitivity_reranks_each_rerun_and_robustness_counts_the_changes():
    year, variants = ranking_year()
    r = do.rank_drivers(year, "baseline", do.driver_effects(year, "baseline", variants))
    # rerun 1 (low): the same order; rerun 2 (high): prescription overtakes goals_focused
    low_year, _ = ranking_year()
    high_year, _ = ranking_year(top=1.04, second=1.06)
    reruns = {
        ("goals.focus_penalty_per_goal", "low", 0.004): SimpleNamespace(
            results=SimpleNamespace(periods=low_year)
        ),
        ("goals.focus_penalty_per_goal", "high", 0.016): SimpleNamespace(
            results=SimpleNamespace(periods=high_year)
        ),
    }
    ranks = do.ranking_sensitivity(r.done, reruns, "baseline", 0.5, 2.0)
    assert list(ranks["setting"].unique()) == [
        "default assumptions",
        "focus lost per extra goal halved",
        "focus lost per extra goal doubled",
    ]
    assert list(ranks.columns) == ["setting", "scenario", "rank", "revenue", "change", "driver"]
    by = ranks.set_index(["setting", "scenario"])["rank"]
    assert by[("default assumptions", "goals_focused")] == 1
    assert by[("focus lost per extra goal doubled", "prescription")] == 1
    assert by[("focus lost per extra goal doubled", "goals_focused")] == 2  # still ahead of coaching_high
    rev = ranks.set_index(["setting", "scenario"])["revenue"]
    assert rev[("focus lost per extra goal doubled", "prescription")] == pytest.approx(0.06)
    # each setting ranks all seven fixes 1..7
    assert all(sorted(g) == list(range(1, 8)) for _, g in ranks.groupby("setting")["rank"])
    rob = do.robustness(ranks, "goals_focused")
    assert (rob.same, rob.reruns) == (1, 2)
    assert rob.changed == ["focus lost per extra goal doubled"]
    assert rob.tops["focus lost per extra goal doubled"] == "prescription"
    wide = do.rank_table(ranks, list(r.done["scenario"]))
    assert list(wide.columns)[:3] == ["setting", "goal clarity", "tactical prescription"]
    assert list(wide["goal clarity"]) == [1, 1, 2]
    assert list(wide["tactical prescription"]) == [2, 2, 1]


def test_setting_label_names_halving_doubling_and_other_multipliers():
    assert do.setting_label("coaching.skill_gain_per_hour", 0.5) == "skill gained per coaching hour halved"
    assert do.setting_label("culture.attrition_sensitivity", 2.0) == (
        "how much culture keeps reps from leaving doubled"
    )
    assert do.setting_label("goals.drop_probability", 0.25) == "goals.drop_probability × 0.25"


# ------------------------------------------------------------------------------------------
# scenarios
# ------------------------------------------------------------------------------------------
def test_sensitivity_parameters_default_to_the_key_assumptions():
    assert do.sensitivity_parameters("") == list(do.KEY_ASSUMPTIONS)
    assert do.sensitivity_parameters(" a.b , c.d,") == ["a.b", "c.d"]
    assert do.sensitivity_parameters("a.b,c.d", quick=True) == ["a.b"]


def test_sensitivity_scenarios_move_one_assumption_in_today_and_each_fix():
    base, variants, left_out = do.library_scenarios(SCENARIO_DIR)
    assert left_out == {} and [v.name for v in variants] == list(do.LIBRARY_NAMES[1:])
    by_name = {base.name: base, **{v.name: v for v in variants}}
    default = base.coaching.skill_gain_per_hour
    assert do.assumption_value(base, "coaching.skill_gain_per_hour", 0.5) == pytest.approx(default / 2)
    assert isinstance(do.assumption_value(base, "coaching.skill_gain_per_hour", 2), float)
    runs = do.sensitivity_scenarios(by_name, "baseline", ["coaching.skill_gain_per_hour"], 0.5, 2.0)
    assert [(p, tag) for p, tag, _ in runs] == [
        ("coaching.skill_gain_per_hour", "low"),
        ("coaching.skill_gain_per_hour", "high"),
    ]
    for (_p, tag, value), scs in runs.items():
        assert value == pytest.approx(default * (0.5 if tag == "low" else 2.0))
        assert [s.name for s in scs] == ["baseline", *do.DONE_WELL.values()]
        assert all(s.coaching.skill_gain_per_hour == pytest.approx(value) for s in scs)
        # only that assumption moved: everything else as each scenario had it
        hi = scs[list(do.DONE_WELL.values()).index("coaching_high") + 1]
        assert (
            hi.coaching.joint_call_hours_per_week
            == by_name["coaching_high"].coaching.joint_call_hours_per_week
            == 6
        )


def test_library_scenarios_over_another_baseline_keep_its_own_fields():
    base = load_scenario("baseline").replace(**{"organisation.managers": 3})
    got, variants, left_out = do.library_scenarios(SCENARIO_DIR, base)
    assert got is base and left_out == {}
    assert all(v.organisation.managers == 3 for v in variants)
    focused = next(v for v in variants if v.name == "goals_focused")
    assert len(focused.goals.items) == 2


# ------------------------------------------------------------------------------------------
# the screening
# ------------------------------------------------------------------------------------------
def screening_table():
    rows = []
    for p, tc, ctc in (("a.x", 2, 1), ("b.y", 0, 0), ("c.z", 3, 0), ("d.w", 1, 0)):
        for d, mu in (("goals_focused", 0.03), ("coaching_high", 0.01)):
            rows.append(
                {
                    "parameter": p,
                    "driver": d,
                    "mu_star": mu * (1 + len(rows)),
                    "mu_star_conf": 0.001,
                    "sigma": 0.002,
                    "low": 0.5,
                    "high": 12000.0,
                    "noise_mu_star": 0.004,
                    "top_changes": tc,
                    "clear_top_changes": ctc,
                    "steps": 4,
                }
            )
    return pd.DataFrame(rows)


def test_read_screening_trusts_only_a_complete_table(tmp_path):
    assert do.read_screening(tmp_path / "none.parquet") == do.Screening(None, {}, "")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    s = do.read_screening(broken)
    assert s.table is None and s.problem
    short = tmp_path / "short" / "sensitivity.parquet"
    short.parent.mkdir()
    screening_table().drop(columns=["sigma", "steps"]).to_parquet(short)
    s = do.read_screening(short)
    assert s.table is None and s.problem == "it lacks the columns sigma, steps"
    good = tmp_path / "good" / "sensitivity.parquet"
    good.parent.mkdir()
    screening_table().to_parquet(good)
    (good.parent / "manifest.json").write_text(json.dumps({"trajectories": 4}))
    s = do.read_screening(good)
    assert s.problem == "" and len(s.table) == 8 and s.meta == {"trajectories": 4}
    (good.parent / "manifest.json").write_text("[1, 2]")  # not a mapping: left out
    assert do.read_screening(good).meta == {}
    (good.parent / "manifest.json").write_text("{broken")
    assert do.read_screening(good).meta == {}


def test_screening_movers_and_view():
    t = screening_table()
    movers = do.screening_movers(t)
    # one row per assumption that changed the leader; clear changes first, then by count
    assert list(movers["parameter"]) == ["a.x", "c.z", "d.w"]
    view = do.screening_view(t)
    # drivers in "done well" order (goals_focused before coaching_high), three rows each, by mu*
    assert list(view["driver"]) == [
        "goal clarity: two goals instead of four",
        "",
        "",
        "joint calls: 3+ h/rep/month, trained, aimed at gaps",
        "",
        "",
    ]
    assert list(view["assumption"]) == ["d.w", "c.z", "b.y", "d.w", "c.z", "b.y"]
    assert view["mu* (points)"].iloc[0] == pytest.approx(0.03 * 7)
    assert view["range screened"].iloc[0] == "0.5 … 12,000"


# ------------------------------------------------------------------------------------------
# a tiny seeded comparison through the report's calls
# ------------------------------------------------------------------------------------------
TINY = {"organisation": {"managers": 2, "span": 4}, "simulation": {"warmup_days": 60, "horizon_days": 365}}


@pytest.fixture(scope="module")
def tiny_comparison():
    from salessim.executors import SerialExecutor
    from salessim.scenario import deep_merge

    base = load_scenario(deep_merge(load_scenario("baseline").to_dict(), TINY))
    names = ["goals_focused", "crm_full", "coaching_none"]
    variants, _ = variants_over(base, {n: variant_changes(n, SCENARIO_DIR) for n in names})
    return compare([base, *variants], replications=3, seed=5, executor=SerialExecutor(), cache=False)


def test_a_seeded_comparison_gives_the_same_effects_as_paired_and_ranks_them(tiny_comparison):
    comp = tiny_comparison
    year = year_rows(comp.results.periods)
    variants = [n for n in comp.scenarios if n != comp.baseline]
    eff = do.driver_effects(year, comp.baseline, variants)
    for _, row in eff.iterrows():
        assert row["revenue"] == paired(year, "revenue", comp.baseline, row["scenario"])
        assert row["revenue"].n == 3
    r = do.rank_drivers(year, comp.baseline, eff)
    assert set(r.done["scenario"]) == {"goals_focused", "crm_full"}
    assert r.top["revenue"].mean >= r.second["revenue"].mean
    assert r.crm_detection_lag is not None and r.all_eight is None


def test_cost_view_orders_fixes_by_margin_less_cost(tiny_comparison):
    cv = do.cost_view(tiny_comparison)
    net = cv.by_net["net_mean"].to_numpy()
    assert list(net) == sorted(net, reverse=True)
    assert cv.best["scenario"] == cv.by_net.iloc[0]["scenario"]
    assert list(cv.effects["scenario"]) == list(cv.by_net["scenario"])  # no best_practice here
    # the saved numbers are the effects' own, and the page's table carries the same means
    nums = cv.numbers
    assert nums["cost_diff_usd"].to_numpy() == pytest.approx(
        cv.effects["cost"].map(lambda e: e.mean).to_numpy()
    )
    assert cv.table["margin less cost (USD)"].to_numpy() == pytest.approx(nums["margin_less_cost_diff_usd"])
    # stopping joint calls frees the managers' joint-call hours: that cost line falls
    b = cv.breakdown.set_index(["scenario", "component"])["diff"]
    assert b[("coaching_none", "manager time on joint calls")] < 0
    # the verdict sets are disjoint and drawn from the single-driver fixes
    assert not set(cv.losing["scenario"]) & set(cv.savers["scenario"])
    assert all(cv.paying["return_on_cost"] >= 0)


# ------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------
@pytest.fixture
def agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_the_charts_draw_one_row_per_fix_in_the_given_order(agg):
    year, variants = ranking_year()
    eff = do.driver_effects(year, "baseline", variants)
    single = do.single_drivers(eff)
    labels = [f"{d}: {c}" for d, c in zip(single["driver"], single["change"], strict=True)]
    fig = do.tornado_figure(single, "a title")
    ax = fig.axes[0]
    # top to bottom in the table's order (largest revenue effect first)
    ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
    assert [t.get_text() for t in ticks] == labels
    assert ax.get_title() == "a title"
    fig = do.quota_turnover_figure(single, "quota and turnover")
    assert len(fig.axes) == 2 and fig.texts[0].get_text() == "quota and turnover"
    split = pd.DataFrame(
        {
            "driver": ["goal clarity", "joint calls"],
            "change": ["two goals", "no calls"],
            "direct part": [0.05, -0.02],
            "direct 95 % CI low": [0.04, -0.03],
            "direct 95 % CI high": [0.06, -0.01],
            "via culture": [0.01, -0.01],
        }
    )
    ax = do.culture_split_figure(split, "culture").axes[0]
    direct, culture = ax.containers[0], ax.containers[1]
    # the culture bar starts where the direct part ends, in percent
    assert [b.get_width() for b in direct] == pytest.approx([5.0, -2.0])
    assert [b.get_x() for b in culture] == pytest.approx([5.0, -2.0])
    assert [b.get_width() for b in culture] == pytest.approx([1.0, -1.0])


def test_the_ranking_chart_has_a_series_per_setting(agg):
    ranks = pd.DataFrame(
        {
            "setting": ["default assumptions"] * 2 + ["x halved"] * 2,
            "scenario": ["goals_focused", "crm_full"] * 2,
            "rank": [1, 2, 2, 1],
            "revenue": [0.05, 0.01, 0.02, 0.03],
        }
    )
    ax = do.ranking_figure(ranks, ["goals_focused", "crm_full"], "t").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["default assumptions", "x halved"]
    xs = [list(c.get_offsets()[:, 0]) for c in ax.collections]
    assert xs == [pytest.approx([5.0, 1.0]), pytest.approx([2.0, 3.0])]
