"""What one replication leaves behind: flat arrays, from which the output tables are built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from salessim.drivers.goals import GoalModel
from salessim.model.deals import WON, DealBook
from salessim.scenario import Scenario

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = ["ReplicationRecord", "forecast_error", "record"]


@dataclass
class ReplicationRecord:
    """Everything one replication leaves behind, as flat arrays; tables are built from it."""

    scenario: Scenario
    replication: int
    seed: int
    warmup: float
    horizon: float
    book: DealBook
    goals: GoalModel
    person_seat: np.ndarray
    person_manager: np.ndarray
    person_hire: np.ndarray
    person_leave: np.ndarray
    person_exit: np.ndarray
    person_theta_hire: np.ndarray
    person_theta_leave: np.ndarray
    # per-period arrays have 5·Y slots (Clock.slots): year y's Q1..Q4 at 5y..5y+3, the year at 5y+4
    skill_snap: np.ndarray  # persons × (4·Y + 1) quarter starts and the end (NaN: not in seat)
    coaching_hours: np.ndarray  # persons × slots
    joint_calls: np.ndarray  # persons × slots
    flagged: np.ndarray  # persons × slots (bool)
    coaching_delivered_share: np.ndarray  # slots: joint-call hours delivered ÷ promised
    hours_selling: np.ndarray  # persons × slots: hours on deal work and prospecting
    hours_worked: np.ndarray  # persons × slots: hours worked, extra hours included
    hours_extra: np.ndarray  # persons × slots: discretionary hours
    p_make_sum: np.ndarray  # persons × slots: weekly own chance of making quota, summed
    p_make_n: np.ndarray  # persons × slots: weeks summed
    headcount: np.ndarray  # slots: mean weekly headcount
    coverage: np.ndarray  # pipeline coverage at each quarter's start (see _quarters); year: their mean
    culture: np.ndarray  # slots: mean team culture at period end
    forecast_error: np.ndarray  # slots
    forecast_bias: np.ndarray  # slots
    detections: np.ndarray  # rows of (time, lag_days)
    false_flags: int
    flag_log: np.ndarray  # rows of (time, 1 if the flag was false else 0)
    diag_log: np.ndarray  # rows of (time, 1 if the plan coaches the rep's weakest stage else 0)
    events: int
    manager_hours: np.ndarray  # slots × managers.CATEGORIES: every manager's hours, by use
    trained_started: np.ndarray  # slots: managers who started the leadership programme
    log_hours: np.ndarray  # slots: seated reps' hours logging deals in the CRM


def forecast_error(sf: SalesForce, signed: bool = False) -> np.ndarray:
    """Each quarter's forecast error: mean absolute % error over teams; a year's is their mean.

    ``signed``: the mean signed % error instead (the forecast's bias: above 0, forecasts ran high).
    """
    b = sf.book
    n = b.n
    fe = np.full(sf.clock.slots, np.nan)
    for q, fc in sf.forecasts.items():
        t0 = sf.W + q * sf.Q
        won = (b.status[:n] == WON) & (b.closed[:n] >= t0) & (b.closed[:n] < t0 + sf.Q)
        actual = np.bincount(b.manager[:n][won], weights=b.amount[:n][won], minlength=sf.M)
        ok = actual > 0
        err = (fc[ok] - actual[ok]) / actual[ok]
        fe[sf.clock.slot_of(q)[0]] = float(np.mean(err if signed else np.abs(err))) if ok.any() else np.nan
    for y in range(sf.clock.years):
        quarters = fe[5 * y : 5 * y + 4]
        if not np.all(np.isnan(quarters)):
            fe[5 * y + 4] = float(np.nanmean(quarters))
    return fe


def record(sf: SalesForce, events: int) -> ReplicationRecord:
    """The flat record of a finished replication."""
    n_p = len(sf.p_seat)
    return ReplicationRecord(
        scenario=sf.sc,
        replication=sf.rep,
        seed=sf.seed,
        warmup=sf.W,
        horizon=sf.H,
        book=sf.book,
        goals=sf.goalm,
        person_seat=np.array(sf.p_seat),
        person_manager=np.array(sf.p_manager),
        person_hire=np.array(sf.p_hire),
        person_leave=np.array(sf.p_leave),
        person_exit=np.array(sf.p_exit),
        person_theta_hire=np.array(sf.p_theta_hire),
        person_theta_leave=np.array(sf.p_theta_leave),
        skill_snap=sf.skill_snap[:n_p],
        coaching_hours=sf.coach_hours[:n_p],
        joint_calls=sf.calls[:n_p],
        flagged=sf.flagged[:n_p],
        hours_selling=sf.hours_selling[:n_p],
        hours_worked=sf.hours_worked[:n_p],
        hours_extra=sf.hours_extra[:n_p],
        p_make_sum=sf.p_make_sum[:n_p],
        p_make_n=sf.p_make_n[:n_p],
        coaching_delivered_share=np.divide(
            sf.coach_delivered,
            sf.coach_promised,
            out=np.full(sf.coach_promised.size, np.nan),
            where=sf.coach_promised > 0,
        ),
        headcount=sf.headcount_sum / np.maximum(sf.headcount_n, 1),
        coverage=sf.coverage,
        culture=sf.culture_end,
        forecast_error=forecast_error(sf),
        forecast_bias=forecast_error(sf, signed=True),
        detections=np.array(sf.detections, dtype=float).reshape(-1, 2),
        false_flags=sf.false_flags,
        events=events,
        flag_log=np.array(sf.flag_log, dtype=float).reshape(-1, 2),
        diag_log=np.array(sf.diag_log, dtype=float).reshape(-1, 2),
        manager_hours=sf.ledgers.by_period.copy(),
        trained_started=sf.trained_started.copy(),
        log_hours=sf.log_hours.copy(),
    )
