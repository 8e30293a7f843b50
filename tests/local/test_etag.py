"""The local S3 stand-in's ETag: the MD5 of the object's bytes, computed once per file
state, or kept from the copy that landed them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from etl.local.services import etag_of, remember_etag


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_etag_is_the_md5_of_the_bytes(tmp_path):
    path = tmp_path / "orders.json"
    path.write_bytes(b'{"id": 1}\n' * 100_000)
    assert etag_of(path) == md5(path)


def test_an_etag_remembered_from_the_landing_copy_is_not_computed_again(tmp_path, monkeypatch):
    from etl.local import services
    from etl.storage.lake import Lake, land_file

    source = tmp_path / "orders.json"
    source.write_bytes(os.urandom(9 << 20))  # more than one copied block
    digest = hashlib.md5(usedforsecurity=False)
    landed = Path(land_file(str(source), Lake.local(tmp_path / "lake"), digests=[digest]))
    remember_etag(landed, digest.hexdigest())
    monkeypatch.setattr(services, "_md5", None)  # reading the file again would fail
    assert etag_of(landed) == md5(source) == md5(landed)


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
