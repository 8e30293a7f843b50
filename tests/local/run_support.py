"""Helpers for the report and lineage tests: a recording HTTP endpoint, the CLI in-process."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

RUN_DATE = "2026-11-26"


@dataclass
class RecordingServer:
    """An OpenLineage endpoint stand-in on 127.0.0.1: keeps every POST (path, JSON body)."""

    url: str
    posts: list[tuple[str, dict]] = field(default_factory=list)


@contextlib.contextmanager
def recording_server():
    posts: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            posts.append((self.path, json.loads(self.rfile.read(length))))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RecordingServer(f"http://127.0.0.1:{server.server_address[1]}", posts)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class CliRun:
    lake: Path
    code: int
    stdout: str
    stderr: str
    posts: list[tuple[str, dict]]

    @property
    def report(self) -> Path:
        """The report's path: ``etl run --report`` prints it as its last line."""
        return Path(self.stdout.strip().splitlines()[-1])


def run_cli(lake: Path, *argv: str, url: str | None = None) -> tuple[int, str, str]:
    from etl.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        if url:
            patch.setenv("OPENLINEAGE_URL", url)
        else:
            patch.delenv("OPENLINEAGE_URL", raising=False)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*argv, "--lake", str(lake)])
    return code, out.getvalue(), err.getvalue()
