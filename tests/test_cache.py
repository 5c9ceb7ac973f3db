"""The batch cache: never serves a batch computed by other code or for another key, recomputes a
damaged one with a note, stays under its size cap, and never fails a run."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import SMALL_YAML

import salessim
from salessim.executors import SerialExecutor
from salessim.experiments import compare
from salessim.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
SALESSIM = Path(sys.executable).parent / "salessim"

SMALL = SMALL_YAML  # the suite's tiny sales force (2 managers × 4 reps, 60 + 120 days)
VARIANT = "extends: small\ncoaching: {joint_call_hours_per_week: 8}\n"


def small(name: str = "baseline", **changes):
    sc = load_scenario(name).replace(
        **{
            "organisation.managers": 2,
            "organisation.span": 4,
            "simulation.warmup_days": 60,
            "simulation.horizon_days": 120,
        }
    )
    return sc.replace(**changes) if changes else sc


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    (tmp_path / "small.yaml").write_text(SMALL)
    (tmp_path / "variant.yaml").write_text(VARIANT)
    return tmp_path / "small.yaml", tmp_path / "variant.yaml"


def cli(
    *args, cache: Path, cwd: Path, extra_env: dict[str, str] | None = None, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SALESSIM_CACHE_DIR": str(cache), "SALESSIM_NO_PROGRESS": "1", **(extra_env or {})}
    cmd = [str(SALESSIM), *map(str, args)]
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
        cmd = [
            sys.executable,
            "-c",
            "import sys; from salessim.cli import main; sys.exit(main())",
            *map(str, args),
        ]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def revenue(out: Path) -> pd.Series:
    p = pd.read_parquet(out / "periods.parquet")
    return p[p["period"] == "year"].set_index(["scenario", "replication"])["revenue"]


def batches(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("batch-*") if p.is_dir())


def batch_scenario(batch: Path) -> str:
    return str(pd.read_parquet(batch / "periods.parquet")["scenario"].iloc[0])


def served_from_cache(r: subprocess.CompletedProcess[str]) -> bool:
    return ", cache)" in r.stdout


# --------------------------------------------------------------------------------------------
# the key: the code and the libraries, not only the version number
# --------------------------------------------------------------------------------------------
def test_edited_model_code_is_not_served_from_the_cache(tmp_path, files):
    """Deal amounts doubled in the model: the rerun must show the new numbers, not the cached."""
    base, _ = files
    pkg = tmp_path / "checkout"
    shutil.copytree(
        Path(salessim.__file__).parent,
        pkg / "salessim",
        ignore=shutil.ignore_patterns("__pycache__", "_bundled"),
    )
    (pkg / "data").symlink_to(REPO / "data")
    cache = tmp_path / "cache"
    args = ("compare", base, "-r", "2", "-w", "1")
    first = cli(*args, "--out", tmp_path / "first", cache=cache, cwd=tmp_path, pythonpath=pkg)
    assert first.returncode == 0, first.stderr
    model = pkg / "salessim" / "model" / "deals.py"  # a subpackage: the fingerprint must see it
    code = model.read_text()
    assert code.count("amount = sf.prod_median[prod]") == 1
    model.write_text(code.replace("amount = sf.prod_median[prod]", "amount = 2 * sf.prod_median[prod]"))
    rerun = cli(*args, "--out", tmp_path / "rerun", cache=cache, cwd=tmp_path, pythonpath=pkg)
    fresh = cli(*args, "--no-cache", "--out", tmp_path / "fresh", cache=cache, cwd=tmp_path, pythonpath=pkg)
    assert rerun.returncode == 0 and fresh.returncode == 0, rerun.stderr + fresh.stderr
    assert not served_from_cache(rerun)
    pd.testing.assert_series_equal(revenue(tmp_path / "rerun"), revenue(tmp_path / "fresh"))
    # not the cached: every replication's revenue moved with deals twice the size
    assert (revenue(tmp_path / "rerun") != revenue(tmp_path / "first")).all()


def test_changed_source_fingerprint_misses_the_cache(tmp_path, monkeypatch):
    import salessim.cache as cache_mod

    scs = [small()]
    first = compare(scs, replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path)
    assert first.meta["computed_replications"] == 2
    again = compare(scs, replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path)
    assert again.meta["computed_replications"] == 0
    monkeypatch.setattr(cache_mod, "code_fingerprint", lambda: "0" * 20)
    edited = compare(scs, replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path)
    assert edited.meta["computed_replications"] == 2


def test_other_library_versions_miss_the_cache(tmp_path, monkeypatch):
    import salessim.cache as cache_mod

    scs = [small()]
    compare(scs, replications=1, seed=1, executor=SerialExecutor(), cache=tmp_path)
    real = cache_mod.dependency_versions()
    monkeypatch.setattr(cache_mod, "dependency_versions", lambda: {**real, "numpy": "0.0.1"})
    other = compare(scs, replications=1, seed=1, executor=SerialExecutor(), cache=tmp_path)
    assert other.meta["computed_replications"] == 1


def test_fingerprint_covers_every_source_file():
    from salessim.cache import code_fingerprint

    fp = code_fingerprint()
    assert fp == code_fingerprint() and len(fp) == 20  # computed once per process, stable


# --------------------------------------------------------------------------------------------
# every batch carries its key and checksums
# --------------------------------------------------------------------------------------------
def test_batch_copied_from_another_key_is_refused_and_recomputed(tmp_path, files):
    """A variant's batches copied over the baseline's must not make every difference +0.00."""
    base, var = files
    cache = tmp_path / "cache"
    args = ("compare", base, var, "-r", "2", "-w", "1")
    good = cli(*args, "--out", tmp_path / "good", cache=cache, cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    keys = {batch_scenario(b): b.parent for b in batches(cache)}
    assert set(keys) == {"small", "variant"}
    for b in keys["small"].iterdir():
        shutil.rmtree(b)
    for b in keys["variant"].iterdir():
        shutil.copytree(b, keys["small"] / b.name)
    again = cli(*args, "--out", tmp_path / "again", cache=cache, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "discarded cached batch" in again.stderr and "Traceback" not in again.stderr
    pd.testing.assert_series_equal(revenue(tmp_path / "again"), revenue(tmp_path / "good"))
    s = pd.read_csv(tmp_path / "again" / "summary.csv").set_index(["scenario", "metric"])
    assert s.loc[("variant", "revenue"), "diff"] != 0
    # recomputed and stored under the right key: the next run is served whole
    third = cli(*args, cache=cache, cwd=tmp_path)
    assert served_from_cache(third) and "discarded" not in third.stderr


@pytest.mark.parametrize(
    "damage",
    [
        "garbage parquet",
        "truncated parquet",
        "checksum",
        "no batch.json",
        "bad batch.json",
        "wrong replications",
    ],
)
def test_damaged_batch_is_recomputed_with_a_note(tmp_path, caplog, damage):
    scs = [small()]
    first = compare(scs, replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path)
    b = batches(tmp_path)[0]
    periods = b / "periods.parquet"
    if damage == "garbage parquet":
        periods.write_bytes(b"not a parquet file")
    elif damage == "truncated parquet":
        periods.write_bytes(periods.read_bytes()[:200])
    elif damage == "checksum":  # a valid parquet file, but not the one stored
        df = pd.read_parquet(periods)
        df.assign(revenue=df["revenue"] * 2).to_parquet(periods, index=False)
    elif damage == "no batch.json":
        (b / "batch.json").unlink()
    elif damage == "bad batch.json":
        (b / "batch.json").write_text("{")
    else:
        meta = json.loads((b / "batch.json").read_text())
        meta["replications"] = [7]
        (b / "batch.json").write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="salessim.cache"):
        again = compare(scs, replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path)
    assert again.meta["computed_replications"] >= 1
    assert any(
        "discarded cached batch" in r.getMessage() and str(b) in r.getMessage() for r in caplog.records
    )
    pd.testing.assert_frame_equal(first.results.periods, again.results.periods)
    # the damaged batch was replaced by a good one
    assert compare(scs, replications=2, seed=1, cache=tmp_path).meta["computed_replications"] == 0


def test_corrupted_cache_file_does_not_fail_every_rerun(tmp_path, files):
    """The issue's case: a corrupted parquet file made every rerun fail with ArrowInvalid."""
    base, _ = files
    cache = tmp_path / "cache"
    first = cli("compare", base, "-r", "2", "-w", "1", "--out", tmp_path / "a", cache=cache, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for b in batches(cache):
        (b / "periods.parquet").write_bytes(b"PAR1 garbage PAR1")
    notes = []
    for out in ("b", "c"):
        r = cli("compare", base, "-r", "2", "-w", "1", "--out", tmp_path / out, cache=cache, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
        pd.testing.assert_series_equal(revenue(tmp_path / out), revenue(tmp_path / "a"))
        notes.append(r.stderr.count("discarded cached batch"))
    assert notes == [2, 0]  # a note per damaged batch, which is then replaced by a good one


# --------------------------------------------------------------------------------------------
# location, size, eviction, leftovers, the `salessim cache` command
# --------------------------------------------------------------------------------------------
def test_default_location_is_the_user_cache_directory(monkeypatch, tmp_path):
    from salessim.cache import cache_root

    monkeypatch.delenv("SALESSIM_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "salessim"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "salessim"
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


def test_cli_runs_do_not_write_a_cache_into_the_working_directory(tmp_path, files, monkeypatch):
    base, _ = files
    env = {k: v for k, v in os.environ.items() if k != "SALESSIM_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), SALESSIM_NO_PROGRESS="1")
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run(
        [str(SALESSIM), "compare", str(base), "-r", "1", "-w", "1"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert list(work.iterdir()) == []
    assert batches(tmp_path / "xdg" / "salessim")


def test_eviction_keeps_the_cache_under_its_cap(tmp_path, monkeypatch):
    from salessim.cache import Cache

    scs = [small()]
    compare(scs, replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path)
    one_run = sum(e.bytes for e in Cache(tmp_path, limit=0).entries())
    cap = int(2.5 * one_run)  # room for two runs of two batches, not three
    monkeypatch.setenv("SALESSIM_CACHE_MAX_BYTES", str(cap))
    for seed in (2, 3, 4, 5):
        time.sleep(0.01)  # distinct last-use times
        compare(scs, replications=2, seed=seed, executor=SerialExecutor(), cache=tmp_path)
        assert sum(e.bytes for e in Cache(tmp_path).entries()) <= cap
    # the least recently used went first: the latest run is still served whole, the first is not
    assert compare(scs, replications=2, seed=5, cache=tmp_path).meta["computed_replications"] == 0
    assert (
        compare(scs, replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path).meta[
            "computed_replications"
        ]
        == 2
    )


def test_use_refreshes_recency(tmp_path, monkeypatch):
    from salessim.cache import Cache

    scs = [small()]
    compare(scs, replications=1, seed=1, executor=SerialExecutor(), cache=tmp_path)
    one = sum(e.bytes for e in Cache(tmp_path, limit=0).entries())
    monkeypatch.setenv("SALESSIM_CACHE_MAX_BYTES", str(int(2.5 * one)))
    compare(scs, replications=1, seed=2, executor=SerialExecutor(), cache=tmp_path)
    for b in batches(tmp_path):  # make both old, then use seed 1 again
        os.utime(b / "batch.json", (time.time() - 100, time.time() - 100))
    compare(scs, replications=1, seed=1, cache=tmp_path)
    compare(scs, replications=1, seed=3, executor=SerialExecutor(), cache=tmp_path)  # evicts one
    assert compare(scs, replications=1, seed=1, cache=tmp_path).meta["computed_replications"] == 0


def test_crash_leftovers_are_removed(tmp_path):
    scs = [small()]
    compare(scs, replications=1, seed=1, executor=SerialExecutor(), cache=tmp_path)
    key = batches(tmp_path)[0].parent
    dead = key / ".partial-999999999-abc"  # a process that is gone
    dead.mkdir()
    (dead / "reps.parquet").write_bytes(b"half")
    live = key / f".partial-{os.getpid()}-abc"  # a run in progress: left alone
    live.mkdir()
    from salessim.cache import Cache

    Cache(tmp_path).evict()
    assert not dead.exists() and live.exists()


def test_cli_cache_info_and_clear_older_than(tmp_path, files):
    base, var = files
    cache = tmp_path / "cache"
    r = cli("compare", base, var, "-r", "2", "-w", "1", "--no-culture-split", cache=cache, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(batches(cache)) == 4
    old_key = {batch_scenario(b): b.parent for b in batches(cache)}["variant"]
    long_ago = time.time() - 40 * 86400
    for b in old_key.iterdir():
        os.utime(b / "batch.json", (long_ago, long_ago))
    (cache / "notes.txt").write_text("not salessim's")  # never removed by clear

    info = cli("cache", "info", cache=cache, cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert str(cache) in info.stdout and "4 batches of 2 runs" in info.stdout
    assert "KiB" in info.stdout and "cap" in info.stdout

    cleared = cli("cache", "clear", "--older-than", "30", cache=cache, cwd=tmp_path)
    assert cleared.returncode == 0, cleared.stderr
    assert "removed 2 cached batches not used for 30 days" in cleared.stdout
    assert [batch_scenario(b) for b in batches(cache)] == ["small", "small"]
    assert not old_key.exists()

    everything = cli("cache", "clear", cache=cache, cwd=tmp_path)
    assert everything.returncode == 0 and "removed 2 cached batches" in everything.stdout
    assert batches(cache) == [] and (cache / "notes.txt").exists()
    assert "0 batches of 0 runs" in cli("cache", "info", cache=cache, cwd=tmp_path).stdout


@pytest.mark.parametrize(
    "args",
    [
        ["clear", "--older-than", "-1"],
        ["clear", "--older-than", "nan"],
        ["clear", "--older-than", "soon"],
        ["purge"],
    ],
)
def test_cli_cache_bad_arguments_exit_2(tmp_path, args):
    r = cli("cache", *args, cache=tmp_path / "cache", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert args[-1] in r.stderr


def test_bad_cache_cap_exits_2_naming_it(tmp_path, files):
    base, _ = files
    r = cli(
        "compare",
        base,
        "-r",
        "1",
        "-w",
        "1",
        cache=tmp_path / "cache",
        cwd=tmp_path,
        extra_env={"SALESSIM_CACHE_MAX_BYTES": "lots"},
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "SALESSIM_CACHE_MAX_BYTES" in r.stderr and "lots" in r.stderr


# --------------------------------------------------------------------------------------------
# a cache that cannot be written, and two runs sharing one
# --------------------------------------------------------------------------------------------
def test_unwritable_cache_with_a_writable_out_still_runs(tmp_path, files):
    base, var = files
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder would be\n")
    r = cli(
        "compare",
        base,
        var,
        "-r",
        "2",
        "-w",
        "1",
        "--out",
        tmp_path / "out",
        cache=blocker / "cache",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.count("cannot be written") == 1  # warned once, not per batch
    assert str(blocker / "cache") in r.stderr
    fresh = cli(
        "compare",
        base,
        var,
        "-r",
        "2",
        "-w",
        "1",
        "--no-cache",
        "--out",
        tmp_path / "fresh",
        cache=tmp_path / "c2",
        cwd=tmp_path,
    )
    assert fresh.returncode == 0, fresh.stderr
    pd.testing.assert_series_equal(revenue(tmp_path / "out"), revenue(tmp_path / "fresh"))
    assert blocker.read_text() == "a file where the cache folder would be\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_cache_still_runs(tmp_path, files):
    base, _ = files
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        r = cli("compare", base, "-r", "1", "-w", "1", cache=cache, cwd=tmp_path)
    finally:
        cache.chmod(0o755)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("cannot be written") == 1


def test_a_batch_stored_by_another_run_meanwhile_is_tolerated(tmp_path, monkeypatch):
    """The other run renames the same batch into place just before this one does."""
    real = os.rename

    def racing_rename(src, dst, *a, **kw):
        if os.path.basename(os.fspath(src)).startswith(".partial-") and not os.path.exists(dst):
            shutil.copytree(src, dst)  # the other run's identical batch lands first
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "rename", racing_rename)
    scs = [small()]
    first = compare(scs, replications=2, seed=1, executor=SerialExecutor(), cache=tmp_path)
    monkeypatch.setattr(os, "rename", real)
    assert not [p for p in tmp_path.rglob(".partial-*")]
    again = compare(scs, replications=2, seed=1, cache=tmp_path)
    assert again.meta["computed_replications"] == 0
    pd.testing.assert_frame_equal(first.results.periods, again.results.periods)


@pytest.mark.slow
def test_two_concurrent_runs_sharing_the_cache_both_succeed(tmp_path, files):
    base, var = files
    cache = tmp_path / "cache"
    env = {**os.environ, "SALESSIM_CACHE_DIR": str(cache), "SALESSIM_NO_PROGRESS": "1"}
    procs = [
        subprocess.Popen(
            [
                str(SALESSIM),
                "compare",
                str(base),
                str(var),
                "-r",
                "4",
                "-w",
                "1",
                "--out",
                str(tmp_path / f"out{i}"),
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err and "discarded" not in err
    pd.testing.assert_series_equal(revenue(tmp_path / "out1"), revenue(tmp_path / "out2"))
    assert not list(cache.rglob(".partial-*"))
    third = cli("compare", base, var, "-r", "4", "-w", "1", cache=cache, cwd=tmp_path)
    assert served_from_cache(third) and "discarded" not in third.stderr


def test_a_link_in_place_of_a_batch_is_refused_and_its_target_kept(tmp_path, caplog):
    scs = [small()]
    first = compare(scs, replications=1, seed=1, executor=SerialExecutor(), cache=tmp_path)
    b = batches(tmp_path)[0]
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    shutil.move(b, elsewhere)
    b.symlink_to(elsewhere)
    with caplog.at_level(logging.WARNING, logger="salessim.cache"):
        again = compare(scs, replications=1, seed=1, executor=SerialExecutor(), cache=tmp_path)
    assert again.meta["computed_replications"] == 1
    assert any("not a folder" in r.getMessage() for r in caplog.records)
    assert elsewhere.is_dir() and (elsewhere / "batch.json").exists()
    assert b.is_dir() and not b.is_symlink()  # replaced by a freshly computed batch
    pd.testing.assert_frame_equal(first.results.periods, again.results.periods)
    shutil.rmtree(elsewhere)


def test_clear_removes_stored_screenings_and_nothing_else_below_the_root(tmp_path):
    from salessim import sensitivity
    from salessim.cache import Cache

    tables = {t: pd.DataFrame({"x": [1.0, 2.0]}) for t in sensitivity._TABLES}
    folder = tmp_path / "sensitivity"
    for key in ("old", "new"):
        sensitivity._store(folder, {"k": key}, key, sensitivity.Screening(**tables, meta={}))
    assert sensitivity._load(folder, {"k": "new"}, "new") is not None  # a real stored screening
    long_ago = time.time() - 40 * 86400
    os.utime(folder / "old" / "screening.json", (long_ago, long_ago))
    dead = folder / ".partial-999999999-abc"  # a crashed store
    dead.mkdir()
    mine = folder / "my notes"  # not salessim's: no screening.json
    mine.mkdir()
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (elsewhere / "screening.json").write_text("{}")
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)

    Cache(tmp_path).clear(older_than_days=30)
    assert not (folder / "old").exists() and (folder / "new").exists()
    Cache(tmp_path).clear()
    assert not (folder / "new").exists() and not dead.exists()
    assert mine.is_dir() and (folder / "linked").is_symlink() and (elsewhere / "screening.json").exists()
