"""Experiments: paired comparisons of scenarios, sweeps of a lever, one-at-a-time lever swings.

Every scenario in an experiment runs the same replications with the same root seed, so replication
``r`` is the same sales force meeting the same deals in each (common random numbers). Differences
against the baseline are therefore paired replication by replication, which is what makes their
confidence intervals narrow.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salessim.cache import Cache, RunCache, cache_root  # noqa: F401  (cache_root: re-exported)
from salessim.executors import (
    batches_for,
    check_replications,
    check_run_size,
    check_seed,
    make_executor,
)
from salessim.model.policy import warmup_policy
from salessim.results import Results
from salessim.scenario import SCENARIO_DIR, Scenario, ScenarioError, load_scenario, safe_repr
from salessim.stats import mean_ci, p_better, paired_diff_ci, welch_ci

__all__ = [
    "METRICS",
    "SPLIT_COLUMNS",
    "Comparison",
    "compare",
    "library_swings",
    "parse_vary",
    "sweep",
    "variant_changes",
    "variants_over",
]

#: Summary metrics: column of the ``periods`` year row, label, and which direction is better.
METRICS: dict[str, tuple[str, int]] = {
    "revenue": ("team revenue", +1),
    "attainment_p50": ("median attainment", +1),
    "pct_at_quota": ("share of reps at quota", +1),
    "win_rate": ("win rate", +1),
    "turnover": ("annual turnover", -1),
    "detection_lag_days": ("gap detection lag (days)", -1),
    "false_flag_rate": ("false-flag rate", -1),
    "diagnosis_accuracy": ("diagnosis accuracy", +1),
    "forecast_error": ("forecast error", -1),
    "coaching_hours": ("joint-call hours (manager time)", -1),
}


@dataclass
class Comparison:
    """Results of several scenarios under common random numbers, and their paired summary."""

    results: Results
    summary: pd.DataFrame
    baseline: str
    scenarios: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    #: periods of each variant run with the baseline's culture path (None: not split)
    direct: pd.DataFrame | None = None

    def paired(self, metric: str, scenario: str, year: int = 1) -> pd.DataFrame:
        """Per-replication values of a year metric for the baseline and a variant, side by side."""
        p = self.results.periods
        y = p[(p["period"] == "year") & (p["year"] == year)]
        a = y[y["scenario"] == self.baseline].set_index("replication")[metric]
        b = y[y["scenario"] == scenario].set_index("replication")[metric]
        return pd.DataFrame({"baseline": a, "variant": b}).dropna()


# ------------------------------------------------------------------------------------------
def _progress(total: int, enabled: bool | None) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A progress bar on a terminal (done, rate, time left); silent otherwise."""
    if enabled is None:
        # notebook kernels (papermill) and pipes are not terminals; SALESSIM_NO_PROGRESS silences it
        enabled = sys.stderr.isatty() and not os.environ.get("SALESSIM_NO_PROGRESS")
    if not enabled:
        return (lambda n: None), (lambda: None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f}/s" if task.speed else "…/s")

    from rich.console import Console

    prog = Progress(
        TextColumn("replications"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeRemainingColumn(),
        transient=True,
        auto_refresh=False,
        console=Console(stderr=True),
    )
    task = prog.add_task("run", total=total)
    prog.start()  # no refresh thread (auto_refresh off): safe beside forked workers

    def advance(n: int) -> None:
        prog.advance(task, n)
        prog.refresh()

    return advance, prog.stop


def _resolve(scenarios: Sequence[Any]) -> list[Scenario]:
    out = [load_scenario(s) for s in scenarios]
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ScenarioError(
            f"scenario names must be unique in one comparison; repeated: {dup} "
            "(a file is named by its `name:` field, else by its file name: give "
            "each its own `name:`)"
        )
    return out


def _source(s: Any) -> str:
    """Where a scenario argument came from, for the manifest (a path or name as given)."""
    if isinstance(s, Scenario):
        return f"<scenario {s.name}>"
    if isinstance(s, Mapping):
        return "<mapping>"
    return str(s)


def _same_file(a: Any, b: Any) -> bool:
    """Whether two scenario arguments name the same existing file."""
    if not isinstance(a, str | Path) or not isinstance(b, str | Path):
        return False
    try:
        pa, pb = Path(a), Path(b)
        return pa.is_file() and pb.is_file() and pa.resolve() == pb.resolve()
    except (OSError, ValueError):
        return False


def _pick_baseline(sources: list[Any], scs: list[Scenario], baseline: Any) -> int | Scenario:
    """The baseline of a comparison: an index into ``scs``, or a scenario to add in front.

    The rule: ``baseline`` is (1) the name of one of the scenarios, else (2) one of the scenario
    arguments as given (the same file), else (3) any other scenario (a YAML file or a library
    name), which is added as the first scenario. A scenario added that way may not share its
    name with a different scenario of the comparison.
    """
    names = [s.name for s in scs]
    if isinstance(baseline, Scenario):
        got = baseline
    else:
        if isinstance(baseline, str) and baseline in names:
            return names.index(baseline)
        for i, src in enumerate(sources):
            if (isinstance(src, str | Path) and str(src) == str(baseline)) or _same_file(src, baseline):
                return i
        try:
            got = load_scenario(baseline)
        except ScenarioError as e:
            raise ScenarioError(
                f"--baseline {safe_repr(str(baseline))} is not one of the "
                f"scenarios ({', '.join(names)}) and cannot be loaded as a "
                f"scenario file or library name: {str(e).splitlines()[0]}"
            ) from None
    if got.name in names:
        i = names.index(got.name)
        if scs[i].hash == got.hash:
            return i
        raise ScenarioError(
            f"--baseline {safe_repr(_source(baseline))} is named {got.name!r}, "
            f"like another scenario of the comparison with different content; "
            "give it another `name:` in its file, or name that scenario"
        )
    return got


def compare(
    scenarios: Sequence[Any],
    baseline: str | None = None,
    replications: int = 16,
    seed: int = 1,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    deals: bool = False,
    cache: bool | Path = True,
    progress: bool | None = None,
    warmup: Any = None,
    culture_split: bool = False,
) -> Comparison:
    """Compare scenarios under common random numbers.

    Args:
        scenarios: scenarios (objects, YAML paths, library names or mappings).
        baseline: name of the scenario to pair against (default: the first).
        replications: replications per scenario (1 … 10,000).
        seed: root seed shared by every scenario (0 … 2**63 − 1).
        executor: an executor object, or None to choose from ``workers`` / ``scheduler``.
        workers: local worker processes (1 = serial; default all cores).
        scheduler: Dask scheduler address (default ``$DASK_SCHEDULER_ADDRESS``).
        deals: also keep the deal log.
        cache: reuse and keep finished batches (True → the default cache, see
            :mod:`salessim.cache`; a Path → that folder; False → neither).
        progress: show a progress bar (default: only on a terminal).
        warmup: in ``simulation.mode: transition``, the scenario whose driver sections every
            scenario's warm-up runs under; default the baseline scenario, so each variant's first
            reported year shows its change from the baseline's policy.
        culture_split: also run every variant with each team's culture held on the path it takes
            in the baseline (the same replication), and split each effect in the summary into its
            **direct** part (variant with the baseline's culture − baseline) and its
            **culture-mediated** part (variant − variant with the baseline's culture). A variant
            with a different number of teams has no baseline path to hold: its split is left
            empty. Costs two more runs per variant replication (the baseline's path is rerun).

    Returns:
        A Comparison with tidy ``results``, the paired ``summary`` and, when split, the held runs'
        ``direct`` periods.
    """
    replications, seed = check_replications(replications), check_seed(seed)  # ValueError if out of range
    check_run_size(len(scenarios), replications)
    sources = list(scenarios)
    scs = _resolve(sources)
    if baseline is not None and not (isinstance(baseline, str) and baseline == ""):
        picked = _pick_baseline(sources, scs, baseline)
        if isinstance(picked, Scenario):  # a scenario file given only as the baseline: in front
            sources, scs = [baseline, *sources], [picked, *scs]
            check_run_size(len(scs), replications)
            picked = 0
        base_i = picked
    else:
        base_i = 0
    names = [s.name for s in scs]
    base = names[base_i]
    base_sc = scs[base_i]
    # the runs: every scenario, then each variant that can hold the baseline's culture path
    runs: list[tuple[Scenario, Scenario | None]] = [(s, None) for s in scs]
    if culture_split:
        runs += [
            (s, base_sc)
            for s in scs
            if s.name != base and s.organisation.managers == base_sc.organisation.managers
        ]
    check_run_size(len(runs), replications)
    R = int(replications)
    warm = base_sc if warmup is None else load_scenario(warmup)
    store = Cache(Path(cache) if isinstance(cache, str | Path) else None) if cache else None
    caches: list[RunCache | None] = (
        [store.for_run(s, seed, deals, warmup_policy(s, warm), held) for s, held in runs]
        if store
        else [None] * len(runs)
    )

    # what is already done
    parts: dict[tuple[int, int], tuple] = {}  # (run index, first replication) → result
    needed: list[list[int]] = []
    for i, c in enumerate(caches):
        have: set[int] = set()
        if c is not None:
            for reps, path in sorted(c.available().items()):
                if set(reps) <= set(range(R)) and not (set(reps) & have):
                    part = c.load(reps, path)  # None: it failed its checks and is recomputed
                    if part is not None:
                        parts[(i, reps[0])] = _relabel(part, runs[i][0].name)
                        have |= set(reps)
        needed.append([r for r in range(R) if r not in have])

    own_executor = executor is None
    todo = sum(len(n) for n in needed)
    ex = executor
    if todo and ex is None:
        ex = make_executor(workers, scheduler)
    try:
        if todo:
            batches = batches_for(
                [s.model_dump(mode="json") for s, _ in runs],
                needed,
                seed,
                deals,
                ex.workers,
                warm.model_dump(mode="json"),
                [None if h is None else h.model_dump(mode="json") for _, h in runs],
            )
            run_of = {}  # batch key → run index (a held run shares its scenario's name)
            for b in batches:
                run_of[b.key] = next(
                    i
                    for i, (s, h) in enumerate(runs)
                    if s.name == b.scenario["name"] and (h is None) == (b.culture_from is None)
                )
            advance, stop = _progress(todo, progress)
            try:
                for b, res in ex.map(batches):
                    i = run_of[b.key]
                    parts[(i, b.replications[0])] = res
                    cache_i = caches[i]
                    if cache_i is not None:
                        cache_i.store(b.replications, res)
                    advance(len(b.replications))
            finally:
                stop()
    finally:
        if own_executor and ex is not None:
            ex.close()

    n_own = len(scs)
    own = sorted(k for k in parts if k[0] < n_own)
    held_keys = sorted(k for k in parts if k[0] >= n_own)
    reps = pd.concat([parts[k][0] for k in own], ignore_index=True)
    periods = pd.concat([parts[k][1] for k in own], ignore_index=True)
    deal_df = (
        pd.concat([parts[k][2] for k in own if parts[k][2] is not None], ignore_index=True) if deals else None
    )
    # deterministic row order whatever the executor
    reps = reps.sort_values(
        ["scenario", "replication", "year", "period", "rep_id"], key=_scenario_key(names)
    ).reset_index(drop=True)
    periods = periods.sort_values(
        ["scenario", "replication", "year", "period"], key=_scenario_key(names)
    ).reset_index(drop=True)
    if deal_df is not None:
        deal_df = deal_df.sort_values(
            ["scenario", "replication", "opportunity_id"], key=_scenario_key(names)
        ).reset_index(drop=True)
    direct = None
    if culture_split:
        direct = (
            pd.concat([parts[k][1] for k in held_keys], ignore_index=True)
            if held_keys
            else periods.iloc[0:0].copy()
        )
        direct = direct.sort_values(
            ["scenario", "replication", "year", "period"], key=_scenario_key(names)
        ).reset_index(drop=True)
    res = Results(reps=reps, periods=periods, deals=deal_df)
    meta = {
        "baseline": base,
        "baseline_hash": base_sc.hash,
        "baseline_description": base_sc.description,
        "baseline_source": _source(sources[base_i]),
        "seed": int(seed),
        "replications": R,
        "scenarios": {s.name: s.hash for s in scs},
        "scenario_sources": {s.name: _source(src) for s, src in zip(scs, sources, strict=True)},
        "scenario_yaml": {s.name: s.to_yaml() for s in scs},
        "executor": getattr(ex, "name", "cache") if todo else "cache",
        "computed_replications": todo,
        "culture_split": bool(culture_split),
    }
    return Comparison(
        results=res,
        summary=summarize(res.periods, base, names, direct, scs),
        baseline=base,
        scenarios=names,
        meta=meta,
        direct=direct,
    )


def _relabel(part: tuple, name: str) -> tuple:
    """Cached batches are keyed by content, not name: label them with this run's name."""
    out = []
    for df in part:
        if df is not None and "scenario" in df:
            df = df.assign(scenario=name)
        out.append(df)
    return tuple(out)


def _scenario_key(names: list[str]) -> Callable[[pd.Series], pd.Series]:
    order = {n: i for i, n in enumerate(names)}
    periods = {p: i for i, p in enumerate(("Q1", "Q2", "Q3", "Q4", "year"))}

    def key(s: pd.Series) -> pd.Series:
        if s.name == "scenario":
            return s.map(order)
        if s.name == "period":
            return s.map(periods)
        return s

    return key


def _t_ci(x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, CI low, CI high (95 %, Student t) and standard error."""
    r = mean_ci(x)
    return r.mean, r.low, r.high, r.se


def summarize(
    periods: pd.DataFrame,
    baseline: str,
    names: Sequence[str],
    direct: pd.DataFrame | None = None,
    scenarios: Mapping[str, Scenario] | Sequence[Scenario] | None = None,
) -> pd.DataFrame:
    """The paired summary of a comparison (intervals from :mod:`salessim.stats`).

    Per scenario and metric: mean and 95 % Student-t CI; against the baseline the paired difference
    and its 95 % CI, the unpaired (Welch–Satterthwaite) interval of the same difference for
    contrast, and P(better) — the probability that the variant's true mean is on the better side of
    the baseline's, NaN where it is undefined (one replication, or every paired difference equal).
    Each reported year (``year`` 1, 2, …) is summarised on its own.

    ``direct``: periods of the variants run with the baseline's culture path
    (:func:`compare` with ``culture_split``). Each difference is then split, replication by
    replication, into ``direct`` (held run − baseline) and ``mediated`` (variant − held run), each
    with its paired 95 % CI; they add up to ``diff``. Empty where a variant has no held run.

    ``scenarios``: the scenarios of the comparison (by name, or a list). Each year is then also
    priced (:mod:`salessim.costs`): the metrics ``cost`` and ``margin_less_cost`` (USD a year)
    are summarised like the others, and a variant's ``cost`` row carries its
    ``return_on_cost`` — extra gross margin per extra dollar of cost, only where it clearly costs
    more — and a ``cost_verdict`` in words (:func:`salessim.costs.return_on_cost`). Left out for
    a table written before costs were recorded.
    """
    rows = []
    if "year" not in periods:  # tables written before horizons could pass a year: one year
        periods = periods.assign(year=1)
    metrics = METRICS
    priced = _with_costs(periods, direct, scenarios)
    if priced is not None:
        periods, direct = priced
        metrics = {**METRICS, **COST_METRICS}
    for fy in sorted(periods["year"].unique()):
        year = periods[(periods["period"] == "year") & (periods["year"] == fy)]
        held = None
        if direct is not None and len(direct):
            d = direct.assign(year=1) if "year" not in direct else direct
            held = d[(d["period"] == "year") & (d["year"] == fy)]
        rows += _summary_rows(year, baseline, names, int(fy), held, metrics)
    cols = [
        "scenario",
        "year",
        "metric",
        "label",
        "n",
        "mean",
        "ci_low",
        "ci_high",
        "diff",
        "diff_ci_low",
        "diff_ci_high",
        "diff_rel",
        "diff_ci_low_unpaired",
        "diff_ci_high_unpaired",
        "p_better",
    ]
    if direct is not None:
        cols += list(SPLIT_COLUMNS)
    if priced is not None:
        cols += list(RETURN_COLUMNS)
        rows = _returns(rows, periods, baseline)
    return pd.DataFrame(rows).reindex(columns=cols)


#: Cost metrics of a summary whose scenarios are known (:mod:`salessim.costs`), USD a year.
COST_METRICS: dict[str, tuple[str, int]] = {
    "cost": ("cost (USD a year)", -1),
    "margin_less_cost": ("gross margin less cost (USD a year)", +1),
}
#: the summary's columns for what a variant returns on what it costs (on its ``cost`` rows)
RETURN_COLUMNS = ("margin_diff", "return_on_cost", "cost_verdict")


def _with_costs(
    periods: pd.DataFrame,
    direct: pd.DataFrame | None,
    scenarios: Mapping[str, Scenario] | Sequence[Scenario] | None,
) -> tuple[pd.DataFrame, pd.DataFrame | None] | None:
    """The year rows with their cost columns (cost, margin, margin_less_cost), or None.

    None without scenarios, or for a table written before costs were recorded.
    """
    from salessim.costs import cost_table

    if scenarios is None:
        return None
    by_name = dict(scenarios) if isinstance(scenarios, Mapping) else {s.name: s for s in scenarios}
    out = []
    for frame in (periods, direct):
        if frame is None or not len(frame):
            out.append(frame)
            continue
        years = frame[frame["period"] == "year"]
        try:
            priced = cost_table(years, by_name)
        except ValueError:
            return None
        out.append(years.assign(**{c: priced[c].to_numpy() for c in ("cost", "margin", "margin_less_cost")}))
    return out[0], out[1]


def _returns(rows: list[dict[str, Any]], periods: pd.DataFrame, baseline: str) -> list[dict[str, Any]]:
    """Each variant's ``cost`` row with its margin gained (paired), return on cost and verdict."""
    from salessim.costs import return_on_cost

    for r in rows:
        if r["metric"] != "cost" or r["scenario"] == baseline:
            continue
        year = periods[(periods["period"] == "year") & (periods["year"] == r["year"])]
        v, b = (
            year[year["scenario"] == n].set_index("replication")["margin"] for n in (r["scenario"], baseline)
        )
        pair = pd.concat([v, b], axis=1, keys=["v", "b"]).dropna()
        gain = paired_diff_ci(pair["v"].to_numpy(float), pair["b"].to_numpy(float)).mean
        ratio, verdict = return_on_cost(gain, r["diff"], r["diff_ci_low"], r["diff_ci_high"])
        r.update({"margin_diff": gain, "return_on_cost": ratio, "cost_verdict": verdict})
    return rows


#: the summary's columns for the split of an effect into its direct and culture-mediated parts
SPLIT_COLUMNS = (
    "direct",
    "direct_ci_low",
    "direct_ci_high",
    "mediated",
    "mediated_ci_low",
    "mediated_ci_high",
)


def _summary_rows(
    year: pd.DataFrame,
    baseline: str,
    names: Sequence[str],
    fy: int,
    held: pd.DataFrame | None = None,
    metrics: Mapping[str, tuple[str, int]] = METRICS,
) -> list[dict[str, Any]]:
    """The summary rows of one reported year (its ``year`` rows of every scenario)."""
    rows = []
    base = year[year["scenario"] == baseline].set_index("replication")
    for name in names:
        y = year[year["scenario"] == name].set_index("replication")
        h = (
            held[held["scenario"] == name].set_index("replication")
            if held is not None and name != baseline
            else None
        )
        for metric, (label, better) in metrics.items():
            if metric not in y:  # tables written before the metric existed
                continue
            v = y[metric].to_numpy(dtype=float)
            m, lo, hi, _ = _t_ci(v)
            row = {
                "scenario": name,
                "year": fy,
                "metric": metric,
                "label": label,
                "mean": m,
                "ci_low": lo,
                "ci_high": hi,
                "n": int(np.sum(~np.isnan(v))),
            }
            if name != baseline:
                pair = pd.concat([y[metric], base[metric]], axis=1, keys=["v", "b"]).dropna()
                va, vb = pair["v"].to_numpy(float), pair["b"].to_numpy(float)
                d = paired_diff_ci(va, vb)
                bm = float(vb.mean()) if vb.size else np.nan
                unpaired = welch_ci(va, vb)
                row.update(
                    {
                        "diff": d.mean,
                        "diff_ci_low": d.low,
                        "diff_ci_high": d.high,
                        "diff_rel": d.mean / bm if bm else np.nan,
                        "diff_ci_low_unpaired": unpaired.low,
                        "diff_ci_high_unpaired": unpaired.high,
                        "p_better": p_better(va, vb, better),
                    }
                )
                if h is not None and len(h):
                    trio = pd.concat(
                        [y[metric], h[metric], base[metric]], axis=1, keys=["v", "h", "b"]
                    ).dropna()
                    if len(trio):
                        tv, th, tb = (trio[c].to_numpy(float) for c in ("v", "h", "b"))
                        dd, dm = paired_diff_ci(th, tb), paired_diff_ci(tv, th)
                        row.update(
                            {
                                "direct": dd.mean,
                                "direct_ci_low": dd.low,
                                "direct_ci_high": dd.high,
                                "mediated": dm.mean,
                                "mediated_ci_low": dm.low,
                                "mediated_ci_high": dm.high,
                            }
                        )
            rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------
# sweeps and swings
# ------------------------------------------------------------------------------------------
def _coerce(text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "on", "yes"):
        return True
    if low in ("false", "off", "no"):
        return False
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    return t


def _not_variable(key: str) -> str | None:
    """Why the field ``key`` cannot be swept, or None if it can."""
    from salessim.scenario import _lookup_model

    reasons = {
        "name": "each sweep point is named after its values",
        "description": "it does not change what is simulated",
        "extends": "a sweep varies the fields of one scenario (compare scenarios with `salessim compare`)",
    }
    if key in reasons:
        return f"`{key}` cannot be varied: {reasons[key]}"
    section = _lookup_model(key.split("."))
    if section is not None:
        example = next(iter(section.model_fields))
        return f"`{key}` is a section, not a value: vary one of its fields (e.g. {key}.{example})"
    return None


def parse_vary(spec: str) -> tuple[str, list[Any]]:
    """``"coaching.joint_call_hours_per_week=0,2,4"`` → (field, [0, 2, 4]).

    Raises:
        ScenarioError: for a malformed spec, or a field that cannot be varied (``name``,
            ``description``, ``extends``, a whole section).
    """
    if "=" not in spec:
        raise ScenarioError(
            f"--vary {safe_repr(spec)}: expected FIELD=VALUE,VALUE,… "
            "(e.g. coaching.joint_call_hours_per_week=0,2,4,8)"
        )
    key, _, values = spec.partition("=")
    vals = [_coerce(v) for v in values.split(",") if v.strip() != ""]
    if not key.strip() or not vals:
        raise ScenarioError(f"--vary {safe_repr(spec)}: expected FIELD=VALUE,VALUE,…")
    why = _not_variable(key.strip())
    if why is not None:
        raise ScenarioError(
            f"--vary {safe_repr(spec)}: {why}; vary a field of the scenario, "
            "e.g. coaching.joint_call_hours_per_week=0,2,4"
        )
    return key.strip(), vals


def sweep_scenarios(scenario: Any, vary: Mapping[str, Sequence[Any]]) -> list[Scenario]:
    """One scenario per combination of the varied fields' values (validated)."""
    base = load_scenario(scenario)
    if not vary:
        raise ScenarioError("a sweep varies at least one field")
    for key in vary:
        why = _not_variable(key)
        if why is not None:
            raise ScenarioError(f"sweep of {base.name}: {why}")
    out = []
    for combo in itertools.product(*vary.values()):
        changes = dict(zip(vary.keys(), combo, strict=True))
        name = ", ".join(
            f"{k}={safe_repr(v, 40) if not isinstance(v, str) else v}" for k, v in changes.items()
        )
        try:
            sc = base.replace(**changes, name=name)
        except ScenarioError as e:
            raise ScenarioError(f"sweep of {base.name}: {e}") from None
        except (KeyError, IndexError, TypeError):
            raise ScenarioError(f"sweep of {base.name}: no field {', '.join(changes)}") from None
        out.append(sc)
    return out


def sweep(
    scenario: Any, vary: Mapping[str, Sequence[Any]], replications: int = 16, seed: int = 1, **kw: Any
) -> Comparison:
    """Vary fields over values (every combination; response curves, heat maps), baseline included."""
    base = load_scenario(scenario)
    points = 1
    for field_values in vary.values():
        points *= len(field_values)
    check_run_size(points, check_replications(replications))  # before building the points
    variants = sweep_scenarios(base, vary)
    comp = compare(
        [base, *[v for v in variants if v.hash != base.hash]],
        baseline=base.name,
        replications=replications,
        seed=seed,
        **kw,
    )
    # the varied values as columns, for plotting
    values = {
        v.name: dict(zip(vary, combo, strict=True))
        for v, combo in zip(variants, itertools.product(*vary.values()), strict=True)
    }
    current = {k: _get(base.to_dict(), k) for k in vary}
    values.setdefault(base.name, current)
    for frame in (comp.summary, comp.results.periods, comp.results.reps):
        for k in vary:
            frame[k] = frame["scenario"].map(lambda n, k=k: values.get(n, current)[k])
    comp.meta["vary"] = {k: list(v) for k, v in vary.items()}
    return comp


def _get(data: Mapping[str, Any], path: str) -> Any:
    cur: Any = data
    for k in path.split("."):
        cur = cur[int(k)] if isinstance(cur, list) else cur[k]
    return cur


#: The one-driver variants of the scenario library, by driver (docs/model.md#the-scenario-library).
DRIVER_VARIANTS: dict[str, tuple[str, ...]] = {
    "1 goal clarity": ("goals_focused", "goals_many"),
    "2 tactical prescription": ("prescription",),
    "3 performance metrics": ("metrics_stage",),
    "4 CRM adoption": ("crm_full",),
    "5 manager training": ("managers_trained",),
    "6 joint calls": ("coaching_none", "coaching_high"),
    "7 review cadence": ("reviews_quarterly", "reviews_monthly"),
}


def _diff(new: Any, old: Any) -> Any:
    """The parts of ``new`` that differ from ``old`` (mappings recursively; None if none)."""
    if isinstance(new, Mapping) and isinstance(old, Mapping):
        out = {}
        for k, v in new.items():
            if k not in old:
                out[k] = v
            else:
                d = _diff(v, old[k])
                if d is not None:
                    out[k] = d
        return out or None
    return None if new == old else new


def variant_changes(name: str, directory: Path = SCENARIO_DIR) -> dict[str, Any]:
    """What a library variant changes: its fields that differ from the library baseline's.

    ``directory`` is the scenario library (its ``baseline.yaml`` and ``NAME.yaml``). Mappings
    are compared field by field; a list (the goals) is one value, replaced whole.
    """
    directory = Path(directory)
    lib = load_scenario(directory / "baseline.yaml").to_dict()
    var = load_scenario(directory / f"{name}.yaml").to_dict()
    for d in (lib, var):
        d.pop("name", None)
        d.pop("description", None)
    return _diff(var, lib) or {}


def variants_over(
    base: Scenario, changes: Mapping[str, Mapping[str, Any]], skip_invalid: bool = False
) -> tuple[list[Scenario], dict[str, str]]:
    """Each variant's changes laid over ``base``: the variant of *that* sales force.

    Only the fields a variant changes are replaced; everything else (a calibrated funnel, deal
    sizes, the organisation) stays as ``base`` has it. Each variant is named as in ``changes``.

    Returns:
        The variants, and those that are not a valid scenario over ``base`` with the reason
        (e.g. a goal on a product ``base`` does not sell); with ``skip_invalid`` False such a
        variant raises instead.

    Raises:
        ScenarioError: a variant that is not valid over ``base`` (naming it and the problem).
    """
    from salessim.scenario import deep_merge

    data = base.to_dict()
    out, skipped = [], {}
    for name, ch in changes.items():
        merged = deep_merge(data, dict(ch))
        merged["name"] = name
        merged["description"] = f"{name} laid over {base.name}"
        try:
            out.append(load_scenario(merged))
        except ScenarioError as e:
            lines = [x.strip() for x in str(e).splitlines() if x.strip()]
            why = "; ".join(lines[1:4] if len(lines) > 1 else lines).removeprefix("<dict>: ")
            if not skip_invalid:
                raise ScenarioError(f"{name}'s changes cannot be laid over {base.name}: {why}") from None
            skipped[name] = why
    return out, skipped


def library_swings(
    replications: int = 16, seed: int = 1, directory: Path = SCENARIO_DIR, baseline: Any = None, **kw: Any
) -> Comparison:
    """Every one-driver variant of the library against a baseline (for the tornado chart).

    Args:
        replications, seed: as for :func:`compare` (common random numbers).
        directory: the scenario library (``baseline.yaml`` and one file per variant).
        baseline: the sales force the variants are tried on: a Scenario, a YAML file (e.g.
            one ``salessim calibrate`` wrote) or a library name. Each variant's *changes* (its
            fields that differ from the library's baseline, :func:`variant_changes`) are laid
            over it (:func:`variants_over`); the rest of the baseline — its calibrated funnel,
            deal sizes, organisation — stays. A variant that is not valid over it (a goal on a
            product it does not sell) is left out and named in ``meta["skipped"]``. Default:
            the library's own ``baseline.yaml`` and variant files.
        **kw: passed to :func:`compare`.

    The comparison's ``meta`` names the baseline (``baseline``, ``baseline_source``,
    ``baseline_hash``, ``baseline_description``).
    """
    directory = Path(directory)
    names = [*[n for v in DRIVER_VARIANTS.values() for n in v], "best_practice"]
    skipped: dict[str, str] = {}
    if baseline is None:
        source: Any = directory / "baseline.yaml"
        base_sc = load_scenario(source)
        scs: list[Any] = [source, *[directory / f"{n}.yaml" for n in names]]
    else:
        source = baseline
        base_sc = load_scenario(baseline)
        if base_sc.name in names:  # a variant chosen as the baseline: its name is the variants'
            base_sc = base_sc.model_copy(update={"name": "baseline"})
        variants, skipped = variants_over(
            base_sc, {n: variant_changes(n, directory) for n in names}, skip_invalid=True
        )
        scs = [base_sc, *variants]
    comp = compare(scs, baseline=base_sc.name, replications=replications, seed=seed, **kw)
    comp.meta.update(
        {"baseline_source": _source(source), "variants_from": str(directory), "skipped": skipped}
    )
    driver = {n: d for d, v in DRIVER_VARIANTS.items() for n in v}
    driver["best_practice"] = "all eight"
    comp.summary["driver"] = comp.summary["scenario"].map(driver)
    return comp
