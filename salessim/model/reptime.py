"""A rep's week: the hours there are, the deals they go to, and the prospecting that is left.

Time is what binds a rep. Each Monday every rep has ``reps.hours_per_week`` plus the discretionary
hours their drive adds (:mod:`salessim.drivers.comp`). Fixed non-selling time, CRM logging and
switching between goals come off the top, and so do the meetings of a corrective plan (a flag at a
review); what is left is **selling time**, spent on:

* **Deal work.** An open deal in stage *s* needs ``work_hours[s]`` a week to move at its base pace.
  Reps give their hours to deals in priority order (``reps.deal_priority``, a policy from
  :data:`salessim.drivers.prescription.DEAL_PRIORITY`). A deal's attention ratio *a* = given ÷
  needed; below 1 the rest of its stage stretches by 1/*a* and, when the stage resolves, its
  log-odds fall by ``overload_penalty · (−ln a)``. An overloaded rep closes less, and slower.
* **Prospecting** in a finite territory. Each hour reaches ``contacts_per_hour`` accounts of the
  rep's book at random; only the not yet contacted ones are fresh, and a fresh contact opens an
  opportunity with probability ``opportunity_rate``. Contacted accounts come back after
  ``requalify_days``. So yield per hour falls as the book is worked and arrivals are bounded by the
  territory, not by the plan. Marketing's inbound opportunities cost no prospecting time.

Every rep works the deals in front of them first and prospects with what is left, up to their
plan: the prescribed rate (from the reverse funnel) or their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from salessim.drivers import prescription
from salessim.model.clock import WEEK
from salessim.model.sorting import stable_argsort

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = ["MIN_ATTENTION", "allocate", "fresh_yield", "seat_order"]

#: Attention never falls below this (a deal nobody works still moves, very slowly).
MIN_ATTENTION = 0.05
_INT16_MAX = int(np.iinfo(np.int16).max)


def fresh_yield(sf: SalesForce) -> np.ndarray:
    """Opportunities per prospecting hour for each seat now: contacts × fresh share × rate."""
    t = sf.sc.territory
    return t.contacts_per_hour * t.opportunity_rate * sf.uncontacted / t.accounts


def seat_order(seat: np.ndarray, key: np.ndarray, o: np.ndarray, seats: int) -> np.ndarray:
    """The order of the open deals ``o`` by seat, then ``key``, ties in book order.

    What ``np.lexsort((o, key, seat))`` gives, as stable sorts from the last key to the first
    (lexsort's own method, cheaper this way): an ascending book needs no sort by ``o``, and the
    seat numbers sort as 16-bit integers when they fit (numpy sorts those by radix).
    """
    if o.size < 2:
        return np.zeros(o.size, dtype=np.intp)
    if bool((o[1:] > o[:-1]).all()):  # ascending: book order is the order as it stands
        order = stable_argsort(key)
    else:
        order = np.argsort(o, kind="stable")
        order = order[np.argsort(key[order], kind="stable")]
    s = seat[order]
    if seats <= _INT16_MAX:
        s = s.astype(np.int16)
    return order[np.argsort(s, kind="stable")]


def allocate(sf: SalesForce, now: float) -> None:
    """This week's hours of every rep: deal attention, prospecting hours, arrivals, time shares.

    Sets ``sf.rate`` (new opportunities per day, outbound plus inbound) for
    :func:`salessim.model.deals.create`, rescales the remaining stage time of every open deal by
    its new attention, moves the territory on by a week and books the week's hours.
    """
    sc = sf.sc
    r = sc.reps
    t = sc.territory
    b = sf.book
    o = b.open_idx
    n = sf.N
    act = sf.active

    # --- the hours there are ------------------------------------------------------------------
    total = np.where(act, r.hours_per_week + sf.extra, 0.0)
    fixed = r.hours_per_week * r.non_selling_share
    logging = sf.log_events * sc.crm.minutes_per_update / 60.0
    sf.log_events[:] = 0.0
    q = sf.clock.period(now)
    if q >= 0:  # the seated reps' logging hours, for the year's costs
        logged = float(logging[act].sum())
        for k in sf.clock.slot_of(q):
            sf.log_hours[k] += logged
    meetings = sf.plan_hours_due  # corrective-plan meetings since last week (driver 7)
    sf.plan_hours_due = np.zeros(n)
    selling = np.maximum(total - fixed - logging - meetings, 0.0) * sf.focus
    selling = np.where(act, selling, 0.0)

    # --- what the deals need, and the prospecting the rep wants -------------------------------
    stage = b.stage[o]
    seat = b.seat[o]
    need = sf.work_hours[stage]
    deal_need = np.bincount(seat, weights=need, minlength=n)
    ramp = sf._ramp()
    productivity = sc.attrition.ramp_start + (1 - sc.attrition.ramp_start) * ramp
    yield_h = np.maximum(fresh_yield(sf) * productivity, 1e-9)
    inbound = np.where(act, t.inbound_per_week, 0.0)
    planned = (
        prescription.PROSPECTING_PLANS[sc.prescription.enabled](sf.pipe_value, sf.bias, sf.flag, sf.targets)
        * WEEK
    )
    want = np.maximum(planned - inbound, 0.0) / yield_h
    want = np.where(sf.gave_up, want * (1 - sc.motivation.give_up_cut), want)
    # the deals in front of the rep first, prospecting up to the plan with what is left
    for_deals = selling
    prospect = np.minimum(want, np.maximum(selling - deal_need, 0.0))

    # --- deal attention, by the priority policy ----------------------------------------------
    given_total = np.minimum(for_deals, deal_need)
    if o.size:
        key = prescription.DEAL_PRIORITY[r.deal_priority](
            stage=stage, amount=b.amount[o], created=b.created[o], stages=sf.S
        )
        order = seat_order(seat, key, o, n)
        s_seat = seat[order]
        s_need = need[order]
        cum = np.cumsum(s_need)
        first = np.searchsorted(s_seat, np.arange(n))
        base = np.concatenate([[0.0], cum])[first]
        before = cum - s_need - base[s_seat]
        given = np.clip(for_deals[s_seat] - before, 0.0, s_need)
        att_sorted = np.where(s_need > 0, given / np.where(s_need > 0, s_need, 1.0), 1.0)
        att = np.empty(o.size)
        att[order] = np.maximum(att_sorted, MIN_ATTENTION)
        old = b.att[o]
        # the rest of each stage runs at the new pace
        b.next_time[o] = now + np.maximum(b.next_time[o] - now, 0.0) * old / att
        b.att[o] = att
        # attention a new deal meets: what is left after the rep's current deals
        spare = np.maximum(for_deals - deal_need, 0.0)
        sf.new_att = np.clip(spare / max(float(sf.work_hours[0]), 1e-9), MIN_ATTENTION, 1.0)
    else:
        sf.new_att = np.ones(n)

    # --- prospecting in the territory --------------------------------------------------------
    contacts = prospect * t.contacts_per_hour
    fresh = np.minimum(contacts * sf.uncontacted / t.accounts, sf.uncontacted)
    outbound = fresh * t.opportunity_rate * productivity
    back = (t.accounts - sf.uncontacted) * min(WEEK / t.requalify_days, 1.0)
    # marketing's leads come from the same book: those accounts are worked, not fresh
    taken = inbound * sf.uncontacted / t.accounts
    sf.uncontacted = np.clip(sf.uncontacted - fresh - taken + back, 0.0, float(t.accounts))
    sf.rate = np.where(act, (outbound + inbound) / WEEK, 0.0)

    # --- the week's books --------------------------------------------------------------------
    used = given_total + prospect
    sf.week_total = total
    sf.week_selling = used
    sf.week_prospect = prospect
    sf.book_hours(used, total, sf.extra)
