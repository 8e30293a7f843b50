"""The local S3 stand-in's ETag: the MD5 of the object's bytes, computed once per file
state, in the background while a run sets up the workflow."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from etl.local.services import etag_in_background, etag_of


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_etag_is_the_md5_of_the_bytes(tmp_path):
    path = tmp_path / "orders.json"
    path.write_bytes(b'{"id": 1}\n' * 100_000)
    assert etag_of(path) == md5(path)


def test_an_etag_started_in_the_background_is_the_one_etag_of_returns(tmp_path):
    path = tmp_path / "orders.json"
    path.write_bytes(os.urandom(9 << 20))  # more than one read block
    etag_in_background(path)
    assert etag_of(path) == md5(path)


def test_a_file_whose_bytes_changed_gets_a_new_etag(tmp_path):
    path = tmp_path / "orders.json"
    path.write_bytes(b"first\n")
    first = etag_of(path)
    path.write_bytes(b"second, longer\n")
    assert etag_of(path) == md5(path) != first


def test_a_failed_hash_is_not_kept(tmp_path, monkeypatch):
    import pytest

    from etl.local import services

    path = tmp_path / "orders.json"
    path.write_bytes(b"x\n")
    failing, real_md5 = iter([OSError("disk gone")]), hashlib.md5

    def md5_once_failing(*args, **kwargs):
        error = next(failing, None)
        if error:
            raise error
        return real_md5(*args, **kwargs)

    monkeypatch.setattr(services.hashlib, "md5", md5_once_failing)
    with pytest.raises(OSError, match="disk gone"):
        etag_of(path)
    assert etag_of(path) == md5(path)
