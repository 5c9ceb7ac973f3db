"""Bad input for the rep's week, the territory, motivation, pay and the leaving hazard: exit 2
naming the file, the field and the value, with no traceback and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from salessim.cli import main

BAD = [
    ("reps: {hours_per_week: -10}\n", "reps.hours_per_week", "-10"),
    ("reps: {hours_per_week: 0}\n", "reps.hours_per_week", "0"),
    ("reps: {hours_per_week: 100}\n", "reps.hours_per_week", "100"),
    ("reps: {non_selling_share: 1.2}\n", "reps.non_selling_share", "1.2"),
    ("crm: {minutes_per_update: -1}\n", "crm.minutes_per_update", "-1"),
    ("reps: {crm_minutes_per_update: 6}\n", "reps.crm_minutes_per_update", "6"),
    ("reps: {overload_penalty: .inf}\n", "reps.overload_penalty", "inf"),
    ("reps: {deal_priority: whatever}\n", "reps.deal_priority", "whatever"),
    ("reps: {max_extra_hours: -2}\n", "reps.max_extra_hours", "-2"),
    ("reps: {burnout_weeks: 0}\n", "reps.burnout_weeks", "0"),
    ("reps: {comfortable_load: 24}\n", "reps.comfortable_load", "hours_per_week"),
    ("territory: {accounts: 0}\n", "territory.accounts", "0"),
    ("territory: {accounts: 2.5}\n", "territory.accounts", "2.5"),
    ("territory: {contacts_per_hour: -3}\n", "territory.contacts_per_hour", "-3"),
    ("territory: {opportunity_rate: 1.0}\n", "territory.opportunity_rate", "1.0"),
    ("territory: {requalify_days: 0}\n", "territory.requalify_days", "0"),
    ("territory: {inbound_per_week: -1}\n", "territory.inbound_per_week", "-1"),
    ("territory: {inbound_per_week: lots}\n", "territory.inbound_per_week", "lots"),
    ("motivation: {give_up_below: 2}\n", "motivation.give_up_below", "2"),
    ("motivation: {estimate_noise: -0.5}\n", "motivation.estimate_noise", "-0.5"),
    ("motivation: {behind_exit_factor: 0.5}\n", "motivation.behind_exit_factor", "0.5"),
    ("comp: {accelerator: 0.8}\n", "comp.accelerator", "0.8"),
    ("comp: {cap: 0.5}\n", "comp.cap", "0.5"),
    ("comp: {commission_rate: -0.1}\n", "comp.commission_rate", "-0.1"),
    ("comp: {quarterly_bonus: -100}\n", "comp.quarterly_bonus", "-100"),
    ("comp: {pull_forward_discount: 1.5}\n", "comp.pull_forward_discount", "1.5"),
    ("comp: {period_end_days: 100}\n", "comp.period_end_days", "100"),
    ("attrition: {early_tenure_factor: -1}\n", "attrition.early_tenure_factor", "-1"),
    ("attrition: {burnout_sensitivity: true}\n", "attrition.burnout_sensitivity", "True"),
    (
        "funnel: {stages: [{name: a, conversion: 0.5, mean_days: 10, work_hours: -1}]}\n",
        "funnel.stages.0.work_hours",
        "-1",
    ),
    ("simulation: {mode: sometimes}\n", "simulation.mode", "sometimes"),
]


@pytest.mark.parametrize(("body", "field", "value"), BAD, ids=[b[1] + ":" + b[2][:12] for b in BAD])
def test_bad_rep_time_input_exits_2_naming_file_field_and_value(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    field: str,
    value: str,
) -> None:
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "bad_week.yaml"
    path.write_text("extends: baseline\n" + body, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["simulate", str(path), "-r", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    flat = " ".join(err.split())
    assert "bad_week.yaml" in flat
    assert f"`{field}`" in flat
    assert value in flat
    assert not out.exists()
