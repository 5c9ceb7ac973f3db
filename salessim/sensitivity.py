"""Which assumptions the answers hang on: Morris screening of every assumption of the scenario schema.

The drivers' ranking (which one-driver fix gives the most revenue) rests on the modelling
assumptions of the scenario schema: every field whose register row (:func:`salessim.scenario.
assumptions_register`) says *assumption* rather than citing a published source. :func:`sensitivity`
screens all of them at once with the method of elementary effects (Morris 1991; Campolongo,
Cariboni & Saltelli 2007), using SALib's sampler and analysis:

* **The design.** Each numeric assumption gets a screening range (:func:`screening_ranges`): the
  default × 0.5 … × 1.5, clipped to the schema's bounds (the schema's bounds are typo guards — a
  quota of a billion dollars, 40 extra hours a week — too wide to be plausible ranges), or a range
  of its own stated in :data:`RANGES`. Whole-number fields are rounded to the nearest whole
  number. Booleans, choices, dates, lists and optional fields have no range: they are listed as not
  screened, with the reason. Jointly constrained fields are handled explicitly (:data:`JOINT`): the
  segment shares must sum to 1, so only the new-logo share is screened and expansion takes the
  rest; trained managers' coaching quality is kept above untrained managers'. ``trajectories``
  Morris trajectories on a grid of ``levels`` levels give ``trajectories × (k + 1)`` design points
  for ``k`` parameters; each step of a trajectory moves one parameter by ``levels / (2 (levels −
  1))`` of its range.
* **At each design point** the perturbed baseline and every driver variant of the library laid over
  it (the fields where the variant differs from the library baseline replace the point's values)
  run under common random numbers through :func:`salessim.experiments.compare` (warm-up under the
  point's baseline, like any comparison); the output is each variant's revenue effect: its paired
  relative difference in team revenue against the point's baseline, in the first reported year.
* **Per parameter and driver**: ``mu_star`` (mean absolute elementary effect: how much the driver's
  revenue effect moves when the parameter crosses its whole range, as a fraction of revenue — 0.02
  is two percentage points), its bootstrap 95 % half-width ``mu_star_conf``, ``sigma`` (spread of the
  elementary effects: interactions or non-linearity) and ``mu`` (signed mean). ``noise_mu_star`` is
  the mu* that replication noise alone would give (independent noise at the two ends of a step,
  from the paired standard errors; common random numbers make the real noise smaller): a
  ``mu_star`` below it is not distinguishable from noise. NaN with one replication.
* **The top of the ranking**: for every step of every trajectory, whether the leading driver (the
  variant with the largest revenue effect) changed between its two ends — ``top_changes`` counts
  them per parameter, ``clear_top_changes`` those where the leader led by more than its 95 %
  noise margin at both ends.

Results are cached: each scenario run by :func:`compare`'s batch cache, and the screening itself
under ``CACHE/sensitivity/KEY/``, keyed by every input (the resolved baseline and variants, the
parameters and their ranges, replications, trajectories, levels, seed) and by the code
(:func:`salessim.cache.code_fingerprint`) and library versions; a stored screening is served only
when its recorded key and inputs equal the current ones and its files match their checksums.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salessim.cache import cache_root, code_fingerprint, dependency_versions
from salessim.executors import MAX_RUN_REPLICATIONS, RunTooLarge, check_replications, check_seed
from salessim.experiments import variant_changes, variants_over
from salessim.scenario import (
    Scenario,
    ScenarioError,
    _walk,
    assumptions_register,
    load_scenario,
    safe_repr,
)

__all__ = [
    "DEFAULT_VARIANTS",
    "JOINT",
    "MAX_TRAJECTORIES",
    "RANGES",
    "Plan",
    "Screening",
    "SensitivityError",
    "morris_design",
    "morris_indices",
    "plan",
    "run",
    "screening_ranges",
    "sensitivity",
    "variant_changes",
]

#: The variant of each driver that the drivers' ranking compares: the driver done well.
DEFAULT_VARIANTS: tuple[str, ...] = (
    "goals_focused",
    "prescription",
    "metrics_stage",
    "crm_full",
    "managers_trained",
    "coaching_high",
    "reviews_monthly",
)
#: The screening range of a parameter without a range of its own: default × these, clipped to bounds.
RANGE_FACTORS = (0.5, 1.5)
#: Most trajectories in one screening.
MAX_TRAJECTORIES = 1000
#: Levels of the Morris grid: an even number in this range.
LEVELS_RANGE = (2, 20)
#: Parameters with a stated range of their own: path → (low, high, why).
RANGES: dict[str, tuple[float, float, str]] = {
    "managers.quality_trained": (
        0.6,
        1.0,
        "kept above managers.quality_untrained's range (0.15 … 0.45), so leadership "
        "training raises coaching quality at every design point; capped at the schema's 1",
    ),
}
#: Jointly constrained fields: the register row → how the screening handles it.
JOINT: dict[str, str] = {
    "funnel.segments": "segment shares must sum to 1: funnel.segments.new_logo.share is screened "
    "and expansion's share is 1 minus it; each segment's logit_offset and "
    "amount_factor are screened on their own",
    "managers.quality_trained": "must stay above managers.quality_untrained for training to mean "
    "anything: its range starts above the untrained range's top",
}
#: Fields that set what a run measures rather than how the sales force behaves.
RUN_SETTINGS: dict[str, str] = {
    "simulation.warmup_days": "a run setting (how long the run settles before the reported "
    "horizon), not a behaviour of the sales force",
    "simulation.horizon_days": "a run setting (how long is reported), not a behaviour of the sales force",
}
#: Format of a stored screening; another format is recomputed.
FORMAT = 1
#: The metric whose effect is screened.
METRIC = "revenue"


class SensitivityError(ValueError):
    """Bad input to a screening (a field and the bad value are named)."""


@dataclass
class Screening:
    """A Morris screening of the assumptions' influence on each driver's revenue effect.

    Attributes:
        table: one row per screened parameter and driver (variant): ``parameter``, ``driver``,
            ``mu_star``, ``mu_star_conf``, ``sigma``, ``mu``, ``noise_mu_star``, ``low``,
            ``high``, ``top_changes``, ``clear_top_changes``, ``steps``.
        parameters: every assumption of the register: ``parameter``, ``screened``, ``default``,
            ``low``, ``high``, ``rule`` (how the range was set) and ``note`` (why not screened,
            or how a joint constraint is handled).
        design: the design points: ``point``, ``trajectory`` and one column per parameter with
            the value run (whole numbers rounded).
        effects: per design point and driver, the revenue ``effect`` (relative paired difference)
            and its standard error ``effect_se``; point −1 is the unperturbed baseline.
        meta: inputs, the leader at the defaults, how often each driver leads, run time.
    """

    table: pd.DataFrame
    parameters: pd.DataFrame
    design: pd.DataFrame
    effects: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def top_movers(self) -> pd.DataFrame:
        """Parameters whose steps changed the leading driver, most changes first."""
        t = self.table.drop_duplicates("parameter")
        t = t[t["top_changes"] > 0]
        return (
            t[["parameter", "top_changes", "clear_top_changes", "steps", "low", "high"]]
            .sort_values(["top_changes", "clear_top_changes"], ascending=False)
            .reset_index(drop=True)
        )


# ------------------------------------------------------------------------------------------
# the parameters and their ranges
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Param:
    path: str
    default: float
    low: float
    high: float
    integer: bool
    rule: str


def _bounds(metadata: Sequence[Any]) -> tuple[float, bool, float, bool]:
    """(lower, strict, upper, strict) from a field's annotated-types metadata."""
    lo, lo_strict, hi, hi_strict = -math.inf, False, math.inf, False
    for m in metadata:
        for attr, strict, is_low in (
            ("ge", False, True),
            ("gt", True, True),
            ("le", False, False),
            ("lt", True, False),
        ):
            v = getattr(m, attr, None)
            if v is None:
                continue
            if is_low and float(v) >= lo:
                lo, lo_strict = float(v), strict
            elif not is_low and float(v) <= hi:
                hi, hi_strict = float(v), strict
    return lo, lo_strict, hi, hi_strict


def _rule_range(
    path: str, default: float, metadata: Sequence[Any], integer: bool
) -> tuple[float, float, str] | str:
    """(low, high, rule) of a numeric field, or why it has none."""
    if path in RANGES:
        low, high, why = RANGES[path]
        return low, high, f"stated: {why}"
    if default == 0:
        return "its default is 0: the × 0.5 … × 1.5 rule gives no range (state one in RANGES)"
    a, b = sorted((default * RANGE_FACTORS[0], default * RANGE_FACTORS[1]))
    lo, lo_strict, hi, hi_strict = _bounds(metadata)
    rule = f"default × {RANGE_FACTORS[0]:g} … × {RANGE_FACTORS[1]:g}"
    clipped = []
    width = b - a
    if a < lo or (lo_strict and a <= lo):
        a = lo + (0.01 * width if lo_strict else 0.0)
        clipped.append(f"{'>' if lo_strict else '≥'} {lo:g}")
    if b > hi or (hi_strict and b >= hi):
        b = hi - (0.01 * width if hi_strict else 0.0)
        clipped.append(f"{'<' if hi_strict else '≤'} {hi:g}")
    if integer:
        a, b = float(math.ceil(a)), float(math.floor(b))
        rule += ", whole numbers"
    if clipped:
        rule += f", clipped to the schema's bounds ({', '.join(clipped)})"
    if not b > a:
        return "its range collapses to one value"
    return a, b, rule


def _segment_params(scenario: Scenario) -> list[tuple[str, float, Sequence[Any], bool]]:
    """The screened parts of ``funnel.segments`` (see :data:`JOINT`): path, default, bounds."""
    from salessim.scenario import Segment

    out: list[tuple[str, float, Sequence[Any], bool]] = []
    seg = scenario.funnel.segments
    share = Segment.model_fields["share"].metadata
    out.append(("funnel.segments.new_logo.share", float(seg["new_logo"].share), share, False))
    for name in ("new_logo", "expansion"):
        for attr in ("logit_offset", "amount_factor"):
            out.append(
                (
                    f"funnel.segments.{name}.{attr}",
                    float(getattr(seg[name], attr)),
                    Segment.model_fields[attr].metadata,
                    False,
                )
            )
    return out


def screening_ranges(scenario: Scenario | None = None) -> tuple[list[_Param], pd.DataFrame]:
    """Every assumption of the register, with its screening range or why it is not screened.

    Args:
        scenario: the baseline whose values are the defaults (default: the schema's defaults).

    Returns:
        The screened parameters, and the table of every assumption (``parameter``, ``screened``,
        ``default``, ``low``, ``high``, ``rule``, ``note``).
    """
    scenario = scenario or Scenario()
    data = scenario.to_dict()
    fields = dict(_walk(Scenario, ""))
    params: list[_Param] = []
    rows: list[dict[str, Any]] = []

    def add(path: str, default: float, metadata: Sequence[Any], integer: bool, note: str = "") -> None:
        got = _rule_range(path, default, metadata, integer)
        if isinstance(got, str):
            rows.append(
                {
                    "parameter": path,
                    "screened": False,
                    "default": default,
                    "low": np.nan,
                    "high": np.nan,
                    "rule": "",
                    "note": got,
                }
            )
            return
        low, high, rule = got
        params.append(_Param(path, default, low, high, integer, rule))
        rows.append(
            {
                "parameter": path,
                "screened": True,
                "default": default,
                "low": low,
                "high": high,
                "rule": rule,
                "note": note or JOINT.get(path, ""),
            }
        )

    def skip(path: str, value: Any, why: str) -> None:
        shown = value if isinstance(value, str) else safe_repr(value, 60)
        rows.append(
            {
                "parameter": path,
                "screened": False,
                "default": np.nan,
                "low": np.nan,
                "high": np.nan,
                "rule": "",
                "note": f"{why} (value {shown})",
            }
        )

    for r in assumptions_register(scenario):
        if r["kind"] != "assumption":
            continue
        path = r["parameter"]
        value: Any = data
        for k in path.split("."):
            value = value[k]
        f = fields[path]
        if path == "funnel.segments":
            for sub, default, md, integer in _segment_params(scenario):
                add(sub, default, md, integer, JOINT[path])
            continue
        if path in RUN_SETTINGS:
            skip(path, value, RUN_SETTINGS[path])
        elif isinstance(value, bool):
            skip(path, value, "true/false: a switch has no range to screen")
        elif value is None:
            skip(path, value, "optional and unset by default: no default to perturb around")
        elif isinstance(value, str):
            skip(path, value, "a choice or a date, not a number")
        elif isinstance(value, list | dict):
            skip(path, value, "a list or mapping: screen its entries by hand")
        elif isinstance(value, int | float):
            add(path, float(value), f.metadata, isinstance(value, int) and f.annotation is int)
        else:  # pragma: no cover - every schema value is one of the above
            skip(path, value, f"a {type(value).__name__}")
    return params, pd.DataFrame(rows)


def _pick(params: list[_Param], parameters: Sequence[str] | None) -> list[_Param]:
    if parameters is None:
        return params
    by = {p.path: p for p in params}
    out = []
    for name in parameters:
        if name not in by:
            example = params[0].path if params else "culture.effort_sensitivity"
            raise SensitivityError(
                f"parameters: {safe_repr(name)} is not a screened assumption "
                f"(e.g. {example}; `salessim assumptions` lists them)"
            )
        if by[name] not in out:
            out.append(by[name])
    if not out:
        raise SensitivityError("parameters: give at least one assumption to screen")
    return out


# ------------------------------------------------------------------------------------------
# the Morris design and its analysis (SALib)
# ------------------------------------------------------------------------------------------
def _problem(names: Sequence[str], bounds: Sequence[tuple[float, float]]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [list(b) for b in bounds], "groups": None}


def morris_design(
    names: Sequence[str], bounds: Sequence[tuple[float, float]], trajectories: int, levels: int, seed: int
) -> np.ndarray:
    """The Morris design: ``trajectories × (k + 1)`` rows, one column per parameter.

    Each value lies on the grid ``low + j / (levels − 1) × (high − low)``, ``j = 0 … levels − 1``;
    consecutive rows of a trajectory differ in one parameter.
    """
    from SALib.sample import morris as morris_sample

    return morris_sample.sample(
        _problem(names, bounds), int(trajectories), num_levels=int(levels), seed=int(seed) % 2**32
    )


def morris_indices(
    names: Sequence[str],
    bounds: Sequence[tuple[float, float]],
    X: np.ndarray,
    Y: np.ndarray,
    levels: int,
    seed: int,
) -> pd.DataFrame:
    """mu*, its bootstrap 95 % half-width, sigma and mu per parameter (SALib's Morris analysis).

    Elementary effects are ``ΔY / Δ``, with ``Δ`` the step as a share of the range: an effect is
    the change in Y across the parameter's whole range, extrapolated from the step.
    """
    from SALib.analyze import morris as morris_analyze

    with warnings.catch_warnings():  # one trajectory: no spread (NaN), numpy warns about it
        warnings.simplefilter("ignore", RuntimeWarning)
        si = morris_analyze.analyze(
            _problem(names, bounds),
            np.asarray(X, dtype=float),
            np.asarray(Y, dtype=float),
            num_levels=int(levels),
            seed=int(seed) % 2**32,
            num_resamples=1000,
        )
    return pd.DataFrame(
        {
            "parameter": list(names),
            "mu_star": np.asarray(si["mu_star"], dtype=float),
            "mu_star_conf": np.asarray(si["mu_star_conf"], dtype=float),
            "sigma": np.asarray(si["sigma"], dtype=float),
            "mu": np.asarray(si["mu"], dtype=float),
        }
    )


def _steps(X: np.ndarray, k: int) -> list[tuple[int, int, int]]:
    """(parameter index, row before, row after) for every step of every trajectory."""
    out = []
    for t in range(X.shape[0] // (k + 1)):
        for j in range(k):
            a, b = t * (k + 1) + j, t * (k + 1) + j + 1
            moved = np.flatnonzero(~np.isclose(X[a], X[b]))
            if moved.size == 1:
                out.append((int(moved[0]), a, b))
    return out


# ------------------------------------------------------------------------------------------
# the scenarios of a design point
# ------------------------------------------------------------------------------------------
def _leaves(d: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        if isinstance(v, Mapping):
            out += _leaves(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    cur = data
    for k in keys[:-1]:
        cur = cur[k]
    cur[keys[-1]] = value


def _point_scenario(base: dict[str, Any], params: Sequence[_Param], x: np.ndarray, point: int) -> Scenario:
    data = json.loads(json.dumps(base))
    for p, v in zip(params, x, strict=True):
        value: float | int = round(float(v)) if p.integer else float(v)
        _set(data, p.path, value)
        if p.path == "funnel.segments.new_logo.share":
            _set(data, "funnel.segments.expansion.share", 1.0 - float(v))
    try:
        return load_scenario(data)
    except ScenarioError as e:
        values = ", ".join(f"{p.path}={float(v):g}" for p, v in zip(params, x, strict=True))
        raise SensitivityError(
            f"design point {point} is not a valid scenario ({values}): {str(e).splitlines()[0]}"
        ) from None


def _variants_over(base: Scenario, changes: Mapping[str, dict[str, Any]]) -> list[Scenario]:
    return variants_over(base, changes)[0]


# ------------------------------------------------------------------------------------------
# the cache of screenings
# ------------------------------------------------------------------------------------------
_TABLES = ("table", "parameters", "design", "effects")


def _key_fields(
    baseline: Scenario,
    variants: Mapping[str, Scenario],
    params: Sequence[_Param],
    replications: int,
    trajectories: int,
    levels: int,
    seed: int,
) -> dict[str, Any]:
    from importlib import metadata

    from salessim import __version__

    return {
        "format": FORMAT,
        "baseline": baseline.hash,
        "variants": {n: s.hash for n, s in variants.items()},
        "parameters": [[p.path, p.low, p.high, p.integer] for p in params],
        "replications": int(replications),
        "trajectories": int(trajectories),
        "levels": int(levels),
        "seed": int(seed),
        "metric": METRIC,
        "version": __version__,
        "code": code_fingerprint(),
        "libraries": {**dependency_versions(), "SALib": metadata.version("SALib")},
    }


def _key(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]


def _cache_dir(cache: bool | Path | str) -> Path | None:
    if cache is False or cache is None:
        return None
    root = cache_root() if cache is True else Path(cache)
    return root / "sensitivity"


def _load(folder: Path, fields: Mapping[str, Any], key: str) -> Screening | None:
    """The stored screening of ``key``, or None if absent or failing any check."""
    where = folder / key
    try:
        if where.is_symlink() or not where.is_dir():
            return None
        meta = json.loads((where / "screening.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("key") != key or meta.get("fields") != fields:
            raise ValueError("it was stored for another key")
        files = meta.get("files")
        if not isinstance(files, dict) or set(files) != {f"{t}.parquet" for t in _TABLES}:
            raise ValueError("its files are not the expected ones")
        tables = {}
        for fname, digest in files.items():
            blob = (where / fname).read_bytes()
            if hashlib.sha256(blob).hexdigest() != digest:
                raise ValueError(f"{fname} does not match its checksum")
            tables[fname.removesuffix(".parquet")] = pd.read_parquet(io.BytesIO(blob))
    except FileNotFoundError:
        return None
    except Exception as e:  # a bad stored screening is never served: dropped and recomputed
        import logging

        logging.getLogger("salessim.cache").warning(
            "salessim: note: discarded stored screening %s (%s); recomputing", where, e
        )
        shutil.rmtree(where, ignore_errors=True)
        return None
    return Screening(**tables, meta={**meta.get("meta", {}), "cached": True})


def _store(folder: Path, fields: Mapping[str, Any], key: str, s: Screening) -> None:
    """Keep a screening (written aside and renamed into place; a cache that fails is skipped)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / key
        if final.exists():
            return
        tmp = Path(tempfile.mkdtemp(prefix=f".partial-{os.getpid()}-", dir=folder))
        try:
            files = {}
            for name in _TABLES:
                buf = io.BytesIO()
                getattr(s, name).to_parquet(buf, index=False)
                blob = buf.getvalue()
                (tmp / f"{name}.parquet").write_bytes(blob)
                files[f"{name}.parquet"] = hashlib.sha256(blob).hexdigest()
            meta = {
                "format": FORMAT,
                "key": key,
                "fields": fields,
                "files": files,
                "meta": s.meta,
                "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            (tmp / "screening.json").write_text(
                json.dumps(meta, indent=1, default=str) + "\n", encoding="utf-8"
            )
            with contextlib.suppress(OSError):
                tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
        return


# ------------------------------------------------------------------------------------------
# the screening
# ------------------------------------------------------------------------------------------
def _check_int(name: str, value: Any, low: int, high: int, extra: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SensitivityError(f"{name} must be a whole number, got {safe_repr(value)}")
    if not low <= int(value) <= high:
        raise SensitivityError(f"{name} must be between {low:,} and {high:,}{extra}, got {safe_repr(value)}")
    return int(value)


def check_levels(levels: Any) -> int:
    """``levels`` as an even whole number in :data:`LEVELS_RANGE`; SensitivityError otherwise."""
    v = _check_int("levels", levels, *LEVELS_RANGE)
    if v % 2:
        raise SensitivityError(
            f"levels must be an even number (Morris's steps of levels / "
            f"(2 (levels − 1)) stay on the grid only then), got {v}"
        )
    return v


def run_size(n_params: int, n_variants: int, replications: int, trajectories: int) -> int:
    """Scenario-replications a screening runs: (design points + the defaults) × scenarios × R."""
    return (int(trajectories) * (n_params + 1) + 1) * (n_variants + 1) * int(replications)


@dataclass
class Plan:
    """A checked screening, ready to run: what it screens, how big it is, its cache key."""

    baseline: Scenario
    params: list[_Param]
    parameters: pd.DataFrame
    variants: list[str]
    changes: dict[str, dict[str, Any]]
    replications: int
    trajectories: int
    levels: int
    seed: int
    size: int
    fields: dict[str, Any]
    key: str
    #: the Morris design (one row per design point)
    X: np.ndarray
    #: per design point (−1: the defaults), its baseline and the variants laid over it
    points: list[tuple[int, list[Scenario]]]


def plan(
    baseline: Any = "baseline",
    replications: int = 4,
    trajectories: int = 4,
    levels: int = 4,
    seed: int = 1,
    variants: Sequence[str] | None = None,
    parameters: Sequence[str] | None = None,
    force: bool = False,
) -> Plan:
    """Check a screening's inputs and size before anything runs (arguments as :func:`sensitivity`).

    Raises:
        SensitivityError: a bad argument (the field and value are named).
        RunTooLarge: a run above the limit without ``force`` (its size is named).
        ScenarioError: a baseline that cannot be loaded.
    """
    from salessim.experiments import DRIVER_VARIANTS

    try:
        replications, seed = check_replications(replications), check_seed(seed)
    except ValueError as e:
        raise SensitivityError(str(e)) from None
    trajectories = _check_int("trajectories", trajectories, 1, MAX_TRAJECTORIES)
    levels = check_levels(levels)
    library = [n for vs in DRIVER_VARIANTS.values() for n in vs]
    names = list(dict.fromkeys(DEFAULT_VARIANTS if variants is None else variants))
    for n in names:
        if n not in library:
            raise SensitivityError(
                f"variants: {safe_repr(n)} is not a one-driver variant of the library ({', '.join(library)})"
            )
    if not names:
        raise SensitivityError("variants: give at least one variant")
    base = load_scenario(baseline)
    all_params, ptable = screening_ranges(base)
    params = _pick(all_params, parameters)
    k = len(params)
    size = run_size(k, len(names), replications, trajectories)
    if size > MAX_RUN_REPLICATIONS and not force:
        raise RunTooLarge(
            f"a screening of {k} parameters × {trajectories} trajectories ({trajectories * (k + 1):,}"
            f" design points and the defaults) × {len(names) + 1} scenarios × {replications} "
            f"replications = {size:,} scenario-replications; at most {MAX_RUN_REPLICATIONS:,} "
            "without --force (use fewer trajectories, replications or variants)"
        )
    changes = {n: variant_changes(n) for n in names}
    chosen = ptable["parameter"].isin([p.path for p in params])
    left_out = ptable["screened"] & ~chosen
    ptable.loc[left_out, "note"] = "left out of this screening (it screens chosen parameters)"
    ptable.loc[left_out, "screened"] = False
    for p in params:  # a variant that sets a screened field keeps its own value there
        vs = [n for n, ch in changes.items() if p.path in _leaves(ch)]
        if vs:
            i = ptable.index[ptable["parameter"] == p.path][0]
            note = f"set by {', '.join(vs)}: there, only the baseline's value moves"
            ptable.loc[i, "note"] = f"{ptable.loc[i, 'note']}; {note}" if ptable.loc[i, "note"] else note
    fields = _key_fields(
        base, {n: load_scenario(n) for n in names}, params, replications, trajectories, levels, seed
    )
    X = morris_design([q.path for q in params], [(q.low, q.high) for q in params], trajectories, levels, seed)
    # every point's scenarios are built (and validated) before anything runs
    base_data = base.to_dict()
    points: list[tuple[int, list[Scenario]]] = []
    for i in range(-1, X.shape[0]):
        sc = base if i < 0 else _point_scenario(base_data, params, X[i], i)
        sc = sc.model_copy(update={"name": "baseline"})
        points.append((i, [sc, *_variants_over(sc, changes)]))
    return Plan(
        base,
        params,
        ptable,
        names,
        changes,
        replications,
        trajectories,
        levels,
        seed,
        size,
        fields,
        _key(fields),
        X,
        points,
    )


def sensitivity(
    baseline: Any = "baseline",
    replications: int = 4,
    trajectories: int = 4,
    levels: int = 4,
    seed: int = 1,
    workers: int | None = None,
    cache: bool | Path | str = True,
    progress: bool | None = None,
    variants: Sequence[str] | None = None,
    parameters: Sequence[str] | None = None,
    force: bool = False,
    executor: Any = None,
) -> Screening:
    """Screen every assumption for its influence on each driver's revenue effect (Morris).

    Args:
        baseline: the scenario the assumptions are perturbed around (a Scenario, YAML path,
            library name or mapping).
        replications: replications per scenario at each design point (common random numbers).
        trajectories: Morris trajectories (1 … :data:`MAX_TRAJECTORIES`).
        levels: levels of the Morris grid (even, 2 … 20).
        seed: root seed of the runs and of the design.
        workers: local worker processes (default: all cores).
        cache: reuse and keep runs and the screening (True: the default cache; a Path: that
            folder; False: neither).
        progress: a progress bar (default: only on a terminal).
        variants: library variants whose effects are screened (default
            :data:`DEFAULT_VARIANTS`, the drivers' ranking).
        parameters: screen only these assumptions (default: every one that has a range).
        force: run even when the run is larger than
            :data:`~salessim.executors.MAX_RUN_REPLICATIONS` scenario-replications.
        executor: an executor to run on (default: one made from ``workers``).

    Returns:
        The :class:`Screening`.

    Raises:
        SensitivityError: a bad argument (the field and value are named).
        RunTooLarge: a run above the limit without ``force``.
        ScenarioError: a baseline that cannot be loaded.
    """
    return run(
        plan(baseline, replications, trajectories, levels, seed, variants, parameters, force),
        workers=workers,
        cache=cache,
        progress=progress,
        executor=executor,
    )


def run(
    p: Plan,
    workers: int | None = None,
    cache: bool | Path | str = True,
    progress: bool | None = None,
    executor: Any = None,
) -> Screening:
    """Run a checked screening (:func:`plan`), or serve it from the cache."""
    from salessim.executors import make_executor
    from salessim.experiments import _progress, compare

    folder = _cache_dir(cache)
    if folder is not None:
        hit = _load(folder, p.fields, p.key)
        if hit is not None:
            return hit
    t0 = time.perf_counter()
    params, k, names, R, X = p.params, len(p.params), p.variants, p.replications, p.X
    effects = []
    own = executor is None
    ex = executor if executor is not None else make_executor(workers)
    advance, stop = _progress(p.size, progress)
    compare_cache: bool | Path = cache if isinstance(cache, bool) else Path(cache)
    try:
        for i, scs in p.points:
            comp = compare(
                scs,
                baseline="baseline",
                replications=R,
                seed=p.seed,
                executor=ex,
                cache=compare_cache,
                progress=False,
            )
            sm = comp.summary[(comp.summary["metric"] == METRIC) & (comp.summary["year"] == 1)]
            bm = float(sm.loc[sm["scenario"] == "baseline", "mean"].iloc[0])
            for r in sm[sm["scenario"] != "baseline"].itertuples():
                hw = (float(r.diff_ci_high) - float(r.diff_ci_low)) / 2
                se = hw / _t975(R - 1) / bm if R > 1 and bm else np.nan
                effects.append(
                    {"point": i, "driver": str(r.scenario), "effect": float(r.diff_rel), "effect_se": se}
                )
            advance(len(scs) * R)
    finally:
        stop()
        if own:
            ex.close()
    eff = pd.DataFrame(effects)
    table = _analyse(params, X, eff, names, p.levels, p.seed)
    design = pd.DataFrame(
        {
            "point": np.arange(X.shape[0]),
            "trajectory": np.arange(X.shape[0]) // (k + 1),
            **{
                q.path: (np.round(X[:, j]).astype(int) if q.integer else X[:, j])
                for j, q in enumerate(params)
            },
        }
    )
    wide = eff.pivot(index="point", columns="driver", values="effect")[names]
    leaders = wide.idxmax(axis=1)
    meta = {
        "baseline": p.baseline.name,
        "baseline_hash": p.baseline.hash,
        "variants": names,
        "replications": R,
        "trajectories": p.trajectories,
        "levels": p.levels,
        "seed": p.seed,
        "metric": METRIC,
        "year": 1,
        "parameters": k,
        "design_points": int(X.shape[0]),
        "scenario_replications": p.size,
        "leader_at_defaults": str(leaders.loc[-1]),
        "leader_share": {n: float((leaders.drop(index=-1) == n).mean()) for n in names},
        "runtime_seconds": round(time.perf_counter() - t0, 1),
        "cached": False,
        "code": p.fields["code"],
        "key": p.key,
    }
    s = Screening(table=table, parameters=p.parameters, design=design, effects=eff, meta=meta)
    if folder is not None:
        _store(folder, p.fields, p.key, s)
    return s


def _t975(df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


def _analyse(
    params: Sequence[_Param], X: np.ndarray, eff: pd.DataFrame, names: Sequence[str], levels: int, seed: int
) -> pd.DataFrame:
    """The tidy table: Morris indices per parameter and driver, and changes of the leader."""
    k = len(params)
    paths = [p.path for p in params]
    bounds = [(p.low, p.high) for p in params]
    design = eff[eff["point"] >= 0]
    Y = design.pivot(index="point", columns="driver", values="effect").reindex(
        index=range(X.shape[0]), columns=list(names)
    )
    SE = design.pivot(index="point", columns="driver", values="effect_se").reindex(
        index=range(X.shape[0]), columns=list(names)
    )
    delta = levels / (2 * (levels - 1))
    frames = []
    for n in names:
        ind = morris_indices(paths, bounds, X, Y[n].to_numpy(float), levels, seed)
        se = float(np.nanmedian(SE[n].to_numpy(float))) if SE[n].notna().any() else np.nan
        ind["noise_mu_star"] = math.sqrt(2) * se * math.sqrt(2 / math.pi) / delta
        ind.insert(1, "driver", n)
        frames.append(ind)
    table = pd.concat(frames, ignore_index=True)
    # the leader at each end of each step
    y, s = Y.to_numpy(float), SE.to_numpy(float)
    changes = np.zeros(k, int)
    clear = np.zeros(k, int)
    steps = np.zeros(k, int)

    def lead(row: int) -> tuple[int, bool]:
        order = np.argsort(-y[row])
        a, b = order[0], order[1] if len(order) > 1 else order[0]
        margin = y[row, a] - y[row, b]
        noise = 1.96 * math.sqrt(s[row, a] ** 2 + s[row, b] ** 2)
        return int(a), bool(len(order) > 1 and np.isfinite(noise) and margin > noise)

    for j, a, b in _steps(X, k):
        steps[j] += 1
        (la, ca), (lb, cb) = lead(a), lead(b)
        if la != lb:
            changes[j] += 1
            clear[j] += int(ca and cb)
    per = pd.DataFrame(
        {
            "parameter": paths,
            "low": [p.low for p in params],
            "high": [p.high for p in params],
            "top_changes": changes,
            "clear_top_changes": clear,
            "steps": steps,
        }
    )
    table = table.merge(per, on="parameter", how="left")
    cols = [
        "parameter",
        "driver",
        "mu_star",
        "mu_star_conf",
        "sigma",
        "mu",
        "noise_mu_star",
        "low",
        "high",
        "top_changes",
        "clear_top_changes",
        "steps",
    ]
    return (
        table[cols]
        .sort_values(
            ["driver", "mu_star"],
            ascending=[True, False],
            key=lambda c: c.map({n: i for i, n in enumerate(names)}) if c.name == "driver" else c,
        )
        .reset_index(drop=True)
    )
