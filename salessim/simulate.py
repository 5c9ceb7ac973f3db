"""Run replications of a scenario and collect tidy results."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salessim.executors import check_replications, check_seed
from salessim.funnel import Plan, plan
from salessim.model import SalesForce
from salessim.results import Results, tables
from salessim.scenario import Scenario, load_scenario

__all__ = ["culture_path", "run_replication", "simulate"]


def culture_path(
    scenario: Scenario, replication: int, seed: int, warmup: Scenario | None = None
) -> np.ndarray:
    """Each team's culture, week by week (weeks × teams), in one replication of ``scenario``."""
    sf = SalesForce(scenario, seed, replication, warmup=warmup)
    sf.run()
    return np.array(sf.culture_trace)


def run_replication(
    scenario: Scenario,
    replication: int,
    seed: int,
    deals: bool = False,
    funnel_plan: Plan | None = None,
    warmup: Scenario | None = None,
    culture_from: Scenario | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, int]:
    """One replication: its ``reps``, ``periods`` and optional ``deals`` rows, and event count.

    ``warmup``: the scenario whose driver sections the warm-up runs under in transition mode
    (None: the library baseline's). ``culture_from``: hold every team's culture on the path it
    takes in the same replication of this scenario (the direct part of an effect; it must have
    as many teams).
    """
    path = culture_path(culture_from, replication, seed, warmup) if culture_from is not None else None
    rec = SalesForce(scenario, seed, replication, funnel_plan, warmup=warmup, culture_path=path).run()
    reps, periods, deal_df = tables(rec, deals=deals)
    return reps, periods, deal_df, rec.events


def simulate(
    scenario: Scenario | str | Path | Mapping[str, Any],
    replications: int = 8,
    seed: int = 1,
    deals: bool = False,
    progress: Callable[[int, int], None] | None = None,
    warmup: Scenario | str | Path | Mapping[str, Any] | None = None,
) -> Results:
    """Simulate a scenario: ``replications`` independent runs under common random numbers.

    Replication ``r`` with root ``seed`` is the same sales force (same people, same deals, same
    luck) in every scenario, so results of two scenarios can be paired row by row.

    Args:
        scenario: a Scenario, a path to a YAML file, a library name or a mapping.
        replications: number of independent replications (1 … 10,000).
        seed: root seed (0 … 2**63 − 1).
        deals: also return the deal log (CRM export schema).
        progress: called with (done, total) after each replication.
        warmup: in ``simulation.mode: transition``, the scenario whose driver sections (goals,
            prescription, metrics, crm_adoption, managers' levers, coaching, reviews, culture) the
            warm-up runs under before this scenario's own take over; default the library baseline.

    Returns:
        Results with ``reps``, ``periods`` and (optionally) ``deals`` DataFrames.
    """
    sc = load_scenario(scenario)
    replications, seed = check_replications(replications), check_seed(seed)  # ValueError if out of range
    fp = plan(sc)
    warm = load_scenario(warmup) if warmup is not None else None
    reps, periods, deal_frames, events = [], [], [], 0
    for r in range(int(replications)):
        a, b, c, e = run_replication(sc, r, int(seed), deals, fp, warm)
        reps.append(a)
        periods.append(b)
        if c is not None:
            deal_frames.append(c)
        events += e
        if progress is not None:
            progress(r + 1, int(replications))
    return Results(
        reps=pd.concat(reps, ignore_index=True),
        periods=pd.concat(periods, ignore_index=True),
        deals=pd.concat(deal_frames, ignore_index=True) if deals else None,
        meta={
            "scenario": sc.name,
            "scenario_hash": sc.hash,
            "seed": int(seed),
            "replications": int(replications),
            "events": events,
        },
    )
