"""The voluntary-leaving hazard scale, solved so ``attrition.voluntary_annual`` is what happens.

A rep's monthly chance of leaving is ``1 − exp(−scale · multiplier / 12)``, where the multiplier is
what they live through (:func:`salessim.model.people.hazard_multiplier`: tenure, attainment,
culture, manager, burnout, quarters far behind). ``attrition.voluntary_annual`` is the *realised*
rate — voluntary leavers per head per year — of the sales force under the **baseline policy**
(the library baseline's driver levers, quota and pay plan over this scenario's own sales force,
funnel and territory), so a lever that changes what reps live through — a higher quota, monthly
reviews — changes attrition, while the baseline reproduces the rate it was given.

The scale is found by short pilot runs of that baseline-policy twin (fixed seed, ``PILOT_REPS``
reps at the scenario's span), in rounds: each measures the multipliers at the scale the round before
solved (a higher scale means more new hires, who leave more) and starts from the reps the round
before ended with, so the last, largest round runs a sales force that has settled under the policy
for years — the reps it ends with are the settled sales force every replication starts from
(:class:`salessim.model.steady.Population`). The twin does not depend on the scenario's driver
levers, so every variant of one sales force shares one solve. It is deterministic, remembered for
the process and, once the result cache's directory exists, kept there (``hazard-*.json``, keyed by
the twin and salessim's own code; ``salessim cache clear`` removes them), or in
``$SALESSIM_HAZARD_DIR`` when that names an existing folder (shared by runs whose result caches
differ, e.g. a test session's).

A search that simulates a chain of nearby candidates (calibration's correction steps) may ask for
:func:`settling_from_the_last`: inside it, each new twin after the first is solved by the last,
largest round only, started from the scale and the reps the previous candidate's solve ended with.
Those solves are an approximation kept only for the search: they are never remembered for the
process or in the cache, and outside the block every solve is the full one above.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize

from salessim.model.steady import Population
from salessim.scenario import Scenario

if TYPE_CHECKING:
    from salessim.model.salesforce import SalesForce

__all__ = [
    "PILOT_REPS",
    "baseline_policy",
    "hazard_scale",
    "scale_for",
    "seated",
    "settling_from_the_last",
    "solve",
]

PILOT_REPS = 80
#: replications of each pilot round (two years each, the first from a fresh draw of hires); the
#: last, largest round sets the precision of the scale and the size of the settled sales force
PILOT_REPLICATIONS = (4, 4, 4, 4, 12)
PILOT_SEED = 0


def baseline_policy(scenario: Scenario) -> Scenario:
    """The scenario run the library baseline's way (:func:`salessim.model.policy.overlay`)."""
    from salessim.model.policy import overlay

    return overlay(scenario)


def scale_for(mult: np.ndarray, target: float, head_years: float | None = None) -> float:
    """The scale at which the sampled multipliers give ``target`` leavers per head-year.

    Args:
        mult: multipliers of the reps seated at monthly draws.
        target: voluntary leavers per head per year.
        head_years: the head-years the sample covers; None: one twelfth of a head-year per
            rep-month (the sample is a mean over reps and months).
    """
    if target <= 0 or mult.size == 0:
        return 0.0
    years = mult.size / 12.0 if head_years is None else head_years
    hi = 1.0
    while _expected_rate(hi, mult, years) < target and hi < 1e6:
        hi *= 4.0
    return float(optimize.brentq(lambda s: _expected_rate(s, mult, years) - target, 0.0, hi, xtol=1e-7))


def _expected_rate(scale: float, mult: np.ndarray, head_years: float) -> float:
    """Expected voluntary leavers per head-year at ``scale``.

    The monthly chances of every rep seated at each monthly draw of the reported year, summed,
    ÷ the year's mean headcount — as ``periods.voluntary_turnover`` counts them.
    """
    return float(np.sum(1.0 - np.exp(-scale * mult / 12.0)) / head_years)


def _pilot(
    twin: Scenario, scale: float, replications: int, population: Population | None
) -> tuple[np.ndarray, float, Population | None]:
    """Multipliers, head-years and the reps at the end of a pilot.

    Every seated rep's multiplier at each monthly draw of the year, the head-years, and the reps
    in the seats at the end (:class:`salessim.model.steady.Population`).
    """
    from salessim.model.salesforce import SalesForce

    samples = []
    head_years = 0.0
    settled = []
    for r in range(replications):
        sf = SalesForce(twin, PILOT_SEED, r, hazard_scale=scale, population=population)
        sf.keep_multipliers = True
        rec = sf.run()
        samples.extend(sf.multipliers)
        head_years += float(rec.headcount[4])  # the first year's mean weekly headcount
        settled.append(seated(sf))
    return (
        (np.concatenate(samples) if samples else np.ones(1)),
        max(head_years, 1.0),
        Population.of(np.concatenate(settled)),
    )


def seated(sf: SalesForce) -> np.ndarray:
    """The seated reps as :class:`salessim.model.steady.Population` rows.

    (skill z, days in seat, days on a flagged streak or NaN, coached skill, burnout, quarters far
    behind, their team's culture, flags in a row, then their skill deviation in each stage).
    """
    k = np.flatnonzero(sf.active)
    now = sf.env.now
    return np.column_stack(
        [
            sf.zskill[k],
            now - sf.hire_time[k],
            now - sf.flag_since[k],
            sf.gain[k],
            sf.burnout[k],
            sf.behind[k],
            sf.culture[sf.seat_manager[k]],
            sf.flag_streak[k],
            sf.stage_dev[k],
        ]
    )


def _disk(twin_json: str) -> Path | None:
    """The file that keeps this twin's solved scale, or None without a usable cache directory."""
    from salessim.cache import cache_root, code_fingerprint

    key = hashlib.sha256(f"{twin_json}|{PILOT_REPLICATIONS}|{PILOT_SEED}|{PILOT_REPS}".encode())
    where = os.environ.get("SALESSIM_HAZARD_DIR", "").strip()
    root = Path(where) if where else cache_root()
    return root / f"hazard-{code_fingerprint()[:12]}-{key.hexdigest()[:24]}.json"


def _remembered(path: Path | None) -> tuple[float, Population | None] | None:
    try:
        if path is not None and path.is_file() and not path.is_symlink():
            data = json.loads(path.read_text(encoding="utf-8"))
            value, rows = data["scale"], data["population"]
            if not (isinstance(value, float) and math.isfinite(value) and value >= 0):
                return None
            if rows is None:
                return value, None
            table = np.array(rows, dtype=float)
            if (
                table.ndim == 2
                and table.shape[1] >= Population.COLUMNS
                and np.isfinite(np.delete(table, 2, axis=1)).all()
            ):
                return value, Population.of(table)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _remember(path: Path | None, scale: float, population: Population | None) -> None:
    # only into a cache directory that the result cache has made: solving a scale never creates
    # one (the library's simulate and calibrate leave no files behind)
    if path is None or not path.parent.is_dir() or path.parent.is_symlink():
        return
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        rows = None if population is None else [list(r) for r in population.rows]
        tmp.write_text(json.dumps({"scale": scale, "population": rows}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # an unwritable cache only costs the solve next time
        pass


@functools.lru_cache(maxsize=128)
def _solve(twin_json: str) -> tuple[float, Population | None]:
    path = _disk(twin_json)
    known = _remembered(path)
    if known is not None:
        return known
    twin = Scenario.model_validate(json.loads(twin_json))
    target = twin.attrition.voluntary_annual
    if target <= 0:
        return 0.0, None
    scale = -math.log(1.0 - min(target, 0.95))
    population = None
    for replications in PILOT_REPLICATIONS:
        # each pilot starts from the reps the one before it ended with
        mult, head_years, population = _pilot(twin, scale, replications, population)
        scale = scale_for(mult, target, head_years)
    _remember(path, scale, population)
    return scale, population


@dataclass
class _Chain:
    """The solves of one search's candidates: the last one, and each twin's (for its replications)."""

    last: tuple[float, Population | None] | None = None
    solved: dict[str, tuple[float, Population | None]] = field(default_factory=dict)


_CHAIN: contextvars.ContextVar[_Chain | None] = contextvars.ContextVar("salessim_hazard_chain", default=None)


@contextlib.contextmanager
def settling_from_the_last() -> Iterator[None]:
    """Inside the block, a new twin is settled from the previous twin's solve in one round.

    The first twin is solved in full (and remembered as usual); each later, different twin runs
    only the last pilot round (``PILOT_REPLICATIONS[-1]`` replications), started from the scale
    and the settled reps of the twin solved before it. For a search over candidates that differ
    a little from step to step; its result is verified outside the block, with the full solve.
    """
    token = _CHAIN.set(_Chain())
    try:
        yield
    finally:
        _CHAIN.reset(token)


def _settle_from(twin_json: str, last: tuple[float, Population | None]) -> tuple[float, Population | None]:
    """One last-size pilot round from ``last``'s scale and reps: the approximate solve."""
    twin = Scenario.model_validate(json.loads(twin_json))
    target = twin.attrition.voluntary_annual
    if target <= 0:
        return 0.0, None
    scale, population = last
    if population is None or scale <= 0:
        return _solve(twin_json)
    mult, head_years, population = _pilot(twin, scale, PILOT_REPLICATIONS[-1], population)
    return scale_for(mult, target, head_years), population


def hazard_scale(scenario: Scenario) -> float:
    """The hazard scale that makes ``attrition.voluntary_annual`` the baseline's realised rate."""
    return solve(scenario)[0]


def solve(scenario: Scenario) -> tuple[float, Population | None]:
    """The hazard scale and the settled sales force of the baseline-policy twin.

    The scale is :func:`hazard_scale`'s; the reps are those the twin's pilots end with
    (:class:`salessim.model.steady.Population`).
    """
    twin = baseline_policy(scenario)
    # always the same number of teams at this span, so the scale — like every per-rep outcome —
    # does not depend on how many teams the sales force has
    teams = max(1, math.ceil(PILOT_REPS / twin.organisation.span))
    twin = twin.replace(**{"organisation.managers": teams})
    twin = twin.replace(**{"simulation.horizon_days": 365, "name": "pilot", "description": ""})
    twin_json = json.dumps(twin.to_dict(), sort_keys=True)
    chain = _CHAIN.get()
    if chain is None:
        return _solve(twin_json)
    if twin_json not in chain.solved:
        last = chain.last
        chain.solved[twin_json] = _solve(twin_json) if last is None else _settle_from(twin_json, last)
        chain.last = chain.solved[twin_json]
    return chain.solved[twin_json]
