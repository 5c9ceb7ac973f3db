"""Morris screening of the assumptions (``salessim sensitivity``): the design, the indices, the
scenarios of a design point, the cache, and the command end to end on a tiny sales force."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salessim import load_scenario
from salessim.cli import main
from salessim.scenario import Scenario, _walk, assumptions_register
from salessim.sensitivity import (
    DEFAULT_VARIANTS,
    RANGES,
    morris_design,
    morris_indices,
    plan,
    run_size,
    screening_ranges,
    sensitivity,
    variant_changes,
)

SMALL = {
    "extends": "baseline",
    "name": "small",
    "organisation": {"managers": 2, "span": 4},
    "simulation": {"warmup_days": 60, "horizon_days": 120},
}
#: read by the model only when goals.interwoven is on, and it is off in the baseline and every variant
INERT = "goals.interwoven_penalty"
ACTIVE = "organisation.quota"
TINY = {
    "replications": 2,
    "trajectories": 2,
    "parameters": [INERT, ACTIVE],
    "variants": ["goals_focused", "coaching_high"],
    "workers": 1,
}


# ------------------------------------------------------------------------------------------
# ranges and design
# ------------------------------------------------------------------------------------------
def test_every_assumption_is_screened_or_says_why():
    params, table = screening_ranges()
    rows = [r["parameter"] for r in assumptions_register() if r["kind"] == "assumption"]
    listed = set(table["parameter"])
    for name in rows:
        if name == "funnel.segments":  # screened through its parts (shares sum to 1)
            assert {"funnel.segments.new_logo.share", "funnel.segments.expansion.amount_factor"} <= listed
        else:
            assert name in listed, name
    skipped = table[~table["screened"]]
    assert (skipped["note"].str.len() > 0).all()
    for name in ("prescription.enabled", "coaching.targeting", "comp.cap", "simulation.horizon_days"):
        assert name in set(skipped["parameter"]), name
    assert len(params) == int(table["screened"].sum()) and len(params) > 50


def test_ranges_lie_inside_the_schema_and_keep_joint_constraints():
    params, _ = screening_ranges()
    fields = dict(_walk(Scenario, ""))
    for p in params:
        assert p.low < p.high, p
        if p.path in fields:
            for m in fields[p.path].metadata:
                for attr, ok in (
                    ("ge", p.low >= getattr(m, "ge", -math.inf)),
                    ("gt", p.low > getattr(m, "gt", -math.inf)),
                    ("le", p.high <= getattr(m, "le", math.inf)),
                    ("lt", p.high < getattr(m, "lt", math.inf)),
                ):
                    assert ok, (p.path, attr, p.low, p.high)
        if p.path not in RANGES:
            assert {p.low, p.high} & {p.default * 0.5, p.default * 1.5} or "clipped" in p.rule
    by = {p.path: p for p in params}
    assert by["managers.quality_trained"].low > by["managers.quality_untrained"].high
    assert "funnel.segments.expansion.share" not in by  # set by the new-logo share


@pytest.mark.parametrize("levels", [4, 6])
def test_design_covers_each_range_at_the_requested_levels(levels):
    params, _ = screening_ranges()
    names, bounds = [p.path for p in params], [(p.low, p.high) for p in params]
    X = morris_design(names, bounds, trajectories=20, levels=levels, seed=3)
    assert X.shape == (20 * (len(params) + 1), len(params))
    for j, (lo, hi) in enumerate(bounds):
        grid = lo + np.arange(levels) / (levels - 1) * (hi - lo)
        values = np.unique(X[:, j])
        assert np.allclose(np.sort(values), grid), (names[j], values, grid)
    # each step of a trajectory moves one parameter, by levels / (2 (levels − 1)) of its range
    width = np.array([hi - lo for lo, hi in bounds])
    k = len(params)
    for t in range(20):
        block = X[t * (k + 1) : (t + 1) * (k + 1)]
        moves = np.diff(block, axis=0) / width
        moved = ~np.isclose(moves, 0)
        assert (moved.sum(axis=1) == 1).all()
        assert np.allclose(np.abs(moves[moved]), levels / (2 * (levels - 1)))


def test_mu_star_finds_the_inert_and_the_active_input():
    names = ["active", "inert", "curved"]
    bounds = [(0.0, 2.0), (10.0, 20.0), (-1.0, 1.0)]
    X = morris_design(names, bounds, trajectories=10, levels=4, seed=1)
    Y = 3.0 * X[:, 0] + X[:, 2] ** 2
    ind = morris_indices(names, bounds, X, Y, levels=4, seed=1).set_index("parameter")
    # a linear input: every elementary effect is slope × range, so mu* = |mu| = 6 and sigma = 0
    assert ind.loc["active", "mu_star"] == pytest.approx(6.0)
    assert ind.loc["active", "sigma"] == pytest.approx(0.0, abs=1e-9)
    assert ind.loc["inert", "mu_star"] == 0.0 and ind.loc["inert", "mu_star_conf"] == 0.0
    # a curved input: effects of both signs, so sigma > 0 and |mu| < mu*
    assert ind.loc["curved", "sigma"] > 0
    assert abs(ind.loc["curved", "mu"]) < ind.loc["curved", "mu_star"]


# ------------------------------------------------------------------------------------------
# the scenarios of a design point
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DEFAULT_VARIANTS)
def test_a_variant_laid_over_the_library_baseline_is_the_variant(name):
    from salessim.scenario import deep_merge

    data = deep_merge(load_scenario("baseline").to_dict(), variant_changes(name))
    assert load_scenario(data).hash == load_scenario(name).hash
    assert variant_changes(name), f"{name} changes nothing"


def test_a_point_keeps_segment_shares_summing_to_one():
    from salessim.sensitivity import _point_scenario

    params, _ = screening_ranges()
    share = next(p for p in params if p.path == "funnel.segments.new_logo.share")
    sc = _point_scenario(Scenario().to_dict(), [share], np.array([share.high]), 0)
    seg = sc.funnel.segments
    assert seg["new_logo"].share == pytest.approx(share.high)
    assert seg["new_logo"].share + seg["expansion"].share == pytest.approx(1.0)


def test_bad_arguments_name_the_field_and_value():
    from salessim.executors import RunTooLarge
    from salessim.sensitivity import SensitivityError

    for kw, needle in (
        ({"levels": 3}, "levels"),
        ({"trajectories": 0}, "trajectories"),
        ({"variants": ["nope"]}, "'nope'"),
        ({"parameters": ["reps.nope"]}, "'reps.nope'"),
        ({"parameters": ["prescription.enabled"]}, "'prescription.enabled'"),
    ):
        with pytest.raises(SensitivityError, match=needle):
            plan(**kw)
    with pytest.raises(RunTooLarge, match="scenario-replications"):
        plan(trajectories=1, replications=100)
    assert plan(trajectories=1, replications=100, force=True).size > 20_000


# ------------------------------------------------------------------------------------------
# a tiny real screening: inert parameter, cache, command line
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sens-cache")


@pytest.fixture(scope="module")
def tiny(cache_dir):
    return sensitivity(SMALL, cache=cache_dir, **TINY)


@pytest.mark.slow
def test_a_parameter_only_a_disabled_feature_reads_has_no_effect(tiny):
    t = tiny.table.set_index(["parameter", "driver"])
    for driver in TINY["variants"]:
        assert t.loc[(INERT, driver), "mu_star"] == 0.0
        assert t.loc[(INERT, driver), "sigma"] == 0.0
    # quota moves the drivers' effects (it changes what every rep is chasing)
    assert max(t.loc[(ACTIVE, d), "mu_star"] for d in TINY["variants"]) > 0
    # the table's shape and the design
    assert set(tiny.table.columns) >= {
        "parameter",
        "driver",
        "mu_star",
        "mu_star_conf",
        "sigma",
        "low",
        "high",
        "noise_mu_star",
        "top_changes",
    }
    assert len(tiny.table) == 2 * len(TINY["variants"])
    assert len(tiny.design) == TINY["trajectories"] * 3
    assert set(tiny.effects["point"]) == {-1, *range(len(tiny.design))}
    assert tiny.effects["effect_se"].notna().all()  # two replications: a paired standard error


@pytest.mark.slow
def test_a_cache_hit_is_identical_and_a_changed_key_recomputes(tiny, cache_dir, monkeypatch):
    again = sensitivity(SMALL, cache=cache_dir, **TINY)
    assert again.meta["cached"] and not tiny.meta["cached"]
    for name in ("table", "parameters", "design", "effects"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(tiny, name))
    # another seed is another key
    other = sensitivity(SMALL, cache=cache_dir, **{**TINY, "seed": 2})
    assert not other.meta["cached"] and other.meta["key"] != tiny.meta["key"]
    # other code is another key (the runs themselves come from the batch cache)
    import salessim.sensitivity as sens

    monkeypatch.setattr(sens, "code_fingerprint", lambda: "0" * 20)
    changed = sensitivity(SMALL, cache=cache_dir, **TINY)
    assert not changed.meta["cached"] and changed.meta["key"] != tiny.meta["key"]
    pd.testing.assert_frame_equal(changed.table, tiny.table)  # same numbers, recomputed
    monkeypatch.undo()
    # a stored screening whose table was altered is not served
    stored = cache_dir / "sensitivity" / tiny.meta["key"] / "table.parquet"
    tiny.table.assign(mu_star=1.0).to_parquet(stored, index=False)
    fresh = sensitivity(SMALL, cache=cache_dir, **TINY)
    assert not fresh.meta["cached"]
    pd.testing.assert_frame_equal(fresh.table, tiny.table)


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--levels", "3"], ["levels", "'3'"]),
        (["--levels", "many"], ["levels", "'many'"]),
        (["--trajectories", "0"], ["trajectories", "'0'"]),
        (["--replications", "0"], ["replications", "'0'"]),
        (["--seed", "-1"], ["seed", "'-1'"]),
        (["--variants", "goals_focused,nope"], ["variants", "'nope'"]),
        (["--parameters", "reps.nope"], ["parameters", "'reps.nope'"]),
        (["--baseline", "missing.yaml"], ["missing.yaml"]),
        (["--trajectories", "100", "--replications", "100"], ["SIZE", "20,000", "--force"]),
    ],
)
def test_bad_input_exits_2_naming_it_and_writes_nothing(tmp_path, capsys, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    try:
        code = main(["sensitivity", *args, "--out", str(tmp_path / "res")])
    except SystemExit as e:  # argparse refuses types itself, with exit status 2
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    size = run_size(len(screening_ranges()[0]), len(DEFAULT_VARIANTS), 100, 100)
    for n in needles:
        n = f"{size:,} scenario-replications" if n == "SIZE" else n
        assert n in err, (n, err)
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_command_end_to_end(tmp_path, capsys, cache_dir, tiny, monkeypatch):
    base = tmp_path / "small.yaml"
    base.write_text(json.dumps(SMALL), encoding="utf-8")
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(cache_dir))
    out = tmp_path / "res"
    code = main(
        [
            "sensitivity",
            "--baseline",
            str(base),
            "-r",
            "2",
            "-t",
            "2",
            "-w",
            "1",
            "--parameters",
            f"{INERT},{ACTIVE}",
            "--variants",
            "goals_focused,coaching_high",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert {
        "sensitivity.parquet",
        "sensitivity.csv",
        "parameters.parquet",
        "parameters.csv",
        "design.parquet",
        "effects.parquet",
        "manifest.json",
    } <= {p.name for p in out.iterdir()}
    table = pd.read_parquet(out / "sensitivity.parquet")
    csv = pd.read_csv(out / "sensitivity.csv")
    assert list(csv.columns) == list(table.columns)
    assert csv["parameter"].tolist() == table["parameter"].tolist()
    np.testing.assert_allclose(csv["mu_star"], table["mu_star"])
    # the same screening as the library call (same inputs, same key: from the cache)
    pd.testing.assert_frame_equal(table, tiny.table)
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["command"] == "sensitivity" and meta["key"] == tiny.meta["key"]
    assert meta["trajectories"] == 2 and meta["replications"] == 2
    assert "coaching_high" in printed and ACTIVE in printed and "Run time" in printed


@pytest.mark.slow
def test_the_drivers_report_shows_a_screening_as_text_or_says_how_to_make_one(tmp_path, tiny, monkeypatch):
    from salessim.reports import run_report

    monkeypatch.setenv("SALESSIM_QUICK", "1")
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    params = {"replications": 1, "sensitivity_replications": 1, "workers": 1}
    # none yet: one sentence saying how to produce it
    page = run_report("drivers_overview", tmp_path / "a", params).html.read_text(encoding="utf-8")
    assert "Which assumptions the ranking hangs on" in page
    assert "salessim sensitivity --out reports/sensitivity" in page
    # a screening whose names carry markup: shown, as text
    hostile = "<img src=x onerror=alert(1)>"
    table = tiny.table.copy()
    table.loc[table["parameter"] == ACTIVE, "parameter"] = hostile
    folder = tmp_path / "b" / "sensitivity"
    folder.mkdir(parents=True)
    table.to_parquet(folder / "sensitivity.parquet", index=False)
    page = run_report("drivers_overview", tmp_path / "b", params).html.read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and hostile not in page
    assert "The three assumptions each driver" in page
    assert "salessim sensitivity --out reports/sensitivity" not in page


def test_a_design_point_that_breaks_a_joint_constraint_is_refused_before_running():
    from salessim.sensitivity import SensitivityError

    # admin 23 h + forecast up to 6 h do not fit a 28-hour manager week
    tight = {"extends": "baseline", "managers": {"hours_per_week": 28.0}}
    with pytest.raises(
        SensitivityError,
        match=r"design point \d+ is not a valid scenario "
        r"\(managers\.forecast_hours_per_week=6\)",
    ):
        plan(tight, parameters=["managers.forecast_hours_per_week"], trajectories=8)
