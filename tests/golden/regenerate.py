"""Compute, and on request rewrite, the golden results the model must reproduce bit for bit.

A handful of scenarios covering every policy branch (coaching targeting, metric views, review
cadence, prescription, promotion, interwoven goals) are run for two replications with a fixed seed,
and their ``reps``, ``periods`` and ``deals`` tables, event counts and a SHA-256 digest of every
array the replication leaves behind are stored next to this file (the ``deals`` log of the first
replication only, to keep the files small: the digests cover every deal of both). ``tests/test_golden.py``
compares a fresh run with them exactly.

Rewrite them (only when a change of the model's behaviour is intended) with::

    python -m tests.golden.regenerate
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salessim.funnel import plan
from salessim.model import ReplicationRecord, SalesForce
from salessim.results import tables
from salessim.scenario import Scenario, load_scenario

HERE = Path(__file__).resolve().parent
SEED = 20261127
REPLICATIONS = 2
TABLES = ("reps", "periods", "deals")
DEAL_REPLICATIONS = (0,)  # replications whose deal log is stored
#: a smaller sales force for the variants that only exist to reach other policy branches
SMALL = {"organisation.managers": 4, "organisation.span": 6}

#: name → (library scenario, overrides)
SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("baseline", {}),
    "coaching_high": ("coaching_high", {}),
    "reviews_monthly": ("reviews_monthly", {}),
    "prescription": ("prescription", {}),
    "best_practice": ("best_practice", {}),
    "round_robin_pipeline": ("baseline", {
        **SMALL, "coaching.targeting": "round_robin", "metrics": "pipeline",
        "reviews.cadence": "quarterly", "managers.promotion": True, "goals.interwoven": True}),
    "top_performers_semiannual": ("goals_many", {
        **SMALL, "coaching.targeting": "top_performers", "metrics": "pipeline",
        "reviews.cadence": "semiannual", "managers.unified_approach": True}),
    "coaching_none": ("coaching_none", SMALL),
}


def scenario(name: str) -> Scenario:
    """The scenario stored under ``name``."""
    base, overrides = SCENARIOS[name]
    sc = load_scenario(base)
    return sc.replace(**overrides) if overrides else sc


def _digest(arr: np.ndarray) -> str:
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def record_digests(rec: ReplicationRecord) -> dict[str, str]:
    """SHA-256 of every array of a replication's record, the filled part of each deal column too."""
    out = {}
    for name, value in vars(rec).items():
        if isinstance(value, np.ndarray):
            out[name] = _digest(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = repr(value)
    book = rec.book
    for name, value in sorted(vars(book).items()):
        if isinstance(value, np.ndarray) and value.shape[:1] == (book.cap,):
            out[f"book.{name}"] = _digest(value[: book.n])
    out["book.open_idx"] = _digest(book.open_idx)
    out["book.n"] = repr(book.n)
    return out


def compute(name: str) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """Run one golden scenario: its tables and, per replication, its event count and digests."""
    sc = scenario(name)
    fp = plan(sc)
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    meta = []
    for r in range(REPLICATIONS):
        rec = SalesForce(sc, SEED, r, fp).run()
        reps, periods, deals = tables(rec, deals=True)
        assert deals is not None
        for t, df in zip(TABLES, (reps, periods, deals), strict=True):
            if t != "deals" or r in DEAL_REPLICATIONS:
                parts[t].append(df)
        meta.append({"replication": r, "events": rec.events, "record": record_digests(rec)})
    frames = {t: pd.concat(v, ignore_index=True) for t, v in parts.items()}
    for df in frames.values():
        df.insert(0, "golden", name)
    return frames, meta


def path(table: str) -> Path:
    """The golden file of one table (all scenarios)."""
    return HERE / f"{table}.parquet"


META = HERE / "meta.json"


def load() -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The stored golden tables and metadata."""
    frames = {t: pd.read_parquet(path(t)) for t in TABLES}
    for df in frames.values():  # Parquet keeps whole-second times as milliseconds
        for col in df.columns[df.dtypes == "datetime64[ms]"]:
            df[col] = df[col].astype("datetime64[s]")
    return frames, json.loads(META.read_text(encoding="utf-8"))


def main() -> None:
    """Recompute every golden scenario and rewrite the files."""
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    meta: dict[str, Any] = {"seed": SEED, "replications": REPLICATIONS, "scenarios": {}}
    for name in SCENARIOS:
        frames, m = compute(name)
        for t in TABLES:
            parts[t].append(frames[t])
        meta["scenarios"][name] = m
        print(f"{name}: {sum(x['events'] for x in m)} events, {len(frames['deals'])} deals")
    for t in TABLES:
        pd.concat(parts[t], ignore_index=True).to_parquet(path(t), compression="zstd",
                                                          compression_level=19, index=False)
    META.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
