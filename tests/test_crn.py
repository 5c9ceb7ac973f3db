"""Common random numbers: replication r of every scenario meets the same people, the same deals and
the same luck, so scenarios can be paired rep by rep and deal by deal; changing one lever never
shifts the draws of another process (docs/model.md#randomness-and-common-random-numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from salessim.drivers import training
from salessim.model import PROMOTED, SalesForce, hazard
from salessim.scenario import Scenario, load_scenario
from salessim.simulate import simulate

SEED = 424242
SMALL = {
    "organisation.managers": 3,
    "organisation.span": 5,
    "simulation.warmup_days": 90,
    "simulation.horizon_days": 180,
}


def small(name: str, **changes) -> Scenario:
    """A library scenario on a 15-rep sales force over 90 + 180 days, with extra overrides."""
    return load_scenario(name).replace(**SMALL, **changes)


VARIANTS = [
    "baseline",
    "goals_focused",
    "goals_many",
    "prescription",
    "metrics_stage",
    "crm_full",
    "managers_trained",
    "coaching_none",
    "coaching_high",
    "reviews_quarterly",
    "reviews_monthly",
    "best_practice",
]


@pytest.mark.parametrize("replication", [0, 3])
def test_starting_reps_are_the_same_people_in_every_scenario(replication: int) -> None:
    """Seat k of replication r starts with the same person — skill, planning bias, tenure — in every
    library scenario; a trained manager is the same manager, trained."""
    ref = SalesForce(small("baseline"), SEED, replication)
    for name in VARIANTS:
        sf = SalesForce(small(name), SEED, replication)
        np.testing.assert_array_equal(sf.zskill, ref.zskill, err_msg=name)
        np.testing.assert_array_equal(sf.theta0, ref.theta0, err_msg=name)
        np.testing.assert_array_equal(sf.bias, ref.bias, err_msg=name)
        np.testing.assert_array_equal(sf.hire_time, ref.hire_time, err_msg=name)
        mg = sf.sc.managers
        mean = mg.quality_trained if mg.training == "trained" else mg.quality_untrained
        sd = mg.quality_sd * (mg.unified_sd_factor if mg.unified_approach else 1.0)
        z = (sf.quality - mean) / sd
        z_ref = (ref.quality - ref.sc.managers.quality_untrained) / ref.sc.managers.quality_sd
        inside = (sf.quality > 0.05) & (sf.quality < 1.0) & (ref.quality > 0.05)
        np.testing.assert_allclose(z[inside], z_ref[inside], atol=1e-12, err_msg=name)
    # a wider skill spread settles into another sales force, but each seat's rep keeps their rank;
    # drawn as hires (no settled sales force), they are the same people stretched
    # (two seats may draw the same settled rep, a tie in one sales force and not in the other:
    # the order holds weakly both ways)
    wide = SalesForce(small("baseline", **{"reps.skill_sd": 0.9}), SEED, replication)
    assert np.all(np.diff(wide.zskill[np.lexsort((wide.zskill, ref.zskill))]) >= 0)
    assert np.all(np.diff(ref.zskill[np.lexsort((ref.zskill, wide.zskill))]) >= 0)
    hires = [
        SalesForce(small("baseline", **{"reps.skill_sd": sd}), SEED, replication, hazard_scale=0.05)
        for sd in (0.45, 0.9)
    ]
    np.testing.assert_allclose(hires[1].theta0, 2 * hires[0].theta0, rtol=1e-12)
    other = SalesForce(small("baseline"), SEED, replication + 1)
    assert not np.any(other.zskill == ref.zskill)


def test_promotion_replaces_only_the_promoted_seats() -> None:
    """Promoting each team's top rep (a new manager for every team) changes who sits in those
    seats and no one else (in steady-state mode, so the policy holds from time 0)."""
    steady = {"simulation.mode": "steady_state"}
    plain = SalesForce(small("baseline", **steady), SEED, 0)
    promo = SalesForce(small("baseline", **steady, **{"managers.promotion": True}), SEED, 0)
    for m in range(promo.M):
        training.replace_manager(promo, m)
    promoted = np.array(promo.p_seat)[np.array(promo.p_exit) == PROMOTED]
    assert promoted.size == promo.M
    for m in range(promo.M):  # the promoted rep was the team's most skilled
        team = np.flatnonzero(plain.seat_manager == m)
        assert promoted[m] == team[np.argmax(plain.theta0[team])]
    keep = np.setdiff1d(np.arange(promo.N), promoted)
    np.testing.assert_array_equal(promo.theta0[keep], plain.theta0[keep])
    np.testing.assert_array_equal(promo.seat_person[keep], plain.seat_person[keep])
    assert np.all(promo.seat_person[promoted] == -1) and not promo.active[promoted].any()


def test_starting_reps_pair_in_the_reps_table_when_coaching_is_off() -> None:
    """rep_id k is the same starting person in every scenario: with coaching off in both (so no
    warm-up coaching gains enter skill_start), their skill at the start of the year is equal."""
    a = simulate(small("coaching_none"), replications=2, seed=SEED).reps
    b = simulate(
        small(
            "coaching_none",
            **{
                "reviews.cadence": "monthly",
                "goals.items": [{"metric": "revenue", "weight": 1.0}],
                "prescription.enabled": True,
            },
        ),
        replications=2,
        seed=SEED,
    ).reps
    n_seats = small("coaching_none").n_reps
    key = ["replication", "rep_id"]
    ya = a[(a["period"] == "year") & (a["rep_id"] < n_seats)].set_index(key)["skill_start"]
    yb = b[(b["period"] == "year") & (b["rep_id"] < n_seats)].set_index(key)["skill_start"]
    # (a rep let go before the year in one scenario has no skill at its start there)
    both = ya.dropna().index.intersection(yb.dropna().index)
    assert len(both) >= n_seats  # most starting reps are still in seat in both
    np.testing.assert_array_equal(ya[both].to_numpy(), yb[both].to_numpy())
    assert ya[both].nunique() == len(both)  # distinct people, not a constant


def _deals_by_seat_row(sf: SalesForce) -> pd.DataFrame:
    """The book keyed by (creator's seat, row of that seat's deal stream).

    Deals created by prospecting only: the open deals seeded at time 0 come from another stream
    (tests/test_steady_state.py pairs them). ``amount`` is the value the deal opened with (a deal
    pulled into a period end books less).
    """
    b = sf.book
    n = b.n
    creator = b.creator[:n]
    df = pd.DataFrame(
        {
            "seat": np.array(sf.p_seat)[creator],
            "row": b.seat_row[:n],
            "creator": creator,
            "created": b.created[:n],
            "amount": b.list_amount[:n],
            "segment": b.segment[:n],
            "product": b.product[:n],
            "u_visible": b.u_visible[:n],
            "u_reassign": b.u_reassign[:n],
            "status": b.status[:n],
            "closed": b.closed[:n],
        }
    )
    for s in range(b.stages):
        df[f"u_stage{s}"] = b.u_stage[:n, s]
        df[f"u_dur{s}"] = b.u_dur[:n, s]
    return df[df["row"] >= 0].set_index(["seat", "row"]).sort_index()


DRAW_COLS = [
    "amount",
    "segment",
    "product",
    "u_visible",
    "u_reassign",
    "u_stage0",
    "u_stage1",
    "u_stage2",
    "u_dur0",
    "u_dur1",
    "u_dur2",
]


def test_a_seats_deals_are_the_same_opportunities_when_reviews_change() -> None:
    """Changing a non-deal lever (review cadence) leaves the j-th deal of seat k the same deal —
    same amount, segment, product and every later draw — when the same person opens it."""
    runs = {}
    for cadence in ("annual", "monthly"):
        sf = SalesForce(small("baseline", **{"reviews.cadence": cadence}), SEED, 1)
        sf.run()
        runs[cadence] = sf
    a, b = (_deals_by_seat_row(runs[c]) for c in ("annual", "monthly"))
    n_seats = runs["annual"].N
    a = a[a["creator"] < n_seats]  # opened by the seat's starting person…
    b = b[b["creator"] < n_seats]
    both = a.index.intersection(b.index)  # …in both scenarios
    assert len(both) > 0.8 * len(a)
    first = [(k, j) for k in range(n_seats) for j in range(10)]
    assert set(first) <= set(both)  # every seat's first ten deals
    assert_frame_equal(a.loc[both, DRAW_COLS], b.loc[both, DRAW_COLS])
    assert not np.array_equal(a.loc[both, "created"], b.loc[both, "created"])  # the run did change


def test_a_seats_deal_stream_does_not_shift_when_other_processes_draw_more() -> None:
    """Heavy attrition and promotions draw many more people and vacancy numbers; seat k's deal
    stream is untouched: identical pre-drawn rows, and up to the seat's first departure the very
    same deals at the very same times with the very same outcomes. (Levers that couple seats are
    held still: no coaching, hours to spare, so deals handed over by leaving teammates take no
    attention from a rep's own deals, no drive or period-end games, and no ramp, since starting
    tenures are drawn at each scenario's own attrition rate; these levers hold from time 0, in
    steady-state mode.)"""
    quiet = {
        "prescription.enabled": True,
        "culture.effort_sensitivity": 0.0,
        "coaching.targeting": "none",
        "coaching.joint_call_hours_per_week": 0.0,
        "reviews.involuntary_annual": 0.0,
        "reps.hours_per_week": 80.0,
        "reps.non_selling_share": 0.0,
        "reps.max_extra_hours": 0.0,
        "comp.period_end_days": 0.0,
        "motivation.give_up_below": 0.0,
        "attrition.ramp_days": 0,
        "simulation.mode": "steady_state",
    }
    a = SalesForce(small("baseline", **quiet, **{"attrition.voluntary_annual": 0.0}), SEED, 2)
    # a harsh culture makes reps leave far more often than the baseline's realised rate (both start
    # from a fresh draw of the same hires, not from their own settled sales forces)
    harsh = small(
        "baseline",
        **quiet,
        **{
            "attrition.voluntary_annual": 0.9,
            "culture.attrition_sensitivity": 10.0,
            "culture.initial": 0.3,
            "culture.enabled": False,
            "managers.promotion": True,
        },
    )
    b = SalesForce(harsh, SEED, 2, hazard_scale=hazard.hazard_scale(harsh))
    rec_a, rec_b = a.run(), b.run()
    assert len(rec_b.person_seat) > 2 * len(rec_a.person_seat)  # b drew many more people
    rows = min(a.draws.draws.shape[1], b.draws.draws.shape[1])
    np.testing.assert_array_equal(a.draws.draws[:, :rows], b.draws.draws[:, :rows])
    np.testing.assert_array_equal(a.draws.cum_gap[:, :rows], b.draws.cum_gap[:, :rows])

    da, db = _deals_by_seat_row(a), _deals_by_seat_row(b)
    first_leave = pd.Series(rec_b.person_leave).groupby(rec_b.person_seat).min()
    db = db[db["created"].to_numpy() < first_leave.reindex(db.index.get_level_values("seat")).to_numpy()]
    assert len(db) > 100
    cols = [*DRAW_COLS, "created"]
    assert_frame_equal(da.loc[db.index, cols], db[cols])
    # deals that also closed before their seat's first departure closed the same way
    closed_early = db["closed"].to_numpy() < first_leave.reindex(db.index.get_level_values("seat")).to_numpy()
    assert closed_early.sum() > 50
    idx = db.index[closed_early]
    assert_frame_equal(da.loc[idx, ["status", "closed"]], db.loc[idx, ["status", "closed"]])


def test_the_nth_person_in_a_seat_is_the_same_whatever_the_attrition() -> None:
    """Backfills draw from the seat's own people stream: the n-th person hired into seat k has the
    same skill however often other seats turn over."""
    hires = []
    for scale in (2.0, 4.0):  # leaving hazards set by hand: most seats turn over at least once
        rec = SalesForce(small("baseline"), SEED, 0, hazard_scale=scale).run()
        df = pd.DataFrame({"seat": rec.person_seat, "theta": rec.person_theta_hire, "hire": rec.person_hire})
        df["nth"] = df.sort_values("hire").groupby("seat").cumcount()
        hires.append(df[df["nth"] >= 1].set_index(["seat", "nth"])["theta"])
    both = hires[0].index.intersection(hires[1].index)
    assert len(both) >= 5
    np.testing.assert_array_equal(hires[0][both].to_numpy(), hires[1][both].to_numpy())


def test_same_seed_gives_identical_tables_and_other_seeds_do_not() -> None:
    sc = small("baseline")
    one = simulate(sc, replications=2, seed=SEED, deals=True)
    two = simulate(sc, replications=2, seed=SEED, deals=True)
    assert_frame_equal(one.reps, two.reps)
    assert_frame_equal(one.periods, two.periods)
    assert_frame_equal(one.deals, two.deals)
    other = simulate(sc, replications=2, seed=SEED + 1, deals=True)
    assert not one.reps["revenue"].equals(other.reps["revenue"])
    assert not one.periods["revenue"].equals(other.periods["revenue"])
    # deal amounts (rounded to cents) may coincide by chance, but only rarely
    a, b = set(one.deals["amount"]), set(other.deals["amount"])
    assert len(a) > 1000 and len(a & b) < 0.01 * len(a)
    # and within one seed, replications are independent draws too
    r0, r1 = (set(one.deals.loc[one.deals["replication"] == r, "amount"]) for r in (0, 1))
    assert len(r0 & r1) < 0.01 * len(r0)
