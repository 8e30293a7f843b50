"""The local S3 stand-in answers only for keys strictly inside the lake's zone folders."""

from __future__ import annotations

import pytest

from etl.local.moto_adapter import AwsServiceError
from etl.local.services import LocalServices, key_path
from etl.storage.lake import Lake


@pytest.mark.parametrize(
    "key", ["../outside.txt", "incoming/../../outside.txt", "/etc/passwd", "incoming/./x", ""]
)
def test_a_key_that_would_leave_the_zone_is_refused(tmp_path, key):
    lake = Lake.local(tmp_path / "lake").ensure()
    (tmp_path / "lake" / "outside.txt").write_text("secret")
    (tmp_path / "outside.txt").write_text("secret")
    services = LocalServices(lake, spark_factory=lambda: None)
    raw = services.names.bucket("raw")
    with pytest.raises(AwsServiceError) as error:
        services.get_object({"Bucket": raw, "Key": key})
    assert error.value.code == "NoSuchKey"
    with pytest.raises(ValueError):
        services.local_uri(f"s3://{raw}/{key}")


def test_keys_with_spaces_dots_and_unicode_map_inside_the_zone(tmp_path):
    zone = tmp_path / "raw"
    path = key_path(str(zone), "incoming/flights/march 2026.v2.データ.csv")
    assert path == zone.resolve() / "incoming/flights/march 2026.v2.データ.csv"


def test_a_symlink_out_of_the_zone_is_refused(tmp_path):
    zone = tmp_path / "raw"
    (zone / "incoming").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("x")
    (zone / "incoming" / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ValueError, match="outside the local zone"):
        key_path(str(zone), "incoming/link.txt")
