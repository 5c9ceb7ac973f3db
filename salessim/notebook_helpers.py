"""Helpers for the report notebooks (``notebooks/*.ipynb``).

The notebooks answer a sales leader's question; these helpers keep them short and consistent:
where files are, paired effects with 95 % confidence intervals, findings in plain sentences
(shown as Markdown, saved as ``findings.json``), number formats, one figure style, formatted
tables, the assumptions register and run metadata.
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from salessim.io import atomic_write_text
from salessim.resources import ROOT
from salessim.scenario import Scenario, assumptions_register, load_scenario

__all__ = [
    "BAD",
    "GOOD",
    "GREY",
    "ROOT",
    "XLSX_FORMATS",
    "Effect",
    "Findings",
    "assumptions_section",
    "capacity_numbers",
    "capacity_table",
    "direction_sentence",
    "effect_chart",
    "effect_columns",
    "escape_markdown",
    "figure_note",
    "fmt_days",
    "fmt_money",
    "fmt_pct",
    "fmt_pts",
    "goal_attainment",
    "goal_label",
    "input_path",
    "load_input_scenario",
    "mean_ci",
    "number_word",
    "output_path",
    "paired",
    "per_replication",
    "prospecting_mix",
    "quick_mode",
    "record_baseline",
    "rep_coverage",
    "report_cache",
    "run_checked",
    "run_metadata",
    "save_table",
    "scenario_mean",
    "setup_figures",
    "show_metadata",
    "show_preformatted",
    "show_table",
    "show_time_frame",
    "time_frame",
    "wilson",
    "wrap_title",
    "year_rows",
]

NBSP = "\u00a0"
GOOD, BAD, GREY, ACCENT = "#2a9d8f", "#e76f51", "#8d99ae", "#264653"


# ------------------------------------------------------------------------------------------
# where things are
# ------------------------------------------------------------------------------------------
def quick_mode() -> bool:
    """True when ``SALESSIM_QUICK`` asks for a fast smoke run (CI, ``pytest --nbval-lax``)."""
    return os.environ.get("SALESSIM_QUICK", "").strip().lower() in ("1", "true", "yes", "on")


def _base() -> Path:
    """Relative paths are read from the project root when a notebook runs inside ``notebooks/``."""
    cwd = Path.cwd()
    if cwd.resolve() == (ROOT / "notebooks").resolve():
        return ROOT
    return cwd


def input_path(path: str | Path) -> Path:
    """An input file: absolute, or relative to the working directory, else to the project root."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    for base in (_base(), ROOT):
        if (base / p).exists():
            return (base / p).resolve()
    return (_base() / p).resolve()


def load_input_scenario(source: str | Path) -> Scenario:
    """A scenario parameter: a YAML file (found as :func:`input_path` finds it) or a library name.

    A library name (``"baseline"``) is looked up in the scenario library, so a report's default
    scenarios never depend on the working directory.
    """
    path = input_path(source)
    return load_scenario(path if path.is_file() else str(source))


def output_path(path: str | Path) -> Path:
    """The output directory (created): absolute, or relative to the working directory."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = _base() / p
    p.mkdir(parents=True, exist_ok=True)
    return p.resolve()


def report_cache(report: str) -> Path:
    """The simulation cache of one report: ``<cache root>/reports/<report>``.

    Each report keeps its own cache so that a scenario cached under another name elsewhere (the
    cache is keyed by scenario content) cannot come back labelled with that other name.
    """
    from salessim.experiments import cache_root

    return cache_root() / "reports" / report


def run_checked(run: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run ``compare`` / ``sweep`` / ``library_swings`` with the cache, checking scenario names.

    If results come back under scenario names other than the ones asked for, rerun without the
    cache. Works around results served from the cache keeping the scenario name they were first stored
    under (same content, different name).
    """
    comp = run(*args, **kw)
    names = set(comp.scenarios)
    if set(comp.results.periods["scenario"].unique()) != names or (
        comp.results.deals is not None and not set(comp.results.deals["scenario"].unique()) <= names
    ):
        comp = run(*args, **{**kw, "cache": False})
    return comp


# ------------------------------------------------------------------------------------------
# text from data, made safe for the HTML report
# ------------------------------------------------------------------------------------------
#: Characters that Markdown gives a meaning (emphasis, code, links and images, headings, lists,
#: tables, strike-through, maths); ``&``, ``<``, ``>`` and quotes become HTML entities instead.
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:^=])")


def escape_markdown(text: Any) -> str:
    """Any text — names from a CRM export, file names, scenario names — as literal Markdown.

    HTML is escaped (``<img …>`` stays text) and every character Markdown would act on is
    backslash-escaped, so a name can neither inject markup nor a link or an image. Line breaks
    become spaces: a name cannot start a block (a heading, a list, code) of its own.
    """
    flat = re.sub(r"[\r\n\f\v\u2028\u2029]+", " ", str(text))
    return html.escape(_MARKDOWN_ACTIVE.sub(r"\\\1", flat), quote=True)


def _text_cell(v: Any) -> str:
    """A table cell (or header) without a format of its own: its text, HTML-escaped."""
    return html.escape(str(v), quote=True)


def _escaped(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    """A cell format whose output is HTML-escaped (formats may carry names from the data)."""

    def cell(v: Any) -> str:
        return html.escape(str(fmt(v)), quote=True)

    return cell


def _styler(
    df: pd.DataFrame, formats: Mapping[str, Callable[[Any], str]], caption: str = "", index: bool = False
) -> Any:
    """A pandas Styler in which every cell, header and the caption is HTML-escaped."""
    fm = {c: _escaped(formats[c]) if c in formats else _text_cell for c in df.columns}
    st = df.style.format(fm, na_rep="–")
    st = st.format_index(_text_cell, axis=0).format_index(_text_cell, axis=1)
    if not index:
        st = st.hide(axis="index")
    if caption:
        st = st.set_caption(html.escape(caption, quote=True))
    return st


# ------------------------------------------------------------------------------------------
# formats: money, percentages, points, days
# ------------------------------------------------------------------------------------------
def fmt_money(v: float, signed: bool = False) -> str:
    """$87.9M, $1.10M, $25.3K, $950 (sign optional)."""
    if v is None or not np.isfinite(v):
        return "–"
    sign = ("+" if v > 0 else "−" if v < 0 else "") if signed else ("−" if v < 0 else "")
    a = abs(v)
    if a >= 1e9:
        s = f"{a / 1e9:.2f}B"
    elif a >= 1e7:
        s = f"{a / 1e6:.1f}M"
    elif a >= 1e6:
        s = f"{a / 1e6:.2f}M"
    elif a >= 1e4:
        s = f"{a / 1e3:.0f}K"
    elif a >= 1e3:
        s = f"{a / 1e3:.1f}K"
    else:
        s = f"{a:,.0f}"
    return f"{sign}${s}"


def fmt_pct(v: float, decimals: int = 1, signed: bool = False) -> str:
    """A fraction as a percentage: 0.061 → ``6.1 %`` (``+6.1 %`` when signed)."""
    if v is None or not np.isfinite(v):
        return "–"
    x = 100 * v
    if signed:
        s = f"{abs(x):.{decimals}f}"
        sign = "+" if round(x, decimals) > 0 else "−" if round(x, decimals) < 0 else "±"
        return f"{sign}{s}{NBSP}%"
    return f"{x:.{decimals}f}{NBSP}%".replace("-", "−")


def fmt_pts(v: float, decimals: int = 1, signed: bool = True) -> str:
    """A difference of two shares in percentage points: 0.012 → ``+1.2 points``."""
    if v is None or not np.isfinite(v):
        return "–"
    x = 100 * v
    unit = "point" if abs(round(x, decimals)) == 1 else "points"
    if signed:
        sign = "+" if round(x, decimals) > 0 else "−" if round(x, decimals) < 0 else "±"
        return f"{sign}{abs(x):.{decimals}f}{NBSP}{unit}"
    return f"{x:.{decimals}f}{NBSP}{unit}"


def fmt_days(v: float, signed: bool = False) -> str:
    """Days, rounded: ``45 days`` (``−38 days`` when signed)."""
    if v is None or not np.isfinite(v):
        return "–"
    unit = "day" if round(abs(v)) == 1 else "days"
    if signed:
        sign = "+" if round(v) > 0 else "−" if round(v) < 0 else "±"
        return f"{sign}{abs(v):.0f}{NBSP}{unit}"
    return f"{v:.0f}{NBSP}{unit}"


# ------------------------------------------------------------------------------------------
# effects with confidence intervals
# ------------------------------------------------------------------------------------------
def mean_ci(x: Iterable[float]) -> tuple[float, float, float, int]:
    """Mean and 95 % Student-t confidence interval: (mean, low, high, n); non-finite values left out."""
    from salessim import stats as sstats

    a = np.asarray(list(x) if not isinstance(x, np.ndarray | pd.Series) else x, dtype=float)
    r = sstats.mean_ci(a[np.isfinite(a)])
    return r.mean, r.low, r.high, r.n


_KIND_FMT: dict[str, Callable[..., str]] = {
    "rel": lambda v, s: fmt_pct(v, signed=s),
    "pct": lambda v, s: fmt_pct(v, signed=s),
    "pts": lambda v, s: fmt_pts(v, signed=s),
    "days": lambda v, s: fmt_days(v, signed=s),
    "money": lambda v, s: fmt_money(v, signed=s),
    "num": lambda v, s: f"{v:+,.1f}" if s else f"{v:,.1f}",
}


@dataclass(frozen=True)
class Effect:
    """A paired effect (variant − baseline) with its 95 % CI.

    ``kind`` says how to read it: ``rel`` relative change (fraction), ``pts`` difference of shares
    in percentage points, ``days``, ``money`` or ``num``.
    """

    mean: float
    low: float
    high: float
    n: int
    kind: str = "rel"

    @property
    def clear(self) -> bool:
        """The 95 % CI excludes zero: the direction of the effect is not in doubt."""
        return bool(np.isfinite(self.low) and (self.low > 0 or self.high < 0))

    @property
    def direction(self) -> int | None:
        """+1 or −1 when the 95 % CI lies above or below zero, 0 when it includes zero.

        ``None`` when the data cannot tell: fewer than two replications, or no finite interval.
        """
        if self.n < 2 or not (np.isfinite(self.mean) and np.isfinite(self.low) and np.isfinite(self.high)):
            return None
        if self.low > 0:
            return 1
        if self.high < 0:
            return -1
        return 0

    def _replications(self) -> str:
        return f"{self.n:,} replication" + ("" if self.n == 1 else "s")

    def undecided(self, interval: bool = True) -> str:
        """Why no direction is claimed, as a clause.

        ``the difference (+1.2 %; 95 % CI −0.5 % to +2.9 %) is not distinguishable from zero with
        4 replications``; with one replication or none, that they cannot tell a direction.

        Args:
            interval: give the difference and its interval (leave out in chart titles).
        """
        if self.n < 1 or not np.isfinite(self.mean):
            return "no replication had the data to measure the difference"
        if self.direction is None:
            value = fmt_pts(self.mean) if self.kind == "pts" else self.fmt(self.mean, True)
            return (
                f"the difference ({value}) comes from {self._replications()}, too few to tell a direction"
                if interval
                else f"{self._replications()} cannot tell a direction"
            )
        what = f"the difference ({self.brief()})" if interval else "the difference"
        return f"{what} is not distinguishable from zero with {self._replications()}"

    @property
    def half_width(self) -> float:
        """Half the width of the 95 % CI (in the effect's own unit)."""
        return (self.high - self.low) / 2

    def fmt(self, v: float, signed: bool = False) -> str:
        """A value in this effect's unit."""
        return _KIND_FMT[self.kind](v, signed)

    def _pair(self, lo: float, hi: float, signed: bool) -> str:
        """``5.2 % to 7.0 %``, ``+1.2 to +3.4 points``, ``91 to 110 days``."""
        if self.kind in ("pts", "days"):
            scale = 100.0 if self.kind == "pts" else 1.0
            dec = 1 if self.kind == "pts" else 0
            unit = "points" if self.kind == "pts" else "days"

            def num(v: float) -> str:
                x = round(scale * v, dec)
                if not signed:
                    return f"{x:.{dec}f}".replace("-", "−")
                sign = "+" if x > 0 else "−" if x < 0 else "±"
                return f"{sign}{abs(x):.{dec}f}"

            return f"{num(lo)} to {num(hi)}{NBSP}{unit}"
        return f"{self.fmt(lo, signed)} to {self.fmt(hi, signed)}"

    def ci(self, magnitude: bool = False) -> str:
        """``95 % CI 5.2 % to 7.0 %`` (as magnitudes of a negative effect when asked)."""
        if not np.isfinite(self.low):
            return "no CI with one replication"
        if magnitude and self.clear:
            lo, hi = sorted((abs(self.low), abs(self.high)))
            return f"95{NBSP}% CI {self._pair(lo, hi, False)}"
        signed = self.low < 0 < self.high or self.kind == "pts"
        return f"95{NBSP}% CI {self._pair(self.low, self.high, signed)}"

    def short(self) -> str:
        """The signed effect in few characters, for chart labels: ``+6.1 %``, ``+4.6 pts``."""
        if self.kind == "pts":
            return f"{100 * self.mean:+.1f}{NBSP}pts".replace("-", "−")
        return self.fmt(self.mean, True)

    def ci_short(self) -> str:
        """The CI as bare numbers for a table column headed with its unit: ``+5.2 to +7.0``."""
        if not np.isfinite(self.low):
            return "–"
        scale = 100.0 if self.kind in ("rel", "pct", "pts") else 1.0
        dec = 0 if self.kind == "days" else 1

        def num(v: float) -> str:
            x = round(scale * v, dec)
            return f"{x:+.{dec}f}".replace("-", "−") if x != 0 else f"{0:.{dec}f}"

        return f"{num(self.low)} to {num(self.high)}"

    def ci_range(self) -> str:
        """``+5.2 % to +7.0 %`` (signed), for a table column headed "95 % CI"."""
        if not np.isfinite(self.low):
            return "–"
        return self._pair(self.low, self.high, True)

    def brief(self) -> str:
        """``+6.1 %; 95 % CI +5.2 % to +7.0 %`` — for inside parentheses in prose."""
        value = fmt_pts(self.mean) if self.kind == "pts" else self.fmt(self.mean, True)
        return f"{value}; {self.ci()}"

    def text(self) -> str:
        """The signed effect with its CI: ``+6.1 % (95 % CI +5.2 % to +7.0 %)``."""
        value = fmt_pts(self.mean) if self.kind == "pts" else self.fmt(self.mean, True)
        return f"{value} ({self.ci()})"

    def phrase(self, what: str = "", up: str = "raised", down: str = "lowered") -> str:
        """``raised team revenue by 6.1 % (95 % CI 5.2 % to 7.0 %)``: a direction only if the CI excludes 0.

        Otherwise it says that the change is not distinguishable from zero with these replications
        (with the interval), or that there are too few replications to tell. With ``what`` empty:
        ``rose by 3.8 points (…)`` given ``up="rose"``.
        """
        obj = f" {what}" if what else ""
        if self.n < 1 or not np.isfinite(self.mean):
            return f"could not be measured{' for ' + what if what else ''} (no replication had the data)"
        if self.direction is None:
            value = fmt_pts(self.mean) if self.kind == "pts" else self.fmt(self.mean, True)
            return f"changed{obj} by {value} in {self._replications()}, too few to tell a direction"
        if self.direction == 0:
            return (
                f"did not change{obj} distinguishably from zero with {self._replications()} ({self.brief()})"
            )
        verb = up if self.mean > 0 else down
        amount = fmt_pts(abs(self.mean), signed=False) if self.kind == "pts" else self.fmt(abs(self.mean))
        return f"{verb}{obj} by {amount} ({self.ci(magnitude=True)})"

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for ``findings.json``."""
        return {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()
        }


def direction_sentence(effect: Effect, up: str, down: str, unclear: str = "", interval: bool = True) -> str:
    """The sentence a paired effect supports: a direction only when its 95 % CI excludes zero.

    Args:
        effect: the paired effect (variant − baseline) the sentence rests on.
        up: the sentence (without its full stop) when the CI lies above zero.
        down: the sentence when the CI lies below zero.
        unclear: what to say otherwise (``Gaps were not found sooner``); it is followed by why no
            direction is stated: ``…: the difference (+3 days; 95 % CI −5 to +11 days) is not
            distinguishable from zero with 4 replications``, or that one replication cannot tell.
            Empty: the reason alone, as a sentence.
        interval: give the difference and its interval in that reason (leave out in chart
            titles, whose chart shows the interval).

    Returns:
        One sentence without its full stop.
    """
    if effect.direction == 1:
        return up
    if effect.direction == -1:
        return down
    why = effect.undecided(interval)
    return f"{unclear}: {why}" if unclear else why[0].upper() + why[1:]


def year_rows(periods: pd.DataFrame, year: int = 1) -> pd.DataFrame:
    """The whole-year rows of a ``periods`` table for one reported year (default the first).

    One row per scenario and replication, whatever the horizon, so paired effects stay paired.
    """
    rows = periods[periods["period"] == "year"]
    if "year" in rows.columns:
        rows = rows[rows["year"] == year]
    return rows


def per_replication(
    reps: pd.DataFrame,
    column: str,
    full_period: bool = True,
    by: Sequence[str] = ("scenario", "replication"),
    year: int = 1,
) -> pd.DataFrame:
    """Mean of a ``reps`` column per scenario and replication (one year's rows, full-period reps)."""
    r = reps[reps["period"] == "year"]
    if "year" in r.columns:
        r = r[r["year"] == year]
    if full_period:
        r = r[r["full_period"]]
    return r.groupby(list(by), observed=True)[column].mean().reset_index()


def scenario_mean(frame: pd.DataFrame, scenario: str, column: str) -> float:
    """The mean of ``column`` over the rows of one scenario (e.g. its simulated years; NaN if none)."""
    return float(frame.loc[frame["scenario"] == scenario, column].mean())


def paired(frame: pd.DataFrame, column: str, baseline: str, variant: str, kind: str = "rel") -> Effect:
    """The paired effect of ``variant`` against ``baseline`` on ``column``, replication by replication.

    Args:
        frame: rows with ``scenario``, ``replication`` and ``column`` (one row per pair).
        column: the metric.
        baseline, variant: scenario names.
        kind: ``rel`` → mean of per-replication ratios − 1; anything else → mean difference.
    """
    a = frame[frame["scenario"] == baseline].set_index("replication")[column]
    b = frame[frame["scenario"] == variant].set_index("replication")[column]
    both = pd.concat([a, b], axis=1, keys=["a", "b"]).dropna()
    d = both["b"] / both["a"] - 1.0 if kind == "rel" else both["b"] - both["a"]
    m, lo, hi, n = mean_ci(d.to_numpy())
    return Effect(m, lo, hi, n, kind)


# ------------------------------------------------------------------------------------------
# what a report shows: year 1 after a change, or the steady state
# ------------------------------------------------------------------------------------------
#: The two ways a report can show the simulated sales force, in a sales leader's words.
TRANSITION_LABEL = "Year 1 after the change, starting from today's way of working"
STEADY_LABEL = "The steady state, after the sales force has settled under the new way of working"


def _days_text(days: int) -> str:
    """``a year``, ``two years``, ``180 days``: a warm-up or horizon in words."""
    if days and days % 365 == 0:
        n = days // 365
        return "a year" if n == 1 else f"{number_word(n)} years"
    return f"{days:,} days"


def _horizon_text(days: int) -> str:
    if days == 365:
        return "one year, in four quarters"
    if days > 365:
        n = days // 365
        return (
            f"{number_word(n)} years, each in four quarters; the tables and charts show year 1 "
            "unless they say otherwise"
        )
    return f"the first {days:,} days of a year, in quarters"


def _policy(sc: Scenario) -> dict[str, Any]:
    """The management policy of a scenario (what a change changes), without its name."""
    from salessim.model.policy import DRIVER_SECTIONS, MANAGER_LEVERS

    d = sc.to_dict()
    out = {k: d[k] for k in DRIVER_SECTIONS}
    out["managers"] = {k: d["managers"][k] for k in MANAGER_LEVERS}
    out["quota"] = d["organisation"]["quota"]
    return out


def time_frame(scenarios: Scenario | Iterable[Scenario], baseline: Scenario | None = None) -> dict[str, Any]:
    """Which simulated time a report shows, in plain words, from the scenarios it runs.

    In ``simulation.mode: transition`` each scenario first runs its warm-up under the baseline's
    way of working (the comparison's baseline, as :func:`salessim.compare` does) and its own levers
    start with the reported horizon: the figures are year 1 after the change. In ``steady_state``
    each scenario's way of working runs from the start, so they show where it settles. A transition
    in which no scenario's way of working differs from the baseline's (a report on one scenario)
    changes nothing, so it shows that way of working's steady state, and says so.

    Args:
        scenarios: the scenarios the report simulates (one or several).
        baseline: the scenario every warm-up runs under in transition mode (default the first).

    Returns:
        ``mode`` (``transition`` or ``steady_state``: what the figures show), ``label`` (the
        one-line statement), ``detail`` (a sentence or two on how), ``horizon`` (in words),
        ``horizon_days``, ``warmup_days`` and ``scenario_modes`` (each scenario's own setting).
    """
    scs = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
    if not scs:
        raise ValueError("time_frame needs at least one scenario")
    base = baseline if baseline is not None else scs[0]
    sims = {(s.simulation.mode, s.simulation.warmup_days, s.simulation.horizon_days) for s in scs}
    mixed = len(sims) > 1
    changed = [s for s in scs if _policy(s) != _policy(base)]
    changes = bool(changed)
    lead = (changed or [base])[0].simulation  # a mixed set is described by its first change
    mode, warm, horizon = lead.mode, lead.warmup_days, lead.horizon_days
    if mode == "transition" and warm > 0 and changes:
        shown, label = "transition", TRANSITION_LABEL
        detail = (
            f"Each simulated sales force first works for {_days_text(warm)} the way it is run "
            f"today (scenario “{base.name}”); the change starts on the first day of the reported "
            "period, so the figures include the ramp-in: training takes time, coaching "
            "builds skill slowly and culture moves slowly."
        )
    elif mode == "transition" and warm > 0:
        shown = "steady_state"
        label = "The steady state, after the sales force has settled under its way of working"
        detail = (
            f"The simulated sales force works for {_days_text(warm)} before anything is "
            "reported, under the same way of working as in the reported period: nothing "
            "changes when it starts, so the figures show where this way of working settles."
        )
    else:
        shown, label = "steady_state", STEADY_LABEL
        detail = "Each way of working runs from the start" + (
            f" and the simulated sales force works for {_days_text(warm)} under it before "
            "anything is reported, so the figures show where it settles, not the first year's "
            "ramp-in."
            if warm > 0
            else ", with no settling period before the reported one (the sales force starts from "
            "pipelines and tenures as they are when settled)."
        )
    if mixed:
        detail += (
            " The scenarios do not all share this setting: "
            + "; ".join(
                f"{s.name}: {s.simulation.mode.replace('_', ' ')} mode, "
                f"{_days_text(s.simulation.warmup_days)} of warm-up, "
                f"{_days_text(s.simulation.horizon_days)} reported"
                for s in scs
            )
            + "."
        )
    return {
        "mode": shown,
        "label": label,
        "detail": detail,
        "horizon": _horizon_text(horizon),
        "horizon_days": int(horizon),
        "warmup_days": int(warm),
        "scenario_modes": {s.name: s.simulation.mode for s in scs},
    }


def show_time_frame(
    scenarios: Scenario | Iterable[Scenario], output_dir: Path | None = None, baseline: Scenario | None = None
) -> dict[str, Any]:
    """Say near a report's top which simulated time it shows (see :func:`time_frame`).

    Displays the statement as a highlighted paragraph (every string HTML-escaped) and, given an
    ``output_dir``, writes it to ``time_frame.json`` there, for the index page.

    Returns:
        The :func:`time_frame` dictionary.
    """
    from IPython.display import HTML, display

    tf = time_frame(scenarios, baseline)
    display(
        HTML(
            "<div class='salessim-time-frame' style='border-left:4px solid #264653;background:#f3f6f8;"
            "padding:10px 14px;margin:4px 0 12px 0;font-size:15px;line-height:1.5'>"
            f"<b>What these figures show: {html.escape(tf['label'])}.</b> "
            f"{html.escape(tf['detail'])} <b>Reported:</b> {html.escape(tf['horizon'])}.</div>"
        )
    )
    if output_dir is not None:
        atomic_write_text(
            Path(output_dir) / "time_frame.json", json.dumps(tf, indent=2, ensure_ascii=False) + "\n"
        )
    return tf


def record_baseline(scenario: Scenario, output_dir: Path, source: str | Path = "") -> dict[str, str]:
    """Record which sales force a report is for (``baseline.json``: name, description, hash, file).

    ``salessim report`` puts it under the report's title and on the index page (escaped there).
    """
    info = {
        "name": scenario.name,
        "description": scenario.description or "",
        "hash": scenario.hash,
        "source": str(source),
    }
    atomic_write_text(
        Path(output_dir) / "baseline.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n"
    )
    return info


# ------------------------------------------------------------------------------------------
# findings
# ------------------------------------------------------------------------------------------
class Findings:
    """Findings in plain sentences, each with the numbers behind it.

    ``add`` one finding at a time; ``show()`` renders them as Markdown at the top of the report and
    ``save(output_dir)`` writes ``findings.json`` for the index page and for tests.
    """

    def __init__(self, report: str, question: str) -> None:
        self.report = report
        self.question = question
        self.items: list[dict[str, Any]] = []

    def add(
        self, key: str, headline: str, meaning: str = "", effect: Effect | None = None, **numbers: Any
    ) -> None:
        """One finding: a bold headline sentence with the effect and CI, then what it means."""
        self.items.append(
            {
                "id": key,
                "headline": headline.strip(),
                "meaning": meaning.strip(),
                "effect": effect.as_dict() if effect is not None else None,
                **{k: _plain(v) for k, v in numbers.items()},
            }
        )

    def markdown(self) -> str:
        """The findings as a Markdown list; their text is literal (names from the data included)."""
        lines = []
        for f in self.items:
            lines.append(f"- **{escape_markdown(f['headline'])}** {escape_markdown(f['meaning'])}".rstrip())
        return "\n".join(lines)

    def show(self) -> Any:
        """Display the findings as Markdown (prose in the HTML report)."""
        from IPython.display import Markdown, display

        display(Markdown(self.markdown()))

    def save(self, output_dir: Path, **extra: Any) -> None:
        """Write ``findings.json`` (atomically)."""
        path = Path(output_dir) / "findings.json"
        doc = {
            "report": self.report,
            "question": self.question,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "findings": [{**f, "text": f"{f['headline']} {f['meaning']}".strip()} for f in self.items],
            **{k: _plain(v) for k, v in extra.items()},
        }
        atomic_write_text(path, json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")


def _plain(v: Any) -> Any:
    if isinstance(v, Effect):
        return v.as_dict()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


# ------------------------------------------------------------------------------------------
# figures and tables
# ------------------------------------------------------------------------------------------
def setup_figures() -> None:
    """One calm style for every report: white grid, readable fonts, PNG output."""
    import warnings

    import matplotlib as mpl
    import seaborn as sns

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    sns.set_theme(style="whitegrid", context="notebook", font_scale=1.0)
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (9.5, 4.6),
            "axes.titlesize": 13.5,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "axes.titlepad": 12,
            "axes.labelsize": 11.5,
            "xtick.labelsize": 10.5,
            "ytick.labelsize": 10.5,
            "legend.fontsize": 10,
            "legend.frameon": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    try:  # PNG (not SVG): embedded as data:image/png in the HTML report
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover - matplotlib-inline ships with ipykernel
        pass


def effect_chart(
    ax: Any,
    labels: Sequence[str],
    effects: Sequence[Effect],
    better: int = +1,
    xlabel: str = "",
    ref: float = 0.0,
) -> None:
    """Horizontal bars of paired effects with their 95 % CIs, coloured good / bad, values labelled.

    Args:
        ax: matplotlib axes.
        labels: one label per bar (top to bottom).
        effects: the effects.
        better: +1 if higher is better, −1 if lower is better (colours only).
        xlabel: axis label with units.
        ref: reference line (no effect).
    """
    n = len(effects)
    y = np.arange(n)[::-1]
    scale = 100.0 if effects and effects[0].kind in ("rel", "pts", "pct") else 1.0
    means = np.array([e.mean for e in effects]) * scale
    lo = np.array([e.low for e in effects]) * scale
    hi = np.array([e.high for e in effects]) * scale
    colors = [GREY if not e.clear else (GOOD if better * e.mean > 0 else BAD) for e in effects]
    ax.barh(y, means, color=colors, height=0.62, zorder=2)
    err = np.vstack([np.nan_to_num(means - lo), np.nan_to_num(hi - means)])
    ax.errorbar(means, y, xerr=err, fmt="none", ecolor="#222222", elinewidth=1.2, capsize=3, zorder=3)
    ax.axvline(ref, color="#333333", lw=0.9, zorder=1)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    span = np.nanmax(np.abs(np.concatenate([lo, hi, means]))) if n else 1.0
    span = span if np.isfinite(span) and span > 0 else 1.0
    pad = 0.05 * span
    for yi, e, m, l_, h_ in zip(y, effects, means, lo, hi, strict=True):
        edge = np.nanmax([m, h_]) if m >= 0 else np.nanmin([m, l_])
        ax.text(
            edge + (pad if m >= 0 else -pad),
            yi,
            e.short(),
            va="center",
            ha="left" if m >= 0 else "right",
            fontsize=10,
            color="#222222",
        )
    left = min(0.0, np.nanmin(np.concatenate([lo, means]))) if n else 0.0
    right = max(0.0, np.nanmax(np.concatenate([hi, means]))) if n else 1.0
    left = left if np.isfinite(left) else 0.0
    right = right if np.isfinite(right) else 1.0
    if right - left <= 0:  # every effect exactly 0 (no one left in a tiny run): an axis around 0
        left, right = -span, span
    ax.set_xlim(left - 0.5 * span * (left < 0), right + 0.5 * span * (right > 0) + 1e-9)


_FMT: dict[str, Callable[[Any], str]] = {
    "money": lambda v: fmt_money(v),
    "money_signed": lambda v: fmt_money(v, signed=True),
    "pct": lambda v: fmt_pct(v),
    "pct0": lambda v: fmt_pct(v, decimals=0),
    "pct_signed": lambda v: fmt_pct(v, signed=True),
    "pts": lambda v: fmt_pts(v),
    "days": lambda v: fmt_days(v),
    "int": lambda v: "–" if v is None or not np.isfinite(v) else f"{v:,.0f}",
    "num1": lambda v: "–" if v is None or not np.isfinite(v) else f"{v:,.1f}",
    "num2": lambda v: "–" if v is None or not np.isfinite(v) else f"{v:,.2f}",
    "x": lambda v: "–" if v is None or not np.isfinite(v) else f"{v:.2f}×",
}


def show_table(
    df: pd.DataFrame,
    formats: Mapping[str, str | Callable[[Any], str]] | None = None,
    caption: str = "",
    index: bool = False,
) -> None:
    """Display a formatted table (money, percentages, points, days) with a caption.

    Text columns are left-aligned and number columns right-aligned; number columns without a
    format of their own get thousands separators. Every cell, header and the caption is
    HTML-escaped: names from the data show as text.
    """
    from IPython.display import display

    fm: dict[str, Callable[[Any], str]] = {}
    for c in df.columns:
        f = (formats or {}).get(c)
        if f is not None:
            fm[c] = _FMT[f] if isinstance(f, str) else f
        elif pd.api.types.is_bool_dtype(df[c]):
            continue
        elif pd.api.types.is_integer_dtype(df[c]):
            fm[c] = _FMT["int"]
        elif pd.api.types.is_float_dtype(df[c]):
            fm[c] = _FMT["num2"]
    st = _styler(df, fm, caption, index)
    st = st.set_table_styles(
        [
            {
                "selector": "caption",
                "props": "caption-side: top; text-align: left; font-weight: 600;"
                " font-size: 14px; padding: 4px 0 8px 0; color: #222;",
            },
            {"selector": "th", "props": "text-align: left; background: #f3f5f7; padding: 5px 10px;"},
            {"selector": "td", "props": "padding: 4px 10px; text-align: left;"},
        ]
    )
    num_cols = [c for c in df.columns if c in fm or "CI" in str(c)]
    if num_cols:
        st = st.set_properties(subset=num_cols, **{"text-align": "right", "white-space": "nowrap"})
    display(st)


def capacity_numbers(p: Any) -> pd.DataFrame:
    """A plan's capacity (:meth:`salessim.funnel.Plan.capacity_summary`) as numbers with units.

    Columns ``item``, ``unit`` (hours a week, USD a year, share, number a week, or ``yes = 1``
    for a yes/no) and ``per rep``, a number in every row: the table a report saves.
    """
    s = p.capacity_summary()["per rep"]

    def unit(item: str, v: Any) -> str:
        if isinstance(v, bool | np.bool_):
            return "yes = 1"
        if item in ("utilisation", "supported quota ÷ quota"):
            return "share"
        if "quota" in item:
            return "USD"
        return "number" if "/ week" in item else "hours"

    return pd.DataFrame(
        {
            "item": list(s.index),
            "unit": [unit(str(i), v) for i, v in s.items()],
            "per rep": [float(v) for v in s],
        }
    )


def effect_columns(name: str, effects: Iterable[Effect | None]) -> dict[str, list[float]]:
    """Effects as three numeric columns for a saved table: ``NAME``, ``NAME_ci_low``, ``NAME_ci_high``.

    The numbers behind a page's "+5.2 to +7.0 %" (name the column with its unit, e.g.
    ``revenue_diff_rel`` or ``at_quota_diff_pts``; shares and points stay fractions). None (a
    row with nothing to compare, such as today's plan) gives NaN.
    """
    es = list(effects)
    nan = float("nan")
    return {
        name: [nan if e is None else e.mean for e in es],
        f"{name}_ci_low": [nan if e is None else e.low for e in es],
        f"{name}_ci_high": [nan if e is None else e.high for e in es],
    }


#: Spreadsheet number formats of :func:`show_table`'s format names (a point is a difference of
#: two shares, kept as a fraction: 0.012 shows as +1.2 %).
XLSX_FORMATS: dict[str, str] = {
    "money": "#,##0",
    "money_signed": "+#,##0;-#,##0;0",
    "pct": "0.0%",
    "pct0": "0%",
    "pct_signed": "+0.0%;-0.0%;0.0%",
    "pts": "+0.0%;-0.0%;0.0%",
    "days": "0",
    "int": "#,##0",
    "num1": "#,##0.0",
    "num2": "#,##0.00",
    "x": '0.00"×"',
}


def save_table(
    df: pd.DataFrame,
    output_dir: Path,
    name: str,
    formats: Mapping[str, str | Callable[[Any], str]] | None = None,
) -> None:
    """Write a table as ``NAME.csv`` and ``NAME.xlsx`` under ``output_dir`` (each atomically).

    Save the numbers, not the text a page shows: figures as numbers (shares as fractions, money
    in USD), intervals as ``…_ci_low`` / ``…_ci_high`` columns; :func:`show_table` formats them
    for the page. The spreadsheet holds the same cells as numbers with number formats: read from
    ``formats`` (:func:`show_table`'s format names, such as ``"money"`` or ``"pct_signed"``, or
    Excel formats; a function is skipped) and else from the column's name
    (:func:`salessim.xlsx.column_format`) or a ``unit`` column.
    """
    from salessim import __version__
    from salessim.xlsx import workbook_bytes

    out = Path(output_dir)
    own = {
        str(c): XLSX_FORMATS.get(f, f)
        for c, f in (formats or {}).items()
        if isinstance(f, str) and c in df.columns
    }
    meta = {
        "table": name,
        "same as": f"{name}.csv",
        "shares": "fractions (0.05 is 5 %)",
        "salessim_version": __version__,
    }
    atomic_write_text(out / f"{name}.csv", df.to_csv(index=False))
    atomic_write_text(out / f"{name}.xlsx", workbook_bytes({name: df}, meta, {name: own}))


def assumptions_section(scenario: Scenario, key_parameters: Sequence[str] = (), note: str = "") -> None:
    """The assumptions register: the parameters this report leans on, then the full register folded."""
    from IPython.display import HTML, display

    reg = pd.DataFrame(assumptions_register(scenario))
    reg["value"] = [f"{v:,g}" if isinstance(v, float) else str(v) for v in reg["value"]]
    reg["kind"] = reg["kind"].map({"assumption": "assumption", "sourced": "published source"})
    reg = reg.rename(
        columns={"parameter": "parameter", "value": "value", "kind": "basis", "source": "source or reasoning"}
    )
    if key_parameters:
        key = reg[reg["parameter"].isin(key_parameters)]
        show_table(key, caption="The assumptions these results lean on most")
    n_a = int((reg["basis"] == "assumption").sum())
    table = (
        _styler(reg, {})
        .set_table_styles(
            [
                {"selector": "td", "props": "padding: 3px 8px; font-size: 12px; text-align: left;"},
                {"selector": "th", "props": "text-align: left; padding: 3px 8px; background: #f3f5f7;"},
            ]
        )
        .to_html()
    )
    summary = (
        f"Full assumptions register: {len(reg)} parameters, {n_a} of them modelling "
        f"assumptions, the rest from published sources (click to expand)"
    )
    extra = f"<p>{html.escape(note)}</p>" if note else ""
    display(
        HTML(
            f"<details><summary style='cursor:pointer;font-weight:600'>"
            f"{html.escape(summary)}</summary>{extra}{table}</details>"
        )
    )


def show_preformatted(text: str, intro: str = "") -> None:
    """Show a file's text (a scenario's YAML) as a literal block, after a line of introduction."""
    from IPython.display import HTML, display

    head = f"<p>{html.escape(intro)}</p>" if intro else ""
    display(HTML(f"{head}<pre><code>{html.escape(text)}</code></pre>"))


def run_metadata(
    started: float,
    seed: int,
    replications: int,
    scenarios: Mapping[str, str] | Iterable[Scenario],
    **extra: Any,
) -> dict[str, Any]:
    """What produced this report: version, seed, replications, scenario hashes, runtime."""
    from salessim import __version__

    if not isinstance(scenarios, Mapping):
        scenarios = {s.name: s.hash for s in scenarios}
    return {
        "salessim_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": int(seed),
        "replications": int(replications),
        "scenario_hashes": dict(scenarios),
        "runtime_seconds": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
        "quick_mode": quick_mode(),
        **extra,
    }


def show_metadata(meta: Mapping[str, Any]) -> None:
    """Run metadata as a two-column table."""
    rows = []
    labels = {
        "salessim_version": "salessim version",
        "created_utc": "created (UTC)",
        "seed": "root seed",
        "replications": "replications per scenario",
        "runtime_seconds": "runtime (seconds)",
        "python": "Python",
        "quick_mode": "quick smoke run (SALESSIM_QUICK)",
    }
    for k, v in meta.items():
        if k == "scenario_hashes":
            rows.append(
                {
                    "item": "scenario content hashes" if len(v) > 1 else "scenario content hash",
                    "value": ", ".join(f"{name} {h}" for name, h in v.items()),
                }
            )
            continue
        rows.append({"item": labels.get(k, k.replace("_", " ")), "value": str(v)})
    show_table(pd.DataFrame(rows))


# ------------------------------------------------------------------------------------------
# goals and the deal log
# ------------------------------------------------------------------------------------------
_GOAL_LABELS = {
    "revenue": "revenue",
    "new_logos": "new logos",
    "new_logo_revenue": "new-logo revenue",
    "expansion_revenue": "expansion revenue",
    "avg_deal_size": "average deal size",
    "win_rate": "win rate",
    "opportunities": "new opportunities",
}
_NUMBERS = {
    1: "one",
    2: "two",
    3: "three",
    4: "four",
    5: "five",
    6: "six",
    7: "seven",
    8: "eight",
    9: "nine",
    10: "ten",
}


def number_word(n: int) -> str:
    """1 → one … 10 → ten (digits beyond)."""
    return _NUMBERS.get(int(n), str(n))


def goal_label(goal: Any) -> str:
    """A goal as a sales leader names it: ``product B revenue``, ``new logos``."""
    if goal.metric == "product_revenue":
        return f"product {goal.product} revenue"
    return _GOAL_LABELS.get(goal.metric, goal.metric.replace("_", " "))


def days_since_start(dates: pd.Series, scenario: Scenario) -> pd.Series:
    """Calendar dates of the deal log as days since the scenario's start date."""
    start = pd.Timestamp(scenario.start_date)
    return (pd.to_datetime(dates) - start).dt.days


def goal_attainment(
    deals: pd.DataFrame, reps: pd.DataFrame, scenario: Scenario, first_day: int = 183, last_day: int = 365
) -> pd.DataFrame:
    """Per-goal attainment of full-period reps from the deal log, over days [first, last).

    The deal log lists deals created in the reported year; deals opened during the warm-up and
    closed early in the year are not in it, so the default window is the second half of the
    year, where the log is complete. Targets are the scenario's own (what quota implies).

    Returns:
        One row per scenario, replication, rep and goal: ``goal``, ``weight``, ``attainment``.
    """
    from salessim.drivers.goals import GoalModel
    from salessim.funnel import plan

    gm = GoalModel(scenario, plan(scenario))
    d = deals[deals["scenario"] == scenario.name]
    r = reps[(reps["scenario"] == scenario.name) & (reps["period"] == "year") & reps["full_period"]]
    closed = days_since_start(d["closed_at"], scenario)
    created = days_since_start(d["created_at"], scenario)
    in_window = (closed >= first_day) & (closed < last_day)
    won = d[in_window & (d["outcome"] == "won")]
    lost = d[in_window & (d["outcome"] == "lost")]
    made = d[(created >= first_day) & (created < last_day)]
    frac = (last_day - first_day) / 365.0
    rows = []
    for rep_idx, rr in r.groupby("replication"):
        ids = rr["rep_id"].to_numpy()

        def per(
            frame: pd.DataFrame, weights: str | None = None, rep_idx: Any = rep_idx, ids: np.ndarray = ids
        ) -> np.ndarray:
            f = frame[frame["replication"] == rep_idx]
            s = f.groupby("rep_id")[weights].sum() if weights else f.groupby("rep_id").size()
            return s.reindex(ids, fill_value=0).to_numpy(dtype=float)

        new = won[won["segment"] == "new_logo"]
        metrics = {
            "revenue": per(won, "amount"),
            "wins": per(won),
            "closed": per(won) + per(lost),
            "created": per(made),
            "new_logo_wins": per(new),
            "new_logo_revenue": per(new, "amount"),
            "expansion_revenue": per(won[won["segment"] == "expansion"], "amount"),
        }
        for p in scenario.funnel.products:
            metrics[f"product_revenue:{p}"] = per(won[won["product"] == p], "amount")
        att = gm.attainment(metrics, np.full(ids.size, frac))
        for j, goal in enumerate(gm.goals):
            rows.append(
                pd.DataFrame(
                    {
                        "scenario": scenario.name,
                        "replication": rep_idx,
                        "rep_id": ids,
                        "goal": goal_label(goal),
                        "weight": goal.weight,
                        "attainment": att[:, j],
                    }
                )
            )
    return (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["scenario", "replication", "rep_id", "goal", "weight", "attainment"])
    )


def prospecting_mix(deals: pd.DataFrame) -> pd.DataFrame:
    """Share of new opportunities per market cell (segment × product), per scenario."""
    cell = (
        deals["segment"].map({"new_logo": "new logo", "expansion": "expansion"}).fillna(deals["segment"])
        + " · product "
        + deals["product"].astype(str)
    )
    t = deals.assign(cell=cell).groupby(["scenario", "cell"]).size().rename("n").reset_index()
    t["share"] = t["n"] / t.groupby("scenario")["n"].transform("sum")
    return t


def rep_coverage(
    deals: pd.DataFrame, reps: pd.DataFrame, scenario: Scenario, quarters: Sequence[str] = ("Q3", "Q4")
) -> pd.DataFrame:
    """Each full-period rep's pipeline coverage at a quarter's start, and whether they made quota.

    Coverage = value of the rep's open deals at the quarter's first day ÷ the rep's quota for the
    quarter. Read from the deal log, which lists deals created in the reported year; the default
    quarters are the last two, where almost no open deal dates from the warm-up.

    Returns:
        One row per scenario, replication, rep and quarter: ``coverage``, ``attainment``, ``hit``.
    """
    start_day = {"Q1": 0, "Q2": 91, "Q3": 182, "Q4": 274}
    d = deals[deals["scenario"] == scenario.name]
    created = days_since_start(d["created_at"], scenario).to_numpy()
    closed = days_since_start(d["closed_at"], scenario).to_numpy(dtype=float)
    rows = []
    for q in quarters:
        s = start_day[q]
        is_open = (created < s) & ~(closed < s)  # open deals have no close date (NaN)
        value = d[is_open].groupby(["replication", "rep_id"])["amount"].sum().rename("open_value")
        r = reps[(reps["scenario"] == scenario.name) & (reps["period"] == q) & reps["full_period"]]
        m = r[["replication", "rep_id", "quota", "attainment"]].merge(
            value.reset_index(), on=["replication", "rep_id"], how="left"
        )
        m["open_value"] = m["open_value"].fillna(0.0)
        m["coverage"] = m["open_value"] / m["quota"]
        m["hit"] = m["attainment"] >= 1.0
        m["quarter"] = q
        m["scenario"] = scenario.name
        rows.append(m)
    return pd.concat(rows, ignore_index=True)


def capacity_table(plan: Any) -> pd.DataFrame:
    """Whether a plan fits a rep's week, as ``salessim plan`` prints it: one formatted row per item.

    Args:
        plan: a :class:`salessim.funnel.Plan`.

    Returns:
        Columns ``item`` (indented where it is a part of the row above) and ``per rep`` (text:
        hours a week, opportunities a week, yes/no, dollars or a percentage).
    """
    rows = [
        {"item": (NBSP * 4 + name) if part else name, "per rep": cell}
        for name, cell, part in plan.capacity_cells(fmt_money, lambda v: fmt_pct(v, 0), NBSP)
    ]
    return pd.DataFrame(rows)


def wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson interval of a proportion k / n at normal quantile ``z`` (1.96: 95 %)."""
    from salessim import stats as sstats

    return sstats.wilson(k, n, level=float(2 * stats.norm.cdf(z) - 1))


def wrap_title(text: str, width: int = 100) -> str:
    """A chart title broken into lines of at most ``width`` characters (a long one stays on the figure).

    A number keeps its unit: ``20 %`` never breaks before the ``%``.
    """
    import textwrap

    text = text.replace(" %", NBSP + "%")
    return "\n".join(textwrap.wrap(text, width)) or text


def figure_note(fig: Any, text: str, y: float = -0.02) -> None:
    """A small grey note under a figure.

    Aligned with the figure's left edge (tick labels included) and wrapped to its width, so it
    never widens the figure.
    """
    import textwrap

    try:
        renderer = fig.canvas.get_renderer()
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
        x0 = min(b.x0 for b in boxes if b is not None) / fig.bbox.width
        x1 = max(b.x1 for b in boxes if b is not None) / fig.bbox.width
    except (AttributeError, ValueError):  # pragma: no cover - a backend without a renderer
        x0, x1 = 0.01, 1.0
    width = max(40, int(fig.get_figwidth() * (x1 - x0) * 14.5))
    lines = textwrap.wrap(text, width)
    fig.text(
        x0, y - 0.035 * (len(lines) - 1), "\n".join(lines), fontsize=9.5, color="#555", ha="left", va="top"
    )


# ------------------------------------------------------------------------------------------
# what each change costs, and what it returns (salessim.costs)
# ------------------------------------------------------------------------------------------
#: Colours of the cost lines of :data:`salessim.costs.GROUPS`, in that order: strong for what a
#: lever buys, pale for what follows from who stays and who leaves.
COST_COLOURS = ("#264653", "#2a9d8f", "#f4a261", "#b5838d", "#e9c46a", "#c3c9d3", "#e3e6eb")


def comparison_scenarios(comp: Any) -> dict[str, Scenario]:
    """The resolved scenarios of a comparison, by name (from the YAML its metadata keeps)."""
    import yaml

    return {n: load_scenario(yaml.safe_load(text)) for n, text in comp.meta["scenario_yaml"].items()}


def cost_effects(comp: Any, year: int = 1) -> pd.DataFrame:
    """Each variant's effect on revenue, cost and margin less cost, paired, in USD a year.

    The numbers of the comparison's summary (its ``cost`` and ``margin_less_cost`` rows,
    :func:`salessim.experiments.summarize`), so a report and ``summary.csv`` agree.

    Returns:
        One row per variant: ``scenario``; ``revenue``, ``cost`` and ``net`` (gross margin less
        cost) as money :class:`Effect` s; ``margin`` (Δ gross margin, USD); ``return_on_cost``
        (Δ gross margin ÷ Δ cost where the variant clearly costs more, else NaN) and ``verdict``
        (:func:`salessim.costs.return_on_cost`).

    Raises:
        ValueError: the summary has no cost rows (a table written before costs were recorded).
    """
    sm = comp.summary
    if "return_on_cost" not in sm:
        raise ValueError(
            "the comparison's summary has no costs: its periods table was written "
            "before salessim recorded what costs are priced from; run it again"
        )
    sm = sm[(sm["year"] == year) & (sm["scenario"] != comp.baseline)].set_index(["scenario", "metric"])

    def effect(n: str, metric: str) -> Effect:
        r = sm.loc[(n, metric)]
        return Effect(
            float(r["diff"]), float(r["diff_ci_low"]), float(r["diff_ci_high"]), int(r["n"]), "money"
        )

    rows = []
    for n in comp.scenarios:
        if n == comp.baseline:
            continue
        c = sm.loc[(n, "cost")]
        rows.append(
            {
                "scenario": n,
                "revenue": effect(n, "revenue"),
                "cost": effect(n, "cost"),
                "net": effect(n, "margin_less_cost"),
                "margin": float(c["margin_diff"]),
                "return_on_cost": float(c["return_on_cost"]),
                "verdict": str(c["cost_verdict"]),
            }
        )
    return pd.DataFrame(
        rows, columns=["scenario", "revenue", "cost", "net", "margin", "return_on_cost", "verdict"]
    )


def cost_breakdown(
    comp: Any, year: int = 1, groups: Mapping[str, tuple[str, ...]] | None = None
) -> pd.DataFrame:
    """What each variant's change in cost is made of: one row per variant and cost line.

    Unbundles a variant that changes several things at once (more joint calls *and* trained
    managers): manager time on calls, training fees and days away, reps' logging time, hiring.

    Args:
        comp: a comparison (:func:`salessim.experiments.compare`).
        year: the reported year.
        groups: cost lines (default :data:`salessim.costs.GROUPS`).

    Returns:
        :func:`salessim.costs.component_diffs`: ``scenario``, ``component``, ``label``,
        ``baseline``, ``diff`` and its paired 95 % CI, USD a year.
    """
    from salessim.costs import GROUPS, component_diffs, cost_table

    costs = cost_table(comp.results.periods, comparison_scenarios(comp))
    return component_diffs(costs, comp.baseline, year, GROUPS if groups is None else groups)


def cost_components_chart(
    ax: Any, breakdown: pd.DataFrame, order: Sequence[str], labels: Sequence[str]
) -> None:
    """Each variant's change in cost, split by cost line: bars right for more, left for less.

    A diamond marks the net change; USD a year.

    Args:
        ax: matplotlib axes.
        breakdown: :func:`cost_breakdown`.
        order: the variants, top to bottom.
        labels: their labels.
    """
    from matplotlib.ticker import FuncFormatter

    lines = list(dict.fromkeys(breakdown["component"]))
    wide = (
        breakdown.pivot(index="scenario", columns="component", values="diff")
        .reindex(index=list(order), columns=lines)
        .fillna(0.0)
    )
    y = np.arange(len(order))[::-1]
    right = np.zeros(len(order))
    left = np.zeros(len(order))
    for i, line in enumerate(lines):
        v = wide[line].to_numpy()
        colour = COST_COLOURS[i % len(COST_COLOURS)]
        pos, neg = np.where(v > 0, v, 0.0), np.where(v < 0, v, 0.0)
        ax.barh(y, pos, left=right, color=colour, height=0.62, label=line, zorder=2)
        ax.barh(y, neg, left=left, color=colour, height=0.62, zorder=2)
        right += pos
        left += neg
    net = wide.sum(axis=1).to_numpy()
    ax.scatter(net, y, marker="D", color="black", s=28, zorder=3, label="net change in cost")
    ax.axvline(0, color="#333333", lw=0.9, zorder=1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_money(v).replace("$", r"\$")))
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("change in cost against today (USD a year)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.16), ncol=3, fontsize=9, frameon=False)


def cost_story(breakdown: pd.DataFrame, scenario: str) -> tuple[str, str]:
    """What a variant's change in cost is made of, in words: what it buys, and what follows.

    ``("manager time on joint calls +$99K, training (fees and days away) +$67K",
    "recruiting and interviews −$182K, reps' pay (seats filled) +$166K")``: the lines whose
    paired 95 % CI excludes zero (with one replication, those not zero), largest first; the
    second part holds the lines of :data:`salessim.costs.FOLLOWS`. A part with no such line is
    empty.
    """
    from salessim.costs import FOLLOWS

    b = breakdown[breakdown["scenario"] == scenario]
    clear = b[(b["diff_ci_low"] > 0) | (b["diff_ci_high"] < 0) | (b["diff_ci_low"].isna() & (b["diff"] != 0))]
    clear = clear.reindex(clear["diff"].abs().sort_values(ascending=False).index)

    def words(rows: pd.DataFrame) -> str:
        return ", ".join(f"{r.component} {fmt_money(r.diff, signed=True)}" for r in rows.itertuples())

    follows = clear["component"].isin(FOLLOWS)
    return words(clear[~follows]), words(clear[follows])


def return_text(ratio: float, verdict: str, chart: bool = False) -> str:
    """A variant's return on cost in a few words: ``$3.20 of margin per extra $1``, else the verdict.

    A negative return (it costs more and earns less) is said in words, not as a ratio.

    ``chart``: for a matplotlib label (its dollar signs escaped, not read as mathematics).
    """
    if np.isfinite(ratio) and ratio >= 0:
        text = f"${ratio:,.2f} of margin per extra $1"
        return text.replace("$", r"\$") if chart else text
    return verdict or "–"
