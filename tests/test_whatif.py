"""The what-if: levers applied to a baseline, paired answers, a session that remembers, the widgets,
and the ``what_if`` notebook run headless with two different settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from salessim.scenario import ScenarioError, load_scenario
from salessim.whatif import (
    LEVERS,
    WhatIfSession,
    apply_levers,
    changed_settings,
    lever_values,
    parse_settings,
    what_if,
)

REPO = Path(__file__).resolve().parent.parent
TINY = {
    "extends": "baseline",
    "name": "tiny",
    "organisation": {"managers": 1, "span": 4},
    "simulation": {"warmup_days": 30, "horizon_days": 90},
}


def tiny():
    return load_scenario(dict(TINY))


def test_every_lever_names_a_field_of_the_scenario() -> None:
    base = load_scenario("baseline")
    values = lever_values(base)
    assert set(values) == {lv.path for lv in LEVERS}
    drivers = {lv.driver for lv in LEVERS}
    assert {f"{i} " for i in range(1, 9)} <= {d[:2] for d in drivers}  # all eight drivers
    assert {"quota", "headcount", "territory"} <= drivers
    # every lever's baseline value is a legal setting: applying all of them changes nothing
    assert apply_levers(base, values).hash == base.hash


def test_levers_change_exactly_their_fields() -> None:
    base = load_scenario("baseline")
    v = apply_levers(
        base,
        {
            "coaching.joint_call_hours_per_week": 8,
            "reviews.cadence": "monthly",
            "organisation.span": 6,
            "prescription.enabled": True,
        },
    )
    assert v.coaching.joint_call_hours_per_week == 8.0
    assert v.reviews.cadence == "monthly" and v.organisation.span == 6 and v.prescription.enabled
    assert v.crm == base.crm and v.goals == base.goals
    focused = apply_levers(base, {"goals": "two focused goals"})
    assert focused.goals == load_scenario("goals_focused").goals != base.goals


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"coaching.joint_call_hours": 8}, "is not a lever"),
        ({"crm.adoption": 1.5}, "crm.adoption"),
        ({"crm.adoption": float("nan")}, "crm.adoption"),
        ({"reviews.cadence": "weekly"}, "one of annual"),
        ({"prescription.enabled": "yes"}, "true or false"),
        ({"organisation.managers": 2.5}, "organisation.managers"),
        ({"goals": "three goals"}, "one of as is"),
    ],
)
def test_bad_settings_are_refused_naming_lever_and_value(settings, named) -> None:
    with pytest.raises(ScenarioError, match=named):
        apply_levers(load_scenario("baseline"), settings)


def test_settings_parse_from_yaml_and_only_changes_are_kept() -> None:
    assert parse_settings("") == {}
    s = parse_settings("coaching.joint_call_hours_per_week: 8\nreviews.cadence: annual\n")
    assert s == {"coaching.joint_call_hours_per_week": 8, "reviews.cadence": "annual"}
    assert changed_settings(load_scenario("baseline"), s) == {"coaching.joint_call_hours_per_week": 8}
    with pytest.raises(ScenarioError, match="mapping"):
        parse_settings("- a list")


def test_answer_is_the_paired_comparison(tmp_path: Path) -> None:
    from salessim.experiments import compare

    base = tiny()
    a = what_if(
        base, {"coaching.joint_call_hours_per_week": 12}, replications=3, seed=5, workers=1, cache=False
    )
    assert a.changed and a.variant.coaching.joint_call_hours_per_week == 12
    comp = compare([base, a.variant], replications=3, seed=5, workers=1, cache=False)
    s = comp.summary[
        (comp.summary["scenario"] == a.variant.name) & (comp.summary["metric"] == "revenue")
    ].iloc[0]
    row = a.table.set_index("metric").loc["revenue"]
    assert row["difference"] == pytest.approx(s["diff"])
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((s["diff_ci_low"], s["diff_ci_high"]))
    # the distributions are the per-replication values of both arms, paired
    d = a.distributions[a.distributions["metric"] == "revenue"]
    wide = d.pivot(index="replication", columns="arm", values="value")
    assert len(wide) == 3
    assert (wide["what if"] - wide["baseline"]).mean() == pytest.approx(row["difference"])


def test_no_change_runs_the_baseline_alone_and_says_so() -> None:
    a = what_if(tiny(), {}, replications=2, seed=1, workers=1, cache=False)
    assert not a.changed
    assert (a.table["difference"] == 0).all()
    assert set(a.comparison.results.periods["scenario"]) == {"tiny"}


def test_session_remembers_answers() -> None:
    with WhatIfSession(tiny(), replications=2, seed=2, workers=1, cache=False) as s:
        first = s.ask({"reviews.cadence": "quarterly"})
        assert s.ask({"reviews.cadence": "quarterly"}) is first
        other = s.ask({"reviews.cadence": "monthly"})
        assert other is not first
        assert other.variant.hash != first.variant.hash


def test_widgets_have_a_control_per_lever_and_a_change_reruns() -> None:
    pytest.importorskip("ipywidgets")
    from salessim.whatif import what_if_widgets

    with WhatIfSession(tiny(), replications=2, seed=2, workers=1, cache=False) as s:
        box = what_if_widgets(s)
        controls = [
            c for c in box.children if hasattr(c, "value") and hasattr(c, "description") and c.description
        ]
        assert len(controls) == len(LEVERS)
        assert len(s._answers) == 1  # the first draw: the baseline as is
        hours = next(c for c in controls if "joint-call hours" in c.description)
        hours.value = 10.0
        assert len(s._answers) == 2
        status = next(c for c in box.children if "answered in" in str(getattr(c, "value", "")))
        assert "2 paired simulated years" in status.value


@pytest.mark.slow
def test_notebook_headless_with_two_settings_writes_two_different_answers(tmp_path: Path) -> None:
    """papermill runs what_if.ipynb with two lever settings: two different paired differences."""
    env = {**os.environ, "SALESSIM_QUICK": "1", "SALESSIM_CACHE_DIR": str(tmp_path / "cache")}
    answers = {}
    for i, change in enumerate(
        ["coaching.joint_call_hours_per_week: 0", "coaching.joint_call_hours_per_week: 12"]
    ):
        out = tmp_path / f"out{i}"
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "papermill",
                str(REPO / "notebooks" / "what_if.ipynb"),
                str(tmp_path / f"run{i}.ipynb"),
                "-k",
                "salessim",
                "--cwd",
                str(tmp_path),
                "-p",
                "changes",
                change,
                "-p",
                "output_dir",
                str(out),
                "-p",
                "interactive",
                "False",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert r.returncode == 0, r.stderr[-3000:]
        table = pd.read_csv(out / "what_if.csv")
        assert pd.api.types.is_float_dtype(table["difference"])  # numbers, not text
        findings = json.loads((out / "findings.json").read_text())
        assert findings["report"] == "what_if" and findings["findings"]
        answers[change] = table.set_index("metric")["difference"]
    a, b = answers.values()
    assert a["revenue"] != b["revenue"]
    assert (a - b).abs().sum() > 0
