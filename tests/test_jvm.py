"""The local driver JVM's options: JIT tiers by input size, and the class-data archive."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from etl.jobs import jvm


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ETL_JVM_CACHE", str(tmp_path))
    return tmp_path


def option(options: list[str], prefix: str) -> str | None:
    return next((o for o in options if o.startswith(prefix)), None)


def test_a_small_input_gets_only_the_quick_jit_tier(cache):
    options = jvm.java_options(jvm.SMALL_INPUT_BYTES - 1)
    assert "-XX:TieredStopAtLevel=1" in options
    assert jvm.SMALL_INLINING_BUDGET not in options  # no optimising compiler to budget


@pytest.mark.parametrize("size", [jvm.SMALL_INPUT_BYTES, 450 << 20, None])
def test_a_big_or_unknown_input_keeps_the_optimising_compiler(cache, size):
    options = jvm.java_options(size)
    assert "-XX:TieredStopAtLevel=1" not in options
    assert jvm.SMALL_INLINING_BUDGET in options
    assert "-XX:+UseParallelGC" in options


def finished_process_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_first_jvm_writes_the_archive_on_exit_and_later_ones_map_it(cache):
    first = jvm.class_archive_options()
    writing = option(first, "-XX:ArchiveClassesAtExit=").split("=", 1)[1]
    assert Path(writing).parent == cache
    jvm.record_writer(" ".join(first), finished_process_pid())
    Path(writing).write_bytes(b"classes")  # what the JVM leaves when it has exited

    later = jvm.class_archive_options()
    archive = jvm.archive_path()
    assert option(later, "-XX:SharedArchiveFile=") == f"-XX:SharedArchiveFile={archive}"
    assert archive.read_bytes() == b"classes"
    assert sorted(p.name for p in cache.iterdir()) == [archive.name]
    # Only the writer must exit normally (etl.jobs.session.end_own_jvm leaves it alone).
    assert jvm.writes_archive(" ".join(first)) and not jvm.writes_archive(" ".join(later))
    assert jvm.ends_by_itself(" ".join(first)) and not jvm.ends_by_itself(" ".join(later))


def test_an_archive_whose_jvm_still_runs_is_left_to_it(cache):
    first = jvm.class_archive_options()
    writing = Path(option(first, "-XX:ArchiveClassesAtExit=").split("=", 1)[1])
    jvm.record_writer(" ".join(first), jvm.os.getpid())  # a running process
    writing.write_bytes(b"half")
    assert option(jvm.class_archive_options(), "-XX:ArchiveClassesAtExit=")
    assert writing.exists() and not jvm.archive_path().exists()


def test_a_jvm_that_died_without_writing_leaves_no_archive(cache):
    first = jvm.class_archive_options()
    jvm.record_writer(" ".join(first), finished_process_pid())
    assert option(jvm.class_archive_options(), "-XX:ArchiveClassesAtExit=")
    assert not list(cache.glob("*.pid"))  # the dead writer's note is cleared
    assert not jvm.archive_path().exists()


def test_the_archive_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("ETL_JVM_CACHE", "off")
    assert jvm.class_archive_options() == []
    assert not any("Archive" in o for o in jvm.java_options(1000))


def test_archives_unused_for_a_month_are_deleted_and_the_current_one_is_kept(cache):
    import os
    import time

    jvm.class_archive_options()
    current = jvm.archive_path()
    current.write_bytes(b"classes")
    old, recent = cache / "spark-0000000000000000.jsa", cache / "spark-1111111111111111.jsa"
    month_ago = time.time() - (jvm.UNUSED_DAYS + 1) * 86400
    for path in (old, recent):
        path.write_bytes(b"classes")
    for path in (old, current):
        os.utime(path, (month_ago, month_ago))

    options = jvm.class_archive_options()
    assert option(options, "-XX:SharedArchiveFile=") == f"-XX:SharedArchiveFile={current}"
    assert not old.exists()
    assert recent.exists()
    assert current.stat().st_mtime > month_ago  # used now: kept another month


@pytest.mark.parametrize(
    "variable, value",
    [
        ("JAVA_TOOL_OPTIONS", "-XX:StartFlightRecording=filename=job.jfr"),
        ("JDK_JAVA_OPTIONS", "-Xmx4g -javaagent:/opt/agent.jar"),
        ("_JAVA_OPTIONS", "-agentpath:/opt/async-profiler/libasyncProfiler.so=start"),
    ],
)
def test_a_jvm_given_a_class_loading_hook_runs_without_the_archive(
    cache, monkeypatch, variable, value
):
    monkeypatch.setenv(variable, value)
    assert jvm.hooks_class_loading()
    assert jvm.class_archive_options() == []  # no archive yet: it does not write one
    jvm.archive_path().write_bytes(b"classes")
    assert jvm.class_archive_options() == []  # an archive: it does not map it
    assert not any("Archive" in o for o in jvm.java_options(450 << 20))
    assert jvm.ends_by_itself("-XX:+UseParallelGC")  # killed, it would write no recording
    monkeypatch.delenv(variable)
    assert option(jvm.class_archive_options(), "-XX:SharedArchiveFile=")
    assert not jvm.ends_by_itself("-XX:+UseParallelGC")


def test_other_options_in_the_environment_keep_the_archive(cache, monkeypatch):
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", "-Xmx4g -Dfile.encoding=UTF-8")
    assert not jvm.hooks_class_loading()
    assert option(jvm.class_archive_options(), "-XX:ArchiveClassesAtExit=")
