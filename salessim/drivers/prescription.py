"""Driver 2 — tactical prescription: how many new opportunities a rep sets out to create.

With ``prescription.enabled`` every rep plans to prospect at the reverse-funnel plan's rate plus
``coverage_margin``, week in, week out, as far as the hours their live deals leave and the
territory allow (:mod:`salessim.model.reptime`). Without it reps plan for themselves: around the
plan's rate times a personal bias (some under-plan, some over-plan), and feast or famine —
prospecting less while the pipeline is full and more once it has run dry. A flagged rep who
under-plans is told to close part of the gap (``corrective_raise``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from salessim.funnel import Plan
from salessim.scenario import Prescription

__all__ = [
    "DEAL_PRIORITY",
    "PROSPECTING_PLANS",
    "Targets",
    "biggest_first",
    "late_and_big",
    "oldest_first",
    "prescribed",
    "prescribed_rate",
    "self_planned",
]


@dataclass(frozen=True)
class Targets:
    """The plan's figures a rep's prospecting is measured against."""

    new_per_day: float  # the reverse-funnel plan's new opportunities per rep-day
    prescribed: float  # the prescribed rate: the plan's plus the coverage margin
    pipeline_value: float  # the plan's open pipeline value per rep
    feast_or_famine: float  # elasticity of self-planned prospecting to pipeline fullness
    corrective_raise: float  # share of the gap to the prescribed rate a flagged rep closes


def prescribed_rate(plan: Plan, pr: Prescription) -> float:
    """New opportunities per rep-day the prescription asks for."""
    return plan.new_per_day * (1 + pr.coverage_margin)


def prescribed(pipe_value: np.ndarray, bias: np.ndarray, flag: np.ndarray, t: Targets) -> np.ndarray:
    """Every rep prospects at the prescribed rate, whatever their pipeline or bias."""
    return np.full(pipe_value.size, t.prescribed)


def self_planned(pipe_value: np.ndarray, bias: np.ndarray, flag: np.ndarray, t: Targets) -> np.ndarray:
    """Reps plan by feel: plan × own bias × feast or famine; flagged under-planners correct part."""
    ratio = np.maximum(pipe_value, 1.0) / t.pipeline_value
    famine = np.clip(ratio ** (-t.feast_or_famine), 0.5, 2.0)
    planned = t.new_per_day * bias * famine
    corr = flag & (planned < t.prescribed)
    return np.where(corr, planned + t.corrective_raise * (t.prescribed - planned), planned)


#: ``prescription.enabled`` → prospecting plan (new opportunities per rep-day, before effort)
PROSPECTING_PLANS: dict[bool, Callable[[np.ndarray, np.ndarray, np.ndarray, Targets], np.ndarray]] = {
    True: prescribed,
    False: self_planned,
}


# ------------------------------------------------------------------------------------------
# deal priority: which open deals get a rep's hours first (lowest key first, within a rep)
# ------------------------------------------------------------------------------------------
def late_and_big(stage: np.ndarray, amount: np.ndarray, created: np.ndarray, stages: int) -> np.ndarray:
    """Deals nearest the close first, and among those the biggest."""
    return -(stage.astype(float) * 1e12 + np.minimum(amount, 9.99e11))


def oldest_first(stage: np.ndarray, amount: np.ndarray, created: np.ndarray, stages: int) -> np.ndarray:
    """Deals in the order they were opened."""
    return created.astype(float)


def biggest_first(stage: np.ndarray, amount: np.ndarray, created: np.ndarray, stages: int) -> np.ndarray:
    """The biggest deals first, whatever their stage."""
    return -amount.astype(float)


#: ``reps.deal_priority`` → sort key of a rep's open deals (lowest first gets hours first)
DEAL_PRIORITY: dict[str, Callable[..., np.ndarray]] = {
    "late_and_big": late_and_big,
    "oldest_first": oldest_first,
    "biggest_first": biggest_first,
}
