"""Culture is built from what reps live through; it can be frozen, or held on another run's path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salessim.drivers import culture
from salessim.experiments import SPLIT_COLUMNS, compare
from salessim.model import SalesForce
from salessim.scenario import load_scenario
from salessim.simulate import culture_path, run_replication

SMALL = {
    "organisation.managers": 3,
    "organisation.span": 6,
    "simulation.warmup_days": 120,
    "simulation.horizon_days": 240,
    "simulation.mode": "steady_state",
}
SEED = 17


def small(name: str, **changes) -> object:
    """A library scenario on 3 teams of 6 over 120 + 240 days, its policy in force from time 0."""
    return load_scenario(name).replace(**{**SMALL, **changes})


def test_no_scenario_setting_enters_the_signal() -> None:
    """The signal reads only the run's state: two policies in the very same state send the same
    signal (the old version read prescription, cadence and metrics off the scenario)."""
    a = SalesForce(small("baseline"), SEED, 0)
    b = SalesForce(
        small("baseline", **{"prescription.enabled": True, "metrics": "stage", "reviews.cadence": "monthly"}),
        SEED,
        0,
    )
    for sf in (a, b):
        sf.p_make = np.linspace(0.1, 0.9, sf.N)
        sf.delivered = np.array([0.0, 1.5, 6.0])
        sf.dismissed = np.array([0.0, 0.6, 3.0])
    np.testing.assert_array_equal(culture.experienced(a), culture.experienced(b))


def test_each_part_of_the_signal_reads_what_the_team_lives_through() -> None:
    sf = SalesForce(small("baseline"), SEED, 0)
    span = sf.sc.organisation.span
    sf.p_make = np.repeat([0.2, 0.6, 0.9], span)
    sf.delivered = np.array([0.0, 1.5, 6.0])  # joint-call hours per rep-month received
    sf.dismissed = np.array([0.0, 0.6, 3.0])  # peers let go lately (6 heads a team)
    e = culture.experienced(sf)
    on_pace, attainable, coached, safe, manager, clear = e.T
    np.testing.assert_allclose(on_pace, [0.0, 1.0, 1.0])
    np.testing.assert_allclose(attainable, [0.2, 0.6, 0.9])
    np.testing.assert_allclose(coached, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(safe, [1.0, 1 - 0.6 / 6 / 0.2, 0.0])
    np.testing.assert_array_equal(manager, sf.quality)
    assert np.all(clear == sf.goalm.clarity())
    # fewer goals are clearer
    focused = SalesForce(small("goals_focused"), SEED, 0)
    assert culture.experienced(focused)[0, 5] > clear[0]


def test_a_dismissal_is_remembered_by_the_team_for_about_a_year() -> None:
    sf = SalesForce(small("baseline"), SEED, 0)
    k = int(np.flatnonzero(sf.seat_manager == 1)[0])
    from salessim.model.people import INVOLUNTARY, leave

    leave(sf, k, INVOLUNTARY)
    assert sf.dismissed.tolist() == [0.0, 1.0, 0.0]
    for _ in range(52):
        culture.culture_step(sf)
    assert sf.dismissed[1] == pytest.approx(np.exp(-1.0), rel=0.01)


def test_frozen_culture_stays_where_it_starts() -> None:
    sf = SalesForce(small("best_practice", **{"culture.enabled": False}), SEED, 1)
    start = sf.culture.copy()
    sf.run()
    assert np.all(np.array(sf.culture_trace) == start)
    live = SalesForce(small("best_practice"), SEED, 1)
    np.testing.assert_array_equal(live.culture, start)  # the same settled start
    live.run()
    assert np.ptp(np.array(live.culture_trace)) > 0.01


def test_a_run_holding_its_own_culture_path_is_the_run_itself() -> None:
    """Holding a scenario's culture on the path it takes anyway changes nothing, bit for bit."""
    sc = small("coaching_high")
    own = run_replication(sc, 2, SEED)
    held = run_replication(sc, 2, SEED, culture_from=sc)
    pd.testing.assert_frame_equal(own[0], held[0])
    pd.testing.assert_frame_equal(own[1], held[1])


def test_a_held_run_follows_the_baseline_path_week_by_week() -> None:
    base, var = small("baseline"), small("best_practice")
    path = culture_path(base, 0, SEED)
    sf = SalesForce(var, SEED, 0, culture_path=path)
    sf.run()
    np.testing.assert_array_equal(np.array(sf.culture_trace), path[: len(sf.culture_trace)])
    free = SalesForce(var, SEED, 0)
    free.run()
    assert not np.array_equal(np.array(free.culture_trace), path)


def test_a_path_for_another_number_of_teams_is_refused() -> None:
    with pytest.raises(ValueError, match="3 teams"):
        SalesForce(small("baseline"), SEED, 0, culture_path=np.zeros((10, 4)))


def test_compare_splits_each_effect_into_direct_and_culture_parts(tmp_path) -> None:
    """direct + via culture = the whole difference, replication by replication; a variant with
    another number of teams has no split."""
    other = small("baseline", **{"organisation.managers": 2}).replace(name="fewer_teams")
    c = compare(
        [small("baseline"), small("best_practice"), other],
        replications=3,
        seed=SEED,
        workers=1,
        cache=tmp_path,
        culture_split=True,
    )
    s = c.summary
    assert set(SPLIT_COLUMNS) <= set(s.columns)
    bp = s[s["scenario"] == "best_practice"]
    np.testing.assert_allclose(bp["direct"] + bp["mediated"], bp["diff"], rtol=1e-9, atol=1e-9)
    assert bp.set_index("metric").loc[["revenue", "pct_at_quota", "turnover"], "direct"].notna().all()
    assert s[s["scenario"].isin(["baseline", "fewer_teams"])]["direct"].isna().all()
    assert set(c.direct["scenario"]) == {"best_practice"}
    # from the cache, the same split
    again = compare(
        [small("baseline"), small("best_practice"), other],
        replications=3,
        seed=SEED,
        workers=1,
        cache=tmp_path,
        culture_split=True,
    )
    assert again.meta["computed_replications"] == 0
    pd.testing.assert_frame_equal(again.summary, s)
    # without the split, no split columns and no held runs
    plain = compare(
        [small("baseline"), small("best_practice")], replications=3, seed=SEED, workers=1, cache=tmp_path
    )
    assert "direct" not in plain.summary and plain.direct is None
