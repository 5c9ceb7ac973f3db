"""salessim.analysis.goal_designs: the goal designs report's plans, effects and tables.

Small per-replication tables and deal logs built by hand, where the right share, effect or
average is known; one tiny seeded run with the deal log for per-goal attainment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salessim import load_scenario
from salessim.analysis import goal_designs as gd
from salessim.notebook_helpers import goal_label


@pytest.fixture(scope="module")
def plans():
    return gd.plan_scenarios(load_scenario("baseline"), {})


def test_the_plans_are_the_library_variants_laid_over_todays(plans):
    assert list(plans) == list(gd.PLANS)
    assert {k: s.name for k, s in plans.items()} == {
        "baseline": "baseline",
        "focused": "goals_focused",
        "many": "goals_many",
        "prescription": "prescription",
    }
    assert [len(s.goals.items) for s in plans.values()] == [4, 2, 6, 4]
    assert gd.plan_labels(plans) == {
        "baseline": "Four goals (today)",
        "focused": "Two goals",
        "many": "Six goals",
        "prescription": "Four goals + prescription",
    }


def test_a_plan_given_as_a_scenario_replaces_the_library_variant():
    base = load_scenario("baseline").replace(**{"organisation.managers": 3})
    own = load_scenario("goals_many").replace(**{"organisation.managers": 3})
    sc = gd.plan_scenarios(base, {"many": own, "focused": None})
    assert sc["many"] is own
    # the others are the library's changes over *this* baseline: its organisation kept
    assert sc["focused"].organisation.managers == 3 and len(sc["focused"].goals.items) == 2


def test_product_share_is_the_share_of_new_opportunities_per_year():
    deals = pd.DataFrame(
        {
            "scenario": ["a"] * 4 + ["a"] * 2 + ["b"] * 3,
            "replication": [0] * 4 + [1] * 2 + [0] * 3,
            "product": ["A", "B", "B", "B", "A", "A", "B", "A", "A"],
        }
    )
    s = gd.product_share(deals).set_index(["scenario", "replication"])["product_b"]
    assert s[("a", 0)] == pytest.approx(0.75)
    assert s[("a", 1)] == pytest.approx(0.0)
    assert s[("b", 0)] == pytest.approx(1 / 3)
    assert gd.product_share(deals, "A").set_index(["scenario", "replication"])["product_b"][("a", 1)] == 1.0


def frames_for(names, revenue, **more):
    """PlanFrames from per-replication values: name → list (one per replication)."""

    def frame(column, values):
        return pd.DataFrame(
            [{"scenario": n, "replication": r, column: v} for n in names for r, v in enumerate(values[n])]
        )

    year = frame("revenue", revenue)
    for col in ("pct_at_quota", "turnover", "selling_time_share"):
        year[col] = frame(col, more[col])[col]
    year["period"], year["year"] = "year", 1
    return gd.PlanFrames(
        year=year,
        composite=frame("composite_attainment", more["composite_attainment"]),
        attainment=frame("attainment", more["attainment"]),
        p_make=frame("p_make_quota", more["p_make_quota"]),
        product_b=frame("product_b", more["product_b"]),
    )


def known_frames(plans):
    names = [s.name for s in plans.values()]
    lift = {"baseline": 1.0, "goals_focused": 1.1, "goals_many": 0.95, "prescription": 1.02}
    add = {"baseline": 0.0, "goals_focused": 0.05, "goals_many": -0.02, "prescription": 0.01}
    per = {n: np.array([0.4, 0.5, 0.6]) + add[n] for n in names}
    return frames_for(
        names,
        {n: [1e6 * lift[n], 2e6 * lift[n], 4e6 * lift[n]] for n in names},
        pct_at_quota=per,
        turnover={n: [0.2, 0.2, 0.2] for n in names},
        selling_time_share=per,
        composite_attainment=per,
        attainment=per,
        p_make_quota=per,
        product_b={n: [0.3 + add[n]] * 3 for n in names},
    )


def test_plan_effects_are_paired_against_todays_plan(plans):
    frames = known_frames(plans)
    e = gd.plan_effects(frames, "baseline", "goals_focused")
    assert e.revenue.mean == pytest.approx(0.10) and e.revenue.kind == "rel"
    for name in ("composite", "attainment", "at_quota", "selling", "p_make", "mix_b"):
        eff = getattr(e, name)
        assert eff.mean == pytest.approx(0.05) and eff.kind == "pts", name
        assert eff.direction == 1
    assert e.turnover.mean == pytest.approx(0.0) and e.turnover.n == 3
    assert gd.plan_effects(frames, "baseline", "goals_many").revenue.mean == pytest.approx(-0.05)


def test_plans_table_and_its_numbers(plans):
    frames = known_frames(plans)
    eff = {k: gd.plan_effects(frames, "baseline", plans[k].name) for k in gd.VARIANTS}
    labels = gd.plan_labels(plans)
    t = gd.plans_table(plans, labels, frames, eff)
    assert list(t["plan"]) == [labels[k] for k in gd.PLANS]
    assert (
        t.loc[0, "goals (weight)"]
        == "revenue 50%, new logos 20%, product B revenue 20%, average deal size 10%"
    )
    assert t["team revenue"].to_numpy() == pytest.approx(np.array([1.0, 1.1, 0.95, 1.02]) * 7e6 / 3)
    assert np.isnan(t.loc[0, "revenue vs today"]) and t.loc[0, "95 % CI"] == ""
    assert t.loc[1, "revenue vs today"] == pytest.approx(0.10)
    assert t.loc[1, "95 % CI"] == eff["focused"].revenue.ci_range()
    assert t["reps at quota"].to_numpy() == pytest.approx([0.5, 0.55, 0.48, 0.51])
    assert t["annual turnover"].to_numpy() == pytest.approx([0.2] * 4)
    n = gd.plans_numbers(t, eff)
    assert list(n.columns) == [
        "plan",
        "goals_and_weights",
        "revenue_usd",
        "revenue_diff_rel",
        "revenue_diff_rel_ci_low",
        "revenue_diff_rel_ci_high",
        "composite_attainment",
        "revenue_attainment",
        "pct_at_quota",
        "selling_time_share",
        "turnover",
    ]
    assert np.isnan(n.loc[0, "revenue_diff_rel"])
    assert n["revenue_diff_rel"].iloc[1:].to_numpy() == pytest.approx([0.10, -0.05, 0.02])


def test_goal_table_averages_each_goal_and_counts_reps_at_target():
    att = pd.DataFrame(
        {
            "plan": ["P"] * 4 + ["Q"] * 2,
            "goal": ["revenue", "revenue", "new logos", "new logos", "revenue", "revenue"],
            "weight": [0.7, 0.7, 0.3, 0.3, 0.5, 0.5],
            "attainment": [1.2, 0.8, 0.5, 1.0, 1.0, 0.9],
        }
    )
    t = gd.goal_table(att).set_index(["plan", "goal"])
    assert t.loc[("P", "revenue"), "attainment"] == pytest.approx(1.0)
    assert t.loc[("P", "revenue"), "at_target"] == pytest.approx(0.5)
    assert t.loc[("P", "new logos"), "at_target"] == pytest.approx(0.5)  # exactly 1.0 counts as at target
    assert t.loc[("Q", "revenue"), "weight"] == 0.5
    assert gd.goal_order(att) == ["revenue", "new logos"]


def test_prospecting_shares_by_plan_sum_to_one(plans):
    labels = gd.plan_labels(plans)
    deals = pd.DataFrame(
        {
            "scenario": ["baseline"] * 4 + ["goals_focused"] * 2,
            "segment": ["new_logo", "new_logo", "expansion", "new_logo", "expansion", "new_logo"],
            "product": ["A", "B", "A", "A", "B", "B"],
        }
    )
    mix = gd.prospecting_by_plan(deals, plans, labels)
    assert set(mix["plan"]) == {labels["baseline"], labels["focused"]}
    wide = gd.prospecting_shares(mix, [labels["baseline"], labels["focused"]])
    assert list(wide.index) == [labels["baseline"], labels["focused"]]
    assert wide.sum(axis=1).to_numpy() == pytest.approx([1.0, 1.0])
    assert wide.loc[labels["baseline"], "new logo · product A"] == pytest.approx(0.5)
    assert wide.loc[labels["focused"], "expansion · product B"] == pytest.approx(0.5)


def test_a_seeded_run_gives_each_plan_attainment_of_its_own_goals():
    from salessim.executors import SerialExecutor
    from salessim.experiments import compare
    from salessim.scenario import deep_merge

    small = {
        "organisation": {"managers": 2, "span": 4},
        "simulation": {"warmup_days": 60, "horizon_days": 365},
    }
    base = load_scenario(deep_merge(load_scenario("baseline").to_dict(), small))
    sc = gd.plan_scenarios(base, {})
    sc = {k: sc[k] for k in ("baseline", "focused")}
    run = compare(
        list(sc.values()), replications=1, seed=4, executor=SerialExecutor(), deals=True, cache=False
    )
    labels = {"baseline": "today", "focused": "two"}
    att = gd.goal_attainment_by_plan(run.results.deals, run.results.reps, sc, labels)
    for k, s in sc.items():
        rows = att[att["plan"] == labels[k]]
        assert set(rows["goal"]) == {goal_label(g) for g in s.goals.items}
        # one row per full-period rep and goal; each rep's weights add up to the whole plan
        assert rows.groupby("rep_id")["weight"].sum().to_numpy() == pytest.approx(1.0)
        assert (rows["attainment"] >= 0).all()
    table = gd.goal_table(att)
    assert set(table["plan"]) == {"today", "two"}
    frames = gd.plan_frames(run.results, run.results.deals)
    assert set(frames.year["scenario"]) == {"baseline", "goals_focused"}
    assert frames.product_b["product_b"].between(0, 1).all()


@pytest.fixture
def agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_the_charts_show_each_plan_in_order(agg, plans):
    labels = gd.plan_labels(plans)
    order = [labels[k] for k in gd.PLANS]
    frames = known_frames(plans)
    eff = {k: gd.plan_effects(frames, "baseline", plans[k].name) for k in gd.VARIANTS}
    fig = gd.effects_figure(labels, eff, "the title")
    assert len(fig.axes) == 2 and fig.texts[0].get_text() == "the title"
    # stacked shares: each plan's bar segments start where the previous cell ended and fill 100 %
    shares = pd.DataFrame(
        {"new logo · product A": [0.6, 0.3], "expansion · product B": [0.4, 0.7]}, index=order[:2]
    )
    ax = gd.prospecting_figure(shares, "mix").axes[0]
    first, second = ax.containers
    assert [b.get_width() for b in first] == pytest.approx([60.0, 30.0])
    assert [b.get_x() for b in second] == pytest.approx([60.0, 30.0])
    assert [t.get_text() for t in ax.get_yticklabels()] == order[:2]
    table = pd.DataFrame(
        {
            "plan": [order[0], order[0], order[1]],
            "goal": ["revenue", "average deal size", "revenue"],
            "attainment": [0.9, 1.1, 1.05],
        }
    )
    ax = gd.goal_attainment_figure(table, ["revenue", "average deal size"], order, "goals").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["revenue", "average\ndeal size"]
    heights = sorted(
        round(b.get_height(), 6) for c in ax.containers for b in c if np.isfinite(b.get_height())
    )
    assert heights == pytest.approx([90.0, 105.0, 110.0])
    reps = pd.DataFrame(
        {
            "scenario": ["baseline"] * 3 + ["goals_focused"] * 3,
            "period": "year",
            "full_period": [True, True, False, True, True, True],
            "attainment": [0.5, 1.5, 9.0, 0.8, 1.2, 4.0],
        }
    )
    ax = gd.attainment_spread_figure(
        reps,
        {"baseline": order[0], "goals_focused": order[1]},
        order[:2],
        {order[0]: 0.5, order[1]: 0.667},
        "spread",
    ).axes[0]
    assert [t.get_text().replace("\xa0", " ") for t in ax.texts] == ["50 % at quota", "67 % at quota"]
    assert ax.get_xlim() == (0, 360)
