"""Where replications run: serially, on a local process pool, or on a Dask distributed cluster.

Work is cut into *batches* (one scenario, a run of replications). Every replication depends only
on (scenario, seed, replication index), so any executor gives identical tables; results come back
in a deterministic order whatever order the batches finish in. Failed batches are retried: a
broken local pool is rebuilt, and Dask reschedules the work of a lost worker.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["Batch", "DaskExecutor", "ExecutorError", "ProcessExecutor", "SerialExecutor",
           "make_executor", "run_batch"]

BatchResult = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]


class ExecutorError(RuntimeError):
    """The executor cannot run (e.g. an unreachable scheduler); the message says why."""


@dataclass(frozen=True)
class Batch:
    """A run of replications of one scenario."""

    key: int  # position in the deterministic output order
    scenario: dict[str, Any]  # the resolved scenario as plain data (cheap to ship)
    seed: int
    replications: tuple[int, ...]
    deals: bool


def run_batch(batch: Batch) -> BatchResult:
    """Run one batch (in whatever process the executor chose)."""
    from salessim.funnel import plan
    from salessim.scenario import Scenario
    from salessim.simulate import run_replication

    sc = Scenario.model_validate(batch.scenario)
    fp = plan(sc)
    reps, periods, deals = [], [], []
    for r in batch.replications:
        a, b, c, _ = run_replication(sc, r, batch.seed, batch.deals, fp)
        reps.append(a)
        periods.append(b)
        if c is not None:
            deals.append(c)
    return (pd.concat(reps, ignore_index=True), pd.concat(periods, ignore_index=True),
            pd.concat(deals, ignore_index=True) if deals else None)


class SerialExecutor:
    """Everything in this process, one batch after another."""

    workers = 1
    name = "serial"

    def map(self, batches: Sequence[Batch]) -> Iterator[tuple[Batch, BatchResult]]:
        """Yield (batch, result) as each finishes."""
        for b in batches:
            yield b, run_batch(b)

    def close(self) -> None:
        """Nothing to release."""


class ProcessExecutor:
    """A local process pool (all cores by default); a broken pool is rebuilt and work retried."""

    name = "processes"

    def __init__(self, workers: int | None = None, retries: int = 2) -> None:
        self.workers = int(workers or os.cpu_count() or 1)
        self.retries = retries
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        # fork: workers inherit the imported package (fast start, and scripts or notebooks need
        # no __main__ guard); elsewhere spawn
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)

    def map(self, batches: Sequence[Batch]) -> Iterator[tuple[Batch, BatchResult]]:
        """Yield (batch, result) as each finishes; retry batches lost with a broken pool."""
        todo = list(batches)
        attempts = {b.key: 0 for b in todo}
        while todo:
            self._pool = self._pool or self._new_pool()
            futures: dict[Future, Batch] = {self._pool.submit(run_batch, b): b for b in todo}
            todo = []
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    b = futures[f]
                    try:
                        res = f.result()
                    except BrokenProcessPool:
                        attempts[b.key] += 1
                        if attempts[b.key] > self.retries:
                            raise ExecutorError(
                                f"a worker process died {attempts[b.key]} times running "
                                f"replications {b.replications[0]}–{b.replications[-1]}") from None
                        todo.append(b)
                        continue
                    yield b, res
            if todo:  # the pool broke: replace it and resubmit what was lost
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def close(self) -> None:
        """Shut the pool down."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """An existing Dask distributed cluster, reached by its scheduler address."""

    name = "dask"

    def __init__(self, address: str, timeout: float = 15.0, retries: int = 3) -> None:
        try:
            from distributed import Client
        except ImportError as e:  # pragma: no cover - dask is installed by `make install`
            raise ExecutorError("Dask is not installed: pip install 'salessim[dask]'") from e
        self.address = address
        self.retries = retries
        try:
            self.client = Client(address, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise ExecutorError(
                f"cannot reach the Dask scheduler at {address!r} within {timeout:.0f} s "
                f"({type(e).__name__}: {e}). Start one with `dask scheduler` and "
                "`dask worker ADDRESS`, or leave --scheduler and DASK_SCHEDULER_ADDRESS unset to "
                "run on local processes.") from None
        self.workers = max(1, sum(w.get("nthreads", 1) for w in
                                  self.client.scheduler_info().get("workers", {}).values()))

    def map(self, batches: Sequence[Batch]) -> Iterator[tuple[Batch, BatchResult]]:
        """Yield (batch, result) as each finishes; lost workers' batches are rescheduled."""
        from distributed import as_completed

        futs = {}
        for b in batches:
            f = self.client.submit(run_batch, b, retries=self.retries, pure=False)
            futs[f] = b
        for f in as_completed(list(futs), loop=self.client.loop):
            yield futs[f], f.result()

    def close(self) -> None:
        """Disconnect (the cluster keeps running)."""
        self.client.close()


def make_executor(workers: int | None = None, scheduler: str | None = None,
                  ) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    """Pick the executor for a run.

    A scheduler address (or ``DASK_SCHEDULER_ADDRESS``) → Dask; ``workers=1`` → serial; otherwise a
    local process pool over all cores.
    """
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return DaskExecutor(address)
    if workers is not None and int(workers) < 1:
        raise ExecutorError(f"workers must be at least 1, got {workers}")
    if workers == 1 or (workers is None and (os.cpu_count() or 1) == 1):
        return SerialExecutor()
    return ProcessExecutor(workers)


def batches_for(scenarios: Sequence[dict[str, Any]], replications: Sequence[Sequence[int]],
                seed: int, deals: bool, workers: int) -> list[Batch]:
    """Cut each scenario's replications into batches: about four per worker, for balance."""
    out: list[Batch] = []
    total = sum(len(r) for r in replications)
    size = max(1, -(-total // max(1, 4 * workers)))
    key = 0
    for sc, reps in zip(scenarios, replications, strict=True):
        reps = list(reps)
        for i in range(0, len(reps), size):
            out.append(Batch(key, sc, seed, tuple(reps[i:i + size]), deals))
            key += 1
    return out

