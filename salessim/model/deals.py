"""The deal book: every opportunity, each seat's pre-drawn deal stream, and the deals' flow.

The book is a structure of arrays; deals are created by the week's prospecting, walked through
the stages, and won or lost.

A deal is created by prospecting, gets a segment, product and amount, and walks the stages; a failed
step is lost at that stage. Every random number a deal will ever need is drawn up front from its
seat's ``deals`` stream, row ``j`` for the seat's ``j``-th deal — so deal ``j`` of seat ``k`` is the
same opportunity in every scenario of a replication, only met at a different time, by a rep of
different skill, or not at all.

Deals are not SimPy processes: a replication moves tens of thousands of them, and resolving each
week's due stage-ends in one vectorised step (:func:`advance`) keeps a deal's cost to a few bare
SimPy events (see ``salessim bench``). Stage-end times stay exact; only the rep's state is read at
the week's tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from salessim.drivers.crm import logged, propensity
from salessim.model.clock import WEEK
from salessim.rng import stream

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce
    from salessim.scenario import Stage

__all__ = [
    "LOGIT_LIMIT",
    "LOST",
    "OPEN",
    "WON",
    "DealBook",
    "SeatDeals",
    "advance",
    "clip_logit",
    "create",
    "fast_lanes",
    "lane_durations",
    "seat_state",
]

OPEN, WON, LOST = 0, 1, 2
#: Stage log-odds are held within ±LOGIT_LIMIT so that every probability stays strictly inside
#: (0, 1) in float64 (expit rounds to exactly 1.0 beyond ≈ 36.7); realistic runs never come near it.
LOGIT_LIMIT = 30.0


def clip_logit(x: np.ndarray) -> np.ndarray:
    """``np.clip(x, -LOGIT_LIMIT, LOGIT_LIMIT)``, without np.clip's per-call overhead.

    The same values: neither bound is zero, so no signed zero can come out differently.
    """
    return np.minimum(np.maximum(x, -LOGIT_LIMIT), LOGIT_LIMIT)


# columns of a seat's deal-draw block
C_GAP, C_SEG, C_PROD, C_AMOUNT, C_VISIBLE, C_REASSIGN = range(6)
FIXED_COLS = 6


class SeatDeals:
    """Pre-drawn deal randomness for every seat, extended in chunks from each seat's own stream.

    ``cum_gap[k, j]`` is the operational time (cumulative prospecting intensity) at which seat ``k``
    creates its ``j``-th deal: arrivals are a Poisson process in operational time, so a busier rep
    meets the same deals sooner.
    """

    BLOCK = 320  # rows summed as one block: cum_gap is the block's start + a running sum within it
    CHUNK = 64  # rows drawn at a time after the first block (BLOCK is a multiple of it)

    def __init__(
        self,
        seed: int,
        replication: int,
        seats: int,
        stages: int,
        stage_cv: np.ndarray | None = None,
        rows_hint: int = 0,
    ) -> None:
        """Draw the first block of every seat's deal stream.

        ``rows_hint``: rows a seat is expected to need; room for them is reserved up front (memory
        is only touched as blocks are drawn), so a run within it never copies its draws to grow.
        """
        self.stages = stages
        self.cols = FIXED_COLS + 2 * stages
        self.stage_cv = np.full(stages, 0.7) if stage_cv is None else np.asarray(stage_cv, dtype=float)
        self.gens = [stream(seed, replication, "deals", k) for k in range(seats)]
        self.rows = 0
        # row-major buffers (row, seat, …) with room for more rows: rows not drawn yet are never
        # touched, so reserved room costs no resident memory; the public arrays are (seat, row, …)
        # views of the rows drawn so far
        self._draws = np.empty((0, seats, self.cols))
        self._cum_gap = np.empty((0, seats))
        self._dur_unit = np.empty((0, seats, stages))
        self._z_amount = np.empty((0, seats))
        self._run = np.zeros(seats)  # the running sum of gaps within the current block
        self._views()
        self._grow(max(self.BLOCK, self.CHUNK * -(-int(rows_hint) // self.CHUNK)))
        self._extend()

    def _views(self) -> None:
        r = self.rows
        self.draws = self._draws[:r].transpose(1, 0, 2)
        self.cum_gap = self._cum_gap[:r].T
        self.dur_unit = self._dur_unit[:r].transpose(1, 0, 2)  # unit-mean gamma stage-duration shapes
        self.z_amount = self._z_amount[:r].T  # standard-normal deal-size draws

    def _grow(self, rows: int) -> None:
        """Room for ``rows`` rows: each buffer is replaced by one twice as long (or ``rows``)."""
        cap = max(rows, 2 * self._cum_gap.shape[0])
        for name in ("_draws", "_cum_gap", "_dur_unit", "_z_amount"):
            old = getattr(self, name)
            new = np.empty((cap, *old.shape[1:]))
            new[: self.rows] = old[: self.rows]
            setattr(self, name, new)
            del old, new

    def _extend(self) -> None:
        from salessim.funnel import gamma_quantile

        r0 = self.rows
        r1 = r0 + (self.CHUNK if r0 else self.BLOCK)
        if r1 > self._cum_gap.shape[0]:
            self._grow(r1)
        block = np.empty((len(self.gens), r1 - r0, self.cols))
        for k, g in enumerate(self.gens):  # each seat's next rows
            g.random(out=block[k])
        # guard the inverse-CDF transforms against exact 0
        np.maximum(block, 1e-12, out=block)
        gaps = -np.log(block[:, :, C_GAP])
        b0 = r0 - r0 % self.BLOCK  # the first row of this chunk's block
        start = self._cum_gap[b0 - 1][:, None] if b0 else 0.0
        if r0 == b0:
            run = np.cumsum(gaps, axis=1)
        else:  # the block's running sum goes on, added in the same order as in one piece
            run = np.cumsum(np.concatenate([self._run[:, None], gaps], axis=1), axis=1)[:, 1:]
        self._run = run[:, -1].copy()
        self._cum_gap[r0:r1] = (start + run).T
        # the transforms every deal needs, done once per chunk rather than once per week
        u_dur = block[:, :, FIXED_COLS + self.stages :]
        for s in range(self.stages):
            self._dur_unit[r0:r1, :, s] = (
                gamma_quantile(u_dur[:, :, s].ravel(), 1.0, self.stage_cv[s]).reshape(u_dur.shape[:2]).T
            )
        self._z_amount[r0:r1] = special.ndtri(block[:, :, C_AMOUNT]).T
        self._draws[r0:r1] = block.transpose(1, 0, 2)
        self.rows = r1
        self._views()

    def take(
        self, seats: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Row ``rows[i]`` of seat ``seats[i]``'s stream: (draws, cum_gap, dur_unit, z_amount).

        The same values as ``draws[seats, rows]`` and so on, read from the row-major buffers
        by one flat index.
        """
        flat = rows * self._cum_gap.shape[1] + seats
        return (
            self._draws.reshape(-1, self.cols).take(flat, axis=0),
            self._cum_gap.reshape(-1).take(flat),
            self._dur_unit.reshape(-1, self.stages).take(flat, axis=0),
            self._z_amount.reshape(-1).take(flat),
        )

    def ensure(self, upto: int) -> None:
        """Make rows up to ``upto`` (exclusive) available for every seat."""
        while self.rows < upto:
            self._extend()


def fast_lanes(stages: Sequence[Stage]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The stages' fast lanes, or None when no stage has one.

    Per stage: (fast share, fast deals' and other deals' mean ÷ the stage mean, cv). None means
    every deal's durations are the plain gamma draws, untouched.
    """
    if not any(s.fast_share > 0 for s in stages):
        return None
    lanes = np.array([s.fast_lane() for s in stages])
    mean = np.array([s.mean_days for s in stages])
    return (lanes[:, 0], lanes[:, 1] / mean, lanes[:, 2] / mean, np.array([s.cv for s in stages]))


def lane_durations(
    u_dur: np.ndarray,
    dur_unit: np.ndarray,
    share: np.ndarray,
    fast: np.ndarray,
    slow: np.ndarray,
    cv: np.ndarray,
) -> np.ndarray:
    """Unit-mean stage durations of deals when some stages have a fast lane.

    A deal is fast in every stage whose ``share`` exceeds its *lane draw* ``v`` (the deal's
    duration uniform of the first stage with a fast lane), so the same deals are the quick buys
    throughout. In that first stage the duration is the ``v`` re-scaled within its lane (uniform
    again, independent of the lane); in later fast-lane stages the stage's own uniform. Each lane
    is a gamma of the stage's ``cv`` with mean ``fast`` or ``slow`` (× the stage mean, which the
    shares keep). Stages without a fast lane keep ``dur_unit``. No new random numbers: the
    deal's own pre-drawn uniforms, so common random numbers hold.
    """
    from salessim.funnel import gamma_quantile

    out = dur_unit.copy()
    first = int(np.flatnonzero(share > 0)[0])
    v = u_dur[:, first]
    for s in np.flatnonzero(share > 0):
        f = share[s]
        is_fast = v < f
        w = np.where(is_fast, v / f, (v - f) / (1 - f)) if s == first else u_dur[:, s]
        w = np.clip(w, 1e-12, 1 - 1e-12)
        out[:, s] = gamma_quantile(w, 1.0, cv[s]) * np.where(is_fast, fast[s], slow[s])
    return out


def _ascending(a: np.ndarray) -> bool:
    return bool(a.size < 2 or (a[1:] > a[:-1]).all())


class DealBook:
    """All deals of one replication, one array per attribute (grown by doubling).

    Integer columns are ``np.intp``: they index per-seat and per-stage arrays every week, and
    numpy indexes with its own index type without converting first.
    """

    INT = (
        "seat",
        "creator",
        "person",
        "manager",
        "segment",
        "product",
        "cell",
        "stage",
        "status",
        "joint_calls",
        "seat_row",
        "gamed",
    )
    FLOAT = ("amount", "list_amount", "created", "next_time", "closed", "boost", "offset", "att", "u_visible")

    # per-deal columns (set in __init__ from INT and FLOAT)
    seat: np.ndarray  # the seat holding the deal now
    creator: np.ndarray  # the person who created it
    person: np.ndarray  # the person holding it now (credited at close)
    manager: np.ndarray
    segment: np.ndarray
    product: np.ndarray
    cell: np.ndarray  # its market cell (segment × product), a row of the plan's cells
    stage: np.ndarray  # current stage; at close, where it was lost (or S when won)
    status: np.ndarray  # OPEN, WON or LOST
    joint_calls: np.ndarray
    seat_row: np.ndarray  # row of the seat's deal stream it came from
    amount: np.ndarray
    created: np.ndarray
    next_time: np.ndarray  # when the current stage ends
    closed: np.ndarray
    boost: np.ndarray  # joint-call lift on the current stage (log-odds)
    offset: np.ndarray  # segment + product log-odds offset
    list_amount: np.ndarray  # its value when opened (``amount`` is what it books: less any discount)
    att: np.ndarray  # attention its rep gives it this week (hours given ÷ hours needed, ≤ 1)
    gamed: np.ndarray  # 0, or 1 when pulled into a period's end, 2 when pushed past it
    u_visible: np.ndarray  # its CRM visibility uniform: logged once below the logging propensity

    def __init__(self, stages: int, capacity: int = 4096) -> None:
        self.n = 0
        self.stages = stages
        self.cap = capacity
        for name in self.INT:
            setattr(self, name, np.zeros(capacity, dtype=np.intp))
        for name in self.FLOAT:
            setattr(self, name, np.zeros(capacity, dtype=np.float64))
        self.visible = np.zeros(capacity, dtype=bool)
        self.u_stage = np.zeros((capacity, stages))
        self.u_dur = np.zeros((capacity, stages))
        self.dur_unit = np.zeros((capacity, stages))  # unit-mean gamma quantile of u_dur
        self.u_reassign = np.zeros(capacity)
        self.stage_t = np.full((capacity, stages), np.nan)  # time each stage was entered
        self.open_idx = np.zeros(0, dtype=np.int64)
        self.batch_start = 0  # first deal of the latest batch :func:`create` added

    def _grow(self, need: int) -> None:
        new = self.cap
        while new < need:
            new *= 2
        for name in (
            *self.INT,
            *self.FLOAT,
            "visible",
            "u_stage",
            "u_dur",
            "dur_unit",
            "u_reassign",
            "stage_t",
        ):
            old = getattr(self, name)
            arr = (
                np.full((new, *old.shape[1:]), np.nan)
                if name == "stage_t"
                else np.zeros((new, *old.shape[1:]), dtype=old.dtype)
            )
            arr[: self.n] = old[: self.n]
            setattr(self, name, arr)
        self.cap = new

    def add(self, **cols: np.ndarray | float) -> np.ndarray:
        """Append a batch of new open deals; returns their indices."""
        m = len(np.atleast_1d(cols["seat"]))
        if self.n + m > self.cap:
            self._grow(self.n + m)
        sl = slice(self.n, self.n + m)
        for name, values in cols.items():
            getattr(self, name)[sl] = values
        self.status[sl] = OPEN
        self.closed[sl] = np.nan
        self.stage_t[sl, 0] = self.created[sl]
        idx = np.arange(self.n, self.n + m)
        self.n += m
        self.open_idx = np.concatenate([self.open_idx, idx])
        return idx

    def remove(self, idx: np.ndarray) -> np.ndarray:
        """Delete open deals that never happened; returns each old index's new one (-1: removed)."""
        lo, tail = self.remove_tail(idx)
        return np.concatenate([np.arange(lo), tail])

    def remove_tail(self, idx: np.ndarray) -> tuple[int, np.ndarray]:
        """Delete open deals that never happened; returns ``(lo, tail)``.

        Indices below ``lo`` (the first removed deal) are unchanged; old index ``lo + i`` is now
        ``tail[i]`` (-1: removed). Only the tail from the first removed deal on is moved (removed
        deals are recent), so the cost is that of one week's batch, not of the whole book.
        """
        idx = np.asarray(idx)
        lo = int(np.min(idx))
        keep = np.ones(self.n - lo, dtype=bool)
        keep[idx - lo] = False
        tail = np.cumsum(keep) - 1 + lo
        tail[~keep] = -1
        m = lo + int(keep.sum())
        hi = lo + idx.size  # one run of deals [lo, hi) (a leaver's deals of one batch): shift the rest
        run = self.n - m == idx.size and int(np.max(idx)) == hi - 1
        for name, arr in vars(self).items():  # every per-deal array, whatever gets added later
            if name != "open_idx" and isinstance(arr, np.ndarray) and arr.shape[:1] == (self.cap,):
                if run:
                    arr[lo:m] = arr[hi : self.n]
                else:
                    arr[lo:m] = arr[lo : self.n][keep]
        if self.batch_start > lo:
            self.batch_start = lo + int(keep[: self.batch_start - lo].sum())
        self.n = m
        o = self.open_idx
        at = int(np.searchsorted(o, lo)) if _ascending(o) else None
        if at is not None:  # the open deals below lo keep their indices
            moved = tail[o[at:] - lo]
            self.open_idx = np.concatenate([o[:at], moved[moved >= 0]])
        else:
            moved = np.where(o >= lo, tail[np.maximum(o - lo, 0)], o)
            self.open_idx = moved[moved >= 0]
        return lo, tail

    def compact(self) -> None:
        """Drop closed deals from the open index."""
        self.open_idx = self.open_idx[self.status[self.open_idx] == OPEN]

    def view(self, name: str) -> np.ndarray:
        """The filled part of one attribute."""
        return getattr(self, name)[: self.n]


# ==========================================================================================
# the flow of deals through one sales force
# ==========================================================================================
_WINDOW = 16  # rows of each seat's stream looked at a time for this week's arrivals
_STEPS = np.arange(_WINDOW)


def create(sf: SalesForce, t0: float) -> None:
    """Deals created by this week's prospecting, at exact times within [t0, t0 + 7)."""
    d = sf.draws
    lam = sf.rate * WEEK
    new_op = sf.op_time + lam
    sf.week_start = t0
    sf.week_lam = lam
    cnt = np.zeros(sf.N, dtype=np.int64)
    ar = np.arange(sf.N)
    prospecting = (lam > 0)[:, None]
    while True:  # each seat's arrivals this week: its next rows up to the week's operational time
        idx = sf.next_row + cnt
        top = int(idx.max())
        d.ensure(top + 1)
        # a window of each seat's next rows (arrival times increase along a row, so the hits are
        # a run from the window's start); a seat that fills its window looks on
        w = min(_WINDOW, d.rows - top)
        hits = ((d.cum_gap[ar[:, None], idx[:, None] + _STEPS[:w]] <= new_op[:, None]) & prospecting).sum(
            axis=1
        )
        cnt += hits
        if not (hits == w).any():
            break
    total = int(cnt.sum())
    if total:
        seats = np.repeat(ar, cnt)
        offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        rows = sf.next_row[seats] + offs
        dr, cum_gap, dur_unit, z_amount = d.take(seats, rows)
        created = t0 + WEEK * (cum_gap - sf.op_time[seats]) / lam[seats]
        # segment by the rep's mix, then product within the segment
        mass = sf.seg_mass[seats]
        seg = (dr[:, C_SEG] * mass.sum(axis=1) > mass[:, 0]).astype(np.intp)
        cdf = sf.cell_cdf[seats, seg]
        cell = np.minimum((dr[:, C_PROD, None] > cdf).sum(axis=1), cdf.shape[1] - 1)
        prod = sf.cell_prod[cell]
        amount = sf.prod_median[prod] * sf.seg_factor[seg] * np.exp(sf.prod_sigma[prod] * z_amount)
        u_stage = dr[:, FIXED_COLS : FIXED_COLS + sf.S]
        u_dur = dr[:, FIXED_COLS + sf.S :]
        # every stage's duration shape (pre-computed per block); the stage's mean applies when
        # the stage starts, stretched by the attention the rep can give it
        att = sf.new_att[seats]
        lanes = fast_lanes(sf.sc.funnel.stages)
        if lanes is not None:  # some deals move fast: their stage durations from the mixture
            dur_unit = lane_durations(dr[:, FIXED_COLS + sf.S :], dur_unit, *lanes)
        first = dur_unit[:, 0] * sf.stage_mean[0] / att
        u_vis = dr[:, C_VISIBLE]
        visible = logged(
            u_vis,
            propensity(
                sf.sc.crm,
                np.zeros(total),
                sf.S,
                np.log(amount / sf.prod_median[prod]),
                sf.inspection[sf.seat_manager[seats]],
                sf.log_habit[seats],
            ),
        )
        sf.log_events += np.bincount(seats[visible], minlength=sf.N)
        sf.book.batch_start = sf.book.n
        sf.book.add(
            seat=seats,
            creator=sf.seat_person[seats],
            person=sf.seat_person[seats],
            manager=sf.seat_manager[seats],
            segment=seg,
            product=prod,
            cell=cell,
            stage=0,
            joint_calls=0,
            seat_row=rows,
            amount=amount,
            list_amount=amount,
            created=created,
            next_time=created + first,
            boost=0.0,
            offset=sf.cell_offset[cell],
            att=att,
            gamed=0,
            visible=visible,
            u_visible=u_vis,
            u_stage=u_stage,
            u_dur=u_dur,
            dur_unit=dur_unit,
            u_reassign=dr[:, C_REASSIGN],
        )
    sf.next_row += cnt
    sf.op_time = new_op


def advance(sf: SalesForce, now: float) -> None:
    """Resolve every stage that has ended by ``now``, each at its own end time."""
    b = sf.book
    o = b.open_idx
    o = o[b.next_time[o] <= now]
    if o.size == 0:
        return
    while o.size:
        s = b.stage[o]
        seat = b.seat[o]
        ends = b.next_time[o]
        lo = clip_logit(
            sf.base_logit[s]
            + sf.stage_theta[seat, s]
            + b.offset[o]
            - sf.penalty[seat]
            + b.boost[o]
            + sf.overload * np.log(b.att[o])
        )
        adv = b.u_stage[o, s] < special.expit(lo)
        vis = b.visible[o]
        if vis.any():  # a logged deal's stage change is one more CRM update
            sf.log_events += np.bincount(seat[vis], minlength=sf.N)
        fail = ~adv
        lost = o[fail]
        b.status[lost] = LOST
        b.closed[lost] = ends[fail]
        up = o[adv]
        up_ends = ends[adv]
        ns = s[adv] + 1
        b.stage[up] = ns
        hidden = ~b.visible[up] & (ns < sf.S)
        if hidden.any():  # a deal that moves on may now look real enough to log
            h = up[hidden]
            seen = logged(
                b.u_visible[h],
                propensity(
                    sf.sc.crm,
                    ns[hidden],
                    sf.S,
                    np.log(b.list_amount[h] / sf.prod_median[b.product[h]]),
                    sf.inspection[b.manager[h]],
                    sf.log_habit[b.seat[h]],
                ),
            )
            if seen.any():
                b.visible[h[seen]] = True
                sf.log_events += np.bincount(b.seat[h[seen]], minlength=sf.N)
        b.boost[up] = 0.0
        won = ns >= sf.S
        w = up[won]
        b.status[w] = WON
        b.closed[w] = up_ends[won]
        if w.size:
            sf.won_parts.append(w)
            sf._won_cache = None
        on = ~won
        go = up[on]
        if go.size:
            gs = ns[on]
            start = up_ends[on]
            b.stage_t[go, gs] = start
            nxt = start + b.dur_unit[go, gs] * sf.stage_mean[gs] / b.att[go]
            b.next_time[go] = nxt
            go = go[nxt <= now]
        o = go
    b.compact()


def seat_state(sf: SalesForce) -> None:
    """Each seat's open deals and open pipeline value."""
    b = sf.book
    o = b.open_idx
    seat = b.seat[o]
    sf.open_count = np.bincount(seat, minlength=sf.N).astype(float)
    sf.pipe_value = np.bincount(seat, weights=b.amount[o], minlength=sf.N)
