"""The sample CRM export in ``data/crm_sample/``: a Salesforce-style export made by salessim.

``python -m salessim.sample_crm [OUT_DIR] [--seed N]`` simulates the baseline for one replication
and writes ``Opportunity.csv`` and ``OpportunityHistory.csv`` the way a Salesforce report export
looks — with the mess real exports carry: a byte-order mark and CRLF line ends, dates in M/D/YY and
in ISO form, amounts with currency symbols and thousands separators, some amounts missing, open
deals without a close date, a few deals whose close date precedes their creation, and a few stale
open deals older than any closed one. The seed (default 2026) makes it reproducible.
"""

from __future__ import annotations

import argparse
import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from salessim.io import atomic_write_text
from salessim.model import LOST, WON, SalesForce
from salessim.scenario import load_scenario

__all__ = ["SEED", "make_sample"]

SEED = 2026


def _sf_id(prefix: str, n: int) -> str:
    """An 18-character Salesforce-looking record id."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    body = ""
    x = n * 7919 + 104729
    for _ in range(9):
        body = alphabet[x % 62] + body
        x //= 62
    return f"{prefix}5g00000{body}AA"[:18]


def make_sample(out: Path, seed: int = SEED) -> tuple[Path, Path]:
    """Write ``Opportunity.csv`` and ``OpportunityHistory.csv`` into ``out``."""
    sc = load_scenario("baseline")
    rec = SalesForce(sc, seed, 0).run()
    b = rec.book
    w = rec.warmup
    # opened in the reported year: an export made at its end holds nothing opened after it
    opened = b.created[: b.n]
    keep = np.flatnonzero((opened >= w) & (opened < rec.warmup + rec.horizon))
    start = sc.start_date
    rng = np.random.default_rng(seed)
    stages = [s.name.title() for s in sc.funnel.stages]
    products = list(sc.funnel.products)
    segs = list(sc.funnel.segments)

    def day(t: float) -> date:
        return start + timedelta(days=int(np.floor(t - w)))

    def fmt_date(d: date, i: int) -> str:
        # most rows as a US report export (M/D/YY); some exported as ISO
        return d.isoformat() if i % 7 == 0 else f"{d.month}/{d.day}/{d.strftime('%y')}"

    def fmt_amount(a: float, i: int) -> str:
        if i % 11 == 0:
            return f"${a:,.2f}"
        if i % 13 == 0:
            return f"USD {a:,.0f}"
        return f"{a:.2f}"

    opp_rows: list[dict[str, Any]] = []
    hist_rows: list[dict[str, Any]] = []
    export_day = day(rec.warmup + rec.horizon)
    for i, d in enumerate(keep):
        status = int(b.status[d])
        created = day(b.created[d])
        oid = _sf_id("006", int(d))
        if status == WON:
            stage_name, closed, is_closed, is_won = "Closed Won", day(b.closed[d]), True, True
        elif status == LOST:
            stage_name, closed, is_closed, is_won = "Closed Lost", day(b.closed[d]), True, False
        else:
            stage_name = stages[int(b.stage[d])]
            closed, is_closed, is_won = None, False, False
        amount = float(b.amount[d])
        amount_text = "" if rng.random() < 0.03 else fmt_amount(amount, i)
        close_text = ""
        if closed is not None:
            close_text = fmt_date(closed, i)
        elif rng.random() < 0.5:  # some open deals carry a planned close date, most none
            close_text = fmt_date(export_day + timedelta(days=int(rng.integers(10, 90))), i)
        if is_closed:
            prob = 100 if is_won else 0
        else:
            prob = round(100 * float(np.prod([x.conversion for x in sc.funnel.stages[int(b.stage[d]) :]])))
        opp_rows.append(
            {
                "Id": oid,
                "OwnerId": _sf_id("005", int(b.person[d])),
                "Name": f"Opportunity {i + 1}",
                "StageName": stage_name,
                "Amount": amount_text,
                "Probability": prob,
                "CreatedDate": fmt_date(created, i),
                "CloseDate": close_text,
                "IsClosed": str(is_closed).lower(),
                "IsWon": str(is_won).lower(),
                "Type": "New Business" if segs[int(b.segment[d])] == "new_logo" else "Existing Business",
                "Product__c": products[int(b.product[d])],
            }
        )
        # stage history: every stage entered, then the closing stage
        reached = int(b.stage[d]) if status != WON else len(stages) - 1
        for s in range(reached + 1):
            t = b.stage_t[d, s]
            if np.isfinite(t):
                hist_rows.append(
                    {
                        "OpportunityId": oid,
                        "StageName": stages[s],
                        "CreatedDate": day(t).isoformat(),
                        "Amount": f"{amount:.2f}",
                    }
                )
        if closed is not None:
            hist_rows.append(
                {
                    "OpportunityId": oid,
                    "StageName": stage_name,
                    "CreatedDate": closed.isoformat(),
                    "Amount": f"{amount:.2f}",
                }
            )
    # the mess real exports carry
    closed_rows = [r for r in opp_rows if r["IsClosed"] == "true"]
    for r in closed_rows[5:8]:  # close date typed before the creation date
        cd = r["CreatedDate"]
        r["CloseDate"] = "1/2/25" if "/" in cd else "2025-01-02"
    for k in range(4):  # stale open deals nobody closed, years old
        opp_rows.append(
            {
                "Id": _sf_id("006", 10_000_000 + k),
                "OwnerId": opp_rows[k]["OwnerId"],
                "Name": f"Legacy opportunity {k + 1}",
                "StageName": stages[0],
                "Amount": "",
                "Probability": 10,
                "CreatedDate": f"3/{k + 1}/21",
                "CloseDate": "",
                "IsClosed": "false",
                "IsWon": "false",
                "Type": "New Business",
                "Product__c": products[0],
            }
        )
    out = Path(out)
    opp = out / "Opportunity.csv"
    hist = out / "OpportunityHistory.csv"
    atomic_write_text(opp, "\ufeff" + _csv(opp_rows))
    atomic_write_text(hist, "\ufeff" + _csv(hist_rows))
    return opp, hist


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    wr = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\r\n")
    wr.writeheader()
    wr.writerows(rows)
    return buf.getvalue()


def main() -> None:  # pragma: no cover - a maintenance script
    """Regenerate the sample export."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", nargs="?", default="data/crm_sample")
    p.add_argument("--seed", type=int, default=SEED)
    a = p.parse_args()
    for path in make_sample(Path(a.out), a.seed):
        print(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
