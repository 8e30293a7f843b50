"""The local Spark driver JVM's options: garbage collector, JIT tiers, class-data archive.

Most of a cold local run's time is the JVM warming up, not Spark working: loading and
verifying some 15,000 classes, and compiling the code that runs hot. So:

* the throughput collector (``-XX:+UseParallelGC``): Spark's batch work wants throughput,
  and G1's concurrent threads compete for a laptop's two cores;
* for a small input, only the quick first JIT tier (``-XX:TieredStopAtLevel=1``): a run of
  a few thousand rows is over before the optimising compiler pays back, while one of
  millions of rows needs it (``SMALL_INPUT_BYTES``; docs/performance-history.md);
* for a big input, a smaller inlining budget for the optimising compiler
  (``-XX:InlineSmallCode=1000``, default 2500 bytes: inline an already compiled method only
  when its code is smaller than that). On two cores the compiler competes with Spark's
  tasks, and a cold 2 M-row job spends some 20 of its ~48 CPU-seconds compiling; with the
  smaller budget it compiled for 16.4 s and took 26.2-27.4 s against 28.2-30.3 s (JVM CPU
  43.9-45.4 against 46.3-51.3 s; one process, interleaved);
* a dynamic class-data-sharing archive (JDK AppCDS): the first local JVM writes the classes
  it loaded into ``<cache>/spark-<key>.jsa`` when it exits, and later JVMs map that file
  instead of loading and verifying those classes again, the way Python keeps compiled
  modules in ``__pycache__``. The key covers the Java runtime, PySpark's version and its
  jars; a JVM that cannot use an archive runs without it. ``ETL_JVM_CACHE`` moves the
  cache folder (default ``~/.cache/etl-workbench``); ``ETL_JVM_CACHE=off`` turns it off.
  An archive is some 150 MB and each checkout (each ``.venv``) has its own, so archives
  not used for ``UNUSED_DAYS`` (a checkout removed, PySpark upgraded) are deleted.
  A JVM told to hook class loading (``hooks_class_loading``: Java Flight Recorder or an
  agent, in ``JAVA_TOOL_OPTIONS`` and the like) runs without the archive: OpenJDK 17.0.15
  crashes (SIGSEGV in ``KlassFactory::check_shared_class_file_load_hook``) as such a JVM
  loads its first class from a dynamic archive.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from etl.storage.locks import pid_alive

SMALL_INPUT_BYTES = 32 << 20
SMALL_INLINING_BUDGET = "-XX:InlineSmallCode=1000"
QUIET_CDS = "-Xlog:cds*=off"  # an unusable archive is not an error, just slower
STALE_SECONDS = 24 * 3600
# Every JVM reads its options from these too (the launcher reads JDK_JAVA_OPTIONS).
OPTION_VARIABLES = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")
CLASS_LOAD_HOOKS = (
    "-XX:StartFlightRecording",
    "-XX:+FlightRecorder",
    "-javaagent:",
    "-agentlib:",
    "-agentpath:",
)
UNUSED_DAYS = 30


def java_options(input_bytes: int | None = None) -> list[str]:
    """Options for a local driver JVM about to process ``input_bytes`` (None: unknown)."""
    options = ["-XX:+UseParallelGC"]
    if input_bytes is not None and input_bytes < SMALL_INPUT_BYTES:
        options.append("-XX:TieredStopAtLevel=1")
    else:
        options.append(SMALL_INLINING_BUDGET)
    return options + class_archive_options()


def class_archive_options() -> list[str]:
    """Map the class archive if there is one; else have this JVM write it on exit."""
    archive = archive_path()
    if archive is None or hooks_class_loading():
        return []
    adopt_written_archives(archive)
    remove_unused_archives(archive)
    if archive.is_file():
        os.utime(archive)  # its modification time says when it was last used
        return [f"-XX:SharedArchiveFile={archive}", QUIET_CDS]
    writing = archive.with_name(f"{archive.stem}.{os.getpid()}-{time.time_ns()}.writing")
    return [f"-XX:ArchiveClassesAtExit={writing}", QUIET_CDS]


def hooks_class_loading() -> bool:
    """True if the environment gives every JVM a profiler or agent that hooks class loading
    (``-XX:StartFlightRecording``, ``-javaagent:``, ...), which a dynamic archive crashes."""
    given = " ".join(os.environ.get(name, "") for name in OPTION_VARIABLES).split()
    return any(option.startswith(CLASS_LOAD_HOOKS) for option in given)


def archive_path() -> Path | None:
    """Where the archive for this Java runtime and PySpark lives; None when turned off."""
    setting = os.environ.get("ETL_JVM_CACHE", "")
    if setting.lower() == "off":
        return None
    java = _java()
    if java is None:
        return None
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    names = sorted(p.name for p in jars.glob("*.jar")) if jars.is_dir() else []
    stat = java.stat()
    identity = "\n".join([str(java), str(stat.st_size), str(stat.st_mtime_ns), str(jars), *names])
    key = hashlib.sha256(f"{pyspark.__version__}\n{identity}".encode()).hexdigest()[:16]
    folder = Path(setting) if setting else Path.home() / ".cache" / "etl-workbench"
    return folder / f"spark-{key}.jsa"


def writes_archive(options: str) -> bool:
    """True if a JVM started with ``options`` writes the class archive as it exits."""
    return any(o.startswith("-XX:ArchiveClassesAtExit=") for o in options.split())


def ends_by_itself(options: str) -> bool:
    """True if a JVM started with ``options`` must be left to exit, not killed: it writes the
    class archive as it exits, or a recording or agent in it (``hooks_class_loading``) does."""
    return writes_archive(options) or hooks_class_loading()


def record_writer(options: str, jvm_pid: int) -> None:
    """Note which JVM writes the archive named in ``options`` (it writes when it exits)."""
    for option in options.split():
        if option.startswith("-XX:ArchiveClassesAtExit="):
            Path(f"{option.split('=', 1)[1]}.pid").write_text(str(jvm_pid), encoding="utf-8")


def adopt_written_archives(archive: Path) -> None:
    """Make a finished archive the archive, and clear up after writers that are gone.

    A JVM writes its archive while exiting, after the Python process that started it is
    gone, so a later process looks: a ``.writing`` file whose JVM no longer runs is done.
    """
    archive.parent.mkdir(parents=True, exist_ok=True)
    for pid_file in sorted(archive.parent.glob(f"{archive.stem}.*.writing.pid")):
        written = pid_file.with_suffix("")
        try:
            writer = int(pid_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if pid_alive(writer):
            continue
        if written.is_file() and written.stat().st_size > 0 and not archive.exists():
            os.replace(written, archive)
        written.unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)
    # A writer that never recorded its JVM (its process failed first) leaves only litter.
    for written in archive.parent.glob(f"{archive.stem}.*.writing"):
        if time.time() - written.stat().st_mtime > STALE_SECONDS:
            written.unlink(missing_ok=True)


def remove_unused_archives(current: Path) -> list[Path]:
    """Delete the other archives of the cache folder not used for ``UNUSED_DAYS``."""
    cutoff = time.time() - UNUSED_DAYS * 86400
    removed = []
    for other in current.parent.glob("spark-*.jsa"):
        if other != current and other.stat().st_mtime < cutoff:
            other.unlink(missing_ok=True)
            removed.append(other)
    return removed


def _java() -> Path | None:
    """The java binary Spark's launcher will run (``$JAVA_HOME/bin/java``, else PATH's)."""
    home = os.environ.get("JAVA_HOME")
    found = os.path.join(home, "bin", "java") if home else shutil.which("java")
    return Path(found).resolve() if found and os.path.exists(found) else None
