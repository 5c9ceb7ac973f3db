"""Costs (salessim.costs, the scenario's ``costs`` section, the cost rows of a comparison)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from salessim.costs import (
    COMPONENTS,
    GROUPS,
    NEEDED,
    component_diffs,
    cost_table,
    rep_hour_cost,
    return_on_cost,
)
from salessim.experiments import compare, summarize
from salessim.scenario import Scenario, ScenarioError, load_scenario

SMALL = {
    "extends": "baseline",
    "organisation": {"managers": 2, "span": 4},
    "simulation": {"warmup_days": 60, "horizon_days": 120},
}


def _small(**changes: object) -> Scenario:
    sc = load_scenario(SMALL)
    return sc.replace(**changes) if changes else sc


# ------------------------------------------------------------------------------------------
# pricing a hand-built periods table
# ------------------------------------------------------------------------------------------
def _hand_periods() -> pd.DataFrame:
    base = {
        "scenario": "s",
        "replication": 0,
        "year": 1,
        "headcount": 76.5,
        "revenue": 70e6,
        "coaching_hours": 1800.0,
        "hires": 19,
        "manager_review_hours": 950.0,
        "manager_hiring_hours": 400.0,
        "manager_training_hours": 70.0,
        "managers_trained": 12,
        "crm_logging_hours": 2200.0,
    }
    q1 = {
        **base,
        "period": "Q1",
        "headcount": 78.0,
        "revenue": 15e6,
        "hires": 4,
        "coaching_hours": 450.0,
        "manager_review_hours": 0.0,
        "manager_hiring_hours": 90.0,
        "manager_training_hours": 70.0,
        "managers_trained": 10,
        "crm_logging_hours": 560.0,
    }
    return pd.DataFrame([q1, {**base, "period": "year"}])


def test_components_of_a_hand_built_year_equal_the_hand_computation():
    sc = Scenario()  # the baseline's prices: 80 reps, 10 managers, 45-hour weeks
    t = cost_table(_hand_periods(), sc).set_index("period")
    y = t.loc["year"]
    rep_hour = 145_000 / (46 * 45)  # ≈ 70.05 USD
    assert rep_hour_cost(sc) == pytest.approx(rep_hour)
    assert y["crm_logging"] == pytest.approx(2200 * rep_hour)
    assert y["rep_pay"] == pytest.approx(76.5 * 145_000 - 2200 * rep_hour)
    assert y["hiring"] == pytest.approx(19 * 20_000)
    assert y["crm_licences"] == pytest.approx((80 + 10) * 1_800)
    assert y["training_fees"] == pytest.approx(12 * 6_000)
    assert y["manager_joint_calls"] == pytest.approx(1800 * 95)
    assert y["manager_reviews"] == pytest.approx(950 * 95)
    assert y["manager_hiring"] == pytest.approx(400 * 95)
    assert y["manager_training"] == pytest.approx(70 * 95)
    hand_total = 76.5 * 145_000 + 19 * 20_000 + 90 * 1_800 + 12 * 6_000 + (1800 + 950 + 400 + 70) * 95
    assert y["cost"] == pytest.approx(hand_total)
    assert y["margin"] == pytest.approx(0.65 * 70e6)
    assert y["margin_less_cost"] == pytest.approx(0.65 * 70e6 - hand_total)
    # a quarter is a fourth of a 365-day year: pay and licences prorated, counts as they are
    everything = cost_table(_hand_periods(), sc, period=None).set_index("period")
    q = everything.loc["Q1"]
    assert q["rep_pay"] + q["crm_logging"] == pytest.approx(78.0 * 145_000 * 91.25 / 365)
    assert q["crm_licences"] == pytest.approx(90 * 1_800 * 91.25 / 365)
    assert q["training_fees"] == pytest.approx(10 * 6_000)
    assert list(t.index) == ["year"]


def test_planned_seats_are_licensed_from_the_day_they_open():
    """Four seats opened on day 0 and two on the first day of Q3 (day 182.5 of a 365-day year)."""
    plan = {"hiring.plan": [{"day": 0, "reps": 4}, {"day": 182, "reps": 2}]}
    sc = Scenario().replace(**plan)
    everything = cost_table(_hand_periods(), sc, period=None).set_index("period")
    base = cost_table(_hand_periods(), Scenario(), period=None).set_index("period")
    year_extra = (4 + 2 * (365 - 182) / 365) * 1_800
    assert everything.loc["year", "crm_licences"] - base.loc["year", "crm_licences"] == (
        pytest.approx(year_extra)
    )
    # Q1: the four seats for the whole quarter, the two not yet open
    assert everything.loc["Q1", "crm_licences"] - base.loc["Q1", "crm_licences"] == (
        pytest.approx(4 * 1_800 * 91.25 / 365)
    )


def test_prices_come_from_each_scenarios_own_costs_section_and_a_short_year_is_prorated():
    dear = Scenario().replace(
        **{"costs.manager_hour_rate": 200.0, "name": "dear", "simulation.horizon_days": 146}
    )
    p = pd.concat([_hand_periods(), _hand_periods().assign(scenario="dear")], ignore_index=True)
    t = cost_table(p, {"s": Scenario(), "dear": dear}).set_index("scenario")
    assert t.loc["s", "manager_reviews"] == pytest.approx(950 * 95)
    assert t.loc["dear", "manager_reviews"] == pytest.approx(950 * 200)
    # a 146-day horizon is one short year: pay and licences for 146 days
    assert t.loc["dear", "crm_licences"] == pytest.approx(90 * 1_800 * 146 / 365)
    with pytest.raises(ValueError, match="no scenario given for 'dear'"):
        cost_table(p, {"s": Scenario()})


def test_a_table_without_the_cost_columns_is_refused_and_summarised_without_costs():
    old = _hand_periods().drop(columns=["hires", "crm_logging_hours"])
    with pytest.raises(ValueError, match="hires, crm_logging_hours"):
        cost_table(old, Scenario())
    two = pd.concat([old.assign(scenario="a"), old.assign(scenario="b")])
    s = summarize(two, "a", ["a", "b"], scenarios=[Scenario(name="a"), Scenario(name="b")])
    assert "cost" not in set(s["metric"]) and "return_on_cost" not in s


# ------------------------------------------------------------------------------------------
# return on cost
# ------------------------------------------------------------------------------------------
def test_return_on_cost_divides_only_where_the_lever_clearly_costs_more():
    assert return_on_cost(300.0, 100.0, 80.0, 120.0) == (3.0, "pays back")
    assert return_on_cost(50.0, 100.0, 80.0, 120.0) == (0.5, "returns less than it costs")
    assert return_on_cost(-50.0, 100.0, 80.0, 120.0) == (-0.5, "costs more and earns less")
    # cheaper: no ratio (a gain over a saving is not a return), whatever the gain
    for gain in (500.0, -500.0):
        r, verdict = return_on_cost(gain, -100.0, -120.0, -80.0)
        assert math.isnan(r) and verdict == "saves money"
    # a change of cost whose interval straddles 0 is not divided by
    r, verdict = return_on_cost(500.0, 1.0, -20.0, 22.0)
    assert math.isnan(r) and verdict == "no clear change in cost"
    r, verdict = return_on_cost(500.0, 0.0, 0.0, 0.0)
    assert math.isnan(r) and verdict == "no clear change in cost"
    # one replication has no interval: the sign of the change decides
    assert return_on_cost(200.0, 100.0) == (2.0, "pays back")
    assert return_on_cost(200.0, -1.0)[1] == "saves money"
    assert return_on_cost(200.0, 0.0)[1] == "no clear change in cost"
    assert return_on_cost(200.0, float("nan"))[1] == ""


def test_summary_cost_rows_from_hand_built_tables():
    rows = []
    for r, (cost_b, cost_v) in enumerate(((0, 10.0), (0, 12.0), (0, 8.0))):
        for name, hours, rev in (("a", 1000.0 + cost_b, 70e6), ("b", 1000.0 + cost_v, 70e6 + 1e4)):
            rows.append(
                {
                    **_hand_periods().iloc[1].to_dict(),
                    "scenario": name,
                    "replication": r,
                    "coaching_hours": hours,
                    "revenue": rev,
                }
            )
    p = pd.DataFrame(rows)
    s = summarize(p, "a", ["a", "b"], scenarios=[Scenario(name="a"), Scenario(name="b")])
    cost = s.set_index(["scenario", "metric"]).loc[("b", "cost")]
    assert cost["diff"] == pytest.approx(10.0 * 95)  # 10 more joint-call hours on average
    assert cost["diff_ci_low"] > 0
    assert cost["margin_diff"] == pytest.approx(0.65 * 1e4)
    assert cost["return_on_cost"] == pytest.approx(0.65 * 1e4 / 950)
    assert cost["cost_verdict"] == "pays back"
    net = s.set_index(["scenario", "metric"]).loc[("b", "margin_less_cost")]
    assert net["diff"] == pytest.approx(0.65 * 1e4 - 950)
    assert np.isnan(s.set_index(["scenario", "metric"]).loc[("a", "cost"), "return_on_cost"])


# ------------------------------------------------------------------------------------------
# simulated: what the levers cost
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def priced() -> tuple:
    base = _small(name="base")
    more = _small(name="more_calls", **{"coaching.joint_call_hours_per_week": 8.0})
    trained = _small(name="trained", **{"managers.training": "trained"})
    comp = compare([base, more, trained], replications=3, seed=7, workers=1, cache=False, progress=False)
    return comp, cost_table(comp.results.periods, {s.name: s for s in (base, more, trained)})


def test_more_joint_call_hours_cost_more_manager_time(priced):
    comp, costs = priced
    y = costs.set_index(["scenario", "replication"])
    more = y.loc["more_calls", "manager_joint_calls"]
    base = y.loc["base", "manager_joint_calls"]
    # the same replications: every one spends more manager time on calls
    assert (more.to_numpy() > base.to_numpy()).all()
    periods = comp.results.periods
    hours = periods[periods["period"] == "year"].set_index(["scenario", "replication"])
    np.testing.assert_allclose(more.to_numpy(), hours.loc["more_calls", "coaching_hours"].to_numpy() * 95.0)
    row = comp.summary.set_index(["scenario", "metric"]).loc[("more_calls", "cost")]
    assert row["diff"] > 0 and np.isfinite(row["diff_ci_low"])


def test_a_trained_managers_variant_carries_the_training_cost(priced):
    _, costs = priced
    y = costs.set_index(["scenario", "replication"])
    # every manager starts the programme when the policy starts, and any new one on day one
    trained = y.loc["trained", "training_fees"].to_numpy()
    assert (trained >= 2 * 6_000).all()
    assert (y.loc["base", "training_fees"].to_numpy() == 0).all()
    assert (y.loc["trained", "manager_training"].to_numpy() > 0).all()
    assert (y.loc["base", "manager_training"].to_numpy() == 0).all()
    lines = component_diffs(costs, "base", groups=GROUPS).set_index(["scenario", "component"])
    training = lines.loc[("trained", "training (fees and days away)")]
    fees_and_days = (trained + y.loc["trained", "manager_training"].to_numpy()).mean()
    assert training["diff"] == pytest.approx(fees_and_days)
    assert lines.loc[("trained", "CRM licences"), "diff"] == 0.0


def test_cost_components_add_up_to_the_total(priced):
    _, costs = priced
    np.testing.assert_allclose(costs[list(COMPONENTS)].sum(axis=1), costs["cost"])
    assert set(NEEDED) <= set(priced[0].results.periods.columns)


def test_costs_leave_every_simulated_number_unchanged():
    base = _small(name="x")
    other = base.replace(
        **{
            "costs.manager_hour_rate": 400.0,
            "costs.gross_margin": 0.1,
            "costs.rep_loaded_cost_per_year": 1.0,
            "costs.hiring_per_hire": 0.0,
            "costs.training_per_manager": 99_999.0,
            "costs.crm_seat_per_year": 7.0,
            "costs.rep_working_weeks": 1.0,
        }
    )
    a = compare([base], replications=1, seed=11, workers=1, cache=False, progress=False)
    b = compare([other], replications=1, seed=11, workers=1, cache=False, progress=False)
    pd.testing.assert_frame_equal(a.results.periods, b.results.periods, check_exact=True)
    pd.testing.assert_frame_equal(a.results.reps, b.results.reps, check_exact=True)
    # a scenario that writes the default prices is the scenario that writes none
    same = load_scenario({**SMALL, "costs": Scenario().costs.model_dump()})
    assert same == _small()


# ------------------------------------------------------------------------------------------
# hostile values
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("manager_hour_rate", -95, "greater than or equal to 0"),
        ("training_per_manager", float("nan"), "finite"),
        ("crm_seat_per_year", float("inf"), "finite"),
        ("rep_loaded_cost_per_year", "lots", "valid number"),
        ("hiring_per_hire", True, "boolean"),
        ("gross_margin", 1.5, "less than or equal to 1"),
        ("rep_working_weeks", 0, "greater than 0"),
        ("manager_hour_rate", [95], "valid number"),
        ("training_per_manager", 1e12, "less than or equal to"),
    ],
)
def test_hostile_costs_are_refused_naming_the_field(write_yaml, field, value, says):
    import yaml

    path = write_yaml("bad.yaml", yaml.safe_dump({"extends": "baseline", "costs": {field: value}}))
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = str(e.value)
    assert "bad.yaml" in msg and f"costs.{field}" in msg and says in msg


def test_an_unknown_cost_or_a_costs_section_that_is_not_a_mapping_is_refused(write_yaml):
    with pytest.raises(ScenarioError, match=r"costs\.licence_fee.*unknown key"):
        load_scenario(write_yaml("a.yaml", "extends: baseline\ncosts: {licence_fee: 3}\n"))
    with pytest.raises(ScenarioError, match=r"field `costs`"):
        load_scenario(write_yaml("b.yaml", "extends: baseline\ncosts: 12\n"))


def test_hostile_costs_exit_2_from_the_cli(cli, write_yaml, tmp_path):
    path = write_yaml("neg.yaml", "extends: baseline\ncosts: {hiring_per_hire: -1}\n")
    res = cli("simulate", path, "-r", "1", "--out", tmp_path / "out")
    assert res.returncode == 2 and "costs.hiring_per_hire" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------
# the report's helpers
# ------------------------------------------------------------------------------------------
def test_report_cost_effects_are_the_summarys_numbers(priced):
    from salessim.notebook_helpers import cost_effects

    comp, _ = priced
    eff = cost_effects(comp).set_index("scenario")
    sm = comp.summary.set_index(["scenario", "metric"])
    for n in ("more_calls", "trained"):
        assert eff.loc[n, "cost"].mean == sm.loc[(n, "cost"), "diff"]
        assert eff.loc[n, "cost"].low == sm.loc[(n, "cost"), "diff_ci_low"]
        assert eff.loc[n, "net"].mean == sm.loc[(n, "margin_less_cost"), "diff"]
        assert eff.loc[n, "revenue"].mean == sm.loc[(n, "revenue"), "diff"]
        assert eff.loc[n, "verdict"] == sm.loc[(n, "cost"), "cost_verdict"]
    # margin less cost = margin − cost, replication by replication, so on average too
    assert eff.loc["trained", "net"].mean == pytest.approx(
        eff.loc["trained", "margin"] - eff.loc["trained", "cost"].mean
    )


def test_cost_story_names_what_a_fix_buys_apart_from_what_follows():
    from salessim.notebook_helpers import cost_story

    def line(component: str, diff: float, lo: float, hi: float) -> dict:
        return {
            "scenario": "v",
            "component": component,
            "label": component,
            "baseline": 0.0,
            "diff": diff,
            "diff_ci_low": lo,
            "diff_ci_high": hi,
        }

    b = pd.DataFrame(
        [
            line("manager time on joint calls", 99_000.0, 98_000.0, 100_000.0),
            line("training (fees and days away)", 67_000.0, 60_000.0, 70_000.0),
            line("recruiting and interviews", -182_000.0, -250_000.0, -100_000.0),
            line("reps' pay (seats filled)", 30_000.0, -10_000.0, 70_000.0),  # not clear: left out
            line("CRM licences", 0.0, 0.0, 0.0),
        ]
    )
    bought, follows = cost_story(b, "v")
    assert bought == "manager time on joint calls +$99K, training (fees and days away) +$67K"
    assert follows == "recruiting and interviews −$182K"
    assert cost_story(b, "other") == ("", "")


def test_the_recorded_cost_drivers_of_the_quarters_add_up_to_the_year(priced):
    comp, _ = priced
    p = comp.results.periods
    additive = [
        "hires",
        "manager_review_hours",
        "manager_hiring_hours",
        "manager_training_hours",
        "managers_trained",
        "crm_logging_hours",
        "coaching_hours",
    ]
    quarters = p[p["period"] != "year"].groupby(["scenario", "replication"])[additive].sum()
    years = p[p["period"] == "year"].set_index(["scenario", "replication"])[additive]
    pd.testing.assert_frame_equal(quarters.sort_index(), years.sort_index(), check_dtype=False)
    # the programme starts with the policy, at the reported year's first instant: in Q1
    q1 = p[(p["period"] == "Q1")].set_index(["scenario", "replication"])
    assert (q1.loc["trained", "managers_trained"] >= 2).all()
    assert (p.loc[p["scenario"] == "base", "managers_trained"] == 0).all()
    assert (years["crm_logging_hours"] > 0).all()
