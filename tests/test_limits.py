"""Resource limits on what a command line can ask for: workers, replications, seeds, a Dask scheduler
address, and pool workers that outlive their parent."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from salessim.executors import (
    MAX_REPLICATIONS,
    MAX_SEED,
    DaskExecutor,
    ExecutorError,
    ProcessExecutor,
    check_scheduler_address,
    make_executor,
    max_workers,
)
from salessim.experiments import compare
from salessim.simulate import simulate

SALESSIM = Path(sys.executable).parent / "salessim"
SMALL = {
    "extends": "baseline",
    "name": "small",
    "organisation": {"managers": 2, "span": 4},
    "simulation": {"warmup_days": 60, "horizon_days": 120},
}


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    t = time.monotonic()
    r = subprocess.run(
        [str(SALESSIM), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "SALESSIM_NO_PROGRESS": "1", **(env or {})},
        cwd=cwd,
        check=False,
    )
    return r, time.monotonic() - t


def refused(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


# ------------------------------------------------------------------------------------------
# workers
# ------------------------------------------------------------------------------------------
def test_cli_refuses_more_workers_than_the_core_limit(tmp_path):
    out = tmp_path / "out"
    r, secs = run(
        "compare",
        "baseline",
        "-r",
        "2",
        "--workers",
        "1000",
        "--no-cache",
        "--out",
        str(out),
        env={"SALESSIM_CACHE_DIR": str(tmp_path / "cache")},
    )
    refused(r, "--workers", f"at most {max_workers()}", "1000")
    assert secs < 20 and not out.exists()


def test_api_refuses_more_workers_than_the_core_limit():
    with pytest.raises(ExecutorError, match=f"at most {max_workers()}"):
        make_executor(workers=max_workers() + 1)
    with pytest.raises(ExecutorError, match="at most"):
        ProcessExecutor(1000)
    with pytest.raises(ExecutorError, match="whole number"):
        make_executor(workers=2.5)  # type: ignore[arg-type]


def test_pool_starts_no_more_processes_than_batches():
    ex = ProcessExecutor(max_workers())
    try:
        comp = compare([SMALL], replications=2, seed=1, executor=ex, cache=False, progress=False)
        assert ex._pool is not None
        assert len(ex._pool._processes) == 2  # two batches, not 4 × cores processes
    finally:
        ex.close()
    assert len(comp.results.periods) == 2 * 5


# ------------------------------------------------------------------------------------------
# replications
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cmd",
    [
        ["simulate", "baseline"],
        ["compare", "baseline"],
        ["swings"],
        ["validate"],
        ["bench"],
        ["sweep", "baseline", "--vary", "reviews.cadence=annual,monthly"],
        ["reports"],
    ],
)
def test_cli_refuses_replications_above_the_maximum(cmd, tmp_path):
    r, secs = run(*cmd, "-r", "1000000000", cwd=tmp_path)
    refused(r, "replications", f"at most {MAX_REPLICATIONS}", "1000000000")
    assert secs < 15
    assert list(tmp_path.iterdir()) == []


def test_the_maximum_itself_is_accepted_by_the_parser():
    from salessim.cli import build_parser

    args = build_parser().parse_args(["simulate", "baseline", "-r", str(MAX_REPLICATIONS)])
    assert args.replications == MAX_REPLICATIONS


def test_api_refuses_replications_above_the_maximum():
    t = time.monotonic()
    with pytest.raises(ValueError, match="at most 10,000"):
        simulate(SMALL, replications=MAX_REPLICATIONS + 1)
    with pytest.raises(ValueError, match="at most 10,000"):
        compare([SMALL], replications=1_000_000_000, cache=False)
    with pytest.raises(ValueError, match="whole number"):
        simulate(SMALL, replications=2.5)  # type: ignore[arg-type]
    assert time.monotonic() - t < 10


# ------------------------------------------------------------------------------------------
# seeds
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [str(2**64 + 1), str(2**63), "-1", "9" * 5000, "1e6"])
def test_cli_refuses_a_seed_out_of_range_at_parse_time(seed, tmp_path):
    """Refused before simulating: 10,000 replications would take hours, the refusal a start-up."""
    out = tmp_path / "out"
    _, startup = run("--version")  # the CLI's start-up on this machine, at its present load
    r, secs = run("simulate", "baseline", "-r", "10000", "--seed", seed, "--out", str(out))
    refused(r, "seed")
    assert secs < 5 * startup + 10 and not out.exists()
    assert len(r.stderr) < 600  # a 5,000-digit seed is not echoed whole


def test_bench_refuses_the_seed_whose_successor_it_would_run():
    r, secs = run("bench", "--seed", str(MAX_SEED))
    refused(r, "seed", "seed + 1")
    assert secs < 10


def test_the_largest_seed_runs_and_is_written(tmp_path):
    out = tmp_path / "out"
    r, _ = run("simulate", str(_small_file(tmp_path)), "-r", "1", "--seed", str(MAX_SEED), "--out", str(out))
    assert r.returncode == 0, r.stderr
    import pandas as pd

    assert pd.read_parquet(out / "periods.parquet")["seed"].unique().tolist() == [MAX_SEED]


def test_api_refuses_a_seed_out_of_range():
    with pytest.raises(ValueError, match="seed"):
        simulate(SMALL, replications=1, seed=2**64 + 1)
    with pytest.raises(ValueError, match="seed"):
        compare([SMALL], replications=1, seed=-1, cache=False)


def _small_file(tmp_path: Path) -> Path:
    import yaml

    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump(SMALL), encoding="utf-8")
    return p


# ------------------------------------------------------------------------------------------
# Dask scheduler addresses
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "not an address",
        "http://127.0.0.1:8786",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:99999",
        "tcp://:8786",
        "tcp://[::1",
        "tcp://host:port",
        "tcp://a b:8786",
        "tcp://\x1b[31m:1",
    ],
)
def test_cli_refuses_a_malformed_scheduler_address_at_once(address, tmp_path):
    r, secs = run(
        "compare",
        "baseline",
        "-r",
        "2",
        "--no-cache",
        "--scheduler",
        address,
        env={"SALESSIM_CACHE_DIR": str(tmp_path / "cache")},
    )
    refused(r, "Dask scheduler address", "tcp://")
    assert secs < 10


@pytest.mark.parametrize(
    ("address", "normal"),
    [
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("localhost:8786", "tcp://localhost:8786"),
        ("TLS://sched.example.org:8786", "tls://sched.example.org:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
        ("inproc://10.0.0.5/1234/1", "inproc://10.0.0.5/1234/1"),
    ],
)
def test_well_formed_scheduler_addresses_pass_the_check(address, normal):
    assert check_scheduler_address(address) == normal


@pytest.fixture
def silent_server():
    """A TCP server on loopback that accepts connections and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


@pytest.fixture
def http_server():
    """A plain HTTP server on loopback."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"tcp://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_cli_gives_up_on_a_server_that_never_answers(silent_server, tmp_path):
    _, startup = run("--version")  # the CLI's start-up on this machine, at its present load
    r, secs = run(
        "compare",
        "baseline",
        "-r",
        "2",
        "--no-cache",
        "--scheduler",
        silent_server,
        env={"SALESSIM_DASK_TIMEOUT": "3", "SALESSIM_CACHE_DIR": str(tmp_path / "c")},
        timeout=60,
    )
    refused(r, "cannot reach the Dask scheduler", "within 3 s")
    # the timeout, the probe's slack and the CLI's start-up (importing Dask: a few start-ups);
    # without the timeout the CLI waits on the silent server until the 60 s limit
    assert secs < 3 + 5 + 3 * startup + 2


@pytest.mark.parametrize("server", ["silent_server", "http_server"])
def test_connecting_is_bounded_by_the_timeout_handshake_included(server, request):
    address = request.getfixturevalue(server)
    box: dict[str, BaseException] = {}

    def connect() -> None:
        try:
            DaskExecutor(address, timeout=3)
        except BaseException as e:
            box["error"] = e

    t0 = time.monotonic()
    th = threading.Thread(target=connect, daemon=True)
    th.start()
    th.join(3 + 5)
    assert not th.is_alive(), "still connecting after the timeout"
    assert isinstance(box.get("error"), ExecutorError), box
    assert time.monotonic() - t0 < 3 + 5


def test_the_dask_timeout_is_read_from_the_environment(tmp_path):
    r, secs = run(
        "compare",
        "baseline",
        "-r",
        "2",
        "--no-cache",
        "--scheduler",
        "tcp://127.0.0.1:1",
        env={"SALESSIM_DASK_TIMEOUT": "soon", "SALESSIM_CACHE_DIR": str(tmp_path / "c")},
    )
    refused(r, "SALESSIM_DASK_TIMEOUT", "soon")
    assert secs < 10


# ------------------------------------------------------------------------------------------
# pool workers die with their parent
# ------------------------------------------------------------------------------------------
PARENT = textwrap.dedent("""
    import sys, threading, time
    from salessim.executors import Batch, ProcessExecutor
    from salessim.scenario import load_scenario

    sc = load_scenario("baseline").model_dump(mode="json")
    ex = ProcessExecutor(2)
    batches = [Batch(i, sc, 1, tuple(range(1000 * i, 1000 * i + 1000)), False) for i in range(2)]

    def work():
        for _ in ex.map(batches):
            pass

    def report():
        while not (ex._pool and len(ex._pool._processes) == 2):
            time.sleep(0.05)
        time.sleep(1.0)  # the workers are busy with their batches
        print("workers", *ex._pool._processes, flush=True)

    if sys.argv[1] == "main":
        threading.Thread(target=report, daemon=True).start()
        work()
    else:  # the pool is started from another thread
        threading.Thread(target=work, daemon=True).start()
        report()
        time.sleep(600)
""")


@pytest.mark.parametrize("started_from", ["main", "thread"])
def test_pool_workers_die_with_a_killed_parent(started_from, tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT, encoding="utf-8")
    parent = subprocess.Popen(
        [sys.executable, str(script), started_from], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    workers: list[psutil.Process] = []
    try:
        line = parent.stdout.readline() if parent.stdout else ""
        assert line.startswith("workers"), line
        pids = [int(p) for p in line.split()[1:]]
        children = {c.pid for c in psutil.Process(parent.pid).children(recursive=True)}
        assert set(pids) <= children and len(pids) == 2
        workers = [psutil.Process(p) for p in pids]
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 5
        alive = workers
        while alive and time.monotonic() < deadline:
            alive = [w for w in alive if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
            time.sleep(0.1)
        assert not alive, f"orphaned workers still running: {[w.pid for w in alive]}"
    finally:  # never leave an orphan behind, whatever the outcome
        if parent.poll() is None:
            parent.kill()
        for w in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                w.kill()


# ------------------------------------------------------------------------------------------
# the size of one run, every scenario and sweep point together
# ------------------------------------------------------------------------------------------
def test_a_sweep_with_too_many_points_is_refused_before_building_them(tmp_path, capsys):
    from salessim.cli import main
    from salessim.executors import MAX_RUN_REPLICATIONS

    values = ",".join(str(v) for v in range(1, 10_001))  # 10,000 points × 3 replications
    code = main(
        [
            "sweep",
            "baseline",
            "--vary",
            f"organisation.quota={values}",
            "-r",
            "3",
            "--no-cache",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"{MAX_RUN_REPLICATIONS:,}" in err and "30,000" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_compare_refuses_a_run_larger_than_the_maximum():
    from salessim.executors import MAX_REPLICATIONS, MAX_RUN_REPLICATIONS, RunTooLarge
    from salessim.experiments import compare

    n = MAX_RUN_REPLICATIONS // MAX_REPLICATIONS + 1
    with pytest.raises(RunTooLarge, match="replications in one run"):
        compare(["baseline"] * n, replications=MAX_REPLICATIONS, cache=False)
