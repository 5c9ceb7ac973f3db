"""The model reproduces its golden results bit for bit: every table, event count and record array.

The golden files (``tests/golden/``) were written by ``python -m tests.golden.regenerate`` from the
model as it stood before its code was reorganised; a reorganisation that changes no behaviour —
not even the order of random draws — leaves every value here identical.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from salessim.simulate import simulate


def _load_regenerate() -> ModuleType:
    path = Path(__file__).resolve().parent / "golden" / "regenerate.py"
    spec = importlib.util.spec_from_file_location("_golden_regenerate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


golden = _load_regenerate()


@pytest.fixture(scope="module")
def stored() -> tuple[dict[str, pd.DataFrame], dict]:
    return golden.load()


def _part(df: pd.DataFrame, name: str) -> pd.DataFrame:
    return df[df["golden"] == name].reset_index(drop=True)


@pytest.mark.parametrize("name", list(golden.SCENARIOS))
def test_tables_events_and_record_are_unchanged(name: str, stored) -> None:
    """Every column of reps, periods and deals, the event count and every record array match."""
    frames, meta = stored
    assert meta["seed"] == golden.SEED and meta["replications"] == golden.REPLICATIONS
    new, new_meta = golden.compute(name)
    for t in golden.TABLES:
        old = _part(frames[t], name)
        assert len(old) > 0, f"{name}: no golden {t} rows"
        assert_frame_equal(new[t], old, check_exact=True, obj=f"{name} {t}")
    old_meta = meta["scenarios"][name]
    assert [m["events"] for m in new_meta] == [m["events"] for m in old_meta], name
    for new_r, old_r in zip(new_meta, old_meta, strict=True):
        changed = sorted(k for k in old_r["record"] if new_r["record"].get(k) != old_r["record"][k])
        assert not changed, f"{name} replication {old_r['replication']}: changed {changed}"
        assert new_r["record"].keys() == old_r["record"].keys()


def test_simulate_gives_the_golden_tables(stored) -> None:
    """The public entry point returns the same rows and event total as the replications one by one."""
    frames, meta = stored
    sc = golden.scenario("baseline")
    res = simulate(sc, replications=golden.REPLICATIONS, seed=golden.SEED, deals=True)
    assert res.meta["events"] == sum(m["events"] for m in meta["scenarios"]["baseline"])
    assert_frame_equal(res.reps, _part(frames["reps"], "baseline").drop(columns="golden"),
                       check_exact=True)
    assert_frame_equal(res.periods, _part(frames["periods"], "baseline").drop(columns="golden"),
                       check_exact=True)
    deals = res.deals
    assert deals is not None
    first = deals[deals["replication"].isin(golden.DEAL_REPLICATIONS)].reset_index(drop=True)
    assert_frame_equal(first, _part(frames["deals"], "baseline").drop(columns="golden"),
                       check_exact=True)
