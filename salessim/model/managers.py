"""Managers' time: one weekly ledger per manager, spent in order, where requests contend.

Each manager has a :class:`Ledger`, a SimPy resource holding the hours left in the manager's
current week, and a process (:func:`manager_weeks`) that opens every week on Monday with
``managers.hours_per_week`` (last week's unspent hours are gone: time cannot be banked) and
claims, in this order:

1. **admin and forecasting** — ``admin_hours_per_week + forecast_hours_per_week``, fixed;
2. **reviews** — a review (:mod:`salessim.drivers.reviews`) asks the same ledger for
   ``review_hours_per_rep`` × the team's reps when it falls due; what the week has left is
   taken at once, and the rest waits for next week's hours, where it is served right after admin;
3. **hiring** — ``interview_hours_per_vacancy`` for each of the team's seats that stands empty
   between a leaver's exit and the backfill's start;
4. **training** — the days away while the manager's leadership programme runs
   (:mod:`salessim.drivers.training`);
5. **joint calls** — up to the policy's ``coaching.joint_call_hours_per_week``.

A request is a SimPy event on the manager's ledger; pending requests are served by priority (the
order above), then by arrival. Admin, hiring, training and joint calls take what the week has
left and no more — what does not fit is not delivered — while a review waits until it has all
its hours. So a review cadence that does not fit in the week really takes hours from coaching:
:func:`salessim.drivers.coaching.coach_week` makes the calls the ledger granted, and the
``periods`` table reports ``coaching_delivered_share``, joint-call hours delivered ÷ promised.

Ledger weeks open with urgent priority, so every manager's week is settled before the sales
force's weekly step (:meth:`SalesForce._week`) at the same instant makes the joint calls.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy
from simpy.events import URGENT

from salessim.drivers import training
from salessim.model.clock import WEEK, Clock

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "ADMIN",
    "CATEGORIES",
    "COACHING",
    "HIRING",
    "REVIEW",
    "TRAINING",
    "Ledger",
    "Ledgers",
    "Spend",
    "manager_weeks",
]

#: what a manager's hours go to, in the order the ledger serves them (lower first)
ADMIN, REVIEW, HIRING, TRAINING, COACHING = range(5)
CATEGORIES = ("admin", "reviews", "hiring", "training", "coaching")
_EPS = 1e-9
_KEY = operator.attrgetter("key")


class Spend(simpy.Event):
    """A request for ``hours`` of a manager's week, a SimPy event; its value is the hours granted.

    ``wait=False`` (admin, hiring, training, joint calls): take what the week has left, up to
    ``hours``, and succeed at once — what does not fit is not delivered. ``wait=True`` (reviews):
    take what is left and keep waiting, served first from the coming weeks' hours, until all
    ``hours`` are found.
    """

    def __init__(self, ledger: Ledger, hours: float, priority: int, wait: bool = False) -> None:
        super().__init__(ledger.env)
        self.hours = float(hours)
        self.need = self.hours
        self.granted = 0.0
        self.priority = priority
        self.wait = wait
        self.key = (priority, next(ledger.seq))
        ledger.request(self)


class Ledger:
    """One manager's hours, a shared SimPy resource: ``level`` is what is left of the week.

    Requests (:class:`Spend` events) queue by (priority, arrival); whenever one is made the queue
    is served in that order, each taking what is left. :meth:`open_week` starts a week with
    ``hours_per_week``.
    """

    def __init__(
        self,
        env: simpy.Environment,
        hours_per_week: float,
        spent: np.ndarray,
        clock: Clock | None = None,
        by_period: np.ndarray | None = None,
    ) -> None:
        self.env = env
        self.capacity = float(hours_per_week)
        self.level = 0.0
        self.opened = -math.inf  # when the week now running opened
        self.queue: list[Spend] = []  # requests still waiting, in (priority, arrival) order
        self.seq = itertools.count()
        self.spent = spent  # hours spent per category (a row of Ledgers.spent, updated in place)
        # hours spent per reported period and category (slots × categories, shared by the team's
        # ledgers), booked to the period in which they are taken; None: not recorded
        self.clock = clock
        self.by_period = by_period

    def spend(self, hours: float, priority: int, wait: bool = False) -> Spend:
        """Request ``hours`` of this manager's week (see :class:`Spend`)."""
        return Spend(self, hours, priority, wait)

    def open_week(self) -> None:
        """A new week: ``hours_per_week`` to spend; last week's unspent hours expire.

        Requests still waiting are served when the week's first request (admin) is made, so they
        come after admin and before anything of lower priority.
        """
        self.level = self.capacity
        self.opened = self.env.now

    def request(self, event: Spend) -> None:
        """Queue ``event`` by (priority, arrival) and serve the queue in that order."""
        queue = self.queue
        if not queue:  # nothing waiting: serve it alone
            self._take(event)
            if not event.triggered:
                queue.append(event)
            return
        bisect.insort_right(queue, event, key=_KEY)
        i = 0
        while i < len(queue):
            ev = queue[i]
            self._take(ev)
            if ev.triggered:
                del queue[i]
            else:
                i += 1

    def _take(self, event: Spend) -> None:
        take = min(self.level, event.need)
        if take > 0.0:
            self.level -= take
            event.need -= take
            event.granted += take
            self.spent[event.priority] += take
            if self.by_period is not None and self.clock is not None:
                q = self.clock.period(self.env.now)
                if q >= 0:
                    for k in self.clock.slot_of(q):
                        self.by_period[k, event.priority] += take
        if not event.wait or event.need <= _EPS:
            event.succeed(event.granted)


class Ledgers:
    """Every manager's ledger, with what the weekly processes share."""

    def __init__(self, sf: SalesForce) -> None:
        mg = sf.sc.managers
        self.spent = np.zeros((sf.M, len(CATEGORIES)))  # hours per manager and category, whole run
        # every manager's hours per reported period (Clock.slots) and category
        self.by_period = np.zeros((sf.clock.slots, len(CATEGORIES)))
        self.books = [
            Ledger(sf.env, mg.hours_per_week, self.spent[m], sf.clock, self.by_period) for m in range(sf.M)
        ]
        self.granted = np.zeros(sf.M)  # joint-call hours each ledger granted this week
        self._vacant_at = -np.inf
        self._vacant = np.zeros(sf.M, dtype=np.int64)

    def __getitem__(self, m: int) -> Ledger:
        return self.books[m]

    def vacancies(self, sf: SalesForce) -> np.ndarray:
        """Empty seats per manager now (computed once per instant for all managers)."""
        now = sf.env.now
        if now != self._vacant_at:
            self._vacant_at = now
            self._vacant = np.bincount(sf.seat_manager[~sf.active], minlength=sf.M)
        return self._vacant

    def close(self) -> None:
        """Drop pending requests (a finished run), so the run's objects can be freed at once."""
        for book in self.books:
            book.queue.clear()
        self.books = []


def _urgent_timeout(env: simpy.Environment, delay: float) -> simpy.Event:
    """A timeout served before normal events at the same instant."""
    ev = simpy.Event(env)
    ev._ok = True
    ev._value = None
    env.schedule(ev, URGENT, delay)
    return ev


def manager_weeks(sf: SalesForce, m: int) -> Iterator[Any]:
    """Process: every Monday, manager ``m`` opens a week of hours and spends it in order."""
    led = sf.ledgers[m]
    window = sf.programme[m]  # a view: a new manager's programme shows here
    env = sf.env
    while env.now <= sf.T:
        now = env.now
        # the policy in force this week (it changes at the end of a transition's warm-up)
        mg = sf.sc.managers
        c = sf.sc.coaching
        fixed = mg.admin_hours_per_week + mg.forecast_hours_per_week
        promise = c.joint_call_hours_per_week if c.targeting != "none" else 0.0
        led.open_week()
        led.spend(fixed, ADMIN)  # also serves reviews still waiting from last week
        vacant = sf.ledgers.vacancies(sf)[m]
        if vacant and mg.interview_hours_per_vacancy > 0:
            led.spend(vacant * mg.interview_hours_per_vacancy, HIRING)
        if window[0] == window[0]:  # a programme (not NaN)
            away = training.away_hours(window, now, mg.hours_per_week)
            if away > 0:
                led.spend(away, TRAINING)
            if now >= window[1]:
                training.finish(sf, m)
        sf.ledgers.granted[m] = led.spend(promise, COACHING).value if promise > 0 else 0.0
        yield _urgent_timeout(env, WEEK)


def start(sf: SalesForce) -> Ledgers:
    """Every manager's ledger, with its weekly process started (before any other process).

    Also starts the process by which managers leave and are replaced
    (:mod:`salessim.drivers.training`).
    """
    ledgers = Ledgers(sf)
    sf.ledgers = ledgers
    for m in range(sf.M):
        sf._spawn(manager_weeks(sf, m))
    sf._spawn(training.manager_turnover(sf))
    return ledgers
