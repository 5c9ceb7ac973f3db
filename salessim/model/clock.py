"""Clock and calendar: warm-up, the reported year and its quarters, and recurring meetings.

Time is in days. The run starts at 0, warms up for ``W`` days and then reports ``H`` days (four
quarters of ``Q`` days); fiscal years start at the end of the warm-up.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["MONTH", "WEEK", "Clock"]

WEEK = 7.0  # days
MONTH = 365.0 / 12.0  # days


@dataclass(frozen=True)
class Clock:
    """The run's calendar: ``W`` days of warm-up, then the reported ``H`` days."""

    W: float  # warm-up, days
    H: float  # reported horizon, days

    @property
    def T(self) -> float:
        """The end of the run, days."""
        return self.W + self.H

    @property
    def Q(self) -> float:
        """The length of a reported quarter, days."""
        return self.H / 4.0

    def calendar(self, interval: float) -> Iterator[float]:
        """Times of a recurring meeting, aligned to the start of the reported year, in (0, T]."""
        k = -math.floor(self.W / interval)
        while (t := self.W + k * interval) <= self.T + 1e-9:
            k += 1
            if t > 1e-9:
                yield t

    def period(self, t: float) -> int:
        """Quarter index 0–3 of time t in the reported horizon, or -1 outside it."""
        if t < self.W or t >= self.T:
            return -1
        return min(int((t - self.W) // self.Q), 3)

    def year_window(self, now: float) -> tuple[float, float]:
        """The fiscal year containing ``now`` (years start at the end of the warm-up)."""
        k = math.floor((now - self.W) / 365.0)
        start = self.W + 365.0 * k
        return start, start + 365.0
