"""The lockfile: every dependency of the package and its extras is pinned to an exact version, the
environment ``make install`` built is the locked one, and ``make install`` installs from it."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, list[tuple[str, Marker | None]]]:
    out: dict[str, list[tuple[str, Marker | None]]] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one specifier, and it is ==
        assert spec.operator == "==", line
        out.setdefault(_norm(req.name), []).append((spec.version, req.marker))
    return out


def test_every_declared_dependency_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("dev", "dask", "lab"):
        declared += project["optional-dependencies"][extra]
    locked = _locked()
    missing = [d for d in declared if _norm(Requirement(d).name) not in locked]
    assert not missing, f"not in requirements.lock: {missing}"
    # each pin satisfies pyproject's lower bound
    for d in declared:
        req = Requirement(d)
        for version, _ in locked[_norm(req.name)]:
            assert req.specifier.contains(version, prereleases=True), (d, version)


@pytest.mark.skipif(
    Path(sys.prefix).resolve() != (ROOT / ".venv").resolve() or sys.version_info < (3, 11, 5),
    reason="runs in the .venv `make install` builds from the lock (Python 3.11.5+)",
)
def test_the_installed_environment_is_the_locked_one() -> None:
    """What the tests run on is what the lock says (for this platform and Python)."""
    wrong = []
    for name, pins in _locked().items():
        applicable = [v for v, m in pins if m is None or m.evaluate()]
        if not applicable:
            continue
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed, locked {applicable[0]}")
            continue
        if have not in applicable:
            wrong.append(f"{name}: installed {have}, locked {applicable[0]}")
    assert not wrong, "; ".join(wrong)


def test_make_install_uses_the_lock_and_make_lock_refreshes_it() -> None:
    make = (ROOT / "Makefile").read_text()
    assert "$(STAMP): pyproject.toml requirements.lock" in make
    assert "pip install --quiet -r requirements.lock" in make
    lock = make.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    assert "pip compile pyproject.toml --extra dev --extra dask --extra lab" in lock
    assert "-o requirements.lock" in lock


def test_manifest_records_every_runtime_dependency_version() -> None:
    from salessim.io import manifest

    packages = manifest()["packages"]
    requires = metadata.requires("salessim") or []
    runtime = [Requirement(r) for r in requires]
    runtime = [r for r in runtime if r.marker is None]
    assert runtime
    for r in runtime:
        assert packages[r.name.lower()] == metadata.version(r.name), r.name
    assert packages["distributed"] == metadata.version("distributed")
