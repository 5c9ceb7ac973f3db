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
* **8 replications on all cores** — wall time of 8 baseline replications split over a process pool
  of every available core (the pool started and warm first). Target ≤ 2 s on 2 cores.
* **scaling** — the baseline's sales force at 80, 800 and 4,000 reps (more teams at the same span),
  one replication each (best of 3 at the smallest), each in a fresh process: seconds per
  replication, milliseconds per rep-year, and the process's peak resident memory (RSS, interpreter
  and imports included; tracemalloc would slow a 4,000-rep run by half). **Linearity** — cost per
  rep at the largest ÷ at the smallest — targets ≤ 1.5; peak memory at 4,000 reps targets < 1 GiB.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import simpy

from salessim.funnel import plan
from salessim.model import SalesForce
from salessim.results import tables
from salessim.scenario import Scenario, load_scenario
from salessim.simulate import simulate

__all__ = [
    "SCALE_REPS",
    "BenchResult",
    "ScalePoint",
    "ScaleResult",
    "pool_replications",
    "print_bench",
    "run_bench",
    "run_scaling",
    "scale_point",
    "timeout_floor",
]

#: sales-force sizes of the scaling section (reps; the baseline's span, more teams)
SCALE_REPS = (80, 800, 4000)
#: targets: cost per rep at the largest size ÷ at the smallest; peak RSS at the largest (MiB);
#: the wall time of 8 baseline replications on all cores (s)
LINEARITY_TARGET = 1.5
MEMORY_TARGET_MB = 1024.0
POOL_TARGET_S = 2.0


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


def _peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB.

    On Linux the high-water mark of the process's own memory (``VmHWM``, which starts afresh in a
    spawned process; ``ru_maxrss`` carries the parent's over ``exec``), elsewhere ``ru_maxrss``.
    """
    import resource

    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except (OSError, ValueError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, else KiB


@dataclass(frozen=True)
class ScalePoint:
    """One replication of a sales force of ``reps`` reps."""

    reps: int
    seconds: float  # wall time of one replication, tables built (best of the repeats)
    deals: int  # deals simulated, warm-up included
    years: float  # simulated years, warm-up included
    rss_before_mb: float  # the process's peak RSS before it (interpreter, imports, a warm-up run)
    rss_peak_mb: float  # the process's peak RSS once it has run

    @property
    def ms_per_rep_year(self) -> float:
        """Wall milliseconds per rep per simulated year."""
        return self.seconds / (self.reps * self.years) * 1e3


@dataclass(frozen=True)
class ScaleResult:
    """The scaling section: one point per sales-force size, smallest first."""

    points: tuple[ScalePoint, ...]
    isolated: bool  # each size ran in a fresh process (its RSS is its own)

    @property
    def linearity(self) -> float:
        """Cost per rep at the largest size ÷ at the smallest (1 = linear)."""
        a, b = self.points[0], self.points[-1]
        return (b.seconds / b.reps) / (a.seconds / a.reps)


def _scaled(sc: Scenario, reps: int) -> Scenario:
    """``sc`` with ``reps`` reps: as many teams of its span as it takes (at least one)."""
    teams = max(1, round(reps / sc.organisation.span))
    return sc.replace(**{"organisation.managers": teams, "name": f"{sc.name} × {teams} teams"})


def scale_point(
    scenario: dict[str, Any], reps: int, seed: int = 1, repeats: int = 1, hazard_scale: float | None = None
) -> ScalePoint:
    """Time one replication of ``scenario`` scaled to ``reps`` reps, in this process.

    A replication of the unscaled scenario runs first (imports, lookup tables), so the RSS before
    is the process's floor.

    Args:
        scenario: the resolved scenario as plain data.
        reps: reps in the sales force (rounded to whole teams of the scenario's span).
        seed: root seed.
        repeats: replication 0 is timed this many times; the best counts.
        hazard_scale: the solved voluntary-leaving scale (None: solved here).
    """
    base = Scenario.model_validate(scenario)
    SalesForce(base, seed, 10_000, hazard_scale=hazard_scale).run()
    sc = _scaled(base, reps)
    fp = plan(sc)
    gc.collect()
    before = _peak_rss_mb()
    best = math.inf
    deals = 0
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        rec = SalesForce(sc, seed, 0, fp, hazard_scale=hazard_scale).run()
        tables(rec)
        best = min(best, time.perf_counter() - t)
        deals = rec.book.n
        del rec
        gc.collect()
    years = (sc.simulation.warmup_days + sc.simulation.horizon_days) / 365.0
    return ScalePoint(
        reps=sc.n_reps,
        seconds=best,
        deals=deals,
        years=years,
        rss_before_mb=before,
        rss_peak_mb=_peak_rss_mb(),
    )


def run_scaling(
    sizes: Sequence[int] = SCALE_REPS,
    seed: int = 1,
    repeats: int = 3,
    isolate: bool = True,
    scenario: Any = "baseline",
) -> ScaleResult:
    """The scaling section: one replication per size (best of ``repeats`` at the smallest).

    Args:
        sizes: reps per sales force, smallest first.
        seed: root seed.
        repeats: timings of the smallest size (the larger run once).
        isolate: run each size in a fresh process, so its peak RSS is its own.
        scenario: the scenario to scale (its span is kept).
    """
    from salessim.model import hazard

    sc = load_scenario(scenario)
    scale = hazard.hazard_scale(sc) if sc.attrition.voluntary_annual > 0 else 0.0
    data = sc.to_dict()
    points = []
    for i, n in enumerate(sizes):
        args = (data, int(n), seed, repeats if i == 0 else 1, scale)
        if isolate:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as ex:
                points.append(ex.submit(scale_point, *args).result())
        else:
            points.append(scale_point(*args))
    return ScaleResult(points=tuple(points), isolated=isolate)


def pool_replications(
    replications: int = 8, seed: int = 1, workers: int | None = None, scenario: Any = "baseline"
) -> tuple[float, int]:
    """Wall seconds of ``replications`` replications split over a warm process pool, and its workers.

    The pool's processes are started (and have run one replication each) before the timing.
    """
    import numpy as np

    from salessim.executors import Batch, ProcessExecutor

    sc = load_scenario(scenario)
    data = sc.to_dict()
    SalesForce(sc, seed, 10_000).run()  # solve what the workers inherit before they start
    ex = ProcessExecutor(workers)
    try:
        n = ex.workers
        warm = [
            Batch(key=i, scenario=data, seed=seed, replications=(10_000 + i,), deals=False) for i in range(n)
        ]
        list(ex.map(warm))
        chunks = [c for c in np.array_split(np.arange(replications), n) if c.size]
        batches = [
            Batch(key=i, scenario=data, seed=seed, replications=tuple(int(r) for r in c), deals=False)
            for i, c in enumerate(chunks)
        ]
        t = time.perf_counter()
        list(ex.map(batches))
        return time.perf_counter() - t, n
    finally:
        ex.close()


def whatif_answer(replications: int = 8, seed: int = 1) -> float:
    """Wall seconds of one what-if answer as the ``what_if`` notebook gives it.

    A warm session (its pool started, the baseline arm already run and cached) answers a change
    of joint-call hours: the variant's ``replications`` are simulated and paired with the baseline's.
    """
    import tempfile
    from pathlib import Path

    from salessim.whatif import WhatIfSession

    with (
        tempfile.TemporaryDirectory() as d,
        WhatIfSession("baseline", replications, seed, cache=Path(d)) as session,
    ):
        session.ask({"coaching.joint_call_hours_per_week": 6.0})  # the pool and the baseline arm
        t = time.perf_counter()
        session.ask({"coaching.joint_call_hours_per_week": 8.0})
        return time.perf_counter() - t


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
    pool_workers: int = 0
    pool_replications: int = 0
    pool_s: float = float("nan")
    whatif_s: float = float("nan")
    scaling: ScaleResult | None = None

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


def run_bench(
    replications: int = 8,
    seed: int = 1,
    parallel: bool = True,
    parallel_replications: int = 64,
    scaling: Sequence[int] | None = SCALE_REPS,
    compare_pair: bool = True,
) -> BenchResult:
    """Time the baseline, serially, against the SimPy floor measured just before and after.

    Args:
        replications: serial baseline replications timed for the deal cost ratio.
        seed: root seed (the parallel comparison's warm-up also uses seed + 1).
        parallel: measure the process pool (8 replications on all cores; the 2-scenario
            comparison and the cache if ``compare_pair``).
        parallel_replications: replications per scenario of the 2-scenario comparison.
        scaling: sales-force sizes of the scaling section (None: skip it).
        compare_pair: run the 2-scenario comparison and the cache measurement.
    """
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

    res = BenchResult(
        floor_us=floor * 1e6,
        deals=deals,
        replications=replications,
        seconds=elapsed,
        events=events,
        peak_mb_one=peak(1),
        peak_mb_four=peak(4),
    )
    if scaling:
        res = dataclasses.replace(res, scaling=run_scaling(scaling, seed=seed))
    if not parallel:
        return res
    pool_s, pool_workers = pool_replications(8, seed)
    res = dataclasses.replace(
        res, pool_s=pool_s, pool_workers=pool_workers, pool_replications=8, whatif_s=whatif_answer(8, seed)
    )
    if not compare_pair:
        return res
    return _parallel(res, parallel_replications, seed)


def _parallel(res: BenchResult, replications: int, seed: int) -> BenchResult:
    import os
    import tempfile
    from pathlib import Path

    import pandas as pd

    from salessim.executors import ProcessExecutor, SerialExecutor
    from salessim.experiments import compare

    pair = ["baseline", "coaching_high"]
    t = time.perf_counter()
    serial = compare(
        pair, replications=replications, seed=seed, executor=SerialExecutor(), cache=False, progress=False
    )
    t_serial = time.perf_counter() - t
    workers = os.cpu_count() or 1
    ex = ProcessExecutor(workers)
    try:
        compare(
            pair, replications=workers, seed=seed + 1, executor=ex, cache=False, progress=False
        )  # start the pool's processes outside the timing
        t = time.perf_counter()
        par = compare(pair, replications=replications, seed=seed, executor=ex, cache=False, progress=False)
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
    return dataclasses.replace(
        res,
        workers=workers,
        serial_s=t_serial,
        parallel_s=t_par,
        first_s=t_first,
        cached_s=t_cached,
        identical=same,
    )


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
    t.add_row("peak memory, 4 replications", f"{b.peak_mb_four:.1f} MiB", "grows with reps, not replications")
    if b.pool_workers:
        t.add_row(
            f"{b.pool_replications} replications on {b.pool_workers} worker processes",
            f"{b.pool_s:.2f} s",
            f"≤ {POOL_TARGET_S:g} s on 2 cores",
        )
    if math.isfinite(b.whatif_s):
        t.add_row(
            f"what-if answer ({b.pool_replications} replications, warm session)",
            f"{b.whatif_s:.2f} s",
            f"≤ {POOL_TARGET_S:g} s on 2 cores",
        )
    if b.workers:
        t.add_row("2 scenarios × 64 replications, serial", f"{b.serial_s:.1f} s", "")
        t.add_row(f"… on {b.workers} worker processes", f"{b.parallel_s:.1f} s", "")
        t.add_row("parallel efficiency", f"{100 * b.parallel_efficiency:.0f} %", "≥ 80 %")
        t.add_row("identical to serial", "yes" if b.identical else "NO", "yes")
        t.add_row(
            "first run with cache / cached rerun",
            f"{b.first_s:.1f} s / {b.cached_s:.2f} s ({b.cache_speedup:.0f}× faster)",
            "≥ 5×",
        )
    Console(width=100).print(t)
    if b.scaling is not None:
        _print_scaling(b.scaling, Console(width=100))


def _print_scaling(s: ScaleResult, console: Any) -> None:
    from rich.table import Table

    how = "each in a fresh process" if s.isolated else "in this process"
    t = Table(
        title=f"scaling — the baseline's span, more teams; one replication each ({how})", title_justify="left"
    )
    for c in ("reps", "deals", "s per replication", "ms per rep-year", "peak RSS", "target"):
        t.add_column(c, justify="right")
    last = len(s.points) - 1
    for i, p in enumerate(s.points):
        target = f"< {MEMORY_TARGET_MB / 1024:g} GiB" if i == last and p.reps >= 4000 else ""
        t.add_row(
            f"{p.reps:,}",
            f"{p.deals:,}",
            f"{p.seconds:.2f}",
            f"{p.ms_per_rep_year:.2f}",
            f"{p.rss_peak_mb:,.0f} MiB",
            target,
        )
    console.print(t)
    a, b = s.points[0], s.points[-1]
    console.print(
        f"linearity (cost per rep at {b.reps:,} ÷ at {a.reps:,}): {s.linearity:.2f} "
        f"(target ≤ {LINEARITY_TARGET:g}); peak RSS includes the interpreter and "
        f"imports ({a.rss_before_mb:,.0f} MiB before the smallest run)"
    )
