"""Leader reports: parameters checked before anything runs, papermill runs,
code-free offline HTML, failures that keep the last good report, and a real browser rendering it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import chromium_path, run_chromium

from salessim import reports
from salessim.reports import ReportError, export_html, parse_value, validate_parameters

REPO = Path(__file__).resolve().parent.parent
SALESSIM = Path(sys.executable).parent / "salessim"
NAMES = list(reports.REPORTS)
REMOTE_SCRIPT = re.compile(r"<script[^>]+src\s*=\s*[\"']?(https?:)?//", re.IGNORECASE)
PROMPT = re.compile(r"(In|Out)\s*(&nbsp;|\s)?\[\s*\d*\s*\]:|class=\"[^\"]*jp-(In|Out)putPrompt")

#: What each notebook writes to its output_dir (besides findings.json), with a check per table.
WRITES = {
    "goal_designs": [
        "plans.csv",
        "summary.csv",
        "goal_attainment.csv",
        "prospecting_mix.csv",
        "periods.parquet",
        "time_frame.json",
    ],
    "coaching": [
        "response_curves.csv",
        "targeting_by_cadence.csv",
        "gain_by_skill_band.csv",
        "manager_time_cost.csv",
        "time_frame.json",
    ],
    "pipeline_benchmark": [
        "reverse_funnel.csv",
        "benchmark_stages.csv",
        "capacity.csv",
        "coverage_and_quota.csv",
        "gap_detection.csv",
        "time_frame.json",
    ],
    "crm_calibration": [
        "data_quality.csv",
        "simulated_years.csv",
        "deal_size_fit.csv",
        "stage_conversion_fit.csv",
        "observed_vs_simulated.csv",
        "time_frame.json",
    ],
    "drivers_overview": [
        "swings.csv",
        "summary.csv",
        "culture_split.csv",
        "ranking_sensitivity.csv",
        "time_use.csv",
        "time_frame.json",
    ],
    "capacity_quota": [
        "hiring_plan.csv",
        "revenue_fan.csv",
        "probability_by_hires.csv",
        "quota_curve.csv",
        "time_frame.json",
    ],
}
#: What each report shows with its default scenarios (all in ``simulation.mode: transition``):
#: a change from today's way of working, or — the CRM check runs one scenario, so nothing
#: changes — where today's way of working settles.
SHOWS = {
    "drivers_overview": "transition",
    "goal_designs": "transition",
    "pipeline_benchmark": "transition",
    "coaching": "transition",
    "crm_calibration": "steady_state",
    "capacity_quota": "steady_state",
}
#: Years each report shows (the hiring plan hires in year 1 for year 2's target).
YEARS = {"capacity_quota": 2}


def run_cli(*args, env=None, timeout=900):
    return subprocess.run(
        [str(SALESSIM), *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------------------------------
# parameters: parsed as YAML scalars, checked against the notebook, by type and by range
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("24", 24),
        ("0.5", 0.5),
        ("true", True),
        ("no", False),
        ("baseline", "baseline"),
        ("data/scenarios/baseline.yaml", "data/scenarios/baseline.yaml"),
        ("1e6", 1e6),
        ("2.5E+5", 250000.0),
        ("1000000.0", 1_000_000.0),
        ("''", ""),
    ],
)
def test_values_are_yaml_scalars(text, value):
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_lists_are_refused():
    with pytest.raises(ReportError, match="single value"):
        parse_value("[1, 2]")


def test_unknown_parameter_lists_the_valid_names():
    with pytest.raises(ReportError) as e:
        validate_parameters("goal_designs", {"replicatons": 3})
    msg = str(e.value)
    assert "replicatons" in msg
    for name in ("replications", "seed", "baseline", "workers"):
        assert name in msg


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"replications": 0}, "replications must be ≥ 1"),
        ({"replications": -3}, "replications must be ≥ 1"),
        ({"replications": 2.5}, "whole number"),
        ({"replications": True}, "whole number"),
        ({"replications": "many"}, "whole number"),
        ({"seed": -1}, "seed must be ≥ 0"),
        ({"workers": 0}, "workers must be ≥ 1"),
        ({"output_dir": "/tmp/x"}, "set by --out"),
        ({"baseline_scenario": "data/scenarios/nope.yaml"}, "no scenario file"),
        ({"baseline": "data/scenarios/nope.yaml"}, "no scenario file"),
        ({"baseline": ""}, "expected a scenario file or a library name"),
        ({"baseline": "data/crm_sample/Opportunity.csv"}, "is not a valid scenario"),
        ({"baseline": "baseline", "baseline_scenario": "baseline"}, "old name of baseline"),
    ],
)
def test_bad_values_are_refused(params, fragment):
    with pytest.raises(ReportError, match=re.escape(fragment)):
        validate_parameters("goal_designs", params)


def test_values_are_typed_and_ranges_checked_per_report():
    assert validate_parameters("goal_designs", {"replications": 4.0, "seed": 0}) == {
        "replications": 4,
        "seed": 0,
    }
    assert validate_parameters("pipeline_benchmark", {"quota": 900000}) == {"quota": 900000.0}
    with pytest.raises(ReportError, match=re.escape("coverage_confidence must be ≤ 0.99")):
        validate_parameters("pipeline_benchmark", {"coverage_confidence": 1.5})
    with pytest.raises(ReportError, match="gross_margin"):
        validate_parameters("coaching", {"gross_margin": 0})
    with pytest.raises(ReportError, match="not a scenario parameter"):
        validate_parameters("drivers_overview", {"sensitivity_parameters": "goals.nope"})
    with pytest.raises(ReportError, match="no file"):
        validate_parameters("crm_calibration", {"crm_export": "no/such/export.csv"})


def test_unknown_report_is_refused():
    with pytest.raises(ReportError, match="reports: drivers_overview, goal_designs"):
        validate_parameters("forecast", {})


# ------------------------------------------------------------------------------------------
# HTML export: no code, no prompts, no stderr, figures embedded, nothing from the network
# ------------------------------------------------------------------------------------------
def _tiny_png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def test_export_has_no_code_and_loads_nothing_remote(tmp_path):
    nb = nbformat.v4.new_notebook()
    md = nbformat.v4.new_markdown_cell("# Title\n\nSome prose with $x$ maths.")
    hidden = nbformat.v4.new_markdown_cell("## Analyst notes")
    hidden.metadata["tags"] = ["hide-in-report"]
    code = nbformat.v4.new_code_cell("secret_variable_name = 42\nplt.show()", execution_count=3)
    code.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="a noisy warning\n"),
        nbformat.v4.new_output("display_data", data={"image/png": _tiny_png(), "text/plain": "<Figure>"}),
    ]
    silent = nbformat.v4.new_code_cell("x = 1", execution_count=4)
    nb.cells = [md, hidden, code, silent]
    nb.metadata["kernelspec"] = {"name": "salessim", "display_name": "salessim", "language": "python"}
    page = export_html(nb, title="A report")
    assert "secret_variable_name" not in page and "x = 1" not in page
    assert not PROMPT.search(page)
    assert "hl-ipython3" not in page and 'class="jp-CodeMirrorEditor' not in page
    assert "a noisy warning" not in page
    assert "Analyst notes" not in page
    assert "data:image/png;base64," in page
    assert not REMOTE_SCRIPT.search(page), "the page pulls a script from the network"
    assert "<title>A report</title>" in page


# ------------------------------------------------------------------------------------------
# bad input on the command line: exit 2, one line, nothing touched
# ------------------------------------------------------------------------------------------
def _fake_last_good(out: Path) -> dict[str, bytes]:
    (out / "goal_designs").mkdir(parents=True)
    (out / "goal_designs.html").write_text("<html>last good</html>")
    (out / "goal_designs" / "findings.json").write_text("{}")
    (out / "index.html").write_text("<html>index</html>")
    return snapshot(out)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-p", "replicatons", "3"], "valid parameters: replications, seed, output_dir"),
        (["-p", "replications", "0"], "replications must be ≥ 1, got 0"),
        (["-p", "seed", "-2"], "seed must be ≥ 0"),
        (["-p", "replications", "two"], "whole number"),
    ],
)
def test_bad_parameter_exits_2_and_touches_nothing(tmp_path, args, fragment):
    out = tmp_path / "reports"
    before = _fake_last_good(out)
    proc = run_cli("report", "goal_designs", *args, "--out", out, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert snapshot(out) == before


def test_unknown_report_exits_2(tmp_path):
    proc = run_cli("report", "forecast", "--out", tmp_path / "r", timeout=120)
    assert proc.returncode == 2
    assert "no report 'forecast'" in proc.stderr and "goal_designs" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_reports_refuses_zero_replications(tmp_path):
    proc = run_cli("reports", "--replications", "0", "--out", tmp_path / "r", timeout=120)
    assert proc.returncode == 2
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------------------------
# the whole set, built once with tiny parameters
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """``salessim reports --out OUT --replications 2``: every notebook executed by papermill.

    Built once per test run even when xdist spreads these tests over several workers (a lock in
    the run's shared temporary directory; ``--dist loadgroup`` does not keep groups together
    under pytest 9 with xdist 3.8).
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by every worker of this run
    root = base / "salessim-reports"
    root.mkdir(exist_ok=True)
    with open(base / "salessim-reports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "built.ok").exists():
            env = {**os.environ, "SALESSIM_CACHE_DIR": str(root / "cache")}
            env.pop("SALESSIM_QUICK", None)
            shutil.rmtree(root / "out", ignore_errors=True)
            proc = run_cli("reports", "--out", root / "out", "--replications", "2", env=env)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert "6 of 6 reports built" in proc.stdout
            (root / "built.ok").write_text("ok\n")
    return root / "out"


@pytest.mark.slow
@pytest.mark.xdist_group("reports")
@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_writes_its_results(built, name):
    data = built / name
    for f in [*WRITES[name], "findings.json", "run.json", f"{name}.ipynb"]:
        assert (data / f).is_file(), f"{name} did not write {f}"
    findings = json.loads((data / "findings.json").read_text())
    assert findings["report"] == name and len(findings["findings"]) >= 3
    for f in findings["findings"]:
        assert f["headline"].endswith("."), f["headline"]
    meta = findings["metadata"]
    assert meta["replications"] == 2 and meta["seed"] == 1 and meta["scenario_hashes"]
    run = json.loads((data / "run.json").read_text())
    assert run["parameters"]["replications"] == 2 and run["runtime_seconds"] > 0


@pytest.mark.slow
@pytest.mark.xdist_group("reports")
def test_findings_and_tables_carry_the_numbers(built):
    import pandas as pd

    goal = json.loads((built / "goal_designs" / "findings.json").read_text())["findings"][0]
    assert goal["id"] == "focused_revenue" and "95\u00a0% CI" in goal["headline"]
    assert goal["effect"]["kind"] == "rel" and goal["effect"]["n"] == 2
    plans = pd.read_csv(built / "goal_designs" / "plans.csv")
    assert len(plans) == 4
    swings = pd.read_csv(built / "drivers_overview" / "swings.csv")
    assert len(swings) == 10  # every one-driver variant of the library
    curves = pd.read_csv(built / "coaching" / "response_curves.csv")
    assert set(curves["hours"]) == {0, 2, 4, 6, 8}
    bands = pd.read_csv(built / "coaching" / "gain_by_skill_band.csv")
    assert {"bottom 20%", "middle 60%", "top 20%"} <= set(bands["band"])
    funnel = pd.read_csv(built / "pipeline_benchmark" / "reverse_funnel.csv").set_index("item")
    assert funnel.loc["quota", "per rep"] == pytest.approx(1_100_000)
    # the default export is the messy sample: what the importer dropped is reported, row for row
    from salessim.crm import read_crm

    sample = read_crm(
        REPO / "data/crm_sample/Opportunity.csv", REPO / "data/crm_sample/OpportunityHistory.csv"
    )
    dq = pd.read_csv(built / "crm_calibration" / "data_quality.csv").set_index("check")
    for reason, n in sample.dropped.items():
        assert dq.loc[f"dropped on import: {reason}", "rows"] == n
    for reason, n in sample.amounts_set_aside.items():  # kept deals: counted apart, and once
        assert dq.loc[f"amount set aside on import: {reason}", "rows"] == n
    assert dq.loc["missing or non-positive amount", "rows"] == int(sample.table["amount"].isna().sum()) - sum(
        sample.amounts_set_aside.values()
    )
    cal = pd.read_csv(built / "crm_calibration" / "calibration_estimates.csv").set_index("parameter")
    assert (
        abs(
            cal.loc["win rate", "value"]
            - (sample.table["outcome"] == "won").sum() / (sample.table["outcome"] != "open").sum()
        )
        < 1e-9
    )
    assert (built / "crm_calibration" / "calibrated_scenario.yaml").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("reports")
@pytest.mark.parametrize("name", NAMES)
def test_html_has_no_code_and_embeds_its_figures(built, name):
    page = (built / f"{name}.html").read_text(encoding="utf-8")
    assert "hl-ipython3" not in page and 'class="jp-CodeMirrorEditor' not in page
    assert not PROMPT.search(page)
    assert "import " not in page.split("</style>")[-1]  # no code leaked as text
    assert page.count("data:image/png;base64,") >= 3
    assert not REMOTE_SCRIPT.search(page)
    assert "Traceback" not in page and 'data-mime-type="application/vnd.jupyter.stderr"' not in page
    assert "Findings" in page and "Run metadata" in page and "assumptions register" in page


@pytest.mark.slow
@pytest.mark.xdist_group("reports")
@pytest.mark.parametrize("name", NAMES)
def test_each_report_says_near_its_top_what_it_shows(built, name):
    """Year 1 after the change, or the steady state, and the horizon: above the findings."""
    import html

    from salessim.notebook_helpers import STEADY_LABEL, TRANSITION_LABEL

    tf = json.loads((built / name / "time_frame.json").read_text())
    assert tf["mode"] == SHOWS[name] and tf["horizon_days"] == 365 * YEARS.get(name, 1)
    if SHOWS[name] == "transition":
        assert tf["label"] == TRANSITION_LABEL
    else:
        assert tf["label"] != STEADY_LABEL and tf["label"].startswith("The steady state")
    # quotes may reach the page as entities or as characters; markup never does
    page = (built / f"{name}.html").read_text(encoding="utf-8").replace("&#x27;", "'")
    statement = f"What these figures show: {html.escape(tf['label'], quote=False)}."
    assert page.count(statement) == 1
    assert f"<b>Reported:</b> {html.escape(tf['horizon'], quote=False)}." in page
    assert page.index(statement) < page.index(">Findings<"), "the statement is not near the top"
    index = (built / "index.html").read_text(encoding="utf-8")
    assert f"<b>Shows:</b> {html.escape(tf['label'])} ({html.escape(tf['horizon'].split(';')[0])})." in index
    if name not in YEARS:
        assert tf["horizon"] == "one year, in four quarters"


@pytest.mark.slow
@pytest.mark.xdist_group("reports")
@pytest.mark.parametrize("name", NAMES)
def test_each_page_links_its_tables_and_they_hold_numbers(built, name):
    from test_report_tables import check_report_tables

    page = (built / f"{name}.html").read_text(encoding="utf-8")
    section = page[page.index("class='salessim-tables") :]
    assert section.index("<h2") < section.index("</body>")
    linked = set(re.findall(r"href='([^']*)'", section))
    written = {f"{name}/{p.name}" for p in (built / name).iterdir() if p.suffix in (".csv", ".xlsx")}
    assert written and linked == written
    assert {f"{name}/{t}" for t in WRITES[name] if t.endswith(".csv")} <= linked
    assert check_report_tables(built) == []


@pytest.mark.slow
@pytest.mark.xdist_group("reports")
def test_index_lists_every_report(built):
    page = (built / "index.html").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"href='{name}.html'" in page
    assert page.count("replications=2") == len(NAMES)
    assert page.count("Built ") == len(NAMES)
    assert not REMOTE_SCRIPT.search(page)


@pytest.mark.slow
@pytest.mark.xdist_group("reports")
def test_a_real_browser_renders_every_report(built, tmp_path):
    """Headless Chromium: each page renders to a non-blank screenshot, without console errors."""
    from PIL import Image, ImageStat

    chromium = chromium_path()
    if chromium is None:
        pytest.skip("Chromium not found (apt-get install chromium)")
    for name in ["index", *NAMES]:
        shot = tmp_path / f"{name}.png"
        proc = run_chromium(
            chromium,
            built / f"{name}.html",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2400",
            f"--screenshot={shot}",
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
        assert not console, f"{name}: console errors: {console}"
        img = Image.open(shot).convert("L")
        assert img.size == (1280, 2400)
        stat = ImageStat.Stat(img)
        assert stat.stddev[0] > 10, f"{name}: the screenshot is blank"
        assert img.getextrema()[0] < 80, f"{name}: no dark text or chart ink on the page"


@pytest.mark.slow
@pytest.mark.xdist_group("reports")
def test_a_failing_report_keeps_the_last_good_one(built, tmp_path):
    out = tmp_path / "reports"
    env = {**os.environ, "SALESSIM_CACHE_DIR": str(built.parent / "cache")}
    # one report on its own: a good build, and an index that lists the others as not built
    good = run_cli("report", "crm_calibration", "-p", "replications", "2", "--out", out, env=env)
    assert good.returncode == 0, good.stderr
    assert (out / "crm_calibration.html").is_file()
    index = (out / "index.html").read_text()
    assert "Not built yet" in index and "salessim report goal_designs" in index
    before = snapshot(out)

    bad = tmp_path / "export.csv"
    bad.write_text("name,value\nx,1\n")
    proc = run_cli(
        "report", "crm_calibration", "-p", "replications", "2", "-p", "crm_export", bad, "--out", out, env=env
    )
    assert proc.returncode == 1
    msg = proc.stderr.strip()
    assert len(msg.splitlines()) == 1, msg
    assert "Traceback" not in msg
    assert "notebooks/crm_calibration.ipynb" in msg and "Load the CRM export" in msg
    assert "CRMError" in msg and "the last good report is untouched" in msg
    failed = out / "_failed" / "crm_calibration.ipynb"
    assert failed.is_file()
    nb = nbformat.read(str(failed), as_version=4)
    assert any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    after = {k: v for k, v in snapshot(out).items() if not k.startswith("_failed/")}
    after.pop("index.html", None)
    before.pop("index.html", None)
    assert after == before, "the failed run changed the last good report"
    assert not list(out.glob(".crm_calibration.partial-*"))


@pytest.mark.slow
def test_coaching_curves_include_the_high_coaching_point_whatever_the_step(tmp_path):
    # with a step that skips the high-coaching setting the grid's starting point used to be
    # missing from the response curves (IndexError in "Effects against today")
    env = {**os.environ, "SALESSIM_QUICK": "1", "SALESSIM_CACHE_DIR": str(tmp_path / "cache")}
    r = run_cli(
        "report",
        "coaching",
        "-p",
        "max_hours",
        "2",
        "-p",
        "hours_step",
        "2",
        "--out",
        tmp_path / "out",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    curves = (tmp_path / "out" / "coaching" / "response_curves.csv").read_text()
    hours = {line.split(",")[1] for line in curves.splitlines()[1:]}
    assert "2" in hours
    # below today's hours there is nothing extra to price: said in words, not as "nan×"
    findings = (tmp_path / "out" / "coaching" / "findings.json").read_text()
    assert "nan" not in findings.lower() and "no extra manager time to price" in findings


def test_an_effect_chart_of_all_zero_effects_keeps_a_sane_size(tmp_path):
    """A tiny run where no rep left: every turnover effect is exactly 0 (CI 0 … 0). The chart's
    axis must still hold its value labels (an axis of zero width put them billions of pixels out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from salessim.notebook_helpers import Effect, effect_chart

    fig, ax = plt.subplots(figsize=(10, 5.4))
    effect_chart(ax, ["a", "b"], [Effect(0.0, 0.0, 0.0, 2, "pts")] * 2, better=-1)
    fig.savefig(tmp_path / "zero.png", bbox_inches="tight", dpi=100)
    plt.close(fig)
    w, h = Image.open(tmp_path / "zero.png").size
    assert w < 2000 and h < 1000
