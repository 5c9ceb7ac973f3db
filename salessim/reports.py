"""Leader reports: parameterized notebooks run by papermill, exported to code-free HTML.

A report is any notebook with a cell tagged ``parameters``: the ones in ``notebooks/`` (the
standard set, in the reading order their metadata gives) or any other passed by path. What a
report says about itself (title, question, range rules for its parameters) is in the notebook's
own ``salessim`` metadata block, so a new report needs no change here (the rules below are shared
ones for parameter names many reports use).

``salessim report NAME [-p KEY VALUE]... [--out DIR]`` runs ``notebooks/NAME.ipynb`` and writes
``DIR/NAME.html`` (no code, figures embedded, opens offline) plus ``DIR/NAME/`` with what the
notebook wrote (tables, ``findings.json``), the executed notebook and ``run.json``.
``salessim reports`` builds the standard set and ``DIR/index.html``.

Parameters are checked against the notebook's ``parameters`` cell and by type and range before
anything runs. Names from the data (products, file names, scenario names) show as text: the
notebook helpers escape every table and finding, and a page that would still run script is not
written. A report that fails leaves the last good one untouched, keeps the failed executed
notebook in ``DIR/_failed/NAME.ipynb`` and names the failing cell.
"""

from __future__ import annotations

import ast
import contextlib
import html
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from salessim.executors import MAX_REPLICATIONS, MAX_SEED, max_workers
from salessim.io import atomic_dir, atomic_write_text, check_out_dir, check_target
from salessim.notebook_helpers import ROOT, input_path

__all__ = [
    "REPORTS",
    "Notebook",
    "ReportError",
    "ReportFailed",
    "active_content",
    "build_all",
    "discover",
    "export_html",
    "notebook_parameters",
    "parse_value",
    "quick_run_banner",
    "read_notebook",
    "report_notebook",
    "run_report",
    "standard_reports",
    "tables_section",
    "validate_parameters",
    "with_banner",
    "with_tables",
    "write_index",
]

NOTEBOOK_DIR = ROOT / "notebooks"
KERNEL = "salessim"
#: A report name: the notebook's file name without ``.ipynb`` (it names OUT/NAME.html and OUT/NAME/).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Notebook:
    """A report notebook: any notebook with a cell tagged ``parameters``.

    What it says about itself comes from its own metadata block ``salessim`` (all optional):
    ``title``, ``question``, ``order`` (reading order in the index), ``standard`` (built by
    ``salessim reports``; default true) and ``parameters`` (range rules: ``{"max_hours": {"min":
    1, "max": 40}, "baseline": {"check": "scenario"}}``). Without a title, the first ``# `` heading
    is the title; without a question, the paragraph after ``**The question.**``.
    """

    name: str
    path: Path
    title: str
    question: str
    order: float = 100.0
    standard: bool = True
    rules: Mapping[str, Any] = field(default_factory=dict)


def _first_heading_and_question(cells: Sequence[Any]) -> tuple[str, str]:
    title = question = ""
    for c in cells:
        if c.get("cell_type") != "markdown":
            continue
        text = "".join(c.get("source", "")) if isinstance(c.get("source"), list) else str(c.get("source", ""))
        for line in text.splitlines():
            if not title and line.startswith("# "):
                title = line[2:].strip()
        m = re.search(r"\*\*The question\.\*\*\s*(.+?)(?:\n\s*\n|$)", text, re.S)
        if m and not question:
            question = " ".join(m.group(1).split())
        if title and question:
            break
    return title, question


def read_notebook(path: Path) -> Notebook | None:
    """The report a notebook file holds, or None when it has no ``parameters`` cell.

    Raises:
        ReportError: the file is not a notebook, its name cannot name a report, or its
            ``salessim`` metadata is malformed (each names the file).
    """
    path = Path(path)
    name = path.stem
    if not _NAME.match(name):
        raise ReportError(
            f"{path}: a report's file name must be letters, digits, _ and - (it "
            "names the report's page and folder)"
        )
    try:
        if path.stat().st_size > 20 * 2**20:
            raise ReportError(f"{path}: larger than 20 MiB; a report notebook is committed without outputs")
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ReportError(f"{path}: not a readable notebook ({type(e).__name__})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ReportError(f"{path}: not a notebook (no cells)")
    tagged = [
        c
        for c in cells
        if isinstance(c, dict)
        and isinstance(c.get("metadata"), dict)
        and "parameters" in (c["metadata"].get("tags") or [])
    ]
    if not tagged:
        return None
    meta = (nb.get("metadata") or {}).get("salessim") or {}
    if not isinstance(meta, dict):
        raise ReportError(f"{path}: metadata `salessim` must be a mapping")
    title, question = _first_heading_and_question([c for c in cells if isinstance(c, dict)])
    title = meta.get("title", title) or name.replace("_", " ")
    question = meta.get("question", question) or ""
    order, standard = meta.get("order", 100.0), meta.get("standard", True)
    rules = meta.get("parameters", {})
    if not isinstance(title, str) or not isinstance(question, str):
        raise ReportError(f"{path}: metadata `salessim.title` and `.question` must be text")
    if isinstance(order, bool) or not isinstance(order, int | float) or not math.isfinite(order):
        raise ReportError(f"{path}: metadata `salessim.order` must be a number, got {_show(order)}")
    if not isinstance(standard, bool):
        raise ReportError(f"{path}: metadata `salessim.standard` must be true or false")
    if not isinstance(rules, dict):
        raise ReportError(f"{path}: metadata `salessim.parameters` must be a mapping")
    return Notebook(
        name,
        path,
        title,
        question,
        float(order),
        standard,
        {str(k): _meta_rule(path, str(k), v) for k, v in rules.items()},
    )


def discover(directory: Path | None = None) -> dict[str, Notebook]:
    """Every report notebook in ``directory`` (default ``notebooks/``), in reading order."""
    directory = NOTEBOOK_DIR if directory is None else Path(directory)
    found = []
    for p in sorted(directory.glob("*.ipynb")):
        with contextlib.suppress(ReportError):  # not a report (or not readable): not listed
            nb = read_notebook(p)
            if nb is not None:
                found.append(nb)
    found.sort(key=lambda n: (n.order, n.name))
    return {n.name: n for n in found}


def standard_reports(directory: Path | None = None) -> dict[str, tuple[str, str]]:
    """The standard report set, in reading order: name → (title, the question it answers)."""
    return {n.name: (n.title, n.question) for n in discover(directory).values() if n.standard}


class ReportError(ValueError):
    """Bad input to a report (unknown report or parameter, bad value): exit code 2."""


class ReportFailed(RuntimeError):
    """A report notebook failed while running: exit code 1. The message names the failing cell."""


# ------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """What a parameter may be: its type and an inclusive range, or a check of its own."""

    kind: type
    low: float | None = None
    high: float | None = None
    check: Callable[[Any], str | None] | None = None
    note: str = ""


def _scenario_file(value: Any) -> str | None:
    from salessim.scenario import ScenarioError, load_scenario

    if str(value).strip() == "":
        return "expected a scenario file or a library name (e.g. baseline), got an empty value"
    path = input_path(str(value))
    if not path.exists():
        # a library name ("baseline") is fine too
        try:
            load_scenario(str(value))
        except ScenarioError:
            return (
                f"no scenario file {_show(value)} and no library scenario of that name "
                "(a relative path is read from the working directory)"
            )
        return None
    try:
        load_scenario(path)
    except ScenarioError as e:
        first = str(e).splitlines()
        return f"{_show(str(path))} is not a valid scenario: " + "; ".join(x.strip() for x in first[:3])
    return None


def _optional_scenario(value: Any) -> str | None:
    """A scenario file or library name, or empty (the library variant laid over the baseline)."""
    return None if str(value) == "" else _scenario_file(value)


def _existing_dir(value: Any) -> str | None:
    return None if input_path(str(value)).is_dir() else f"no directory {_show(value)}"


def _optional_csv(value: Any) -> str | None:
    if str(value) == "":
        return None
    p = input_path(str(value))
    return None if p.is_file() else f"no file {_show(value)}"


def _param_list(value: Any) -> str | None:
    from salessim.scenario import Scenario

    names = [x.strip() for x in str(value).split(",") if x.strip()]
    data = Scenario().to_dict()
    for n in names:
        cur: Any = data
        for k in n.split("."):
            if not isinstance(cur, dict) or k not in cur:
                return f"{_show(n)} is not a scenario parameter (e.g. culture.attrition_sensitivity)"
            cur = cur[k]
        if isinstance(cur, bool) or not isinstance(cur, int | float):
            return f"{_show(n)} is not a numeric parameter"
    return None


#: Every notebook parameter has a rule (a test checks this), so a bad value is refused up front.
RULES: dict[str, Rule] = {
    "replications": Rule(int, 1, MAX_REPLICATIONS),
    "seed": Rule(int, 0, MAX_SEED),
    "output_dir": Rule(str),
    "workers": Rule(int, 1, max_workers(), note="at most the machine's worker limit"),
    "mix_replications": Rule(int, 1, MAX_REPLICATIONS),
    "sensitivity_replications": Rule(int, 1, MAX_REPLICATIONS),
    "baseline": Rule(str, check=_scenario_file),
    "baseline_scenario": Rule(str, check=_scenario_file),  # the old name of baseline
    "focused_scenario": Rule(str, check=_optional_scenario),
    "many_scenario": Rule(str, check=_optional_scenario),
    "prescription_scenario": Rule(str, check=_optional_scenario),
    "scenario": Rule(str, check=_scenario_file),  # the old name of baseline
    "scenario_dir": Rule(str, check=_existing_dir),
    "crm_export": Rule(str, check=_optional_csv),
    "crm_history": Rule(str, check=_optional_csv),
    "observed_seed": Rule(int, 0, MAX_SEED),
    "calibrate_funnel": Rule(bool),
    "quota": Rule(float, 0.0, 1e10, note="annual quota per rep in dollars; 0: the baseline's own"),
    "coverage_confidence": Rule(float, 0.5, 0.99),
    "max_hours": Rule(int, 1, 40),
    "hours_step": Rule(int, 1, 20),
    "manager_hourly_cost": Rule(float, 0.0, 10_000.0),
    "gross_margin": Rule(float, 0.01, 1.0),
    "sensitivity_parameters": Rule(str, check=_param_list),
    "sensitivity_low": Rule(float, 0.0, 1.0, note="multiplier of the default (≤ 1)"),
    "sensitivity_high": Rule(float, 1.0, 100.0, note="multiplier of the default (≥ 1)"),
    "screening_file": Rule(str, check=_optional_csv),
}

#: Parameters renamed: the old name still works and reaches the notebook under the new one.
ALIASES: dict[str, str] = {"scenario": "baseline", "baseline_scenario": "baseline"}

#: Checks a notebook's metadata may name for a text parameter.
CHECKS: dict[str, Callable[[Any], str | None]] = {
    "scenario": _scenario_file,
    "optional_scenario": _optional_scenario,
    "dir": _existing_dir,
    "file": _optional_csv,
    "parameters": _param_list,
}
_KINDS = {"int": int, "float": float, "bool": bool, "str": str}


def _meta_rule(path: Path, key: str, spec: Any) -> Rule:
    """A range rule from a notebook's metadata: ``{"min": 1, "max": 40}``, ``{"check": "file"}``."""
    where = f"{path}: metadata `salessim.parameters.{key}`"
    if not isinstance(spec, dict) or set(spec) - {"min", "max", "check", "type", "note"}:
        raise ReportError(f"{where} must be a mapping of min, max, check, type, note")
    low, high = spec.get("min"), spec.get("max")
    for v in (low, high):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)):
            raise ReportError(f"{where}: min and max must be numbers, got {_show(v)}")
    check = spec.get("check")
    if check is not None and check not in CHECKS:
        raise ReportError(f"{where}: check must be one of {', '.join(CHECKS)}, got {_show(check)}")
    kind = spec.get("type")
    if kind is not None and kind not in _KINDS:
        raise ReportError(f"{where}: type must be one of {', '.join(_KINDS)}, got {_show(kind)}")
    default_kind = str if check is not None else float if low is not None or high is not None else str
    return Rule(
        _KINDS[kind] if kind else default_kind,
        low,
        high,
        CHECKS[check] if check else None,
        str(spec.get("note", "")),
    )


def _rule(nb: Notebook | None, key: str) -> Rule | None:
    """A parameter's rule: the notebook's own, else the shared one for that name."""
    if nb is not None and key in nb.rules:
        return nb.rules[key]
    return RULES.get(key)


#: The library variants a report lays over its baseline when the parameter is empty:
#: report → parameter → variant (its changes over the library baseline, :func:`salessim.
#: experiments.variant_changes`).
LAID_OVER: dict[str, dict[str, str]] = {
    "goal_designs": {
        "focused_scenario": "goals_focused",
        "many_scenario": "goals_many",
        "prescription_scenario": "prescription",
    },
    "pipeline_benchmark": {"prescription_scenario": "prescription"},
}

_TYPE_NAMES = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}


#: Longest ``-p`` value read (a path or a list of parameter names fits many times over).
MAX_VALUE_CHARS = 4096


def parse_value(text: str, key: str | None = None) -> Any:
    """A ``-p`` value as a YAML scalar: ``24`` → 24, ``0.5`` → 0.5, ``true`` → True, else text.

    A value is one scalar. The YAML is read event by event, so a list, a mapping, an anchor or
    an alias is refused before anything is built from it (an alias cannot expand into a huge
    value), and so is a value longer than :data:`MAX_VALUE_CHARS`.

    Raises:
        ReportError: naming the parameter (when given) and what a value may be.
    """
    where = f"-p {key}" if key else "-p value"
    if len(text) > MAX_VALUE_CHARS:
        raise ReportError(
            f"{where}: the value is {len(text):,} characters long; at most {MAX_VALUE_CHARS:,} are read"
        )
    scalars = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise ReportError(
                    f"{where} {_show(text)}: YAML anchors and aliases (& and *) are "
                    "not read; give the value itself"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                raise ReportError(
                    f"{where} {_show(text)}: expected a single value (number, "
                    "true/false or text), not a list or mapping"
                )
            if isinstance(event, yaml.ScalarEvent):
                scalars += 1
                if scalars > 1:  # several documents
                    return text
    except yaml.YAMLError:
        return text
    from salessim.scenario import ScenarioError, load_yaml_text

    try:  # the one scalar, read by the same guarded loader as scenario files
        v = load_yaml_text(text, where)
    except ScenarioError as e:  # a scalar YAML cannot read: 2026-02-30
        raise ReportError(str(e).replace(f"{where}: line 1, column 1: ", f"{where}: ")) from None
    if v is None:
        return text if text.strip() not in ("", "~", "null") else ""
    if not isinstance(v, bool | int | float | str):
        return text
    if isinstance(v, str) and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", v.strip()):
        return float(v)  # YAML 1.1 reads 1e6 as text; a leader means a million
    return v


def _show(value: Any, limit: int = 80) -> str:
    """A value for a message: its repr, cut short (a message never grows with the input).

    A long text keeps its start and its end, so a long path still shows its file name.
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        head, tail = value[: limit // 3], value[-(limit - limit // 3) :]
        return f"{head + '…' + tail!r} ({len(value):,} characters)"
    if isinstance(value, int) and value.bit_length() > 4 * limit:
        return f"a whole number of {value.bit_length():,} bits"
    if isinstance(value, bool | int | float):
        text = repr(value)
        return text if len(text) <= limit else text[:limit] + "…"
    return f"a {type(value).__name__}"


def notebook_path(name: str | Path) -> Path:
    """The notebook of a report: a name in ``notebooks/`` or a path to any ``.ipynb`` file.

    Unknown names are refused with the available reports listed.
    """
    text = str(name)
    looks_like_path = text.endswith(".ipynb") or os.sep in text or "/" in text
    if looks_like_path:
        path = input_path(text)
        if not path.is_file():
            raise ReportError(
                f"no notebook {_show(text)} (a relative path is read from the working directory)"
            )
        return path
    path = NOTEBOOK_DIR / f"{text}.ipynb"
    if not _NAME.match(text) or not path.is_file():
        raise ReportError(
            f"no report {_show(text)}; reports: {', '.join(discover())} (or give "
            "the path of any notebook with a `parameters` cell)"
        )
    return path


def report_notebook(name: str | Path) -> Notebook:
    """The report a name or path names (checked: it has a ``parameters`` cell)."""
    path = notebook_path(name)
    nb = read_notebook(path)
    if nb is None:
        raise ReportError(
            f"{path}: no cell tagged `parameters`; a report notebook declares its "
            "parameters in one (see papermill's parameters cell)"
        )
    return nb


def notebook_parameters(name: str | Path) -> dict[str, dict[str, Any]]:
    """The parameters cell of a report notebook, as papermill reads it: name → type, default, help."""
    import papermill

    spec = papermill.inspect_notebook(str(report_notebook(name).path))
    out = {}
    for key, p in spec.items():
        try:
            default = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            default = p["default"]
        out[key] = {"type": p.get("inferred_type_name"), "default": default, "help": p.get("help", "")}
    return out


def validate_parameters(
    name: str | Path, params: Mapping[str, Any] | None, allow_output_dir: bool = False
) -> dict[str, Any]:
    """Check names against the notebook and values by type and range; return them typed.

    Raises:
        ReportError: naming the parameter, the bad value, what is allowed, and — for an unknown
            name — every valid parameter.
    """
    nb = report_notebook(name)
    name = nb.name
    spec = notebook_parameters(nb.path)
    params = dict(params or {})
    unknown = sorted(k for k in params if k not in spec and ALIASES.get(k) not in spec)
    if unknown:
        raise ReportError(
            f"report {name}: unknown parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}; valid parameters: {', '.join(spec)}"
        )
    for old, new in ALIASES.items():
        if old in params and old not in spec and new in params:
            raise ReportError(f"report {name}: {old} is the old name of {new}; give only {new}")
    if "output_dir" in params and not allow_output_dir:
        raise ReportError(
            f"report {name}: output_dir is set by --out (the report's tables go to OUT/{name}/)"
        )
    out: dict[str, Any] = {}
    for key, value in params.items():
        rule = _rule(nb, key) or _rule(nb, ALIASES.get(key, key))
        default = spec[key]["default"] if key in spec else spec[ALIASES[key]]["default"]
        kind = rule.kind if rule else type(default)
        out[key] = _check_value(name, key, value, kind, rule)
    _check_laid_over(name, {**{k: v["default"] for k, v in spec.items()}, **_renamed(out)})
    return out


def _renamed(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters under their current names (:data:`ALIASES`)."""
    return {ALIASES.get(k, k): v for k, v in params.items()}


def _check_laid_over(name: str, params: Mapping[str, Any]) -> None:
    """Each library variant the report lays over its baseline must be valid over it."""
    from salessim.experiments import variant_changes, variants_over
    from salessim.notebook_helpers import load_input_scenario
    from salessim.scenario import ScenarioError

    todo = {
        param: variant for param, variant in LAID_OVER.get(name, {}).items() if params.get(param, "") == ""
    }
    if not todo or "baseline" not in params:
        return
    base = load_input_scenario(str(params["baseline"]))
    for param, variant in todo.items():
        try:
            variants_over(base, {variant: variant_changes(variant)})
        except ScenarioError as e:
            raise ReportError(
                f"report {name}: {e} — give that plan for this sales force as a "
                f"scenario file with -p {param} FILE"
            ) from None


def _check_value(report: str, key: str, value: Any, kind: type, rule: Rule | None) -> Any:
    where = f"report {report}: parameter {key}"
    if kind is bool:
        if not isinstance(value, bool):
            raise ReportError(f"{where} must be true or false, got {_show(value)}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ReportError(f"{where} must be a whole number, got {_show(value)}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ReportError(f"{where} must be a number, got {_show(value)}")
        if not math.isfinite(value):
            raise ReportError(
                f"{where} must be a finite number, got {_show(value)}"
                + (f" ({rule.note})" if rule is not None and rule.note else "")
            )
        value = float(value)
    elif kind is str:
        if value is None:
            value = ""
        elif isinstance(value, str | bool | int | float):
            value = str(value)
        else:
            raise ReportError(f"{where} must be text, got {_show(value)}")
    if rule is not None:
        if rule.low is not None and value < rule.low:
            raise ReportError(
                f"{where} must be ≥ {_num(rule.low)}, got {_show(value)}"
                + (f" ({rule.note})" if rule.note else "")
            )
        if rule.high is not None and value > rule.high:
            raise ReportError(
                f"{where} must be ≤ {_num(rule.high)}, got {_show(value)}"
                + (f" ({rule.note})" if rule.note else "")
            )
        if rule.check is not None:
            problem = rule.check(value)
            if problem:
                raise ReportError(f"{where}: {problem}")
    return value


def _num(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


# ------------------------------------------------------------------------------------------
# HTML export
# ------------------------------------------------------------------------------------------
#: The lab template without anything fetched from the network (require.js, MathJax, Mermaid,
#: widget manager) and with a calm, readable page style.
_TEMPLATE = r"""
{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
  body.jp-Notebook { max-width: 1120px; margin: 0 auto; padding: 24px 28px 64px 28px;
    font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
    color: #1d2327; background: #fff; }
  .jp-RenderedHTMLCommon { font-size: 15px; line-height: 1.55; }
  .jp-RenderedHTMLCommon h1 { font-size: 28px; margin-top: 8px; }
  .jp-RenderedHTMLCommon h2 { font-size: 20px; margin-top: 28px; padding-top: 12px;
    border-top: 1px solid #e3e6ea; }
  .jp-RenderedHTMLCommon ul li { margin-bottom: 8px; }
  .jp-RenderedHTMLCommon table { font-size: 13px; }
  .jp-OutputArea-output img { max-width: 100%; height: auto; }
  .jp-Cell { padding: 2px 0; }
  .jp-OutputPrompt, .jp-InputPrompt { display: none; }
  .jp-OutputArea-child { display: block; }
  details { margin: 10px 0 4px 0; }
  details summary { color: #264653; }
  .salessim-footer { margin-top: 40px; font-size: 12px; color: #666; }
</style>
{%- endblock extra_css -%}
"""

_REMOTE_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>", re.IGNORECASE
)
_ACTIVE_TAGS = frozenset({"script", "iframe", "frame", "object", "embed", "applet", "base", "form"})
_URL_ATTRS = frozenset({"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"})


class _ActiveContent(HTMLParser):
    """Finds what would make a page run something: scripts, event handlers, script URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _ACTIVE_TAGS:
            self.found.append(f"a <{tag}> element")
        for attr, value in attrs:
            url = re.sub(r"[\x00-\x20]+", "", value or "").lower()
            if attr.startswith("on"):
                self.found.append(f"an {attr} handler on <{tag}>")
            elif attr in _URL_ATTRS and url.startswith(("javascript:", "vbscript:", "data:text/html")):
                self.found.append(f"a {url.split(':')[0]}: link on <{tag}>")

    handle_startendtag = handle_starttag


def active_content(page: str) -> str:
    """What in an HTML page would run script (empty when nothing would).

    The reports' pages carry text, tables and PNG figures only; every name from the data is
    escaped. This is the last check before a page is written.
    """
    parser = _ActiveContent()
    parser.feed(page)
    parser.close()
    return "; ".join(dict.fromkeys(parser.found))


def export_html(notebook: Path | Any, title: str | None = None) -> str:
    """A code-free HTML page of an executed notebook.

    No input cells, no prompts, no stderr; figures embedded as PNG; nothing loaded from the
    network.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, str | Path) else notebook
    keep = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
            if not cell.outputs:
                continue  # nothing to show: drop the empty cell rather than leave a gap
        keep.append(cell)
    nb.cells = keep
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"salessim_report.html.j2": _TEMPLATE})],
        template_file="salessim_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={"hide-in-report"}, enabled=True), enabled=True
    )
    body, _ = exporter.from_notebook_node(nb)
    return _REMOTE_SCRIPT.sub("", body)


#: The quick-run warning: at the top of the page, kept in view while reading (sticky), in colours
#: no other part of a report uses.
_BANNER_STYLE = (
    "position:sticky;top:0;z-index:1000;background:#fff3cd;color:#4a2600;"
    "border:2px solid #b45309;border-left:12px solid #b45309;border-radius:4px;"
    "padding:12px 18px;margin:0 0 18px 0;font-size:17px;font-weight:600;"
    "line-height:1.45;box-shadow:0 2px 8px rgba(0,0,0,0.18)"
)


def quick_run_text(replications: int, default: int) -> str:
    """The quick-run warning in words (empty when the run has at least the default replications)."""
    if replications >= default:
        return ""
    noun = "replication" if replications == 1 else "replications"
    return (
        f"Quick run: {replications:,} {noun} instead of the default {default:,} — the "
        "confidence intervals are wide and directions may not show; not for decisions."
    )


def quick_run_banner(replications: int | None, default: Any) -> str:
    """The banner a report run with fewer replications than its notebook's default carries.

    Args:
        replications: replications the report ran with (after any quick-mode cut).
        default: the default of the notebook's ``replications`` parameter.

    Returns:
        An HTML ``<div>`` (its text escaped), or an empty string when the run is not a quick one
        (or either number is unknown).
    """
    if (
        not isinstance(replications, int)
        or not isinstance(default, int)
        or isinstance(replications, bool)
        or isinstance(default, bool)
    ):
        return ""
    text = quick_run_text(replications, default)
    if not text:
        return ""
    return (
        f"<div class='salessim-quick-run' role='note' style='{_BANNER_STYLE}'>"
        f"&#9888; {html.escape(text)}</div>"
    )


_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def with_banner(page: str, banner: str) -> str:
    """``page`` with ``banner`` as the first thing in its body (unchanged when there is none)."""
    if not banner:
        return page
    m = _BODY_TAG.search(page)
    if m is None:
        return banner + page
    return page[: m.end()] + "\n" + banner + page[m.end() :]


_BASELINE_STYLE = (
    "border-left:4px solid #1f4e79;background:#eef3f8;padding:8px 14px;"
    "margin:6px 0 14px 0;font-size:15px;line-height:1.5;color:#1d2327"
)


def baseline_text(info: Mapping[str, str] | None) -> tuple[str, str]:
    """Which sales force a report is for, in words: (who, where from); ("", "") when unknown."""
    if not info or not info.get("name"):
        return "", ""
    desc = " ".join(str(info.get("description", "")).split())
    who = f"For the sales force “{info['name']}”" + (f": {desc}" if desc else "")
    where = str(info.get("source", ""))
    detail = (f"(scenario {where}, " if where else "(") + f"content hash {info.get('hash', '?')})"
    return who, detail


_H1_END = re.compile(r"</h1\s*>", re.IGNORECASE)


def with_baseline(page: str, info: Mapping[str, str] | None) -> str:
    """``page`` with a line under its title naming the sales force it is for (text escaped)."""
    who, detail = baseline_text(info)
    if not who:
        return page
    box = (
        f"<div class='salessim-baseline' role='note' style='{_BASELINE_STYLE}'>"
        f"<b>{html.escape(who)}</b> {html.escape(detail)}</div>"
    )
    m = _H1_END.search(page)
    if m is None:
        return with_banner(page, box)
    return page[: m.end()] + "\n" + box + page[m.end() :]


#: The tables a report links to: what its notebook wrote beside the page as CSV or spreadsheet.
_TABLE_SUFFIXES = (".csv", ".xlsx")
_TABLES_STYLE = "margin:8px 0 0 0;padding:0 10px"
_LINK_STYLE = "color:#1f4e79;text-decoration:underline"


def tables_section(name: str, data: Path) -> str:
    """The page's list of its tables: every CSV and XLSX in ``data`` (OUT/NAME/), linked.

    Links are relative to the page (``NAME/plans.csv``, the page being ``OUT/NAME.html``), one
    line per table with its CSV and its spreadsheet; names are URL-quoted and HTML-escaped.
    Regular files only (a link or anything else there is not listed). Empty when there is none.
    """
    from urllib.parse import quote

    found: dict[str, list[str]] = {}
    for p in sorted(data.rglob("*")):
        if (
            p.suffix.lower() in _TABLE_SUFFIXES
            and p.is_file()
            and not p.is_symlink()
            and not any(part.startswith(".") for part in p.relative_to(data).parts)
        ):
            rel = p.relative_to(data).as_posix()
            found.setdefault(rel[: -len(p.suffix)], []).append(rel)
    if not found:
        return ""

    def link(rel: str) -> str:
        href = html.escape(quote(f"{name}/{rel}"), quote=True)
        return f"<a href='{href}' style='{_LINK_STYLE}'>{html.escape(rel)}</a>"

    items = "".join(
        f"<li><b>{html.escape(stem)}</b>: "
        + " · ".join(link(r) for r in sorted(files, key=lambda r: r.endswith(".xlsx")))
        + "</li>"
        for stem, files in found.items()
    )
    # styled as the page's own text (the notebook's Markdown cells)
    return (
        f"<section class='salessim-tables jp-RenderedHTMLCommon' aria-label='Tables' "
        f"style='{_TABLES_STYLE}'><h2>Tables</h2>"
        "<p>The numbers behind this page, each as CSV and as a spreadsheet: figures are "
        "numbers (shares as fractions, money in USD), not the formatted text above.</p>"
        f"<ul>{items}</ul></section>"
    )


_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def with_tables(page: str, section: str) -> str:
    """``page`` with ``section`` as the last thing in its body (unchanged when there is none)."""
    if not section:
        return page
    ends = list(_BODY_END.finditer(page))
    if not ends:
        return page + section
    at = ends[-1].start()
    return page[:at] + section + "\n" + page[at:]


def _replications_used(data: Path, typed: Mapping[str, Any], default: Any) -> int | None:
    """Replications the report ran with.

    As its run metadata records them (after a quick-mode cut), else the parameter given, else
    the notebook's default.
    """
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        meta = json.loads((data / "findings.json").read_text(encoding="utf-8")).get("metadata")
        used = meta.get("replications") if isinstance(meta, dict) else None
        if isinstance(used, int) and not isinstance(used, bool):
            return used
    value = typed.get("replications", default)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ------------------------------------------------------------------------------------------
# running one report
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportRun:
    """A finished report: where it is, with what it ran and how long it took."""

    name: str
    html: Path
    data: Path
    parameters: dict[str, Any]
    runtime_seconds: float


def _failing_cell(nb: Any) -> str:
    """The failing cell of an executed notebook, named by its section and first line."""
    section = "before the first section"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    section = line.lstrip("#").strip()
                    break
        elif any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            first = next(
                (x.strip() for x in cell.source.splitlines() if x.strip() and not x.strip().startswith("#")),
                "",
            )
            if len(first) > 70:
                first = first[:67] + "…"
            return f"cell {i + 1} (section “{section}”, starting `{first}`)"
    return "an unknown cell"


def run_report(
    name: str,
    out: Path = Path("reports"),
    params: Mapping[str, Any] | None = None,
    update_index: bool = True,
    log: Callable[[str], None] | None = None,
) -> ReportRun:
    """Run one report notebook with papermill and export it as code-free HTML.

    Args:
        name: a report in :data:`REPORTS`.
        out: reports directory: ``out/NAME.html`` and ``out/NAME/`` (tables, findings, notebook).
        params: notebook parameters (validated first; ``output_dir`` is set here).
        update_index: rebuild ``out/index.html`` afterwards.
        log: progress messages (default: none).

    The kernel works in a scratch folder that is removed afterwards, gets its input files as
    absolute paths (the ones checked here) and uses the simulation cache of this process, so a
    report writes only to ``out`` and the cache, whatever the working directory.

    Raises:
        ReportError: bad name or parameter (nothing has run, nothing was written).
        ReportFailed: a cell failed, or the page would run script; the last good report is
            untouched and the executed notebook is kept in ``out/_failed/NAME.ipynb``.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    report = report_notebook(name)
    name, nb_path = report.name, report.path
    typed = validate_parameters(nb_path, params)
    out = Path(out)
    check_out_dir(out)
    for page in (f"{name}.html", *(("index.html",) if update_index else ())):
        check_target(out / page, "file", "--out")  # a link or FIFO there: refused before the run
    t0 = time.perf_counter()
    started = datetime.now(UTC)
    failed_nb = out / "_failed" / f"{name}.ipynb"
    rel_nb = nb_path.relative_to(ROOT) if nb_path.is_relative_to(ROOT) else nb_path
    kernel_params = _kernel_parameters(typed, report)
    with atomic_dir(out / name) as tmp, tempfile.TemporaryDirectory(prefix="salessim-k") as sock:
        executed = tmp / f"{name}.ipynb"
        kernel_log = Path(sock) / "kernel.log"
        # the kernel works in a scratch folder of its own (removed afterwards): it reads its
        # inputs from absolute paths or the package, writes its tables to output_dir and its
        # simulation cache where the command line keeps it, and nothing anywhere else
        work = Path(sock) / "work"
        work.mkdir()
        try:
            # the kernel's own stderr (warnings, crashes) goes to a log, not to the terminal:
            # the command line prints one clear line; the log is kept beside a failed notebook
            with _stderr_to(kernel_log), _kernel_environment():
                papermill.execute_notebook(
                    str(nb_path),
                    str(executed),
                    parameters={**kernel_params, "output_dir": str(tmp.resolve())},
                    kernel_name=KERNEL,
                    cwd=str(work),
                    progress_bar=False,
                    log_output=False,
                    # IPC transport: no network ports and no plain-TCP warning from the kernel;
                    # the sockets live in a directory of this run's own: parallel runs cannot
                    # collide
                    config=Config({"KernelManager": {"transport": "ipc", "ip": f"{sock}/kernel"}}),
                )
        except PapermillExecutionError as e:
            where = "an unknown cell"
            if executed.exists():
                nb = nbformat.read(str(executed), as_version=4)
                where = _failing_cell(nb)
                atomic_write_text(failed_nb, executed.read_text(encoding="utf-8"))
            _keep_log(kernel_log, failed_nb.with_suffix(".log"))
            evalue = str(e.evalue).strip().splitlines()[0] if str(e.evalue).strip() else ""
            raise ReportFailed(
                f"report {name}: {rel_nb} failed in {where}: {e.ename}: {evalue} — executed "
                f"notebook kept in {failed_nb}; the last good report is untouched"
            ) from None
        except Exception as e:
            _keep_log(kernel_log, failed_nb.with_suffix(".log"))
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
            if type(e).__name__ == "NoSuchKernel":
                msg = (
                    f"no Jupyter kernel named {KERNEL!r}; run `make install` (it registers the "
                    "kernel inside .venv)"
                )
            raise ReportFailed(
                f"report {name}: {rel_nb} could not run: {type(e).__name__}: "
                f"{msg}; the last good report is untouched"
            ) from None
        default_reps = _defaults(nb_path).get("replications")
        used_reps = _replications_used(tmp, typed, default_reps)
        page = with_baseline(
            with_banner(export_html(executed, title=report.title), quick_run_banner(used_reps, default_reps)),
            _baseline_of(tmp),
        )
        page = with_tables(page, tables_section(name, tmp))
        active = active_content(page)
        if active:
            # text from the data must show as text: a page that would run anything is not
            # published (the notebook is kept for a look at which output carried it)
            atomic_write_text(failed_nb, executed.read_text(encoding="utf-8"))
            raise ReportFailed(
                f"report {name}: the page would run script ({active}); not written "
                f"— executed notebook kept in {failed_nb}; the last good report is "
                "untouched"
            )
        runtime = time.perf_counter() - t0
        from salessim import __version__

        info = {
            "name": name,
            "title": report.title,
            "question": report.question,
            "created_utc": started.isoformat(timespec="seconds"),
            "parameters": {**_defaults(nb_path), **_renamed(typed)},
            "given_parameters": _renamed(typed),
            "baseline": _baseline_of(tmp),
            "runtime_seconds": round(runtime, 1),
            "replications_used": used_reps,
            "replications_default": default_reps,
            "salessim_version": __version__,
            "notebook": str(rel_nb),
        }
        (tmp / "run.json").write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    html_path = out / f"{name}.html"
    atomic_write_text(html_path, page)
    if failed_nb.exists() or failed_nb.with_suffix(".log").exists():
        failed_nb.unlink(missing_ok=True)
        failed_nb.with_suffix(".log").unlink(missing_ok=True)
        if not any(failed_nb.parent.iterdir()):
            shutil.rmtree(failed_nb.parent, ignore_errors=True)
    if update_index:
        write_index(out)
    if log:
        log(f"wrote {html_path} ({runtime:.0f} s)")
    return ReportRun(name, html_path, out / name, typed, runtime)


#: Parameter checks that name an input file or folder: its path is made absolute for the kernel.
_PATH_CHECKS = (_scenario_file, _optional_scenario, _existing_dir, _optional_csv)


def _kernel_parameters(typed: Mapping[str, Any], nb: Notebook | None = None) -> dict[str, Any]:
    """The checked parameters as the kernel gets them: input paths absolute.

    Relative paths were checked against this process's working directory (else the project
    root); the kernel runs elsewhere, so it gets the very files that were checked. A scenario
    given by library name stays a name.
    """
    out = _renamed(typed)
    for key, value in typed.items():
        rule = _rule(nb, key)
        if rule is None or rule.check not in _PATH_CHECKS or not isinstance(value, str) or not value:
            continue
        path = input_path(value)
        if path.exists():
            out[ALIASES.get(key, key)] = str(path)
    return out


@contextlib.contextmanager
def _kernel_environment() -> Iterator[None]:
    """The kernel's environment: the simulation cache where this process keeps it.

    The cache location is made absolute here, so the kernel (which works in a scratch folder)
    uses the same cache as every other salessim command run from this directory.
    """
    from salessim.experiments import cache_root

    key = "SALESSIM_CACHE_DIR"
    saved = os.environ.get(key)
    os.environ[key] = str(Path(cache_root()).expanduser().resolve())
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr (file descriptor 2, inherited by the kernel) to ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.dup2(fd, 2)
        os.close(fd)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _keep_log(log: Path, dest: Path) -> None:
    """Keep a non-empty kernel log beside the failed notebook."""
    if log.exists() and log.stat().st_size:
        atomic_write_text(dest, log.read_text(encoding="utf-8", errors="replace"))


def _baseline_of(data: Path) -> dict[str, str] | None:
    """The sales force a report was built for, as its notebook recorded it (``baseline.json``)."""
    with contextlib.suppress(OSError, ValueError):
        info = json.loads((data / "baseline.json").read_text(encoding="utf-8"))
        if isinstance(info, dict):
            return {k: str(info.get(k, "")) for k in ("name", "description", "hash", "source")}
    return None


def _defaults(name: str | Path) -> dict[str, Any]:
    spec = notebook_parameters(name)
    return {k: v["default"] for k, v in spec.items() if k != "output_dir"}


# ------------------------------------------------------------------------------------------
# the index page
# ------------------------------------------------------------------------------------------
_INDEX_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2327;
max-width:1120px;margin:0 auto;padding:28px}
h1{font-size:28px;margin-bottom:4px} p.lead{color:#444;font-size:15px;margin-top:4px}
.card{border:1px solid #e3e6ea;border-radius:8px;padding:14px 18px;margin:16px 0}
.card h2{font-size:19px;margin:0 0 4px 0} .card h2 a{color:#1f4e79;text-decoration:none}
.card h2 a:hover{text-decoration:underline} .q{color:#444;margin:2px 0 10px 0}
.shows{font-size:14px;color:#264653;margin:0 0 8px 0}
.finding{background:#f4f8f7;border-left:4px solid #2a9d8f;padding:8px 12px;margin:8px 0;
font-size:14.5px;line-height:1.5}
.meta{font-size:12.5px;color:#555;line-height:1.9}
.meta code{font-size:12px;background:#f3f5f7;padding:1px 4px;border-radius:3px}
.failed{border-left:4px solid #e76f51;background:#fdf3f0;padding:8px 12px;font-size:14px}
.missing{color:#888}
.quick{background:#fff3cd;border-left:6px solid #b45309;color:#4a2600;font-weight:600;
padding:8px 12px;margin:8px 0;font-size:14.5px}
"""


def write_index(out: Path) -> Path:
    """``out/index.html``: every report with its headline finding, date, parameters and runtime."""
    out = Path(out)
    cards = []
    bases: dict[str, Mapping[str, str]] = {}  # content hash → the sales force a report is for
    listed = dict(standard_reports())
    for run_json in sorted(out.glob("*/run.json")):  # other notebooks built into this folder
        other = run_json.parent.name
        if other in listed or not _NAME.match(other) or not (out / f"{other}.html").is_file():
            continue
        with contextlib.suppress(OSError, ValueError, AttributeError):
            doc = json.loads(run_json.read_text(encoding="utf-8"))
            listed[other] = (str(doc.get("title", other)), str(doc.get("question", "")))
    for name, (title, question) in listed.items():
        run_file = out / name / "run.json"
        failed = (out / "_failed" / f"{name}.ipynb").exists()
        fail_note = (
            f"<div class='failed'>The last build of this report failed; the page linked "
            f"here is the last good one. The failed notebook is in "
            f"<code>_failed/{name}.ipynb</code>.</div>"
            if failed
            else ""
        )
        if not run_file.exists() or not (out / f"{name}.html").exists():
            cards.append(
                f"<div class='card'><h2 class='missing'>{html.escape(title)}</h2>"
                f"<p class='q'>{html.escape(question)}</p>{fail_note}"
                f"<p class='meta missing'>Not built yet: <code>salessim report {name}"
                f"</code></p></div>"
            )
            continue
        info = json.loads(run_file.read_text(encoding="utf-8"))
        headline = ""
        fpath = out / name / "findings.json"
        if fpath.exists():
            try:
                items = json.loads(fpath.read_text(encoding="utf-8")).get("findings", [])
                if items:
                    headline = (
                        f"<div class='finding'><b>{html.escape(items[0]['headline'])}</b>"
                        f" {html.escape(items[0].get('meaning', ''))}</div>"
                    )
            except (ValueError, KeyError):
                headline = ""
        shows = ""
        tpath = out / name / "time_frame.json"
        if tpath.exists():
            try:
                tf = json.loads(tpath.read_text(encoding="utf-8"))
                shows = (
                    f"<p class='shows'><b>Shows:</b> {html.escape(str(tf['label']))} "
                    f"({html.escape(str(tf.get('horizon', '')).split(';')[0])}).</p>"
                )
            except (ValueError, KeyError, TypeError):
                shows = ""
        quick = ""
        used, default = info.get("replications_used"), info.get("replications_default")
        if isinstance(used, int) and isinstance(default, int) and quick_run_text(used, default):
            quick = f"<div class='quick'>{html.escape(quick_run_text(used, default))}</div>"
        params = info.get("parameters", {})
        given = set(info.get("given_parameters", {}))
        ptxt = ", ".join(
            f"<code>{html.escape(k)}={html.escape(str(v) if v != '' else '“”')}</code>"
            + (" (set)" if k in given else "")
            for k, v in params.items()
        )
        base = info.get("baseline") if isinstance(info.get("baseline"), dict) else None
        if base and base.get("hash"):
            bases[str(base["hash"])] = base
        for_whom = (
            f"<p class='shows'><b>Sales force:</b> {html.escape(str(base.get('name', '')))}"
            f" <span class='meta'>(content hash <code>{html.escape(str(base.get('hash', '')))}"
            "</code>)</span></p>"
            if base
            else ""
        )
        when = info.get("created_utc", "")
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(when).strftime("%Y-%m-%d %H:%M UTC")
        cards.append(
            f"<div class='card'><h2><a href='{html.escape(name)}.html'>{html.escape(title)}</a></h2>"
            f"<p class='q'>{html.escape(question)}</p>{quick}{for_whom}{shows}{headline}{fail_note}"
            f"<p class='meta'>Built {html.escape(when)} in {info.get('runtime_seconds', '?')} s "
            f"with salessim {html.escape(str(info.get('salessim_version', '')))}. "
            f"Parameters: {ptxt}</p></div>"
        )
    from salessim import __version__

    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>salessim reports</title><style>{_INDEX_CSS}</style></head><body>"
        "<h1>Sales performance reports</h1>"
        + _index_company(bases)
        + "<p class='lead'>Each report tries a change in how the sales force is run on a "
        "simulated sales force first, and gives the effect with its 95&nbsp;% confidence "
        "interval, and says whether it shows the first year after the change (while it "
        "ramps in) or the steady state once the sales force has settled. Start with the "
        "drivers overview.</p>"
        + "\n".join(cards)
        + f"<p class='meta'>Index written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by salessim "
        f"{__version__}. Rebuild with <code>make report</code>.</p></body></html>"
    )
    path = out / "index.html"
    atomic_write_text(path, page)
    return path


def _index_company(bases: Mapping[str, Mapping[str, str]]) -> str:
    """The index's line on which sales force the reports are for (escaped)."""
    if not bases:
        return ""
    if len(bases) == 1:
        who, detail = baseline_text(next(iter(bases.values())))
        return f"<div class='finding'><b>{html.escape(who)}</b> {html.escape(detail)}</div>"
    names = ", ".join(sorted({str(b.get("name", "")) for b in bases.values()}))
    return (
        "<div class='failed'>These reports were built for different sales forces ("
        f"{html.escape(names)}); each card says which. Rebuild them together with "
        "<code>salessim reports --baseline FILE</code>.</div>"
    )


def build_all(
    out: Path,
    replications: int | None = None,
    names: Sequence[str] | None = None,
    baseline: str | None = None,
) -> int:
    """Build the standard reports into ``out`` and write ``out/index.html``.

    ``baseline``: the sales force every report is built for (a scenario file, e.g. one
    ``salessim calibrate`` wrote, or a library name; default each notebook's own, the library
    baseline); each report lays the library variants' changes over it.

    A report that fails is named and skipped (its last good version stays); the others are
    still built. Returns the exit code: 0 if every report was built, 1 otherwise.

    Raises:
        ReportError: a bad parameter, e.g. a baseline file that is missing or not a valid
            scenario (nothing has run, nothing was written).
    """
    out = Path(out)
    names = list(names or standard_reports())
    params: dict[str, Any] = {"replications": int(replications)} if replications is not None else {}
    if baseline is not None:
        params["baseline"] = baseline
    for name in names:  # every parameter set is checked before the first report runs
        validate_parameters(name, params)
    check_out_dir(out)
    check_target(out / "index.html", "file", "--out")
    t0 = time.perf_counter()
    failures = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} …", file=sys.stderr, flush=True)
        try:
            run = run_report(name, out, params, update_index=False)
        except ReportFailed as e:
            failures.append(name)
            print(f"salessim: error: {e}", file=sys.stderr, flush=True)
            continue
        print(
            f"[{i}/{len(names)}] {name}: {run.html} ({run.runtime_seconds:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    index = write_index(out)
    total = time.perf_counter() - t0
    done = len(names) - len(failures)
    print(
        f"wrote {index}: {done} of {len(names)} reports built in {total:.0f} s"
        + (f"; failed: {', '.join(failures)}" if failures else "")
    )
    return 0 if not failures else 1


#: The standard report set, in reading order: name → (title, the question it answers). Read from
#: the notebooks themselves (:func:`standard_reports`): a notebook added to ``notebooks/`` joins it.
REPORTS: dict[str, tuple[str, str]] = standard_reports()
