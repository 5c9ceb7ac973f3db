"""A regular (non-editable) install works: the wheel carries the scenario library, the report
notebooks, the sample CRM export and the ``salessim`` Jupyter kernel spec."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("salessim-*.whl")
    return whl


def test_wheel_carries_library_notebooks_sample_and_kernel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    repo_scenarios = {p.name for p in (ROOT / "data" / "scenarios").glob("*.yaml")}
    repo_notebooks = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert {f"salessim/_bundled/data/scenarios/{n}" for n in repo_scenarios} <= names
    assert {f"salessim/_bundled/notebooks/{n}" for n in repo_notebooks} <= names
    assert "salessim/_bundled/data/crm_sample/Opportunity.csv" in names
    assert any(n.endswith("data/share/jupyter/kernels/salessim/kernel.json") for n in names)


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_simulates_and_reports(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=1200
    )
    assert r.returncode == 0, r.stderr[-3000:]
    work = tmp_path / "elsewhere"  # outside the checkout: nothing can come from the repository
    work.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "JUPYTER_PATH", "VIRTUAL_ENV", "SALESSIM_CACHE_DIR")
    }
    env.update(
        HOME=str(tmp_path / "home"),
        PATH=f"{venv / 'bin'}:{env.get('PATH', '')}",
        SALESSIM_CACHE_DIR=str(tmp_path / "cache"),
    )
    where = _run([str(py), "-c", "import salessim; print(salessim.__file__)"], work, env, 60)
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    sim = _run(
        [str(venv / "bin" / "salessim"), "simulate", "baseline", "-r", "2", "--out", "sim"], work, env, 600
    )
    assert sim.returncode == 0, sim.stderr
    assert (work / "sim" / "periods.parquet").is_file()
    rep = _run(
        [
            str(venv / "bin" / "salessim"),
            "report",
            "goal_designs",
            "-p",
            "replications",
            "2",
            "--out",
            "reports",
        ],
        work,
        env,
        900,
    )
    assert rep.returncode == 0, rep.stdout + rep.stderr
    html = (work / "reports" / "goal_designs.html").read_text(encoding="utf-8")
    assert "Goal designs" in html
    assert (work / "reports" / "index.html").is_file()
