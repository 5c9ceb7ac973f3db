"""Your own sales force as the baseline: a calibrated scenario file in place of the library's.

``salessim calibrate`` writes a scenario that ``extends: baseline`` with the funnel, deal sizes
and organisation of the export. Every experiment and report takes such a file as the baseline:
swings lay each library variant's *changes* over it, compare/sweep/sensitivity pair against it,
and the reports are built for it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import chromium_path, run_chromium

from salessim.executors import SerialExecutor
from salessim.experiments import (
    DRIVER_VARIANTS,
    compare,
    library_swings,
    variant_changes,
    variants_over,
)
from salessim.reports import ReportError, validate_parameters, with_baseline, write_index
from salessim.scenario import ScenarioError, load_scenario

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "crm_sample"
SALESSIM = str(Path(sys.executable).parent / "salessim")
VARIANTS = [*[n for v in DRIVER_VARIANTS.values() for n in v], "best_practice"]
#: a calibrated company, shrunk for speed: it extends the calibrated file (which extends baseline)
SHRINK = """\
extends: ours.yaml
name: ours
organisation: {managers: 2, span: 4}
simulation: {warmup_days: 60, horizon_days: 120}
"""


def _run(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SALESSIM, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> dict[str, Path]:
    """A scenario calibrated from the sample export (``ours.yaml``) and a small one extending it."""
    d = tmp_path_factory.mktemp("company")
    proc = _run(
        "calibrate",
        SAMPLE / "Opportunity.csv",
        "--history",
        SAMPLE / "OpportunityHistory.csv",
        "-o",
        d / "ours.yaml",
        "--accept-unverified",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    text = (d / "ours.yaml").read_text(encoding="utf-8")
    assert "extends: baseline" in text
    (d / "small.yaml").write_text(SHRINK, encoding="utf-8")
    return {"dir": d, "calibrated": d / "ours.yaml", "small": d / "small.yaml"}


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SALESSIM_CACHE_DIR": str(tmp_path / "cache"), "SALESSIM_NO_PROGRESS": "1"}


# ------------------------------------------------------------------------------------------
# loading: a file named baseline.yaml elsewhere, extending the library's baseline
# ------------------------------------------------------------------------------------------
def test_a_baseline_yaml_in_another_folder_extends_the_librarys(company, tmp_path):
    data = yaml.safe_load(company["calibrated"].read_text(encoding="utf-8"))
    data.pop("name")
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    sc = load_scenario(tmp_path / "baseline.yaml")  # was: `extends` makes a cycle
    lib = load_scenario("baseline")
    assert sc.name == "baseline"  # named after its file
    assert sc.organisation.quota == data["organisation"]["quota"] != lib.organisation.quota
    assert [s.conversion for s in sc.funnel.stages] == [s["conversion"] for s in data["funnel"]["stages"]]
    assert sc.coaching == lib.coaching  # what it does not write comes from the library
    # a variant beside it extends *it*, not the library (the beside-the-file rule is kept)
    (tmp_path / "more_calls.yaml").write_text(
        "extends: baseline\ncoaching: {joint_call_hours_per_week: 5}\n", encoding="utf-8"
    )
    v = load_scenario(tmp_path / "more_calls.yaml")
    assert v.organisation.quota == sc.organisation.quota
    assert v.coaching.joint_call_hours_per_week == 5
    # a real cycle is still refused, naming it
    (tmp_path / "a.yaml").write_text("extends: b\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"cycle: a\.yaml → b\.yaml → a\.yaml"):
        load_scenario(tmp_path / "a.yaml")


# ------------------------------------------------------------------------------------------
# the library variants' changes, laid over another baseline
# ------------------------------------------------------------------------------------------
def test_laid_over_the_library_baseline_the_variants_are_the_library_files():
    base = load_scenario("baseline")
    laid, skipped = variants_over(base, {n: variant_changes(n) for n in VARIANTS})
    assert not skipped
    for v in laid:
        assert v.hash == load_scenario(v.name).hash, v.name


def test_variants_over_a_calibrated_file_change_only_their_fields(company):
    ours = load_scenario(company["calibrated"])
    lib = load_scenario("baseline")
    laid, skipped = variants_over(ours, {n: variant_changes(n) for n in VARIANTS})
    assert not skipped and [v.name for v in laid] == VARIANTS
    for v in laid:
        ch = variant_changes(v.name)
        assert ch, v.name
        data, base = v.to_dict(), ours.to_dict()
        for section in data:
            if section in ("name", "description"):
                continue
            if section in ch:  # the variant's own value, whatever the baseline had
                lib_var = load_scenario(v.name).to_dict()[section]
                if isinstance(ch[section], dict):
                    for k in ch[section]:
                        assert data[section][k] == lib_var[k], (v.name, section, k)
                else:
                    assert data[section] == lib_var, (v.name, section)
            else:  # the calibrated company's, untouched
                assert data[section] == base[section], (v.name, section)
        # the calibrated funnel and organisation stay (they differ from the library's)
        assert v.funnel == ours.funnel != lib.funnel
        assert v.organisation == ours.organisation


def test_a_variant_not_valid_over_the_baseline_is_named(company, tmp_path):
    # a company whose product B is gone (share 0 is refused: here B is renamed away)
    ours = load_scenario(company["calibrated"])
    data = ours.to_dict()
    data["funnel"]["products"] = {"Widgets": {**data["funnel"]["products"]["A"], "share": 1.0}}
    data["goals"] = {"items": [{"metric": "revenue", "weight": 1.0}]}
    data["name"] = "widgets_only"
    lone = load_scenario(data)
    with pytest.raises(
        ScenarioError,
        match=r"goals_many's changes cannot be laid over "
        r"widgets_only: .*'B' is not a product",
    ):
        variants_over(lone, {"goals_many": variant_changes("goals_many")})
    laid, skipped = variants_over(lone, {n: variant_changes(n) for n in VARIANTS}, skip_invalid=True)
    assert set(skipped) == {"goals_many"}
    assert [v.name for v in laid] == [n for n in VARIANTS if n != "goals_many"]
    # a report that needs that plan says so before anything runs, and takes it as a file
    path = _write(tmp_path / "widgets.yaml", yaml.safe_dump(lone.to_dict()))
    with pytest.raises(
        ReportError,
        match=r"goals_many's changes cannot be laid over widgets_only"
        r".* -p many_scenario FILE",
    ):
        validate_parameters("goal_designs", {"baseline": str(path)})
    six = lone.replace(
        **{"goals.items": [{"metric": "revenue", "weight": 0.5}, {"metric": "new_logos", "weight": 0.5}]},
        name="six",
    )
    plan = _write(tmp_path / "six.yaml", yaml.safe_dump(six.to_dict()))
    assert validate_parameters("goal_designs", {"baseline": str(path), "many_scenario": str(plan)})


# ------------------------------------------------------------------------------------------
# swings, compare, sweep, sensitivity on the calibrated file
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def swings(company):
    return library_swings(
        replications=2, seed=3, baseline=company["small"], executor=SerialExecutor(), cache=False
    )


def test_swings_lay_the_variants_over_the_calibrated_file(swings, company):
    ours = load_scenario(company["small"])
    assert swings.baseline == "ours" and swings.scenarios == ["ours", *VARIANTS]
    m = swings.meta
    assert m["baseline_source"] == str(company["small"]) and m["baseline_hash"] == ours.hash
    assert m["skipped"] == {}
    ran = {n: load_scenario(yaml.safe_load(t)) for n, t in m["scenario_yaml"].items()}
    assert ran["ours"].hash == ours.hash
    for n in VARIANTS:  # every variant ran on the calibrated funnel and organisation
        assert ran[n].funnel == ours.funnel and ran[n].organisation == ours.organisation, n
    assert ran["crm_full"].crm.adoption == 1.0 != ours.crm.adoption
    # a variant's changed field applies in the run: no joint calls without coaching
    y = swings.results.periods
    y = y[y["period"] == "year"].set_index(["scenario", "replication"])["coaching_hours"]
    assert (y.loc["coaching_none"] == 0).all() and (y.loc["ours"] > 0).all()
    # the baseline's runs are those of the calibrated file itself (same replications, same seed)
    alone = compare([ours], replications=2, seed=3, executor=SerialExecutor(), cache=False)
    pd.testing.assert_frame_equal(
        swings.results.periods[swings.results.periods["scenario"] == "ours"].reset_index(drop=True),
        alone.results.periods,
    )
    # every variant of the ranking is tied to its driver
    rev = swings.summary[(swings.summary["metric"] == "revenue") & (swings.summary["scenario"] != "ours")]
    assert rev["driver"].notna().all() and rev["diff"].notna().all()


def test_cli_swings_with_a_baseline_file(company, tmp_path):
    out = tmp_path / "out"
    proc = _run(
        "swings",
        "--baseline",
        company["small"],
        "-r",
        "2",
        "-w",
        "1",
        "--out",
        out,
        env=_env(tmp_path),
        cwd=company["dir"],
    )
    assert proc.returncode == 0, proc.stderr
    ours = load_scenario(company["small"])
    assert f"against ours ({company['small']}, scenario hash {ours.hash})" in proc.stdout
    assert "ranked by team revenue, for ours:" in proc.stdout
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert (man["baseline"], man["baseline_hash"], man["baseline_source"]) == (
        "ours",
        ours.hash,
        str(company["small"]),
    )
    # a missing or invalid baseline: exit 2 naming it, nothing written
    for bad, says in (
        (tmp_path / "nope.yaml", "nope.yaml"),
        (_write(tmp_path / "bad.yaml", "extends: baseline\nfunnel: {stages: 3}\n"), "funnel.stages"),
    ):
        proc = _run("swings", "--baseline", bad, "-r", "2", "--out", tmp_path / "o2", env=_env(tmp_path))
        assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "o2").exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_compare_takes_the_baseline_as_a_path(company, tmp_path):
    ours = company["small"]
    more = _write(
        company["dir"] / "more_calls.yaml",
        "extends: small.yaml\nname: more_calls\ncoaching: {joint_call_hours_per_week: 6}\n",
    )
    env = _env(tmp_path)
    # (1) one of the scenarios, given as the same path: no duplicate, it is the baseline
    proc = _run(
        "compare", more, ours, "--baseline", ours, "-r", "2", "-w", "1", "--out", tmp_path / "a", env=env
    )
    assert proc.returncode == 0, proc.stderr
    s = pd.read_csv(tmp_path / "a" / "summary.csv")
    assert set(s["scenario"]) == {"ours", "more_calls"}
    assert s.loc[s["scenario"] == "ours", "diff"].isna().all()  # the baseline has no difference
    # (2) a file not among the scenarios: added in front as the baseline
    proc = _run("compare", more, "--baseline", ours, "-r", "2", "-w", "1", "--out", tmp_path / "b", env=env)
    assert proc.returncode == 0, proc.stderr
    man = json.loads((tmp_path / "b" / "manifest.json").read_text(encoding="utf-8"))
    assert man["baseline"] == "ours" and man["baseline_source"] == str(ours)
    assert list(man["scenarios"]) == ["ours", "more_calls"]
    b = pd.read_csv(tmp_path / "b" / "summary.csv")
    pd.testing.assert_frame_equal(
        b, s.set_index("scenario").loc[["ours", "more_calls"]].reset_index()[b.columns]
    )  # the same paired comparison
    # (3) a file named like a different scenario of the comparison: refused, saying why
    lib_named = _write(tmp_path / "baseline.yaml", "extends: baseline\nreviews: {cadence: monthly}\n")
    proc = _run("compare", "baseline", "--baseline", lib_named, "-r", "2", env=env)
    assert proc.returncode == 2 and "named 'baseline'" in proc.stderr
    assert "Traceback" not in proc.stderr
    # (4) neither a scenario's name nor a file
    proc = _run("compare", more, "--baseline", "nosuch", "-r", "2", env=env)
    assert proc.returncode == 2 and "'nosuch' is not one of the scenarios" in proc.stderr


def test_sweep_and_sensitivity_on_the_calibrated_file(company, tmp_path):
    env = _env(tmp_path)
    proc = _run(
        "sweep",
        company["small"],
        "--vary",
        "coaching.joint_call_hours_per_week=0,4",
        "-r",
        "2",
        "-w",
        "1",
        "--out",
        tmp_path / "sw",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    man = json.loads((tmp_path / "sw" / "manifest.json").read_text(encoding="utf-8"))
    assert (man["baseline"], man["baseline_source"]) == ("ours", str(company["small"]))
    assert man["baseline_hash"] == load_scenario(company["small"]).hash
    # the calibrated company saved as baseline.yaml in its own folder (extends: baseline), given
    # to --baseline as a relative path
    data = yaml.safe_load(company["calibrated"].read_text(encoding="utf-8"))
    data.pop("name")
    data["organisation"].update(managers=2, span=4)
    data["simulation"] = {"warmup_days": 60, "horizon_days": 120}
    folder = tmp_path / "ours"
    folder.mkdir()
    _write(folder / "baseline.yaml", yaml.safe_dump(data))
    proc = _run(
        "sensitivity",
        "--baseline",
        "baseline.yaml",
        "--variants",
        "crm_full,coaching_high",
        "--parameters",
        "organisation.quota",
        "-t",
        "1",
        "-r",
        "2",
        "-w",
        "1",
        "--out",
        tmp_path / "sens",
        env=env,
        cwd=folder,
    )
    assert proc.returncode == 0, proc.stderr
    man = json.loads((tmp_path / "sens" / "manifest.json").read_text(encoding="utf-8"))
    ours = load_scenario(folder / "baseline.yaml")
    assert man["baseline_source"] == "baseline.yaml" and man["baseline_hash"] == ours.hash
    assert ours.hash != load_scenario("baseline").hash  # the company's, not the library's
    design = pd.read_parquet(tmp_path / "sens" / "design.parquet")
    quota = ours.organisation.quota  # the screened range is around the company's quota
    assert quota == data["organisation"]["quota"]
    assert design["organisation.quota"].between(0.5 * quota, 1.5 * quota).all()


# ------------------------------------------------------------------------------------------
# reports: checked before anything runs, and saying which sales force they are for
# ------------------------------------------------------------------------------------------
def test_report_baseline_is_checked_before_anything_runs(company, tmp_path):
    for name in (
        "drivers_overview",
        "goal_designs",
        "pipeline_benchmark",
        "coaching",
        "crm_calibration",
        "capacity_quota",
    ):
        assert validate_parameters(name, {"baseline": str(company["small"])})
        with pytest.raises(ReportError, match=r"parameter baseline: no scenario file .*nope\.yaml"):
            validate_parameters(name, {"baseline": str(tmp_path / "nope.yaml")})
    # the old names still work, and not beside the new one
    assert validate_parameters("coaching", {"scenario": "baseline"}) == {"scenario": "baseline"}
    with pytest.raises(ReportError, match="scenario is the old name of baseline"):
        validate_parameters("coaching", {"scenario": "baseline", "baseline": "baseline"})
    bad = _write(tmp_path / "bad.yaml", "extends: baseline\norganisation: {span: -3}\n")
    out = tmp_path / "reports"
    proc = _run("reports", "--baseline", bad, "--out", out, env=_env(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "bad.yaml" in proc.stderr and "organisation.span" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
    proc = _run(
        "report", "coaching", "-p", "baseline", tmp_path / "nope.yaml", "--out", out, env=_env(tmp_path)
    )
    assert proc.returncode == 2 and "nope.yaml" in proc.stderr and not out.exists()


MARKUP = "<img src=x onerror=alert(1)>"


def test_heading_and_index_name_the_baseline_escaped(tmp_path):
    info = {
        "name": f"ours {MARKUP}",
        "description": f"calibrated {MARKUP}",
        "hash": "abc123",
        "source": f"/data/{MARKUP}.yaml",
    }
    page = with_baseline("<html><body><h1>Title</h1><p>x</p></body></html>", info)
    assert MARKUP not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.index("</h1>") < page.index("For the sales force") < page.index("<p>x</p>")
    (tmp_path / "coaching").mkdir()
    (tmp_path / "coaching.html").write_text(page, encoding="utf-8")
    (tmp_path / "coaching" / "run.json").write_text(
        json.dumps({"created_utc": "2026-11-28T12:00:00+00:00", "parameters": {}, "baseline": info}),
        encoding="utf-8",
    )
    index = write_index(tmp_path).read_text(encoding="utf-8")
    assert MARKUP not in index
    assert "For the sales force “ours &lt;img" in index and "abc123" in index


@pytest.mark.slow
def test_reports_are_built_for_the_calibrated_company(company, tmp_path):
    """``salessim reports --baseline`` on the calibrated file: every report, and the drivers
    ranked for that company; the index and the drivers overview looked at in Chromium."""
    out = tmp_path / "reports"
    env = {**_env(tmp_path)}
    env.pop("SALESSIM_QUICK", None)
    proc = _run(
        "reports", "--baseline", company["small"], "--replications", "2", "--out", out, env=env, timeout=3000
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 of 6 reports built" in proc.stdout
    ours = load_scenario(company["small"])
    for name in (
        "drivers_overview",
        "goal_designs",
        "pipeline_benchmark",
        "coaching",
        "crm_calibration",
        "capacity_quota",
    ):
        run = json.loads((out / name / "run.json").read_text(encoding="utf-8"))
        assert run["baseline"]["name"] == "ours" and run["baseline"]["hash"] == ours.hash, name
        page = (out / f"{name}.html").read_text(encoding="utf-8")
        assert "For the sales force “ours”" in page, name
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "For the sales force “ours”" in index and ours.hash in index
    # the drivers ranked for this company: every variant, laid over its funnel
    swings = pd.read_csv(out / "drivers_overview" / "swings.csv")
    assert set(swings["scenario"]) == set(VARIANTS) - {"best_practice"}
    findings = json.loads((out / "drivers_overview" / "findings.json").read_text(encoding="utf-8"))
    assert findings["metadata"]["scenario_hashes"]["ours"] == ours.hash
    fix_first = next(f for f in findings["findings"] if f["id"] == "fix_first")
    assert fix_first["scenario"] in set(VARIANTS)
    # the other reports ran their plans over the company too
    assert json.loads((out / "goal_designs" / "findings.json").read_text(encoding="utf-8"))["metadata"][
        "scenario_hashes"
    ]
    _look(out, tmp_path)


def _look(out: Path, tmp_path: Path) -> None:
    """The index and the drivers overview render in headless Chromium, with the company named."""
    from PIL import Image, ImageStat

    chromium = chromium_path()
    if chromium is None:
        pytest.skip("Chromium not found (apt-get install chromium)")
    for name in ("index", "drivers_overview"):
        shot = tmp_path / f"{name}.png"
        proc = run_chromium(chromium, out / f"{name}.html", "--window-size=1280,2400", f"--screenshot={shot}")
        assert proc.returncode == 0, proc.stderr[-2000:]
        img = Image.open(shot).convert("L")
        assert ImageStat.Stat(img).stddev[0] > 10, f"{name}: the screenshot is blank"
        if os.environ.get("SALESSIM_KEEP_SCREENSHOTS"):
            shutil.copy(shot, Path(os.environ["SALESSIM_KEEP_SCREENSHOTS"]) / f"{name}.png")
