"""Shared fixtures: small scenarios that run in well under a second, and CLI helpers."""

from __future__ import annotations

import subprocess
import sys
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
