"""Feeds as they arrive: which object keys are accepted, their format extension and
compression, and gzip decompressed as a stream with a bound on what it may expand to.

Standard library only: the validation and quality-check Lambdas, the local stages and the
onboarding command all decide the same way.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Iterable, Iterator

from etl.core.errors import ValidationFailed

# Extensions a feed may have, before an optional ``.gz``. ``.jsonl``/``.ndjson`` are JSON
# lines; ``.json`` and ``.txt`` are sniffed (JSON lines, a JSON array or CSV).
DATA_EXTENSIONS = (".json", ".csv", ".tsv", ".parquet", ".txt", ".jsonl", ".ndjson")
GZIP_EXTENSION = ".gz"
# Parquet compresses its own pages; a gzipped Parquet file is not something Spark reads.
GZIP_FORMATS = (".json", ".csv", ".tsv", ".txt", ".jsonl", ".ndjson")
ACCEPTED_EXTENSIONS = DATA_EXTENSIONS + tuple(f"{e}{GZIP_EXTENSION}" for e in GZIP_FORMATS)
JSON_LINES_EXTENSIONS = (".jsonl", ".ndjson")
MAX_KEY_BYTES = 1024  # S3's limit on a key, in UTF-8 bytes
# A Hadoop path cannot hold ':' (HADOOP-3257), and Spark's multi-line CSV and JSON readers
# glob the file's own path again while inferring its schema, so an escaped pattern
# character still fails there (measured on Spark 3.5.6): such keys cannot be read.
HADOOP_SPECIAL = ":[]{}*?\\"
GZIP_WBITS = 16 + zlib.MAX_WBITS
GZIP_MAGIC = b"\x1f\x8b"


def split_extension(name: str) -> tuple[str, str]:
    """``(format extension, compression)`` of a file name, lower-cased:
    ``orders.csv.gz`` -> ``(".csv", "gzip")``, ``orders.json`` -> ``(".json", "")``."""
    name = name.rsplit("/", 1)[-1].lower()
    compression = ""
    if name.endswith(GZIP_EXTENSION):
        name, compression = name.removesuffix(GZIP_EXTENSION), "gzip"
    stem, dot, extension = name.rpartition(".")
    return (f".{extension}" if dot and stem else ""), compression


def is_gzip(key: str) -> bool:
    """True for a ``.gz`` name: its bytes are decompressed wherever they are read."""
    return split_extension(key)[1] == "gzip"


def check_extension(name: str) -> None:
    """Raise ``ValidationFailed`` unless ``name`` ends in an accepted extension."""
    extension, compression = split_extension(name)
    shown = extension + (GZIP_EXTENSION if compression else "")
    if extension not in DATA_EXTENSIONS or (compression and extension not in GZIP_FORMATS):
        raise ValidationFailed(
            f"unsupported file format {shown or '(none)'!r}; supported: "
            f"{', '.join(ACCEPTED_EXTENSIONS)}"
        )


def check_key(key: str) -> None:
    """Raise ``ValidationFailed`` for a key no stage can store or follow safely.

    Spaces, dots, parentheses and any Unicode letter are fine (S3 keys are UTF-8). Refused:
    an absolute key or a ``..`` segment (a local lake would follow it out of its zone),
    control characters (they break logs, paths and one-line messages), the characters no
    Spark read can take (``HADOOP_SPECIAL``), more than 1,024 UTF-8 bytes (S3's limit), and a
    key with no file name.
    """
    name = key.rsplit("/", 1)[-1]
    if key.startswith("/") or ".." in key.split("/"):
        raise ValidationFailed(
            f"invalid file name {_shown(key)}: a key must be relative, without '..' segments"
        )
    controls = [i for i, ch in enumerate(key) if unicodedata.category(ch) == "Cc"]
    if controls:
        raise ValidationFailed(
            f"invalid file name {_shown(key)}: control character at position {controls[0] + 1}; "
            "rename the file"
        )
    unreadable = sorted(set(key) & set(HADOOP_SPECIAL))
    if unreadable:
        raise ValidationFailed(
            f"invalid file name {_shown(key)}: Spark cannot read a key with "
            f"{' '.join(map(repr, unreadable))} (Hadoop paths take ':' for a URI scheme and "
            "[ ] { } * ? \\ for a pattern); rename the file"
        )
    size = len(key.encode("utf-8", errors="surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise ValidationFailed(
            f"invalid file name: its key is {size} bytes of UTF-8, more than S3's {MAX_KEY_BYTES}; "
            "use a shorter name"
        )
    if not name.strip() or name in (".", ".."):
        raise ValidationFailed(f"invalid file name {_shown(key)}: the key names no file")


def _shown(key: str, limit: int = 80) -> str:
    """A key for a one-line message: control characters escaped, long keys shortened."""
    text = repr(key)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def gunzip(
    blocks: Iterable[bytes],
    max_bytes: int,
    name: str = "the file",
    piece_bytes: int = 8 << 20,
    partial: bool = False,
) -> Iterator[bytes]:
    """The decompressed bytes of gzip ``blocks``, at most ``piece_bytes`` at a time.

    Memory stays bounded whatever the ratio (a gzip bomb expands a piece at a time), and
    past ``max_bytes`` of output it stops with ``ValidationFailed``. Concatenated members
    (``cat a.gz b.gz``) are read as one stream, as gzip and Spark read them. ``partial``
    accepts a stream cut short (the head of an object); otherwise a truncated or corrupt
    stream is a ``ValidationFailed`` too.
    """
    decompressor, total, fed, ended = zlib.decompressobj(GZIP_WBITS), 0, False, False
    try:
        for block in blocks:
            data, pending = block, False
            while (data or pending) and not ended:
                if not fed and len(data) >= len(GZIP_MAGIC) and not data.startswith(GZIP_MAGIC):
                    if not total:
                        raise ValidationFailed(f"{name} is not gzip data (no gzip header)")
                    ended = True  # bytes after the last member: gzip(1) ignores them too
                    break
                fed = fed or bool(data)
                piece = decompressor.decompress(data, piece_bytes)
                data = decompressor.unconsumed_tail
                # A full piece may leave output inside zlib even when no input is left.
                pending = len(piece) == piece_bytes and not decompressor.eof
                if piece:
                    total += len(piece)
                    if total > max_bytes:
                        raise ValidationFailed(
                            f"{name} decompresses to more than {max_bytes:,} bytes "
                            "(the limit); split it into smaller files"
                        )
                    yield piece
                if decompressor.eof:
                    data, pending = decompressor.unused_data, False
                    decompressor, fed = zlib.decompressobj(GZIP_WBITS), False
    except zlib.error:
        if partial and total:
            return
        if not total:
            raise ValidationFailed(f"{name} is not readable gzip data") from None
        raise ValidationFailed(
            f"{name} is not readable gzip data after {total:,} decompressed bytes "
            "(corrupt): compress it again"
        ) from None
    if fed and not partial:
        raise ValidationFailed(
            f"{name} ends before its gzip stream does (truncated after {total:,} "
            "decompressed bytes): upload it again"
        )
