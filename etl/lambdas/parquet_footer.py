"""Row and per-column null counts of a Parquet object, from its footer alone.

The quality-check Lambda has no pyarrow (the Lambda runtime lacks it and a layer would
add ~50 MB), and a Parquet footer is small: two range GETs fetch it, and this module
decodes the few fields needed (``num_rows`` and each column chunk's
``statistics.null_count``) with a minimal reader of Thrift's compact protocol, the
footer's encoding (https://github.com/apache/parquet-format, ``parquet.thrift``).
"""

from __future__ import annotations

import struct

from etl.lambdas.s3_objects import object_size, read_range

MAGIC = b"PAR1"

# Compact-protocol type ids.
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, typ: int):
        if typ in (_TRUE, _FALSE):
            return typ == _TRUE
        if typ == _BYTE:
            return self.byte()
        if typ in (_I16, _I32, _I64):
            return self.zigzag()
        if typ == _DOUBLE:
            self.pos += 8
            return struct.unpack_from("<d", self.data, self.pos - 8)[0]
        if typ == _BINARY:
            size = self.varint()
            self.pos += size
            return self.data[self.pos - size : self.pos]
        if typ in (_LIST, _SET):
            header = self.byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            if element in (_TRUE, _FALSE):
                return [self.byte() == 1 for _ in range(size)]
            return [self.value(element) for _ in range(size)]
        if typ == _MAP:
            size = self.varint()
            if not size:
                return {}
            types = self.byte()
            return {self.value(types >> 4): self.value(types & 0x0F) for _ in range(size)}
        if typ == _STRUCT:
            return self.struct()
        raise ValueError(f"unknown Thrift compact type {typ} at byte {self.pos}")

    def struct(self) -> dict[int, object]:
        fields: dict[int, object] = {}
        last = 0
        while True:
            header = self.byte()
            if header == 0:
                return fields
            delta, typ = header >> 4, header & 0x0F
            last = last + delta if delta else self.zigzag()
            fields[last] = self.value(typ)


def decode_counts(footer: bytes) -> tuple[int, dict[str, int]]:
    """``(num_rows, {column: null count})`` from a serialized ``FileMetaData``."""
    meta = _Reader(footer).struct()
    null_counts: dict[str, int] = {}
    for row_group in meta.get(4, []):
        for chunk in row_group.get(1, []):
            column_meta = chunk.get(3, {})
            name = ".".join(part.decode("utf-8") for part in column_meta.get(3, []))
            nulls = column_meta.get(12, {}).get(3, 0)
            null_counts[name] = null_counts.get(name, 0) + int(nulls)
    if not null_counts:  # no row groups: take the column names from the schema
        leaves = [e for e in meta.get(2, [])[1:] if not e.get(5)]
        null_counts = {e[4].decode("utf-8"): 0 for e in leaves}
    return int(meta.get(3, 0)), null_counts


def read_footer_counts(s3, bucket: str, key: str) -> tuple[int, dict[str, int]]:
    """Fetch the footer with two range GETs and decode it."""
    size = object_size(s3, bucket, key)
    trailer = read_range(s3, bucket, key, size - 8, size - 1)
    if len(trailer) != 8 or trailer[4:] != MAGIC:
        raise ValueError(f"s3://{bucket}/{key} is not a Parquet file (no PAR1 trailer)")
    length = struct.unpack("<I", trailer[:4])[0]
    footer = read_range(s3, bucket, key, size - 8 - length, size - 9)
    return decode_counts(footer)
