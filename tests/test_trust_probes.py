"""End-to-end probes through the installed console script: what salessim must never do to files.

Each test runs the real ``salessim`` command in a temporary folder, with its own cache, and checks
the exit code, the message and that nothing it does not own was written, replaced or removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL_YAML

SALESSIM = Path(sys.executable).parent / "salessim"

SMALL = SMALL_YAML  # the suite's tiny sales force (2 managers × 4 reps, 60 + 120 days)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SALESSIM_CACHE_DIR": str(tmp_path / "cache"), "SALESSIM_NO_PROGRESS": "1"}


@pytest.fixture
def small(tmp_path: Path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text(SMALL, encoding="utf-8")
    return p


def run(
    *args: object, env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SALESSIM), *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def refused(p: subprocess.CompletedProcess[str], *words: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    assert "Traceback" not in p.stderr
    for w in words:
        assert w in p.stderr, (w, p.stderr)


@pytest.mark.parametrize("command", [["compare"], ["sweep", "--vary", "reps.skill_sd=0.3,0.5"]])
def test_without_out_nothing_is_said_to_be_written(tmp_path, env, small, command):
    args = [command[0], str(small), *command[1:], "-r", "1", "-w", "1"]
    p = run(*args, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "wrote" not in p.stdout
    assert "None" not in p.stdout
    assert not (tmp_path / "None").exists()


def test_rerun_keeps_a_file_added_to_a_result_folder(tmp_path, env, small):
    assert run("simulate", small, "-r", "1", "--out", "res", env=env, cwd=tmp_path).returncode == 0
    (tmp_path / "res" / "notes.txt").write_text("my notes\n")
    before = {p.name: p.read_bytes() for p in (tmp_path / "res").iterdir()}
    p = run("simulate", small, "-r", "1", "-s", "2", "--out", "res", env=env, cwd=tmp_path)
    refused(p, "--out res", "notes.txt")
    assert {p.name: p.read_bytes() for p in (tmp_path / "res").iterdir()} == before
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith(".res")) == []


def test_rerun_keeps_a_result_nested_in_a_result_folder(tmp_path, env, small):
    assert run("simulate", small, "-r", "1", "--out", "res", env=env, cwd=tmp_path).returncode == 0
    assert run("simulate", small, "-r", "1", "--out", "res/inner", env=env, cwd=tmp_path).returncode == 0
    p = run("simulate", small, "-r", "1", "--out", "res", env=env, cwd=tmp_path)
    refused(p, "--out res", "inner")
    assert (tmp_path / "res" / "inner" / "manifest.json").is_file()


def test_rerun_replaces_its_own_result(tmp_path, env, small):
    assert run("compare", small, "-r", "1", "-w", "1", "--out", "res", env=env, cwd=tmp_path).returncode == 0
    first = (tmp_path / "res" / "manifest.json").read_text()
    p = run("compare", small, "-r", "1", "-w", "1", "-s", "2", "--out", "res", env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "res" / "manifest.json").read_text() != first
    assert {x.name for x in (tmp_path / "res").iterdir()} == {
        "manifest.json",
        "reps.parquet",
        "periods.parquet",
        "summary.csv",
    }


def test_cache_clear_keeps_a_folder_without_batch_json(tmp_path, env):
    """A folder shaped like a batch but without salessim's batch.json is not salessim's."""
    cache = tmp_path / "cache"
    foreign = cache / "0123456789abcdef0123" / "batch-3"
    foreign.mkdir(parents=True)
    (foreign / "thesis.tex").write_text("years of work\n")
    p = run("cache", "clear", env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "removed 0 cached batches" in p.stdout
    assert (foreign / "thesis.tex").read_text() == "years of work\n"
    info = run("cache", "info", env=env, cwd=tmp_path)
    assert "0 batches" in info.stdout


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_report_refuses_its_page_path_before_running(tmp_path, env, kind):
    """A link or FIFO where the report page goes is refused up front: no run, nothing written."""
    out = tmp_path / "reports"
    out.mkdir()
    victim = tmp_path / "victim.html"
    victim.write_text("secret\n")
    page = out / "goal_designs.html"
    if kind == "link":
        page.symlink_to(victim)
    else:
        os.mkfifo(page)
    p = run(
        "report",
        "goal_designs",
        "-p",
        "replications",
        "2",
        "-p",
        "mix_replications",
        "2",
        "--out",
        out,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    refused(p, "goal_designs.html")
    assert sorted(x.name for x in out.iterdir()) == ["goal_designs.html"]
    assert victim.read_text() == "secret\n"
    assert not (tmp_path / "cache").exists()
