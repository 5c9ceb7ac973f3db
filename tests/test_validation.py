"""The validation table (docs/model.md#validation), row by row: the defaults must reproduce it.

Every row is measured five times, each one seeded run of the scenario library under common random
numbers: year 1 of each change (``transition``, the reports' mode; 64 replications), and the
policy in force from the start (``steady_state``) on two seeds × two warm-up lengths (16
replications each). Each row checks the point estimate against the published target range; the
transition run also checks that the replications resolve the range (its 95 % CI must be narrower
than the range itself). A row the model does not reproduce is a strict expected failure with its
figures: it fails here as soon as it starts to hold.
"""

import functools
import math

import pytest

from salessim.validation import ValidationRow, validation_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("validation")]

REPLICATIONS = 64
SEED = 20261127
#: steady-state runs: (seed, warm-up days), 32 replications each
STEADY = [(20261127, 365), (20261127, 730), (20261128, 365), (20261128, 730)]
STEADY_REPLICATIONS = 16


@pytest.fixture(scope="module")
def rows():
    return {r.quantity: r for r in validation_table(REPLICATIONS, SEED)}


@functools.cache
def steady_rows(seed: int, warmup: int) -> dict[str, ValidationRow]:
    return {
        r.quantity: r
        for r in validation_table(STEADY_REPLICATIONS, seed, mode="steady_state", warmup_days=warmup)
    }


QUANTITIES = [
    "overall win rate",
    "median won cycle (days)",
    "share of full-period reps at quota",
    "attainment mean − median (right skew)",
    "annual rep turnover",
    "coaching_high: middle-60 % attainment gain",
    "coaching_high: top 20% gain ÷ middle-60 % gain",
    "coaching_high: bottom 20% gain ÷ middle-60 % gain",
    "trained vs untrained managers: team revenue",
    "prescription (+ stage metrics) vs off: revenue",
    "prescription: direct part (culture frozen) − half the total",
    "2 goals vs 4: revenue",
    "2 goals vs 4: composite attainment (points)",
    "monthly vs annual reviews: voluntary attrition",
    "monthly vs annual reviews: detection lag (days)",
    "stage metrics vs outcomes: detection lag (days)",
    "stage metrics vs outcomes: forecast error (points)",
    "stage metrics vs outcomes: diagnosis accuracy (points)",
    "CRM 0.7 → 1.0 under stage metrics: forecast error (points)",
    "CRM 0.7 → 1.0 under stage metrics: detection lag (days)",
]


#: Rows the model does not reproduce from its mechanisms as they stand, with what year 1 of each
#: change measures (64 replications, seed 20261127) and why. None of them is tuned.
MISSES = {
    "attainment mean − median (right skew)": (
        "−0.017 (CI −0.030 … −0.003): the settled sales force's median rep is above quota, where "
        "reps pull deals in to make 100 %, coast past it on a 1.5× accelerator and are poached at "
        "150 % of pace, which thins the upper tail; lognormal deal sizes alone do not outweigh it"
    ),
    "coaching_high: bottom 20% gain ÷ middle-60 % gain": (
        "1.08 (CI 0.92 … 1.25): responsiveness is a bell over a rep's skill among all hires, and "
        "the settled sales force's bottom fifth — its weakest reps let go over the years — lies "
        "mostly inside the bell"
    ),
    "prescription (+ stage metrics) vs off: revenue": (
        "+1.9 % (CI +1.5 … +2.3): self-planners aim, at the median, at the funnel's own rate "
        "(`prescription.self_plan_median` 1.0, an assumption), so a prescription only removes the "
        "spread of personal bias and feast or famine; the baseline's week does not fit the plan "
        "(138 % utilisation), so prospecting past it adds deals no one can work; and under the "
        "baseline's reactive coaching the stage metrics' diagnosis steers no calls"
    ),
    "monthly vs annual reviews: voluntary attrition": (
        "−1.4 % (CI −3.0 … +0.3): a monthly flag orders corrective prospecting and a plan meeting "
        "and, after two flags and 90 days, may end in dismissal, which peers see; under reactive "
        "coaching it steers no calls. The check-in's support that Adobe credits for fewer "
        "regretted exits is not modelled beyond that"
    ),
    "CRM 0.7 → 1.0 under stage metrics: forecast error (points)": (
        "+11.1 points (CI +10.5 … +11.7), worse: in year 1 of the change managers still gross "
        "the now complete CRM up by last year's share of bookings logged; in steady state the "
        "difference is −0.6 … +0.7 points (see STEADY_MISSES) — under stage metrics managers "
        "inspect the CRM, so reps already log about 80 % of deals, and the gross-up by bookings "
        "puts the forecast's level right either way"
    ),
    "CRM 0.7 → 1.0 under stage metrics: detection lag (days)": (
        "+14.0 days (CI +11.9 … +16.0), later, for the same gross-up in year 1; in steady state "
        "−0.2 … +3.7 days: the stage estimate already sees most of a rep's pipeline"
    ),
}

#: Steady-state rows that miss on a (seed, warm-up) run: quantity → figures per run (16
#: replications), each missing for the reason in MISSES or the one given here.
STEADY_REASONS = {
    **MISSES,
    "trained vs untrained managers: team revenue": (
        "above +12 % once the policy has run for years: +13.6 … +15.3 % after a two-year warm-up, "
        "+11.5 … +12.1 % after one, +6.2 % in year 1 — trained managers' coached skill builds over "
        "years (forgetting 1 % a week, a ceiling of 0.9), so the gap keeps growing"
    ),
}
STEADY_MISSES: dict[tuple[int, int], dict[str, str]] = {
    (20261127, 365): {
        "attainment mean − median (right skew)": "−0.020 (CI −0.050 … +0.011)",
        "coaching_high: bottom 20% gain ÷ middle-60 % gain": "1.68 (CI 1.21 … 2.14)",
        "prescription (+ stage metrics) vs off: revenue": "+1.5 % (CI +0.3 … +2.7)",
        "monthly vs annual reviews: voluntary attrition": "+0.6 % (CI −2.4 … +3.5)",
        "CRM 0.7 → 1.0 under stage metrics: forecast error (points)": "+0.8 (CI −0.2 … +1.9)",
        "CRM 0.7 → 1.0 under stage metrics: detection lag (days)": "+1.3 (CI −2.8 … +5.5)",
    },
    (20261127, 730): {
        "attainment mean − median (right skew)": "−0.021 (CI −0.056 … +0.015)",
        "coaching_high: bottom 20% gain ÷ middle-60 % gain": "2.93 (CI 2.24 … 3.61)",
        "trained vs untrained managers: team revenue": "+15.3 % (CI +12.2 … +18.4)",
        "prescription (+ stage metrics) vs off: revenue": "+1.9 % (CI +0.5 … +3.2)",
        "monthly vs annual reviews: voluntary attrition": "+5.4 % (CI +1.6 … +9.2)",
    },
    (20261128, 365): {
        "attainment mean − median (right skew)": "−0.017 (CI −0.049 … +0.016)",
        "coaching_high: bottom 20% gain ÷ middle-60 % gain": "1.63 (CI 0.89 … 2.37)",
        "trained vs untrained managers: team revenue": "+12.1 % (CI +10.3 … +13.9)",
        "prescription (+ stage metrics) vs off: revenue": "+2.3 % (CI +1.2 … +3.3)",
        "monthly vs annual reviews: voluntary attrition": "+9.9 % (CI +2.4 … +17.3)",
        "CRM 0.7 → 1.0 under stage metrics: forecast error (points)": "+0.8 (CI +0.1 … +1.4)",
        "CRM 0.7 → 1.0 under stage metrics: detection lag (days)": "+0.5 (CI −3.8 … +4.8)",
    },
    (20261128, 730): {
        "attainment mean − median (right skew)": "−0.023 (CI −0.052 … +0.005)",
        "coaching_high: bottom 20% gain ÷ middle-60 % gain": "2.79 (CI 1.44 … 4.14)",
        "trained vs untrained managers: team revenue": "+13.6 % (CI +11.6 … +15.6)",
        "prescription (+ stage metrics) vs off: revenue": "+0.7 % (CI −0.4 … +1.9)",
        "monthly vs annual reviews: voluntary attrition": "+4.8 % (CI −2.3 … +12.0)",
        "CRM 0.7 → 1.0 under stage metrics: forecast error (points)": "+0.0 (CI −1.1 … +1.2)",
        "CRM 0.7 → 1.0 under stage metrics: detection lag (days)": "+3.7 (CI −0.7 … +8.2)",
    },
}


def _expected_to_fail(quantity: str, reasons: dict[str, str]):
    """The quantity as a test parameter, a strict expected failure when ``reasons`` names it."""
    if quantity in reasons:
        return pytest.param(quantity, marks=pytest.mark.xfail(strict=True, reason=reasons[quantity]))
    return quantity


def test_every_row_is_measured(rows):
    assert sorted(rows) == sorted(QUANTITIES)


def _in_range(r: ValidationRow) -> None:
    assert r.low <= r.estimate <= r.high, (
        f"{r.quantity}: {r.estimate:.4f} (95 % CI {r.ci_low:.4f}…{r.ci_high:.4f}) outside "
        f"{r.target} — source: {r.source}"
    )


@pytest.mark.parametrize("quantity", [_expected_to_fail(q, MISSES) for q in QUANTITIES])
def test_row_in_target_range(rows, quantity):
    _in_range(rows[quantity])


def _steady_params():
    for seed, warmup in STEADY:
        misses = STEADY_MISSES[(seed, warmup)]
        for q in QUANTITIES:
            marks = (
                [pytest.mark.xfail(strict=True, reason=f"{misses[q]}: {STEADY_REASONS[q]}")]
                if q in misses
                else []
            )
            yield pytest.param(seed, warmup, q, marks=marks, id=f"{seed}-{warmup}d-{q}")


@pytest.mark.parametrize(("seed", "warmup", "quantity"), list(_steady_params()))
def test_row_in_target_range_in_steady_state(seed, warmup, quantity):
    """The same row with the policy in force from the start, after a warm-up of ``warmup`` days."""
    _in_range(steady_rows(seed, warmup)[quantity])


def test_every_row_is_measured_in_steady_state():
    seed, warmup = STEADY[0]
    assert sorted(steady_rows(seed, warmup)) == sorted(QUANTITIES)


#: Rows whose interval, at 64 replications, cannot tell whether they meet their target.
UNRESOLVED: dict[str, str] = {}


#: One-sided rows that miss decisively: their interval lies wholly on the wrong side of the bound.
DECISIVE_MISSES = {
    q: MISSES[q]
    for q in (
        "attainment mean − median (right skew)",
        "coaching_high: bottom 20% gain ÷ middle-60 % gain",
        "CRM 0.7 → 1.0 under stage metrics: forecast error (points)",
        "CRM 0.7 → 1.0 under stage metrics: detection lag (days)",
    )
}


@pytest.mark.parametrize(
    "quantity", [_expected_to_fail(q, {**UNRESOLVED, **DECISIVE_MISSES}) for q in QUANTITIES]
)
def test_enough_replications_to_resolve_the_range(rows, quantity):
    r = rows[quantity]
    width = r.ci_high - r.ci_low
    assert math.isfinite(width) and width > 0
    if math.isfinite(r.low) and math.isfinite(r.high):
        assert width < r.high - r.low, f"{quantity}: CI {width:.4f} wider than {r.target}"
    else:  # one-sided target: the whole CI must sit on the right side of the bound
        bound = r.low if math.isfinite(r.low) else r.high
        assert (r.ci_low > bound) if math.isfinite(r.low) else (r.ci_high < bound), (
            f"{quantity}: CI {r.ci_low:.4f}…{r.ci_high:.4f} crosses {bound}"
        )
