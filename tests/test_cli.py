"""The ``salessim`` console script (docs/cli.md): exit codes, messages, the output tables, atomic output."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

import salessim
from salessim import load_scenario, plan
from salessim.results import DEAL_COLUMNS, PERIOD_COLUMNS, REP_COLUMNS

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "data" / "scenarios" / "baseline.yaml"

# The output contract, as docs/model.md#outputs documents it. Rows also carry `seed` ("one row per
# observation, with scenario, replication and seed") in the reps and periods tables.
DOCUMENTED_REPS = (
    "scenario, replication, rep_id, manager_id, year, period, full_period, quota, revenue, "
    "attainment, composite_attainment, opportunities, wins, losses, coaching_hours, "
    "joint_calls, skill_start, skill_end, tenure_days, left, hired, gap_flagged, "
    "selling_time_share, extra_hours, p_make_quota"
)
DOCUMENTED_PERIODS = (
    "scenario, replication, year, period, headcount, revenue, quota, attainment_p10, "
    "attainment_p50, attainment_p90, pct_at_quota, win_rate, cycle_days, "
    "pipeline_coverage, forecast_error, forecast_bias, turnover, voluntary_turnover, "
    "coaching_hours, coaching_delivered_share, culture, detection_lag_days, "
    "false_flag_rate, diagnosis_accuracy, selling_time_share, hires, "
    "manager_review_hours, manager_hiring_hours, manager_training_hours, "
    "managers_trained, crm_logging_hours"
)
DOCUMENTED_DEALS = (
    "scenario, replication, opportunity_id, rep_id, manager_id, segment, product, amount, "
    "created_at, closed_at, stage_reached, outcome, joint_calls"
)


def _cols(text: str) -> list[str]:
    return [c.strip() for c in text.split(",")]


def _with_seed(cols: list[str]) -> list[str]:
    i = cols.index("replication") + 1
    return [*cols[:i], "seed", *cols[i:]]


TABLE_FILES = {"reps.parquet", "periods.parquet", "manifest.json"}
DEAL_FILES = {"deals.parquet", "deals.csv"}


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial" in p.name or ".old" in p.name)


def _assert_clean_error(res, *needles: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    assert res.stderr.strip(), "an error must say what is wrong"
    for n in needles:
        assert n in res.stderr, f"{n!r} not in stderr:\n{res.stderr}"


# --------------------------------------------------------------------------------------------
# A good previous result, made once, copied into each test that must not damage it
# --------------------------------------------------------------------------------------------


GOOD_ARGS = ("--replications", "2", "--seed", "1", "--deals")


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, cli, small_yaml_text):
    """``salessim simulate small.yaml --replications 2 --seed 1 --out DIR --deals``, run once."""
    d = tmp_path_factory.mktemp("good")
    scen = d / "small.yaml"
    scen.write_text(small_yaml_text)
    out = d / "result"
    res = cli("simulate", scen, *GOOD_ARGS, "--out", out)
    assert res.returncode == 0, res.stderr
    return scen, out, res


@pytest.fixture(scope="module")
def good_result(good_run) -> Path:
    return good_run[1]


# --------------------------------------------------------------------------------------------
# Bad input: exit 2, a clear message, no traceback, nothing written
# --------------------------------------------------------------------------------------------

BAD_SCENARIOS = [
    # id, file text, strings stderr must contain (besides the file name)
    (
        "conversion",
        "extends: baseline\nfunnel:\n  stages:\n    - {name: a, conversion: 0.5, mean_days: 20}\n"
        "    - {name: b, conversion: 1.7, mean_days: 20}\n",
        ["funnel.stages.1.conversion", "1.7"],
    ),
    ("negative-span", "extends: baseline\norganisation: {span: -3}\n", ["organisation.span", "-3"]),
    (
        "goal-weights",
        "extends: baseline\ngoals:\n  items:\n    - {metric: revenue, weight: 0.5}\n"
        "    - {metric: new_logos, weight: 0.2}\n",
        ["goals.items", "0.7"],
    ),
    (
        "segment-shares",
        "extends: baseline\nfunnel:\n  segments:\n    new_logo: {share: 0.5}\n    expansion: {share: 0.6}\n",
        ["funnel.segments", "1.1"],
    ),
    (
        "unknown-product",
        "extends: baseline\ngoals:\n  items:\n    - {metric: revenue, weight: 0.5}\n"
        "    - {metric: product_revenue, product: Z, weight: 0.5}\n",
        ["goals.items.1.product", "'Z'"],
    ),
    ("cadence", "extends: baseline\nreviews: {cadence: weekly}\n", ["reviews.cadence", "weekly", "monthly"]),
    ("unknown-top", "extends: baseline\ncolour: blue\n", ["colour", "unknown key", "organisation"]),
    (
        "unknown-nested",
        "extends: baseline\ncoaching: {hours: 3}\n",
        ["coaching.hours", "unknown key", "joint_call_hours_per_week"],
    ),
    ("not-yaml", "key: [unclosed\n", ["YAML", "line"]),
    ("yaml-list", "- organisation\n- span\n", ["mapping", "list"]),
    ("extends-missing", "extends: no_such_parent\n", ["extends", "no_such_parent"]),
]


def _write_bad(tmp_path: Path, case_id: str, text: str) -> Path:
    path = tmp_path / f"bad_{case_id}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("case_id", "text", "needles"), BAD_SCENARIOS, ids=[c[0] for c in BAD_SCENARIOS])
def test_bad_scenario_exits_2_and_writes_nothing(cli, tmp_path, case_id, text, needles):
    path = _write_bad(tmp_path, case_id, text)
    out = tmp_path / "out"
    res = cli("simulate", path, "--out", out)
    _assert_clean_error(res, path.name, *needles)
    assert not out.exists()
    assert _leftovers(tmp_path) == []
    assert res.stdout == ""


@pytest.mark.parametrize(("case_id", "text", "needles"), BAD_SCENARIOS, ids=[c[0] for c in BAD_SCENARIOS])
def test_bad_scenario_leaves_previous_result_byte_identical(
    cli, tmp_path, good_result, case_id, text, needles
):
    out = tmp_path / "out"
    shutil.copytree(good_result, out)
    before = _snapshot(out)
    path = _write_bad(tmp_path, case_id, text)
    res = cli("simulate", path, "--out", out, "--deals")
    _assert_clean_error(res, path.name, *needles)
    assert _snapshot(out) == before
    assert _leftovers(tmp_path) == []


def test_extends_cycle_exits_2(cli, tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b\n")
    (tmp_path / "b.yaml").write_text("extends: a\n")
    out = tmp_path / "out"
    res = cli("simulate", tmp_path / "a.yaml", "--out", out)
    _assert_clean_error(res, "a.yaml", "b.yaml", "cycle")
    assert not out.exists()


def test_missing_file_exits_2(cli, tmp_path):
    out = tmp_path / "out"
    res = cli("simulate", tmp_path / "nowhere.yaml", "--out", out)
    _assert_clean_error(res, "nowhere.yaml", "not found")
    assert not out.exists()


def test_binary_file_exits_2(cli, tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)) * 8)
    out = tmp_path / "out"
    res = cli("simulate", path, "--out", out)
    _assert_clean_error(res, "binary.yaml")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--replications", "0"], "replications"),
        (["--seed", "-1"], "seed"),
    ],
)
def test_bad_numbers_exit_2(cli, tmp_path, small_scenario_file, args, needle):
    out = tmp_path / "out"
    res = cli("simulate", small_scenario_file, *args, "--out", out)
    _assert_clean_error(res, needle)
    assert not out.exists()


def test_out_is_an_existing_regular_file(cli, tmp_path, small_scenario_file):
    target = tmp_path / "results.txt"
    target.write_text("precious\n")
    res = cli("simulate", small_scenario_file, "--replications", "1", "--out", target)
    _assert_clean_error(res, "results.txt", "not a directory")
    assert target.read_text() == "precious\n"
    assert _leftovers(tmp_path) == []


def test_out_below_an_existing_regular_file(cli, tmp_path, small_scenario_file):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder\n")
    res = cli("simulate", small_scenario_file, "--replications", "1", "--out", blocker / "run")
    _assert_clean_error(res, "blocker")
    assert blocker.read_text() == "not a folder\n"
    assert _leftovers(tmp_path) == []


def test_unknown_library_name_exits_2(cli):
    res = cli("plan", "basline")
    _assert_clean_error(res, "basline", "baseline")


# --------------------------------------------------------------------------------------------
# A good run: the output tables, the manifest, nothing left over
# --------------------------------------------------------------------------------------------


def test_contract_columns_match_the_documented_ones():
    assert _with_seed(_cols(DOCUMENTED_REPS)) == REP_COLUMNS
    assert _with_seed(_cols(DOCUMENTED_PERIODS)) == PERIOD_COLUMNS
    assert _cols(DOCUMENTED_DEALS) == DEAL_COLUMNS


def test_simulate_writes_the_tables_and_manifest(good_run):
    scen, out, res = good_run
    assert "Traceback" not in res.stderr
    assert {p.name for p in out.iterdir()} == TABLE_FILES | DEAL_FILES
    assert _leftovers(out.parent) == []

    reps = pd.read_parquet(out / "reps.parquet")
    periods = pd.read_parquet(out / "periods.parquet")
    deals = pd.read_parquet(out / "deals.parquet")
    deals_csv = pd.read_csv(out / "deals.csv")
    assert list(reps.columns) == REP_COLUMNS == _with_seed(_cols(DOCUMENTED_REPS))
    assert list(periods.columns) == PERIOD_COLUMNS == _with_seed(_cols(DOCUMENTED_PERIODS))
    assert list(deals.columns) == DEAL_COLUMNS == _cols(DOCUMENTED_DEALS)
    assert list(deals_csv.columns) == DEAL_COLUMNS

    sc = load_scenario(scen)
    for df in (reps, periods, deals):
        assert set(df["scenario"]) == {"small"}
        assert set(df["replication"]) == {0, 1}
    assert set(reps["seed"]) == {1} and set(periods["seed"]) == {1}
    assert set(periods["period"]) == {"Q1", "Q2", "Q3", "Q4", "year"}
    assert len(periods) == 2 * 5
    assert reps["rep_id"].nunique() >= sc.n_reps
    assert len(deals) > 0 and len(deals_csv) == len(deals)
    assert list(deals_csv["opportunity_id"]) == list(deals["opportunity_id"])

    meta = json.loads((out / "manifest.json").read_text())
    assert meta["seed"] == 1
    assert meta["replications"] == 2
    assert meta["salessim_version"] == salessim.__version__
    assert meta["scenario_hash"] == sc.hash
    resolved = load_scenario(yaml.safe_load(meta["scenario_yaml"]))
    assert resolved.hash == sc.hash and resolved.to_dict() == sc.to_dict()
    # the summary names the run on stdout
    assert "small" in res.stdout and str(out) in res.stdout


def test_simulate_without_deals_into_a_nested_new_directory(cli, tmp_path, small_scenario_file):
    out = tmp_path / "a" / "b" / "run"
    res = cli("simulate", small_scenario_file, "-r", "1", "--out", out)
    assert res.returncode == 0, res.stderr
    assert {p.name for p in out.iterdir()} == TABLE_FILES  # no deal log unless asked
    assert _leftovers(out.parent) == []


def test_rerun_over_a_previous_result_is_identical_and_clean(cli, tmp_path, good_run):
    scen, good, _ = good_run
    out = tmp_path / "run"
    shutil.copytree(good, out)
    # a file the user put into a result folder is theirs: the rerun refuses rather than delete it
    (out / "notes.txt").write_text("my notes on this run")
    res = cli("simulate", scen, *GOOD_ARGS, "--out", out)
    assert res.returncode == 2 and "notes.txt" in res.stderr and "Traceback" not in res.stderr
    assert (out / "notes.txt").read_text() == "my notes on this run"
    (out / "notes.txt").unlink()
    res = cli("simulate", scen, *GOOD_ARGS, "--out", out)
    assert res.returncode == 0, res.stderr
    # the directory is replaced as a whole, not merged into
    assert {p.name for p in out.iterdir()} == TABLE_FILES | DEAL_FILES
    for n in ("reps", "periods", "deals"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / f"{n}.parquet"), pd.read_parquet(good / f"{n}.parquet")
        )
    assert _leftovers(tmp_path) == []


def test_a_different_seed_gives_different_tables(cli, tmp_path, good_run):
    scen, good, _ = good_run
    out = tmp_path / "seed2"
    res = cli("simulate", scen, "--replications", "2", "--seed", "2", "--out", out)
    assert res.returncode == 0, res.stderr
    a = pd.read_parquet(good / "reps.parquet").drop(columns="seed")
    b = pd.read_parquet(out / "reps.parquet").drop(columns="seed")
    assert not a.equals(b)


def test_baseline_run_twice_gives_identical_tables(cli, tmp_path):
    """The issue's acceptance check, verbatim: baseline, 4 replications, seed 1, run twice."""
    frames = []
    for i in (1, 2):
        out = tmp_path / f"run{i}"
        res = cli(
            "simulate", "data/scenarios/baseline.yaml", "--replications", "4", "--seed", "1", "--out", out
        )
        assert res.returncode == 0, res.stderr
        assert {p.name for p in out.iterdir()} == TABLE_FILES
        frames.append({n: pd.read_parquet(out / f"{n}.parquet") for n in ("reps", "periods")})
        meta = json.loads((out / "manifest.json").read_text())
        assert (meta["seed"], meta["replications"]) == (1, 4)
        assert meta["scenario_hash"] == load_scenario("baseline").hash
    for n in ("reps", "periods"):
        assert list(frames[0][n].columns) == (REP_COLUMNS if n == "reps" else PERIOD_COLUMNS)
        assert set(frames[0][n]["replication"]) == {0, 1, 2, 3}
        pd.testing.assert_frame_equal(frames[0][n], frames[1][n])
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# plan and assumptions
# --------------------------------------------------------------------------------------------


def test_plan_baseline_prints_wins_and_new_opportunities(cli):
    res = cli("plan", "baseline")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "wins needed" in out and "new opportunities / week" in out
    p = plan("baseline")
    row = next(line for line in out.splitlines() if "wins needed" in line)
    numbers = [float(x.replace(",", "")) for x in re.findall(r"[\d,]+\.\d", row)]
    assert numbers[:3] == pytest.approx(
        [p.wins_per_year, p.wins_per_year * p.reps_per_team, p.wins_per_year * p.reps_per_team * p.teams],
        abs=0.051,
    )
    row = next(line for line in out.splitlines() if "new opportunities / week" in line)
    assert float(re.findall(r"[\d,]+\.\d", row)[0].replace(",", "")) == pytest.approx(
        p.new_per_week, abs=0.051
    )
    assert "Little" in out  # the benchmark pipeline table


def test_plan_of_a_file(cli, small_scenario_file):
    res = cli("plan", small_scenario_file)
    assert res.returncode == 0, res.stderr
    assert "small" in res.stdout


def test_assumptions_prints_the_register(cli):
    res = cli("assumptions")
    assert res.returncode == 0, res.stderr
    for name in ("reviews.cadence", "organisation.span", "crm.adoption", "assumption", "sourced"):
        assert name in res.stdout
    row = next(line for line in res.stdout.splitlines() if "reviews.cadence" in line)
    assert "annual" in row
