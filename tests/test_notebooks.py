"""The report notebooks as files: committed clean, one literal parameters cell, names that papermill
reads, a validation rule for every parameter — and every notebook runs under ``pytest --nbval-lax``.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from salessim import reports

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NAMES = list(reports.REPORTS)
#: notebooks of the workbench that are not in the standard report set (interactive; run headless too)
WORKBENCH = ["what_if"]
ALL = NAMES + WORKBENCH
ALWAYS = {"replications", "seed", "output_dir"}


def _nb(name: str) -> nbformat.NotebookNode:
    return nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)


def _parameters_cell(nb: nbformat.NotebookNode) -> tuple[int, nbformat.NotebookNode]:
    found = [(i, c) for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(found) == 1, f"expected exactly one cell tagged 'parameters', found {len(found)}"
    return found[0]


def test_the_standard_set_is_there():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(ALL)


@pytest.mark.parametrize("name", ALL)
def test_notebook_is_committed_clean(name):
    nb = _nb(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "salessim"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: cell {i} has outputs"
            assert cell.execution_count is None, f"{name}: cell {i} has an execution count"
    # a short intro naming the question, then the parameters, then derived values
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "question" in nb.cells[0].source.lower()
    i, _ = _parameters_cell(nb)
    following = [c for c in nb.cells[i + 1 :] if c.cell_type == "code"]
    assert following and "quick_mode()" in following[0].source, (
        f"{name}: the cell after the parameters should derive values (and honour SALESSIM_QUICK)"
    )


@pytest.mark.parametrize("name", ALL)
def test_parameters_cell_holds_commented_literals(name):
    _, cell = _parameters_cell(_nb(name))
    tree = ast.parse(cell.source)
    names = []
    for stmt in tree.body:
        assert isinstance(stmt, ast.AnnAssign | ast.Assign), f"{name}: not an assignment: {stmt}"
        value = stmt.value
        assert isinstance(value, ast.Constant), f"{name}: {ast.unparse(stmt)} is not a literal"
        target = stmt.target if isinstance(stmt, ast.AnnAssign) else stmt.targets[0]
        names.append(target.id)
    for line in cell.source.splitlines():
        if line.strip():
            assert "  # " in line, f"{name}: parameter without a comment: {line}"
    assert set(names) >= ALWAYS, f"{name}: missing {ALWAYS - set(names)}"


@pytest.mark.parametrize("name", ALL)
def test_parameter_names_agree_with_papermill(name):
    """papermill reads every parameter (a second '=' on a line makes it skip the line silently)."""
    _, cell = _parameters_cell(_nb(name))
    declared = [
        ast.unparse(s.target if isinstance(s, ast.AnnAssign) else s.targets[0])
        for s in ast.parse(cell.source).body
    ]
    spec = papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))
    assert list(spec) == declared
    if name in NAMES:
        assert list(reports.notebook_parameters(name)) == declared


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_has_a_rule_and_its_default_passes(name):
    spec = reports.notebook_parameters(name)
    own = reports.report_notebook(name).rules  # the notebook's metadata rules come first
    for key, p in spec.items():
        rule = own.get(key) or reports.RULES.get(key)
        assert rule is not None, f"{name}: parameter {key} has no validation rule"
        assert p["type"] == rule.kind.__name__, f"{name}: {key} is {p['type']}, rule {rule.kind}"
    defaults = {k: p["default"] for k, p in spec.items() if k != "output_dir"}
    assert reports.validate_parameters(name, defaults) == defaults


@pytest.mark.slow
@pytest.mark.xdist_group("nbval")
def test_every_notebook_runs_under_nbval(tmp_path):
    """``pytest --nbval-lax`` over copies of the notebooks, with their own defaults shrunk by
    ``SALESSIM_QUICK=1`` (2 replications, smaller grids): every cell must run without error, and
    each notebook writes its findings under its default ``output_dir`` (relative to the run)."""
    for p in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(p, tmp_path / p.name)
    env = {**os.environ, "SALESSIM_QUICK": "1", "SALESSIM_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-q",
            *sorted(p.name for p in tmp_path.glob("*.ipynb")),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    for name in NAMES:
        findings = json.loads((tmp_path / "out" / name / "findings.json").read_text())
        assert findings["report"] == name
        assert findings["findings"], f"{name}: no findings written"
        assert findings["metadata"]["quick_mode"] is True
        assert findings["metadata"]["replications"] <= 2
    # tables leave as numbers: every CSV a notebook wrote parses with numeric columns for its
    # figures (no "+11.3 to +17.8 %", "$23K" or Unicode minus as text), a spreadsheet beside it
    from test_report_tables import check_report_tables

    for name in (
        "drivers_overview",
        "goal_designs",
        "pipeline_benchmark",
        "coaching",
        "crm_calibration",
        "what_if",
    ):
        assert sorted((tmp_path / "out" / name).glob("*.csv")), f"{name}: no table written"
    assert check_report_tables(tmp_path / "out") == []
