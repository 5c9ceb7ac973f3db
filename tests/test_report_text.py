"""Report text that claims a direction only when the data support it, and the quick-run banner.

A sentence states a direction (raised, fewer, sooner) only when the 95 % confidence interval of
the paired difference excludes zero; otherwise it says the difference is not distinguishable from
zero with these replications, with the interval, or that the replications cannot tell. A report
run with fewer replications than its notebook's default says so at the top of the page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from salessim import reports
from salessim.notebook_helpers import Effect, direction_sentence, fmt_days, paired, wrap_title
from salessim.reports import active_content, export_html, quick_run_banner, with_banner

REPO = Path(__file__).resolve().parent.parent
NBSP = "\u00a0"
N = 16  # replications of the seeded examples


def frame(base: np.ndarray, variant: np.ndarray) -> pd.DataFrame:
    """``scenario``, ``replication``, ``revenue`` rows of a baseline and a variant, paired."""
    reps = np.arange(base.size)
    return pd.concat(
        [
            pd.DataFrame({"scenario": "today", "replication": reps, "revenue": base}),
            pd.DataFrame({"scenario": "change", "replication": reps, "revenue": variant}),
        ]
    )


def seeded(shift: float, seed: int = 2026) -> Effect:
    """A paired relative effect of ``shift`` with per-replication noise of 1 % (sd)."""
    rng = np.random.default_rng(seed)
    base = 1e6 * (1 + 0.1 * rng.standard_normal(N))
    noise = 0.01 * rng.standard_normal(N)
    if shift == 0.0:
        noise -= noise.mean()  # the mean difference is exactly zero: its CI must include zero
    return paired(frame(base, base * (1 + shift + noise)), "revenue", "today", "change")


UP, DOWN, FLAT = "Gaps were found sooner", "Gaps were found later", "Gaps were not found sooner"


# ------------------------------------------------------------------------------------------
# direction: only when the CI excludes zero
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shift", "direction", "sentence", "verb"), [(0.05, 1, UP, "raised"), (-0.05, -1, DOWN, "lowered")]
)
def test_a_clear_effect_states_its_direction(shift, direction, sentence, verb):
    e = seeded(shift)
    # 5 % against a standard error of about 1 % / sqrt(16) = 0.25 %: the CI is far from zero
    assert e.n == N and (e.low > 0 if direction > 0 else e.high < 0)
    assert e.direction == direction
    assert direction_sentence(e, UP, DOWN, FLAT) == sentence
    text = e.phrase("team revenue")
    assert text.startswith(f"{verb} team revenue by 5.")
    assert "95" + NBSP + "% CI" in text and "distinguishable" not in text


def test_an_effect_whose_interval_includes_zero_states_no_direction():
    e = seeded(0.0)
    assert e.low < 0 < e.high and e.direction == 0
    sentence = direction_sentence(e, UP, DOWN, FLAT)
    assert sentence.startswith(FLAT + ": the difference (")
    assert f"is not distinguishable from zero with {N} replications" in sentence
    assert e.ci() in sentence  # the interval itself is given
    assert UP not in sentence and DOWN not in sentence
    # without a text of its own: the reason alone, as a sentence
    alone = direction_sentence(e, UP, DOWN)
    assert alone.startswith("The difference (") and alone.endswith(f"with {N} replications")
    # in chart titles the interval is left out (the chart shows it)
    short = direction_sentence(e, UP, DOWN, FLAT, interval=False)
    assert short == f"{FLAT}: the difference is not distinguishable from zero with {N} replications"
    text = e.phrase("team revenue")
    assert text.startswith(f"did not change team revenue distinguishably from zero with {N} replications (")
    assert "raised" not in text and "lowered" not in text and e.ci() in text


def test_a_small_effect_with_few_replications_is_not_called_a_direction():
    # the same 5 % shift, now buried in 20 % noise with three replications: no direction
    rng = np.random.default_rng(7)
    base = 1e6 * np.ones(3)
    e = paired(frame(base, base * (1.05 + 0.2 * rng.standard_normal(3))), "revenue", "today", "change")
    assert e.low < 0 < e.high, "precondition: this seed's interval includes zero"
    assert e.direction == 0 and not e.clear
    assert "with 3 replications" in direction_sentence(e, UP, DOWN, FLAT)


def test_one_replication_cannot_tell_a_direction():
    base = np.array([1e6])
    e = paired(frame(base, 1.3 * base), "revenue", "today", "change")
    assert e.n == 1 and not np.isfinite(e.low)
    assert e.direction is None
    sentence = direction_sentence(e, UP, DOWN, FLAT)
    assert (
        sentence == f"{FLAT}: the difference (+30.0{NBSP}%) comes from 1 replication, too few to tell "
        "a direction"
    )
    assert (
        direction_sentence(e, UP, DOWN, FLAT, interval=False)
        == f"{FLAT}: 1 replication cannot tell a direction"
    )
    assert e.phrase("team revenue") == (
        f"changed team revenue by +30.0{NBSP}% in 1 replication, too few to tell a direction"
    )


def test_no_data_cannot_tell_a_direction():
    base = np.array([1e6, 1.1e6, 0.9e6])
    e = paired(frame(base, np.full(3, np.nan)), "revenue", "today", "change")
    assert e.n == 0 and e.direction is None
    assert (
        direction_sentence(e, UP, DOWN, FLAT)
        == f"{FLAT}: no replication had the data to measure the difference"
    )
    assert e.phrase("team revenue") == "could not be measured for team revenue (no replication had the data)"
    assert e.phrase() == "could not be measured (no replication had the data)"


def test_a_zero_width_effect_is_not_a_direction():
    # "today against today": mean, low and high all zero
    assert Effect(0.0, 0.0, 0.0, 8).direction == 0


def test_days_and_points_read_in_their_units():
    lag = Effect(-12.0, -30.0, 6.0, 4, "days")
    assert lag.direction == 0
    assert direction_sentence(lag, UP, DOWN, FLAT) == (
        f"{FLAT}: the difference (−12{NBSP}days; 95{NBSP}% CI −30 to +6{NBSP}days) is not "
        "distinguishable from zero with 4 replications"
    )
    assert (
        Effect(-20.0, -30.0, -10.0, 4, "days").phrase("the lag", "lengthened", "shortened")
        == f"shortened the lag by 20{NBSP}days (95{NBSP}% CI 10 to 30{NBSP}days)"
    )
    pts = Effect(0.02, -0.01, 0.05, 5, "pts")
    assert pts.phrase("", "rose", "fell").startswith(
        f"did not change distinguishably from zero with 5 replications (+2.0{NBSP}points;"
    )
    assert fmt_days(1.2) == f"1{NBSP}day" and fmt_days(-1.0, signed=True) == f"−1{NBSP}day"


def test_long_titles_wrap():
    title = wrap_title("word " * 40, 50)
    assert all(len(line) <= 50 for line in title.splitlines()) and title.count("\n") >= 3
    assert wrap_title("short") == "short"
    kept = wrap_title("x" * 46 + " 20 % of reps", 50)
    assert kept.splitlines()[-1].startswith("20" + NBSP + "%")


# ------------------------------------------------------------------------------------------
# the notebooks: the claims the model contradicted are gone, and findings follow the data
# ------------------------------------------------------------------------------------------
def _source(name: str) -> str:
    nb = nbformat.read(str(REPO / "notebooks" / f"{name}.ipynb"), as_version=4)
    return "\n".join(c.source for c in nb.cells)


def test_the_contradicted_claims_are_gone():
    every = "\n".join(_source(n) for n in reports.REPORTS)
    assert "mostly open fewer" not in every
    assert "spots gaps" not in every and "spot gaps sooner" not in every
    assert "so they can be combined" not in every
    assert "multiplies what joint calls" not in every


# ------------------------------------------------------------------------------------------
# the quick-run banner
# ------------------------------------------------------------------------------------------
def _page() -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A report\n\nFindings below.")]
    nb.metadata["kernelspec"] = {"name": "salessim", "display_name": "salessim", "language": "python"}
    return export_html(nb, title="A report")


def test_a_run_below_the_default_replications_carries_the_banner():
    banner = quick_run_banner(4, 32)
    assert "Quick run: 4 replications instead of the default 32" in banner
    assert "not for decisions" in banner
    assert "salessim-quick-run" in banner and "position:sticky" in banner
    assert quick_run_banner(1, 32).count("1 replication instead") == 1
    page = with_banner(_page(), banner)
    body = page[page.index("<body") :]
    assert body.index("salessim-quick-run") < body.index("A report") < body.index("Findings below")
    assert active_content(page) == ""


@pytest.mark.parametrize(("used", "default"), [(32, 32), (40, 32), (None, 32), (4, None), (True, 32)])
def test_no_banner_at_or_above_the_default_or_when_unknown(used, default):
    assert quick_run_banner(used, default) == ""
    page = _page()
    assert with_banner(page, quick_run_banner(used, default)) == page


def test_the_banner_reads_the_replications_the_report_ran_with(tmp_path):
    # a quick-mode run records fewer replications than it was given: that number counts
    (tmp_path / "findings.json").write_text(json.dumps({"metadata": {"replications": 2}}))
    assert reports._replications_used(tmp_path, {"replications": 32}, 32) == 2
    assert reports._replications_used(tmp_path / "none", {"replications": 5}, 32) == 5
    assert reports._replications_used(tmp_path / "none", {}, 32) == 32


@pytest.mark.slow
def test_a_real_quick_build_shows_the_banner_and_one_at_the_default_does_not(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SALESSIM_QUICK", raising=False)
    out = tmp_path / "out"
    run = reports.run_report("pipeline_benchmark", out, {"replications": 2})
    page = run.html.read_text(encoding="utf-8")
    default = reports.notebook_parameters("pipeline_benchmark")["replications"]["default"]
    assert page.count(f"Quick run: 2 replications instead of the default {default}") == 1
    assert page.index("salessim-quick-run") < page.index(">Findings<")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f"Quick run: 2 replications instead of the default {default}" in index

    # the self-planning sentence says what the simulation measured
    findings = json.loads((out / "pipeline_benchmark" / "findings.json").read_text())
    first = next(f for f in findings["findings"] if f["id"] == "prescription")
    e = first["self_planned_opportunities"]
    said = re.search(r"Reps who plan for themselves open (more|fewer|about as many)", first["text"])
    assert said is not None, first["text"]
    expect = (
        "more"
        if e["low"] is not None and e["low"] > 0
        else ("fewer" if e["high"] is not None and e["high"] < 0 else "about as many")
    )
    assert said.group(1) == expect

    # the same build with 2 as the notebook's default: no banner
    real = reports.notebook_parameters

    def two_by_default(name: str) -> dict:
        spec = real(name)
        spec["replications"] = {**spec["replications"], "default": 2}
        return spec

    monkeypatch.setattr(reports, "notebook_parameters", two_by_default)
    run = reports.run_report("pipeline_benchmark", tmp_path / "default", {"replications": 2})
    page = run.html.read_text(encoding="utf-8")
    assert "salessim-quick-run" not in page and "Quick run" not in page
    assert "Quick run" not in (tmp_path / "default" / "index.html").read_text(encoding="utf-8")
