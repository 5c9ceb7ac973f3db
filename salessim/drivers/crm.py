"""Driver 4 — CRM adoption: which deals managers can see, and how they gross up what they see.

A deal is logged in the CRM when its pre-drawn visibility uniform falls below
``crm_adoption``. Managers read only logged deals — the pipeline and stage views, forecasts and the
stage conversions they estimate (:mod:`salessim.drivers.metrics`) — and divide what they count by
the adoption rate to stand for the whole book.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gross_up", "logged"]


def logged(u_visible: np.ndarray, adoption: float) -> np.ndarray:
    """Whether each deal is logged in the CRM, from its visibility uniform."""
    return u_visible < adoption


def gross_up(counted: np.ndarray, adoption: float) -> np.ndarray:
    """What a manager infers for the whole book from what is logged in the CRM."""
    return counted / adoption
