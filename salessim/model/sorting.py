"""Sorting helpers shared by the weekly steps."""

from __future__ import annotations

import numpy as np

__all__ = ["stable_argsort"]


def stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")``, by the faster default sort when no two keys tie.

    Distinct keys have one sorted order, whichever sort finds it; with a tie (or a NaN) the
    stable sort is run.
    """
    order = np.argsort(key)
    if order.size < 2:
        return order
    k = key[order]
    if bool((k[1:] == k[:-1]).any()) or bool(np.isnan(k[-1])):
        order = np.argsort(key, kind="stable")
    return order
