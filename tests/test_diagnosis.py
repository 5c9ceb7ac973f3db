"""Reviews that diagnose (driver 7 with drivers 3, 4 and 6): what a flag leads to.

Every rep has a skill per stage. Stage metrics name the stage the CRM shows a flagged rep weakest
at, right more often the more deals are logged; the corrective plan's joint calls go to that stage
and close part of the rep's shortfall there. Without a stage view the plan names none and the
calls go to the rep's most advanced deal. Each comparison is paired (same seed and replications).
"""

from __future__ import annotations

import numpy as np
import pytest

from salessim.model import SalesForce
from salessim.model.people import stage_deviations
from salessim.scenario import Scenario, load_scenario
from salessim.simulate import simulate
from salessim.stats import mean_ci

SEED = 515
#: a small sales force whose every rep is coached on gaps, reviewed monthly, from the start
BASE: Scenario = load_scenario("coaching_high").replace(
    **{
        "organisation.managers": 4,
        "reviews.cadence": "monthly",
        "simulation.mode": "steady_state",
    }
)


def _year(res, col: str) -> np.ndarray:
    y = res.periods[res.periods["period"] == "year"].sort_values("replication")
    return y[col].to_numpy(dtype=float)


def test_stage_deviations_have_the_set_spread_and_sum_to_zero() -> None:
    rng = np.random.default_rng(4)
    devs = np.array([stage_deviations(rng.standard_normal(3), 0.3) for _ in range(20_000)])
    np.testing.assert_allclose(devs.sum(axis=1), 0.0, atol=1e-12)
    # sd of each stage's deviation: 0.3, within 4 standard errors of a sample sd (≈ sd/√(2n))
    se = 0.3 / np.sqrt(2 * devs.shape[0])
    assert np.all(np.abs(devs.std(axis=0) - 0.3) < 4 * se), devs.std(axis=0)
    np.testing.assert_array_equal(stage_deviations(np.array([1.3]), 0.3), [0.0])


def test_a_stage_skill_moves_only_its_own_stage() -> None:
    """A rep's deviation in a stage enters that stage's log-odds and no other."""
    sc = BASE.replace(**{"reps.stage_skill_sd": 0.5})
    sf = SalesForce(sc, SEED, 0)
    sf._refresh_theta()
    k = int(np.flatnonzero(sf.active)[0])
    np.testing.assert_allclose(sf.stage_theta[k], sf.theta_eff[k] + sf.stage_dev[k])
    assert abs(sf.stage_dev[k].sum()) < 1e-12 and np.ptp(sf.stage_dev[k]) > 0


@pytest.mark.slow
def test_stage_metrics_name_the_weak_stage_more_often_than_outcome_metrics() -> None:
    """Stage metrics vs outcomes: higher diagnosis accuracy (with monthly reviews both see a gap
    within weeks, so the detection lag is the validation table's matter, at annual reviews)."""
    reps = 12
    out = simulate(BASE, replications=reps, seed=SEED)
    stage = simulate(BASE.replace(**{"metrics": "stage"}), replications=reps, seed=SEED)
    acc = mean_ci(_year(stage, "diagnosis_accuracy") - _year(out, "diagnosis_accuracy"))
    assert acc.low > 0, acc


@pytest.mark.slow
def test_more_logged_deals_make_the_diagnosis_more_accurate() -> None:
    """The stage a review names comes from logged deals only: a CRM that holds few of them
    (no inspection lift, low adoption) names the right stage less often than a complete one."""
    reps = 12
    sc = BASE.replace(**{"metrics": "stage", "crm.inspection_lift": 0.0})
    sparse = simulate(sc.replace(**{"crm.adoption": 0.2}), replications=reps, seed=SEED)
    full = simulate(sc.replace(**{"crm.adoption": 1.0}), replications=reps, seed=SEED)
    acc = mean_ci(_year(full, "diagnosis_accuracy") - _year(sparse, "diagnosis_accuracy"))
    assert acc.low > 0, acc


@pytest.mark.slow
def test_calls_aimed_at_the_diagnosed_stage_close_the_weakest_stage() -> None:
    """With stage metrics the corrective plan's calls go to the rep's weak stage, so after a
    year the reps' weakest-stage shortfall is smaller than when calls go to the closing stage."""

    def weakest(sc: Scenario) -> np.ndarray:
        out = []
        for r in range(8):
            sf = SalesForce(sc, SEED, r)
            sf.run()
            act = sf.active
            out.append(sf.stage_dev[act].min(axis=1).mean())
        return np.array(out)

    gap = mean_ci(weakest(BASE.replace(**{"metrics": "stage"})) - weakest(BASE))
    assert gap.low > 0, gap  # less negative: shortfalls closed
