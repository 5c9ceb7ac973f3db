"""The deal book's storage: chunked deal draws and removing a leaver's unmet deals, value for value."""

from __future__ import annotations

import numpy as np
import pytest

from salessim.model.deals import C_GAP, OPEN, DealBook, SeatDeals
from salessim.rng import stream


@pytest.mark.parametrize("rows_hint", [0, 448, 2000])
def test_deal_draws_in_chunks_are_the_stream_in_one_piece(rows_hint: int) -> None:
    """Rows drawn a chunk at a time are each seat's stream in order, and the arrival times sum
    each 320-row block in the same order as one cumulative sum of it."""
    d = SeatDeals(11, 2, 3, 3, np.array([0.7, 0.8, 0.9]), rows_hint=rows_hint)
    d.ensure(700)  # past the first block, mid-way through the third
    rows = d.cum_gap.shape[1]
    assert rows >= 700 and d.draws.shape == (3, rows, d.cols)
    for k in range(3):
        u = np.maximum(stream(11, 2, "deals", k).random((rows, d.cols)), 1e-12)
        np.testing.assert_array_equal(d.draws[k], u)
        gaps = -np.log(u[:, C_GAP])
        want = np.empty(rows)
        start = 0.0
        for b0 in range(0, rows, d.BLOCK):
            want[b0 : b0 + d.BLOCK] = start + np.cumsum(gaps[b0 : b0 + d.BLOCK])
            start = want[b0 + d.BLOCK - 1] if b0 + d.BLOCK <= rows else start
        np.testing.assert_array_equal(d.cum_gap[k], want)


def _book(n: int) -> DealBook:
    b = DealBook(3, capacity=16)
    rng = np.random.default_rng(3)
    b.add(
        seat=np.arange(n) % 4,
        created=rng.random(n),
        amount=rng.random(n),
        u_stage=rng.random((n, 3)),
        visible=rng.random(n) < 0.5,
    )
    return b


@pytest.mark.parametrize("gone", [np.arange(10, 14), np.array([3, 9, 20]), np.arange(36, 40)])
@pytest.mark.parametrize("ascending", [True, False])
def test_removing_a_run_or_scattered_deals_keeps_every_array_aligned(
    gone: np.ndarray, ascending: bool
) -> None:
    b = _book(40)
    b.status[[5, 12, 30]] = 2  # closed deals stay in the book
    b.compact()
    if not ascending:
        b.open_idx = b.open_idx[::-1].copy()
    b.batch_start = 8
    n = b.n
    per_deal = {
        name: arr[:n].copy()
        for name, arr in vars(b).items()
        if name != "open_idx" and isinstance(arr, np.ndarray) and arr.shape[:1] == (b.cap,)
    }
    open_before = b.open_idx.copy()
    lo, tail = b.remove_tail(gone)
    kept = np.setdiff1d(np.arange(n), gone)
    assert lo == gone.min() and b.n == kept.size
    new_index = np.concatenate([np.arange(lo), tail])
    np.testing.assert_array_equal(new_index[kept], np.arange(kept.size))
    assert np.all(new_index[gone] == -1)
    for name, before in per_deal.items():
        np.testing.assert_array_equal(getattr(b, name)[: b.n], before[kept], err_msg=name)
    want = new_index[open_before]
    np.testing.assert_array_equal(b.open_idx, want[want >= 0])  # the open index keeps its order
    assert np.all(b.status[b.open_idx] == OPEN)
    assert b.batch_start == 8 - int((gone < 8).sum())  # the latest batch's first deal, moved


@pytest.mark.parametrize("cv", [0.3, 0.7, 1.0, 1.6])
def test_gamma_quantiles_by_arithmetic_lookup_equal_the_searched_ones(cv: float) -> None:
    """The evenly spaced knots are found by arithmetic, value for value what ``np.interp`` gives:
    at the knots, next to them, in the body and past both ends."""
    from scipy import special

    from salessim.funnel import _GAMMA

    knots = _GAMMA.X
    x = np.concatenate(
        [
            special.logit(np.random.default_rng(5).random(100_000)),
            knots,
            np.nextafter(knots, np.inf),
            np.nextafter(knots, -np.inf),
            [-12.5, 12.5, -np.inf, np.inf],
        ]
    )
    table = _GAMMA.table(cv)
    np.testing.assert_array_equal(_GAMMA._interp(x, table, _GAMMA.slopes(cv)), np.interp(x, knots, table))
