"""Reports under hostile input: names from the data stay text, parameters cannot blow up, and the
report kernel writes nowhere but the report and the cache.

Text from a CRM export (product names), a file name and a scenario's ``name:`` reach the HTML
reports; every one of them must show as text and run no script — checked in a real browser.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import textwrap
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import chromium_path, run_chromium

from salessim import notebook_helpers as nh
from salessim import reports
from salessim.reports import ReportError, export_html, parse_value, validate_parameters

REPO = Path(__file__).resolve().parent.parent
SALESSIM = Path(sys.executable).parent / "salessim"
LIBRARY = REPO / "data" / "scenarios"
SAMPLE = REPO / "data" / "crm_sample"


def payload(tag: str) -> str:
    """Markup that, if it ever runs, renames the page: ``PWNED-<tag>``."""
    return f"<img src=x onerror=document.title='PWNED-{tag}'>"


# ------------------------------------------------------------------------------------------
# what a page may hold: no element with an event handler, no script, no javascript: link
# ------------------------------------------------------------------------------------------
class _Active(HTMLParser):
    """Collects active content of a page: event-handler attributes, scripts, script URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.text: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "base"):
            self.found.append(f"<{tag}>")
        if tag == "title":
            self._in_title = True
        for name, value in attrs:
            v = (value or "").strip().lower()
            handler = name.lower().startswith("on")
            script_url = name.lower() in ("href", "src", "action", "formaction") and (
                v.startswith(("javascript:", "vbscript:", "data:text/html"))
                or (tag == "img" and not v.startswith("data:image/"))
            )
            if handler or script_url:
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.text.append(data)


def active_content(page: str) -> _Active:
    parser = _Active()
    parser.feed(page)
    parser.close()
    return parser


def _render(outputs: list[dict]) -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("display_data", data=o) for o in outputs]
    nb.cells = [cell]
    return export_html(nb, title="t")


def _captured(monkeypatch) -> list[dict]:
    """What the helpers display, as the notebook would store it (HTML or Markdown)."""
    import IPython.display

    shown: list[dict] = []

    def display(obj):
        if hasattr(obj, "_repr_html_"):
            shown.append({"text/html": obj._repr_html_(), "text/plain": "x"})
        elif type(obj).__name__ == "Markdown":
            shown.append({"text/markdown": obj.data, "text/plain": "x"})
        else:
            shown.append({"text/html": obj.data, "text/plain": "x"})

    monkeypatch.setattr(IPython.display, "display", display)
    return shown


# ------------------------------------------------------------------------------------------
# the helpers every report uses: findings, tables, the register, literal blocks
# ------------------------------------------------------------------------------------------
def test_the_checker_sees_active_content():
    """The page checker itself: it finds what an unescaped name would inject."""
    page = _render(
        [
            {"text/html": f"<p>B{payload('x')}</p>", "text/plain": "x"},
            {"text/markdown": "[a](javascript:alert(1))", "text/plain": "x"},
        ]
    )
    found = active_content(page).found
    assert any("onerror" in f for f in found)
    assert any("javascript:" in f for f in found)


def test_findings_are_literal_text(monkeypatch):
    shown = _captured(monkeypatch)
    f = nh.Findings("r", "q")
    f.add(
        "a",
        f"Product B{payload('headline')} sold $1.10M (95 % CI 5.2 % to 7.0 %).",
        "Source: [click](javascript:alert(1)) ![i](x) <script>alert(1)</script> `x` *y* "
        "a_b_c\n# not a heading\n<b>bold</b> &amp;",
    )
    f.show()
    page = _render(shown)
    checked = active_content(page)
    assert not checked.found, checked.found
    text = "".join(checked.text)
    assert f"Product B{payload('headline')} sold $1.10M (95 % CI 5.2 % to 7.0 %)." in text
    assert "[click](javascript:alert(1)) ![i](x) <script>alert(1)</script> `x` *y* a_b_c" in text
    assert "# not a heading <b>bold</b> &amp;" in text
    assert "<h1" not in page.split("</style>")[-1]
    # findings.json keeps the plain text
    assert f.items[0]["headline"].startswith("Product B<img")


def test_tables_escape_cells_headers_and_captions(monkeypatch):
    shown = _captured(monkeypatch)
    hostile = f"B{payload('cell')}"
    df = pd.DataFrame(
        {
            "product": [hostile, "A"],
            "deals": [3, 4],
            "share": [0.5, None],
            "ok": [True, False],
            "note": [["a", payload("list")], None],
        }
    )
    nh.show_table(df, {"deals": "int", "share": "pct"}, caption=f"Sizes in {payload('caption')}")
    wide = pd.DataFrame({"goal": ["revenue"], hostile: [0.9]})
    nh.show_table(wide, {hostile: "pct"}, index=True)
    nh.show_metadata({"scenario_hashes": {payload("scenario"): "abc123"}, "seed": 1})
    page = _render(shown)
    checked = active_content(page)
    assert not checked.found, checked.found
    text = "".join(checked.text)
    for tag in ("cell", "caption", "list", "scenario"):
        assert payload(tag) in text, tag
    assert "50.0\u00a0%" in text and "–" in text  # formats still apply


def test_register_note_and_literal_blocks_escape(monkeypatch):
    from salessim.scenario import Scenario

    shown = _captured(monkeypatch)
    nh.assumptions_section(Scenario(), ["crm.adoption"], note=f"Assumes {payload('note')}")
    nh.show_preformatted(
        f"funnel:\n  products:\n    B{payload('yaml')}: {{}}\n```\n</pre>", f"The file {payload('intro')}:"
    )
    page = _render(shown)
    checked = active_content(page)
    assert not checked.found, checked.found
    text = "".join(checked.text)
    for tag in ("note", "yaml", "intro"):
        assert payload(tag) in text, tag


# ------------------------------------------------------------------------------------------
# report parameters: one scalar, no aliases, bounded, finite
# ------------------------------------------------------------------------------------------
_BOMB = textwrap.dedent("""\
    a: &a ["x","x","x","x","x","x","x","x","x"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """)


@pytest.mark.parametrize("text", ["&a 5", "*a", "[&a [1, 1], [*a, *a]]", "{k: &v 1, j: *v}", "!!set {a, b}"])
def test_anchors_aliases_and_collections_are_refused(text):
    with pytest.raises(ReportError, match=r"-p seed") as e:
        parse_value(text, "seed")
    assert len(str(e.value)) < 300


def test_a_long_value_is_refused_by_its_length():
    with pytest.raises(ReportError, match=r"-p crm_export: the value is 100,000 characters"):
        parse_value("x" * 100_000, "crm_export")


def test_an_alias_bomb_is_refused_without_expanding_it():
    """Validation names a bad value without building its text: a bomb costs nothing."""
    script = textwrap.dedent(f"""
        import yaml
        from salessim.reports import ReportError, validate_parameters
        bomb = yaml.safe_load({_BOMB!r})["i"]
        for key in ("seed", "quota", "baseline_scenario", "calibrate_funnel"):
            report = "pipeline_benchmark" if key == "quota" else (
                "crm_calibration" if key == "calibrate_funnel" else "goal_designs")
            try:
                validate_parameters(report, {{key: bomb}})
            except ReportError as e:
                assert len(str(e)) < 300, str(e)[:300]
                print(e)
            else:
                raise SystemExit(f"{{key}} accepted a list")
    """)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("validating an alias-bomb value did not finish in 60 s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert time.perf_counter() - t0 < 30
    assert "parameter seed must be a whole number, got a list" in proc.stdout
    assert "parameter baseline_scenario must be text, got a list" in proc.stdout


@pytest.mark.parametrize(
    ("report", "key", "text"),
    [
        ("pipeline_benchmark", "quota", ".nan"),
        ("pipeline_benchmark", "coverage_confidence", ".NaN"),
        ("coaching", "gross_margin", "-.inf"),
        ("pipeline_benchmark", "quota", "1e999"),
    ],
)
def test_non_finite_numbers_are_refused(report, key, text):
    with pytest.raises(ReportError, match=rf"parameter {key} must be a finite number, got"):
        validate_parameters(report, {key: parse_value(text, key)})


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["pipeline_benchmark", "-p", "quota", ".nan"], "parameter quota must be a finite number, got nan"),
        (["pipeline_benchmark", "-p", "quota", "1e999"], "parameter quota must be a finite number, got inf"),
        (
            ["goal_designs", "-p", "seed", "[&a [1, 1], [*a, *a]]"],
            "-p seed '[&a [1, 1], [*a, *a]]': expected a single value",
        ),
        (
            ["goal_designs", "-p", "baseline_scenario", "*anchor"],
            "-p baseline_scenario '*anchor': YAML anchors and aliases",
        ),
    ],
)
def test_bad_parameters_exit_2_naming_the_parameter(tmp_path, args, fragment):
    out = tmp_path / "reports"
    proc = subprocess.run(
        [str(SALESSIM), "report", *args, "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists()


# ------------------------------------------------------------------------------------------
# the kernel: a scratch working directory, absolute inputs, the command line's cache
# ------------------------------------------------------------------------------------------
def test_kernel_runs_outside_the_package_with_absolute_inputs(tmp_path, monkeypatch):
    """The kernel neither works in the package root nor resolves inputs against it."""
    import papermill

    seen: dict = {}

    def execute_notebook(src, dst, parameters, cwd, **kw):
        seen.update(
            cwd=cwd,
            parameters=parameters,
            cache=os.environ.get("SALESSIM_CACHE_DIR"),
            cwd_existed=Path(cwd).is_dir(),
            process_cwd=Path.cwd(),
        )
        raise RuntimeError("stop here")

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SALESSIM_CACHE_DIR", "my-cache")
    (tmp_path / "mine").mkdir()
    export = tmp_path / "mine" / "export.csv"
    shutil.copy(SAMPLE / "Opportunity.csv", export)
    scenario = tmp_path / "mine" / "model.yaml"
    scenario.write_text("extends: baseline\nname: model\n", encoding="utf-8")
    with pytest.raises(reports.ReportFailed, match="stop here"):
        reports.run_report(
            "crm_calibration",
            tmp_path / "out",
            {"crm_export": "mine/export.csv", "baseline": "mine/model.yaml", "crm_history": ""},
        )
    cwd = Path(seen["cwd"]).resolve()
    root = reports.ROOT.resolve()
    assert cwd != root and not cwd.is_relative_to(root)
    assert seen["cwd_existed"] and not cwd.exists(), "the scratch folder is removed afterwards"
    assert seen["parameters"]["crm_export"] == str(export.resolve())
    assert seen["parameters"]["baseline"] == str(scenario.resolve())
    assert seen["parameters"]["crm_history"] == ""
    assert seen["cache"] == str(tmp_path / "my-cache")
    assert os.environ["SALESSIM_CACHE_DIR"] == "my-cache"  # restored
    assert Path.cwd() == tmp_path


def test_a_library_name_runs_as_a_scenario():
    sc = nh.load_input_scenario("goals_focused")
    assert sc.name == "goals_focused"
    assert validate_parameters("goal_designs", {"baseline_scenario": "goals_many"}) == {
        "baseline_scenario": "goals_many"
    }


# ------------------------------------------------------------------------------------------
# every report rendered with hostile names, opened in headless Chromium
# ------------------------------------------------------------------------------------------
def dump_dom(chromium: str, page: Path) -> str:
    """The page's DOM after it loaded (scripts, if any ran, have run)."""
    proc = run_chromium(chromium, page, "--virtual-time-budget=3000", "--dump-dom", timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _hostile_inputs(base: Path) -> dict[str, Path]:
    """A scenario named with markup, in a file named with markup; a CRM export with a product
    named with markup, in a file named with markup; the scenario library in such a folder."""
    sdir = base / "scenarios"
    sdir.mkdir()
    scenario = sdir / f"model {payload('file')}.yaml"
    scenario.write_text(f'extends: baseline\nname: "{payload("name")}"\n', encoding="utf-8")
    export = base / f"export {payload('export')}.csv"
    with open(SAMPLE / "Opportunity.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("Product__c")
    for r in rows[1:]:
        if r[col] == "B":
            r[col] = f"B{payload('product')}"
    with open(export, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    library = base / f"library {payload('dir')}"
    shutil.copytree(LIBRARY, library)
    return {"scenario": scenario, "export": export, "library": library}


#: What each report gets, and the names that must show in it as text.
def _runs(inp: dict[str, Path]) -> dict[str, tuple[list[str], list[str]]]:
    s = str(inp["scenario"])
    return {
        "crm_calibration": (
            [
                "-p",
                "scenario",
                s,
                "-p",
                "crm_export",
                str(inp["export"]),
                "-p",
                "crm_history",
                str(SAMPLE / "OpportunityHistory.csv"),
            ],
            ["export", "product"],
        ),  # the calibrated scenario has a name of its own
        "goal_designs": (["-p", "baseline_scenario", s, "-p", "mix_replications", "1"], ["name"]),
        "pipeline_benchmark": (["-p", "baseline_scenario", s], ["name"]),
        "coaching": (["-p", "scenario", s], ["name"]),
        "capacity_quota": (["-p", "baseline", s], ["name"]),
        "drivers_overview": (
            ["-p", "scenario_dir", str(inp["library"]), "-p", "sensitivity_replications", "1"],
            ["dir"],
        ),
    }


@pytest.mark.slow
def test_every_report_with_hostile_names_runs_no_script(tmp_path):
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("Chromium not found (apt-get install chromium)")
    # the checker first: the same markup, unescaped, does rename the page in this browser
    control = tmp_path / "control.html"
    control.write_text(f"<!doctype html><title>control</title><p>B{payload('control')}</p>")
    assert "PWNED-control" in active_content(dump_dom(chromium, control)).title

    inp = _hostile_inputs(tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    out = tmp_path / "reports"
    # a relative cache location: it belongs to the directory the command runs in
    env = {
        **os.environ,
        "SALESSIM_QUICK": "1",
        "SALESSIM_CACHE_DIR": "rel-cache",
        "SALESSIM_NO_PROGRESS": "1",
    }
    env.pop("PYTHONWARNINGS", None)
    for name, (args, _) in _runs(inp).items():
        proc = subprocess.run(
            [str(SALESSIM), "report", name, "-p", "replications", "2", *args, "--out", str(out)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert proc.returncode == 0, f"{name}: {proc.stderr[-3000:]}"
    assert not (reports.ROOT / "rel-cache").exists(), "the report kernel wrote into the package root"
    assert any((work / "rel-cache").rglob("*")), "the reports' cache is not where the command ran"

    for name, (_, shown) in [*_runs(inp).items(), ("index", ([], []))]:
        page = (out / f"{name}.html").read_text(encoding="utf-8")
        static = active_content(page)
        assert not static.found, f"{name}.html: {static.found[:5]}"
        dom = active_content(dump_dom(chromium, out / f"{name}.html"))
        assert "PWNED" not in dom.title, f"{name}.html ran a script: title {dom.title!r}"
        assert not dom.found, f"{name}.html: {dom.found[:5]}"
        text = "".join(dom.text)
        for tag in shown:
            assert payload(tag) in text, f"{name}.html does not show the {tag} as text"
    index = "".join(active_content((out / "index.html").read_text(encoding="utf-8")).text)
    assert payload("export") in index and payload("dir") in index  # the parameters, as text


def test_a_page_that_would_run_script_is_not_written(tmp_path, monkeypatch):
    """The last check before a page is written: a notebook output carrying markup is refused."""
    import papermill

    def execute_notebook(src, dst, parameters, **kw):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("show()", execution_count=1)
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data", data={"text/html": f"<p>B{payload('raw')}</p>", "text/plain": "x"}
            )
        ]
        nb.cells = [cell]
        nbformat.write(nb, dst)

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    with pytest.raises(reports.ReportFailed, match=r"the page would run script \(an onerror handler"):
        reports.run_report("goal_designs", out, {"replications": 2})
    assert not (out / "goal_designs.html").exists() and not (out / "goal_designs").exists()
    assert (out / "_failed" / "goal_designs.ipynb").is_file()
    assert reports.active_content(f"<p>{payload('x')}</p>") == "an onerror handler on <img>"
    assert reports.active_content("<a href=' Java\tScript:alert(1)'>a</a>") == "a javascript: link on <a>"
    assert reports.active_content("<p>text</p><img src='data:image/png;base64,AAAA'>") == ""


def test_a_scalar_yaml_cannot_read_is_refused_by_name():
    with pytest.raises(ReportError, match=r"-p seed: cannot read '2026-02-30'"):
        parse_value("2026-02-30", "seed")


def test_an_alias_bomb_scenario_file_is_refused_quickly(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("extends: baseline\n" + _BOMB + "organisation:\n  managers: *i\n", encoding="utf-8")
    out = tmp_path / "reports"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(SALESSIM), "report", "goal_designs", "-p", "baseline_scenario", str(bomb), "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert time.perf_counter() - t0 < 60
    assert "parameter baseline_scenario" in proc.stderr and "bomb.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr) < 1000
    assert not out.exists()
