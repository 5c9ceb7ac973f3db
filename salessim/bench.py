"""``salessim bench``: speed and memory as ratios to this machine's own SimPy floor (DESIGN §10).

The floor is one bare ``env.timeout`` in a raw SimPy loop, timed in the same run, so the ratios
hold across machines:

* **deal cost ratio** — wall time per simulated deal (warm-up deals included, tables built) ÷ the
  floor. Target ≤ 10, goal ≤ 6.
* **events per deal** — SimPy events processed per deal.
* **memory** — peak traced Python memory of one replication, and of a run with 4× the
  replications: results are aggregated per replication, so memory grows with reps, not runs.
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


def run_bench(replications: int = 8, seed: int = 1) -> BenchResult:
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

    return BenchResult(floor_us=floor * 1e6, deals=deals, replications=replications,
                       seconds=elapsed, events=events, peak_mb_one=peak(1), peak_mb_four=peak(4))


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
    Console(width=100).print(t)
