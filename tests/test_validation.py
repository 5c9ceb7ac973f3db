"""The validation table (docs/model.md#validation), row by row: the defaults must reproduce it.

One seeded run of the scenario library under common random numbers (64 replications per
scenario). Each row checks the point estimate against the published target range, and that the
replications are enough to resolve the range: the 95 % CI must be narrower than the range itself.
"""

import math

import pytest

from salessim.validation import validation_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("validation")]

REPLICATIONS = 64
SEED = 20261127


@pytest.fixture(scope="module")
def rows():
    return {r.quantity: r for r in validation_table(REPLICATIONS, SEED)}


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
    "2 goals vs 4: revenue",
    "2 goals vs 4: composite attainment (points)",
    "monthly vs annual reviews: voluntary attrition",
    "monthly vs annual reviews: detection lag (days)",
    "stage metrics vs outcomes: detection lag (days)",
    "stage metrics vs outcomes: forecast error (points)",
    "CRM 0.7 → 1.0 under stage metrics: forecast error (points)",
    "CRM 0.7 → 1.0 under stage metrics: detection lag (days)",
]


#: Rows that the rep-time model does not reproduce yet, with what it measures (64 replications,
#: seed 20261127). Each waits for a mechanism still to come, and is checked strictly: a row that
#: starts to hold fails here until it is moved back.
WAITING = {
    "prescription (+ stage metrics) vs off: revenue": (
        "−6.9 % (CI −7.4 … −6.4): prescribed reps protect the reverse funnel's prospecting hours "
        "before working their deals, and the baseline's week does not fit that plan, so deals "
        "lose attention; the benefit waits for stage reviews that diagnose (the manager's plan "
        "aimed at the weak stage)"),
    "monthly vs annual reviews: voluntary attrition": (
        "−0.8 % (CI −2.7 … +1.1): with culture built from what reps experience, a monthly flag "
        "changes little of what reps live through — it orders more prospecting and, after 180 "
        "days, may end in dismissal; the check-in's coaching on the diagnosed stage is still to "
        "come"),
}

#: Rows the model does not reproduce from its mechanisms as they stand, with what it measures (64
#: replications, seed 20261127). The sales force starts as the settled one its policy keeps
#: (strugglers let go, stars poached, coaching built up), not as a fresh draw of hires.
MISSES = {
    "attainment mean − median (right skew)": (
        "−0.024 (CI −0.037 … −0.011): the settled sales force's median rep is above quota, where "
        "reps pull deals in to make 100 %, coast past it on a 1.5× accelerator and are poached at "
        "150 % of pace, which thins the upper tail; lognormal deal sizes alone do not outweigh it"),
    "coaching_high: bottom 20% gain ÷ middle-60 % gain": (
        "1.23 (CI 1.04 … 1.42): responsiveness is a bell over a rep's skill among all hires, and "
        "the settled sales force's bottom fifth — its weakest reps let go over the years — lies "
        "mostly inside the bell"),
    "CRM 0.7 → 1.0 under stage metrics: forecast error (points)": (
        "+11.3 points (CI +10.7 … +12.0), worse: in year 1 of the change managers still gross "
        "the now complete CRM up by last year's share of bookings logged; in steady state "
        "(seed 1, 16 replications) +0.2 points (CI −0.8 … +1.2) — under stage metrics managers "
        "inspect the CRM, so reps already log most deals"),
    "CRM 0.7 → 1.0 under stage metrics: detection lag (days)": (
        "+13.0 days (CI +10.8 … +15.3), later, for the same gross-up in year 1; in steady state "
        "+0.4 days (CI −5.3 … +6.2): the stage estimate already sees most of a rep's pipeline"),
}


def _expected_to_fail(quantity: str, reasons: dict[str, str]):
    """The quantity as a test parameter, a strict expected failure when ``reasons`` names it."""
    if quantity in reasons:
        return pytest.param(quantity, marks=pytest.mark.xfail(strict=True,
                                                               reason=reasons[quantity]))
    return quantity


def test_every_row_is_measured(rows):
    assert sorted(rows) == sorted(QUANTITIES)


@pytest.mark.parametrize("quantity", [_expected_to_fail(q, {**WAITING, **MISSES})
                                      for q in QUANTITIES])
def test_row_in_target_range(rows, quantity):
    r = rows[quantity]
    assert r.low <= r.estimate <= r.high, (
        f"{quantity}: {r.estimate:.4f} (95 % CI {r.ci_low:.4f}…{r.ci_high:.4f}) outside "
        f"{r.target} — source: {r.source}")


#: Rows whose interval, at 64 replications, cannot tell whether they meet their target.
UNRESOLVED: dict[str, str] = {}


#: One-sided rows that miss decisively: their interval lies wholly on the wrong side of the bound.
DECISIVE_MISSES = {q: MISSES[q] for q in ("attainment mean − median (right skew)",
                                          "coaching_high: bottom 20% gain ÷ middle-60 % gain",
                                          "CRM 0.7 → 1.0 under stage metrics: forecast error (points)",
                                          "CRM 0.7 → 1.0 under stage metrics: detection lag (days)")}


@pytest.mark.parametrize("quantity", [_expected_to_fail(q, {**UNRESOLVED, **DECISIVE_MISSES})
                                      for q in QUANTITIES])
def test_enough_replications_to_resolve_the_range(rows, quantity):
    r = rows[quantity]
    width = r.ci_high - r.ci_low
    assert math.isfinite(width) and width > 0
    if math.isfinite(r.low) and math.isfinite(r.high):
        assert width < r.high - r.low, f"{quantity}: CI {width:.4f} wider than {r.target}"
    else:  # one-sided target: the whole CI must sit on the right side of the bound
        bound = r.low if math.isfinite(r.low) else r.high
        assert (r.ci_low > bound) if math.isfinite(r.low) else (r.ci_high < bound), (
            f"{quantity}: CI {r.ci_low:.4f}…{r.ci_high:.4f} crosses {bound}")
