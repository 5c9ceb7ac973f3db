"""Standard reports.

Until the notebook reports land, ``salessim reports`` builds a static index with the baseline plan, a baseline summary and the assumptions register.
"""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from salessim.funnel import plan
from salessim.io import atomic_write_text
from salessim.scenario import assumptions_register, load_scenario
from salessim.simulate import simulate

__all__ = ["build_all"]


def build_all(out: Path, replications: int | None = None) -> int:
    """Build what exists of the report set into ``out``, ending with ``index.html``."""
    out = Path(out)
    t0 = time.perf_counter()
    sc = load_scenario("baseline")
    reps = replications or 16
    p = plan(sc)
    res = simulate(sc, replications=reps, seed=1)
    year = res.periods[res.periods["period"] == "year"]
    summary = year.drop(columns=["scenario", "replication", "seed", "period"]).agg(
        ["mean", "std"]).T
    reg = pd.DataFrame(assumptions_register(sc))
    body = [
        "<h1>salessim — baseline</h1>",
        f"<p>Built {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {reps} replications · seed 1 · "
        f"scenario hash {sc.hash}</p>",
        "<h2>Tactical prescription per rep, team and organisation</h2>",
        p.summary().to_html(float_format=lambda v: f"{v:,.2f}"),
        "<h2>Benchmark pipeline per rep</h2>",
        p.stages.to_html(index=False, float_format=lambda v: f"{v:,.2f}"),
        "<h2>Baseline year (mean and sd over replications)</h2>",
        summary.to_html(float_format=lambda v: f"{v:,.3f}"),
        "<h2>Assumptions register</h2>",
        reg.to_html(index=False),
        f"<p>Runtime {time.perf_counter() - t0:.1f} s.</p>",
    ]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>salessim reports</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
            "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
            "padding:2px 6px}</style></head><body>" + "\n".join(body) + "</body></html>")
    atomic_write_text(out / "index.html", page)
    print(f"wrote {out / 'index.html'}")
    _ = html
    return 0
