"""Drivers 5 and 6 — managers' coaching quality, joint calls and what they do to reps.

A joint call does two things: it lifts the odds of the deal's current stage *now* (× the manager's
quality), and it transfers skill to the rep *for later*. Skill transfer follows a bell-shaped
responsiveness over the rep's position in the skill distribution — the middle 60 % gain most, the
top and bottom 20 % little (Sales Executive Council; Dixon & Adamson 2011) — with diminishing
returns toward a ceiling and slow forgetting.
"""

from __future__ import annotations

import numpy as np

from salessim.scenario import Scenario

__all__ = ["manager_quality", "responsiveness", "skill_step"]


def manager_quality(scenario: Scenario, z: np.ndarray) -> np.ndarray:
    """Coaching quality in (0, 1] of managers with standard-normal draws ``z``.

    Training moves the mean; a unified approach narrows the spread. The same ``z`` is the same
    manager in every scenario, so a trained manager is the same person, trained.
    """
    m = scenario.managers
    mean = m.quality_trained if m.training == "trained" else m.quality_untrained
    sd = m.quality_sd * (m.unified_sd_factor if m.unified_approach else 1.0)
    return np.clip(mean + sd * z, 0.05, 1.0)


def responsiveness(z_skill: np.ndarray, width: float) -> np.ndarray:
    """How much a rep gains from coaching, by their skill z-score: flat-topped bell, peak 1.

    ``exp(-(|z|/width)^4 / 2)``: near 1 across the middle 60 % (|z| < 0.84), falling fast in the
    top and bottom 20 %.
    """
    return np.exp(-0.5 * (np.abs(z_skill) / width) ** 4)


def skill_step(gain: np.ndarray, effective_hours: np.ndarray, scenario: Scenario) -> np.ndarray:
    """One week of coached-skill dynamics: growth with diminishing returns, and forgetting."""
    c = scenario.coaching
    grow = c.skill_gain_per_hour * effective_hours * np.maximum(0.0, 1.0 - gain / c.skill_ceiling)
    # one heavy week cannot carry a rep past the ceiling
    return np.minimum(gain + grow, c.skill_ceiling) - c.skill_decay_per_week * gain
