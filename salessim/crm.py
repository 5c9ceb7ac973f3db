"""Driver 4 — CRM data in: read real opportunity exports into one clean opportunity table.

Reads a Salesforce export (``Opportunity.csv``, optionally ``OpportunityHistory.csv``), any
opportunity CSV mapped by role (roles guessed from common column names when not given), or
salessim's own ``deals.csv``. Messy data is normal: BOM, CRLF, ``;`` separators, M/D/YY and ISO
dates, thousands separators and currency symbols, missing amounts, open deals without a close date,
deals closing before they were created, stale open deals. Rows that cannot be used are dropped
with a reason, and a data-quality summary says what was kept and why; only a file that lacks the
minimum roles is an error.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ROLES", "CRMError", "Opportunities", "read_crm"]

#: Column roles and the header names they are guessed from (normalised: lower case, no
#: spaces/underscores/dashes).
ROLES: dict[str, tuple[str, ...]] = {
    "id": ("id", "opportunityid", "oppid", "opportunity", "dealid", "recordid"),
    "owner": ("repid", "ownerid", "owner", "rep", "salesrep", "opportunityowner", "accountowner",
              "ownername", "seller", "ae"),
    "stage": ("stagereached", "stagename", "stage", "dealstage", "status"),
    "created": ("createdat", "createddate", "created", "createdon", "createdate", "opendate",
                "opened"),
    "closed": ("closedat", "closedate", "closed", "closedon", "dateclosed", "closeddate"),
    "amount": ("amount", "value", "dealvalue", "dealsize", "acv", "arr", "revenue",
               "expectedrevenue"),
    "product": ("product", "productname", "productfamily", "productline", "productc",
                "productfamilyc"),
    "segment": ("segment", "type", "opportunitytype", "dealtype", "businesstype"),
    "manager": ("managerid", "manager", "salesmanager", "ownermanager", "team"),
    "outcome": ("outcome", "result", "wonlost"),
    "is_won": ("iswon", "won"),
    "is_closed": ("isclosed",),
}
REQUIRED = ("id", "owner", "stage", "created")

WON_NAMES = {"won", "closedwon", "closed won", "closed-won", "win", "booked", "signed"}
LOST_NAMES = {"lost", "closedlost", "closed lost", "closed-lost", "loss", "dead", "disqualified",
              "closed disqualified", "no decision", "nodecision"}


class CRMError(ValueError):
    """A CRM file that cannot be used at all (names the file, what is missing, what was found)."""


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-./]", "", str(name).strip().lower().lstrip("\ufeff"))


@dataclass
class Opportunities:
    """One clean opportunity table and the story of how it was made.

    ``table`` columns: opportunity_id, rep_id, manager_id, segment, product, amount, created_at,
    closed_at, stage (stage reached: where it was lost, or is now), outcome (won/lost/open),
    plus, with a history file, ``stage_entries`` (per opportunity: ordered (stage, date) pairs).
    """

    table: pd.DataFrame
    source: str
    roles: dict[str, str]
    rows_read: int
    dropped: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    stage_order: list[str] = field(default_factory=list)
    history: pd.DataFrame | None = None

    def quality(self) -> pd.DataFrame:
        """Rows read, kept and dropped (with the reason for each drop)."""
        rows = [{"item": "rows read", "count": self.rows_read},
                {"item": "rows kept", "count": len(self.table)}]
        rows += [{"item": f"dropped: {k}", "count": v} for k, v in self.dropped.most_common()]
        t = self.table
        rows += [{"item": "open deals", "count": int((t["outcome"] == "open").sum())},
                 {"item": "won deals", "count": int((t["outcome"] == "won").sum())},
                 {"item": "lost deals", "count": int((t["outcome"] == "lost").sum())},
                 {"item": "deals without an amount", "count": int(t["amount"].isna().sum())}]
        return pd.DataFrame(rows)

    def summary_lines(self) -> list[str]:
        """The data-quality summary as printable lines."""
        lines = [f"{self.source}: {self.rows_read} rows read, {len(self.table)} kept"]
        for k, v in self.dropped.most_common():
            lines.append(f"  dropped {v}: {k}")
        t = self.table
        lines.append(f"  outcomes: {int((t['outcome'] == 'won').sum())} won, "
                     f"{int((t['outcome'] == 'lost').sum())} lost, "
                     f"{int((t['outcome'] == 'open').sum())} open")
        lines.append("  columns used: " + ", ".join(f"{k}={v}" for k, v in self.roles.items()))
        lines += [f"  note: {n}" for n in self.notes]
        return lines


# ------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------
def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise CRMError(f"{path}: file not found")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise CRMError(f"{path}: not a text CSV file")
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    head = "\n".join(text.splitlines()[:20])
    try:
        sep = csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                         skipinitialspace=True)
    except pd.errors.ParserError as e:
        raise CRMError(f"{path}: cannot be read as CSV ({e})") from None
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    return df


def guess_roles(columns: Sequence[str], given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map roles to columns: the ones given, then the first column whose name matches a role."""
    given = dict(given or {})
    norm = {_norm(c): c for c in columns}
    roles: dict[str, str] = {}
    for role, col in given.items():
        if role not in ROLES:
            raise CRMError(f"--column {role}={col}: unknown role (roles: {', '.join(ROLES)})")
        if col not in columns:
            raise CRMError(f"--column {role}={col}: no such column (columns: {', '.join(columns)})")
        roles[role] = col
    used = set(roles.values())
    for role, names in ROLES.items():
        if role in roles:
            continue
        for n in names:
            c = norm.get(n)
            if c is not None and c not in used:
                roles[role] = c
                used.add(c)
                break
    return roles


_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f%z",
                 "%Y-%m-%dT%H:%M:%S%z", "%m/%d/%Y", "%m/%d/%y", "%d.%m.%Y", "%Y/%m/%d",
                 "%m/%d/%Y %H:%M", "%m/%d/%y %H:%M", "%d-%b-%Y", "%b %d, %Y")


def parse_dates(s: pd.Series) -> pd.Series:
    """Dates in any of the common CRM formats (ISO, M/D/YY, M/D/YYYY, D.M.YYYY …), per value."""
    s = s.astype(str).str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    todo = s.ne("") & s.str.lower().ne("nan") & s.str.lower().ne("null")
    for fmt in _DATE_FORMATS:
        if not todo.any():
            break
        parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce")
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_convert(None)
        ok = parsed.notna()
        out.loc[ok[ok].index] = parsed[ok].astype("datetime64[ns]")
        todo &= out.isna()
    return out.dt.normalize()


def parse_amounts(s: pd.Series) -> pd.Series:
    """Money amounts: strips currency symbols and codes, handles 1,234.50 and 1.234,50."""
    t = s.astype(str).str.strip().str.replace(r"[^\d,.\-()]", "", regex=True)
    neg = t.str.startswith("(") & t.str.endswith(")")
    t = t.str.strip("()")
    # "1.234,50" (comma decimal) vs "1,234.50"
    comma_dec = t.str.contains(r",\d{1,2}$") & ~t.str.contains(r"\.\d{1,2}$")
    # dots grouping thousands ("1.234.567"; and "EUR 1.000" in a column that writes its decimals
    # with a comma and never with a dot) are not decimal points
    dot_groups = t.str.fullmatch(r"-?\d{1,3}(\.\d{3})+").fillna(False).astype(bool)
    euro_col = bool(comma_dec.any()) and not bool(t.str.contains(r"\.\d{1,2}$").any())
    comma_dec = comma_dec | (dot_groups & ((t.str.count(r"\.") > 1) | euro_col))
    t = t.where(~comma_dec, t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    t = t.where(comma_dec, t.str.replace(",", "", regex=False))
    v = pd.to_numeric(t, errors="coerce")
    return v.where(~neg, -v)


def _outcome(stage: pd.Series, won_vals: set[str], lost_vals: set[str]) -> pd.Series:
    low = stage.str.strip().str.lower()
    return pd.Series(np.select([low.isin(won_vals), low.isin(lost_vals)], ["won", "lost"], "open"),
                     index=stage.index)


def read_crm(path: str | Path, history: str | Path | None = None,
             columns: Mapping[str, str] | None = None, won: Sequence[str] = (),
             lost: Sequence[str] = ()) -> Opportunities:
    """Read a CRM opportunity export into a clean opportunity table.

    Args:
        path: the opportunity CSV (Salesforce ``Opportunity.csv``, any CRM export, or salessim's
            ``deals.csv``).
        history: optional stage history (Salesforce ``OpportunityHistory.csv``: OpportunityId,
            StageName, CreatedDate) for stage order, the stage where lost deals were lost, and
            stage timing.
        columns: role → column name, for roles the guess gets wrong.
        won, lost: stage values meaning won / lost, in addition to the common names.

    Raises:
        CRMError: the file cannot be read, or lacks the minimum roles (id, owner, stage, created;
            and the outcome must be derivable).
    """
    path = Path(path)
    df = _read_csv(path)
    roles = guess_roles(list(df.columns), columns)
    missing = [r for r in REQUIRED if r not in roles]
    if missing:
        raise CRMError(f"{path}: missing required column roles: {', '.join(missing)}. Columns "
                       f"found: {', '.join(df.columns)}. Map them with --column ROLE=COLUMN "
                       f"(roles: {', '.join(ROLES)}).")
    n_read = len(df)
    dropped: Counter = Counter()
    notes: list[str] = []
    won_vals = WON_NAMES | {w.strip().lower() for w in won}
    lost_vals = LOST_NAMES | {x.strip().lower() for x in lost}

    stage = df[roles["stage"]].astype(str).str.strip()
    if "outcome" in roles:
        outcome = _outcome(df[roles["outcome"]].astype(str), won_vals, lost_vals)
    elif "is_closed" in roles and "is_won" in roles:
        closed_flag = df[roles["is_closed"]].str.strip().str.lower().isin(["true", "1", "yes"])
        won_flag = df[roles["is_won"]].str.strip().str.lower().isin(["true", "1", "yes"])
        outcome = pd.Series(np.select([closed_flag & won_flag, closed_flag], ["won", "lost"],
                                      "open"), index=df.index)
    else:
        outcome = _outcome(stage, won_vals, lost_vals)
    if not (outcome != "open").any():
        values = ", ".join(sorted(set(stage))[:12])
        raise CRMError(f"{path}: no won or lost deals recognised in column {roles['stage']!r} "
                       f"(values: {values}). Name them with --won VALUE / --lost VALUE.")

    created = parse_dates(df[roles["created"]])
    closed = (parse_dates(df[roles["closed"]]) if "closed" in roles
              else pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]"))
    if "amount" in roles:
        amount = parse_amounts(df[roles["amount"]])
    else:
        amount = pd.Series(np.nan, index=df.index)
        notes.append("no amount column: deal sizes are not calibrated")
    owner = df[roles["owner"]].astype(str).str.strip()
    manager = df[roles["manager"]].astype(str).str.strip() if "manager" in roles else ""
    if "replication" in df.columns and "scenario" in df.columns:
        # salessim's own export: rep and manager ids repeat across replications
        tag = df["scenario"].astype(str) + "/" + df["replication"].astype(str) + ":"
        owner = tag + owner
        manager = tag + manager if "manager" in roles else manager
        notes.append("salessim deal log: rep and manager ids qualified by scenario and "
                     "replication")
    t = pd.DataFrame({
        "opportunity_id": df[roles["id"]].astype(str).str.strip(),
        "rep_id": owner,
        "manager_id": manager,
        "segment": df[roles["segment"]].astype(str).str.strip() if "segment" in roles else "",
        "product": df[roles["product"]].astype(str).str.strip() if "product" in roles else "",
        "amount": amount, "created_at": created, "closed_at": closed,
        "stage": stage, "outcome": outcome,
    })

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal t
        n = int(mask.sum())
        if n:
            dropped[reason] += n
            t = t[~mask]

    drop(t["opportunity_id"].eq("") | t["opportunity_id"].duplicated(keep="first"),
         "duplicate or empty opportunity id")
    drop(t["rep_id"].eq(""), "no owner")
    drop(t["created_at"].isna(), "created date missing or unreadable")
    # a closed deal needs a close date; an open one may have a planned close date: ignore it
    t.loc[t["outcome"] == "open", "closed_at"] = pd.NaT
    drop((t["outcome"] != "open") & t["closed_at"].isna(), "closed deal without a close date")
    drop((t["outcome"] != "open") & (t["closed_at"] < t["created_at"]),
         "closes before it was created")
    neg = t["amount"] < 0
    if neg.any():
        dropped["negative amount (kept, amount cleared)"] += int(neg.sum())
        t.loc[neg, "amount"] = np.nan
    if t["amount"].isna().any() and "amount" in roles:
        notes.append(f"{int(t['amount'].isna().sum())} deals have no amount: kept for "
                     "conversion and timing, left out of deal-size estimates")
    closed_mask = t["outcome"] != "open"
    if closed_mask.any():
        oldest_closed = t.loc[closed_mask, "created_at"].min()
        stale = (t["outcome"] == "open") & (t["created_at"] < oldest_closed)
        drop(stale, "stale open deal, older than every closed deal")

    stage_order: list[str] = []
    hist = None
    if history is not None:
        hist, stage_order = _read_history(Path(history), won_vals, lost_vals, dropped)
        # where lost deals were lost: the last open stage in their history
        last_open = (hist[hist["kind"] == "open"].sort_values(["opportunity_id", "date"])
                     .groupby("opportunity_id")["stage"].last())
        lost = t["outcome"] == "lost"
        t.loc[lost, "stage"] = t.loc[lost, "opportunity_id"].map(last_open).fillna(
            t.loc[lost, "stage"])
    else:
        stage_order = _stage_order_from_table(t, won_vals, lost_vals)
    won_mask = t["outcome"] == "won"
    t.loc[won_mask, "stage"] = "won"
    t = t.sort_values(["created_at", "opportunity_id"]).reset_index(drop=True)
    if not stage_order:
        notes.append("stage where lost deals were lost is unknown (no history file, no "
                     "stage_reached): only the overall win rate can be estimated")
    return Opportunities(table=t, source=str(path), roles=roles, rows_read=n_read,
                         dropped=dropped, notes=notes, stage_order=stage_order, history=hist)


def _stage_order_from_table(t: pd.DataFrame, won_vals: set[str], lost_vals: set[str]) -> list[str]:
    """Stage order when lost deals carry the stage they were lost at (e.g. salessim deals.csv).

    Stages are ordered by how late deals reach them: a stage where a larger share of deals that
    reached it ended up winning comes later.
    """
    lost = t[t["outcome"] == "lost"]
    names = [s for s in pd.unique(t.loc[t["outcome"] != "won", "stage"])
             if s.strip().lower() not in won_vals | lost_vals and s != ""]
    # won/lost values are lower case: compare the stages of lost deals case-insensitively
    lost_at = {s.strip().lower() for s in lost["stage"]} - {""}
    if not names or not lost_at - (won_vals | lost_vals):
        return []
    # deals lost at a stage: earlier stages lose more deals, order by the median age at loss
    age = (lost["closed_at"] - lost["created_at"]).dt.days
    med = age.groupby(lost["stage"]).median()
    known = [s for s in names if s in med.index]
    return sorted(known, key=lambda s: med[s]) + [s for s in names if s not in med.index]


def _read_history(path: Path, won_vals: set[str], lost_vals: set[str],
                  dropped: Counter) -> tuple[pd.DataFrame, list[str]]:
    df = _read_csv(path)
    norm = {_norm(c): c for c in df.columns}
    opp = next((norm[n] for n in ("opportunityid", "opportunity", "id") if n in norm), None)
    st = next((norm[n] for n in ("stagename", "stage") if n in norm), None)
    dt = next((norm[n] for n in ("createddate", "date", "createdat", "changedate") if n in norm),
              None)
    if not (opp and st and dt):
        raise CRMError(f"{path}: a stage history needs OpportunityId, StageName and CreatedDate "
                       f"columns; found: {', '.join(df.columns)}")
    h = pd.DataFrame({"opportunity_id": df[opp].astype(str).str.strip(),
                      "stage": df[st].astype(str).str.strip(), "date": parse_dates(df[dt])})
    bad = h["date"].isna()
    if bad.any():
        dropped["history rows with unreadable dates"] += int(bad.sum())
        h = h[~bad]
    low = h["stage"].str.lower()
    h["kind"] = np.select([low.isin(won_vals), low.isin(lost_vals)], ["won", "lost"], "open")
    h = h.sort_values(["opportunity_id", "date"])
    # stage order: mean position of each open stage within deals' histories
    opens = h[h["kind"] == "open"].copy()
    opens["pos"] = opens.groupby("opportunity_id").cumcount()
    order = opens.groupby("stage")["pos"].mean().sort_values().index.tolist()
    return h.reset_index(drop=True), order
