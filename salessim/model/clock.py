"""Clock and calendar: warm-up, the reported years and their quarters, and recurring meetings.

Time is in days. The run starts at 0, warms up for ``W`` days and then reports ``H`` days: ``Y``
fiscal years (``H`` a whole number of 365-day years, or one year of ``H`` ≤ 365 days), each of
four quarters of ``Q`` days; fiscal years start at the end of the warm-up.

Per-period arrays hold ``5 · Y`` slots: year ``y``'s quarters at ``5y … 5y + 3`` and the year
itself at ``5y + 4`` (one year: Q1–Q4 at 0–3, the year at 4). Boundary snapshots (skill) hold the
``4 · Y + 1`` quarter starts and the horizon's end.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

__all__ = ["MONTH", "WEEK", "YEAR", "Clock"]

WEEK = 7.0  # days
MONTH = 365.0 / 12.0  # days
YEAR = 365.0  # days


@dataclass(frozen=True)
class Clock:
    """The run's calendar: ``W`` days of warm-up, then the reported ``H`` days.

    Its derived lengths are worked out once, on first use (they are read every simulated week).
    """

    W: float  # warm-up, days
    H: float  # reported horizon, days

    @cached_property
    def T(self) -> float:
        """The end of the run, days."""
        return self.W + self.H

    @cached_property
    def years(self) -> int:
        """Reported fiscal years (a horizon of up to a year is one, possibly short, year)."""
        return max(1, round(self.H / YEAR))

    @cached_property
    def year_days(self) -> float:
        """The length of a reported year, days."""
        return self.H / self.years

    @cached_property
    def Q(self) -> float:
        """The length of a reported quarter, days."""
        return self.year_days / 4.0

    @cached_property
    def quarters(self) -> int:
        """Reported quarters, every year together."""
        return 4 * self.years

    @cached_property
    def slots(self) -> int:
        """Per-period slots: four quarters and the year, for every year."""
        return 5 * self.years

    def calendar(self, interval: float) -> Iterator[float]:
        """Times of a recurring meeting, aligned to the start of the reported year, in (0, T]."""
        k = -math.floor(self.W / interval)
        while (t := self.W + k * interval) <= self.T + 1e-9:
            k += 1
            if t > 1e-9:
                yield t

    def period(self, t: float) -> int:
        """Quarter index ``0 … 4Y − 1`` of time t in the reported horizon, or -1 outside it."""
        if t < self.W or t >= self.T:
            return -1
        return min(int((t - self.W) // self.Q), self.quarters - 1)

    def slot_of(self, q: int) -> tuple[int, int]:
        """The per-period slots of reported quarter ``q``: its own and its year's."""
        y = q // 4
        return 5 * y + q % 4, 5 * y + 4

    def year_window(self, now: float) -> tuple[float, float]:
        """The fiscal year containing ``now`` (years start at the end of the warm-up).

        A year that began before time 0 is clipped there: nothing happened before the run, so its
        year-to-date and its prorated quota both start at 0.
        """
        k = math.floor((now - self.W) / 365.0)
        start = self.W + 365.0 * k
        return max(start, 0.0), start + 365.0
