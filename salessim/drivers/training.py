"""Driver 5 — managers: leadership training, a unified coaching approach, and where managers come from.

Training raises managers' mean coaching quality; a unified approach narrows its spread. A
leadership programme takes ``managers.training_days`` days away (five a week), charged to the
manager's week (:mod:`salessim.model.managers`). Managers in place at the start of a steady state
were trained before it; in a transition they attend from the Monday after the warm-up ends, when
the policy starts, and coach at the untrained level until the programme ends. A manager who takes
over a team during the run attends from their first Monday. A programme begins with a whole week,
so each of its days is booked as hours away.

Managers leave the role at ``managers.turnover_annual`` and are replaced at once. With
``managers.promotion`` the replacement is the team's top-skilled rep (the Peter principle): their
seat is vacated and backfilled, and their coaching quality is drawn without regard to their selling
skill — correlated with it by ``managers.promoted_skill_correlation``, weakly negative by default.
Otherwise the replacement is an outside hire and no seat is vacated. The managers in place at the
start were chosen the same way before the run (their old seats long since refilled), so the
manager population is the same at the start as later on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from salessim.model.clock import MONTH, WEEK
from salessim.rng import stream
from salessim.scenario import Scenario

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "away_hours",
    "finish",
    "manager_quality",
    "manager_turnover",
    "promoted_z",
    "replace_manager",
    "start_quality",
]


def manager_quality(scenario: Scenario, z: np.ndarray, trained: bool | None = None) -> np.ndarray:
    """Coaching quality in (0, 1] of managers with standard-normal draws ``z``.

    Training moves the mean; a unified approach narrows the spread. The same ``z`` is the same
    manager in every scenario, so a trained manager is the same person, trained.

    Args:
        scenario: the scenario.
        z: standard-normal draws, one per manager.
        trained: the quality after training (True) or before (False); None: as the scenario says.
    """
    m = scenario.managers
    if trained is None:
        trained = m.training == "trained"
    mean = m.quality_trained if trained else m.quality_untrained
    sd = m.quality_sd * (m.unified_sd_factor if m.unified_approach else 1.0)
    return np.clip(mean + sd * np.asarray(z, dtype=float), 0.05, 1.0)


def promoted_z(rho: float, z_skill: np.ndarray | float, z_own: np.ndarray | float) -> np.ndarray:
    """A promoted rep's quality draw: correlated ``rho`` with their selling skill's z-score.

    ``rho · z_skill + √(1 − rho²) · z_own`` is standard normal when ``z_skill`` is; a top rep's
    ``z_skill`` is high, so with ``rho < 0`` the best sellers tend to be weaker coaches.
    """
    return rho * np.asarray(z_skill) + math.sqrt(max(1.0 - rho * rho, 0.0)) * np.asarray(z_own)


def _next_monday(sf: SalesForce, m: int, now: float) -> float:
    """The day a programme that manager ``m`` is sent to ``now`` begins.

    That is the first week start from ``now`` on whose week has not opened yet: managers' weeks
    open every seven days from day 0 (:func:`salessim.model.managers.manager_weeks`), and a
    programme begins with a whole week, so every day of it is booked as hours away.
    """
    start = math.ceil(now / WEEK - 1e-9) * WEEK
    return start + WEEK if start <= sf.ledgers[m].opened else start


def _programme_days(sf: SalesForce) -> float:
    """Days a manager spends away at the programme under this scenario (0: none)."""
    mg = sf.sc.managers
    return mg.training_days if mg.training == "trained" else 0.0


def start_quality(sf: SalesForce) -> None:
    """The managers in place at the start: their quality draws, quality and any programme.

    Team ``m``'s ``managers`` stream gives its manager's own quality z, then a promoted rep's
    quality z, then ``span`` skill z-scores of the team they were promoted from (its top one is
    the promoted rep's). ``sf.programme`` holds each manager's programme (start, end) in days
    (NaN: none).
    """
    sc = sf.sc
    mg = sc.managers
    span = sc.organisation.span
    z = np.array(
        [stream(sf.seed, sf.rep, "managers", m).standard_normal(2 + span) for m in range(sf.M)]
    ).reshape(sf.M, 2 + span)
    sf.manager_z = z
    q_z = (
        promoted_z(mg.promoted_skill_correlation, z[:, 2:].max(axis=1), z[:, 1]) if mg.promotion else z[:, 0]
    )
    sf.q_z = q_z
    sf.manager_rng = {}  # per team, made at its first new manager
    sf.programme = np.full((sf.M, 2), np.nan)
    sf.quality_after = np.full(sf.M, np.nan)
    # under the policy in force at the start, the managers in place were trained (or not) before
    # it; a transition's new policy sends them to its programme (switch_policy)
    sf.quality = manager_quality(sc, q_z)


def switch_policy(sf: SalesForce, before: Scenario) -> None:
    """The policy in force has changed from ``before`` (a transition): the same managers.

    A programme new in this policy starts now for every manager (untrained quality until it
    ends); dropping it, or a change of coaching method, re-draws their quality from the same draws.
    """
    sc = sf.sc
    old, new = before.managers, sc.managers
    if (old.training, old.unified_approach) == (new.training, new.unified_approach):
        return
    if new.training == "trained" and old.training != "trained":
        now = sf.env.now
        sf.quality = manager_quality(sc, sf.q_z, trained=False)
        sf.quality_after = manager_quality(sc, sf.q_z, trained=True)
        for m in range(sf.M):
            start = _next_monday(sf, m, now)
            sf.programme[m] = (start, start + _programme_days(sf) * WEEK / 5.0)
        _count_trained(sf, now, sf.M)
    elif sc.managers.training != "trained":
        sf.quality = manager_quality(sc, sf.q_z, trained=False)
        sf.quality_after[:] = np.nan
        sf.programme[:] = np.nan


def away_hours(window: np.ndarray, week_start: float, hours_per_week: float) -> float:
    """Hours of the week starting ``week_start`` spent away at the programme ``window``."""
    if np.isnan(window[0]):
        return 0.0
    overlap = min(week_start + WEEK, window[1]) - max(week_start, window[0])
    return hours_per_week * max(overlap, 0.0) / WEEK


def _count_trained(sf: SalesForce, now: float, n: int) -> None:
    """Record ``n`` managers starting the programme now (for the year's training costs)."""
    q = sf.clock.period(now)
    if q >= 0:
        for k in sf.clock.slot_of(q):
            sf.trained_started[k] += n


def finish(sf: SalesForce, m: int) -> None:
    """Manager ``m`` is back from the programme: their quality moves to the trained level."""
    if not np.isnan(sf.quality_after[m]):
        sf.quality[m] = sf.quality_after[m]
        sf.quality_after[m] = np.nan
        sf.programme[m] = np.nan


def replace_manager(sf: SalesForce, m: int) -> None:
    """Team ``m`` gets a new manager now: its top-skilled rep, promoted, or an outside hire.

    The n-th new manager of team ``m`` takes the n-th draw of the team's own new-manager stream,
    so a team's managers never depend on other teams.
    """
    sc = sf.sc
    mg = sc.managers
    rng = sf.manager_rng.get(m)
    if rng is None:
        rng = sf.manager_rng[m] = stream(sf.seed, sf.rep, "managers", m, 2)
    z = float(rng.standard_normal())
    if mg.promotion:
        from salessim.model.people import PROMOTED

        span = sc.organisation.span
        team = slice(m * span, (m + 1) * span)  # seats are laid out team by team
        seated = sf.active[team]
        if seated.sum() >= 2:  # the last rep left is not promoted to manage nobody
            top = m * span + int(np.argmax(np.where(seated, sf.theta0[team], -np.inf)))
            z = float(promoted_z(mg.promoted_skill_correlation, sf.zskill[top], z))
            sf._leave(top, PROMOTED)
    now = sf.env.now
    sf.q_z[m] = z
    sf.quality[m] = float(manager_quality(sc, np.array([z]), trained=False)[0])
    sf.quality_after[m] = np.nan
    sf.programme[m] = np.nan
    if mg.training == "trained":
        # the programme is the policy: a new manager attends from their first Monday (in a
        # transition, from the Monday after the policy's start at the end of the warm-up)
        start = _next_monday(sf, m, now)
        sf.quality_after[m] = float(manager_quality(sc, np.array([z]), trained=True)[0])
        sf.programme[m] = (start, start + _programme_days(sf) * WEEK / 5.0)
        _count_trained(sf, now, 1)
        if sf.programme[m, 1] <= now:
            finish(sf, m)
    sf.carry[m] = 0.0


def manager_turnover(sf: SalesForce) -> Iterator[Any]:
    """Process: each month, managers leave the role at ``turnover_annual`` and are replaced.

    Month k's draw of team m is the k-th of the team's own turnover stream.
    """
    rate = sf.sc.managers.turnover_annual
    if rate <= 0:
        return
    p_month = 1.0 - (1.0 - min(rate, 0.999)) ** (1.0 / 12.0)
    months = int(sf.T / MONTH) + 2
    u = np.stack(
        [stream(sf.seed, sf.rep, "managers", m, 1).random(months) for m in range(sf.M)], axis=1
    )  # (months, teams)
    month = 0
    while True:
        yield sf.env.timeout(MONTH)
        month += 1
        if sf.env.now > sf.T:
            return
        for m in np.flatnonzero(u[month] < p_month):
            replace_manager(sf, int(m))
