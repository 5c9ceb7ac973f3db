"""The hazard solve: its remembered results, and the settled sales force its pilots end with."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from salessim.model import INVOLUNTARY, SalesForce, hazard
from salessim.model.steady import Population
from salessim.scenario import load_scenario


@pytest.fixture(autouse=True)
def _no_shared_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests see the store they set up, not the test run's shared one (conftest)."""
    monkeypatch.delenv("SALESSIM_HAZARD_DIR", raising=False)


def _population() -> Population:
    rng = np.random.default_rng(3)
    table = np.column_stack(
        [
            rng.normal(size=20),
            rng.uniform(0, 2000, 20),
            np.where(rng.random(20) < 0.3, 365.0, np.nan),
            rng.uniform(0, 0.1, 20),
            rng.uniform(0, 1, 20),
            rng.integers(0, 3, 20),
            rng.uniform(0.3, 0.7, 20),
            rng.integers(0, 3, 20),
            rng.normal(0, 0.3, (20, 3)),
        ]
    )
    pop = Population.of(table)
    assert pop is not None
    return pop


def test_a_remembered_solve_comes_back_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "hazard-x.json"
    pop = _population()
    hazard._remember(path, 0.0512, pop)
    scale, back = hazard._remembered(path)  # type: ignore[misc]
    assert scale == 0.0512 and back is not None
    assert len(back.rows) == len(pop.rows)
    for a, b in zip(back.rows, pop.rows, strict=True):
        assert np.allclose(a, b, equal_nan=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_nothing_is_remembered_outside_an_existing_cache_directory(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "hazard-x.json"
    hazard._remember(path, 0.05, _population())
    assert not path.parent.exists()


@pytest.mark.parametrize(
    "content",
    [
        {"scale": -1.0, "population": None},
        {"scale": float("nan"), "population": None},
        {"scale": 0.05, "population": [[0.1, 2.0, 3.0]]},  # too few columns
        {"scale": 0.05, "population": [[float("nan"), 2.0, 3.0, 0.0, 0.0, 0.0, 0.5]]},  # NaN skill
        {"scale": 0.05, "population": "rows"},
        {"scale": 0.05},
        {"scale": 1},
    ],
)
def test_a_damaged_remembered_solve_is_ignored(tmp_path: Path, content: dict) -> None:
    path = tmp_path / "hazard-x.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    assert hazard._remembered(path) is None


def test_a_symlinked_remembered_solve_is_ignored(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.json"
    hazard._remember(real, 0.05, None)
    assert hazard._remembered(real) == (0.05, None)
    link = tmp_path / "hazard-x.json"
    os.symlink(real, link)
    assert hazard._remembered(link) is None


def test_population_draws_rank_by_skill() -> None:
    pop = _population()
    z = [pop.draw(u)[0] for u in np.linspace(0, 1, 101)]
    assert z == sorted(z)
    assert pop.draw(0.0) == pop.rows[0] and pop.draw(1.0) == pop.rows[-1]
    assert Population.of(np.zeros((0, Population.COLUMNS))) is None


def test_a_pilot_lets_go_at_its_last_review_so_its_end_is_a_start() -> None:
    """A pilot run decides its last formal review in full (an ordinary run stops before it acts), so
    the reps it ends with are the ones a sales force holds between reviews."""
    twin = hazard.baseline_policy(load_scenario("baseline"))
    scale = 0.05
    at_end = {}
    for pilot in (True, False):
        fired = 0
        for r in range(3):
            sf = SalesForce(twin, 0, r, hazard_scale=scale)
            sf.keep_multipliers = pilot
            sf.run()
            fired += sum(
                1
                for t, k in zip(sf.p_leave, sf.p_exit, strict=True)
                if k == INVOLUNTARY and math.isclose(t, sf.T)
            )
        at_end[pilot] = fired
    assert at_end[False] == 0 and at_end[True] > 0, at_end


def test_the_solve_is_deterministic_and_gives_a_settled_population() -> None:
    hazard._solve.cache_clear()
    a = hazard.solve(load_scenario("baseline"))
    hazard._solve.cache_clear()
    b = hazard.solve(load_scenario("baseline"))
    assert a[0] == b[0] and a[1] is not None and b[1] is not None
    assert np.array_equal(np.array(a[1].rows), np.array(b[1].rows), equal_nan=True)
    assert len(a[1].rows) > 500


def test_a_search_settles_each_candidate_from_the_last_without_remembering_it(monkeypatch) -> None:
    """Inside ``settling_from_the_last`` the first twin gets the full solve and a later one a
    single last-size round from it; that approximation is never remembered, and outside the
    block the full solve is back."""
    monkeypatch.setenv("SALESSIM_CACHE_DIR", "/nonexistent/salessim-cache")  # nothing on disk
    first = load_scenario("baseline")
    second = first.replace(**{"attrition.voluntary_annual": first.attrition.voluntary_annual + 0.04})
    rounds: list[int] = []
    real_pilot = hazard._pilot

    def counted(twin, scale, replications, population):  # type: ignore[no-untyped-def]
        rounds.append(replications)
        return real_pilot(twin, scale, replications, population)

    monkeypatch.setattr(hazard, "_pilot", counted)
    hazard._solve.cache_clear()
    with hazard.settling_from_the_last():
        a = hazard.solve(first)
        assert rounds == list(hazard.PILOT_REPLICATIONS)  # the first candidate: the full solve
        near = hazard.solve(second)
        assert rounds[len(hazard.PILOT_REPLICATIONS) :] == [hazard.PILOT_REPLICATIONS[-1]]
        assert hazard.solve(second) is near  # one solve per candidate, whatever its replications
    assert hazard._solve.cache_info().currsize == 1  # only the full solve is remembered
    rounds.clear()
    full = hazard.solve(second)
    assert rounds == list(hazard.PILOT_REPLICATIONS)  # outside the block: the full solve again
    assert hazard.solve(first) == a
    # a higher voluntary target needs a higher scale, and settling from the last finds it
    assert near[0] > a[0] and full[0] > a[0]
    assert near[0] != full[0] and near[1] is not None and len(near[1].rows) > 500


def test_a_hazard_dir_keeps_the_solves_for_runs_with_other_caches(tmp_path: Path, monkeypatch) -> None:
    """``SALESSIM_HAZARD_DIR`` names where solves are kept, whatever the result cache: a solve
    stored there by one run is read back by another, with nothing written to either cache."""
    store = tmp_path / "hazards"
    store.mkdir()
    monkeypatch.setenv("SALESSIM_HAZARD_DIR", str(store))
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache-a"))
    sc = load_scenario("baseline").replace(**{"organisation.managers": 2, "organisation.span": 4})
    hazard._solve.cache_clear()
    first = hazard.solve(sc)
    kept = list(store.glob("hazard-*.json"))
    assert len(kept) == 1 and not (tmp_path / "cache-a").exists()
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache-b"))
    hazard._solve.cache_clear()
    monkeypatch.setattr(hazard, "_pilot", lambda *a: pytest.fail("solved again instead of read"))
    again = hazard.solve(sc)
    assert again[0] == first[0] and first[1] is not None and again[1] is not None
    assert np.array_equal(np.array(again[1].rows), np.array(first[1].rows), equal_nan=True)
    assert not (tmp_path / "cache-b").exists()
