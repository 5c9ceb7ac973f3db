"""Driver 5 — managers: leadership training, a unified coaching approach, promotion from the ranks.

Training raises managers' mean coaching quality; a unified approach narrows its spread. A
leadership programme takes ``managers.training_days`` days away (five a week) from the
programme's start, charged to each manager's week (:mod:`salessim.model.managers`); in a
transition the programme starts with the policy, at the end of the warm-up, and quality moves to
the trained level once it ends.

With ``managers.promotion`` each team's top-skilled rep is promoted to run it at the start of the
run (the Peter principle): their seat is vacated and backfilled, and their coaching quality is
drawn without regard to their selling skill — correlated with it by
``managers.promoted_skill_correlation`` (weakly negative by default).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from salessim.model.clock import WEEK
from salessim.scenario import Scenario

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = ["away_hours", "finish", "manager_quality", "programme", "promote", "promoted_z",
           "start_quality"]


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
    return np.clip(mean + sd * z, 0.05, 1.0)


def _transition(sf: SalesForce) -> bool:
    """The policy under test starts at the end of the warm-up (``simulation.mode: transition``)."""
    return getattr(sf.sc.simulation, "mode", "steady_state") == "transition"


def programme(sf: SalesForce) -> tuple[float, float] | None:
    """When the leadership programme runs, ``(start, end)`` in days, or None (no programme).

    It starts with the policy — at the end of the warm-up in a transition, at the start of the
    run otherwise — and lasts ``training_days`` working days, five a week.
    """
    mg = sf.sc.managers
    if mg.training != "trained" or mg.training_days <= 0:
        return None
    start = sf.W if _transition(sf) else 0.0
    return start, start + mg.training_days * WEEK / 5.0


def away_hours(window: tuple[float, float], week_start: float, hours_per_week: float) -> float:
    """Hours of the week starting ``week_start`` spent away at the programme ``window``."""
    overlap = min(week_start + WEEK, window[1]) - max(week_start, window[0])
    return hours_per_week * max(overlap, 0.0) / WEEK


def start_quality(sf: SalesForce, z: np.ndarray) -> None:
    """Set managers' coaching quality from their draws ``z``.

    In a transition with a programme, managers coach at the untrained level until it ends
    (:func:`finish`); otherwise at the scenario's level from the start.
    """
    sc = sf.sc
    if _transition(sf) and programme(sf) is not None:
        sf.quality = manager_quality(sc, z, trained=False)
        sf.quality_after = manager_quality(sc, z, trained=True)
    else:
        sf.quality = manager_quality(sc, z)
        sf.quality_after = None


def finish(sf: SalesForce, m: int) -> None:
    """Manager ``m`` is back from the programme: quality moves to the trained level (transition)."""
    if sf.quality_after is not None:
        sf.quality[m] = sf.quality_after[m]


def promoted_z(rho: float, z_skill: np.ndarray, z_own: np.ndarray) -> np.ndarray:
    """A promoted rep's quality draw: correlated ``rho`` with their selling skill's z-score.

    ``rho · z_skill + √(1 − rho²) · z_own`` is standard normal when ``z_skill`` is; a top rep's
    ``z_skill`` is high, so with ``rho < 0`` the best sellers tend to be weaker coaches.
    """
    return rho * z_skill + math.sqrt(max(1.0 - rho * rho, 0.0)) * z_own


def promote(sf: SalesForce) -> None:
    """Each team's most skilled rep becomes its manager; their seats are vacated and backfilled.

    The new managers' coaching quality is drawn from the managers' own quality stream, correlated
    with the promoted rep's skill by ``managers.promoted_skill_correlation``.
    """
    from salessim.model.people import PROMOTED

    span = sf.sc.organisation.span
    # seats are laid out team by team (seat_manager = repeat(arange(M), span))
    top = np.argmax(sf.theta0.reshape(sf.M, span), axis=1) + np.arange(sf.M) * span
    z = promoted_z(sf.sc.managers.promoted_skill_correlation, sf.zskill[top], sf.manager_z[:, 1])
    for k in top:
        sf._leave(int(k), PROMOTED)
    start_quality(sf, z)
