"""What if …? One change to the main levers, against a baseline, answered while the user watches.

:func:`what_if` applies a few lever settings to a baseline scenario and runs a small paired
comparison (common random numbers: the same reps and the same market in both arms). The
``what_if`` notebook puts a slider or picker on every lever of :data:`LEVERS` and calls it on each
change; it also runs headless (papermill) with the settings given as a parameter.

A :class:`WhatIfSession` keeps one warm worker pool and remembers the answers it has given, so
moving a slider back is instant and the baseline arm, once run, comes from the simulation cache.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from salessim.executors import make_executor
from salessim.experiments import Comparison, compare
from salessim.scenario import Scenario, ScenarioError, load_scenario, safe_repr

__all__ = [
    "HEADLINE",
    "LEVERS",
    "Lever",
    "WhatIf",
    "WhatIfSession",
    "apply_levers",
    "lever_values",
    "parse_settings",
    "what_if",
]


@dataclass(frozen=True)
class Lever:
    """One lever of the what-if: a scenario field (or the goal plan) and how a widget sets it."""

    path: str  #: scenario field (dotted), or ``goals`` for the goal plan
    label: str  #: what a sales leader calls it
    driver: str  #: the driver it belongs to, or the part of the plan (quota, headcount, territory)
    kind: str  #: "float", "int", "bool" or "choice"
    low: float = 0.0
    high: float = 1.0
    step: float = 1.0
    choices: tuple[str, ...] = ()


#: The goal plans a what-if can pick: the library scenario whose ``goals`` section is laid over the
#: baseline ("as is" keeps the baseline's own plan).
GOAL_PLANS: dict[str, str | None] = {
    "as is": None,
    "two focused goals": "goals_focused",
    "six goals": "goals_many",
}

#: The main lever of each driver, then quota, headcount and territory.
LEVERS: tuple[Lever, ...] = (
    Lever("goals", "goal plan", "1 goal clarity", "choice", choices=tuple(GOAL_PLANS)),
    Lever("prescription.enabled", "tactical prescription", "2 tactical prescription", "bool"),
    Lever(
        "metrics",
        "performance metrics",
        "3 performance metrics",
        "choice",
        choices=("outcomes", "pipeline", "stage"),
    ),
    Lever("crm.adoption", "CRM adoption (share of deals logged)", "4 CRM adoption", "float", 0.0, 1.0, 0.05),
    Lever(
        "managers.training", "manager training", "5 manager training", "choice", choices=("none", "trained")
    ),
    Lever(
        "coaching.joint_call_hours_per_week",
        "joint-call hours per manager-week",
        "6 joint calls",
        "float",
        0.0,
        16.0,
        1.0,
    ),
    Lever(
        "coaching.targeting",
        "whom managers coach",
        "6 joint calls",
        "choice",
        choices=("none", "reactive", "round_robin", "gap_targeted", "top_performers"),
    ),
    Lever(
        "reviews.cadence",
        "review cadence",
        "7 review cadence",
        "choice",
        choices=("annual", "semiannual", "quarterly", "monthly"),
    ),
    Lever("culture.enabled", "culture moves with experience (off: frozen)", "8 culture", "bool"),
    Lever(
        "organisation.quota", "annual quota per rep (USD)", "quota", "float", 400_000.0, 3_000_000.0, 50_000.0
    ),
    Lever("organisation.managers", "first-line managers", "headcount", "int", 1, 30, 1),
    Lever("organisation.span", "reps per manager", "headcount", "int", 2, 15, 1),
    Lever("territory.accounts", "accounts per rep's territory", "territory", "int", 100, 2000, 50),
)
_BY_PATH = {lever.path: lever for lever in LEVERS}

#: The headline metrics a what-if answers with: summary metric → (label, unit, higher is better).
HEADLINE: dict[str, tuple[str, str, int]] = {
    "revenue": ("revenue per year", "USD", +1),
    "pct_at_quota": ("reps at quota", "share", +1),
    "win_rate": ("win rate", "share", +1),
    "turnover": ("rep turnover", "share", -1),
    "cost": ("cost per year", "USD", -1),
}


def _get(data: Mapping[str, Any], path: str) -> Any:
    cur: Any = data
    for k in path.split("."):
        cur = cur[k]
    return cur


def lever_values(baseline: Scenario) -> dict[str, Any]:
    """Every lever's value in ``baseline`` (the goal plan: ``as is``)."""
    data = baseline.to_dict()
    return {lv.path: ("as is" if lv.path == "goals" else _get(data, lv.path)) for lv in LEVERS}


def _check(lever: Lever, value: Any) -> Any:
    bad = ScenarioError(
        f"what-if lever `{lever.path}` = {safe_repr(value)}: expected "
        + (
            f"one of {', '.join(lever.choices)}"
            if lever.kind == "choice"
            else "true or false"
            if lever.kind == "bool"
            else f"a number from {lever.low:g} to {lever.high:g}"
        )
    )
    if lever.kind == "choice":
        if not isinstance(value, str) or value not in lever.choices:
            raise bad
        return value
    if lever.kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad
    if not lever.low <= value <= lever.high:
        raise bad
    if lever.kind == "int":
        if value != int(value):
            raise bad
        return int(value)
    return float(value)


def apply_levers(baseline: Scenario, settings: Mapping[str, Any]) -> Scenario:
    """The baseline with the lever settings applied.

    Each setting is checked against its lever's range or choices (a ScenarioError names lever and
    value). Settings equal to the baseline's own values change nothing.
    """
    changes: dict[str, Any] = {}
    goals = None
    for path, value in settings.items():
        lever = _BY_PATH.get(path)
        if lever is None:
            raise ScenarioError(
                f"what-if lever `{safe_repr(path)}` is not a lever; the levers are " + ", ".join(_BY_PATH)
            )
        value = _check(lever, value)
        if path == "goals":
            name = GOAL_PLANS[value]
            if name is not None:
                goals = load_scenario(name).to_dict()["goals"]
        else:
            changes[path] = value
    data = baseline.to_dict()
    if goals is not None:
        data["goals"] = goals
    for path, value in changes.items():
        keys = path.split(".")
        cur = data
        for k in keys[:-1]:
            cur = cur[k]
        cur[keys[-1]] = value
    data["name"] = "what if" if (changes or goals is not None) else baseline.name
    data["description"] = describe(settings) or baseline.description
    return load_scenario(data)


def describe(settings: Mapping[str, Any]) -> str:
    """The settings as a sentence's worth of text: ``joint-call hours … = 8; review cadence = …``."""
    return "; ".join(
        f"{_BY_PATH[p].label} = {v:,g}"
        if isinstance(v, int | float) and not isinstance(v, bool)
        else f"{_BY_PATH[p].label} = {v}"
        for p, v in settings.items()
        if p in _BY_PATH
    )


def parse_settings(text: str, source: str = "changes") -> dict[str, Any]:
    """Lever settings from YAML text (``coaching.joint_call_hours_per_week: 8``); empty → none."""
    from salessim.scenario import load_yaml_text

    if not text or not text.strip():
        return {}
    data = load_yaml_text(text, source)
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a mapping of lever: value, got {safe_repr(data)}")
    return {str(k): v for k, v in data.items()}


@dataclass
class WhatIf:
    """A what-if's answer: the headline metrics paired against the baseline.

    ``table`` holds the numbers (metric, baseline, what_if, difference, CI, P(better));
    ``distributions`` the per-replication values behind them (arm, replication, metric, value).
    """

    baseline: Scenario
    variant: Scenario
    settings: dict[str, Any]
    table: pd.DataFrame
    distributions: pd.DataFrame
    replications: int
    seed: int
    comparison: Comparison | None = field(default=None, repr=False)

    @property
    def changed(self) -> bool:
        """Whether the settings change the baseline at all."""
        return self.variant.hash != self.baseline.hash


def _answer(
    base: Scenario,
    variant: Scenario,
    settings: dict[str, Any],
    comp: Comparison,
    replications: int,
    seed: int,
) -> WhatIf:
    s = comp.summary
    s = s[s["year"] == s["year"].min()]
    rows, dist = [], []
    for metric, (label, unit, better) in HEADLINE.items():
        base_row = s[(s["metric"] == metric) & (s["scenario"] == base.name)]
        var_row = s[(s["metric"] == metric) & (s["scenario"] == variant.name)]
        if base_row.empty or var_row.empty:
            continue
        b, v = base_row.iloc[0], var_row.iloc[0]
        same = variant.name == base.name
        rows.append(
            {
                "metric": metric,
                "label": label,
                "unit": unit,
                "better": better,
                "baseline": float(b["mean"]),
                "what_if": float(v["mean"]),
                "difference": 0.0 if same else float(v["diff"]),
                "ci_low": 0.0 if same else float(v["diff_ci_low"]),
                "ci_high": 0.0 if same else float(v["diff_ci_high"]),
                "p_better": math.nan if same else float(v["p_better"]),
            }
        )
        try:
            pair = comp.paired(metric, variant.name)
        except KeyError:  # not a periods column (e.g. priced afterwards): no distribution
            continue
        for arm, col in (("baseline", "baseline"), ("what if", "variant")):
            for r, val in pair[col].items():
                dist.append({"arm": arm, "replication": int(r), "metric": metric, "value": float(val)})
    table = pd.DataFrame(rows)
    return WhatIf(base, variant, settings, table, pd.DataFrame(dist), replications, seed, comp)


def what_if(
    baseline: Any,
    settings: Mapping[str, Any],
    replications: int = 8,
    seed: int = 1,
    executor: Any = None,
    workers: int | None = None,
    cache: bool | Any = True,
) -> WhatIf:
    """Run the baseline and the baseline with ``settings`` applied, paired on common random numbers.

    Args:
        baseline: scenario (object, YAML path, library name or mapping).
        settings: lever path → value, for levers in :data:`LEVERS` (checked against their ranges).
        replications, seed: the paired comparison's size and root seed.
        executor, workers, cache: as for :func:`salessim.experiments.compare`.
    """
    base = load_scenario(baseline)
    settings = dict(settings)
    variant = apply_levers(base, settings)
    scenarios = [base] if variant.hash == base.hash else [base, variant]
    comp = compare(
        scenarios,
        baseline=base.name,
        replications=replications,
        seed=seed,
        executor=executor,
        workers=workers,
        cache=cache,
        progress=False,
    )
    if variant.hash == base.hash:
        variant = base
    return _answer(base, variant, settings, comp, replications, seed)


class WhatIfSession:
    """Repeated what-ifs against one baseline: one warm worker pool, answers remembered."""

    def __init__(
        self,
        baseline: Any,
        replications: int = 8,
        seed: int = 1,
        workers: int | None = None,
        cache: bool | Any = True,
    ) -> None:
        self.baseline = load_scenario(baseline)
        self.replications, self.seed, self.cache = replications, seed, cache
        self._executor = make_executor(workers=workers)
        self._answers: dict[str, WhatIf] = {}

    def ask(self, settings: Mapping[str, Any]) -> WhatIf:
        """The answer for these settings (remembered: asking again is instant)."""
        variant = apply_levers(self.baseline, settings)
        key = variant.hash
        if key not in self._answers:
            self._answers[key] = what_if(
                self.baseline,
                settings,
                self.replications,
                self.seed,
                executor=self._executor,
                cache=self.cache,
            )
        return self._answers[key]

    def close(self) -> None:
        """Stop the worker pool."""
        self._executor.close()

    def __enter__(self) -> WhatIfSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def changed_settings(baseline: Scenario, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Only the settings that differ from the baseline's own values."""
    current = lever_values(baseline)
    return {k: v for k, v in settings.items() if current.get(k) != v}


# ------------------------------------------------------------------------------------------
# presenting an answer (the what_if notebook)
# ------------------------------------------------------------------------------------------
def _effects(answer: WhatIf) -> dict[str, Any]:
    """Each headline metric's paired difference as a notebook Effect (relative for money)."""
    from salessim.notebook_helpers import Effect

    out = {}
    for r in answer.table.itertuples():
        if r.unit == "USD":
            scale = r.baseline if r.baseline else math.nan
            out[r.metric] = Effect(
                r.difference / scale, r.ci_low / scale, r.ci_high / scale, answer.replications, "rel"
            )
        else:
            out[r.metric] = Effect(r.difference, r.ci_low, r.ci_high, answer.replications, "pts")
    return out


def what_if_findings(answer: WhatIf, findings: Any) -> None:
    """One finding per headline metric: its direction only when the 95 % CI excludes zero."""
    from salessim.notebook_helpers import direction_sentence

    what = describe(answer.settings) if answer.changed else ""
    if not answer.changed:
        findings.add(
            "no_change",
            "Nothing changes: every lever is where the baseline has it.",
            "Move a lever (or give `changes`) to ask a what-if.",
        )
        return
    for r, eff in zip(answer.table.itertuples(), _effects(answer).values(), strict=True):
        name = r.label[0].upper() + r.label[1:]
        good = (eff.mean > 0) == (r.better > 0)
        up, down = f"{name} rises", f"{name} falls"
        sentence = direction_sentence(
            eff,
            f"{up} by {eff.text().lstrip('+')}",
            f"{down} by {eff.text().lstrip('−')}",
            unclear=f"{name}: no clear change",
        )
        meaning = "" if eff.direction in (None, 0) else "A gain." if good else "A loss."
        findings.add(
            r.metric, f"{sentence} with {what}.", meaning, effect=eff, baseline=r.baseline, what_if=r.what_if
        )


def what_if_table(answer: WhatIf) -> pd.DataFrame:
    """The answer as a display table (text, for the page); ``answer.table`` keeps the numbers."""
    from salessim.notebook_helpers import fmt_money, fmt_pct

    rows = []
    for r, eff in zip(answer.table.itertuples(), _effects(answer).values(), strict=True):
        value = fmt_money if r.unit == "USD" else fmt_pct
        rows.append(
            {
                "metric": r.label,
                "baseline": value(r.baseline),
                "what if": value(r.what_if),
                "difference": eff.short(),
                "95 % CI": eff.ci_range(),
                "P(better)": "–" if not math.isfinite(r.p_better) else f"{100 * r.p_better:.0f} %",
            }
        )
    return pd.DataFrame(rows)


def what_if_figure(answer: WhatIf, fig: Any = None) -> Any:
    """Left: each arm's simulated years (revenue); right: every metric's difference with its CI."""
    import matplotlib.pyplot as plt

    from salessim.notebook_helpers import BAD, GOOD, GREY

    if fig is None:
        fig = plt.figure(figsize=(11, 4.2))
    else:
        fig.clear()
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    d = answer.distributions
    rev = d[d["metric"] == "revenue"] if len(d) else d
    for i, arm in enumerate(("baseline", "what if")):
        v = rev[rev["arm"] == arm]["value"].to_numpy() / 1e6 if len(rev) else []
        left.scatter([i] * len(v), v, color=GREY if arm == "baseline" else GOOD, alpha=0.7, s=28)
        if len(v):
            left.hlines(float(sum(v) / len(v)), i - 0.25, i + 0.25, color="#222", lw=2)
    left.set_xticks([0, 1], ["baseline", "what if"])
    left.set_xlim(-0.6, 1.6)
    left.set_ylabel("revenue per simulated year (USD million)")
    left.set_title("Each simulated year, both arms")
    effects = _effects(answer)
    labels = [r.label for r in answer.table.itertuples()]
    for i, (r, eff) in enumerate(zip(answer.table.itertuples(), effects.values(), strict=True)):
        scale = 100.0
        good = (eff.mean > 0) == (r.better > 0)
        color = GREY if eff.direction in (None, 0) else GOOD if good else BAD
        if math.isfinite(eff.low):
            right.hlines(i, scale * eff.low, scale * eff.high, color=color, lw=3)
        right.plot([scale * eff.mean], [i], "o", color=color)
    right.axvline(0, color="#444", lw=1)
    right.set_yticks(range(len(labels)), labels)
    right.invert_yaxis()
    right.set_xlabel("difference: % for USD figures, points for shares (95 % CI)")
    right.set_title("What the change does")
    fig.tight_layout()
    return fig


def what_if_widgets(session: WhatIfSession, settings: Mapping[str, Any] | None = None) -> Any:
    """Sliders and pickers for every lever; each change reruns the what-if and redraws."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from salessim.notebook_helpers import show_table

    current = {**lever_values(session.baseline), **dict(settings or {})}
    controls: dict[str, Any] = {}
    style = {"description_width": "360px"}
    layout = w.Layout(width="760px")
    for lv in LEVERS:
        value = current[lv.path]
        desc = f"{lv.driver}: {lv.label}"
        if lv.kind == "choice":
            c = w.Dropdown(
                options=list(lv.choices), value=value, description=desc, style=style, layout=layout
            )
        elif lv.kind == "bool":
            c = w.Checkbox(value=bool(value), description=desc, style=style, layout=layout, indent=False)
        elif lv.kind == "int":
            c = w.IntSlider(
                value=int(value),
                min=int(lv.low),
                max=int(lv.high),
                step=int(lv.step),
                description=desc,
                style=style,
                layout=layout,
                continuous_update=False,
            )
        else:
            c = w.FloatSlider(
                value=float(value),
                min=lv.low,
                max=lv.high,
                step=lv.step,
                description=desc,
                style=style,
                layout=layout,
                continuous_update=False,
                readout_format=",.2f",
            )
        controls[lv.path] = c
    status = w.HTML()
    out = w.Output()

    def redraw(_: Any = None) -> None:
        chosen = changed_settings(session.baseline, {p: c.value for p, c in controls.items()})
        status.value = "<i>running …</i>"
        t0 = time.perf_counter()
        try:
            answer = session.ask(chosen)
        except ScenarioError as e:
            status.value = f"<b>Not a valid scenario:</b> {html.escape(str(e).splitlines()[0])}"
            return
        with out:
            out.clear_output(wait=True)
            fig = what_if_figure(answer)
            display(fig)
            plt.close(fig)
            show_table(what_if_table(answer), caption=f"What if {describe(chosen) or 'nothing changes'}")
        status.value = (
            f"{answer.replications} paired simulated years; answered in {time.perf_counter() - t0:.1f} s"
        )

    for c in controls.values():
        c.observe(redraw, names="value")
    redraw()
    return w.VBox(
        [w.HTML("<b>Levers</b> (each change reruns the paired comparison)"), *controls.values(), status, out]
    )
