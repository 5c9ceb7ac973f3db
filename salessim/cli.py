"""The ``salessim`` command line (docs/cli.md). Exit 0 ok, 2 bad input, 1 internal error."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from salessim.scenario import ScenarioError, load_scenario

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_UNVERIFIED = 0, 1, 2, 3


class BadInput(Exception):
    """A user error that the CLI reports in one clear message with exit code 2."""


def _shown(text: str) -> str:
    """A command-line value for a message, shortened when long."""
    return repr(text) if len(text) <= 40 else f"{text[:28]!r}… ({len(text):,} characters)"


def _int_at_least(name: str, minimum: int, maximum: int | None = None, why: str = ""):
    """An argparse type: a whole number in [minimum, maximum]; the message names the bound."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            digits = text.strip().lstrip("+-").replace("_", "")
            if digits.isdigit() and maximum is not None:  # beyond int()'s digit limit
                raise argparse.ArgumentTypeError(
                    f"{name} must be at most {maximum}{why}, got a {len(digits):,}-digit number"
                ) from None
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {_shown(text)}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be at least {minimum}, got {_shown(text)}")
        if maximum is not None and v > maximum:
            raise argparse.ArgumentTypeError(f"{name} must be at most {maximum}{why}, got {_shown(text)}")
        return v

    return parse


def _positive_int(name: str, maximum: int | None = None, why: str = ""):
    return _int_at_least(name, 1, maximum, why)


def _replications():
    from salessim.executors import MAX_REPLICATIONS

    return _positive_int("replications", MAX_REPLICATIONS, " per scenario")


def _workers():
    from salessim.executors import WORKERS_PER_CORE, available_cores, max_workers

    return _positive_int(
        "workers", max_workers(), f" ({WORKERS_PER_CORE} × {available_cores()} available cores)"
    )


def _seed(text: str) -> int:
    from salessim.executors import MAX_SEED

    return _int_at_least("seed", 0, MAX_SEED, " (2**63 − 1)")(text)


def _warmup_days(text: str) -> int:
    return _int_at_least("warm-up days", 0, 1095, "")(text)


def _bench_seed(text: str) -> int:
    from salessim.executors import MAX_SEED

    return _int_at_least("seed", 0, MAX_SEED - 1, " (the bench also runs seed + 1)")(text)


def _trajectories(text: str) -> int:
    from salessim.sensitivity import MAX_TRAJECTORIES

    return _positive_int("trajectories", MAX_TRAJECTORIES)(text)


def _levels(text: str) -> int:
    from salessim.sensitivity import LEVELS_RANGE

    v = _int_at_least("levels", LEVELS_RANGE[0], LEVELS_RANGE[1])(text)
    if v % 2:
        raise argparse.ArgumentTypeError(f"levels must be an even number, got {_shown(text)}")
    return v


def _days(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"DAYS must be a number, got {text!r}") from None
    if not np.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"DAYS must be a finite number ≥ 0, got {text!r}")
    return v


def _path(text: str) -> Path:
    """A path argument; an empty one is refused by name (``Path('')`` would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a file or folder name, got {text!r}")
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    p = argparse.ArgumentParser(
        prog="salessim",
        description="Try how you run a sales force on a simulated one before trying it on people.",
    )
    from salessim import __version__

    p.add_argument("--version", action="version", version=f"salessim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("simulate", help="simulate a scenario and write its tables")
    s.add_argument("scenario", help="scenario YAML file or library name (e.g. baseline)")
    s.add_argument(
        "--replications",
        "-r",
        type=_replications(),
        default=8,
        help="replications per scenario (at most 10,000)",
    )
    s.add_argument("--seed", "-s", type=_seed, default=1)
    s.add_argument(
        "--out",
        "-o",
        type=_path,
        default=None,
        help="directory for reps/periods(/deals) Parquet tables and manifest.json",
    )
    s.add_argument(
        "--deals",
        action="store_true",
        help="also write the deal log (deals.parquet and a CRM-style deals.csv)",
    )
    s.add_argument(
        "--xlsx",
        type=_path,
        default=None,
        metavar="FILE",
        help="also write the tables as a spreadsheet (numbers with number formats)",
    )

    for cmd in ("compare", "sweep", "swings"):
        if cmd == "swings":
            s = sub.add_parser(
                "swings",
                help="every one-driver variant of the scenario library "
                "against the baseline (which driver to fix first)",
            )
            s.add_argument(
                "--baseline",
                "-b",
                default=None,
                metavar="FILE_OR_NAME",
                help="your sales force: a scenario file (e.g. one `salessim calibrate` "
                "wrote) or a library name; each library variant's changes (its "
                "fields that differ from the library baseline) are laid over it "
                "(default: the library baseline and its variant files)",
            )
        elif cmd == "compare":
            s = sub.add_parser("compare", help="compare scenarios, paired on common random numbers")
            s.add_argument("scenarios", nargs="+", metavar="SCENARIO")
            s.add_argument(
                "--baseline",
                "-b",
                default=None,
                metavar="NAME_OR_FILE",
                help="scenario to pair against (default: the first): the name of one "
                "of the scenarios, one of them as given, or any other scenario "
                "file or library name (then added as the first scenario)",
            )
            s.add_argument(
                "--culture-split",
                action=argparse.BooleanOptionalAction,
                default=True,
                help="split each effect into its direct part (the variant with "
                "culture held on the baseline's path) and the part culture "
                "carries; costs two more runs per variant replication "
                "(default: on)",
            )
        else:
            s = sub.add_parser("sweep", help="vary scenario fields over values (every combination)")
            s.add_argument("scenario")
            s.add_argument(
                "--vary",
                action="append",
                required=True,
                metavar="FIELD=V1,V2,…",
                help="e.g. coaching.joint_call_hours_per_week=0,2,4,8 (repeat for more "
                "fields: every combination is run)",
            )
        s.add_argument(
            "--replications",
            "-r",
            type=_replications(),
            default=16,
            help="replications per scenario (at most 10,000)",
        )
        s.add_argument("--seed", "-s", type=_seed, default=1)
        s.add_argument(
            "--workers",
            "-w",
            type=_workers(),
            default=None,
            help="local worker processes (default: all cores; 1 = serial; at most 4 per "
            "core, and never more than there are batches to run)",
        )
        s.add_argument(
            "--scheduler", default=None, help="Dask scheduler address (default: $DASK_SCHEDULER_ADDRESS)"
        )
        s.add_argument(
            "--out",
            "-o",
            type=_path,
            default=None,
            help="directory for reps/periods Parquet, summary.csv and manifest.json",
        )
        s.add_argument("--no-cache", action="store_true", help="recompute even if cached")
        s.add_argument(
            "--xlsx",
            type=_path,
            default=None,
            metavar="FILE",
            help="also write the summary and tables as a spreadsheet (numbers with number formats)",
        )

    s = sub.add_parser(
        "sensitivity",
        help="screen every modelling assumption for its influence "
        "on each driver's revenue effect (Morris elementary "
        "effects): which assumptions the ranking hangs on",
    )
    s.add_argument(
        "--baseline",
        "-b",
        default="baseline",
        metavar="FILE_OR_NAME",
        help="scenario the assumptions are perturbed around (default: baseline); the "
        "library's driver variants are laid over it at every design point",
    )
    s.add_argument(
        "--replications",
        "-r",
        type=_replications(),
        default=4,
        help="replications per scenario at each design point (at most 10,000)",
    )
    s.add_argument(
        "--trajectories",
        "-t",
        type=_trajectories,
        default=4,
        help="Morris trajectories; each costs (parameters + 1) design points",
    )
    s.add_argument(
        "--levels", type=_levels, default=4, help="levels of the Morris grid (an even number, 2 … 20)"
    )
    s.add_argument("--seed", "-s", type=_seed, default=1)
    s.add_argument(
        "--workers",
        "-w",
        type=_workers(),
        default=None,
        help="local worker processes (default: all cores; 1 = serial)",
    )
    s.add_argument(
        "--variants",
        default=None,
        metavar="NAME,…",
        help="library variants whose revenue effects are screened (default: the "
        "driver done well, one per driver: the drivers' ranking)",
    )
    s.add_argument(
        "--parameters",
        default=None,
        metavar="FIELD,…",
        help="screen only these assumptions (default: every numeric one)",
    )
    s.add_argument(
        "--out",
        "-o",
        type=_path,
        default=None,
        help="directory for sensitivity.parquet/.csv, parameters, design, effects and manifest.json",
    )
    s.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    s.add_argument(
        "--force", action="store_true", help="run a screening of more than 20,000 scenario-replications"
    )

    s = sub.add_parser("calibrate", help="calibrate a scenario to a CRM opportunity export")
    s.add_argument("crm", type=_path, metavar="CRM.csv")
    s.add_argument(
        "--history", type=_path, default=None, help="stage history (Salesforce OpportunityHistory.csv)"
    )
    s.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="ROLE=COLUMN",
        help="map a role to a column (roles: id, owner, stage, created, closed, "
        "amount, product, segment, manager, outcome, is_won, is_closed)",
    )
    s.add_argument(
        "--won",
        action="append",
        default=[],
        metavar="VALUE",
        help="a stage value meaning won (besides Won, Closed Won, …)",
    )
    s.add_argument(
        "--lost",
        action="append",
        default=[],
        metavar="VALUE",
        help="a stage value meaning lost (besides Lost, Closed Lost, …)",
    )
    s.add_argument("-o", "--out", type=_path, default=None, help="write the scenario YAML here")
    s.add_argument(
        "--accept-unverified",
        action="store_true",
        help="exit 0 even when the calibrated scenario, simulated, misses the export "
        "beyond a tolerance (the misses are still printed; otherwise exit 3)",
    )
    s.add_argument("--base", default="baseline", help="scenario the calibrated one extends")
    s.add_argument(
        "--reps",
        type=_positive_int("reps", 20_000, " (500 managers × span 40)"),
        default=None,
        metavar="N",
        help="the number of reps in the sales force (default: estimated from the "
        "owner column; without one, the base scenario's)",
    )
    s.add_argument("--seed", "-s", type=_seed, default=7)

    s = sub.add_parser("plan", help="reverse-engineer quota through the funnel; the benchmark pipeline")
    s.add_argument("scenario")

    s = sub.add_parser("validate", help="measure the validation table: what the defaults reproduce")
    s.add_argument(
        "--replications",
        "-r",
        type=_replications(),
        default=64,
        help="replications per scenario (at most 10,000)",
    )
    s.add_argument("--seed", "-s", type=_seed, default=20261127)
    s.add_argument(
        "--mode",
        choices=["transition", "steady_state"],
        default=None,
        help="simulation.mode for every scenario (default: each keeps its own, the "
        "library's year 1 of each change)",
    )
    s.add_argument(
        "--warmup-days",
        type=_warmup_days,
        default=None,
        help="simulation.warmup_days for every scenario (0 … 1095)",
    )

    s = sub.add_parser("assumptions", help="print every parameter with its source or assumption")
    s.add_argument("scenario", nargs="?", default="baseline")

    s = sub.add_parser("bench", help="speed and memory as ratios to this machine's SimPy floor")
    s.add_argument(
        "--replications",
        "-r",
        type=_replications(),
        default=8,
        help="replications per scenario (at most 10,000)",
    )
    s.add_argument(
        "--no-parallel",
        action="store_true",
        help="skip the process-pool measurements (8 replications on all cores, parallel efficiency, cache)",
    )
    s.add_argument(
        "--quick",
        action="store_true",
        help="skip the slow parts: the 4,000-rep run of the scaling section and the "
        "2-scenario comparison with its cache rerun",
    )
    s.add_argument("--seed", "-s", type=_bench_seed, default=1)

    s = sub.add_parser("report", help="run one report notebook and export it as code-free HTML")
    s.add_argument(
        "name",
        metavar="NAME_OR_PATH",
        help="a report in notebooks/ (drivers_overview, goal_designs, "
        "pipeline_benchmark, coaching, crm_calibration, what_if, …) or the path "
        "of any notebook with a cell tagged `parameters`",
    )
    s.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="a notebook parameter (value read as YAML: 24, 0.5, true, text); repeatable",
    )
    s.add_argument(
        "--out",
        "-o",
        type=_path,
        default=Path("reports"),
        help="reports directory: OUT/NAME.html, OUT/NAME/ and OUT/index.html",
    )

    s = sub.add_parser("cache", help="the cache of finished simulation batches: info or clear")
    act = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    act.add_parser("info", help="where the cache is, its runs, batches and size, and its cap")
    c = act.add_parser(
        "clear", help="remove cached batches, hazard solves and screenings (all, or those unused for DAYS)"
    )
    c.add_argument(
        "--older-than",
        type=_days,
        default=None,
        metavar="DAYS",
        help="remove only batches not used for DAYS days (e.g. 30, 0.5)",
    )

    s = sub.add_parser("reports", help="build the standard reports and index.html")
    s.add_argument("--out", "-o", type=_path, default=Path("reports"))
    s.add_argument(
        "--baseline",
        "-b",
        default=None,
        metavar="FILE_OR_NAME",
        help="build every report for this sales force: a scenario file (e.g. one "
        "`salessim calibrate` wrote) or a library name; the library variants' "
        "changes are laid over it (default: the library baseline)",
    )
    s.add_argument(
        "--replications",
        "-r",
        type=_replications(),
        default=None,
        help="replications for every report (default: each notebook's own)",
    )

    from salessim.capacity import add_parsers as add_capacity_parsers

    add_capacity_parsers(sub)  # capacity and quota (salessim.capacity)

    s = sub.add_parser(
        "docs",
        help="write the generated reference pages of docs/ (scenario, CLI), or check that they are current",
    )
    from salessim.docs import add_arguments

    add_arguments(s)
    return p


# ------------------------------------------------------------------------------------------
def _ci(x: pd.Series) -> tuple[float, float]:
    """Mean and 95 % Student-t half-width over replications (the interval ``compare`` prints)."""
    from salessim.stats import mean_ci

    r = mean_ci(x.to_numpy(dtype=float))
    return r.mean, (r.high - r.low) / 2


SUMMARY = [
    ("revenue", "team revenue", "money"),
    ("attainment_p50", "median attainment", "pct"),
    ("pct_at_quota", "share of full-period reps at quota", "pct"),
    ("win_rate", "win rate", "pct"),
    ("cycle_days", "median won cycle (days)", "num"),
    ("pipeline_coverage", "pipeline coverage (next quarter)", "x"),
    ("turnover", "annual turnover", "pct"),
    ("detection_lag_days", "gap detection lag (days)", "num"),
    ("false_flag_rate", "false-flag rate (flags on reps on track)", "pct"),
    ("diagnosis_accuracy", "diagnosis accuracy (plans coaching the weakest stage)", "pct"),
    ("forecast_error", "forecast error (abs. % per quarter)", "pct"),
    ("forecast_bias", "forecast bias (signed % per quarter)", "pct"),
    ("coaching_hours", "joint-call hours", "num"),
    ("culture", "culture index (year end)", "num"),
]


def _fmt(v: float, kind: str, signed: bool = False) -> str:
    """A figure for the terminal: money in millions, shares in % (signed: differences, in pts)."""
    if not np.isfinite(v):
        return "–"
    sign = "+" if signed else ""
    if kind == "money":
        return f"{'' if signed else '$'}{v / 1e6:{sign},.2f}M"
    if kind == "pct":
        return f"{100 * v:{sign}.1f} {'pts' if signed else '%'}"
    if kind == "x":
        return f"{v:{sign}.2f}×"
    return f"{v:{sign},.1f}"


def print_summary(periods: pd.DataFrame, title: str) -> None:
    """A short readable summary of the year: mean ± 95 % Student-t CI half-width over replications.

    The same interval as ``compare`` (:mod:`salessim.stats`); "–" with a single replication.
    """
    from rich.console import Console
    from rich.table import Table

    years = sorted(periods["year"].unique())
    for fy in years:
        year = periods[(periods["period"] == "year") & (periods["year"] == fy)]
        t = Table(title=title if len(years) == 1 else f"{title} — year {fy}", title_justify="left")
        t.add_column("year", style="bold")
        t.add_column("mean", justify="right")
        t.add_column("± 95 % CI", justify="right")
        for col, label, kind in SUMMARY:
            m, h = _ci(year[col])
            t.add_row(label, _fmt(m, kind), _fmt(h, kind) if np.isfinite(h) else "–")
        Console(width=100).print(t)


# ------------------------------------------------------------------------------------------
def cmd_simulate(args: argparse.Namespace) -> int:
    from salessim.io import manifest, write_tables
    from salessim.simulate import simulate

    sc = load_scenario(args.scenario)
    # both destinations are checked and locked before simulating
    with _output(args.out, "dir", "--out") as out, _output(args.xlsx, "file", "--xlsx") as book:
        t0 = time.perf_counter()
        res = simulate(
            sc, replications=args.replications, seed=args.seed, deals=args.deals, progress=_progress_printer()
        )
        runtime = time.perf_counter() - t0
        meta = manifest(
            command="simulate",
            scenario=sc.name,
            scenario_hash=sc.hash,
            scenario_source=str(args.scenario),
            scenario_yaml=sc.to_yaml(),
            seed=args.seed,
            replications=args.replications,
            deals=args.deals,
            runtime_seconds=round(runtime, 3),
        )
        tables = {"periods": res.periods, "reps": res.reps, "deals": res.deals}
        if out is not None:
            with out.staging() as tmp:
                write_tables(
                    tmp, {"reps": res.reps, "periods": res.periods, "deals": res.deals}, meta, csv=("deals",)
                )
        if book is not None:
            _write_xlsx(book, tables, meta)
    print_summary(
        res.periods, f"{sc.name} — {args.replications} replications, seed {args.seed} ({runtime:.1f} s)"
    )
    if args.out is not None:
        print(f"wrote {args.out}/ (reps, periods{', deals' if args.deals else ''}, manifest.json)")
    if args.xlsx is not None:
        print(f"wrote {args.xlsx}")
    return EXIT_OK


def _write_xlsx(book: Any, tables: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the tables as one spreadsheet (numbers with number formats) to the locked ``book``."""
    from salessim.xlsx import workbook_bytes

    meta = {k: v for k, v in meta.items() if k != "scenario_yaml"}
    book.write_text(workbook_bytes(tables, meta))


def _output(path: Path | None, kind: Literal["dir", "file"], flag: str) -> Any:
    """The one writer for a command's destination (checked and locked on entering), or None."""
    import contextlib

    from salessim.io import Output

    return Output(path, kind, flag) if path is not None else contextlib.nullcontext()


def _progress_printer():
    """A progress callback on a terminal; silent otherwise (CI, pipes, papermill)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\r  replications {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _experiment_out(out: Any, comp, command: str, runtime: float) -> None:
    from salessim.io import manifest, write_tables

    meta = manifest(command=command, **comp.meta, runtime_seconds=round(runtime, 3))
    tables = {"reps": comp.results.reps, "periods": comp.results.periods}
    if getattr(comp, "direct", None) is not None and len(comp.direct):
        tables["periods_direct"] = comp.direct  # the variants with the baseline's culture path
    with out.staging() as tmp:
        write_tables(tmp, tables, meta)
        comp.summary.to_csv(tmp / "summary.csv", index=False)


def print_comparison(comp, title: str) -> None:
    """The paired summary as a readable table: one block per metric."""
    from rich.console import Console
    from rich.table import Table

    kinds = {
        "revenue": "money",
        "attainment_p50": "pct",
        "pct_at_quota": "pct",
        "win_rate": "pct",
        "turnover": "pct",
        "detection_lag_days": "num",
        "false_flag_rate": "pct",
        "diagnosis_accuracy": "pct",
        "forecast_error": "pct",
        "coaching_hours": "num",
        "cost": "money",
        "margin_less_cost": "money",
    }
    t = Table(title=title, title_justify="left")
    sm = comp.summary
    split = "direct" in sm
    cols = ["metric", "scenario", "mean [95 % CI]", f"vs {comp.baseline} [95 % CI]", "P(better)"]
    if split:
        cols += ["direct [95 % CI]", "via culture [95 % CI]"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("metric", "scenario") else "right")
    for metric, g in sm.groupby("metric", sort=False):
        kind = kinds.get(str(metric), "num")
        first = True
        for _, r in g.iterrows():
            mean = f"{_fmt(r['mean'], kind)} [{_fmt(r['ci_low'], kind)}, {_fmt(r['ci_high'], kind)}]"
            if r["scenario"] == comp.baseline:
                diff, pb = "baseline", ""
            else:
                diff = (
                    f"{_fmt(r['diff'], kind, True)} [{_fmt(r['diff_ci_low'], kind, True)}, "
                    f"{_fmt(r['diff_ci_high'], kind, True)}]"
                )
                pb = f"{100 * r['p_better']:.0f} %" if np.isfinite(r["p_better"]) else "–"
            who = str(r["scenario"]) if sm["year"].nunique() == 1 else f"{r['scenario']} · year {r['year']}"
            cells = [str(r["label"]) if first else "", who, mean, diff, pb]
            if split:
                for part in ("direct", "mediated"):
                    cells.append(
                        ""
                        if not np.isfinite(r[part])
                        else (
                            f"{_fmt(r[part], kind, True)} [{_fmt(r[part + '_ci_low'], kind, True)}, "
                            f"{_fmt(r[part + '_ci_high'], kind, True)}]"
                        )
                    )
            t.add_row(*cells)
            first = False
        t.add_section()
    Console(width=140).print(t)
    if "return_on_cost" in sm:
        print_costs(comp)


def _usd(v: float, signed: bool = False) -> str:
    """USD for the terminal: thousands below a million, millions above."""
    if not np.isfinite(v):
        return "–"
    sign = "+" if signed else ""
    if abs(v) >= 1e6:
        return f"{v / 1e6:{sign},.2f}M"
    return f"{v / 1e3:{sign},.0f}k"


def print_costs(comp) -> None:
    """What each variant costs against the baseline, what it earns, and its return on cost."""
    from rich.console import Console
    from rich.table import Table

    sm = comp.summary
    cost = sm[(sm["metric"] == "cost") & (sm["scenario"] != comp.baseline)]
    net = sm[sm["metric"] == "margin_less_cost"].set_index(["scenario", "year"])
    t = Table(
        title=f"What it costs, against {comp.baseline} (USD a year; return on cost: extra "
        "gross margin per extra dollar, only where it clearly costs more)",
        title_justify="left",
    )
    for c in (
        "scenario",
        "Δ cost [95 % CI]",
        "Δ gross margin",
        "return on cost",
        "verdict",
        "Δ margin less cost [95 % CI]",
    ):
        t.add_column(c, justify="left" if c in ("scenario", "verdict") else "right")
    for _, r in cost.iterrows():
        n = net.loc[(r["scenario"], r["year"])]
        who = str(r["scenario"]) if sm["year"].nunique() == 1 else f"{r['scenario']} · year {r['year']}"
        ratio = r["return_on_cost"]
        t.add_row(
            who,
            f"{_usd(r['diff'], True)} [{_usd(r['diff_ci_low'], True)}, {_usd(r['diff_ci_high'], True)}]",
            _usd(r["margin_diff"], True),
            f"{ratio:,.2f}" if np.isfinite(ratio) else "–",
            str(r["cost_verdict"]),
            f"{_usd(n['diff'], True)} [{_usd(n['diff_ci_low'], True)}, {_usd(n['diff_ci_high'], True)}]",
        )
    Console(width=140).print(t)


def _experiment(args: argparse.Namespace, command: str, run, title) -> Any:
    """Run an experiment command: check and lock --out first, run, print the paired table, write."""
    with _output(args.out, "dir", "--out") as out, _output(args.xlsx, "file", "--xlsx") as book:
        t0 = time.perf_counter()
        comp = run(
            replications=args.replications,
            seed=args.seed,
            workers=args.workers,
            scheduler=args.scheduler,
            cache=not args.no_cache,
        )
        runtime = time.perf_counter() - t0
        print_comparison(
            comp,
            f"{title(comp)}: {len(comp.scenarios)} scenarios × "
            f"{args.replications} replications, seed {args.seed}, common random "
            f"numbers ({runtime:.1f} s, {comp.meta['executor']})",
        )
        if out is not None:
            _experiment_out(out, comp, command, runtime)
            print(f"wrote {args.out}/ (reps, periods, summary.csv, manifest.json)")
        if book is not None:
            from salessim.io import manifest

            tables = {"summary": comp.summary, "periods": comp.results.periods, "reps": comp.results.reps}
            if getattr(comp, "direct", None) is not None and len(comp.direct):
                tables["periods_direct"] = comp.direct
            _write_xlsx(
                book, tables, manifest(command=command, **comp.meta, runtime_seconds=round(runtime, 3))
            )
            print(f"wrote {args.xlsx}")
    return comp


def cmd_compare(args: argparse.Namespace) -> int:
    from salessim.experiments import compare

    _experiment(
        args,
        "compare",
        lambda **kw: compare(args.scenarios, baseline=args.baseline, culture_split=args.culture_split, **kw),
        lambda comp: f"against {comp.baseline}",
    )
    return EXIT_OK


def cmd_swings(args: argparse.Namespace) -> int:
    from salessim.experiments import library_swings

    if args.baseline is not None:  # a bad file is refused before --out is touched
        load_scenario(args.baseline)

    def title(comp: Any) -> str:
        m = comp.meta
        src = m.get("baseline_source", "")
        return (
            f"one driver at a time against {comp.baseline} ({src}, scenario hash "
            f"{m.get('baseline_hash', '?')})"
        )

    comp = _experiment(args, "swings", lambda **kw: library_swings(baseline=args.baseline, **kw), title)
    for name, why in comp.meta.get("skipped", {}).items():
        print(f"left out: {name} (its changes are not valid over {comp.baseline}: {why})")
    rev = comp.summary[
        (comp.summary["metric"] == "revenue") & (comp.summary["scenario"] != comp.baseline)
    ].sort_values("diff", ascending=False)
    print(
        f"ranked by team revenue, for {comp.baseline}: "
        + ", ".join(f"{r.scenario} ({100 * r.diff_rel:+.1f} %)" for r in rev.itertuples())
    )
    _print_cost_ranking(comp)
    return EXIT_OK


def _print_cost_ranking(comp) -> None:
    """The variants by gross margin less cost (year 1), each with its return on cost."""
    sm = comp.summary
    if "return_on_cost" not in sm:
        return
    y1 = sm[(sm["scenario"] != comp.baseline) & (sm["year"] == 1)]
    cost = y1[y1["metric"] == "cost"].set_index("scenario")
    net = y1[y1["metric"] == "margin_less_cost"].sort_values("diff", ascending=False)
    if net.empty:
        return

    def why(n: str) -> str:
        ratio, verdict = cost.loc[n, "return_on_cost"], cost.loc[n, "cost_verdict"]
        if np.isfinite(ratio) and ratio >= 0:
            return f"{ratio:,.2f} of margin per extra dollar"
        return str(verdict) if verdict == verdict else "–"

    print(
        "ranked by gross margin less cost (what each is worth once paid for), with its return "
        "on cost: "
        + ", ".join(f"{r.scenario} ({_usd(r.diff, True)}; {why(r.scenario)})" for r in net.itertuples())
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    from salessim.experiments import parse_vary, sweep

    vary = dict(parse_vary(v) for v in args.vary)
    if len(vary) != len(args.vary):
        raise BadInput("each --vary must name a different field")

    def run(**kw: Any) -> Any:
        comp = sweep(args.scenario, vary, **kw)
        comp.meta["baseline_source"] = str(args.scenario)  # the file swept around, as given
        return comp

    _experiment(args, "sweep", run, lambda comp: f"sweep of {comp.baseline}")
    return EXIT_OK


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from salessim.io import manifest, write_tables
    from salessim.sensitivity import SensitivityError, plan, run

    try:  # every input is checked, and the size refused, before anything is written
        p = plan(
            args.baseline,
            replications=args.replications,
            trajectories=args.trajectories,
            levels=args.levels,
            seed=args.seed,
            variants=_names(args.variants),
            parameters=_names(args.parameters),
            force=args.force,
        )
    except SensitivityError as e:
        raise BadInput(str(e)) from None
    print(
        f"screening {len(p.params)} assumptions × {p.trajectories} trajectories × "
        f"{len(p.variants) + 1} scenarios × {p.replications} replications = {p.size:,} "
        "scenario-replications",
        file=sys.stderr,
    )
    with _output(args.out, "dir", "--out") as out:
        t0 = time.perf_counter()
        s = run(p, workers=args.workers, cache=not args.no_cache)
        runtime = time.perf_counter() - t0
        print_screening(s, runtime)
        if out is not None:
            meta = manifest(
                command="sensitivity",
                **s.meta,
                baseline_source=str(args.baseline),
                baseline_yaml=p.baseline.to_yaml(),
                wall_seconds=round(runtime, 3),
            )
            with out.staging() as tmp:
                write_tables(
                    tmp,
                    {
                        "sensitivity": s.table,
                        "parameters": s.parameters,
                        "design": s.design,
                        "effects": s.effects,
                    },
                    meta,
                    csv=("sensitivity", "parameters"),
                )
            print(f"wrote {args.out}/ (sensitivity.parquet/.csv, parameters, design, effects, manifest.json)")
    return EXIT_OK


def _short(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def print_screening(s: Any, runtime: float, top: int = 5) -> None:
    """The top parameters per driver, those that moved the leading driver, and the run time."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    con = Console(width=140)
    m = s.meta
    t = Table(
        title=f"Which assumptions each driver's revenue effect hangs on — {m['parameters']} "
        f"assumptions, {m['trajectories']} trajectories × {m['design_points']} design "
        f"points, {m['replications']} replications, seed {m['seed']} (mu*: change in "
        "the effect across the parameter's range, percentage points of revenue)",
        title_justify="left",
    )
    for c in ("driver", "parameter", "mu*", "± 95 %", "sigma", "noise mu*", "range"):
        t.add_column(c, justify="left" if c in ("driver", "parameter", "range") else "right")
    for driver, g in s.table.groupby("driver", sort=False):
        for j, r in enumerate(g.head(top).itertuples()):
            t.add_row(
                Text(str(driver) if j == 0 else ""),
                Text(str(r.parameter)),
                _fmt(100 * r.mu_star, "num"),
                _fmt(100 * r.mu_star_conf, "num"),
                _fmt(100 * r.sigma, "num"),
                _fmt(100 * r.noise_mu_star, "num"),
                Text(f"{_short(r.low)} … {_short(r.high)}"),
            )
        t.add_section()
    con.print(t)
    share = ", ".join(
        f"{n} {100 * v:.0f} %" for n, v in sorted(m["leader_share"].items(), key=lambda kv: -kv[1]) if v > 0
    )
    con.print(
        f"Leading driver at the defaults: {m['leader_at_defaults']}; across the design points: {share}.",
        highlight=False,
        markup=False,
    )
    movers = s.top_movers()
    if len(movers):
        con.print(
            "Parameters whose step changed the leading driver (steps that did / steps; "
            "clear: beyond the noise at both ends): "
            + ", ".join(
                f"{r.parameter} ({r.top_changes}/{r.steps}, clear {r.clear_top_changes})"
                for r in movers.itertuples()
            )
            + ".",
            highlight=False,
            markup=False,
        )
    else:
        con.print("No parameter's step changed the leading driver.", highlight=False, markup=False)
    n_skip = int((~s.parameters["screened"]).sum())
    con.print(
        f"{n_skip} assumptions not screened here (switches, choices, run settings, unset "
        "options, or left out; the parameters table says why). "
        f"Run time {runtime:.1f} s{' (from the cache)' if m.get('cached') else ''}.",
        highlight=False,
        markup=False,
    )


def cmd_calibrate(args: argparse.Namespace) -> int:
    cols = {}
    for spec in args.column:
        role, sep, col = spec.partition("=")
        if not sep or not role.strip() or not col.strip():
            raise BadInput(f"--column {spec!r}: expected ROLE=COLUMN (e.g. owner=Sales Rep)")
        cols[role.strip()] = col.strip()
    # -o is checked (never a link, a device, a FIFO or a folder) and locked before any work
    with _output(args.out, "file", "-o") as out:
        return _calibrate(args, cols, out)


def _calibrate(args: argparse.Namespace, cols: dict[str, str], out: Any) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from salessim.calibrate import calibrate
    from salessim.crm import read_crm

    data = read_crm(args.crm, args.history, cols, args.won, args.lost)
    con = Console(width=120)
    for line in data.summary_lines():  # text from the export: printed as is, never as markup
        con.print(line, highlight=False, markup=False)
    cal = calibrate(data, base=args.base, seed=args.seed, reps=args.reps)
    t = Table(title="Estimates (95 % CI, sample size)", title_justify="left")
    for c in ("parameter", "value", "95 % CI", "n", "note"):
        t.add_column(c)
    for r in cal.estimates.itertuples():
        t.add_row(
            Text(r.parameter),
            f"{r.value:,.4g}",
            f"{r.ci_low:,.4g} – {r.ci_high:,.4g}",
            f"{r.n:,}",
            Text(r.note),
        )
    con.print(t)
    con.print(f"cycle time: {cal.cycle_fit.get('chosen')} — {cal.cycle_fit.get('why', '')}", highlight=False)
    con.print(f"skill spread: {cal.skill.get('note', '')}", highlight=False)
    for note in cal.notes:  # the organisation, segments, stage times: from the data or the base
        con.print(note, highlight=False, markup=False)
    v = Table(title="The calibrated scenario, simulated, against the data", title_justify="left")
    for c in ("quantity", "observed", "simulated", "difference"):
        v.add_column(c, justify="right")
    for r in cal.comparison().itertuples():
        v.add_row(r.quantity, f"{r.observed:,.4g}", f"{r.simulated:,.4g}", f"{100 * r.relative:+.1f} %")
    ks = cal.ks()
    v.add_row("KS distance, won cycle", "", f"{ks['won_cycle']:.3f}", "")
    v.add_row("KS distance, won amount", "", f"{ks['won_amount']:.3f}", "")
    con.print(v)
    if out is not None:
        out.write_text(cal.to_yaml())
        con.print(f"wrote {args.out}", highlight=False, markup=False)
    else:
        print(cal.to_yaml())
    misses = cal.misses()
    for m in misses:
        con.print(f"not verified: {m}", highlight=False, markup=False)
    if misses and not args.accept_unverified:
        con.print(
            "the scenario was written but does not reproduce the export within tolerance "
            "(exit 3); --accept-unverified accepts it",
            highlight=False,
            markup=False,
        )
        return EXIT_UNVERIFIED
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from salessim.funnel import plan

    sc = load_scenario(args.scenario)
    p = plan(sc)
    con = Console(width=110)
    t = Table(
        title=f"Tactical prescription — {sc.name} (quota ${p.quota:,.0f} per rep per year)",
        title_justify="left",
    )
    t.add_column("")
    for c in ("per rep", "per team", "organisation"):
        t.add_column(c, justify="right")
    money = {"quota", "average won deal", "benchmark pipeline value"}
    pct = {"win rate"}
    for label, row in p.summary().iterrows():
        cells = []
        for v in row:
            if label in money:
                cells.append(f"${v:,.0f}")
            elif label in pct:
                cells.append(f"{100 * v:.1f} %")
            elif "coverage" in str(label):
                cells.append(f"{v:.2f}×")
            else:
                cells.append(f"{v:,.1f}")
        t.add_row(str(label), *cells)
    con.print(t)
    s = Table(
        title="Benchmark pipeline per rep (Little's law: inventory = arrivals × time in stage; "
        "rep hours: its deal work)",
        title_justify="left",
    )
    for c in (
        "stage",
        "conversion",
        "to won",
        "opps / year",
        "arrivals / week",
        "mean\ndays",
        "open\ndeals",
        "open value",
        "rep hours\n/ week",
    ):
        s.add_column(c, justify="right", no_wrap=c == "stage")
    for (_, r), stage in zip(p.stages.iterrows(), sc.funnel.stages, strict=True):
        s.add_row(
            r["stage"],
            f"{100 * r['conversion']:.1f} %",
            f"{100 * r['to_won']:.1f} %",
            f"{r['opportunities_per_year']:,.1f}",
            f"{r['arrivals_per_week']:.2f}",
            f"{r['mean_days']:.0f}",
            f"{r['inventory']:.1f}",
            f"${r['inventory_value']:,.0f}",
            f"{r['inventory'] * stage.work_hours:.1f}",
        )
    con.print(s)

    cap = p.capacity
    w = Table(title="Does the plan fit the week? (an average rep, hours a week)", title_justify="left")
    w.add_column("")
    w.add_column("per rep", justify="right")
    for name, cell, part in p.capacity_cells(lambda v: f"${v:,.0f}", lambda v: f"{100 * v:.0f} %"):
        w.add_row(f"  {name}" if part else name, cell)
    con.print(w)
    verdict = "fits in" if cap.fits else "does not fit in"
    if np.isfinite(cap.prospecting_hours):
        need = (
            f"needs {cap.hours_needed:.1f} selling hours a week ({cap.deal_work_hours:.1f} on open "
            f"deals, {cap.prospecting_hours:.1f} prospecting)"
        )
    else:
        need = (
            f"needs {cap.outbound_needed:.2f} opportunities a week from prospecting, more than the "
            f"territory can give ({cap.territory_max_outbound:.2f})"
        )
    con.print(
        f"The plan {need} and {verdict} the {cap.selling_hours:.1f} a rep has for selling. The "
        f"week supports a quota of ${cap.supported_quota:,.0f} per rep "
        f"({100 * cap.supported_quota / p.quota:.0f} % of ${p.quota:,.0f}), "
        f"${cap.supported_quota * p.reps_per_team * p.teams:,.0f} for the organisation.",
        highlight=False,
        markup=False,
    )
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from salessim.validation import validation_table

    rows = validation_table(args.replications, args.seed, mode=args.mode, warmup_days=args.warmup_days)
    clock = "".join(
        f", {k} {v}" for k, v in (("mode", args.mode), ("warm-up days", args.warmup_days)) if v is not None
    )
    t = Table(
        title=f"Validation table — {args.replications} replications, seed {args.seed}{clock}",
        title_justify="left",
    )
    for c in ("quantity", "target", "estimate", "95 % CI", "in range"):
        t.add_column(c)
    for r in rows:
        t.add_row(
            r.quantity,
            r.target,
            f"{r.estimate:.3f}",
            f"{r.ci_low:.3f} … {r.ci_high:.3f}",
            "yes" if r.ok else "NO",
        )
    Console(width=130).print(t)
    return EXIT_OK if all(r.ok for r in rows) else EXIT_INTERNAL


def cmd_assumptions(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from salessim.scenario import assumptions_register

    sc = load_scenario(args.scenario)
    t = Table(title=f"Assumptions register — {sc.name}", title_justify="left")
    for c in ("parameter", "value", "kind", "source or assumption"):
        t.add_column(c, overflow="fold")
    for r in assumptions_register(sc):
        t.add_row(r["parameter"], str(r["value"]), r["kind"], r["source"])
    Console(width=160).print(t)
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from salessim.bench import SCALE_REPS, print_bench, run_bench

    print_bench(
        run_bench(
            replications=args.replications,
            seed=args.seed,
            parallel=not args.no_parallel,
            scaling=SCALE_REPS[:2] if args.quick else SCALE_REPS,
            compare_pair=not args.quick,
        )
    )
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from salessim.reports import ReportError, ReportFailed, parse_value, run_report

    try:
        params: dict[str, object] = {}
        for key, value in args.parameter:
            if key in params:
                raise BadInput(f"report {args.name}: parameter {key} given twice")
            params[key] = parse_value(value, key)
        run = run_report(args.name, args.out, params)
    except ReportError as e:
        raise BadInput(str(e)) from None
    except ReportFailed as e:
        print(f"salessim: error: {e}", file=sys.stderr)
        return EXIT_INTERNAL
    print(f"wrote {run.html} and {args.out / 'index.html'} ({run.runtime_seconds:.0f} s)")
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    from salessim.docs import run

    return run(args.page, args.out, args.check)


def cmd_reports(args: argparse.Namespace) -> int:
    from salessim.reports import ReportError, build_all

    try:
        return build_all(args.out, replications=args.replications, baseline=args.baseline)
    except ReportError as e:
        raise BadInput(str(e)) from None


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"  # pragma: no cover


def cmd_cache(args: argparse.Namespace) -> int:
    from datetime import datetime

    from salessim.cache import Cache

    cache = Cache()
    if args.action == "info":
        i = cache.info()

        def when(t: float | None) -> str:
            return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M") if t is not None else "–"

        print(f"location:  {i['location']}{'' if i['exists'] else ' (not created yet)'}")
        print(
            f"entries:   {i['batches']:,} batches of {i['runs']:,} runs"
            + (f" (+ {i['leftovers']} unfinished)" if i["leftovers"] else "")
        )
        print(
            f"size:      {_size(i['bytes'])} of a {_size(i['max_bytes'])} cap "
            "(SALESSIM_CACHE_MAX_BYTES; least recently used batches go first)"
        )
        print(f"last used: oldest {when(i['oldest_use'])}, newest {when(i['newest_use'])}")
        return EXIT_OK
    n, freed = cache.clear(args.older_than)
    which = f" not used for {args.older_than:g} days" if args.older_than is not None else ""
    print(f"removed {n:,} cached batches{which} ({_size(freed)}) from {cache.root}")
    return EXIT_OK


COMMANDS = {
    "simulate": cmd_simulate,
    "compare": cmd_compare,
    "sweep": cmd_sweep,
    "swings": cmd_swings,
    "sensitivity": cmd_sensitivity,
    "calibrate": cmd_calibrate,
    "plan": cmd_plan,
    "validate": cmd_validate,
    "assumptions": cmd_assumptions,
    "bench": cmd_bench,
    "report": cmd_report,
    "reports": cmd_reports,
    "cache": cmd_cache,
    "docs": cmd_docs,
}
COMMANDS["capacity"] = COMMANDS["quota"] = lambda args: args.func(args)  # salessim.capacity


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``salessim`` console script."""
    from salessim.cache import CacheError
    from salessim.crm import CRMError
    from salessim.executors import ExecutorError, RunTooLarge
    from salessim.io import OutputError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ScenarioError, OutputError, BadInput, ExecutorError, CRMError, CacheError, RunTooLarge) as e:
        print(f"salessim: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader went away (`salessim … | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("salessim: interrupted; nothing was written over the last good result", file=sys.stderr)
        return 130
    except Exception as e:  # pragma: no cover - the last line of defence
        if os.environ.get("SALESSIM_DEBUG"):
            raise
        print(
            f"salessim: internal error: {type(e).__name__}: {e} (set SALESSIM_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
