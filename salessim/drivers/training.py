"""Driver 5 — managers: leadership training, a unified coaching approach, promotion from the ranks.

Training raises managers' mean coaching quality; a unified approach narrows its spread. With
``managers.promotion`` each team's best rep is promoted to run it, at the untrained quality of a
promoted rep, and their seat is backfilled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from salessim.scenario import Scenario

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = ["manager_quality", "promote"]


def manager_quality(scenario: Scenario, z: np.ndarray) -> np.ndarray:
    """Coaching quality in (0, 1] of managers with standard-normal draws ``z``.

    Training moves the mean; a unified approach narrows the spread. The same ``z`` is the same
    manager in every scenario, so a trained manager is the same person, trained.
    """
    m = scenario.managers
    mean = m.quality_trained if m.training == "trained" else m.quality_untrained
    sd = m.quality_sd * (m.unified_sd_factor if m.unified_approach else 1.0)
    return np.clip(mean + sd * z, 0.05, 1.0)


def promote(sf: SalesForce) -> None:
    """Each team's top rep becomes its (untrained-quality) manager; their seat is backfilled."""
    from salessim.model.people import PROMOTED

    for m in range(sf.M):
        seats = np.flatnonzero((sf.seat_manager == m) & sf.active)
        if seats.size == 0:  # every seat vacant (possible when promotion starts later): no one to promote
            continue
        top = seats[np.argmax(sf.theta0[seats])]
        sf._leave(int(top), PROMOTED)
        sf.quality[m] = sf._promoted_quality[m]
