"""Writing results: one output writer for every command, plus Parquet tables and a manifest.

Every command that writes goes through :class:`Output`. It

* checks the destination before any simulation runs: a path that names no folder (``.``, ``..``,
  ``''``, ``/``), a symbolic link, a device, a FIFO or any other non-regular file, and a non-empty
  folder that salessim did not write (its own folders carry a ``manifest.json``), and one of its
  own folders that holds anything added since (the marker lists what salessim wrote there) are
  refused with a message naming the path;
* holds an exclusive lock (``.NAME.lock`` beside the destination) for the whole run, so a second
  run on the same destination stops at once, before simulating, naming the lock and the run that
  holds it;
* builds the new result in a sibling ``.NAME.partial-*`` folder and swaps it into place with two
  renames (``NAME`` → ``.NAME.old``, partial → ``NAME``, then ``.NAME.old`` is removed). The names
  are the journal: a run that starts on ``NAME`` and finds ``.NAME.old`` without ``NAME`` restores
  it (the previous run died between the two renames), and removes ``.NAME.old`` beside a
  complete ``NAME`` and any ``.NAME.partial-*`` left by a killed run.

An interrupted or failed run therefore leaves the last good result untouched, never a half-written
one that looks complete, and never anything that was not salessim's own.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import platform
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "Output",
    "OutputError",
    "atomic_dir",
    "atomic_write_text",
    "check_out_dir",
    "manifest",
    "read_results",
    "write_tables",
]

#: Files that mark a folder as written by salessim (each a JSON object with ``salessim_version``):
#: results carry ``manifest.json``, report folders ``run.json``.
MARKERS = ("manifest.json", "run.json")

#: Lock files held by this process (a second lock on the same file from this process must fail
#: too: POSIX record locks are per process).
_HELD: set[str] = set()


class OutputError(OSError):
    """The output location cannot be written (names the path and why)."""


def _kind(mode: int) -> str:
    """A file type in words, for messages."""
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISREG, "a regular file"),
    ):
        if test(mode):
            return word
    return "a special file"


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def _is_ours(folder: Path) -> bool:
    """Whether ``folder`` carries a salessim marker (a JSON object with ``salessim_version``)."""
    return _marker(folder) is not None


def _marker(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """The first salessim marker in ``folder`` and its JSON object, or None."""
    for name in MARKERS:
        p = folder / name
        try:
            if not stat.S_ISREG(os.lstat(p).st_mode):
                continue
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "salessim_version" in doc:
            return p, doc
    return None


def _stamp_contents(folder: Path) -> None:
    """Record in the folder's marker the names salessim wrote there (``contents``)."""
    found = _marker(folder)
    if found is None:
        return
    path, doc = found
    doc["contents"] = sorted(os.listdir(folder))
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")


def _added(folder: Path) -> list[str]:
    """Names in salessim's own ``folder`` that its marker does not list (added since)."""
    found = _marker(folder)
    listed = found[1].get("contents") if found is not None else None
    if not isinstance(listed, list):  # written before salessim recorded its contents
        return []
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(set(names) - {str(n) for n in listed})


def _check_parent(path: Path, flag: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable directory."""
    probe = Path(os.path.abspath(path)).parent
    while _lstat(probe) is None and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{flag} {path}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{flag} {path}: {probe} is not writable")


def check_target(path: Path, kind: Literal["dir", "file"] = "dir", flag: str = "--out") -> None:
    """Refuse a destination salessim must not replace, before any work is done.

    Args:
        path: the destination (a results folder, or a file for ``kind="file"``).
        kind: what will be written there.
        flag: the option that named it, for messages.

    Raises:
        OutputError: the path names no folder or file, is a link or a special file, is a
            non-empty folder salessim did not write, or cannot be written.
    """
    path = Path(path)
    shown = str(path) if str(path) not in ("", ".") else repr(str(path))
    absolute = Path(os.path.abspath(path))
    what = "folder" if kind == "dir" else "file"
    if path.name in ("", ".", "..") or absolute == absolute.parent:
        raise OutputError(
            f"{flag} {shown}: names the current folder, a parent or the root, not a "
            f"new {what}; give a {what} name, e.g. {flag} "
            f"{'results' if kind == 'dir' else 'calibrated.yaml'}"
        )
    st = _lstat(path)
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise OutputError(
            f"{flag} {path}: is a symbolic link (to {os.readlink(path)}); salessim "
            f"neither writes through nor replaces links: give the real path"
        )
    if kind == "dir":
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise OutputError(
                f"{flag} {path}: exists and is {_kind(st.st_mode)}, not a directory; give a new folder name"
            )
        cwd = Path.cwd().resolve()
        if st is not None and cwd.is_relative_to(path.resolve()):
            raise OutputError(f"{flag} {path}: contains the current folder; give another folder")
        if st is not None and not _is_ours(path):
            try:
                empty = not any(os.scandir(path))
            except OSError as e:
                raise OutputError(f"{flag} {path}: cannot be read ({e.strerror})") from None
            if not empty:
                raise OutputError(
                    f"{flag} {path}: is a folder salessim did not write (no manifest.json) and is "
                    f"not empty; salessim replaces only its own result folders: give a new or "
                    f"empty folder"
                )
        added = _added(path) if st is not None else []
        if added:
            shown_added = ", ".join(added[:5]) + (f" and {len(added) - 5:,} more" if len(added) > 5 else "")
            raise OutputError(
                f"{flag} {path}: holds {shown_added}, which salessim did not write there; it "
                f"replaces its result folders as a whole: move them away or give another folder"
            )
    else:
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{flag} {path}: is a directory; give a file name")
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise OutputError(
                f"{flag} {path}: is {_kind(st.st_mode)}, not a regular file; "
                f"salessim replaces only regular files: give a file name"
            )
    _check_parent(path, flag)


def check_out_dir(out: Path) -> None:
    """Fail early if ``out`` cannot be a directory that salessim writes *into* (e.g. reports)."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory")
    _check_parent(out, "--out")


def _fsync_tree(folder: Path) -> None:
    """Flush every file below ``folder`` and the folder itself to disk."""
    for dirpath, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _rmtree(path: Path) -> None:
    """Remove a folder or file (never following a link)."""
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


class Output:
    """One destination of a command: checked, locked, recovered, and replaced atomically.

    Use it around the whole run, so the destination is checked and locked before any simulation::

        with Output(path) as out:
            result = simulate(...)
            with out.staging() as tmp:
                write_tables(tmp, ...)

    A second run on the same destination fails at once with :class:`OutputError` (exit 2 on the
    command line) naming the lock file and the run that holds it. The lock is a POSIX record lock
    (``fcntl.lockf``) on ``.NAME.lock`` beside the destination: unlike ``flock`` it is not
    inherited by forked worker processes, so it is released as soon as this process ends, however
    it ends.

    Args:
        path: the destination folder (or file, with ``kind="file"``).
        kind: ``"dir"`` for a results folder, ``"file"`` for a single file.
        flag: the command-line option that named the destination, for messages.
    """

    def __init__(self, path: Path | str, kind: Literal["dir", "file"] = "dir", flag: str = "--out") -> None:
        self.path = Path(path)
        self.kind = kind
        self.flag = flag
        self.parent = Path(os.path.abspath(self.path)).parent
        self.name = self.path.name
        self.old = self.parent / f".{self.name}.old"
        self.lock_path = self.parent / f".{self.name}.lock"
        self._fd: int | None = None
        self._entered = False
        self._created: list[Path] = []

    # -- lock and recovery ----------------------------------------------------------------
    def __enter__(self) -> Output:
        check_target(self.path, "file" if self.kind == "file" else "dir", self.flag)
        self._make_parents()
        try:
            self._lock()
            self.recover()
            check_target(self.path, self.kind, self.flag)  # the restored result, if any
            if self.kind == "dir" and _lstat(self.old) is not None:
                raise OutputError(
                    f"{self.flag} {self.path}: {self.old} exists and is not a salessim "
                    "result; move it away (salessim keeps the previous result there "
                    "while swapping in a new one)"
                )
        except BaseException:
            self._release()
            raise
        self._entered = True
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release()

    def _make_parents(self) -> None:
        missing = []
        p = self.parent
        while _lstat(p) is None and p != p.parent:
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                continue
            except OSError as e:
                self._remove_created()
                raise OutputError(f"{self.flag} {self.path}: cannot create {d} ({e.strerror or e})") from None
            self._created.append(d)

    def _remove_created(self) -> None:
        for d in reversed(self._created):
            with contextlib.suppress(OSError):
                d.rmdir()
        self._created = []

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no POSIX locks on this platform: write unlocked
            return
        key = str(self.lock_path)
        if key in _HELD:
            raise OutputError(
                f"{self.flag} {self.path}: is already being written by this process (lock {self.lock_path})"
            )
        for _ in range(20):
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise OutputError(
                        f"{self.flag} {self.path}: the lock {self.lock_path} is a symbolic link; remove it"
                    ) from None
                raise OutputError(
                    f"{self.flag} {self.path}: cannot create the lock {self.lock_path} ({e.strerror or e})"
                ) from None
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EACCES, errno.EAGAIN):
                    os.close(fd)
                    raise OutputError(
                        f"{self.flag} {self.path}: cannot lock {self.lock_path} ({e.strerror or e})"
                    ) from None
                holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another run"
                os.close(fd)
                raise OutputError(
                    f"{self.flag} {self.path}: another salessim run is writing it ({holder}; lock "
                    f"{self.lock_path}); wait for it to finish or choose another "
                    f"{'folder' if self.kind == 'dir' else 'file'}"
                ) from None
            # the file may have been removed by the run that held it just before we locked it
            try:
                same = os.stat(self.lock_path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                argv = " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:4]]) if sys.argv else ""
                os.write(fd, f"pid {os.getpid()}: {argv}".encode())
                self._fd = fd
                _HELD.add(key)
                return
            os.close(fd)
        raise OutputError(f"{self.flag} {self.path}: cannot settle the lock {self.lock_path}")

    def _release(self) -> None:
        self._entered = False
        if self._fd is not None:
            import fcntl

            with contextlib.suppress(OSError):
                os.unlink(self.lock_path)
            with contextlib.suppress(OSError):
                fcntl.lockf(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
            _HELD.discard(str(self.lock_path))
        self._remove_created()

    def recover(self) -> None:
        """Repair what a killed run on this destination left (called with the lock held).

        ``.NAME.old`` without ``NAME``: the run died between the two renames; the old result is
        put back. ``.NAME.old`` beside ``NAME``: it died after them; the old one is removed.
        ``.NAME.partial-*``: unfinished results, removed.
        """
        try:
            siblings = list(os.scandir(self.parent))
        except OSError:
            return
        # only salessim's own result folders count (``.NAME.old-PID``: older versions' name)
        olds = sorted(
            (
                e
                for e in siblings
                if self.kind == "dir"
                and (e.name == self.old.name or e.name.startswith(f".{self.name}.old-"))
                and e.is_dir(follow_symlinks=False)
                and _is_ours(Path(e.path))
            ),
            key=lambda e: (e.name != self.old.name, -e.stat(follow_symlinks=False).st_mtime),
        )
        for e in olds:
            if _lstat(self.path) is None:
                try:
                    os.rename(e.path, self.path)
                except OSError as err:
                    raise OutputError(
                        f"{self.flag} {self.path}: cannot restore the last good result "
                        f"from {e.path} ({err.strerror or err})"
                    ) from None
                print(
                    f"salessim: restored the last good {self.path} (a previous run stopped "
                    "while replacing it)",
                    file=sys.stderr,
                )
            else:
                _rmtree(Path(e.path))
        for e in siblings:
            if e.name.startswith(f".{self.name}.partial-"):
                _rmtree(Path(e.path))

    # -- writing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """Yield an empty folder that replaces the destination if the block completes."""
        if not self._entered:
            raise RuntimeError("Output.staging() outside `with Output(...)`")
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{self.name}.partial-", dir=self.parent))
        except OSError as e:
            raise OutputError(f"{self.flag} {self.path}: cannot write there ({e.strerror or e})") from None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        try:
            yield tmp
            if not any((tmp / m).exists() for m in MARKERS):
                (tmp / "manifest.json").write_text(json.dumps(manifest(), indent=2) + "\n")
            _stamp_contents(tmp)
            _fsync_tree(tmp)
            self.commit(tmp)
        except BaseException:
            _rmtree(tmp)
            raise

    def commit(self, tmp: Path) -> None:
        """Swap ``tmp`` into place: retire the current result, install the new, drop the old."""
        check_target(self.path, self.kind, self.flag)  # nothing was swapped in meanwhile
        if _lstat(self.path) is not None:
            self.retire()
        self.install(tmp)

    def retire(self) -> None:
        """First step of the swap: the current result becomes ``.NAME.old``."""
        _rmtree(self.old)
        os.rename(self.path, self.old)

    def install(self, tmp: Path) -> None:
        """Second step: the new result takes the name; the old one is removed."""
        os.rename(tmp, self.path)
        _fsync_dir(self.parent)
        _rmtree(self.old)
        self._created = []

    def write_text(self, text: str | bytes) -> None:
        """Replace the destination file with ``text`` or bytes (written beside it, then renamed)."""
        if not self._entered:
            raise RuntimeError("Output.write_text() outside `with Output(...)`")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.name}.partial-", dir=self.parent)
        except OSError as e:
            raise OutputError(f"{self.flag} {self.path}: cannot write there ({e.strerror or e})") from None
        _fill_and_replace(
            fd,
            tmp,
            text,
            self.path,
            sync=True,
            before_replace=lambda: check_target(self.path, "file", self.flag),
        )
        self._created = []


@contextlib.contextmanager
def atomic_dir(out: Path, flag: str = "--out") -> Iterator[Path]:
    """Yield a temporary folder that replaces ``out`` only if the block completes.

    Shorthand for :class:`Output` when nothing long runs before the writing starts.
    """
    with Output(out, "dir", flag) as o, o.staging() as tmp:
        yield tmp


def atomic_write_text(path: Path, text: str | bytes) -> None:
    """Write a text file (or, given bytes, a binary one) via a temporary file and an atomic rename.

    Never replaces a symbolic link, a device, a FIFO or a folder: those raise
    :class:`OutputError`.
    """
    path = Path(path)
    st = _lstat(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(
            f"{path}: is {_kind(st.st_mode)}, not a regular file; salessim replaces only regular files"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    _fill_and_replace(fd, tmp, text, path)


def _fill_and_replace(
    fd: int,
    tmp: str,
    text: str | bytes,
    path: Path,
    sync: bool = False,
    before_replace: Callable[[], None] | None = None,
) -> None:
    """Write ``text`` (or bytes) into the temporary file ``fd`` and rename it over ``path``.

    The file gets the mode the umask allows; it is removed if anything fails.
    """
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        fh: Any = (
            os.fdopen(fd, "wb")
            if isinstance(text, bytes)
            else os.fdopen(fd, "w", encoding="utf-8", newline="")
        )
        with fh:
            fh.write(text)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@functools.cache
def package_versions() -> dict[str, str]:
    """The installed version of every package salessim depends on (runtime and the Dask extra)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    out: dict[str, str] = {}
    try:
        requires = metadata.requires("salessim") or []
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        requires = []
    for line in requires:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": "dask"}):
            continue  # the dev and lab extras do not shape results
        for name in (req.name, *sorted(req.extras)):  # dask[distributed]: distributed too
            try:
                out[name.lower()] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
    return dict(sorted(out.items()))


def manifest(**fields: Any) -> dict[str, Any]:
    """Run metadata: what was run, with what, by which version (every dependency's)."""
    from salessim import __version__

    return {
        "salessim_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "packages": package_versions(),
        **fields,
    }


def write_tables(
    directory: Path, tables: dict[str, pd.DataFrame | None], meta: dict[str, Any], csv: tuple[str, ...] = ()
) -> None:
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
