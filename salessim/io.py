"""Writing results: Parquet tables plus a manifest, atomically.

A run writes into a fresh sibling directory and swaps it into place only when every file is
complete, so an interrupted or failed run leaves the last good result untouched and never a
half-written one that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["atomic_dir", "atomic_write_text", "manifest", "read_results", "write_tables"]


class OutputError(OSError):
    """The output location cannot be written (names the path and why)."""


def check_out_dir(out: Path) -> None:
    """Fail early, before any simulation, if ``out`` cannot become a results directory."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory")
    parent = out.resolve().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"--out {out}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK):
        raise OutputError(f"--out {out}: {probe} is not writable")


@contextlib.contextmanager
def atomic_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``out`` only if the block completes."""
    out = Path(out)
    check_out_dir(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as e:
        raise OutputError(f"--out {out}: cannot write there ({e.strerror or e})") from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def manifest(**fields: Any) -> dict[str, Any]:
    """Run metadata: what was run, with what, by which version."""
    from salessim import __version__

    return {
        "salessim_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        **fields,
    }


def write_tables(directory: Path, tables: dict[str, pd.DataFrame | None],
                 meta: dict[str, Any], csv: tuple[str, ...] = ()) -> None:
    """Write each table as Parquet (and CSV where asked) plus ``manifest.json`` into ``directory``."""
    files = {}
    for name, df in tables.items():
        if df is None:
            continue
        path = directory / f"{name}.parquet"
        df.to_parquet(path, index=False)
        files[path.name] = len(df)
        if name in csv:
            cpath = directory / f"{name}.csv"
            df.to_csv(cpath, index=False, date_format="%Y-%m-%d")
            files[cpath.name] = len(df)
    meta = {**meta, "files": files}
    (directory / "manifest.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")


def read_results(directory: Path) -> dict[str, pd.DataFrame]:
    """Read every table of a results directory back into DataFrames."""
    directory = Path(directory)
    return {p.stem: pd.read_parquet(p) for p in sorted(directory.glob("*.parquet"))}
