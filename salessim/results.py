"""Output tables (docs/model.md#outputs): ``reps``, ``periods`` and the opt-in ``deals`` log.

Built once per replication from the model's flat record — never grown row by row — with the
context columns (``scenario``, ``replication``, ``seed``) on every row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salessim.model import INVOLUNTARY, LOST, OPEN, VOLUNTARY, WON, ReplicationRecord
from salessim.model.clock import Clock
from salessim.model.managers import HIRING, REVIEW, TRAINING

__all__ = ["DEAL_COLUMNS", "PERIODS", "PERIOD_COLUMNS", "REP_COLUMNS", "Results", "tables"]

PERIODS = ("Q1", "Q2", "Q3", "Q4", "year")

REP_COLUMNS = [
    "scenario",
    "replication",
    "seed",
    "rep_id",
    "manager_id",
    "year",
    "period",
    "full_period",
    "quota",
    "revenue",
    "attainment",
    "composite_attainment",
    "opportunities",
    "wins",
    "losses",
    "coaching_hours",
    "joint_calls",
    "skill_start",
    "skill_end",
    "tenure_days",
    "left",
    "hired",
    "gap_flagged",
    "selling_time_share",
    "extra_hours",
    "p_make_quota",
]
#: ``pipeline_coverage`` is pipeline coverage (next quarter), the quantity the plan's benchmark
#: ``Plan.coverage`` gives: the open pipeline's value at a quarter's start ÷ that quarter's quota
#: (a fourth of the annual quota) of the seated reps; the ``year`` row is the mean of its quarters'.
#: ``year`` numbers the reported fiscal years (1, 2, …): each has four quarter rows and a ``year`` row.
PERIOD_COLUMNS = [
    "scenario",
    "replication",
    "seed",
    "year",
    "period",
    "headcount",
    "revenue",
    "quota",
    "attainment_p10",
    "attainment_p50",
    "attainment_p90",
    "pct_at_quota",
    "win_rate",
    "cycle_days",
    "pipeline_coverage",
    "forecast_error",
    "forecast_bias",
    "turnover",
    "voluntary_turnover",
    "coaching_hours",
    "coaching_delivered_share",
    "culture",
    "detection_lag_days",
    "false_flag_rate",
    "diagnosis_accuracy",
    "selling_time_share",
    "hires",
    "manager_review_hours",
    "manager_hiring_hours",
    "manager_training_hours",
    "managers_trained",
    "crm_logging_hours",
]
DEAL_COLUMNS = [
    "scenario",
    "replication",
    "opportunity_id",
    "rep_id",
    "manager_id",
    "segment",
    "product",
    "amount",
    "created_at",
    "closed_at",
    "stage_reached",
    "outcome",
    "joint_calls",
]


@dataclass
class Results:
    """Tidy results of one or more replications of one or more scenarios."""

    reps: pd.DataFrame
    periods: pd.DataFrame
    deals: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)

    def year(self) -> pd.DataFrame:
        """The ``periods`` rows for whole years (one per reported year and replication)."""
        return self.periods[self.periods["period"] == "year"]


@dataclass(frozen=True)
class _Period:
    """One reported period: its time span, its labels, and where its records sit."""

    t0: float
    t1: float
    period: str  # Q1 … Q4 or year
    year: int  # 1, 2, …
    slot: int  # index of per-period arrays (Clock.slots)
    snap_start: int  # skill snapshots at its start and end (quarter boundaries)
    snap_end: int
    closes_horizon: bool  # ends at the end of the horizon (then events at that instant count)


def _bounds(rec: ReplicationRecord) -> list[_Period]:
    clock = Clock(rec.warmup, rec.horizon)
    q, w, ylen = clock.Q, clock.W, clock.year_days
    out = []
    for y in range(clock.years):
        y0 = w + y * ylen
        last = y == clock.years - 1
        for i in range(4):
            out.append(
                _Period(
                    y0 + i * q,
                    y0 + (i + 1) * q,
                    PERIODS[i],
                    y + 1,
                    5 * y + i,
                    4 * y + i,
                    4 * y + i + 1,
                    last and i == 3,
                )
            )
        out.append(_Period(y0, y0 + ylen, "year", y + 1, 5 * y + 4, 4 * y, 4 * y + 4, last))
    return out


def tables(
    rec: ReplicationRecord, deals: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """The ``reps``, ``periods`` (and optionally ``deals``) rows of one replication."""
    sc = rec.scenario
    b = rec.book
    n = b.n
    status = b.status[:n]
    closed = b.closed[:n]
    created = b.created[:n]
    amount = b.amount[:n]
    person = b.person[:n]
    creator = b.creator[:n]
    n_p = rec.person_seat.size
    bounds = _bounds(rec)
    quota_year = sc.organisation.quota
    ramp = sc.attrition.ramp_days
    prod_names = list(sc.funnel.products)
    seg_new = np.array([s == "new_logo" for s in sc.funnel.segments])[b.segment[:n]]
    product = b.product[:n]
    if bounds:  # only deals created or closed in the reported periods count (the same, in order)
        first = min(per.t0 for per in bounds)
        sel = np.flatnonzero((closed >= first) | (created >= first))
        status, closed, created, amount, person, creator, seg_new, product = (
            a[sel] for a in (status, closed, created, amount, person, creator, seg_new, product)
        )

    rep_parts: list[dict[str, np.ndarray]] = []  # each period's columns, one frame at the end
    period_rows = []
    for per in bounds:
        t0, t1, k = per.t0, per.t1, per.slot
        in_seat = np.clip(np.minimum(rec.person_leave, t1) - np.maximum(rec.person_hire, t0), 0.0, None)
        present = in_seat > 0
        closed_in = (closed >= t0) & (closed < t1)
        won = closed_in & (status == WON)
        lost = closed_in & (status == LOST)

        def per_person(
            mask: np.ndarray, weights: np.ndarray | None = None, who: np.ndarray = person
        ) -> np.ndarray:
            w = None if weights is None else weights[mask]
            return np.bincount(who[mask], weights=w, minlength=n_p).astype(float)

        revenue = per_person(won, amount)
        wins = per_person(won)
        losses = per_person(lost)
        created_in = (created >= t0) & (created < t1)
        opps = per_person(created_in, who=creator)
        metrics = {
            "revenue": revenue,
            "wins": wins,
            "closed": wins + losses,
            "created": opps,
            "new_logo_wins": per_person(won & seg_new),
            "new_logo_revenue": per_person(won & seg_new, amount),
            "expansion_revenue": per_person(won & ~seg_new, amount),
        }
        for i, pname in enumerate(prod_names):
            metrics[f"product_revenue:{pname}"] = per_person(won & (product == i), amount)
        year_frac = in_seat / 365.0
        quota = quota_year * year_frac
        attainment = np.divide(revenue, quota, out=np.full(n_p, np.nan), where=quota > 0)
        goal_att = rec.goals.attainment(metrics, year_frac)
        composite = rec.goals.composite(goal_att)
        full = (rec.person_hire + ramp <= t0) & (rec.person_leave >= t1)
        hired = (rec.person_hire >= t0) & (rec.person_hire < t1)
        left = (rec.person_leave >= t0) & (rec.person_leave < t1)
        s_start = np.where(hired, rec.person_theta_hire, rec.skill_snap[:, per.snap_start])
        s_end = np.where(left, rec.person_theta_leave, rec.skill_snap[:, per.snap_end])
        tenure = np.minimum(rec.person_leave, t1) - rec.person_hire
        period = per.period
        # a rep who leaves at a period's first instant is listed for it when their handed-over
        # deals are lost then, so the period's rows still add up to it
        idx = np.flatnonzero(present | (wins + losses + opps > 0))
        rep_parts.append(
            {
                "rep_id": idx,
                "manager_id": rec.person_manager[idx],
                "year": np.full(idx.size, per.year),
                "period": np.full(idx.size, period, dtype=object),
                "full_period": full[idx],
                "quota": quota[idx],
                "revenue": revenue[idx],
                "attainment": attainment[idx],
                "composite_attainment": composite[idx],
                "opportunities": opps[idx].astype(np.int64),
                "wins": wins[idx].astype(np.int64),
                "losses": losses[idx].astype(np.int64),
                "coaching_hours": rec.coaching_hours[idx, k],
                "joint_calls": rec.joint_calls[idx, k].astype(np.int64),
                "skill_start": s_start[idx],
                "skill_end": s_end[idx],
                "tenure_days": tenure[idx],
                "left": left[idx],
                "hired": hired[idx],
                "gap_flagged": rec.flagged[idx, k],
                "selling_time_share": _ratio(rec.hours_selling[idx, k], rec.hours_worked[idx, k]),
                # discretionary hours per week in seat
                "extra_hours": _ratio(rec.hours_extra[idx, k], rec.p_make_n[idx, k]),
                "p_make_quota": _ratio(rec.p_make_sum[idx, k], rec.p_make_n[idx, k]),
            }
        )
        att_full = attainment[full & present]
        n_won = int(won.sum())
        n_closed = n_won + int(lost.sum())
        hc = rec.headcount[k]
        leavers = left & np.isin(rec.person_exit, (VOLUNTARY, INVOLUNTARY))
        vol = left & (rec.person_exit == VOLUNTARY)
        det = rec.detections
        det_in = det[(det[:, 0] >= t0) & ((det[:, 0] < t1) | (per.closes_horizon & (det[:, 0] <= t1)))]
        fl = rec.flag_log
        fl_in = fl[(fl[:, 0] >= t0) & ((fl[:, 0] < t1) | (per.closes_horizon & (fl[:, 0] <= t1)))]
        dg = rec.diag_log
        dg_in = dg[(dg[:, 0] >= t0) & ((dg[:, 0] < t1) | (per.closes_horizon & (dg[:, 0] <= t1)))]
        period_rows.append(
            {
                "year": per.year,
                "period": period,
                "headcount": hc,
                "revenue": float(revenue.sum()),
                "quota": float(quota.sum()),
                "attainment_p10": _q(att_full, 0.1),
                "attainment_p50": _q(att_full, 0.5),
                "attainment_p90": _q(att_full, 0.9),
                "pct_at_quota": float(np.mean(att_full >= 1.0)) if att_full.size else np.nan,
                "win_rate": n_won / n_closed if n_closed else np.nan,
                "cycle_days": float(np.median(closed[won] - created[won])) if n_won else np.nan,
                "pipeline_coverage": rec.coverage[k],
                "forecast_error": rec.forecast_error[k],
                "forecast_bias": rec.forecast_bias[k],
                "turnover": leavers.sum() / hc if hc else np.nan,
                "voluntary_turnover": vol.sum() / hc if hc else np.nan,
                "coaching_hours": float(rec.coaching_hours[:, k].sum()),
                "coaching_delivered_share": rec.coaching_delivered_share[k],
                "culture": rec.culture[k],
                "detection_lag_days": float(det_in[:, 1].mean()) if det_in.size else np.nan,
                "false_flag_rate": float(fl_in[:, 1].mean()) if fl_in.size else np.nan,
                "diagnosis_accuracy": float(dg_in[:, 1].mean()) if dg_in.size else np.nan,
                "selling_time_share": float(
                    _ratio(rec.hours_selling[:, k].sum(), rec.hours_worked[:, k].sum())
                ),
                # what the period's costs are priced from (salessim.costs)
                "hires": int(hired.sum()),
                "manager_review_hours": float(rec.manager_hours[k, REVIEW]),
                "manager_hiring_hours": float(rec.manager_hours[k, HIRING]),
                "manager_training_hours": float(rec.manager_hours[k, TRAINING]),
                "managers_trained": int(rec.trained_started[k]),
                "crm_logging_hours": float(rec.log_hours[k]),
            }
        )

    ctx = {"scenario": sc.name, "replication": rec.replication, "seed": rec.seed}
    m = sum(part["rep_id"].size for part in rep_parts)
    reps = pd.DataFrame(
        {
            "scenario": np.full(m, sc.name, dtype=object),
            "replication": np.full(m, rec.replication),
            "seed": np.full(m, rec.seed),
            **{name: np.concatenate([part[name] for part in rep_parts]) for name in rep_parts[0]},
        }
    )
    periods = pd.DataFrame([{**ctx, **row} for row in period_rows])
    deal_df = _deals_table(rec) if deals else None
    return _in_order(reps, REP_COLUMNS), _in_order(periods, PERIOD_COLUMNS), deal_df


def _in_order(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``df`` with exactly ``columns``, in that order (as built, it needs no copy)."""
    return df if list(df.columns) == columns else df[columns]


def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """Element-wise ``num ÷ den``, NaN where ``den`` is 0."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def _q(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if x.size else np.nan


def _deals_table(rec: ReplicationRecord) -> pd.DataFrame:
    """The CRM-style opportunity log: deals created in the reported horizon."""
    sc = rec.scenario
    b = rec.book
    n = b.n
    created = b.created[:n]
    keep = np.flatnonzero((created >= rec.warmup) & (created < rec.warmup + rec.horizon))
    start = pd.Timestamp(sc.start_date)

    def to_date(days: np.ndarray) -> pd.Series:
        d = pd.to_timedelta(np.floor(days - rec.warmup), unit="D")
        return (start + d).astype("datetime64[s]")

    status = b.status[keep]
    closed_days = b.closed[keep]
    stage_names = np.array([s.name for s in sc.funnel.stages] + ["won"])
    outcome = np.array(["open", "won", "lost"])[status]
    closed = to_date(np.where(status == OPEN, np.nan, closed_days))
    return pd.DataFrame(
        {
            "scenario": sc.name,
            "replication": rec.replication,
            "opportunity_id": [f"R{rec.replication}-D{i:06d}" for i in keep],
            "rep_id": b.person[keep].astype(np.int64),
            "manager_id": b.manager[keep].astype(np.int64),
            "segment": np.array(list(sc.funnel.segments))[b.segment[keep]],
            "product": np.array(list(sc.funnel.products))[b.product[keep]],
            "amount": np.round(b.amount[keep], 2),
            "created_at": to_date(b.created[keep]),
            "closed_at": closed,
            "stage_reached": stage_names[b.stage[keep]],
            "outcome": outcome,
            "joint_calls": b.joint_calls[keep].astype(np.int64),
        }
    )[DEAL_COLUMNS]
