"""Where replications run: serially, on a local process pool, or on a Dask distributed cluster.

Work is cut into *batches* (one scenario, a run of replications). Every replication depends only
on (scenario, seed, replication index), so any executor gives identical tables; results come back
in a deterministic order whatever order the batches finish in. Failed batches are retried: a
broken local pool is rebuilt, and Dask reschedules the work of a lost worker.

Limits (refused with a clear message, never discovered after a run):

* replications: at most :data:`MAX_REPLICATIONS` per scenario in one call;
* seeds: whole numbers in [0, :data:`MAX_SEED`] (results store the seed in 64-bit columns);
* local workers: at most :data:`WORKERS_PER_CORE` per available core (more is refused), and a
  pool never starts more processes than it has batches to run (fewer are started, silently);
* Dask: the scheduler address is checked before any connection, and connecting — TCP and the
  Dask handshake — gives up after ``$SALESSIM_DASK_TIMEOUT`` seconds (default 15).

Local pool workers die with the process that started them: on Linux the kernel kills them when
their parent goes (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread ends a worker whose
parent is gone.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import numbers
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = [
    "DASK_SCHEMES",
    "MAX_REPLICATIONS",
    "MAX_RUN_REPLICATIONS",
    "MAX_SEED",
    "WORKERS_PER_CORE",
    "Batch",
    "DaskExecutor",
    "ExecutorError",
    "ProcessExecutor",
    "RunTooLarge",
    "SerialExecutor",
    "available_cores",
    "check_replications",
    "check_run_size",
    "check_scheduler_address",
    "check_seed",
    "dask_timeout",
    "make_executor",
    "max_workers",
    "run_batch",
]

BatchResult = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]


class ExecutorError(RuntimeError):
    """The executor cannot run (e.g. an unreachable scheduler); the message says why."""


class RunTooLarge(ValueError):
    """A run asks for more replications, all scenarios together, than one run may hold."""


#: Most replications of one scenario in one run. A replication's tables take about 0.1 MB (more with
#: the deal log), so this keeps a run's results in memory; narrower intervals come from more
#: replications only as 1/√n, and a few hundred already pin the mean to about a tenth of its spread.
MAX_REPLICATIONS = 10_000
#: Most replications in one run, every scenario (or sweep point) together: a run's tables are held in
#: memory (about 0.1 MB a replication), so this bounds it near 2 GB; two scenarios at the per-scenario
#: maximum still fit.
MAX_RUN_REPLICATIONS = 20_000
#: Largest root seed: seeds are stored in 64-bit integer columns of the result tables.
MAX_SEED = 2**63 - 1
#: Local worker processes allowed per available core (processes beyond that only add overhead).
WORKERS_PER_CORE = 4
#: Seconds to reach a Dask scheduler (TCP and handshake) unless ``$SALESSIM_DASK_TIMEOUT`` says.
DEFAULT_DASK_TIMEOUT = 15.0
#: Dask communication schemes a scheduler address may use.
DASK_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def _show(value: object, limit: int = 40) -> str:
    """A value for a message, shortened when long (a 400-digit number stays readable)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 128:
        return f"{'-' if value < 0 else ''}a {abs(value).bit_length()}-bit number"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else f"{text[: limit - 12]}… ({len(text):,} characters)"


def _whole(value: object, name: str) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Integral)
        or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
    ):
        raise ValueError(f"{name} must be a whole number, got {_show(value)}")
    return int(value)


def check_replications(replications: object) -> int:
    """``replications`` as an int in [1, MAX_REPLICATIONS]; ValueError naming the limit otherwise."""
    n = _whole(replications, "replications")
    if n < 1:
        raise ValueError(f"replications must be at least 1, got {n}")
    if n > MAX_REPLICATIONS:
        raise ValueError(f"replications must be at most {MAX_REPLICATIONS:,} per scenario, got {_show(n)}")
    return n


def check_run_size(scenarios: int, replications: int) -> None:
    """Refuse a run of ``scenarios`` × ``replications`` above :data:`MAX_RUN_REPLICATIONS`."""
    total = int(scenarios) * int(replications)
    if total > MAX_RUN_REPLICATIONS:
        raise RunTooLarge(
            f"{scenarios:,} scenarios × {replications:,} replications = {total:,} replications in "
            f"one run; at most {MAX_RUN_REPLICATIONS:,} (results are held in memory): use fewer "
            "sweep values or scenarios, or fewer replications"
        )


def check_seed(seed: object) -> int:
    """``seed`` as an int in [0, MAX_SEED] (= 2**63 − 1); ValueError otherwise."""
    v = _whole(seed, "seed")
    if not 0 <= v <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and {MAX_SEED} (2**63 − 1), got {_show(v)}")
    return v


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def max_workers() -> int:
    """Most local worker processes a run may ask for: WORKERS_PER_CORE × available cores."""
    return WORKERS_PER_CORE * available_cores()


def _check_workers(workers: object) -> int:
    try:
        n = _whole(workers, "workers")
    except ValueError as e:
        raise ExecutorError(str(e)) from None
    if n < 1:
        raise ExecutorError(f"workers must be at least 1, got {n}")
    limit = max_workers()
    if n > limit:
        raise ExecutorError(
            f"workers must be at most {limit} ({WORKERS_PER_CORE} × "
            f"{available_cores()} available cores), got {_show(n)}"
        )
    return n


@dataclass(frozen=True)
class Batch:
    """A run of replications of one scenario."""

    key: int  # position in the deterministic output order
    scenario: dict[str, Any]  # the resolved scenario as plain data (cheap to ship)
    seed: int
    replications: tuple[int, ...]
    deals: bool
    warmup: dict[str, Any] | None = None  # the warm-up policy's source scenario (None: library's)
    culture_from: dict[str, Any] | None = None  # hold culture on this scenario's path (direct part)


def run_batch(batch: Batch) -> BatchResult:
    """Run one batch (in whatever process the executor chose)."""
    from salessim.funnel import plan
    from salessim.scenario import Scenario
    from salessim.simulate import run_replication

    sc = Scenario.model_validate(batch.scenario)
    fp = plan(sc)
    warm = Scenario.model_validate(batch.warmup) if batch.warmup is not None else None
    held = Scenario.model_validate(batch.culture_from) if batch.culture_from is not None else None
    reps, periods, deals = [], [], []
    for r in batch.replications:
        a, b, c, _ = run_replication(sc, r, batch.seed, batch.deals, fp, warm, culture_from=held)
        reps.append(a)
        periods.append(b)
        if c is not None:
            deals.append(c)
    return (
        pd.concat(reps, ignore_index=True),
        pd.concat(periods, ignore_index=True),
        pd.concat(deals, ignore_index=True) if deals else None,
    )


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


def _die_with_parent(parent: int, kernel: bool) -> None:
    """Pool-worker initializer: end this worker when the process that started it is gone.

    ``kernel``: ask Linux to SIGKILL this worker when its parent exits (``PR_SET_PDEATHSIG``).
    The kernel ties that signal to the *thread* that forked the worker, so the parent asks for it
    only when forking from its main thread. In every case a daemon thread polls the parent's pid
    and exits the worker once it has changed (the parent died; the worker was re-parented).
    """
    if kernel and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the watchdog remains
            pass
    if os.getppid() != parent:  # the parent died before the guard was set
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="salessim-parent-watch", daemon=True).start()


class ProcessExecutor:
    """A local process pool (all cores by default); a broken pool is rebuilt and work retried.

    ``workers`` is at most :func:`max_workers` (ExecutorError above it); a pool starts no more
    processes than it has batches. Workers die with the process that started them.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, retries: int = 2) -> None:
        self.workers = _check_workers(workers if workers is not None else available_cores())
        self.retries = retries
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self, batches: int) -> ProcessPoolExecutor:
        # fork: workers inherit the imported package (fast start, and scripts or notebooks need
        # no __main__ guard); elsewhere spawn
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        kernel = threading.current_thread() is threading.main_thread()
        return ProcessPoolExecutor(
            max_workers=max(1, min(self.workers, batches)),
            mp_context=ctx,
            initializer=_die_with_parent,
            initargs=(os.getpid(), kernel),
        )

    def map(self, batches: Sequence[Batch]) -> Iterator[tuple[Batch, BatchResult]]:
        """Yield (batch, result) as each finishes; retry batches lost with a broken pool."""
        todo = list(batches)
        attempts = {b.key: 0 for b in todo}
        while todo:
            self._pool = self._pool or self._new_pool(len(todo))
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
                                f"replications {b.replications[0]}–{b.replications[-1]}"
                            ) from None
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


_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_ADDRESS_HELP = (
    "expected SCHEME://HOST:PORT as printed by `dask scheduler`, e.g. tcp://10.0.0.5:8786 "
    f"(schemes: {', '.join(DASK_SCHEMES)}; HOST:PORT alone means tcp)"
)


def check_scheduler_address(address: str) -> str:
    """Check a Dask scheduler address's form before any connection; ExecutorError if malformed.

    Returns:
        The address with a scheme (``HOST:PORT`` → ``tcp://HOST:PORT``).
    """
    text = str(address).strip()
    bad = f"Dask scheduler address {_show(str(address), 80)}"
    if not text:
        raise ExecutorError(f"{bad} is empty; {_ADDRESS_HELP}")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ExecutorError(f"{bad} contains spaces or control characters; {_ADDRESS_HELP}")
    scheme, sep, loc = text.partition("://")
    if not sep:
        scheme, loc = "tcp", text
    scheme = scheme.lower()
    if scheme not in DASK_SCHEMES:
        raise ExecutorError(f"{bad}: unknown scheme {scheme!r}; {_ADDRESS_HELP}")
    if scheme == "inproc":
        if not loc:
            raise ExecutorError(f"{bad}: no in-process address after inproc://")
        return f"{scheme}://{loc}"
    if loc.startswith("["):  # [IPv6]:port
        host, close, after = loc[1:].partition("]")
        if not close or not host or not re.fullmatch(r"[0-9A-Fa-f:.%A-Za-z]+", host):
            raise ExecutorError(f"{bad}: malformed IPv6 host; {_ADDRESS_HELP}")
        if not after.startswith(":"):
            raise ExecutorError(f"{bad}: no port; {_ADDRESS_HELP}")
        port = after[1:]
        host_text = f"[{host}]"
    else:
        host, colon, port = loc.rpartition(":")
        if not colon:
            raise ExecutorError(f"{bad}: no port; {_ADDRESS_HELP}")
        if not _HOST.match(host):
            raise ExecutorError(f"{bad}: malformed host {_show(host)}; {_ADDRESS_HELP}")
        host_text = host
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ExecutorError(
            f"{bad}: the port must be a number from 1 to 65535, got {_show(port)}; {_ADDRESS_HELP}"
        )
    return f"{scheme}://{host_text}:{int(port)}"


def dask_timeout() -> float:
    """Seconds to reach a Dask scheduler: ``$SALESSIM_DASK_TIMEOUT`` or 15."""
    raw = os.environ.get("SALESSIM_DASK_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_DASK_TIMEOUT
    try:
        t = float(raw)
    except ValueError:
        t = math.nan
    if not (math.isfinite(t) and 0 < t <= 3600):
        raise ExecutorError(
            f"SALESSIM_DASK_TIMEOUT must be a number of seconds in (0, 3600], got {_show(raw)}"
        )
    return t


def _handshake(address: str, timeout: float) -> None:
    """Connect to ``address`` and complete the Dask handshake within ``timeout`` seconds.

    distributed bounds the TCP connect by its timeout but then waits for the handshake without one:
    a server that accepts connections and never answers (or answers in another protocol) would
    hang the client. This probe bounds the whole exchange.
    """
    import asyncio

    from distributed.comm import connect

    async def probe() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    # its own thread and event loop: the caller may already run one (a notebook kernel)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(probe())
        except BaseException as e:  # handed to the caller
            failure.append(e)

    th = threading.Thread(target=run, name="salessim-dask-probe", daemon=True)
    th.start()
    th.join(timeout + 5.0)
    if th.is_alive():
        raise TimeoutError(f"no handshake within {timeout:g} s")
    if failure:
        raise failure[0]


class DaskExecutor:
    """An existing Dask distributed cluster, reached by its scheduler address.

    The address is checked first (ExecutorError at once if malformed); then reaching the scheduler —
    TCP connect and the Dask handshake — must finish within ``timeout`` seconds (default
    ``$SALESSIM_DASK_TIMEOUT`` or 15).
    """

    name = "dask"

    def __init__(self, address: str, timeout: float | None = None, retries: int = 3) -> None:
        address = check_scheduler_address(address)
        timeout = dask_timeout() if timeout is None else float(timeout)
        try:
            from distributed import Client
        except ImportError as e:  # pragma: no cover - dask is installed by `make install`
            raise ExecutorError("Dask is not installed: pip install 'salessim[dask]'") from e
        self.address = address
        self.retries = retries
        t0 = time.monotonic()
        try:
            _handshake(address, timeout)
            left = max(1.0, timeout - (time.monotonic() - t0))
            self.client = Client(address, timeout=f"{left}s", set_as_default=False)
        except Exception as e:  # whatever the far end did, the run cannot start
            why = (
                "no Dask answer (timed out)"
                if isinstance(e, TimeoutError)
                else f"{type(e).__name__}: {_show(str(e), 200)}"
            )
            raise ExecutorError(
                f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s: "
                f"{why}. Start one with `dask scheduler` and "
                "`dask worker ADDRESS`, or leave --scheduler and DASK_SCHEDULER_ADDRESS unset to "
                "run on local processes."
            ) from None
        self.workers = max(
            1, sum(w.get("nthreads", 1) for w in self.client.scheduler_info().get("workers", {}).values())
        )

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


def make_executor(
    workers: int | None = None,
    scheduler: str | None = None,
) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    """Pick the executor for a run.

    A scheduler address (or ``DASK_SCHEDULER_ADDRESS``) → Dask; ``workers=1`` → serial; otherwise a
    local process pool over all available cores. ``workers`` must lie in [1, :func:`max_workers`].
    """
    if workers is not None:
        workers = _check_workers(workers)
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return DaskExecutor(address)
    if workers == 1 or (workers is None and available_cores() == 1):
        return SerialExecutor()
    return ProcessExecutor(workers)


def batches_for(
    scenarios: Sequence[dict[str, Any]],
    replications: Sequence[Sequence[int]],
    seed: int,
    deals: bool,
    workers: int,
    warmup: dict[str, Any] | None = None,
    culture_from: Sequence[dict[str, Any] | None] | None = None,
) -> list[Batch]:
    """Cut each scenario's replications into batches: about four per worker, for balance.

    ``warmup``: the scenario every batch's warm-up policy comes from (None: the library baseline).
    ``culture_from``: per scenario, the scenario whose culture path its runs hold (None: their own).
    """
    held = list(culture_from) if culture_from is not None else [None] * len(scenarios)
    out: list[Batch] = []
    total = sum(len(r) for r in replications)
    size = max(1, -(-total // max(1, 4 * workers)))
    key = 0
    for sc, reps, hold in zip(scenarios, replications, held, strict=True):
        reps = list(reps)
        for i in range(0, len(reps), size):
            out.append(Batch(key, sc, seed, tuple(reps[i : i + size]), deals, warmup, hold))
            key += 1
    return out
