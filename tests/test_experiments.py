"""Experiments at scale: paired comparisons, sweeps, executors (serial, process pool, Dask)."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salessim.executors import ExecutorError, ProcessExecutor, SerialExecutor
from salessim.experiments import compare, library_swings, parse_vary, sweep
from salessim.scenario import ScenarioError, load_scenario

SALESSIM = str(Path(sys.executable).parent / "salessim")


def small(name="baseline", **changes):
    """A library scenario shrunk to 4 teams × 6 reps and a shorter warm-up, for plumbing tests."""
    sc = load_scenario(name).replace(
        **{"organisation.managers": 4, "organisation.span": 6, "simulation.warmup_days": 120, **changes}
    )
    return sc.replace(name=name)


def assert_same(a, b):
    pd.testing.assert_frame_equal(a.results.reps, b.results.reps)
    pd.testing.assert_frame_equal(a.results.periods, b.results.periods)
    pd.testing.assert_frame_equal(a.summary, b.summary)


@pytest.fixture(scope="module")
def serial_pair():
    return compare(
        [small("baseline"), small("coaching_high")],
        replications=6,
        seed=11,
        executor=SerialExecutor(),
        cache=False,
    )


def test_process_pool_matches_serial(serial_pair):
    ex = ProcessExecutor(2)
    try:
        par = compare(
            [small("baseline"), small("coaching_high")], replications=6, seed=11, executor=ex, cache=False
        )
        # the pool really ran in other processes
        assert ex._pool is not None and len(ex._pool._processes) == 2
        assert all(pid != os.getpid() for pid in ex._pool._processes)
    finally:
        ex.close()
    assert par.meta["executor"] == "processes"
    assert_same(serial_pair, par)


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.mark.xdist_group("dask")
def test_dask_local_cluster_matches_serial(serial_pair, dask_cluster):
    from distributed import Client

    with Client(dask_cluster.scheduler_address) as c:
        pids = c.run(os.getpid)
    assert len(pids) == 2 and os.getpid() not in pids.values()  # real worker processes
    dsk = compare(
        [small("baseline"), small("coaching_high")],
        replications=6,
        seed=11,
        scheduler=dask_cluster.scheduler_address,
        cache=False,
    )
    assert dsk.meta["executor"] == "dask"
    assert_same(serial_pair, dsk)


@pytest.mark.xdist_group("dask")
def test_dask_survives_a_killed_worker(dask_cluster):
    from distributed import Client

    scs = [small("baseline"), small("reviews_monthly")]
    expected = compare(scs, replications=40, seed=5, executor=SerialExecutor(), cache=False)
    with Client(dask_cluster.scheduler_address) as c:
        victim = next(iter(c.run(os.getpid).values()))
    out = {}

    def run():
        out["comp"] = compare(
            scs, replications=40, seed=5, scheduler=dask_cluster.scheduler_address, cache=False
        )

    t = threading.Thread(target=run)
    t.start()
    time.sleep(1.0)  # batches are running on both workers now
    assert t.is_alive(), "the run finished before the kill: make it longer"
    os.kill(victim, signal.SIGKILL)
    t.join(timeout=240)
    assert not t.is_alive(), "comparison did not finish after a worker was killed"
    # that worker really died (the nanny replaces it; while it restarts a broadcast can fail)
    deadline = time.time() + 60
    with Client(dask_cluster.scheduler_address) as c:
        while True:
            try:
                c.wait_for_workers(2, timeout=60)
                pids = c.run(os.getpid)
                break
            except OSError:  # distributed's CommClosedError is an OSError
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
    assert victim not in pids.values()
    assert_same(expected, out["comp"])


def test_process_pool_survives_a_killed_worker():
    scs = [small("baseline"), small("managers_trained")]
    expected = compare(scs, replications=24, seed=9, executor=SerialExecutor(), cache=False)
    ex = ProcessExecutor(2)
    out = {}

    def run():
        out["comp"] = compare(scs, replications=24, seed=9, executor=ex, cache=False)

    t = threading.Thread(target=run)
    t.start()
    deadline = time.time() + 30
    while time.time() < deadline and not (ex._pool and ex._pool._processes):
        time.sleep(0.05)
    time.sleep(0.3)
    victim = next(iter(ex._pool._processes))
    assert t.is_alive(), "the run finished before the kill: make it longer"
    os.kill(victim, signal.SIGKILL)
    t.join(timeout=120)
    ex.close()
    assert not t.is_alive()
    assert_same(expected, out["comp"])


def test_common_random_numbers_pair_tightly():
    comp = compare(["baseline", "coaching_high"], replications=16, seed=3, workers=2, cache=False)
    p = comp.paired("revenue", "coaching_high")
    r = np.corrcoef(p["baseline"], p["variant"])[0, 1]
    assert r >= 0.5, f"per-replication revenue correlation {r:.2f}"
    row = comp.summary.set_index(["scenario", "metric"]).loc[("coaching_high", "revenue")]
    paired = row["diff_ci_high"] - row["diff_ci_low"]
    unpaired = row["diff_ci_high_unpaired"] - row["diff_ci_low_unpaired"]
    assert paired < unpaired
    # the paired interval is the t interval of the per-replication differences
    d = (p["variant"] - p["baseline"]).to_numpy()
    from scipy import stats

    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    assert np.isclose(row["diff"], d.mean()) and np.isclose(paired, 2 * half)
    assert 0.0 <= row["p_better"] <= 1.0


def test_summary_has_every_metric_and_baseline_has_no_difference(serial_pair):
    s = serial_pair.summary
    assert set(s["metric"]) == {
        "revenue",
        "attainment_p50",
        "pct_at_quota",
        "win_rate",
        "turnover",
        "detection_lag_days",
        "false_flag_rate",
        "diagnosis_accuracy",
        "forecast_error",
        "coaching_hours",
        "cost",
        "margin_less_cost",
    }
    base = s[s["scenario"] == "baseline"]
    assert base["diff"].isna().all()
    assert (s["ci_low"] <= s["mean"]).all() and (s["mean"] <= s["ci_high"]).all()


def test_cache_serves_identical_rerun_and_resumes(tmp_path):
    scs = [small("baseline"), small("crm_full")]
    first = compare(scs, replications=6, seed=2, executor=SerialExecutor(), cache=tmp_path)
    assert first.meta["computed_replications"] == 12
    again = compare(scs, replications=6, seed=2, cache=tmp_path)
    assert again.meta["computed_replications"] == 0 and again.meta["executor"] == "cache"
    assert_same(first, again)

    # an interrupted run keeps only whole batches and resumes from them
    class Interrupting(SerialExecutor):
        def map(self, batches):
            for i, item in enumerate(super().map(batches)):
                if i == 2:
                    raise KeyboardInterrupt
                yield item

    other = tmp_path / "other"
    with pytest.raises(KeyboardInterrupt):
        compare(scs, replications=6, seed=2, executor=Interrupting(), cache=other)
    left = [p for d in other.iterdir() for p in d.iterdir()]
    assert all((p / "batch.json").exists() for p in left if p.name.startswith("batch-"))
    assert not [p for p in left if p.name.startswith(".partial")]
    resumed = compare(scs, replications=6, seed=2, executor=SerialExecutor(), cache=other)
    assert 0 < resumed.meta["computed_replications"] < 12
    assert_same(first, resumed)


def test_cache_key_changes_with_scenario_content(tmp_path):
    compare([small("baseline")], replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path)
    changed = compare(
        [small("baseline", **{"crm.adoption": 0.9})],
        replications=2,
        seed=1,
        executor=SerialExecutor(),
        cache=tmp_path,
    )
    assert changed.meta["computed_replications"] == 2


def test_sweep_two_fields_and_response_direction():
    comp = sweep(
        small("baseline"),
        {"coaching.joint_call_hours_per_week": [0, 4, 8], "reviews.cadence": ["annual", "monthly"]},
        replications=8,
        seed=4,
        executor=SerialExecutor(),
        cache=False,
    )
    assert len(comp.scenarios) == 6  # baseline (4 h, annual) is one of the grid points
    y = comp.results.periods.query("period == 'year' and `reviews.cadence` == 'annual'")
    rev = y.groupby("coaching.joint_call_hours_per_week")["revenue"].mean()
    assert rev[0] < rev[4] < rev[8]  # more joint calls, more revenue (paired by CRN)
    assert {"coaching.joint_call_hours_per_week", "reviews.cadence"} <= set(comp.summary.columns)


def test_parse_vary_and_bad_sweeps():
    assert parse_vary("coaching.joint_call_hours_per_week=0,2,4.5") == (
        "coaching.joint_call_hours_per_week",
        [0, 2, 4.5],
    )
    assert parse_vary("reviews.cadence=annual,monthly")[1] == ["annual", "monthly"]
    with pytest.raises(ScenarioError):
        parse_vary("coaching.joint_call_hours_per_week")
    with pytest.raises(ScenarioError, match=r"reviews\.cadence"):
        sweep(
            small("baseline"),
            {"reviews.cadence": ["weekly"]},
            replications=1,
            executor=SerialExecutor(),
            cache=False,
        )


@pytest.fixture(scope="module")
def library_revenue() -> pd.DataFrame:
    comp = library_swings(replications=4, seed=1, workers=2, cache=False)
    return comp.summary[comp.summary["metric"] == "revenue"].set_index("scenario")


@pytest.mark.slow
def test_library_swings_rank_every_driver(library_revenue):
    rev = library_revenue
    assert rev["driver"].notna().sum() == len(rev) - 1  # every variant is tied to a driver
    assert rev.loc["coaching_none", "diff"] < 0 < rev.loc["coaching_high", "diff"]


@pytest.mark.slow
def test_best_practice_beats_every_single_lever(library_revenue):
    rev = library_revenue
    assert rev.loc["best_practice", "diff"] > rev.drop(index=["baseline", "best_practice"])["diff"].max()


def test_progress_is_silent_without_a_terminal(capfd):
    compare([small("baseline")], replications=2, seed=1, executor=SerialExecutor(), cache=False)
    assert capfd.readouterr().err == ""


def test_cli_compare_writes_tables_and_summary(tmp_path):
    base = tmp_path / "b.yaml"
    base.write_text("extends: baseline\norganisation: {managers: 3, span: 5}\n")
    var = tmp_path / "v.yaml"
    var.write_text("extends: b\ncoaching: {joint_call_hours_per_week: 8}\n")
    out = tmp_path / "out"
    env = {**os.environ, "SALESSIM_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run(
        [SALESSIM, "compare", str(base), str(var), "-r", "3", "--workers", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "vs b" in r.stdout and "team revenue" in r.stdout
    assert {p.name for p in out.iterdir()} == {
        "reps.parquet",
        "periods.parquet",
        "summary.csv",
        "manifest.json",
        "periods_direct.parquet",
    }
    s = pd.read_csv(out / "summary.csv")
    assert set(s["scenario"]) == {"b", "v"}
    # split by default: the variant's effect in its direct part and the part culture carries
    assert "direct [95 % CI]" in r.stdout
    v = s[s["scenario"] == "v"].set_index("metric")
    assert (
        abs(v.loc["revenue", "direct"] + v.loc["revenue", "mediated"] - v.loc["revenue", "diff"])
        < 1e-6 * abs(v.loc["revenue", "diff"]) + 1e-6
    )
    assert set(pd.read_parquet(out / "periods_direct.parquet")["scenario"]) == {"v"}


def test_cli_unreachable_scheduler_exits_2_quickly():
    t = time.time()
    r = subprocess.run(
        [SALESSIM, "compare", "baseline", "-r", "2", "--no-cache", "--scheduler", "tcp://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert time.time() - t < 30
    assert "cannot reach the Dask scheduler" in r.stderr and "Traceback" not in r.stderr


def test_executor_rejects_bad_workers():
    from salessim.executors import make_executor

    with pytest.raises(ExecutorError):
        make_executor(workers=0)


def test_cache_is_keyed_by_content_and_relabels_by_name(tmp_path):
    first = compare([small("baseline")], replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path)
    renamed = small("baseline").replace(name="same_content")
    again = compare([renamed], replications=2, seed=1, cache=tmp_path)
    assert again.meta["computed_replications"] == 0  # same content: served from the cache
    assert set(again.results.periods["scenario"]) == {"same_content"}
    assert set(again.summary["scenario"]) == {"same_content"}
    assert again.summary["mean"].notna().any()
    pd.testing.assert_frame_equal(
        first.results.periods.drop(columns="scenario"), again.results.periods.drop(columns="scenario")
    )


@pytest.mark.slow
def test_cli_swings_ranks_the_library(tmp_path):
    env = {**os.environ, "SALESSIM_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run(
        [SALESSIM, "swings", "-r", "2", "--workers", "2", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    ranked = r.stdout.split("ranked by team revenue, for baseline: ")[1]
    assert "best_practice" in ranked and "coaching_none" in ranked
    s = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert len(set(s["scenario"])) == 12  # baseline, ten one-driver variants, best practice
