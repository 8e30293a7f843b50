"""Locks that serialise the writers of one local lake, and the owner marks of their scratch.

A lock is ``fcntl.flock`` on a file under ``<lake>/_system/locks/``: the kernel drops it
when its holder exits, however it exits (``kill -9`` included), so a lock is never stale.
The file also says who holds it (run id, pid, since when) so a waiting run can say so.

Runs take the lake lock only for the short critical section (publishing, registering in the
catalog, the analytics summaries); the long Spark work (reading, checking, staging Parquet)
overlaps freely. On S3 there is no such lock: the deployed path is serialised by the Glue
job's ``MaxConcurrentRuns: 1`` (infra/glue.yaml) instead.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from etl.core.errors import EtlError

TIMEOUT_ENV = "ETL_LOCK_TIMEOUT"  # seconds a run waits for the lake lock (default below)
DEFAULT_TIMEOUT = 1800.0
POLL_SECONDS = 0.05


class LakeBusy(EtlError):
    """Another run held the lake lock for longer than this run would wait."""


def lock_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise LakeBusy(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def file_lock(
    path: str | os.PathLike,
    holder: str,
    timeout: float | None = None,
    on_wait: Callable[[str], None] = _say,
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; wait at most ``timeout`` seconds for it.

    ``on_wait`` hears one line, once, if another process holds it. Not re-entrant: a
    process that takes the same file twice waits for itself (flock locks belong to open
    files, not processes), so nested sections use different files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    timeout = lock_timeout() if timeout is None else timeout
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(handle, path, holder, timeout, on_wait)
        record = {"holder": holder, "pid": os.getpid(), "since": datetime.now(UTC).isoformat()}
        os.ftruncate(handle, 0)
        os.pwrite(handle, (json.dumps(record) + "\n").encode(), 0)
        step_hook("locked", path.stem)
        yield
    finally:
        os.close(handle)  # closing the only descriptor releases the lock


def _acquire(handle: int, path: Path, holder: str, timeout: float, on_wait) -> None:
    deadline = time.monotonic() + timeout
    announced = False
    pause = threading.Event()
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        owner = describe_holder(path)
        if time.monotonic() >= deadline:
            raise LakeBusy(
                f"gave up after {timeout:g} s waiting for {path.name} held by {owner}; "
                f"retry later or raise {TIMEOUT_ENV}"
            )
        if not announced:
            on_wait(f"waiting for {path.name}: held by {owner}")
            step_hook("waiting", path.stem)
            announced = True
        pause.wait(POLL_SECONDS)


def describe_holder(path: Path) -> str:
    """Who holds the lock, from what its holder wrote (best effort: it may be mid-write)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        record = {}
    if not record:
        return "another run"
    return f"run {record.get('holder')} (pid {record.get('pid')}, since {record.get('since')})"


def lake_lock_path(system: str, name: str = "lake") -> Path:
    return Path(system) / "locks" / f"{name}.lock"


def lake_lock(system: str, holder: str, on_wait: Callable[[str], None] = _say):
    """The lock every publisher into a local lake holds (no-op for a deployed lake, whose
    ``system`` is empty or on S3: there the Glue job's MaxConcurrentRuns serialises runs)."""
    if not system or system.startswith("s3://"):
        return nullcontext()
    return file_lock(lake_lock_path(system), holder, on_wait=on_wait)


# --- owners of scratch folders ------------------------------------------------------------
def mark_owner(marker: str | os.PathLike) -> None:
    """Write to ``marker`` which process owns what it marks (pid and that process's start
    time, so a later process that reuses the pid is not taken for the owner)."""
    marker = Path(marker)
    marker.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": os.getpid(), "started": process_start(os.getpid())}
    # Written aside and renamed: a reader sees the whole mark or none, never an empty file.
    written = marker.with_name(f".{marker.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    written.write_text(json.dumps(record) + "\n", encoding="utf-8")
    os.replace(written, marker)


def read_owner(marker: str | os.PathLike) -> dict | None:
    """The owner ``mark_owner`` wrote to ``marker``; None when it cannot be read (not there,
    or not a mark)."""
    try:
        record = json.loads(Path(marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def owner_gone(marker: str | os.PathLike) -> bool:
    """Whether ``marker`` names a process that no longer runs; False when it cannot be read:
    only a known owner's absence proves what it marks abandoned."""
    owner = read_owner(marker)
    return owner is not None and not pid_alive(owner.get("pid"), owner.get("started"))


def pid_alive(pid: int | None, started: str | None = None) -> bool:
    """Whether ``pid`` runs and (when known) is the same process that started at ``started``,
    not a later one that reused the number. A process that has exited but is not yet reaped
    (a zombie) does not run."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    if fields is None:  # no /proc: the signal answered
        return True
    return fields[0] != "Z" and (started is None or fields[19] == started)


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), else ``None``."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from its state on (field 3), or None without it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after its ")" are plain.
    return stat.rsplit(")", 1)[-1].split()


# --- test hooks -----------------------------------------------------------------------------
# Tests stop a run at a named step: ``<event>`` or ``<event>:<detail>``, optionally ``#<n>``
# for its n-th occurrence. ETL_TEST_KILL_AT=<step> SIGKILLs the process there;
# ETL_TEST_PAUSE_AT=<step>=<path> writes "<step> <pid>" to the FIFO <path>.out and waits for
# a line on <path>.in. Neither has any effect unless set.
KILL_AT_ENV = "ETL_TEST_KILL_AT"
PAUSE_AT_ENV = "ETL_TEST_PAUSE_AT"
_seen: dict[str, int] = {}


def step_hook(event: str, detail: str = "") -> None:
    kill = os.environ.get(KILL_AT_ENV, "")
    target, _, channel = os.environ.get(PAUSE_AT_ENV, "").partition("=")
    if not kill and not channel:
        return
    step = f"{event}:{detail}" if detail else event
    names = {event, step}
    for name in list(names):
        _seen[name] = _seen.get(name, 0) + 1
        names.add(f"{name}#{_seen[name]}")
    if kill in names:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    if channel and target in names:
        with open(f"{channel}.out", "w", encoding="utf-8") as out:
            out.write(f"{step} {os.getpid()}\n")
        with open(f"{channel}.in", encoding="utf-8") as back:
            back.readline()
