"""Driver 4 — the CRM: which deals reps log, and what managers make of what is logged.

Each deal carries one pre-drawn visibility uniform *u*. It is logged once *u* falls below the
rep's logging propensity for it (:func:`propensity`), which rises with the deal's stage and size,
with the rep's own habit (some reps log nearly everything, some little) and with how closely the
manager inspects the CRM (:func:`inspect_week`); it is checked when the
deal is created and at each stage it reaches, and once logged a deal stays logged. So reps log
real-looking, big deals first, and the same deal is logged at the same moment in every scenario
that treats it alike (common random numbers).

Managers read only logged deals — the pipeline and stage views, forecasts and the stage
conversions they estimate (:mod:`salessim.drivers.metrics`) — and divide what they count by the
CRM's coverage of bookings (:func:`gross_up`; every win is booked, logged or not, so the share of
won revenue the CRM holds is known). Logging is selective, so that one factor over-counts the
big, late deals and the reps who log, and under-counts the small, early deals and the reps who do
not: the picture is biased, not only thinner. Forecast calls come through the reps, each calling
their deals' value with a personal bias (:func:`called_value`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from salessim.scenario import Crm

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "INSPECTING_METRICS",
    "called_value",
    "gross_up",
    "inspect_week",
    "inspection_target",
    "logged",
    "propensity",
]

#: metrics under which managers go through the CRM at every forecast call
INSPECTING_METRICS = ("pipeline", "stage")


def propensity(
    cfg: Crm, stage: np.ndarray, stages: int, size: np.ndarray, inspection: np.ndarray, habit: np.ndarray
) -> np.ndarray:
    """Chance a rep has logged a deal by the time it reaches ``stage``.

    Args:
        cfg: the CRM section.
        stage: the deal's stage (0 = first).
        stages: stages in the funnel.
        size: log(amount ÷ its product's median amount).
        inspection: how closely its manager inspects the CRM, in [0, 1].
        habit: its rep's own logging habit, a standard-normal draw (× ``crm.rep_sd``).
    """
    if cfg.adoption >= 1.0:
        return np.ones(np.shape(stage))
    pos = stage / max(stages - 1, 1) - 0.5  # −0.5 at the first stage, +0.5 at the last
    lo = (
        special.logit(cfg.adoption)
        + cfg.stage_lift * pos
        + cfg.size_lift * size
        + cfg.inspection_lift * inspection
        + cfg.rep_sd * habit
    )
    return special.expit(lo)


def logged(u_visible: np.ndarray, p: np.ndarray | float) -> np.ndarray:
    """Whether each deal is logged, from its visibility uniform and its logging propensity."""
    return u_visible < p


def inspection_target(metrics: str) -> float:
    """Where a manager's inspection habit settles under the metrics in force."""
    return 1.0 if metrics in INSPECTING_METRICS else 0.0


def inspect_week(sf: SalesForce) -> None:
    """One week's move of every manager's habit of inspecting the CRM toward the policy's."""
    cfg = sf.sc.crm
    sf.inspection += (inspection_target(sf.sc.metrics) - sf.inspection) / cfg.inspection_weeks


def gross_up(counted: np.ndarray, adoption: float) -> np.ndarray:
    """What a manager infers for the whole book from what is logged in the CRM."""
    return counted / adoption


def called_value(amount: np.ndarray, optimism: np.ndarray, cfg: Crm) -> np.ndarray:
    """The value reps call for their logged deals at a forecast call (their personal bias)."""
    return amount * np.exp(cfg.forecast_bias_sd * optimism)
