"""``salessim bench``: speed and memory as ratios to this machine's own SimPy floor.

The floor is one bare ``env.timeout`` in a raw SimPy loop, timed in the same run, so the ratios
hold across machines:

* **deal cost ratio** — wall time per simulated deal (warm-up deals included, tables built) ÷ the
  floor. Target ≤ 10, goal ≤ 6.
* **events per deal** — SimPy events processed per deal.
* **memory** — peak traced Python memory of one replication, and of a run with 4× the
  replications: results are aggregated per replication, so memory grows with reps, not runs.
* **parallel efficiency** — a 2-scenario × 64-replication comparison, serial vs a process pool on
  all cores: serial time ÷ (workers × parallel time). Target ≥ 80 %. Tables must be identical.
* **cache speed-up** — the same comparison rerun from the cache: first run ÷ rerun. Target ≥ 5×.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass

import simpy

from salessim.funnel import plan
from salessim.model import SalesForce
from salessim.results import tables
from salessim.scenario import load_scenario
from salessim.simulate import simulate

__all__ = ["BenchResult", "print_bench", "run_bench", "timeout_floor"]


def timeout_floor(n: int = 200_000, repeats: int = 5) -> float:
    """Seconds per bare ``yield env.timeout(1)`` in a raw SimPy loop (best of ``repeats``)."""
    def proc(env: simpy.Environment):
        for _ in range(n):
            yield env.timeout(1)

    best = float("inf")
    for _ in range(repeats):
        env = simpy.Environment()
        env.process(proc(env))
        t = time.perf_counter()
        env.run()
        best = min(best, (time.perf_counter() - t) / n)
    return best


@dataclass(frozen=True)
class BenchResult:
    """Measured figures of one bench run."""

    floor_us: float
    deals: int
    replications: int
    seconds: float
    events: int
    peak_mb_one: float
    peak_mb_four: float
    workers: int = 0
    serial_s: float = float("nan")
    parallel_s: float = float("nan")
    first_s: float = float("nan")
    cached_s: float = float("nan")
    identical: bool = False

    @property
    def parallel_efficiency(self) -> float:
        """Serial time ÷ (workers × parallel time)."""
        return self.serial_s / (self.workers * self.parallel_s)

    @property
    def cache_speedup(self) -> float:
        """First (computing, caching) run ÷ the rerun served from the cache."""
        return self.first_s / self.cached_s

    @property
    def us_per_deal(self) -> float:
        """Wall microseconds per simulated deal."""
        return self.seconds / self.deals * 1e6

    @property
    def deal_cost_ratio(self) -> float:
        """Wall time per deal ÷ one bare SimPy timeout."""
        return self.us_per_deal / self.floor_us

    @property
    def events_per_deal(self) -> float:
        """SimPy events per simulated deal."""
        return self.events / self.deals


def run_bench(replications: int = 8, seed: int = 1, parallel: bool = True,
              parallel_replications: int = 64) -> BenchResult:
    """Time the baseline, serially, against the SimPy floor measured just before and after."""
    sc = load_scenario("baseline")
    fp = plan(sc)
    SalesForce(sc, seed, 10_000, fp).run()  # warm caches and imports
    floor_a = timeout_floor()
    deals = events = 0
    elapsed = 0.0
    gc.collect()
    for r in range(replications):
        t = time.perf_counter()
        rec = SalesForce(sc, seed, r, fp).run()
        tables(rec)
        elapsed += time.perf_counter() - t
        deals += rec.book.n
        events += rec.events
    floor_b = timeout_floor()
    floor = min(floor_a, floor_b)

    def peak(n: int) -> float:
        gc.collect()
        tracemalloc.start()
        simulate(sc, replications=n, seed=seed)
        _, pk = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return pk / 2**20

    res = BenchResult(floor_us=floor * 1e6, deals=deals, replications=replications,
                      seconds=elapsed, events=events, peak_mb_one=peak(1), peak_mb_four=peak(4))
    if not parallel:
        return res
    return _parallel(res, parallel_replications, seed)


def _parallel(res: BenchResult, replications: int, seed: int) -> BenchResult:
    import dataclasses
    import os
    import tempfile
    from pathlib import Path

    import pandas as pd

    from salessim.executors import ProcessExecutor, SerialExecutor
    from salessim.experiments import compare

    pair = ["baseline", "coaching_high"]
    t = time.perf_counter()
    serial = compare(pair, replications=replications, seed=seed, executor=SerialExecutor(),
                     cache=False, progress=False)
    t_serial = time.perf_counter() - t
    workers = os.cpu_count() or 1
    ex = ProcessExecutor(workers)
    try:
        compare(pair, replications=workers, seed=seed + 1, executor=ex, cache=False,
                progress=False)  # start the pool's processes outside the timing
        t = time.perf_counter()
        par = compare(pair, replications=replications, seed=seed, executor=ex, cache=False,
                      progress=False)
        t_par = time.perf_counter() - t
    finally:
        ex.close()
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        compare(pair, replications=replications, seed=seed, cache=Path(d), progress=False)
        t_first = time.perf_counter() - t
        t = time.perf_counter()
        compare(pair, replications=replications, seed=seed, cache=Path(d), progress=False)
        t_cached = time.perf_counter() - t
    same = True
    try:
        pd.testing.assert_frame_equal(serial.results.reps, par.results.reps)
        pd.testing.assert_frame_equal(serial.results.periods, par.results.periods)
    except AssertionError:
        same = False
    return dataclasses.replace(res, workers=workers, serial_s=t_serial, parallel_s=t_par,
                               first_s=t_first, cached_s=t_cached, identical=same)


def print_bench(b: BenchResult) -> None:
    """Print the figures with their targets."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title="salessim bench — baseline scenario, serial", title_justify="left")
    for c in ("figure", "value", "target"):
        t.add_column(c)
    t.add_row("SimPy floor (one bare env.timeout)", f"{b.floor_us:.3f} µs", "")
    t.add_row("deals simulated (warm-up included)", f"{b.deals:,} in {b.replications} reps", "")
    t.add_row("wall time per deal", f"{b.us_per_deal:.2f} µs", "")
    t.add_row("deal cost ratio", f"{b.deal_cost_ratio:.2f}", "≤ 10 (goal ≤ 6)")
    t.add_row("SimPy events per deal", f"{b.events_per_deal:.3f}", "")
    t.add_row("replication wall time", f"{b.seconds / b.replications * 1e3:.0f} ms", "")
    t.add_row("peak memory, 1 replication", f"{b.peak_mb_one:.1f} MiB", "")
    t.add_row("peak memory, 4 replications", f"{b.peak_mb_four:.1f} MiB",
              "grows with reps, not replications")
    if b.workers:
        t.add_row("2 scenarios × 64 replications, serial", f"{b.serial_s:.1f} s", "")
        t.add_row(f"… on {b.workers} worker processes", f"{b.parallel_s:.1f} s", "")
        t.add_row("parallel efficiency", f"{100 * b.parallel_efficiency:.0f} %", "≥ 80 %")
        t.add_row("identical to serial", "yes" if b.identical else "NO", "yes")
        t.add_row("first run with cache / cached rerun",
                  f"{b.first_s:.1f} s / {b.cached_s:.2f} s ({b.cache_speedup:.0f}× faster)", "≥ 5×")
    Console(width=100).print(t)
