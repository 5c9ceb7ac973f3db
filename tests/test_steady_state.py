"""A replication starts at steady state; the warm-up runs under the warm-up policy (transition mode).

Seeded open pipelines match the plan's benchmark inventory at stationary ages, tenures follow their
stationary distribution, no trailing window reads before time 0, and a policy switch re-derives the
same people and managers from the same draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from salessim.cli import main
from salessim.experiments import compare
from salessim.model import SalesForce, outlook
from salessim.model import policy as policy_mod
from salessim.model.clock import Clock
from salessim.model.deals import FIXED_COLS
from salessim.model.people import PERSON_DRAWS
from salessim.model.steady import tenure_hazard
from salessim.rng import STREAMS, stream
from salessim.scenario import load_scenario
from salessim.simulate import simulate

TINY = {
    "extends": "baseline",
    "name": "tiny",
    "organisation": {"managers": 2, "span": 4},
    "simulation": {"warmup_days": 182, "horizon_days": 365},
}
BUSY = {
    **TINY,
    "name": "busy",
    "reviews": {"cadence": "monthly"},
    "metrics": "stage",
    "coaching": {"targeting": "gap_targeted", "joint_call_hours_per_week": 8},
    "prescription": {"enabled": True},
    "goals": [{"metric": "revenue", "weight": 1.0}],
    "managers": {"promotion": True, "training": "trained", "unified_approach": True},
    "crm": {"adoption": 1.0},
}


def _forces(sc: dict, replications: int, seed: int = 7) -> list[SalesForce]:
    s = load_scenario(sc)
    return [SalesForce(s, seed, r) for r in range(replications)]


def _frames_equal(a, b) -> None:
    for table in ("periods", "reps"):
        pd.testing.assert_frame_equal(
            getattr(a, table).drop(columns="scenario"), getattr(b, table).drop(columns="scenario")
        )


# ------------------------------------------------------------------------------------------
# steady-state start
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def started() -> list[SalesForce]:
    """Four replications of the baseline (80 seats each), built but not run."""
    return _forces({"extends": "baseline"}, 4)


def test_seeded_pipelines_hold_the_plans_benchmark_inventory(started) -> None:
    """Reps in seat for over a year hold the benchmark; a recent hire holds only deals opened since."""
    inv = started[0].plan.stages["inventory"].to_numpy()
    counts = np.vstack(
        [
            np.bincount(
                sf.book.seat[sf.book.open_idx] * sf.S + sf.book.stage[sf.book.open_idx], minlength=sf.N * sf.S
            ).reshape(sf.N, sf.S)[sf.hire_time < -365]
            for sf in started
        ]
    )
    assert counts.shape[0] > 200
    for sf in started:
        o = sf.book.open_idx
        assert np.all(sf.book.created[o] >= sf.hire_time[sf.book.seat[o]])
    se = np.sqrt(inv / counts.shape[0])  # Poisson counts per seat and stage
    assert np.all(np.abs(counts.mean(axis=0) - inv) < 4 * se), (counts.mean(axis=0), inv)


def test_seeded_deals_are_at_stationary_ages(started) -> None:
    """A deal found in a stage has a residual stay of mean m(1 + cv²)/2, and has been there as long."""
    for s in range(started[0].S):
        rem, age = [], []
        for sf in started:
            b = sf.book
            o = b.open_idx[b.stage[b.open_idx] == s]
            rem.append(b.next_time[o])
            age.append(-b.stage_t[o, s])
            assert np.all(b.created[o] <= b.stage_t[o, s]) and np.all(b.stage_t[o, s] <= 0)
            assert np.all(b.next_time[o] > 0) and np.all(b.status[o] == 0)
        st = started[0].sc.funnel.stages[s]
        target = st.mean_days * (1 + st.cv**2) / 2
        for x in (np.concatenate(rem), np.concatenate(age)):
            assert abs(x.mean() - target) < 4 * x.std(ddof=1) / np.sqrt(x.size), (s, x.mean(), target)


def test_starting_reps_are_reps_of_the_settled_sales_force(started) -> None:
    """Each seat's starting rep carries the skill, tenure, review streak, coached skill, burnout,
    quarters behind, flags in a row and skill by stage of the row of the settled sales force its
    own skill draw ranks it at; each team starts at the mean culture its reps' teams had."""
    sf = started[0]
    pop = sf.population
    assert pop is not None and len(pop.rows) > 500
    cultures = np.zeros(sf.N)
    for k in range(sf.N):
        row = pop.draw(float(sf.person_u[k][0]))
        z, tenure, streak, gain, burnout, behind, cultures[k], flags = row[:8]
        assert sf.zskill[k] == z and sf.theta0[k] == sf.sc.reps.skill_sd * z
        assert sf.hire_time[k] == -tenure
        assert sf.gain[k] == gain and sf.burnout[k] == burnout and sf.behind[k] == int(behind)
        np.testing.assert_array_equal(sf.stage_dev[k], row[8:])
        assert len(row) == 8 + sf.S
        if np.isnan(streak):
            assert not sf.flag[k] and np.isnan(sf.flag_since[k])
        else:
            assert sf.flag[k] and sf.flag_since[k] == -streak and sf.flag_streak[k] == flags
    team = np.bincount(sf.seat_manager, weights=cultures) / np.bincount(sf.seat_manager)
    np.testing.assert_allclose(sf.culture, team, rtol=1e-12)
    # the same draw finds a rep of the same rank: the rows are ordered by skill
    z = np.array([row[0] for row in pop.rows])
    assert np.all(np.diff(z) >= 0)


def _mean_gap(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Difference of means and its standard error (Welch)."""
    return float(x.mean() - y.mean()), float(np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size))


def test_the_settled_sales_force_puts_its_weaker_reps_on_plans_and_built_skill(started) -> None:
    """Years of reviews, leaving and coaching: the reps on a performance plan are the less skilled,
    some are still ramping, and coaching has built skill. A rep the chained pilots kept appears once
    per pilot that drew them, so the difference is taken over distinct people, at four standard
    errors."""
    rows = np.array(started[0].population.rows)
    _, first = np.unique(rows[:, :2].round(9), axis=0, return_index=True)
    people = rows[np.sort(first)]
    z, on_plan = people[:, 0], np.isfinite(people[:, 2])
    gap, se = _mean_gap(z[~on_plan], z[on_plan])
    assert gap > 4 * se, (gap, se)
    assert 0.05 < on_plan.mean() < 0.8
    assert rows[:, 3].mean() > 0.01
    ramp = started[0].sc.attrition.ramp_days
    assert 0 < np.mean(rows[:, 1] < ramp) < 0.3


def test_by_hand_tenures_follow_the_stationary_distribution() -> None:
    """With a hazard scale given by hand there is no settled sales force: starting tenures are
    exponential at the on-pace hazard, skill is the hiring distribution, coached skill what an even
    share of the team's coaching has built."""
    s = load_scenario({"extends": "baseline"})
    forces = [SalesForce(s, 7, r, hazard_scale=0.05) for r in range(4)]
    assert forces[0].population is None
    tenure = np.concatenate([-sf.hire_time / 365.0 for sf in forces])
    mean = 1.0 / tenure_hazard(forces[0])
    assert abs(tenure.mean() - mean) < 4 * mean / np.sqrt(tenure.size)
    # some starting reps are still ramping, as in any going concern
    ramp = forces[0].sc.attrition.ramp_days / 365.0
    assert 0 < np.mean(tenure < ramp) < 0.2
    z = np.concatenate([sf.zskill for sf in forces])
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    gain = np.concatenate([sf.gain for sf in forces])
    assert np.all(gain >= 0) and gain.mean() > 0
    assert not any(sf.flag.any() for sf in forces)


def test_seeded_deals_are_common_random_numbers_and_leave_other_streams_alone() -> None:
    a = _forces({**TINY, "simulation": {"mode": "steady_state"}}, 1)[0]
    b = _forces(
        {
            **TINY,
            "simulation": {"mode": "steady_state"},
            "reviews": {"cadence": "monthly"},
            "coaching": {"targeting": "round_robin"},
        },
        1,
    )[0]
    assert a.book.n == b.book.n > 0
    for col in ("seat", "stage", "amount", "created", "next_time", "visible", "u_stage"):
        np.testing.assert_array_equal(a.book.view(col), b.book.view(col))
    assert "seed_pipeline" in STREAMS and len(set(STREAMS.values())) == len(STREAMS)
    for k in range(a.N):  # deal and people streams start where they always did
        rows = np.maximum(stream(7, 0, "deals", k).random((a.draws.BLOCK, a.draws.cols)), 1e-12)
        np.testing.assert_array_equal(a.draws.draws[k, : a.draws.BLOCK], rows)
        assert a.draws.draws.shape[2] == FIXED_COLS + 2 * a.S
        np.testing.assert_array_equal(
            a.person_u[k], np.maximum(stream(7, 0, "people", k).random(PERSON_DRAWS), 1e-12)
        )


def test_no_trailing_window_reads_before_time_zero(monkeypatch) -> None:
    seen: list[float] = []
    real = outlook.closed_revenue

    def watch(sf, t0, t1):
        seen.append(t0)
        return real(sf, t0, t1)

    monkeypatch.setattr(outlook, "closed_revenue", watch)
    quota_windows: list[float] = []
    real_quota = outlook.prorated_quota

    def watch_quota(sf, y0, y1):
        quota_windows.append(y0)
        return real_quota(sf, y0, y1)

    monkeypatch.setattr(outlook, "prorated_quota", watch_quota)

    class Watched(SalesForce):
        def _closed_revenue(self, t0: float, t1: float) -> np.ndarray:
            seen.append(t0)
            return super()._closed_revenue(t0, t1)

    sc = load_scenario(
        {
            **TINY,
            "reviews": {"cadence": "monthly"},
            "metrics": "stage",
            "simulation": {"warmup_days": 100, "horizon_days": 365, "mode": "steady_state"},
        }
    )
    Watched(sc, 3, 0).run()
    assert len(seen) > 50 and min(seen) >= 0.0
    assert min(quota_windows) >= 0.0
    assert Clock(100.0, 365.0).year_window(50.0) == (0.0, 100.0)


def test_no_first_review_artefact() -> None:
    """The first review after the start flags no more reps than reviews a year later."""
    sc = {
        "extends": "baseline",
        "reviews": {"cadence": "quarterly"},
        "simulation": {"warmup_days": 0, "horizon_days": 730, "mode": "steady_state"},
    }
    r = simulate(sc, replications=2, seed=4).reps
    q = r[(r["period"] == "Q1") & r["full_period"]]
    first, later = q[q["year"] == 1]["gap_flagged"], q[q["year"] == 2]["gap_flagged"]
    p = (first.sum() + later.sum()) / (first.size + later.size)
    se = np.sqrt(p * (1 - p) * (1 / first.size + 1 / later.size))
    assert first.mean() - later.mean() < 3 * se, (first.mean(), later.mean())


# ------------------------------------------------------------------------------------------
# modes and the policy switch
# ------------------------------------------------------------------------------------------
def test_the_baseline_gives_identical_results_in_both_modes() -> None:
    runs = [
        simulate({**TINY, "simulation": {**TINY["simulation"], "mode": m}}, replications=2, seed=9)
        for m in ("transition", "steady_state")
    ]
    _frames_equal(*runs)


def test_switching_to_the_same_policy_changes_nothing() -> None:
    """A warm-up under the scenario's own levers, then a switch to them, is the steady state: every
    policy-dependent quantity is re-derived from the same draws (promotion made once)."""
    tr = simulate(
        {**BUSY, "simulation": {**BUSY["simulation"], "mode": "transition"}},
        replications=2,
        seed=9,
        warmup=BUSY,
    )
    ss = simulate(
        {**BUSY, "simulation": {**BUSY["simulation"], "mode": "steady_state"}}, replications=2, seed=9
    )
    _frames_equal(tr, ss)


def test_transition_runs_the_warm_up_under_the_baseline_policy(monkeypatch) -> None:
    from salessim.drivers import reviews

    applied: list[tuple[float, str]] = []
    real_apply = policy_mod.apply

    def watch_apply(sf, sc):
        applied.append((sf.env.now, sc.reviews.cadence))
        real_apply(sf, sc)

    monkeypatch.setattr(policy_mod, "apply", watch_apply)
    dates: list[float] = []
    real_round = reviews.review_round

    def watch_round(sf):
        dates.append(sf.env.now)
        return real_round(sf)

    monkeypatch.setattr(reviews, "review_round", watch_round)
    sim = {"warmup_days": 365, "horizon_days": 365}
    SalesForce(
        load_scenario(
            {**TINY, "reviews": {"cadence": "monthly"}, "simulation": {**sim, "mode": "transition"}}
        ),
        1,
        0,
        hazard_scale=0.05,
    ).run()
    assert applied == [(0.0, "annual"), (365.0, "monthly")]
    assert min(dates) == 365.0 and len(dates) == 13  # monthly from the switch, none before it
    applied.clear()
    dates.clear()
    SalesForce(
        load_scenario(
            {**TINY, "reviews": {"cadence": "monthly"}, "simulation": {**sim, "mode": "steady_state"}}
        ),
        1,
        0,
        hazard_scale=0.05,
    ).run()
    assert applied == [(0.0, "monthly")] and len(dates) == 24 and min(dates) < 31


def test_warmup_policy_lays_the_driver_sections_over_the_scenario() -> None:
    sc = load_scenario(
        {
            **BUSY,
            "organisation": {"managers": 3, "span": 5, "quota": 900000},
            "reps": {"skill_sd": 0.3},
            "managers": {"hours_per_week": 50, "training": "trained"},
        }
    )
    warm = policy_mod.warmup_policy(sc)
    base = load_scenario("baseline")
    assert warm is not None and warm.name == sc.name
    for key in policy_mod.DRIVER_SECTIONS:
        assert getattr(warm, key) == getattr(base, key)
    assert warm.managers.training == "none" and warm.managers.hours_per_week == 50
    assert (warm.reps, warm.funnel, warm.attrition, warm.simulation) == (
        sc.reps,
        sc.funnel,
        sc.attrition,
        sc.simulation,
    )
    # the quota is part of the pay plan: the baseline's (the funnels agree), on this sales force
    assert warm.organisation == sc.organisation.model_copy(update={"quota": base.organisation.quota})
    # the source's goals name product B; a company without it keeps its own goals in the warm-up
    own = load_scenario(
        {
            "name": "own",
            "goals": [{"metric": "revenue", "weight": 1.0}],
            "funnel": {"products": {"X": {"share": 1.0, "amount_median": 30000}}},
        }
    )
    w2 = policy_mod.warmup_policy(own)
    assert w2 is not None and w2.goals == own.goals and w2.reviews == base.reviews
    assert (
        policy_mod.warmup_policy(
            load_scenario({"extends": "baseline", "simulation": {"mode": "steady_state"}})
        )
        is None
    )
    assert (
        policy_mod.warmup_policy(load_scenario({"extends": "baseline", "simulation": {"warmup_days": 0}}))
        is None
    )


def test_compare_warms_every_scenario_up_under_its_baseline(tmp_path: Path) -> None:
    base = {**TINY, "name": "no_coaching", "coaching": {"targeting": "none"}}
    variant = {**TINY, "name": "coached", "coaching": {"targeting": "gap_targeted"}}
    comp = compare([base, variant], replications=2, seed=5, workers=1, cache=tmp_path / "c")
    again = compare([base, variant], replications=2, seed=5, workers=1, cache=tmp_path / "c")
    assert again.meta["computed_replications"] == 0
    got = comp.results.periods[comp.results.periods["scenario"] == "coached"].reset_index(drop=True)
    want = simulate(variant, replications=2, seed=5, warmup=base).periods
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    library = simulate(variant, replications=2, seed=5).periods
    assert not np.allclose(got["revenue"], library["revenue"])
    # a different warm-up policy is a different cache entry
    other = compare(
        [base, variant], replications=2, seed=5, workers=1, cache=tmp_path / "c", warmup="baseline"
    )
    assert other.meta["computed_replications"] == 4


@pytest.mark.slow
def test_a_slow_lever_shows_less_in_year_one_of_a_transition() -> None:
    """Coached skill builds over months: in transition mode coaching_high's first reported year
    gains less than in the steady state (the baseline is the same in both modes, so the paired
    difference of the variant's revenue is the difference of the two effects)."""
    R = 16
    runs = {
        m: simulate({"extends": "coaching_high", "simulation": {"mode": m}}, replications=R, seed=21)
        .year()["revenue"]
        .to_numpy()
        for m in ("transition", "steady_state")
    }
    d = runs["steady_state"] - runs["transition"]
    se = d.std(ddof=1) / np.sqrt(R)
    assert d.mean() > stats.t.ppf(0.975, R - 1) * se, (d.mean(), se)


def test_a_mode_that_does_not_exist_is_refused(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "mode.yaml"
    f.write_text("extends: baseline\nsimulation:\n  mode: sometimes\n", encoding="utf-8")
    assert main(["simulate", str(f), "-r", "1"]) == 2
    err = capsys.readouterr().err
    assert "mode.yaml" in err and "`simulation.mode` = 'sometimes'" in err
    assert "transition" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------
# stationarity
# ------------------------------------------------------------------------------------------
#: Bound on the trend of baseline quarterly revenue, per quarter, relative to its mean.
MAX_TREND = 0.005


def quarterly_trend(replications: int, seed: int) -> tuple[float, float]:
    """Mean and standard error over replications of the baseline's revenue trend over 3 years.

    Per replication: the least-squares slope of its 12 quarterly revenues on the quarter index,
    divided by their mean (share of revenue per quarter).
    """
    res = simulate(
        {"extends": "baseline", "simulation": {"horizon_days": 1095}}, replications=replications, seed=seed
    )
    q = res.periods[res.periods["period"] != "year"].sort_values(["replication", "year", "period"])
    rev = q["revenue"].to_numpy().reshape(replications, 12)
    slopes = np.array([np.polyfit(np.arange(12.0), y, 1)[0] / y.mean() for y in rev])
    return float(slopes.mean()), float(slopes.std(ddof=1) / np.sqrt(replications))


@pytest.mark.slow
def test_baseline_quarterly_revenue_has_no_trend_over_three_years() -> None:
    """The 95 % interval of the trend lies within ±0.5 % of revenue per quarter."""
    R = 48
    mean, se = quarterly_trend(R, seed=1)
    half = stats.t.ppf(0.975, R - 1) * se
    assert abs(mean) + half <= MAX_TREND, f"trend {mean:+.3%} ± {half:.3%} per quarter"
