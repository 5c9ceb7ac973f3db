"""Driver 8 — culture: each team's culture drifts toward the signals management sends.

The signals are the clarity of the goals, whether selling is prescribed, how often reviews come and
how much the metrics show (fixed for a scenario), and the coaching the team actually gets. Culture
in turn raises reps' selling effort and lowers their wish to leave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from salessim.drivers import metrics, reviews
from salessim.drivers.goals import GoalModel
from salessim.scenario import Culture, Scenario

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = ["attrition_factor", "culture_step", "engagement", "static_signal"]


def static_signal(scenario: Scenario, goals: GoalModel) -> float:
    """Management's fixed signal in [0, 1]: goal clarity, prescription, review cadence, metrics."""
    return float(np.mean([
        goals.clarity(),
        1.0 if scenario.prescription.enabled else 0.0,
        reviews.REVIEW_SIGNAL[scenario.reviews.cadence],
        metrics.METRIC_SIGNAL[scenario.metrics],
    ]))


def culture_step(sf: SalesForce) -> None:
    """One week's move of every team's culture toward the fixed signal and the coaching delivered."""
    cu = sf.sc.culture
    coach_signal = np.minimum(1.0, sf.delivered / 3.0)  # 3 coaching hours per rep-month: full marks
    signal = (4 * sf.signal_static + coach_signal) / 5
    sf.culture += cu.adjustment_per_week * (signal - sf.culture)


def engagement(seat_culture: np.ndarray, cfg: Culture) -> np.ndarray:
    """Selling-effort multiplier of reps in teams of the given culture (1 at culture 0.5)."""
    return 1.0 + cfg.effort_sensitivity * (seat_culture - 0.5)


def attrition_factor(seat_culture: np.ndarray, cfg: Culture) -> np.ndarray:
    """Multiplier of the voluntary-leaving hazard of reps in teams of the given culture."""
    return np.exp(-cfg.attrition_sensitivity * (seat_culture - 0.5))
