"""The one output writer: what it refuses, how it swaps, how it recovers, how it locks.

Every command that writes (`simulate`, `compare`, `sweep`, `swings` with --out, `calibrate -o`)
checks its destination before any work, never replaces anything that is not its own, swaps a new
result in with a protocol a killed run's next start repairs, and stops a second run on the same
destination.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import SMALL_YAML

from salessim import cli

REPO = Path(__file__).resolve().parent.parent
SALESSIM = Path(sys.executable).parent / "salessim"
CRM = REPO / "data" / "crm_sample" / "Opportunity.csv"

SMALL = SMALL_YAML  # the suite's tiny sales force (2 managers × 4 reps, 60 + 120 days)


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "SALESSIM_CACHE_DIR": str(tmp_path / "cache"), "SALESSIM_NO_PROGRESS": "1"}


@pytest.fixture
def small(tmp_path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text(SMALL)
    return p


def run(*args, env, cwd, timeout=300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SALESSIM), *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial" in p.name or ".old" in p.name)


def clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture
def spy(monkeypatch):
    """Record whether a command got as far as simulating (the real simulation still runs)."""
    import importlib

    sim_mod = importlib.import_module("salessim.simulate")
    exp_mod = importlib.import_module("salessim.experiments")
    calls: list[str] = []
    real_sim, real_cmp = sim_mod.simulate, exp_mod.compare

    def sim(*a, **kw):
        calls.append("simulate")
        return real_sim(*a, **kw)

    def cmp(*a, **kw):
        calls.append("compare")
        return real_cmp(*a, **kw)

    monkeypatch.setattr(sim_mod, "simulate", sim)
    monkeypatch.setattr(exp_mod, "compare", cmp)
    monkeypatch.setenv("SALESSIM_NO_PROGRESS", "1")
    return calls


# --------------------------------------------------------------------------------------------
# destinations that name no folder: refused before simulating
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("out", [".", "", "/", "..", "sub/.."])
@pytest.mark.parametrize("command", ["simulate", "compare"])
def test_out_naming_no_folder_exits_2_before_simulating(
    tmp_path, monkeypatch, capsys, spy, small, out, command
):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    before = sorted(p.name for p in tmp_path.iterdir())
    try:
        code = cli.main(
            [command, str(small), "-r", "1", *(["-w", "1"] if command == "compare" else []), "--out", out]
        )
    except SystemExit as e:  # '' is refused by the argument parser, by its own name
        code = e.code
    err = capsys.readouterr().err
    clean_error(code, err, "--out", "not a new folder" if out else "expected a file or folder name, got ''")
    assert spy == []  # nothing was simulated
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # and nothing written
    assert not list(Path("/").glob("..partial-*")) and not list(Path("/").glob(".*.partial-*"))


# --------------------------------------------------------------------------------------------
# a folder salessim did not write survives
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["simulate", "compare"])
def test_existing_foreign_folder_survives(tmp_path, monkeypatch, capsys, spy, small, command):
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keepme.txt").write_text("precious\n")
    code = cli.main(
        [command, str(small), "-r", "1", *(["-w", "1"] if command == "compare" else []), "--out", str(mine)]
    )
    clean_error(code, capsys.readouterr().err, str(mine), "did not write", "manifest.json")
    assert spy == []
    assert snapshot(mine) == {"keepme.txt": b"precious\n"}
    assert leftovers(tmp_path) == []


def test_a_folder_with_a_foreign_manifest_is_not_salessims(tmp_path, capsys, spy, small):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "manifest.json").write_text('{"tool": "something else"}')
    code = cli.main(["simulate", str(small), "-r", "1", "--out", str(mine)])
    clean_error(code, capsys.readouterr().err, "did not write")
    assert (mine / "manifest.json").read_text() == '{"tool": "something else"}'


def test_own_and_empty_folders_are_replaced(tmp_path, capsys, small):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["simulate", str(small), "-r", "1", "--out", str(empty)]) == 0
    assert {p.name for p in empty.iterdir()} == {"reps.parquet", "periods.parquet", "manifest.json"}
    meta = json.loads((empty / "manifest.json").read_text())
    assert meta["seed"] == 1
    # salessim's own folder (it has the manifest) is replaced as a whole
    assert cli.main(["simulate", str(small), "-r", "1", "-s", "2", "--out", str(empty)]) == 0
    assert json.loads((empty / "manifest.json").read_text())["seed"] == 2
    assert leftovers(tmp_path) == []
    capsys.readouterr()


# --------------------------------------------------------------------------------------------
# links, FIFOs and devices are never replaced
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["simulate", "compare"])
def test_symlink_as_out_is_refused(tmp_path, capsys, spy, small, command, monkeypatch):
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    code = cli.main(
        [command, str(small), "-r", "1", *(["-w", "1"] if command == "compare" else []), "--out", str(link)]
    )
    clean_error(code, capsys.readouterr().err, str(link), "symbolic link")
    assert spy == []
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert list(real.iterdir()) == []
    assert leftovers(tmp_path) == []


def test_fifo_as_out_is_refused(tmp_path, capsys, spy, small):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code = cli.main(["simulate", str(small), "-r", "1", "--out", str(fifo)])
    clean_error(code, capsys.readouterr().err, str(fifo), "FIFO", "not a directory")
    assert spy == []
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def _calibrate(tmp_path, env, out):
    return run("calibrate", CRM, "-o", out, env=env, cwd=tmp_path)


def test_calibrate_refuses_a_fifo(tmp_path, env):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    r = _calibrate(tmp_path, env, fifo)
    clean_error(r.returncode, r.stderr, "-o", str(fifo), "FIFO", "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert r.stdout == ""  # refused before reading the export
    assert leftovers(tmp_path) == []


def test_calibrate_refuses_a_symlink_to_a_file(tmp_path, env):
    target = tmp_path / "target.yaml"
    target.write_text("mine: true\n")
    link = tmp_path / "scenario.yaml"
    link.symlink_to(target)
    r = _calibrate(tmp_path, env, link)
    clean_error(r.returncode, r.stderr, str(link), "symbolic link")
    assert link.is_symlink() and target.read_text() == "mine: true\n"
    assert r.stdout == ""


def test_calibrate_refuses_a_symlink_to_a_device(tmp_path, env):
    link = tmp_path / "scenario.yaml"
    link.symlink_to("/dev/null")
    r = _calibrate(tmp_path, env, link)
    clean_error(r.returncode, r.stderr, str(link), "symbolic link")
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_calibrate_refuses_a_character_device(tmp_path, env):
    dev = tmp_path / "full"
    try:  # a private copy of /dev/full (as root)
        os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 7))
    except (PermissionError, OSError):
        pytest.skip("cannot create a device node here (needs root)")
    r = _calibrate(tmp_path, env, dev)
    clean_error(r.returncode, r.stderr, str(dev), "character device")
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


@pytest.mark.parametrize("out", [".", "/", ".."])
def test_calibrate_out_naming_no_file_exits_2(tmp_path, env, out):
    r = _calibrate(tmp_path, env, out)
    clean_error(r.returncode, r.stderr, "-o")
    assert r.stdout == ""


# --------------------------------------------------------------------------------------------
# the swap: a crash between its two renames is repaired by the next start
# --------------------------------------------------------------------------------------------
CRASH_AT_INSTALL = """
import os, sys
real = os.rename
def rename(src, dst, *a, **kw):
    if ".partial-" in os.fspath(src) and os.path.basename(os.fspath(dst)) == "out":
        os._exit(9)  # killed between the two renames of the swap
    return real(src, dst, *a, **kw)
os.rename = rename
from salessim.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def good(tmp_path, env, small) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "out"
    r = run("simulate", small, "-r", "1", "--out", out, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return out, snapshot(out)


def test_crash_between_the_renames_is_repaired_by_the_next_start(tmp_path, env, small, good):
    out, before = good
    crash = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH_AT_INSTALL,
            "simulate",
            str(small),
            "-r",
            "1",
            "-s",
            "2",
            "--out",
            str(out),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert crash.returncode == 9
    assert not out.exists()  # the crash left no result under its name…
    assert leftovers(tmp_path)  # …only the hidden last good one and the unfinished new one
    # the next run on that --out starts by restoring the last good result; this one then fails
    # on a bad scenario, so what is left is exactly the restored result
    r = run("compare", tmp_path / "nowhere.yaml", "--out", out, env=env, cwd=tmp_path)
    clean_error(r.returncode, r.stderr, "nowhere.yaml")
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_crash_after_the_renames_leaves_the_new_result_and_drops_the_old(tmp_path, good):
    from salessim.io import Output

    out, before = good
    old = tmp_path / ".out.old"
    shutil.copytree(out, old)
    (old / "manifest.json").write_text('{"salessim_version": "old"}')
    with Output(out):
        pass
    assert snapshot(out) == before
    assert not old.exists()


def test_first_step_then_abort_is_repaired_in_process(tmp_path, good):
    """The protocol's first step (retire the current result), then an abort, then a new start."""
    from salessim.io import Output

    out, before = good
    o = Output(out)
    with pytest.raises(RuntimeError), o:
        o.retire()
        assert not out.exists()
        raise RuntimeError("crash")
    with Output(out):
        assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_partial_leftovers_are_removed_at_the_next_start(tmp_path, env, small, good):
    out, _ = good
    junk = tmp_path / ".out.partial-x1y2"
    junk.mkdir()
    (junk / "reps.parquet").write_text("half")
    other = tmp_path / ".other.partial-x1y2"  # another destination's: not ours to remove
    other.mkdir()
    r = run("simulate", small, "-r", "1", "--out", out, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not junk.exists()
    assert other.exists()


def test_a_failed_run_leaves_no_lock_and_no_new_parents(tmp_path, env):
    out = tmp_path / "a" / "b" / "out"
    r = run("compare", tmp_path / "nowhere.yaml", "-r", "1", "--out", out, env=env, cwd=tmp_path)
    clean_error(r.returncode, r.stderr, "nowhere.yaml")
    assert not (tmp_path / "a").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# one writer at a time
# --------------------------------------------------------------------------------------------
HOLD = """
import sys, time
from salessim.io import Output
with Output(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_second_run_on_a_locked_out_exits_2_before_simulating(tmp_path, env, small, good):
    out, before = good
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        t = time.perf_counter()
        r = run("simulate", small, "-r", "1", "--out", out, env=env, cwd=tmp_path)
        clean_error(
            r.returncode,
            r.stderr,
            str(out),
            "another salessim run",
            f"pid {holder.pid}",
            str(tmp_path / ".out.lock"),
        )
        assert r.stdout == ""  # nothing simulated
        assert time.perf_counter() - t < 30
        assert snapshot(out) == before
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: its lock died with it, and the stale lock file does not block
    r = run("simulate", small, "-r", "1", "--out", out, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert leftovers(tmp_path) == [] and not (tmp_path / ".out.lock").exists()


def test_lock_is_not_inherited_by_forked_workers(tmp_path):
    """A forked child (a pool worker) must not keep the lock after its parent is gone."""
    code = textwrap.dedent("""
        import os, sys, time
        from salessim.io import Output
        o = Output(sys.argv[1]).__enter__()
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        print("ready", flush=True)
        time.sleep(60)
    """)
    out = tmp_path / "out"
    p = subprocess.Popen(
        [sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        os.kill(p.pid, signal.SIGKILL)  # the parent dies; its forked child lives on
        p.wait()
        from salessim.io import Output

        with Output(out):
            pass
    finally:
        os.killpg(p.pid, signal.SIGKILL)


@pytest.mark.slow
def test_two_concurrent_runs_on_one_out(tmp_path, env, small):
    out = tmp_path / "out"
    lock = tmp_path / ".out.lock"
    first = subprocess.Popen(
        [str(SALESSIM), "simulate", "baseline", "-r", "40", "--out", str(out)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    second = run("simulate", "baseline", "-r", "2", "--out", out, env=env, cwd=tmp_path)
    _, e = first.communicate(timeout=300)
    assert first.returncode == 0, e
    clean_error(second.returncode, second.stderr, "another salessim run", str(lock))
    assert second.stdout == ""
    assert {p.name for p in out.iterdir()} == {"reps.parquet", "periods.parquet", "manifest.json"}
    assert json.loads((out / "manifest.json").read_text())["replications"] == 40
    assert leftovers(tmp_path) == [] and not lock.exists()


def test_a_foreign_dot_old_folder_is_neither_restored_nor_removed(tmp_path, capsys, spy, small):
    out = tmp_path / "out"
    theirs = tmp_path / ".out.old"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("someone's backup\n")
    code = cli.main(["simulate", str(small), "-r", "1", "--out", str(out)])
    clean_error(code, capsys.readouterr().err, str(theirs), "not a salessim result")
    assert spy == []
    assert not out.exists() and snapshot(theirs) == {"notes.txt": b"someone's backup\n"}
