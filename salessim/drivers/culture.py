"""Driver 8 — culture: each team's culture drifts toward what its reps live through.

Reps read how seriously management takes performance from what happens to them and to the people
around them, never from the policy written down. Each week a team's *signal* is the mean of six
things its reps experience (:func:`experienced`), each in [0, 1]:

* **on pace** — the share of the team who see themselves likely to make quota;
* **attainable** — the team's mean own chance of making quota (a quota they cannot reach says
  management is not serious about it);
* **coached** — joint-call hours the reps actually received, per rep-month, against 3 hours (what
  the manager's ledger delivered, not what was promised);
* **safe** — peers let go lately: involuntary exits per head over roughly the last year, 0.2 or
  more a year reading as 0 (survivors of dismissals leave more readily);
* **manager** — the coaching quality of the team's manager;
* **clear** — how clear the goals the reps are told to chase are (fewer goals, clearer).

Culture moves toward the signal by ``culture.adjustment_per_week`` of the gap a week, and in turn
scales reps' discretionary hours (:func:`engagement`) and their wish to leave
(:func:`attrition_factor`). ``culture.enabled: false`` holds every team's culture where it starts;
a comparison's *direct* part runs a variant with culture held on the baseline's path instead
(``culture_path``, see :class:`salessim.model.salesforce.SalesForce`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from salessim.scenario import Culture

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "COACHED_HOURS",
    "COMPONENTS",
    "DISMISSALS_READ_AS_UNSAFE",
    "DISMISSAL_MEMORY",
    "attrition_factor",
    "culture_step",
    "engagement",
    "experienced",
]

#: joint-call hours per rep-month that read as a team that is coached (Sales Executive Council:
#: ≥ 3 hours a month)
COACHED_HOURS = 3.0
#: involuntary exits per head per year at which the team no longer feels safe at all (assumption)
DISMISSALS_READ_AS_UNSAFE = 0.2
#: the parts of the signal, in the order :func:`experienced` returns them
COMPONENTS = ("on_pace", "attainable", "coached", "safe", "manager", "clear")
#: weekly decay of the remembered dismissals (a mean memory of one year)
DISMISSAL_MEMORY = float(np.exp(-7.0 / 365.0))


def experienced(sf: SalesForce) -> np.ndarray:
    """What each team's reps live through this week: (teams × :data:`COMPONENTS`), each in [0, 1]."""
    team = sf.seat_manager
    p = sf.p_make
    seen = sf.active & np.isfinite(p)
    n = np.bincount(team, weights=seen, minlength=sf.M)
    has = n > 0
    safe_n = np.where(has, n, 1.0)
    pv = np.where(seen, p, 0.0)
    on_pace = np.where(has, np.bincount(team, weights=seen & (pv >= 0.5), minlength=sf.M) / safe_n, 0.5)
    attainable = np.where(has, np.bincount(team, weights=pv, minlength=sf.M) / safe_n, 0.5)
    coached = np.minimum(1.0, sf.delivered / COACHED_HOURS)
    heads = np.maximum(np.bincount(team, weights=sf.active, minlength=sf.M), 1.0)
    safe = 1.0 - np.minimum(1.0, sf.dismissed / heads / DISMISSALS_READ_AS_UNSAFE)
    clear = np.full(sf.M, sf.goalm.clarity())
    return np.column_stack([on_pace, attainable, coached, safe, sf.quality, clear])


def culture_step(sf: SalesForce) -> None:
    """One week's move of every team's culture toward what its reps experience.

    Held where it is when ``culture.enabled`` is false; set to the given path's week when the run
    follows another run's culture (``sf.culture_path``).
    """
    cu = sf.sc.culture
    if sf.culture_path is not None:
        week = min(len(sf.culture_trace), sf.culture_path.shape[0] - 1)
        sf.culture = sf.culture_path[week].copy()
    elif cu.enabled:
        signal = experienced(sf).mean(axis=1)
        sf.culture = sf.culture + cu.adjustment_per_week * (signal - sf.culture)
    sf.culture_trace.append(sf.culture.copy())
    # peers let go are remembered for about a year
    sf.dismissed *= DISMISSAL_MEMORY


def engagement(seat_culture: np.ndarray, cfg: Culture) -> np.ndarray:
    """Discretionary-effort multiplier of reps in teams of the given culture (1 at culture 0.5)."""
    return 1.0 + cfg.effort_sensitivity * (seat_culture - 0.5)


def attrition_factor(seat_culture: np.ndarray, cfg: Culture) -> np.ndarray:
    """Multiplier of the voluntary-leaving hazard of reps in teams of the given culture."""
    return np.exp(-cfg.attrition_sensitivity * (seat_culture - 0.5))
