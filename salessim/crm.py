"""Driver 4 — CRM data in: read real opportunity exports into one clean opportunity table.

Reads a Salesforce export (``Opportunity.csv``, optionally ``OpportunityHistory.csv``), any
opportunity CSV mapped by role (roles guessed from common column names when not given), or
salessim's own ``deals.csv``. Messy data is normal: UTF-8 with or without a BOM, UTF-16,
Windows-1252, CRLF, ``;``/tab/``|`` separators, M/D/YY and ISO dates, amounts with currency
symbols or codes, thousands separators of either convention, ``K``/``M``/``B`` suffixes or
scientific notation, missing amounts, open deals without a close date, deals closing before they
were created, stale open deals. Rows that cannot be used are dropped with a reason, and a
data-quality summary says what was kept and why. Nothing is misread silently: an amount that
cannot be read, is not finite or is implausibly large, or lies more than :data:`OUTLIER_SDS`
robust standard deviations from its product's median (log scale), is cleared, counted and named
in a note, and its deal kept for conversion and timing (``Opportunities.amounts_set_aside``,
apart from the rows dropped, ``Opportunities.dropped``); dates before 1990 or more than
:data:`FUTURE_MARGIN_DAYS` after today (in salessim's own deal logs, after
:data:`SIMULATED_LAST_DATE`) drop their deal. A file that cannot be used at all (empty, binary, a
header only, a row with more fields than the header, lacking the minimum roles, more open stages
than a scenario holds, no usable row) raises :class:`CRMError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
import re
import stat
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from salessim.scenario import DATE_RANGE, MAX_AMOUNT, Funnel, Simulation

__all__ = [
    "MAX_AMOUNT",
    "ROLES",
    "CRMError",
    "Opportunities",
    "quality_checks",
    "read_crm",
    "segment_map",
    "stage_durations",
]

#: Column roles and the header names they are guessed from (normalised: lower case, no
#: spaces/underscores/dashes).
ROLES: dict[str, tuple[str, ...]] = {
    "id": ("id", "opportunityid", "oppid", "opportunity", "dealid", "recordid"),
    "owner": (
        "repid",
        "ownerid",
        "owner",
        "rep",
        "salesrep",
        "opportunityowner",
        "accountowner",
        "ownername",
        "seller",
        "ae",
    ),
    "stage": ("stagereached", "stagename", "stage", "dealstage", "status"),
    "created": ("createdat", "createddate", "created", "createdon", "createdate", "opendate", "opened"),
    "closed": ("closedat", "closedate", "closed", "closedon", "dateclosed", "closeddate"),
    "amount": ("amount", "value", "dealvalue", "dealsize", "acv", "arr", "revenue", "expectedrevenue"),
    "product": ("product", "productname", "productfamily", "productline", "productc", "productfamilyc"),
    "segment": ("segment", "type", "opportunitytype", "dealtype", "businesstype"),
    "manager": ("managerid", "manager", "salesmanager", "ownermanager", "team"),
    "outcome": ("outcome", "result", "wonlost"),
    "is_won": ("iswon", "won"),
    "is_closed": ("isclosed",),
}
REQUIRED = ("id", "stage", "created")
#: Words in a segment value that mark new-logo and existing-customer (expansion) business.
NEW_LOGO_WORDS = ("new", "acquisition", "logo", "hunt", "prospect")
EXPANSION_WORDS = (
    "exist",
    "expan",
    "upsell",
    "upgrade",
    "cross",
    "renew",
    "add",
    "current",
    "install",
    "farm",
    "downgrade",
    "replacement",
    "retention",
)

WON_NAMES = {"won", "closedwon", "closed won", "closed-won", "win", "booked", "signed"}
LOST_NAMES = {
    "lost",
    "closedlost",
    "closed lost",
    "closed-lost",
    "loss",
    "dead",
    "disqualified",
    "closed disqualified",
    "no decision",
    "nodecision",
}


class CRMError(ValueError):
    """A CRM file that cannot be used at all (names the file, what is missing, what was found)."""


def _schema_bound(model: type[Funnel] | type[Simulation], name: str) -> int:
    """The upper bound the scenario schema sets on a field (``le`` or ``max_length``)."""
    for rule in model.model_fields[name].metadata:
        for attr in ("le", "max_length"):
            bound = getattr(rule, attr, None)
            if bound is not None:
                return int(bound)
    raise LookupError(f"{model.__name__}.{name} has no upper bound")


#: The most open stages a stage order may have: as many as a scenario's funnel holds.
MAX_STAGES = _schema_bound(Funnel, "stages")
#: The last date a salessim deal log can hold: the latest scenario start plus the longest horizon
#: (deals are logged from the start date, warm-up excluded, and close by the end of the horizon).
SIMULATED_LAST_DATE = pd.Timestamp(DATE_RANGE[1]) + pd.Timedelta(
    days=_schema_bound(Simulation, "horizon_days")
)
MAX_NAME_LENGTH = 100


def usable_name(text: str) -> bool:
    """Whether a value from a file can name a stage or a product in a scenario.

    Printable text (no control, format or bidirectional-override characters), at most
    :data:`MAX_NAME_LENGTH` characters, without surrounding spaces.
    """
    return 0 < len(text) <= MAX_NAME_LENGTH and text.isprintable() and text.strip() == text


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-./]", "", str(name).strip().lower().lstrip("\ufeff"))


@dataclass
class Opportunities:
    """One clean opportunity table and the story of how it was made.

    ``table`` columns: opportunity_id, rep_id, manager_id, segment, product, amount, created_at,
    closed_at, stage (stage reached: where it was lost, or is now), outcome (won/lost/open),
    plus, with a history file, ``stage_entries`` (per opportunity: ordered (stage, date) pairs).

    ``dropped`` counts the rows removed, by reason (opportunity rows, and history rows named as
    such); ``amounts_set_aside`` counts the amounts cleared on rows that were kept (the deal counts
    for conversion and timing, not for deal size), by reason. A row is in at most one of them.
    """

    table: pd.DataFrame
    source: str
    roles: dict[str, str]
    rows_read: int
    dropped: Counter = field(default_factory=Counter)
    amounts_set_aside: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    stage_order: list[str] = field(default_factory=list)
    history: pd.DataFrame | None = None

    @property
    def has_owner(self) -> bool:
        """Whether the export names each deal's owner (rep): per-rep figures need it."""
        return "owner" in self.roles

    def quality(self) -> pd.DataFrame:
        """Rows read, kept and dropped (with the reason for each drop), amounts set aside."""
        rows = [
            {"item": "rows read", "count": self.rows_read},
            {"item": "rows kept", "count": len(self.table)},
        ]
        rows += [{"item": f"dropped: {k}", "count": v} for k, v in self.dropped.most_common()]
        rows += [
            {"item": f"amount set aside, deal kept: {k}", "count": v}
            for k, v in self.amounts_set_aside.most_common()
        ]
        t = self.table
        rows += [
            {"item": "open deals", "count": int((t["outcome"] == "open").sum())},
            {"item": "won deals", "count": int((t["outcome"] == "won").sum())},
            {"item": "lost deals", "count": int((t["outcome"] == "lost").sum())},
            {"item": "deals without an amount", "count": int(t["amount"].isna().sum())},
        ]
        return pd.DataFrame(rows)

    def summary_lines(self) -> list[str]:
        """The data-quality summary as printable lines."""
        lines = [f"{self.source}: {self.rows_read} rows read, {len(self.table)} kept"]
        for k, v in self.dropped.most_common():
            lines.append(f"  dropped {v}: {k}")
        for k, v in self.amounts_set_aside.most_common():
            lines.append(f"  amount set aside {v}: {k} (deal kept without its amount)")
        t = self.table
        lines.append(
            f"  outcomes: {int((t['outcome'] == 'won').sum())} won, "
            f"{int((t['outcome'] == 'lost').sum())} lost, "
            f"{int((t['outcome'] == 'open').sum())} open"
        )
        lines.append("  columns used: " + ", ".join(f"{k}={v}" for k, v in self.roles.items()))
        lines += [f"  note: {n}" for n in self.notes]
        return lines


def quality_checks(
    observed: pd.DataFrame,
    stage_names: Sequence[str],
    dropped: Mapping[str, int] | None = None,
    amounts_set_aside: Mapping[str, int] | None = None,
    rows_read: int | None = None,
) -> pd.DataFrame:
    """The data-quality table of an opportunity export: each problem counted once.

    Rows dropped on import are left out of every estimate; amounts set aside on import belong to
    deals that are kept (for conversion and timing) and are counted apart from amounts that were
    missing or not positive in the export, so a deal appears under at most one amount check.

    Args:
        observed: the opportunities kept (columns opportunity_id, created_at, closed_at, amount,
            outcome, stage_reached).
        stage_names: the funnel stages ``stage_reached`` may name (besides ``won``).
        dropped: rows removed on import, by reason (:attr:`Opportunities.dropped`).
        amounts_set_aside: amounts cleared on kept rows, by reason
            (:attr:`Opportunities.amounts_set_aside`).
        rows_read: the rows of the export, the denominator of ``share`` (default: the rows kept
            plus the rows dropped).

    Returns:
        One row per check: check, rows, why it matters, share (of the rows read) and status
        (ok, minor below 1 %, fix).
    """
    dropped = dict(dropped or {})
    set_aside = dict(amounts_set_aside or {})
    o = observed
    cycle = (pd.to_datetime(o["closed_at"]) - pd.to_datetime(o["created_at"])).dt.days
    no_amount = int((~(o["amount"] > 0)).sum())
    checks = [(f"dropped on import: {k}", int(n), "left out of every estimate") for k, n in dropped.items()]
    checks += [
        (
            f"amount set aside on import: {k}",
            int(n),
            "deal kept for conversion and timing, left out of deal-size estimates",
        )
        for k, n in set_aside.items()
    ]
    checks += [
        (
            "duplicate opportunity ids",
            int(o["opportunity_id"].duplicated().sum()),
            "the same deal counted twice",
        ),
        ("missing created date", int(o["created_at"].isna().sum()), "cannot place the deal in time"),
        # amounts set aside on import are cleared in the table: counted once, above
        ("missing or non-positive amount", max(no_amount - sum(set_aside.values()), 0), "no deal size"),
        (
            "outcome not won / lost / open",
            int((~o["outcome"].isin(["won", "lost", "open"])).sum()),
            "unknown stage names",
        ),
        (
            "closed deal without close date",
            int((o["outcome"].isin(["won", "lost"]) & o["closed_at"].isna()).sum()),
            "no cycle time",
        ),
        (
            "open deal with a close date",
            int(((o["outcome"] == "open") & o["closed_at"].notna()).sum()),
            "status out of date",
        ),
        ("closed before created", int((cycle < 0).sum()), "dates entered wrongly"),
        (
            "stage not in the funnel",
            int((~o["stage_reached"].isin({*stage_names, "won"})).sum()),
            f"stages are {', '.join(stage_names)}",
        ),
        (
            "won deal not at the won stage",
            int(((o["outcome"] == "won") & (o["stage_reached"] != "won")).sum()),
            "stage history incomplete",
        ),
    ]
    dq = pd.DataFrame(checks, columns=["check", "rows", "why it matters"])
    total = rows_read if rows_read is not None else len(o) + sum(dropped.values())
    dq["share"] = dq["rows"] / max(total, 1)
    dq["status"] = np.where(dq["rows"] == 0, "ok", np.where(dq["share"] < 0.01, "minor", "fix"))
    return dq


# ------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_SEPARATORS = (",", ";", "\t", "|")


def _decode(raw: bytes, path: Path) -> str:
    """The text of a CSV file: UTF-8 (with or without BOM), UTF-16/32 (BOM or not), else cp1252."""
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(enc.removesuffix("-sig"))
            except UnicodeDecodeError as e:
                raise CRMError(
                    f"{path}: starts with a {enc.upper()} byte-order mark but is not "
                    f"valid {enc.upper()} text (byte {e.start}); save it as CSV "
                    "(UTF-8)"
                ) from None
    head = raw[:4096]
    if b"\x00" in head:
        # UTF-16 without a BOM: every other byte of ASCII text is NUL
        even, odd = head[0::2], head[1::2]
        guess = (
            "utf-16-le"
            if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even)
            else "utf-16-be"
            if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd)
            else None
        )
        text = None
        if guess is not None:
            try:
                text = raw.decode(guess)
            except UnicodeDecodeError:
                text = None
        if text is None or "\x00" in text:
            raise CRMError(
                f"{path}: binary data (a NUL byte at byte {raw.index(0)}), not a text "
                "CSV file; export it as CSV (UTF-8, UTF-16 or Windows-1252)"
            )
        return text
    for enc in ("utf-8", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _pick_separator(text: str) -> str:
    """The separator that splits the header into the most fields, consistently over the first rows."""
    lines = [ln for ln in text[:65536].split("\n")[:21] if ln.strip()]
    best, best_score = ",", (-1.0, 0)
    for sep in _SEPARATORS:
        try:
            rows = list(csv.reader(lines, delimiter=sep))
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:-1] if len(rows) > 2 else rows[1:]  # the last line may be cut off
        consistent = (sum(len(r) == width for r in body) / len(body)) if body else 1.0
        score = (consistent, width)
        if score > best_score:
            best, best_score = sep, score
    return best


#: The largest CSV file read (a million opportunities export to a few hundred megabytes).
MAX_CSV_BYTES = 1 << 30


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CRMError(f"{path}: file not found") from None
    except OSError as e:
        raise CRMError(f"{path}: cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise CRMError(f"{path}: is a directory, not a CSV file")
    if not stat.S_ISREG(st.st_mode):
        # a FIFO may never end and a device never does (/dev/zero): save the export to a file
        raise CRMError(
            f"{path}: not a regular file (a pipe, socket or device); save the export to a file and pass that"
        )
    if st.st_size > MAX_CSV_BYTES:
        raise CRMError(
            f"{path}: {st.st_size:,} bytes, larger than the {MAX_CSV_BYTES:,} bytes "
            "read; export fewer rows or columns"
        )
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CRMError(f"{path}: cannot be read ({e.strerror or e})") from None
    text = _decode(raw, path).lstrip("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise CRMError(f"{path}: empty file (no header row, no data rows)")
    sep = _pick_separator(text)
    _refuse_ragged_rows(text, sep, path)
    try:
        # index_col=False: a row longer than the header must never turn its first fields into
        # the index (shifting every value one column); such rows are refused above, and the
        # parser's warning, should it still see one, is an error
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
                index_col=False,
            )
    except pd.errors.ParserWarning:
        raise CRMError(
            f"{path}: some rows have more fields than the header; the columns of "
            "those rows cannot be told apart (quote values that contain the "
            "separator)"
        ) from None
    except (ValueError, csv.Error, IndexError, OverflowError) as e:  # ParserError is a ValueError
        first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise CRMError(f"{path}: cannot be read as CSV ({first[:200]})") from None
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    if df.empty:
        cols = ", ".join(_shown(c) for c in df.columns[:20])
        raise CRMError(f"{path}: no data rows, only a header (columns: {cols})")
    return df


_SEPARATOR_NAMES = {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a bar"}
# an amount cut in two at an unquoted thousands comma: "£2" and "181", "$1" and "250.00"
_AMOUNT_HEAD = re.compile(r"[-+(]?[^\d,]{0,6}\d{1,3}")
_AMOUNT_TAIL = re.compile(r"\d{3}(?:\.\d*)?[^\d,]{0,6}")


def _refuse_ragged_rows(text: str, sep: str, path: Path) -> None:
    """Refuse a file with a row of more fields than its header, naming the line and the counts.

    Such a row has a separator inside an unquoted value (most often an amount written with a
    thousands comma, ``£2,181``): which field belongs to which column cannot be known, and
    reading it anyway shifts values into the wrong columns. Shorter rows are read, their
    missing fields empty (a cut-off last line).

    Raises:
        CRMError: naming the file, the line, both field counts and, when two neighbouring fields
            look like the halves of an amount, that the amounts carry unquoted thousands
            separators.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, MAX_CSV_BYTES))  # a field may be as long as the file
    try:
        reader = csv.reader(io.StringIO(text), delimiter=sep, skipinitialspace=True)
        header = next(reader, [])
        width = len(header)
        for row in reader:
            if len(row) <= width:
                continue
            line = reader.line_num
            where = f"{path}: line {line} has {len(row)} fields but the header has {width}"
            if sep == ",":
                for a, b in itertools.pairwise(row):
                    if _AMOUNT_HEAD.fullmatch(a.strip()) and _AMOUNT_TAIL.fullmatch(b.strip()):
                        raise CRMError(
                            f"{where}: {_shown(a.strip() + ',' + b.strip())!r} looks like an "
                            "amount written with a thousands separator and no quotes, which "
                            "splits it into two fields. Export again with quoted fields, or "
                            "with amounts written without thousands separators"
                        )
            raise CRMError(
                f"{where}: a value holds {_SEPARATOR_NAMES.get(sep, repr(sep))}, the "
                "separator, without quotes, so the row's values cannot be matched to "
                "the columns. Export again with quoted fields"
            )
    except csv.Error:
        return  # the parser below reports what the file's quoting breaks
    finally:
        csv.field_size_limit(limit)


def _shown(value: object, width: int = 40) -> str:
    """A value from a file, printable in one line of a message (control characters escaped)."""
    s = str(value)
    s = s if s.isprintable() else s.encode("unicode_escape").decode("ascii")
    return s if len(s) <= width else s[: width - 1] + "…"


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


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M",
    "%m/%d/%y %H:%M",
    "%d-%b-%Y",
    "%b %d, %Y",
)


#: Dates outside this window are not read (and outside what the tables can hold).
DATE_WINDOW = (pd.Timestamp("1900-01-01"), pd.Timestamp("2200-01-01"))
#: Deals created earlier are not CRM records (and a scenario cannot start then).
EARLIEST_DATE = pd.Timestamp("1990-01-01")


def parse_dates(s: pd.Series) -> pd.Series:
    """Dates in any of the common CRM formats (ISO, M/D/YY, M/D/YYYY, D.M.YYYY …), per value.

    Values that match no format, or fall outside :data:`DATE_WINDOW`, are missing (NaT).
    Time-zone offsets are converted to UTC before the time of day is dropped.
    """
    s = s.astype(str).str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    todo = s.ne("") & s.str.lower().ne("nan") & s.str.lower().ne("null")
    for fmt in _DATE_FORMATS:
        if not todo.any():
            break
        parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce", utc="%z" in fmt)
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_convert(None)
        ok = parsed.notna() & (parsed >= DATE_WINDOW[0]) & (parsed < DATE_WINDOW[1])
        out.loc[ok[ok].index] = parsed[ok].astype("datetime64[ns]")
        todo &= out.isna()
    return out.dt.normalize()


# MAX_AMOUNT (from the scenario schema, the largest deal-size median a scenario accepts): the
# largest amount read as a deal size; anything larger is refused as implausible.
_BLANK = {"", "nan", "null", "none", "n/a", "na", "n.a.", "#n/a", "nil", "-", "--", "—", "–", "?"}
_MULTIPLIERS = {
    "k": 1e3,
    "thousand": 1e3,
    "thousands": 1e3,
    "tsd": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "mio": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "bln": 1e9,
    "mrd": 1e9,
    "billion": 1e9,
    "billions": 1e9,
}
# ISO 4217 codes and a few written currency names; anything else next to a number is not money
_ISO_4217 = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF
XPF YER ZAR ZMW ZWL RMB NTD
"""
_CURRENCY_CODES = set(_ISO_4217.split()) | {
    "KR",
    "KČ",
    "ZŁ",
    "FT",
    "LEI",
    "RS",
    "FR",
    "DOLLAR",
    "DOLLARS",
    "EURO",
    "EUROS",
    "POUND",
    "POUNDS",
    "YEN",
    "YUAN",
    "RUPEE",
    "RUPEES",
    "FRANC",
    "FRANCS",
}
# "US$", "A$", "NZ$", "R$", "HK$": letters glued to a currency symbol
_DOLLAR_PREFIXES = {"US", "A", "AU", "C", "CA", "NZ", "HK", "S", "SG", "R", "NT", "MX", "Z", "J", "T"}
_SYM = "$€£¥₹₩₽₺₪฿₫₦₱₴₸¢"
_AMOUNT_RE = re.compile(
    rf"""
    (?P<s1>[-+])?\s*
    (?:(?P<pcode>[^\W\d_]{{1,6}})\.?\s*)?(?P<psym>[{_SYM}])?\s*
    (?P<s2>[-+])?\s*
    (?P<num>\d(?:[\d.,' ]*\d)?|[.,]\d+)
    (?P<exp>[eE][-+]?\d{{1,3}})?
    \s*(?:(?P<w1>[^\W\d_]{{1,10}})\.?)?
    \s*(?P<ssym>[{_SYM}])?
    \s*(?:(?P<w2>[^\W\d_]{{1,10}})\.?)?
    \s*(?P<s3>-)?
    """,
    re.VERBOSE,
)
_SPACES = re.compile(r"[\s\u00a0\u2007\u202f\u2009]+")


def _amount_parts(text: str) -> tuple[str, bool, str, float] | str:
    """Split one amount into (number, negative, exponent, multiplier), or say why it cannot be."""
    s = _SPACES.sub(" ", text).strip().replace("\u2212", "-").replace("’", "'")
    if s.lower() in _BLANK:
        return "blank"
    if len(s) > 1000:  # (bounds the regular expression's work on junk)
        return "unreadable"
    neg = False
    if s.startswith("(") and s.endswith(")"):
        neg, s = True, s[1:-1].strip()
    m = _AMOUNT_RE.fullmatch(s)
    if m is None:
        return "unreadable"
    signs = [g for g in (m["s1"], m["s2"], m["s3"]) if g]
    if len(signs) > 1 or (neg and signs):
        return "unreadable"
    neg = neg or signs == ["-"]
    pcode = m["pcode"]
    if pcode is not None and not (
        pcode.upper() in _CURRENCY_CODES or (m["psym"] and pcode.upper() in _DOLLAR_PREFIXES)
    ):
        return "unreadable"
    words = [w for w in (m["w1"], m["w2"]) if w]
    mult, currency = 1.0, bool(pcode or m["psym"] or m["ssym"])
    for i, w in enumerate(words):
        low = w.lower()
        if low in _MULTIPLIERS and mult == 1.0 and i == 0:
            mult = _MULTIPLIERS[low]
        elif w.upper() in _CURRENCY_CODES and not (currency and (pcode or m["ssym"])):
            currency = True
        else:
            return "unreadable"
    return m["num"], neg, m["exp"] or "", mult


def _mantissa(num: str, comma_decimal: bool) -> str | None:
    """A number's digits with '.' as the decimal point, or None if its separators make no sense.

    The last '.' or ',' is the decimal point when the other separator groups the thousands
    ("1,234.50", "1.234,50", "1 234,50"), or when it is followed by other than three digits
    ("12,5", "1.5"); a lone separator before three digits groups thousands ("1,000"), except a
    dot in a column that writes its decimals with a comma (``comma_decimal``) and never with a
    dot ("EUR 1.000"). Spaces and apostrophes only group thousands. Grouped digits must come in
    threes (or the Indian 2-2-3).
    """
    parts = re.split(r"([.,' ])", num)
    digits, seps = parts[0::2], parts[1::2]
    if not seps:
        return num
    if any(d == "" for d in digits[1:]) or (digits[0] == "" and len(seps) > 1):
        return None
    last = seps[-1]
    dec = None
    if last in ".,":
        if last in seps[:-1]:
            dec = None
        elif len(seps) > 1 or len(digits[-1]) != 3:
            dec = last
        elif last == ".":
            dec = None if comma_decimal else "."
    int_digits, int_seps, frac = (digits[:-1], seps[:-1], digits[-1]) if dec else (digits, seps, "")
    if int_seps:
        if len(set(int_seps)) != 1 or int_digits[0] == "":
            return None
        g = [len(x) for x in int_digits]
        western = 1 <= g[0] <= 3 and all(n == 3 for n in g[1:])
        indian = (
            int_seps[0] == ","
            and len(g) >= 3
            and 1 <= g[0] <= 2
            and all(n == 2 for n in g[1:-1])
            and g[-1] == 3
        )
        if not (western or indian):
            return None
    whole = "".join(int_digits) or "0"
    return f"{whole}.{frac}" if frac else whole


def parse_amounts_detail(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Money amounts and, per value, whether each was read.

    Understands currency symbols and ISO codes before or after the number ("$", "USD 1,000",
    "1.234,50 €"), thousands separators in both conventions, Swiss and Indian grouping,
    parentheses and trailing minus for negatives, scientific notation ("1e6", "1.2E+5") and
    multiplier suffixes (K; M, MM, Mio, mln; B, bn, Mrd; "thousand", "million", "billion").

    Returns:
        The amounts (NaN where not read), and a status per value: ``ok``; ``blank`` (empty,
        "n/a", "-" …); ``unreadable`` (not an amount in any convention above); ``implausible``
        (not finite, or larger than :data:`MAX_AMOUNT`).
    """
    text = s.astype(str)
    uniq = pd.unique(text)
    parts = {u: _amount_parts(u) for u in uniq}
    nums = [p[0] for p in parts.values() if isinstance(p, tuple)]
    has_comma_dec = any(re.search(r",\d{1,2}$", n) and not re.search(r"\.\d{1,2}$", n) for n in nums)
    has_dot_dec = any(re.search(r"\.\d{1,2}$", n) for n in nums)
    comma_decimal = has_comma_dec and not has_dot_dec
    values: dict[str, float] = {}
    status: dict[str, str] = {}
    for u, p in parts.items():
        if isinstance(p, str):
            values[u], status[u] = math.nan, p
            continue
        num, neg, exp, mult = p
        mant = _mantissa(num, comma_decimal)
        if mant is None:
            values[u], status[u] = math.nan, "unreadable"
            continue
        v = float(mant + (f"e{exp[1:]}" if exp else "")) * mult
        if not math.isfinite(v) or abs(v) > MAX_AMOUNT:
            values[u], status[u] = math.nan, "implausible"
            continue
        values[u], status[u] = (-v if neg else v), "ok"
    return (text.map(values).astype(float), text.map(status).astype(object))


def parse_amounts(s: pd.Series) -> pd.Series:
    """Money amounts (see :func:`parse_amounts_detail`); NaN where a value cannot be read."""
    return parse_amounts_detail(s)[0]


#: How far (in robust standard deviations of the log-amount) an amount may lie from its
#: product's median before it is set aside as an outlier.
OUTLIER_SDS = 6.0
#: An amount within this factor of the median is never an outlier (identical amounts have a
#: robust SD of zero).
OUTLIER_MIN_FACTOR = 10.0
_OUTLIER_MIN_GROUP = 20


def amount_outliers(amount: pd.Series, group: pd.Series | None) -> pd.Series:
    """Amounts whose log lies more than :data:`OUTLIER_SDS` robust SDs from the median.

    The robust SD is 1.4826 × the median absolute deviation of the log-amounts, so one absurd
    value moves neither centre nor spread. Medians are per ``group`` (product) where a group has
    at least 20 positive amounts, else over all amounts; an amount within
    :data:`OUTLIER_MIN_FACTOR` of its median is never flagged. Missing and non-positive amounts
    are not flagged (they are left out of deal-size estimates anyway).
    """
    a = amount.astype(float)
    pos = a > 0
    flagged = pd.Series(False, index=a.index)
    if int(pos.sum()) < 5:
        return flagged
    la = np.log(a.where(pos))

    def centre_scale(x: pd.Series) -> tuple[float, float]:
        med = float(x.median())
        return med, 1.4826 * float((x - med).abs().median())

    pooled = centre_scale(la[pos])
    keys = group.astype(str) if group is not None else pd.Series("", index=a.index)
    floor = math.log(OUTLIER_MIN_FACTOR)
    for _, idx in keys[pos].groupby(keys[pos]).groups.items():
        x = la[idx]
        med, scale = centre_scale(x) if len(x) >= _OUTLIER_MIN_GROUP else pooled
        dist = (x - med).abs()
        flagged[idx] = (dist > OUTLIER_SDS * scale) & (dist > floor)
    return flagged


def _outcome(stage: pd.Series, won_vals: set[str], lost_vals: set[str]) -> pd.Series:
    low = stage.str.strip().str.lower()
    return pd.Series(
        np.select([low.isin(won_vals), low.isin(lost_vals)], ["won", "lost"], "open"), index=stage.index
    )


#: Dates later than today plus this margin are not records of real deals (a created date in the
#: future is a data error; so is a close date of a closed deal). The margin allows for clocks, time
#: zones, and exports of a fiscal year dated on its last day.
FUTURE_MARGIN_DAYS = 366


def read_crm(
    path: str | Path,
    history: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    won: Sequence[str] = (),
    lost: Sequence[str] = (),
    today: dt.date | None = None,
) -> Opportunities:
    """Read a CRM opportunity export into a clean opportunity table.

    Args:
        path: the opportunity CSV (Salesforce ``Opportunity.csv``, any CRM export, or salessim's
            ``deals.csv``).
        history: optional stage history (Salesforce ``OpportunityHistory.csv``: OpportunityId,
            StageName, CreatedDate) for stage order, the stage where lost deals were lost, and
            stage timing.
        columns: role → column name, for roles the guess gets wrong.
        won, lost: stage values meaning won / lost, in addition to the common names.
        today: the day the export is judged against (default: the system date): deals created,
            or closed, more than :data:`FUTURE_MARGIN_DAYS` after it are dropped. salessim's own
            deal logs are simulations, not judged against today (a simulated company may start
            in the future); their dates after :data:`SIMULATED_LAST_DATE` are dropped.

    Raises:
        CRMError: the file cannot be read (a row with more fields than the header, e.g. amounts
            with unquoted thousands separators, is named by line), lacks the minimum roles (id,
            stage, created; and the outcome must be derivable), or has more distinct open
            stages than a scenario's funnel holds (:data:`MAX_STAGES`). An owner column is
            optional: without it every deal's ``rep_id`` is empty and a note says so.
    """
    path = Path(path)
    df = _read_csv(path)
    roles = guess_roles(list(df.columns), columns)
    missing = [r for r in REQUIRED if r not in roles]
    if missing:
        raise CRMError(
            f"{path}: missing required column roles: {', '.join(missing)}. Columns "
            f"found: {', '.join(df.columns)}. Map them with --column ROLE=COLUMN "
            f"(roles: {', '.join(ROLES)})."
        )
    n_read = len(df)
    dropped: Counter = Counter()
    set_aside: Counter = Counter()
    notes: list[str] = []
    won_vals = WON_NAMES | {w.strip().lower() for w in won}
    lost_vals = LOST_NAMES | {x.strip().lower() for x in lost}

    stage = df[roles["stage"]].astype(str).str.strip()
    if "outcome" in roles:
        outcome = _outcome(df[roles["outcome"]].astype(str), won_vals, lost_vals)
    elif "is_closed" in roles and "is_won" in roles:
        closed_flag = df[roles["is_closed"]].str.strip().str.lower().isin(["true", "1", "yes"])
        won_flag = df[roles["is_won"]].str.strip().str.lower().isin(["true", "1", "yes"])
        outcome = pd.Series(
            np.select([closed_flag & won_flag, closed_flag], ["won", "lost"], "open"), index=df.index
        )
    else:
        outcome = _outcome(stage, won_vals, lost_vals)
    if not (outcome != "open").any():
        values = ", ".join(_shown(v, 30) for v in sorted(set(stage) - {""})[:12]) or "all empty"
        raise CRMError(
            f"{path}: no won or lost deals recognised in column {roles['stage']!r} "
            f"(values: {values}). Name them with --won VALUE / --lost VALUE."
        )

    created = parse_dates(df[roles["created"]])
    closed = (
        parse_dates(df[roles["closed"]])
        if "closed" in roles
        else pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    )
    amount_status = None
    if "amount" in roles:
        amount, amount_status = parse_amounts_detail(df[roles["amount"]])
    else:
        amount = pd.Series(np.nan, index=df.index)
        notes.append("no amount column: deal sizes are not calibrated")
    if "owner" in roles:
        owner = df[roles["owner"]].astype(str).str.strip()
    else:
        owner = pd.Series("", index=df.index)
        notes.append(
            "no owner column: win rate, stage timing and deal size are calibrated "
            "without it; per-rep figures (opportunities per rep-week, the rep count, "
            "the skill spread) are not, unless --reps gives the number of reps"
        )
    manager = df[roles["manager"]].astype(str).str.strip() if "manager" in roles else ""
    simulated = "replication" in df.columns and "scenario" in df.columns
    if simulated:
        # salessim's own export: rep and manager ids repeat across replications
        tag = df["scenario"].astype(str) + "/" + df["replication"].astype(str) + ":"
        owner = tag + owner if "owner" in roles else owner
        manager = tag + manager if "manager" in roles else manager
        notes.append("salessim deal log: rep and manager ids qualified by scenario and replication")
    t = pd.DataFrame(
        {
            "opportunity_id": df[roles["id"]].astype(str).str.strip(),
            "rep_id": owner,
            "manager_id": manager,
            "segment": df[roles["segment"]].astype(str).str.strip() if "segment" in roles else "",
            "product": df[roles["product"]].astype(str).str.strip() if "product" in roles else "",
            "amount": amount,
            "created_at": created,
            "closed_at": closed,
            "stage": stage,
            "outcome": outcome,
        }
    )

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal t
        n = int(mask.sum())
        if n:
            dropped[reason] += n
            t = t[~mask]

    drop(
        t["opportunity_id"].eq("") | t["opportunity_id"].duplicated(keep="first"),
        "duplicate or empty opportunity id",
    )
    if "owner" in roles:
        drop(t["rep_id"].eq(""), "no owner")
    drop(t["created_at"].isna(), "created date missing or unreadable")
    drop(t["created_at"] < EARLIEST_DATE, f"created date before {EARLIEST_DATE.year}")
    if simulated:
        # a simulated company may start in the future, but no run reaches past this date
        limit, beyond = SIMULATED_LAST_DATE, "after any simulated run"
    else:
        limit = pd.Timestamp(today or dt.date.today()) + pd.Timedelta(days=FUTURE_MARGIN_DAYS)
        beyond = "in the future"
    drop(t["created_at"] > limit, f"created date {beyond} (after {limit.date()})")
    drop((t["outcome"] != "open") & (t["closed_at"] > limit), f"close date {beyond} (after {limit.date()})")
    # a closed deal needs a close date; an open one may have a planned close date: ignore it
    t.loc[t["outcome"] == "open", "closed_at"] = pd.NaT
    drop((t["outcome"] != "open") & t["closed_at"].isna(), "closed deal without a close date")
    drop((t["outcome"] != "open") & (t["closed_at"] < t["created_at"]), "closes before it was created")
    closed_mask = t["outcome"] != "open"
    if closed_mask.any():
        oldest_closed = t.loc[closed_mask, "created_at"].min()
        stale = (t["outcome"] == "open") & (t["created_at"] < oldest_closed)
        drop(stale, "stale open deal, older than every closed deal")
    # amounts are judged on the rows kept: a row is either dropped or has its amount set aside
    if amount_status is not None:
        _refused_amounts(df[roles["amount"]], amount_status[t.index], roles["amount"], set_aside, notes)
    neg = t["amount"] < 0
    if neg.any():
        set_aside["negative amount"] += int(neg.sum())
        t.loc[neg, "amount"] = np.nan
    out = amount_outliers(t["amount"], t["product"] if "product" in roles else None)
    if out.any():
        n_out = int(out.sum())
        flagged = t.loc[out, "amount"]
        extremes = f"largest {_money(float(flagged.max()))}"
        if float(flagged.min()) < float(t["amount"].median()):  # a tiny amount among them
            extremes += f", smallest {_money(float(flagged.min()))}"
        where = "its product's" if "product" in roles else "the"
        set_aside[f"amount outlier, more than {OUTLIER_SDS:g} robust SDs from {where} median"] += n_out
        notes.append(
            f"{n_out} amount{'s' if n_out > 1 else ''} set aside as "
            f"{'outliers' if n_out > 1 else 'an outlier'} "
            f"({extremes}; log-amount more than {OUTLIER_SDS:g} robust SDs from {where} "
            "median): kept for conversion and timing, left out of deal-size estimates"
        )
        t.loc[out, "amount"] = np.nan
    if t["amount"].isna().any() and "amount" in roles:
        notes.append(
            f"{int(t['amount'].isna().sum())} deals have no amount: kept for "
            "conversion and timing, left out of deal-size estimates"
        )
    if t.empty:
        why = "; ".join(f"{k}: {v}" for k, v in dropped.most_common())
        raise CRMError(f"{path}: no usable rows ({n_read} read; dropped {why})")

    stage_order: list[str] = []
    hist = None
    if history is not None:
        hist, stage_order = _read_history(Path(history), won_vals, lost_vals, dropped, notes, set(t["stage"]))
        # where lost deals were lost: the last open stage in their history
        last_open = (
            hist[hist["kind"] == "open"]
            .sort_values(["opportunity_id", "date"])
            .groupby("opportunity_id")["stage"]
            .last()
        )
        lost = t["outcome"] == "lost"
        t.loc[lost, "stage"] = t.loc[lost, "opportunity_id"].map(last_open).fillna(t.loc[lost, "stage"])
    else:
        stage_order = _stage_order_from_table(t, won_vals, lost_vals)
    unusable = [s for s in stage_order if not usable_name(s)]
    if unusable:
        stage_order = [s for s in stage_order if usable_name(s)]
        notes.append(
            f"{len(unusable)} stage value{'s' if len(unusable) > 1 else ''} cannot name "
            f"a funnel stage (unprintable or over {MAX_NAME_LENGTH} characters, e.g. "
            f"{_shown(unusable[0], 24)!r}): left out of the stage order"
        )
    if len(stage_order) > MAX_STAGES:
        _refuse_stages(
            path if history is None else Path(history),
            stage_order,
            t,
            f"in column {roles['stage']!r}" if history is None else "in the history",
        )
    won_mask = t["outcome"] == "won"
    t.loc[won_mask, "stage"] = "won"
    t = t.sort_values(["created_at", "opportunity_id"]).reset_index(drop=True)
    if not stage_order:
        notes.append(
            "stage where lost deals were lost is unknown (no history file, no "
            "stage_reached): only the overall win rate can be estimated"
        )
    return Opportunities(
        table=t,
        source=str(path),
        roles=roles,
        rows_read=n_read,
        dropped=dropped,
        amounts_set_aside=set_aside,
        notes=notes,
        stage_order=stage_order,
        history=hist,
    )


def _refuse_stages(path: Path, stage_order: Sequence[str], t: pd.DataFrame, where: str) -> None:
    """Refuse a stage order longer than a scenario's funnel, naming the stages and the remedy.

    Raises:
        CRMError: always; the stages in order with the deals that carry each, and how to merge
            them.
    """
    counts = t["stage"].value_counts()
    shown = ", ".join(f"{_shown(s, 30)!r} ({int(counts.get(s, 0))})" for s in stage_order[:40])
    more = f", … {len(stage_order) - 40} more" if len(stage_order) > 40 else ""
    raise CRMError(
        f"{path}: {len(stage_order)} distinct open stages {where}, more than the "
        f"{MAX_STAGES} a scenario's funnel holds (in funnel order, with the deals at each: "
        f"{shown}{more}). Merge stages in the export (rename each of the rarer stages to its "
        "neighbour in the funnel) until at most "
        f"{MAX_STAGES} remain, or map a column with fewer stages with --column stage=COLUMN; "
        "name closing values with --won VALUE / --lost VALUE"
    )


def _money(v: float) -> str:
    return f"{v:,.0f}" if 1 <= abs(v) < 1e15 else f"{v:.3g}"


def _refused_amounts(
    raw: pd.Series, status: pd.Series, column: str, set_aside: Counter, notes: list[str]
) -> None:
    """Count the amounts that were not read (the deals stay, without an amount), with examples."""
    for kind, what in (
        ("implausible", f"not finite or above {MAX_AMOUNT:.0e}"),
        ("unreadable", "not an amount"),
    ):
        bad = status.eq(kind)
        n = int(bad.sum())
        if not n:
            continue
        set_aside[f"{kind} amount"] += n
        examples = ", ".join(repr(_shown(v, 24)) for v in pd.unique(raw[bad.index[bad]])[:3])
        notes.append(
            f"{n} {kind} value{'s' if n > 1 else ''} in column {column!r} ({what}: "
            f"{examples}): kept for conversion and timing, left out of deal-size "
            "estimates"
        )


def _stage_order_from_table(t: pd.DataFrame, won_vals: set[str], lost_vals: set[str]) -> list[str]:
    """Stage order when lost deals carry the stage they were lost at (e.g. salessim deals.csv).

    Stages are ordered by how late deals reach them: a stage where a larger share of deals that
    reached it ended up winning comes later.
    """
    lost = t[t["outcome"] == "lost"]
    names = [
        s
        for s in pd.unique(t.loc[t["outcome"] != "won", "stage"])
        if s.strip().lower() not in won_vals | lost_vals and s != ""
    ]
    # won/lost values are lower case: compare the stages of lost deals case-insensitively
    lost_at = {s.strip().lower() for s in lost["stage"]} - {""}
    if not names or not lost_at - (won_vals | lost_vals):
        return []
    # deals lost at a stage: earlier stages lose more deals, order by the median age at loss
    age = (lost["closed_at"] - lost["created_at"]).dt.days
    med = age.groupby(lost["stage"]).median()
    known = [s for s in names if s in med.index]
    return sorted(known, key=lambda s: med[s]) + [s for s in names if s not in med.index]


def _read_history(
    path: Path,
    won_vals: set[str],
    lost_vals: set[str],
    dropped: Counter,
    notes: list[str] | None = None,
    export_stages: set[str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Read a stage history; return its clean rows and the open stages in funnel order.

    Real histories are messy, and each kind of mess is handled and counted (history rows dropped
    are named ``history rows …`` in ``dropped``): rows without an opportunity or a stage, or with
    an unreadable date, are dropped; a row repeated (same deal, stage and day) is kept once; rows
    out of date order are sorted (rows of one deal on one day in funnel order); a stage that no
    deal of the export sits at and that at most :data:`RARE_STAGE_SHARE` of the history's deals
    (and at most 5) ever record — a retired or mistyped stage — is dropped with a note, so it
    neither lengthens the funnel nor splits a stage's time. Stage regressions (a deal moving
    back) stay in the rows; the order and the durations read each deal's *first* entry into each
    stage (:func:`stage_durations`).

    The stage order: open stages by the mean rank of their first entry within each deal.
    """
    df = _read_csv(path)
    norm = {_norm(c): c for c in df.columns}
    opp = next((norm[n] for n in ("opportunityid", "opportunity", "id") if n in norm), None)
    st = next((norm[n] for n in ("stagename", "stage") if n in norm), None)
    dt = next((norm[n] for n in ("createddate", "date", "createdat", "changedate") if n in norm), None)
    if not (opp and st and dt):
        raise CRMError(
            f"{path}: a stage history needs OpportunityId, StageName and CreatedDate "
            f"columns; found: {', '.join(df.columns)}"
        )
    h = pd.DataFrame(
        {
            "opportunity_id": df[opp].astype(str).str.strip(),
            "stage": df[st].astype(str).str.strip(),
            "date": parse_dates(df[dt]),
        }
    )
    empty = h["opportunity_id"].eq("") | h["stage"].eq("")
    if empty.any():
        dropped["history rows without an opportunity or a stage"] += int(empty.sum())
        h = h[~empty]
    bad = h["date"].isna()
    if bad.any():
        dropped["history rows with unreadable dates"] += int(bad.sum())
        h = h[~bad]
    repeated = h.duplicated(["opportunity_id", "stage", "date"], keep="first")
    if repeated.any():
        dropped["history rows repeated (same deal, stage and day)"] += int(repeated.sum())
        h = h[~repeated]
    low = h["stage"].str.lower()
    h["kind"] = np.select([low.isin(won_vals), low.isin(lost_vals)], ["won", "lost"], "open")
    h["row"] = np.arange(len(h))
    h = h.sort_values(["opportunity_id", "date", "row"], kind="stable")
    opens = h[h["kind"] == "open"]
    deals_at = opens.groupby("stage")["opportunity_id"].nunique()
    n_deals = max(int(h["opportunity_id"].nunique()), 1)
    rare = [
        s
        for s, k in deals_at.items()
        if s not in (export_stages or set()) and k <= min(5, RARE_STAGE_SHARE * n_deals)
    ]
    if rare and len(deals_at) > len(rare):
        gone = h["stage"].isin(rare)
        dropped["history rows at a stage few deals record and none sits at"] += int(gone.sum())
        if notes is not None:
            notes.append(
                f"{len(rare)} stage value{'s' if len(rare) > 1 else ''} in the history "
                f"recorded by at most {RARE_STAGE_SHARE:.0%} of its deals and by no "
                f"deal of the export (e.g. {_shown(rare[0], 24)!r}): "
                f"{int(gone.sum())} history rows left out"
            )
        h = h[~gone]
        opens = h[h["kind"] == "open"]
    # stage order: mean rank of each stage's first entry within a deal (repeats and regressions
    # do not move a stage later)
    first = opens.drop_duplicates(["opportunity_id", "stage"], keep="first").copy()
    first["pos"] = first.groupby("opportunity_id").cumcount()
    order = first.groupby("stage")["pos"].mean().sort_values(kind="stable").index.tolist()
    # rows of one deal on one day: in funnel order, closing rows last
    rank = {s: i for i, s in enumerate(order)}
    h["pos"] = h["stage"].map(rank).fillna(len(order)).astype(int)
    h = h.sort_values(["opportunity_id", "date", "pos", "row"], kind="stable")
    return h.drop(columns=["row", "pos"]).reset_index(drop=True), order


#: A history stage recorded by at most this share of the history's deals (and at most 5 deals),
#: at which no deal of the export sits, is taken for a retired or mistyped stage.
RARE_STAGE_SHARE = 0.01


def stage_durations(data: Opportunities) -> pd.DataFrame:
    """Days each deal spent in each open stage, from the stage history (empty without one).

    A deal's time in a stage runs from its first entry into the stage to its first entry into any
    later stage of the funnel order after that; the stage it closed from ends at its close (won
    or lost: a lost deal spends its time in the stage before it is lost, as in the model). A
    stage a deal skipped has no time; a stage it sits in while still open is not finished and is
    left out (censored). A regression (moving back) counts toward the stage it moved back from,
    whose exit is the first later-stage entry. Negative times (dates entered out of order) are
    left out.

    Returns:
        Columns opportunity_id, stage, days, outcome (of the deal), kind (``"closed"`` when the
        stage ended by the deal's close, else ``"moved"``).
    """
    cols = ["opportunity_id", "stage", "days", "outcome", "kind"]
    h, order = data.history, data.stage_order
    if h is None or not order or h.empty:
        return pd.DataFrame(columns=cols)
    rank = {s: i for i, s in enumerate(order)}
    t = data.table.set_index("opportunity_id")
    opens = h[(h["kind"] == "open") & h["stage"].isin(rank)]
    first = opens.drop_duplicates(["opportunity_id", "stage"], keep="first")
    first = first[first["opportunity_id"].isin(t.index)]
    if first.empty:
        return pd.DataFrame(columns=cols)
    closing = h[h["kind"] != "open"].drop_duplicates("opportunity_id", keep="first")
    close_at = closing.set_index("opportunity_id")["date"]
    outcome = t["outcome"]
    # the deal's close: its closed_at, else (closed without one) its closing history row
    end = t["closed_at"].where(outcome != "open")
    end = end.fillna(close_at.reindex(end.index).where(outcome != "open"))
    # one row per first entry, in the deal order and row order the history has
    deal_no = pd.Series(pd.factorize(first["opportunity_id"])[0], index=first.index)
    f = pd.DataFrame(
        {
            "opportunity_id": first["opportunity_id"].to_numpy(),
            "pos": first["stage"].map(rank).to_numpy(),
            "date": pd.to_datetime(first["date"]).to_numpy(),
            "deal": deal_no.to_numpy(),
            "row": np.arange(len(first)),
        }
    )
    # exit: the first entry into any later stage on or after the entry (a deal has a few rows)
    pairs = f.merge(f[["deal", "pos", "date"]], on="deal", suffixes=("", "_later"))
    pairs = pairs[(pairs["pos_later"] > pairs["pos"]) & (pairs["date_later"] >= pairs["date"])]
    exit_moved = pairs.groupby("row")["date_later"].min()
    f["outcome"] = outcome.reindex(f["opportunity_id"]).to_numpy()
    f["exit"] = exit_moved.reindex(f["row"]).to_numpy()
    f["kind"] = np.where(f["exit"].notna(), "moved", "closed")
    # the stage it closed from ends at its close
    top = f.groupby("deal")["pos"].transform("max")
    f["end"] = pd.to_datetime(end.reindex(f["opportunity_id"])).to_numpy()
    at_close = f["exit"].isna() & (f["pos"] == top) & (f["outcome"] != "open") & f["end"].notna()
    f.loc[at_close, "exit"] = f.loc[at_close, "end"]
    f = f[f["exit"].notna()].sort_values(["deal", "row"], kind="stable")
    days = (f["exit"].to_numpy() - f["date"].to_numpy()) / np.timedelta64(1, "D")
    res = pd.DataFrame(
        {
            "opportunity_id": f["opportunity_id"].to_numpy(),
            "stage": np.asarray(order, dtype=object)[f["pos"].to_numpy()],
            "days": days.astype(float),
            "outcome": f["outcome"].to_numpy(),
            "kind": f["kind"].to_numpy(),
        }
    )
    return res[res["days"] >= 0].reset_index(drop=True)[cols]


def segment_map(values: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Map an export's segment values onto the scenario's segments ``new_logo``/``expansion``.

    A value is new-logo business when it names new business (:data:`NEW_LOGO_WORDS`: "New
    Business", "New Customer", "Net new logo" …) and expansion when it names business with an
    existing customer (:data:`EXPANSION_WORDS`: "Existing Business", "Upsell", "Renewal",
    "Existing Customer - Upgrade" …); salessim's own ``new_logo``/``expansion`` map to
    themselves. A value naming both, or neither, is not mapped — except that when the column
    holds exactly two values and one is mapped, the other takes the other segment.

    Returns:
        (value → segment for the values mapped, the values left unmapped).
    """
    vals = [v for v in dict.fromkeys(str(v) for v in values) if v.strip()]
    out: dict[str, str] = {}
    for v in vals:
        words = re.findall(r"[a-z]+", v.lower())
        n = "".join(words)
        if n in ("newlogo", "expansion"):
            out[v] = "new_logo" if n == "newlogo" else "expansion"
            continue
        # words that start so ("Renewal" is not new business), or run together ("Up-sell")
        new = any(x.startswith(w) for x in words for w in NEW_LOGO_WORDS)
        old = any(x.startswith(w) for x in words for w in EXPANSION_WORDS) or any(
            w in n for w in ("upsell", "crosssell", "addon", "accountmanagement")
        )
        if new != old:
            out[v] = "new_logo" if new else "expansion"
    if len(vals) == 2 and len(out) == 1:
        ((known, seg),) = out.items()
        other = next(v for v in vals if v != known)
        out[other] = "expansion" if seg == "new_logo" else "new_logo"
    return out, [v for v in vals if v not in out]
