"""The quality-check Lambda: the quality score of a landed object, in bounded memory.

The score is ``etl.core.scoring``'s, the same function the Glue job's gate uses (that module is
stdlib only, so it ships in the bundle); ``tests/workflow/test_lambdas.py`` checks the two
profiles agree on the sample files.

How it stays fast and small (``benchmarks/bench_quality_lambda.py``;
docs/performance-history.md):

* The object arrives in 8 MB blocks (ranged GETs, the next ones fetched while this one is
  parsed) and is split into lines here, not through a text stream.
* JSON lines are parsed with orjson when it is importable (the Lambda bundle vendors it, see
  ``etl/deploy/export.py``), else with the standard library: the two give the same counts.
* Null counts: a record's key tuple is counted per distinct tuple ("shape"), and only
  records that hold a null value are looked at key by key; shapes are folded into
  per-column counts every few thousand. A missing key is a null, as in Spark's read.
* Per record, Python does as little as it can: a batch of lines goes through C-implemented
  chains (``Counter(map(tuple, map(dict.keys, map(loads, lines))))``, ``map(hash, lines)``),
  and only lines holding the bytes ``null`` (found by searching the joined batch) are
  parsed a second time to see which keys are null. CSV rows (any one-byte delimiter) are
  checked and their empty fields and null markers counted per column over the joined batch,
  one search per null field, no split.
* Duplicates are records whose bytes are identical (a 64-bit hash of the raw line): a record
  that repeats another with its keys in another order, other spacing or other number
  spelling is not counted (Spark's ``distinct`` would count it). Past ``max_fingerprints``
  distinct records only a hash-selected share is kept, the number of distinct records is
  estimated from it (``HashSample``; ~0.3% error, so the duplicate share is within ~0.3
  points) and the result says ``duplicatesEstimated``. The hash is Python's, seeded per
  process, so such an estimate may differ by that much between invocations; below the
  budget the count is exact.
* Columns: null counts are kept for the first ``max_columns`` distinct columns; past that,
  the rest are counted in totals only (their number estimated the same hash-sampled way)
  and the response says ``columnsEstimated``. The response lists the
  ``reported_columns`` columns with the most nulls and says how many it left out, so it
  stays a few KB whatever the number of keys (Step Functions allows 256 KB).

Records it cannot read are defects, never crashes: a line that is not JSON, a JSON line
that is not an object, a CSV row with the wrong number of fields, a quote never closed, a
record longer than ``max_record_bytes`` (skipped without being held) or holding so many
values it could take more than ``max_record_memory`` parsed. Each counts as a row
whose every cell is null (what Spark's permissive reader makes of it), so it lowers the
score; the response counts them by kind and gives the first few line numbers, never their
content. A ``.gz`` object is decompressed as it streams (``etl.core.feeds.gunzip``: a
piece at a time, stopping past the size validation allows). Parquet needs no scan: row and
null counts come from the footer statistics (``etl.lambdas.parquet_footer``); duplicates
are not measured there.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate, compress, filterfalse, repeat
from operator import add, is_

from etl.core import feeds, scoring
from etl.core.datasets import get_dataset
from etl.core.metrics import METRIC_NAMESPACE, metric_data
from etl.lambdas.parquet_footer import read_footer_counts
from etl.lambdas.s3_objects import iter_blocks, object_size, read_range, s3_client
from etl.lambdas.validation import event_dataset
from etl.stages.validate import HEAD_BYTES, MAX_FILE_BYTES, FileFacts, sniff_format

try:
    import orjson
except ImportError:  # a bundle built without it still scores, with the stdlib parser
    orjson = None


@dataclass(frozen=True)
class Limits:
    """The bounds that keep time, memory and the response size flat."""

    block_bytes: int = 8 << 20
    max_record_bytes: int = 8 << 20
    max_record_memory: int = 64 << 20  # what a record may take once parsed, estimated
    max_fingerprints: int = 250_000
    max_columns: int = 10_000
    max_shapes: int = 4096
    reported_columns: int = 50
    reported_defect_lines: int = 10
    max_name_chars: int = 64
    lines_per_batch: int = 16_384


LIMITS = Limits()
NOT_JSON, NOT_OBJECT, FIELD_COUNT, OPEN_QUOTE, TOO_LONG, TOO_MANY_VALUES = (
    "notJson",
    "notAnObject",
    "wrongFieldCount",
    "unclosedQuote",
    "tooLong",
    "tooManyValues",
)
DEFECT_WORDS = {
    NOT_JSON: "not JSON",
    NOT_OBJECT: "not a JSON object",
    FIELD_COUNT: "wrong number of fields",
    OPEN_QUOTE: "quote never closed",
    TOO_LONG: "too long",
    TOO_MANY_VALUES: "too many values",
}
# Lines shorter than this cannot hold enough values to matter (a 256 KB line of ``{},`` is
# ~20 MB of dicts); longer ones are weighed before they are parsed.
WEIGH_FROM_BYTES = 256 << 10


def json_weight(line: bytes) -> int:
    """Bytes a JSON line may take parsed, from above: ~200 per object, 64 per array, 48 per
    other value (orjson makes 8 MB of ``[],`` into ~240 MB of lists)."""
    return 200 * line.count(b"{") + 64 * line.count(b"[") + 48 * line.count(b",")


def csv_weight(line: bytes, sep: bytes = b",") -> int:
    """Bytes a CSV row may take split into fields at ``sep``."""
    return 48 * line.count(sep)


BOM = codecs.BOM_UTF8
_NULL = re.compile(b"null")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


# The standard library accepts NaN, Infinity and 1e400; orjson (and JSON) does not.
_STDLIB_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def stdlib_loads(line: bytes) -> object:
    """``json.loads`` made as strict as orjson, for a bundle without orjson."""
    return _STDLIB_DECODER.decode(line.decode("utf-8"))


def default_loads() -> tuple[str, Callable[[bytes], object]]:
    return ("orjson", orjson.loads) if orjson is not None else ("json", stdlib_loads)


class HashSample:
    """Hashes with their low ``mask`` bits zero: all of them until ``budget``, then a share.

    Each time the set outgrows the budget one more bit must be zero, halving the share, so
    ``len(seen) * (mask + 1)`` estimates how many distinct hashes were offered (adaptive
    sampling: each distinct value counts once however often it repeats, so a few records
    repeated thousands of times do not swing it). Below the budget it is exact; past it, the
    relative error is about ``1 / sqrt(len(seen))``: ~0.3% at a 250,000 budget.
    """

    def __init__(self, budget: int) -> None:
        self.budget, self.mask, self.offered = budget, 0, 0
        self.seen: set[int] = set()

    def offer_many(self, hashes: Iterable[int], count: int | None = None) -> None:
        """Offer ``hashes``; with their ``count`` given, an iterator is consumed as it is
        (no list of a batch's hashes is built)."""
        if count is None:
            hashes = hashes if isinstance(hashes, list) else list(hashes)
            count = len(hashes)
        self.offered += count
        self.seen.update(filterfalse(self.mask.__and__, hashes) if self.mask else hashes)

    def shrink(self) -> None:
        while len(self.seen) > self.budget:
            self.mask = (self.mask << 1) | 1
            self.seen = set(filterfalse(self.mask.__and__, self.seen))

    @property
    def estimated(self) -> bool:
        return self.mask != 0

    @property
    def distinct(self) -> int:
        return min(len(self.seen) * (self.mask + 1), self.offered)

    @property
    def duplicate_share(self) -> float:
        """Offers that repeat an earlier one, as a share of all offers."""
        return 1.0 - self.distinct / self.offered if self.offered else 0.0


class Columns:
    """Non-null counts per column for the first ``limit`` columns; the rest as totals."""

    def __init__(self, limit: int, sample_budget: int) -> None:
        self.limit = limit
        self.non_null: dict[str, int] = {}
        self.other_non_null = 0
        self.others = HashSample(sample_budget)

    def add(self, column: str, n: int) -> None:
        counts = self.non_null
        if column in counts:
            counts[column] += n
        elif len(counts) < self.limit:
            counts[column] = n
        else:  # HashSample.offer_many and shrink for one hash, inlined: it runs per column
            self.other_non_null += n
            others = self.others
            others.offered += 1
            fingerprint = hash(column)
            if not fingerprint & others.mask:
                others.seen.add(fingerprint)
                if len(others.seen) > others.budget:
                    others.shrink()

    @property
    def count(self) -> int:
        return len(self.non_null) + self.others.distinct

    @property
    def overflowed(self) -> bool:
        return bool(self.others.seen)

    @property
    def estimated(self) -> bool:
        return self.others.estimated


@dataclass
class Profile:
    """Row, null, duplicate and defect counts of one object, built batch by batch."""

    limits: Limits = LIMITS
    rows: int = 0
    duplicates_measured: bool = True
    parser: str = ""
    columns: Columns = field(init=False)
    fingerprints: HashSample = field(init=False)
    shapes: dict[tuple, int] = field(default_factory=dict)  # key tuple -> records
    null_shapes: dict[tuple, int] = field(default_factory=dict)  # null-valued keys -> records
    defects: dict[str, int] = field(default_factory=dict)
    defect_lines: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    csv_nulls: list[int] | None = None  # CSV: null count per header position
    csv_header: list[str] | None = None

    def __post_init__(self) -> None:
        self.columns = Columns(self.limits.max_columns, self.limits.max_fingerprints)
        self.fingerprints = HashSample(self.limits.max_fingerprints)

    # --- counting -----------------------------------------------------------------------
    def defect(self, line: int, kind: str) -> None:
        self.rows += 1
        self.defects[kind] = self.defects.get(kind, 0) + 1
        if len(self.defect_lines) < self.limits.reported_defect_lines:
            self.defect_lines.append(line)

    @property
    def defect_count(self) -> int:
        return sum(self.defects.values())

    def add_record(self, record: dict, fingerprint: int) -> None:
        """One parsed record (the JSON array path; JSON lines inline the same steps)."""
        self.rows += 1
        keys = tuple(record)
        self.shapes[keys] = self.shapes.get(keys, 0) + 1
        if None in record.values():
            nulls = tuple([k for k, v in record.items() if v is None])
            self.null_shapes[nulls] = self.null_shapes.get(nulls, 0) + 1
        self.fingerprints.offer_many([fingerprint])
        self.tidy()

    def tidy(self) -> None:
        """Keep the shape tables and the fingerprint set within their budgets."""
        if len(self.shapes) + len(self.null_shapes) > self.limits.max_shapes:
            self.fold_shapes()
        if len(self.fingerprints.seen) > self.limits.max_fingerprints:
            self.fingerprints.shrink()

    def fold_shapes(self) -> None:
        add, counts = self.columns.add, self.columns.non_null  # add() only for new columns
        for keys, n in self.shapes.items():
            for column in keys:
                if column in counts:
                    counts[column] += n
                else:
                    add(column, n)
        for nulls, n in self.null_shapes.items():  # present, but null
            for column in nulls:
                if column in counts:
                    counts[column] -= n
                else:
                    add(column, -n)
        self.shapes.clear()
        self.null_shapes.clear()

    # --- results ------------------------------------------------------------------------
    def null_counts(self) -> dict[str, int]:
        """Nulls per column (the tracked ones; all of them below ``max_columns``)."""
        self.fold_shapes()
        if self.csv_header is not None:
            defects = self.defect_count
            return {c: n + defects for c, n in zip(self.csv_header, self.csv_nulls, strict=True)}
        return {column: self.rows - n for column, n in self.columns.non_null.items()}

    @property
    def column_count(self) -> int:
        self.fold_shapes()
        return len(self.csv_header) if self.csv_header is not None else self.columns.count

    @property
    def null_cell_percent(self) -> float:
        counts = self.null_counts()
        if not counts and self.defect_count:  # nothing readable: one column, all null
            return 100.0 * self.defect_count / self.rows
        if self.csv_header is not None or not self.columns.overflowed:
            return scoring.null_cell_percent(counts, self.rows)
        # Past max_columns: the same share, rows x columns cells, from the totals.
        cells = self.rows * self.columns.count
        non_null = sum(self.columns.non_null.values()) + self.columns.other_non_null
        return 100.0 * (cells - non_null) / cells if cells else 0.0

    @property
    def duplicate_percent(self) -> float:
        if not self.duplicates_measured or not self.rows:
            return 0.0
        readable = self.rows - self.defect_count
        return 100.0 * self.fingerprints.duplicate_share * readable / self.rows


# --- reading ---------------------------------------------------------------------------
def split_lines(
    blocks: Iterable[bytes], limits: Limits, weight: Callable[[bytes], int] | None = None
) -> Iterable[tuple[int, list[bytes], list[tuple[int, str]]]]:
    """``(number of the first line, lines, (line number, defect) of lines dropped)`` per block.

    Lines are cut at ``\\n`` (a ``\\r`` before it is dropped). A line longer than
    ``max_record_bytes`` comes back empty as ``TOO_LONG`` and is never held whole: once the
    unfinished line outgrows the bound it is dropped up to its end. A line whose ``weight``
    exceeds ``max_record_memory`` comes back empty as ``TOO_MANY_VALUES``.
    """
    max_record_bytes = limits.max_record_bytes

    def heavy(line: bytes) -> bool:
        return (
            bool(weight)
            and len(line) > WEIGH_FROM_BYTES
            and weight(line) > limits.max_record_memory
        )

    check_from = min(WEIGH_FROM_BYTES, max_record_bytes) if weight else max_record_bytes
    carry, skipping, line_no = b"", False, 1
    for block in _without_bom(blocks):
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
        if skipping:
            end = block.find(b"\n")
            if end < 0:
                continue
            block, skipping, line_no = block[end + 1 :], False, line_no + 1
        lines = block.split(b"\n")
        tail = lines.pop()
        if not lines:  # no line ends in this block
            carry += tail
            if len(carry) > max_record_bytes:
                yield line_no, [], [(line_no, TOO_LONG)]
                carry, skipping = b"", True
            continue
        if carry:
            lines[0] = carry + lines[0]
            if lines[0].endswith(b"\r"):  # a \r\n split across two blocks
                lines[0] = lines[0][:-1]
        carry = tail
        dropped = []
        if len(lines[0]) > check_from or not _lines_shorter_than(block, check_from):
            for i, line in enumerate(lines):
                if len(line) > max_record_bytes:
                    lines[i] = b""
                    dropped.append((line_no + i, TOO_LONG))
                elif heavy(line):
                    lines[i] = b""
                    dropped.append((line_no + i, TOO_MANY_VALUES))
        yield line_no, lines, dropped
        line_no += len(lines)
        if len(carry) > max_record_bytes:
            yield line_no, [], [(line_no, TOO_LONG)]
            carry, skipping = b"", True
    if carry and not skipping:
        last = carry.removesuffix(b"\r")
        if heavy(last):
            yield line_no, [b""], [(line_no, TOO_MANY_VALUES)]
        else:
            yield line_no, [last], []


def _lines_shorter_than(block: bytes, limit: int) -> bool:
    """True if no line inside ``block`` is ``limit`` bytes or longer (False may be wrong).

    Checked without a call per line: a run of ``2h - 1`` bytes without a line end covers
    a whole ``h``-byte window aligned on ``h``, so a line end in every such window
    (``h = limit // 2``; a few dozen searches per 8 MB block) keeps every line shorter
    than ``2h - 1 <= limit``.
    """
    step = limit // 2
    if step < 1:
        return False
    find = block.find
    return all(find(b"\n", at, at + step) >= 0 for at in range(0, len(block) - step + 1, step))


def batches(lines: list[bytes], limits: Limits) -> Iterable[tuple[int, list[bytes]]]:
    """``(offset, slice)`` of at most ``lines_per_batch`` lines: the unit of the fast paths
    (a bad line sends only its batch down the careful path) and of the budget checks."""
    step = limits.lines_per_batch
    for start in range(0, len(lines), step):
        yield start, lines[start : start + step]


def _without_bom(blocks: Iterable[bytes]) -> Iterable[bytes]:
    """The non-empty blocks, a UTF-8 byte order mark at the very start removed."""
    start = b""
    for block in blocks:
        if start is not None:
            start += block
            if len(start) < len(BOM):
                continue
            block, start = start.removeprefix(BOM), None
        if block:
            yield block
    if start:
        yield start.removeprefix(BOM)


def profile_json_lines(
    blocks: Iterable[bytes],
    limits: Limits = LIMITS,
    loads: Callable[[bytes], object] | None = None,
) -> Profile:
    """Profile JSON lines; ``loads`` defaults to orjson's when importable."""
    parser, loads = default_loads() if loads is None else ("json", loads)
    if orjson is not None and loads is orjson.loads:
        parser = "orjson"
    profile = Profile(limits=limits, parser=parser)
    for first_no, lines, dropped in split_lines(blocks, limits, json_weight):
        for line_no, kind in dropped:
            profile.defect(line_no, kind)
        for offset, batch in batches(lines, limits):
            try:
                shapes, nulls = _json_fast(batch, loads)
            except (ValueError, TypeError, RecursionError):  # not JSON or an object, too deep
                _json_careful(profile, first_no + offset, batch, loads)
            else:
                profile.rows += len(batch)
                _merge(profile.shapes, shapes)
                for keys in nulls:
                    profile.null_shapes[keys] = profile.null_shapes.get(keys, 0) + 1
                profile.fingerprints.offer_many(map(hash, batch), len(batch))
            profile.tidy()
    return profile


def _json_fast(lines: list[bytes], loads) -> tuple[dict[tuple, int], list[tuple]]:
    """The hot path, for a batch of good lines: records counted by key tuple in C.

    ``map(dict.keys, ...)`` raises ``TypeError`` for a record that is not an object; each
    record is dropped as soon as its key tuple is taken (holding a batch of parsed records
    costs more than parsing them). Only a line holding the bytes ``null`` can hold a null
    value: those few are parsed again and looked at key by key. Any blank or bad line
    raises, and the batch is read again by ``_json_careful``; nothing here touches the
    profile.
    """
    shapes = Counter(map(tuple, map(dict.keys, map(loads, lines))))
    nulls: list[tuple] = []
    for line in _lines_holding(lines, _NULL):
        record = loads(line)  # an object: the count above raised for anything else
        null_keys = tuple(compress(record, map(is_, record.values(), repeat(None))))
        if null_keys:
            nulls.append(null_keys)
    return shapes, nulls


def _lines_holding(lines: list[bytes], needle: re.Pattern[bytes]) -> Iterator[bytes]:
    """The lines in which ``needle`` (not spanning a line end) matches, cut from the joined
    batch around each match: one search per such line, not one call per line (``re`` finds
    a literal faster than ``bytes.find`` does here)."""
    joined = b"\n".join(lines)
    search, rfind, find = needle.search, joined.rfind, joined.find
    found = search(joined)
    while found is not None:
        begin, end = rfind(b"\n", 0, found.start()) + 1, find(b"\n", found.end())
        if end < 0:
            end = len(joined)
        yield joined[begin:end]
        found = search(joined, end + 1)


def _json_careful(profile: Profile, first_no: int, lines: list[bytes], loads) -> None:
    """A batch with a blank or unreadable line: line by line, bad lines as defects."""
    fingerprints = []
    for line_no, line in enumerate(lines, first_no):
        if not line.strip():
            continue
        try:
            record = loads(line)
        except (ValueError, RecursionError):
            profile.defect(line_no, NOT_JSON)
            continue
        if type(record) is not dict:
            profile.defect(line_no, NOT_OBJECT)
            continue
        profile.rows += 1
        keys = tuple(record)
        profile.shapes[keys] = profile.shapes.get(keys, 0) + 1
        if None in record.values():
            nulls = tuple([k for k, v in record.items() if v is None])
            profile.null_shapes[nulls] = profile.null_shapes.get(nulls, 0) + 1
        fingerprints.append(hash(line))
    profile.fingerprints.offer_many(fingerprints)


def _merge(into: dict, counts: dict) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


def profile_csv(
    blocks: Iterable[bytes],
    limits: Limits = LIMITS,
    delimiter: str = ",",
    null_markers: Iterable[str] = (),
) -> Profile:
    """Profile CSV with a header row; an empty field or one of the dataset's null markers
    (``NA``) is null, as Spark reads it with the dataset's options.

    A row without quotes is checked with byte counts (fields = delimiters + 1, an empty
    field is ``,,`` or a leading/trailing delimiter); a row with quotes goes through the ``csv``
    module, joined with the following lines while a quote is open (a quoted newline).
    """
    reader = _CsvReader(Profile(limits=limits, parser="csv"), delimiter, null_markers)
    weight = partial(csv_weight, sep=reader.sep)
    for first_no, lines, dropped in split_lines(blocks, limits, weight):
        for line_no, kind in dropped:
            reader.dropped(line_no, kind)
        for offset, batch in batches(lines, limits):
            if not reader.fast(batch):
                reader.batch(first_no + offset, batch)
            reader.profile.tidy()
    reader.finish()
    return reader.profile


class _CsvReader:
    def __init__(
        self, profile: Profile, delimiter: str = ",", null_markers: Iterable[str] = ()
    ) -> None:
        self.profile = profile
        self.delimiters = -1  # fields - 1, once the header is read
        self.sep = sep = delimiter.encode("utf-8")
        self.null_bytes = {b"", *(m.encode("utf-8") for m in null_markers)}
        self.null_text = {"", *null_markers}
        # The byte-count fast path: one-byte delimiters, null markers without structure.
        self.plain = (
            len(sep) == 1
            and sep not in b'"\r\n'
            and not any(byte in marker for marker in self.null_bytes for byte in b'"\r\n' + sep)
        )
        # A null field with its delimiters either side (newlines turned into delimiters).
        self.null_fields = sorted(sep + marker + sep for marker in self.null_bytes)
        self.not_structure = bytes(range(256)).translate(None, sep + b'\n"')
        self.field_ends = bytes.maketrans(b"\n", sep)
        self.open: tuple[int, list[bytes], int, int] | None = None  # line, parts, size, quotes

    def dropped(self, line_no: int, kind: str) -> None:
        self.profile.defect(line_no, kind)  # an open quote goes on past it

    def fast(self, lines: list[bytes]) -> bool:
        """A batch of plain rows, checked and counted over the joined batch; False (and
        nothing counted) unless every row is non-blank, unquoted and the header's width.

        Deleting ``not_structure`` keeps only delimiters, newlines and quotes: the batch is
        plain when what is left is the header's number of delimiters once per row.
        ``field_ends`` turns newlines into delimiters, so an empty field is two delimiters
        in a row (``,,``), and a null marker ``,NA,``, wherever it is in its row.
        """
        if not self.plain or self.delimiters < 0 or self.open is not None or not all(lines):
            return False
        sep = self.sep
        joined = b"\n" + b"\n".join(lines) + b"\n"
        plain_rows = b"\n" + (sep * self.delimiters + b"\n") * len(lines)
        if joined.translate(None, self.not_structure) != plain_rows:
            return False
        profile = self.profile
        profile.rows += len(lines)
        ends = joined.translate(self.field_ends)
        empty = []  # where each null field's ",," (",NA,") starts, overlapping ones too
        for null_field in self.null_fields:
            at = ends.find(null_field)
            while at >= 0:
                empty.append(at)
                at = ends.find(null_field, at + 1)
        if empty:
            # Row i is the delimiters from fences[i] (the row's first) to fences[i + 1]; an
            # empty field's column is the number of delimiters from its row's first to it.
            fences = list(accumulate(map(add, map(len, lines), repeat(1)), initial=0))
            row_first = map((None, *fences).__getitem__, map(bisect_right, repeat(fences), empty))
            nulls = profile.csv_nulls
            for column, n in Counter(map(ends.count, repeat(sep), row_first, empty)).items():
                nulls[column] += n
        profile.fingerprints.offer_many(map(hash, lines), len(lines))
        return True

    def batch(self, first_no: int, lines: list[bytes]) -> None:
        """Row by row: quotes, blank lines and rows of the wrong width."""
        numbered = enumerate(lines, first_no)
        if self.open is not None and not self._continue(numbered):
            return
        if self.delimiters < 0:
            for line_no, line in numbered:
                if line and self._quoted(line_no, line, numbered) and self.delimiters >= 0:
                    break
            else:
                return
        profile, delimiters, nulls = self.profile, self.delimiters, self.profile.csv_nulls
        fingerprints = []
        rows = 0
        for line_no, line in numbered:
            if not line:
                continue
            if b'"' in line:
                self._quoted(line_no, line, numbered)
                continue
            if line.count(self.sep) != delimiters:
                profile.defect(line_no, FIELD_COUNT)
                continue
            rows += 1
            for i, value in enumerate(line.split(self.sep)):
                if value in self.null_bytes:
                    nulls[i] += 1
            fingerprints.append(hash(line))
        profile.rows += rows
        profile.fingerprints.offer_many(fingerprints)

    def _quoted(self, line_no: int, line: bytes, numbered) -> bool:
        """A line with quotes; False when its record continues past this batch."""
        self.open = (line_no, [line], len(line), line.count(b'"'))
        return self._continue(numbered)

    def _continue(self, numbered) -> bool:
        line_no, parts, size, quotes = self.open
        limit = self.profile.limits.max_record_bytes
        while quotes % 2:
            following = next(numbered, None)
            if following is None:
                self.open = (line_no, parts, size, quotes)
                return False
            line = following[1]
            size += len(line) + 1
            if size > limit:
                self.open = None
                self.profile.defect(line_no, TOO_LONG)
                return True
            parts.append(line)
            quotes += line.count(b'"')
        self.open = None
        record = b"\n".join(parts)
        if (
            size > WEIGH_FROM_BYTES
            and csv_weight(record, self.sep) > self.profile.limits.max_record_memory
        ):
            self.profile.defect(line_no, TOO_MANY_VALUES)
        else:
            self._record(line_no, record)
        return True

    def _record(self, line_no: int, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace")
        row = next(csv.reader([text], delimiter=self.sep.decode("utf-8")), [])
        profile = self.profile
        if self.delimiters < 0:
            self._header(row)
            return
        if len(row) != self.delimiters + 1:
            profile.defect(line_no, FIELD_COUNT)
            return
        profile.rows += 1
        for i, value in enumerate(row):
            if value in self.null_text:
                profile.csv_nulls[i] += 1
        profile.fingerprints.offer_many([hash(raw)])

    def _header(self, row: list[str]) -> None:
        names, used = [], set()
        for i, name in enumerate(row):
            unique = name if name not in used else f"{name}_{i}"
            used.add(unique)
            names.append(unique)
        self.delimiters = len(names) - 1
        self.profile.csv_header = names
        self.profile.csv_nulls = [0] * len(names)

    def finish(self) -> None:
        if self.open is not None:
            self.profile.defect(self.open[0], OPEN_QUOTE)
            self.open = None
        if self.profile.csv_header is None:
            self._header([])


def profile_json_array(blocks: Iterable[bytes], limits: Limits = LIMITS) -> Profile:
    """Profile a top-level JSON array, decoded incrementally (standard library).

    A malformed element cannot be stepped over reliably inside an array: it is one defect
    and the rest of the array is not read (the response notes it).
    """
    profile = Profile(limits=limits, parser="json")
    decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
    buffer, position, started, line_no = "", 0, False, 1

    def stop(kind: str) -> Profile:
        profile.defect(line_no, kind)
        profile.notes.append(f"the JSON array cannot be read past line {line_no}")
        return profile

    for chunk in _decoded(blocks):
        buffer = buffer[position:] + (chunk or "")
        position = 0
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                if buffer[position] == "\n":
                    line_no += 1
                position += 1
            if position == len(buffer):
                break
            if not started:
                if buffer[position] != "[":
                    return stop(NOT_JSON)
                started, position = True, position + 1
                continue
            if buffer[position] == "]":
                profile.fold_shapes()
                return profile
            try:
                record, end = decoder.raw_decode(buffer, position)
            except (ValueError, RecursionError):
                if chunk is None:
                    return stop(NOT_JSON)
                if len(buffer) - position > limits.max_record_bytes:
                    return stop(TOO_LONG)
                break  # the record continues in the next chunk
            raw = buffer[position:end]
            if type(record) is dict:
                profile.add_record(record, hash(raw))
            else:
                profile.defect(line_no, NOT_OBJECT)
            line_no += raw.count("\n")
            position = end
        if chunk is None:
            break
    if started:
        return stop(NOT_JSON)  # no closing bracket
    return profile


def _decoded(blocks: Iterable[bytes]) -> Iterable[str | None]:
    """The blocks as text (bad UTF-8 replaced, as Spark reads it), then ``None`` at the end."""
    text = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    for block in blocks:
        yield text.decode(block)
    yield text.decode(b"", final=True)
    yield None


PROFILERS = {"json": profile_json_lines, "json_array": profile_json_array, "csv": profile_csv}


def profile_parquet(rows: int, null_counts: dict[str, int], limits: Limits = LIMITS) -> Profile:
    profile = Profile(limits=limits, rows=rows, duplicates_measured=False, parser="parquet")
    for column, nulls in null_counts.items():
        profile.columns.add(column, rows - nulls)
    return profile


# --- the response ----------------------------------------------------------------------
def _short(name: str, limit: int) -> str:
    return name if len(name) <= limit else f"{name[:limit]}… ({len(name)} chars)"


def report(profile: Profile, threshold: float) -> dict:
    """The Lambda's response: ``qualityScore`` plus what explains it, a few KB at most."""
    limits = profile.limits
    null_pct, dup_pct = profile.null_cell_percent, profile.duplicate_percent
    score = scoring.quality_score(null_pct, dup_pct, profile.rows)
    reason = scoring.below_threshold_reason(score, threshold, null_pct, dup_pct)
    defects = profile.defect_count
    if reason and defects:
        kinds = ", ".join(f"{n} {DEFECT_WORDS[k]}" for k, n in sorted(profile.defects.items()))
        reason += f"; {defects} unreadable records ({kinds}), the first at line "
        reason += str(profile.defect_lines[0])
    counts = profile.null_counts()
    worst = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown: dict[str, int] = {}
    for name, nulls in worst[: limits.reported_columns]:
        shown.setdefault(_short(name, limits.max_name_chars), nulls)
    omitted = profile.column_count - len(shown)
    notes = list(profile.notes)
    if omitted:
        notes.append(
            f"nullCounts lists the {len(shown)} columns with the most nulls; "
            f"{omitted} other columns are left out"
        )
    if profile.columns.overflowed:
        notes.append(
            f"more than {limits.max_columns} columns: nullCounts is chosen among the first "
            f"{limits.max_columns}, the others count in the totals only"
            + (
                "; their number is estimated from a hash sample"
                if profile.columns.estimated
                else ""
            )
        )
    return {
        "qualityScore": score,
        "threshold": threshold,
        "passed": score >= threshold,
        "totalRecords": profile.rows,
        "duplicateRecords": round(dup_pct * profile.rows / 100),
        "nullPercentage": round(null_pct, 2),
        "duplicatePercentage": round(dup_pct, 2),
        "nullCounts": shown,
        "nullCountsOmitted": omitted,
        "columns": profile.column_count,
        "columnsEstimated": profile.columns.estimated,
        "duplicatesMeasured": profile.duplicates_measured,
        "duplicatesEstimated": profile.fingerprints.estimated,
        "defectRecords": defects,
        "defects": dict(sorted(profile.defects.items())),
        "defectLines": list(profile.defect_lines),
        "parser": profile.parser,
        "notes": notes,
        "reason": reason[:300],
    }


def handler(event: dict, context: object = None) -> dict:
    """Score ``event["inputData"]`` (bucket, key) in the format validation detected."""
    bucket, key = event["inputData"]["bucket"], event["inputData"]["key"]
    dataset = get_dataset(event_dataset(event))
    s3 = s3_client(event["inputData"].get("versionId", ""))
    data_format = (event.get("validationResult") or {}).get("dataFormat") or _sniff(
        s3, bucket, key, dataset.csv_delimiter
    )
    if data_format == "parquet":
        profile = profile_parquet(*read_footer_counts(s3, bucket, key))
    else:
        blocks = iter_blocks(s3, bucket, key, LIMITS.block_bytes)
        if feeds.is_gzip(key):  # decompressed a block at a time, never more than validated
            blocks = feeds.gunzip(blocks, MAX_FILE_BYTES, key.rsplit("/", 1)[-1])
        if data_format == "csv":
            profile = profile_csv(
                blocks, delimiter=dataset.csv_delimiter, null_markers=dataset.null_markers
            )
        else:
            profile = PROFILERS[data_format](blocks)
    result = report(profile, dataset.quality_threshold)
    put_score_metric(dataset.name, result["qualityScore"])
    return result


def put_score_metric(dataset: str, score: float) -> None:
    """DataQualityScore for the monitoring stack; a metrics outage does not fail the check."""
    import boto3

    try:
        boto3.client("cloudwatch").put_metric_data(
            Namespace=METRIC_NAMESPACE, MetricData=metric_data(dataset, DataQualityScore=score)
        )
    except Exception as error:  # botocore's errors; the score is still the answer
        print(f"warning: could not put DataQualityScore: {error}")


def _sniff(s3, bucket: str, key: str, csv_delimiter: str) -> str:
    size = object_size(s3, bucket, key)
    head = read_range(s3, bucket, key, 0, min(size, HEAD_BYTES) - 1)
    if feeds.is_gzip(key):
        name = key.rsplit("/", 1)[-1]
        pieces = feeds.gunzip([head], MAX_FILE_BYTES, name, HEAD_BYTES, partial=True)
        first = next(iter(pieces), b"")  # the content's first HEAD_BYTES, no more
        return sniff_format(FileFacts(key=key, size=MAX_FILE_BYTES, head=first), csv_delimiter)
    return sniff_format(FileFacts(key=key, size=size, head=head), csv_delimiter)
