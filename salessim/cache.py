"""The cache of finished simulation batches: keyed by what determines the numbers, checked on load.

A batch (one scenario, a run of replications) is stored under a key made of everything its numbers
depend on: the resolved scenario's content, the root seed, whether the deal log is kept, the
salessim version, a fingerprint of the package's source (every ``salessim/*.py`` file) and the
versions of Python, numpy, pandas, scipy, simpy and pyarrow. Change any of them and the rerun
computes afresh.

Layout: ``ROOT/KEY/batch-0_1_2/`` holds ``reps.parquet``, ``periods.parquet`` (and
``deals.parquet``) and ``batch.json``: the batch's key, its replications and a SHA-256 checksum of
every file. A batch is written to ``KEY/.partial-PID-*`` and renamed into place, so it exists whole
or not at all; when two runs store the same batch, the first rename wins and the other is dropped.
On load a batch whose key, replications or checksums do not match, or that cannot be read, is
discarded with a note on stderr and recomputed: it is never served.

The root is ``$SALESSIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/salessim``, else
``~/.cache/salessim``. Its size is capped (``$SALESSIM_CACHE_MAX_BYTES``, default 2 GiB): after
a store that takes it past the cap, the least recently used batches are removed. A cache that
cannot be written does not fail a run: it warns once and the run goes on without storing.
``salessim cache info`` and ``salessim cache clear [--older-than DAYS]`` inspect and empty it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from salessim.scenario import Scenario

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Cache",
    "CacheError",
    "RunCache",
    "cache_root",
    "code_fingerprint",
    "dependency_versions",
    "run_key",
]

log = logging.getLogger("salessim.cache")

#: The default size cap of the cache.
DEFAULT_MAX_BYTES = 2 * 1024**3
#: Format of ``batch.json``; a batch of another format is recomputed.
FORMAT = 1
#: Unfinished batches of a process that is gone, or older than this, are crash leftovers.
STALE_PARTIAL_SECONDS = 6 * 3600

_KEY = re.compile(r"[0-9a-f]{20}")
_BATCH = re.compile(r"batch-\d+(?:_\d+)*")
_TABLES = ("reps", "periods", "deals")
BatchResult = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]

_warned: set[str] = set()  # cache roots already warned about in this process


def _has_batch_json(batch: Path) -> bool:
    """Whether ``batch`` carries salessim's ``batch.json`` (without it, the folder is not ours)."""
    try:
        return stat.S_ISREG(os.lstat(batch / "batch.json").st_mode)
    except OSError:
        return False


class CacheError(ValueError):
    """A bad cache setting (e.g. ``SALESSIM_CACHE_MAX_BYTES``), named with its value."""


def cache_root() -> Path:
    """The cache directory: ``$SALESSIM_CACHE_DIR``, ``$XDG_CACHE_HOME/salessim`` or ``~/.cache/salessim``."""
    explicit = os.environ.get("SALESSIM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec: relative values are ignored
        return Path(xdg) / "salessim"
    return Path.home() / ".cache" / "salessim"


def max_bytes() -> int:
    """The size cap: ``$SALESSIM_CACHE_MAX_BYTES`` (bytes) or :data:`DEFAULT_MAX_BYTES`."""
    text = os.environ.get("SALESSIM_CACHE_MAX_BYTES", "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        value = int(text)
    except ValueError:
        raise CacheError(
            f"SALESSIM_CACHE_MAX_BYTES={text!r}: expected a whole number of bytes (e.g. 2000000000)"
        ) from None
    if value < 0:
        raise CacheError(f"SALESSIM_CACHE_MAX_BYTES={text!r}: must not be negative")
    return value


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of every Python file of the package, subpackages included (relative path and bytes).

    Computed once per process.
    """
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:20]


@functools.cache
def dependency_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that compute and store the numbers."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("numpy", "pandas", "scipy", "simpy", "pyarrow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[dist] = "absent"
    return out


def key_fields(
    sc: Scenario, seed: int, deals: bool, warmup: Scenario | None = None, culture_from: Scenario | None = None
) -> dict[str, Any]:
    """Everything a batch's numbers depend on besides its replication indices.

    ``warmup``: the policy the warm-up runs under (:func:`salessim.model.policy.warmup_policy`),
    None when the scenario's own policy runs from time 0. ``culture_from``: the scenario whose
    culture path the runs hold (None: their own culture).
    """
    from salessim import __version__

    out = {
        "scenario": sc.hash,
        "seed": int(seed),
        "deals": bool(deals),
        "version": __version__,
        "code": code_fingerprint(),
        "libraries": dependency_versions(),
    }
    if warmup is not None:
        out["warmup"] = warmup.hash
    if culture_from is not None:
        out["culture_from"] = culture_from.hash
    return out


def run_key(
    sc: Scenario, seed: int, deals: bool, warmup: Scenario | None = None, culture_from: Scenario | None = None
) -> str:
    """The cache key of a run under this code and libraries.

    Its scenario content, seed, deals setting, warm-up and the scenario whose culture path it
    holds.
    """
    blob = json.dumps(key_fields(sc, seed, deals, warmup, culture_from), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _batch_name(reps: tuple[int, ...]) -> str:
    return "batch-" + "_".join(str(r) for r in reps)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _stale_partial(path: Path, now: float) -> bool:
    """A ``.partial-PID-*`` folder of a process that is gone, or old."""
    m = re.match(r"\.partial-(\d+)-", path.name)
    try:
        age = now - path.lstat().st_mtime
    except OSError:
        return False
    return age > STALE_PARTIAL_SECONDS or (m is not None and not _pid_alive(int(m.group(1))))


@dataclass(frozen=True)
class Entry:
    """One stored batch: where, how big, last used (seconds since the epoch)."""

    path: Path
    bytes: int
    last_used: float


def _dir_bytes(path: Path) -> int:
    total = 0
    with contextlib.suppress(OSError), os.scandir(path) as it:
        for e in it:
            with contextlib.suppress(OSError):
                total += e.stat(follow_symlinks=False).st_size
    return total


class Cache:
    """The batch cache under one root.

    Args:
        root: the cache directory (default :func:`cache_root`).
        limit: the size cap in bytes (default :func:`max_bytes`).
    """

    def __init__(self, root: Path | None = None, limit: int | None = None) -> None:
        self.root = Path(root) if root is not None else cache_root()
        self.limit = max_bytes() if limit is None else int(limit)
        self.writable = True
        self._tally: int | None = None  # bytes under the eviction scope, as last counted

    # -- a run's view ----------------------------------------------------------------------
    def for_run(
        self,
        sc: Scenario,
        seed: int,
        deals: bool,
        warmup: Scenario | None = None,
        culture_from: Scenario | None = None,
    ) -> RunCache:
        """The batches of one scenario, seed, deals setting, warm-up policy and held culture."""
        return RunCache(
            self,
            key_fields(sc, seed, deals, warmup, culture_from),
            run_key(sc, seed, deals, warmup, culture_from),
            sc.name,
        )

    # -- problems --------------------------------------------------------------------------
    def disable(self, err: OSError) -> None:
        """Stop storing for this run; warn once per process and root."""
        self.writable = False
        where = str(self.root)
        if where not in _warned:
            _warned.add(where)
            log.warning(
                "salessim: warning: the cache %s cannot be written (%s); running without "
                "it (set SALESSIM_CACHE_DIR to a writable folder, or pass --no-cache)",
                self.root,
                err.strerror or err,
            )

    # -- size and eviction -----------------------------------------------------------------
    @property
    def scope(self) -> Path:
        """Where the cap applies: the whole default cache if this root lies inside it."""
        default = cache_root()
        with contextlib.suppress(OSError, ValueError):
            if self.root.resolve().is_relative_to(default.resolve()):
                return default
        return self.root

    def entries(self, root: Path | None = None) -> list[Entry]:
        """Every stored batch below ``root`` (default: this cache's root)."""
        return [Entry(p, _dir_bytes(p), self._last_used(p)) for p in self._batches(root or self.root)]

    def _walk(self, root: Path, depth: int = 0) -> Iterator[Path]:
        """Key folders below ``root`` (report caches nest one or two levels down)."""
        try:
            children = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            return
        for p in children:
            if _KEY.fullmatch(p.name):
                yield p
            elif depth < 3 and not p.name.startswith("."):
                yield from self._walk(p, depth + 1)

    def _batches(self, root: Path) -> Iterator[Path]:
        for key in self._walk(root):
            with contextlib.suppress(OSError):
                for p in key.iterdir():
                    if _BATCH.fullmatch(p.name) and p.is_dir() and not p.is_symlink() and _has_batch_json(p):
                        yield p

    def _partials(self, root: Path) -> Iterator[Path]:
        for key in self._walk(root):
            with contextlib.suppress(OSError):
                yield from (p for p in key.iterdir() if p.name.startswith(".partial-"))

    @staticmethod
    def _last_used(batch: Path) -> float:
        for p in (batch / "batch.json", batch):
            with contextlib.suppress(OSError):
                return p.lstat().st_mtime
        return 0.0

    def _screenings(self, older_than_days: float | None, now: float) -> list[Path]:
        """Stored sensitivity screenings (salessim.sensitivity), and their crash leftovers.

        Only folders of salessim's own making: ``sensitivity/KEY`` holding ``screening.json``, or
        a ``.partial-*`` folder beside them; never a symlink or anything else below the root.
        """
        folder = self.root / "sensitivity"
        if folder.is_symlink() or not folder.is_dir():
            return []
        found = []
        with contextlib.suppress(OSError):
            for p in folder.iterdir():
                if p.is_symlink() or not p.is_dir():
                    continue
                marker = p / "screening.json"
                if not (p.name.startswith(".partial-") or (marker.is_file() and not marker.is_symlink())):
                    continue
                used = (marker if marker.is_file() else p).lstat().st_mtime
                if older_than_days is None or used < now - older_than_days * 86400:
                    found.append(p)
        return found

    def _remove(self, paths: list[Path]) -> None:
        keys = set()
        for p in paths:
            shutil.rmtree(p, ignore_errors=True)
            keys.add(p.parent)
        for k in keys:  # empty key folders go too
            with contextlib.suppress(OSError):
                k.rmdir()

    def evict(self) -> tuple[int, int]:
        """Remove crash leftovers, then least recently used batches until the cache fits its cap.

        Returns:
            (batches removed, bytes freed).
        """
        scope = self.scope
        now = time.time()
        self._remove([p for p in self._partials(scope) if _stale_partial(p, now)])
        entries = sorted(self.entries(scope), key=lambda e: e.last_used)
        total = sum(e.bytes for e in entries)
        drop: list[Path] = []
        freed = 0
        for e in entries:
            if total - freed <= self.limit:
                break
            drop.append(e.path)
            freed += e.bytes
        self._remove(drop)
        self._tally = total - freed
        return len(drop), freed

    def note_stored(self, nbytes: int) -> None:
        """Count a stored batch; evict when the count passes the cap.

        The first store of a process counts the whole cache (and evicts if need be); later ones
        add to that count and scan again only when it passes the cap.
        """
        if self._tally is None:
            self.evict()
            return
        self._tally += nbytes
        if self._tally > self.limit:
            self.evict()

    # -- the `salessim cache` command ------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Location, number of runs and batches, size, cap, oldest and newest use."""
        entries = self.entries()
        uses = [e.last_used for e in entries]
        return {
            "location": str(self.root),
            "exists": self.root.is_dir(),
            "runs": len({e.path.parent for e in entries}),
            "batches": len(entries),
            "bytes": sum(e.bytes for e in entries),
            "max_bytes": self.limit,
            "leftovers": sum(1 for _ in self._partials(self.root)),
            "oldest_use": min(uses) if uses else None,
            "newest_use": max(uses) if uses else None,
        }

    def clear(self, older_than_days: float | None = None) -> tuple[int, int]:
        """Remove every batch (or those not used for ``older_than_days``) and crash leftovers.

        Only salessim's own batch folders are removed, never anything else below the root.

        Returns:
            (batches removed, bytes freed).
        """
        now = time.time()
        entries = self.entries()
        if older_than_days is not None:
            cutoff = now - float(older_than_days) * 86400
            entries = [e for e in entries if e.last_used < cutoff]
        partials = [p for p in self._partials(self.root) if older_than_days is None or _stale_partial(p, now)]
        # solved voluntary-hazard scales (salessim.model.hazard): small files of our own naming
        solved = [
            p
            for p in (self.root.glob("hazard-*.json") if self.root.is_dir() else ())
            if p.is_file()
            and not p.is_symlink()
            and (older_than_days is None or p.stat().st_mtime < now - older_than_days * 86400)
        ]
        for p in solved:
            with contextlib.suppress(OSError):
                p.unlink()
        self._remove([e.path for e in entries] + partials + self._screenings(older_than_days, now))
        self._tally = None
        return len(entries), sum(e.bytes for e in entries)


class RunCache:
    """The cached batches of one key (scenario content, seed, deals, code, libraries)."""

    def __init__(self, cache: Cache, fields: dict[str, Any], key: str, name: str) -> None:
        self.cache = cache
        self.fields = fields
        self.key = key
        self.name = name
        self.dir = cache.root / key

    def available(self) -> dict[tuple[int, ...], Path]:
        """Stored batches by their replications (not yet checked: :meth:`load` checks)."""
        out: dict[tuple[int, ...], Path] = {}
        try:
            children = list(self.dir.iterdir()) if self.dir.is_dir() else []
        except OSError:
            return out
        for p in children:
            if _BATCH.fullmatch(p.name):
                out[tuple(int(x) for x in p.name.removeprefix("batch-").split("_"))] = p
        return out

    def load(self, reps: tuple[int, ...], path: Path) -> BatchResult | None:
        """The batch's tables, or None (with a note, the batch removed) if it fails its checks."""
        try:
            return self._load(reps, path)
        except Exception as e:  # every way a stored batch can be bad: recompute, never serve
            if not _lexists(path):  # evicted or cleared by another run meanwhile: just recompute
                return None
            reason = f"{type(e).__name__}: {e}" if not isinstance(e, _Refused) else str(e)
            which = f"replications {reps[0]}–{reps[-1]}" if len(reps) > 1 else f"replication {reps[0]}"
            log.warning(
                "salessim: note: discarded cached batch %s (%s); recomputing %s",
                path,
                reason.splitlines()[0] if reason else "unreadable",
                which,
            )
            _discard(path)
            return None

    def _load(self, reps: tuple[int, ...], path: Path) -> BatchResult:
        if path.is_symlink() or not path.is_dir():
            raise _Refused("not a folder")
        if not (path / "batch.json").exists():
            raise _Refused("no batch.json: written by an older salessim or not by salessim")
        meta = json.loads((path / "batch.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise _Refused(
                f"batch.json of format {meta.get('format') if isinstance(meta, dict) else '?'}"
                f", expected {FORMAT}"
            )
        if meta.get("key") != self.key or meta.get("fields") != self.fields:
            raise _Refused(f"it belongs to key {meta.get('key')!r}, not {self.key!r}")
        if tuple(meta.get("replications", ())) != tuple(reps):
            raise _Refused(f"it holds replications {meta.get('replications')}, not {list(reps)}")
        files = meta.get("files")
        expected = {"reps.parquet", "periods.parquet"} | (
            {"deals.parquet"} if self.fields["deals"] else set()
        )
        if not isinstance(files, dict) or set(files) != expected:
            raise _Refused(
                f"it lists files {sorted(files) if isinstance(files, dict) else files}, "
                f"expected {sorted(expected)}"
            )
        tables: dict[str, pd.DataFrame] = {}
        for fname, digest in files.items():
            blob = (path / fname).read_bytes()
            if hashlib.sha256(blob).hexdigest() != digest:
                raise _Refused(f"{fname} does not match its checksum")
            df = pd.read_parquet(io.BytesIO(blob))
            if "replication" in df and len(df) and not set(df["replication"].unique()) <= set(reps):
                raise _Refused(f"{fname} holds other replications than {list(reps)}")
            tables[fname.removesuffix(".parquet")] = df
        if set(tables["periods"]["replication"].unique()) != set(reps):
            raise _Refused(f"periods.parquet does not hold replications {list(reps)}")
        with contextlib.suppress(OSError):  # last use, for eviction (a read-only cache is fine)
            os.utime(path / "batch.json")
        return tables["reps"], tables["periods"], tables.get("deals")

    def store(self, reps: tuple[int, ...], result: BatchResult) -> None:
        """Keep a finished batch (no-op once the cache proved unwritable)."""
        if not self.cache.writable:
            return
        for attempt in (1, 2):
            try:
                nbytes = self._store(reps, result)
            except FileNotFoundError as e:  # the key folder was evicted or cleared meanwhile
                if attempt == 2:
                    self.cache.disable(e)
                continue
            except OSError as e:
                self.cache.disable(e)
                return
            if nbytes:
                with contextlib.suppress(OSError):
                    self.cache.note_stored(nbytes)
            return

    def _store(self, reps: tuple[int, ...], result: BatchResult) -> int:
        final = self.dir / _batch_name(reps)
        if final.exists():
            return 0
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.cache.root == cache_root():
            _tag(self.cache.root)
        tmp = Path(tempfile.mkdtemp(prefix=f".partial-{os.getpid()}-", dir=self.dir))
        try:
            files = {}
            for name, df in zip(_TABLES, result, strict=True):
                if df is None:
                    continue
                buf = io.BytesIO()
                df.to_parquet(buf, index=False)
                blob = buf.getvalue()
                (tmp / f"{name}.parquet").write_bytes(blob)
                files[f"{name}.parquet"] = hashlib.sha256(blob).hexdigest()
            meta = {
                "format": FORMAT,
                "key": self.key,
                "fields": self.fields,
                "scenario_name": self.name,
                "replications": list(reps),
                "files": files,
                "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            (tmp / "batch.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
            nbytes = _dir_bytes(tmp)
            try:
                tmp.rename(final)
            except OSError:
                if final.exists():  # another run stored the same batch first: keep theirs
                    return 0
                raise
            return nbytes
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


def _discard(path: Path) -> None:
    """Remove a bad batch (a folder, or a link or file where a folder should be)."""
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(OSError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


class _Refused(Exception):
    """A stored batch that fails a check (the message says which)."""


def _tag(root: Path) -> None:
    """Mark the root as a cache directory (backup tools skip it: bford.info/cachedir)."""
    tag = root / "CACHEDIR.TAG"
    if not tag.exists():
        with contextlib.suppress(OSError):
            tag.write_text(
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by salessim.\n"
            )
