"""Tables as a spreadsheet: every figure a number with a number format, never pre-formatted text.

:func:`workbook_bytes` turns named tables into one ``.xlsx`` (a sheet per table, an ``about`` sheet
with the run's metadata first). Money gets ``#,##0``, shares ``0.0%``, days ``0.0``; a summary
table (one row per metric) formats each row by its metric, a table with a ``unit`` column (USD,
share, days …) each row by its unit, and a caller may name a column's format outright (a report's
tables pass the formats they are shown with). Text from scenarios or exports is
written as text (never as a formula). A table longer than a sheet can hold is left out and the
``about`` sheet says so: the Parquet beside it has every row.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_ROWS", "UNIT_FORMATS", "column_format", "workbook_bytes"]

#: rows a sheet holds besides its header (Excel's limit is 1,048,576 rows)
MAX_ROWS = 1_000_000
MONEY, SHARE, DAYS, COUNT, NUMBER = "#,##0", "0.0%", "0.0", "#,##0", "#,##0.00"

#: the number format of a row by its ``unit`` cell (a table whose rows hold different units)
UNIT_FORMATS = {
    "usd": MONEY,
    "share": SHARE,
    "days": DAYS,
    "count": COUNT,
    "hours": "#,##0.0",
    "ratio": "0.00",
    "number": NUMBER,
    "yes = 1": "0",
}

_MONEY = re.compile(r"(^|_)(revenue|amount|quota|cost|margin|usd|bonus|commission|pay)(_|$)")
_SHARE = re.compile(
    r"(^|_)(pct|share|rate|turnover|attainment|accuracy|p|culture|probability|error|bias|"
    r"coverage_share|adoption|rel)(_|$)|^p_|_share$|attainment"
)
_DAYS = re.compile(r"(^|_)(days|lag|cycle)(_|$)")

#: how a summary row reads, by its metric (the summary's mean, CI and differences share its unit)
_METRIC_KIND = {
    "revenue": MONEY,
    "cost": MONEY,
    "margin_less_cost": MONEY,
    "attainment_p50": SHARE,
    "pct_at_quota": SHARE,
    "win_rate": SHARE,
    "turnover": SHARE,
    "false_flag_rate": SHARE,
    "diagnosis_accuracy": SHARE,
    "forecast_error": SHARE,
    "detection_lag_days": DAYS,
    "coaching_hours": NUMBER,
}
_PER_METRIC = (
    "mean",
    "ci_low",
    "ci_high",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "diff_ci_low_unpaired",
    "diff_ci_high_unpaired",
    "direct",
    "direct_ci_low",
    "direct_ci_high",
    "mediated",
    "mediated_ci_low",
    "mediated_ci_high",
)


def column_format(name: str, dtype: Any) -> str | None:
    """The number format of a column, from its name and type (None: text or a flag)."""
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return None
    n = name.lower()
    if n in ("replication", "seed", "year", "rep_id", "manager_id", "n"):
        return "0"
    if n.endswith("_rel") or n == "diff_rel" or n.startswith("p_") or n == "p_better":
        return SHARE
    if re.search(r"(^|_)(rel|pts)(_|$)", n):  # a relative change, a difference in points
        return SHARE
    if n.startswith("return_on"):  # a ratio of money to money
        return NUMBER
    if n.startswith("pct_") or _SHARE.search(n):  # before money: pct_at_quota is a share
        return SHARE
    if _MONEY.search(n):
        return MONEY
    if _DAYS.search(n):
        return DAYS
    if pd.api.types.is_integer_dtype(dtype):
        return COUNT
    return NUMBER


def _cell_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime().replace(tzinfo=None)
    if isinstance(v, str):
        return v
    if isinstance(v, bool | int | float):
        return v
    return str(v)


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
    out, i = base, 2
    while out.lower() in used:
        out = f"{base[:28]}_{i}"
        i += 1
    used.add(out.lower())
    return out


def workbook_bytes(
    tables: Mapping[str, pd.DataFrame | None],
    meta: Mapping[str, Any] | None = None,
    formats: Mapping[str, Mapping[str, str]] | None = None,
) -> bytes:
    """One workbook: an ``about`` sheet (the metadata, what each sheet holds), then a sheet per table.

    Args:
        tables: the tables by name (a name becomes its sheet's name; None is skipped).
        meta: the run's metadata, on the ``about`` sheet.
        formats: for a table by name, the number format of some of its columns (an Excel format
            such as ``"0.0%"``); it wins over the format read from a column's name, its
            summary metric or its row's ``unit``.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    used: set[str] = {"about"}
    about = wb.create_sheet("about")
    bold = Font(bold=True)
    left_out = []
    sheets: list[tuple[str, pd.DataFrame]] = []
    given: dict[str, Mapping[str, str]] = {}
    for name, df in tables.items():
        if df is None:
            continue
        if len(df) > MAX_ROWS:
            left_out.append((name, len(df)))
            continue
        sheet = _sheet_name(name, used)
        sheets.append((sheet, df))
        given[sheet] = (formats or {}).get(name, {})

    def row(*values: Any, header: bool = False) -> list[Any]:
        return [_cell(about, v, font=bold if header else None) for v in values]

    about.append(row("field", "value", header=True))
    for k, v in (meta or {}).items():
        if isinstance(v, Mapping | list | tuple):
            v = json.dumps(v, default=str, ensure_ascii=False)
            if len(v) > 32_000:  # a cell holds at most 32,767 characters
                v = v[:32_000] + " …"
        about.append(row(str(k), v))
    about.append(row())
    about.append(row("sheet", "rows", header=True))
    for name, df in sheets:
        about.append(row(name, len(df)))
    for name, n in left_out:
        about.append(row(name, f"left out: {n:,} rows are more than a sheet holds; see the Parquet"))

    for name, df in sheets:
        ws = wb.create_sheet(name)
        ws.freeze_panes = "A2"
        cols = list(df.columns)
        ws.append([_cell(ws, str(c), font=bold) for c in cols])
        by_name = [column_format(str(c), df[c].dtype) for c in cols]
        per_metric = "metric" in df.columns
        metric_pos = cols.index("metric") if per_metric else -1
        unit_pos = cols.index("unit") if "unit" in df.columns else -1
        # a row's unit formats the float columns whose name says nothing of a unit
        by_unit = [
            unit_pos >= 0 and fmt == NUMBER and pd.api.types.is_float_dtype(df[c].dtype)
            for c, fmt in zip(cols, by_name, strict=True)
        ]
        own = given.get(name, {})
        for values in df.itertuples(index=False, name=None):
            kind = _METRIC_KIND.get(values[metric_pos], NUMBER) if per_metric else None
            unit = UNIT_FORMATS.get(str(values[unit_pos]).strip().lower()) if unit_pos >= 0 else None
            row_formats = []
            for c, fmt, u in zip(cols, by_name, by_unit, strict=True):
                if per_metric and c in _PER_METRIC:
                    fmt = kind
                elif unit is not None and u:
                    fmt = unit
                row_formats.append(own.get(c, fmt))
            ws.append([_cell(ws, v, f) for f, v in zip(row_formats, values, strict=True)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _text(v: str) -> str:
    """Text as a spreadsheet can hold it: control characters dropped.

    :func:`_cell` types the cell as text, so a leading ``=`` is never a formula.
    """
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", v)


def _cell(ws: Any, v: Any, fmt: str | None = None, font: Any = None) -> Any:
    """A write-only cell: text typed as text, numbers with their number format."""
    from openpyxl.cell import WriteOnlyCell

    v = _cell_value(v)
    if isinstance(v, str):
        c = WriteOnlyCell(ws, value=None)
        c.value = _text(v)
        c.data_type = "s"  # never a formula, whatever the text starts with
    else:
        c = WriteOnlyCell(ws, value=v)
        if fmt is not None and v is not None and not isinstance(v, bool):
            c.number_format = fmt
    if font is not None:
        c.font = font
    return c
