"""Reports are notebooks: any notebook with a ``parameters`` cell runs with ``salessim report``, its
parameters read from that cell and its optional range rules from its own metadata, and joins the
index — no registry in Python to edit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import run_cli
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from salessim import reports
from salessim.reports import ReportError

REPO = Path(__file__).resolve().parent.parent


def _my_notebook(path: Path, rules: dict | None = None, title_in_metadata: bool = False) -> Path:
    nb = new_notebook(
        cells=[
            new_markdown_cell(
                "# Our own question\n\n**The question.** Do our reps sell more in "
                "the second half?\n\nSome narration."
            ),
            new_code_cell(
                "replications: int = 2  # simulated years\n"
                "seed: int = 1  # root seed\n"
                'output_dir: str = "out/mine"  # where the tables go\n'
                'baseline: str = "baseline"  # the sales force\n'
                "threshold: float = 0.5  # a share",
                metadata={"tags": ["parameters"]},
            ),
            new_code_cell(
                "from pathlib import Path\n"
                "from salessim.notebook_helpers import Findings, output_path, save_table\n"
                "import pandas as pd\n"
                "out = output_path(output_dir)\n"
                "save_table(pd.DataFrame({'threshold': [threshold], 'seed': [seed]}), out, "
                "'numbers')\n"
                "f = Findings('mine', 'Do our reps sell more in the second half?')\n"
                "f.add('t', f'The threshold is {threshold}.')\n"
                "f.save(out)\n"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "salessim", "display_name": "salessim", "language": "python"}
    meta: dict = {}
    if rules is not None:
        meta["parameters"] = rules
    if title_in_metadata:
        meta["title"] = "A title from the metadata"
    if meta:
        nb.metadata["salessim"] = meta
    nbformat.write(nb, str(path))
    return path


def test_the_standard_set_comes_from_the_notebooks_in_reading_order() -> None:
    found = reports.discover()
    assert list(reports.REPORTS) == [
        "drivers_overview",
        "goal_designs",
        "pipeline_benchmark",
        "coaching",
        "crm_calibration",
        "capacity_quota",
    ]
    assert reports.standard_reports() == reports.REPORTS
    assert "what_if" in found and not found["what_if"].standard
    assert found["coaching"].title == "Coaching: how much, by whom, aimed at whom?"


def test_title_and_question_are_read_from_the_notebook(tmp_path: Path) -> None:
    nb = reports.read_notebook(_my_notebook(tmp_path / "mine.ipynb"))
    assert nb is not None
    assert (nb.name, nb.title) == ("mine", "Our own question")
    assert nb.question == "Do our reps sell more in the second half?"
    nb2 = reports.read_notebook(_my_notebook(tmp_path / "other.ipynb", title_in_metadata=True))
    assert nb2 is not None and nb2.title == "A title from the metadata"


def test_a_notebook_copied_into_the_folder_joins_the_standard_set(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for n in ("coaching", "what_if"):
        shutil.copy(REPO / "notebooks" / f"{n}.ipynb", folder)
    _my_notebook(folder / "mine.ipynb")
    (folder / "scratch.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )  # no parameters cell
    monkeypatch.setattr(reports, "NOTEBOOK_DIR", folder)
    assert list(reports.standard_reports()) == ["coaching", "mine"]
    assert reports.notebook_path("mine") == folder / "mine.ipynb"
    assert list(reports.notebook_parameters("mine")) == [
        "replications",
        "seed",
        "output_dir",
        "baseline",
        "threshold",
    ]
    with pytest.raises(ReportError, match=r"reports: coaching, what_if, mine"):
        reports.notebook_path("nope")


def test_metadata_range_rules_apply_and_shared_rules_fill_in(tmp_path: Path) -> None:
    path = _my_notebook(tmp_path / "mine.ipynb", rules={"threshold": {"min": 0, "max": 1}})
    assert reports.validate_parameters(path, {"threshold": 0.25, "replications": 3}) == {
        "threshold": 0.25,
        "replications": 3,
    }
    with pytest.raises(ReportError, match=r"threshold must be ≤ 1, got 2"):
        reports.validate_parameters(path, {"threshold": 2})
    with pytest.raises(ReportError, match="replications must be ≥ 1"):  # the shared rule
        reports.validate_parameters(path, {"replications": 0})
    with pytest.raises(ReportError, match=r"not a valid scenario|no scenario file"):
        reports.validate_parameters(path, {"baseline": str(tmp_path / "missing.yaml")})


@pytest.mark.parametrize(
    ("meta", "named"),
    [
        ({"parameters": {"threshold": {"min": "low"}}}, "min and max must be numbers"),
        ({"parameters": {"threshold": {"check": "exec"}}}, "check must be one of"),
        ({"parameters": {"threshold": {"maximum": 1}}}, "must be a mapping of min, max"),
        ({"parameters": ["threshold"]}, "must be a mapping"),
        ({"order": "first"}, "order` must be a number"),
        ({"standard": "yes"}, "standard` must be true or false"),
    ],
)
def test_malformed_metadata_is_refused_naming_the_file(tmp_path: Path, meta, named) -> None:
    path = _my_notebook(tmp_path / "mine.ipynb")
    nb = nbformat.read(str(path), as_version=4)
    nb.metadata["salessim"] = meta
    nbformat.write(nb, str(path))
    with pytest.raises(ReportError, match=named) as e:
        reports.report_notebook(path)
    assert str(path) in str(e.value)


def test_files_that_are_not_report_notebooks_are_refused(tmp_path: Path) -> None:
    bad_name = tmp_path / "my report.ipynb"
    shutil.copy(_my_notebook(tmp_path / "ok.ipynb"), bad_name)
    with pytest.raises(ReportError, match="file name must be letters"):
        reports.report_notebook(bad_name)
    junk = tmp_path / "junk.ipynb"
    junk.write_text("not json")
    with pytest.raises(ReportError, match="not a readable notebook"):
        reports.report_notebook(junk)
    empty = tmp_path / "empty.ipynb"
    empty.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(ReportError, match="no cell tagged `parameters`"):
        reports.report_notebook(empty)
    with pytest.raises(ReportError, match="no notebook"):
        reports.report_notebook(tmp_path / "absent.ipynb")


@pytest.mark.slow
def test_an_analysts_notebook_runs_by_path_and_joins_the_index(tmp_path: Path) -> None:
    path = _my_notebook(tmp_path / "mine.ipynb", rules={"threshold": {"min": 0, "max": 1}})
    out = tmp_path / "reports"
    r = run_cli("report", path, "-p", "nope", "1", "-o", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "valid parameters: replications, seed, output_dir, baseline, threshold" in r.stderr
    assert not out.exists()
    r = run_cli("report", path, "-p", "threshold", "2", "-o", out)
    assert r.returncode == 2 and "threshold must be ≤ 1" in r.stderr and not out.exists()
    r = run_cli("report", path, "-p", "threshold", "0.75", "-o", out)
    assert r.returncode == 0, r.stderr
    assert (out / "mine.html").is_file()
    assert "0.75" in (out / "mine" / "numbers.csv").read_text()
    index = (out / "index.html").read_text()
    assert "href='mine.html'" in index and "Our own question" in index
    assert "Do our reps sell more in the second half?" in index
    run = json.loads((out / "mine" / "run.json").read_text())
    assert run["title"] == "Our own question" and run["parameters"]["threshold"] == 0.75
