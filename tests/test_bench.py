"""``salessim bench``: the scaling section and the pool figure run and return their figures (tiny sizes)."""

from __future__ import annotations

import math

import pytest

from salessim.bench import ScalePoint, ScaleResult, _scaled, pool_replications, run_scaling
from salessim.scenario import load_scenario

TINY = {"extends": "baseline", "name": "tiny", "simulation": {"warmup_days": 30, "horizon_days": 60}}


def test_scaling_section_returns_a_point_per_size_with_its_figures():
    res = run_scaling((8, 24), seed=3, repeats=2, isolate=False, scenario=TINY)
    assert [p.reps for p in res.points] == [8, 24]
    assert not res.isolated
    for p in res.points:
        assert p.seconds > 0 and p.deals > 0
        assert p.years == pytest.approx(90 / 365)
        assert p.rss_peak_mb >= p.rss_before_mb > 0
        assert p.ms_per_rep_year == pytest.approx(p.seconds / (p.reps * p.years) * 1e3)
    # three times the teams meet about three times the deals (each seat its own deal stream)
    assert 2.0 < res.points[1].deals / res.points[0].deals < 4.5
    a, b = res.points
    assert res.linearity == pytest.approx((b.seconds / b.reps) / (a.seconds / a.reps))


def test_scaling_runs_each_size_in_a_fresh_process():
    res = run_scaling((8,), seed=3, repeats=1, isolate=True, scenario=TINY)
    assert res.isolated and res.points[0].reps == 8
    assert math.isfinite(res.points[0].rss_peak_mb) and res.points[0].rss_peak_mb > 0


def test_a_sales_force_is_scaled_in_whole_teams_of_its_span():
    sc = load_scenario("baseline")
    assert _scaled(sc, 4000).organisation.managers == 500
    assert _scaled(sc, 4000).organisation.span == sc.organisation.span
    assert _scaled(sc, 3).n_reps == sc.organisation.span  # at least one team


def test_linearity_is_cost_per_rep_at_the_largest_over_the_smallest():
    pts = (ScalePoint(80, 0.2, 1, 2.0, 1.0, 2.0), ScalePoint(4000, 15.0, 1, 2.0, 1.0, 2.0))
    assert ScaleResult(pts, True).linearity == pytest.approx((15.0 / 4000) / (0.2 / 80))


def test_pool_figure_times_the_replications_on_its_workers():
    secs, workers = pool_replications(2, seed=3, workers=1, scenario=TINY)
    assert workers == 1 and secs > 0
