"""The management policy in force, and switching it: the warm-up policy, then the scenario's own.

A scenario's *policy* is its driver sections — goals, prescription, metrics, CRM adoption,
managers' training, unified approach and promotion, coaching, reviews and culture — and its pay
plan (``comp`` and the quota). In
``simulation.mode: transition`` the warm-up runs under a warm-up policy (by default the library
baseline's driver sections laid over the scenario, so its own sales force, funnel and everything
else stay) and the scenario's own policy takes over when the reported horizon starts; in
``steady_state`` the scenario's policy runs from time 0.

:func:`apply` puts a policy in force — at construction and at the switch — and re-derives
everything that depends on it from the same stored draws: the goal model and each seated rep's
perceived goals and planning bias, the prescription's targets, managers'
coaching quality (the same managers, trained or not), the involuntary-exit chance of a review;
coaching targeting, metrics and CRM logging of new deals are read live. Review dates follow the
cadence in force (:func:`review_calendar`), and forecast calls look for gaps whenever the metrics in
force show the pipeline (:func:`forecast_calls`). Deals logged (or not) in the CRM before a switch
stay so; a promotion made stays made.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from salessim.drivers import prescription, reviews, training
from salessim.drivers.goals import GoalModel
from salessim.scenario import Scenario, ScenarioError, load_scenario

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "DRIVER_SECTIONS",
    "MANAGER_LEVERS",
    "apply",
    "forecast_calls",
    "review_calendar",
    "switch",
    "warmup_policy",
]

#: The scenario sections that make up a management policy (besides the managers' levers).
DRIVER_SECTIONS = ("goals", "prescription", "metrics", "crm", "coaching", "reviews", "culture", "comp")
#: The fields of ``managers`` that are policy levers (the rest describe the managers' job).
MANAGER_LEVERS = ("training", "unified_approach", "promotion")


@functools.cache
def _library_baseline() -> Scenario:
    return load_scenario("baseline")


def warmup_policy(scenario: Scenario, source: Any = None) -> Scenario | None:
    """The scenario the warm-up runs under, or None when its own policy runs from time 0.

    Args:
        scenario: the scenario under test.
        source: where the warm-up's driver sections come from (a Scenario, YAML path, library name
            or mapping); None: the library baseline.

    Returns:
        ``scenario`` with the source's driver sections, in ``transition`` mode with a warm-up;
        None in ``steady_state`` mode or without a warm-up. Goals that name a product the
        scenario does not sell cannot be laid over: the scenario keeps its own goals then.
    """
    sim = scenario.simulation
    if sim.mode == "steady_state" or sim.warmup_days == 0:
        return None
    return overlay(scenario, source)


def overlay(scenario: Scenario, source: Any = None) -> Scenario:
    """``scenario`` run under the policy of ``source`` (None: the library baseline).

    The source's driver sections and pay plan replace the scenario's, and its quota is carried
    over as a difficulty: the quota that asks this funnel for as many new opportunities a week as
    the source's quota asks of its own funnel (the same quota when the funnels agree).
    """
    from salessim.funnel import plan

    src = _library_baseline() if source is None else load_scenario(source)
    data = scenario.to_dict()
    theirs = src.to_dict()
    for key in DRIVER_SECTIONS:
        data[key] = theirs[key]
    for key in MANAGER_LEVERS:
        data["managers"][key] = theirs["managers"][key]
    if theirs["funnel"] == data["funnel"]:
        data["organisation"]["quota"] = theirs["organisation"]["quota"]
    else:
        here, there = plan(scenario), plan(src)
        data["organisation"]["quota"] = (
            there.quota * (here.win_rate * here.avg_won_amount) / (there.win_rate * there.avg_won_amount)
        )
    data["name"] = scenario.name
    try:
        return Scenario.model_validate(data)
    except ValueError:
        data["goals"] = scenario.to_dict()["goals"]  # the source's goals name products not sold here
        try:
            return Scenario.model_validate(data)
        except ValueError as e:  # pragma: no cover - every other section stands on its own
            raise ScenarioError(
                f"{scenario.name}: the warm-up policy of {src.name} does not fit this scenario: {e}"
            ) from None


def apply(sf: SalesForce, sc: Scenario) -> None:
    """Put the policy of ``sc`` in force, re-deriving everything that depends on it (see module)."""
    from salessim.model.people import perceive

    before = sf.sc
    sf.sc = sc
    if sc.organisation.quota != sf.plan.quota:  # the pay plan's quota changes the rep's plan
        from salessim.funnel import plan

        sf.plan = plan(sc)
        sf.bench_value = sf.plan.pipeline_value
    p = sf.plan
    # the goal model and what each rep perceives depend only on the goals, the plan and the
    # prescription: when those are what they were (at construction, or a switch to the same
    # goals), the reps' perceptions already stand
    if not (
        sf.goalm.cfg == sc.goals and sf.goalm.cells is p.cells and sc.prescription == before.prescription
    ):
        sf.goalm = GoalModel(sc, p)
        for k in np.flatnonzero(sf.seat_person >= 0):
            perceive(sf, int(k))
    pr = sc.prescription
    sf.prescribed = prescription.prescribed_rate(p, pr)
    sf.targets = prescription.Targets(
        new_per_day=p.new_per_day,
        prescribed=sf.prescribed,
        pipeline_value=sf.bench_value,
        feast_or_famine=pr.feast_or_famine,
        corrective_raise=pr.corrective_raise,
    )
    sf.p_invol = reviews.involuntary_probability(sc.reviews)
    # managers: the same people (the same quality draws), trained or not under this policy
    if sf.env.now > 0:
        training.switch_policy(sf, before)


def switch(sf: SalesForce, sc: Scenario) -> Iterator[Any]:
    """Process: at the end of the warm-up, the scenario's own policy takes over.

    Started before every other process, so at that instant it acts first: the review, forecast
    call and quarter that fall on the same day already see the new policy.
    """
    yield sf.env.timeout(sf.W)
    sf.apply_policy(sc)


def review_calendar(sf: SalesForce) -> Iterator[Any]:
    """Process: at every review date each manager starts reviewing their team.

    Dates follow the cadence in force, aligned to the start of the reported year; every cadence has
    a review on that day, so a change of cadence at the switch takes effect from it.
    """
    cadence = None
    dates: Iterator[float] = iter(())
    last = 0.0
    while True:
        if sf.sc.reviews.cadence != cadence:
            cadence = sf.sc.reviews.cadence
            dates = (t for t in sf.clock.calendar(reviews.REVIEW_INTERVAL[cadence]) if t > last + 1e-9)
        t = next(dates, None)
        if t is None:
            return
        yield sf.env.timeout(t - sf.env.now)
        last = t
        sf._spawn(reviews.review_round(sf))


def forecast_calls(sf: SalesForce, policies: tuple[Scenario, ...]) -> Iterator[Any]:
    """Process: quarterly forecast calls, where managers who measure the pipeline see gaps.

    Outcome-only managers have nothing to look at until the review (see
    :func:`salessim.drivers.metrics.pipeline_checks`); the metrics in force decide at each call.
    """
    if all(p.metrics == "outcomes" for p in policies):
        return
    for t in sf.clock.calendar(sf.Q):
        yield sf.env.timeout(t - sf.env.now)
        if sf.sc.metrics != "outcomes":
            reviews.assess(sf, np.arange(sf.M), formal=False)
