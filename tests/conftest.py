"""Shared fixtures: small scenarios that run in well under a second, and CLI helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCENARIO_DIR = REPO / "data" / "scenarios"
SALESSIM = Path(sys.executable).parent / "salessim"

SMALL_YAML = """\
extends: baseline
description: a tiny sales force for fast tests
organisation:
  managers: 2
  span: 4
simulation:
  warmup_days: 60
  horizon_days: 120
"""


@pytest.fixture
def small_scenario_file(tmp_path: Path) -> Path:
    """A tiny scenario (2 managers × 4 reps, 60 + 120 days) that extends the library baseline."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_YAML, encoding="utf-8")
    return path


@pytest.fixture
def write_yaml(tmp_path: Path):
    """Write YAML text to ``tmp_path / name`` and return the path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def run_cli(
    *args: str | Path, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``salessim`` console script and capture its output."""
    if not SALESSIM.exists():  # pragma: no cover - a broken install, not a test failure to hide
        pytest.fail(f"console script not found at {SALESSIM}; run `make install`")
    return subprocess.run(
        [str(SALESSIM), *map(str, args)],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def cli():
    """The ``run_cli`` helper as a fixture: ``cli("simulate", path, "--out", d)``."""
    return run_cli


@pytest.fixture(scope="session")
def small_yaml_text() -> str:
    """The text of the tiny scenario (for fixtures with a wider scope than ``tmp_path``)."""
    return SMALL_YAML


def chromium_path() -> str | None:
    """Headless Chromium on this machine, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(
    chromium: str, page: Path, *flags: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Open ``page`` in headless Chromium with a fresh profile and the flags a closed network needs
    (no background networking, updates or sync), plus ``flags`` (a screenshot, a DOM dump, …)."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                f"--user-data-dir={profile}",
                *flags,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


#: Test files that take minutes, the longest first. They are collected (and so handed to the
#: workers of ``pytest -n 2 --dist loadfile --no-loadscope-reorder``) before every other file,
#: so the two workers finish together instead of one running a long file alone at the end.
LONG_FILES = (
    "test_validation.py",
    "test_reports.py",
    "test_fuzz_crm.py",
    "test_crm_hostile.py",
    "test_baseline_file.py",
    "test_capacity.py",
    "test_report_security.py",
    "test_driver_directions.py",
    "test_notebooks.py",
    "test_attrition.py",
    "test_crm.py",
    "test_calibrate_exports.py",
    "test_packaging.py",
    "test_stylized_facts.py",
)


@pytest.fixture(scope="session", autouse=True)
def _shared_hazard_solves(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Solved leaving hazards kept for the whole test run (``SALESSIM_HAZARD_DIR``).

    Every process the tests start (CLI runs, report kernels, pool workers) inherits it, so a
    twin solved once is not solved again in each of them; tests of the hazard store itself
    (tests/test_hazard.py) unset it. Shared by the workers of one run.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by every worker of this run
    folder = base / "salessim-hazards"
    folder.mkdir(exist_ok=True)
    os.environ["SALESSIM_HAZARD_DIR"] = str(folder)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long files first, in :data:`LONG_FILES` order; within a file, the order is kept."""
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
