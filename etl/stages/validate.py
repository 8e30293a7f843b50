"""Validate a landed file before any Spark work: name, extension, size, and content.

Deliberately pure Python on the standard library: the same functions run inside the
validation Lambda (which has neither Spark nor pyarrow), fed by S3 range reads there and by
local reads here. Content checks look at the first and last bytes only, so a 5 GB file costs
the same as a 5 KB one; full parsing happens in schema discovery, which asks
``json_lines_problem`` where a record it could not parse is.

Messages say where a problem is (line, column) and never quote the record: they travel
into notifications, logs and the workflow's execution history.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from etl.core import feeds
from etl.core.errors import ValidationFailed, one_line

ALLOWED_EXTENSIONS = feeds.ACCEPTED_EXTENSIONS
# The limit applies to what a reader gets: a gzip object's decompressed bytes.
MAX_FILE_BYTES = 5 * 1024**3
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 8
PARQUET_MAGIC = b"PAR1"
# Spark's JSON reader refuses values over 20 million characters; a record this long is
# refused by position instead of being read whole.
MAX_RECORD_BYTES = 16 * 1024**2
JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number"}
# A CSV file's delimiter when its dataset does not say (a new feed being onboarded): the
# first of these that splits every checked row into the header's fields, more than one.
# Semicolons are what spreadsheets write where the comma is the decimal mark.
CSV_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class FileFacts:
    """What validation needs to know about an object, however it was fetched."""

    key: str
    size: int
    head: bytes
    tail: bytes = b""

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def extension(self) -> str:
        """The format's extension, lower-cased: ``.csv`` for ``orders.CSV.gz`` too."""
        return feeds.split_extension(self.filename)[0]

    @property
    def compression(self) -> str:
        """``gzip`` for a ``.gz`` name, else empty."""
        return feeds.split_extension(self.filename)[1]

    @property
    def complete(self) -> bool:
        """True when ``head`` holds the whole object."""
        return self.size <= len(self.head)


@dataclass
class ValidationResult:
    """The validation Lambda's response shape (``isValid`` drives the workflow's Choice)."""

    isValid: bool
    filename: str
    fileFormat: str = ""
    fileSize: int = 0
    dataFormat: str = ""
    reason: str = ""
    validatedAt: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict:
        return asdict(self)


Blocks = Callable[[], Iterable[bytes]]


def validate_file(
    facts: FileFacts, read_blocks: Blocks | None = None, csv_delimiter: str | None = None
) -> ValidationResult:
    """Check every rule and return the verdict (never raises for bad input).

    ``read_blocks`` streams the whole object; only a gzip object is read that way (see
    ``check_file``), and without it only a gzip object held whole in ``head`` is read.
    ``csv_delimiter`` is the dataset's (``None``: sniffed, see ``CSV_DELIMITERS``).
    """
    try:
        data_format = check_file(facts, read_blocks, csv_delimiter)
    except ValidationFailed as failure:
        return ValidationResult(
            False, facts.filename, _file_format(facts), facts.size, reason=one_line(failure)
        )
    return ValidationResult(True, facts.filename, _file_format(facts), facts.size, data_format)


def _file_format(facts: FileFacts) -> str:
    return facts.extension + (feeds.GZIP_EXTENSION if facts.compression else "")


def check_file(
    facts: FileFacts, read_blocks: Blocks | None = None, csv_delimiter: str | None = None
) -> str:
    """Raise ``ValidationFailed`` on the first broken rule; return the data format.

    The data format is one of ``json`` (JSON lines), ``json_array``, ``csv``, ``parquet``;
    a gzip object has the format of its decompressed content. A gzip object's size and
    lines are checked on its decompressed bytes, streamed from ``read_blocks`` to the end
    (that is what proves the stream whole and within the size limit), a piece at a time.
    """
    check_filename(facts.key)
    check_extension(facts.filename)
    if facts.compression:
        if not facts.size:
            raise ValidationFailed(f"{facts.filename} is empty: nothing to process")
        facts = decompressed_facts(facts, read_blocks)
    check_size(facts)
    return sniff_format(facts, csv_delimiter)


def check_filename(key: str) -> None:
    """Names with spaces, dots and Unicode are fine; see ``etl.core.feeds.check_key``."""
    feeds.check_key(key)


def check_extension(filename: str) -> None:
    feeds.check_extension(filename)


def decompressed_facts(
    facts: FileFacts, read_blocks: Blocks | None = None, max_bytes: int = MAX_FILE_BYTES
) -> FileFacts:
    """The facts of a gzip object's content: its first ``HEAD_BYTES``, last ``TAIL_BYTES``
    and decompressed size, streamed with bounded memory; past ``max_bytes`` decompressed
    (a gzip bomb included) the read stops with ``ValidationFailed``."""
    if read_blocks is None:
        if not facts.complete:
            raise ValueError("a gzip object larger than its head needs read_blocks")
        read_blocks = lambda: [facts.head]  # noqa: E731
    head, tail, size = bytearray(), b"", 0
    for piece in feeds.gunzip(read_blocks(), max_bytes, facts.filename):
        if len(head) < HEAD_BYTES:
            head += piece[: HEAD_BYTES - len(head)]
        tail = (tail + piece)[-TAIL_BYTES:]
        size += len(piece)
    return FileFacts(key=facts.key, size=size, head=bytes(head), tail=tail)


def check_size(facts: FileFacts) -> None:
    if facts.size > MAX_FILE_BYTES:
        raise ValidationFailed(
            f"file too large: {facts.size} bytes (max {MAX_FILE_BYTES}); split it"
        )
    if facts.size == 0 or not facts.head.strip():
        raise ValidationFailed(f"{facts.filename} is empty: nothing to process")


def sniff_format(facts: FileFacts, csv_delimiter: str | None = None) -> str:
    """Decide how to read the file and check the start of it parses that way (a CSV file
    split at ``csv_delimiter``, else at the one ``sniff_delimiter`` finds)."""
    if facts.extension == ".parquet":
        return _check_parquet(facts)
    text = _decode_head(facts)
    stripped = text.lstrip("\ufeff \t\r\n")
    if facts.extension in (".json", *feeds.JSON_LINES_EXTENSIONS) or stripped[:1] in ("{", "["):
        return _check_json(facts, stripped)
    return _check_csv(facts, text, csv_delimiter)


def _check_parquet(facts: FileFacts) -> str:
    if not (facts.head.startswith(PARQUET_MAGIC) and facts.tail.endswith(PARQUET_MAGIC)):
        raise ValidationFailed(f"{facts.filename} is not a Parquet file (no PAR1 magic bytes)")
    return "parquet"


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode Text" starts with one


def _looks_utf16(head: bytes) -> bool:
    """A UTF-16 byte-order mark, then text whose high bytes are mostly zero (Latin text)."""
    if not head.startswith(UTF16_BOMS):
        return False
    body = head[2:1026]
    high = body[1::2] if head.startswith(b"\xff\xfe") else body[0::2]
    return len(high) >= 2 and high.count(0) * 3 >= len(high)


def _decode_head(facts: FileFacts) -> str:
    head = facts.head
    if _looks_utf16(head):
        raise ValidationFailed(
            f"{facts.filename} is UTF-16 text (Excel's 'Unicode Text'?): re-export it as "
            "UTF-8 (Excel: 'CSV UTF-8')"
        )
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of a partial read is not an error.
        if not facts.complete and error.start >= len(head) - 3:
            return head[: error.start].decode("utf-8")
        why, remedy = f"byte {error.start}", "re-export it as UTF-8"
        if _single_byte_text(head, error.start):
            why += "; it looks like Windows-1252 or Latin-1, what Excel's plain 'CSV' saves"
            remedy += " (Excel: 'CSV UTF-8')"
        raise ValidationFailed(f"{facts.filename} is not UTF-8 text ({why}): {remedy}") from None


def _single_byte_text(head: bytes, at: int) -> bool:
    """Whether the byte UTF-8 refuses is a letter of Windows-1252 (Latin-1's superset, é is
    0xE9) in text that decodes as such: what Excel's plain 'CSV' and older systems write."""
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return head[at] >= 0xA0


def _checked_lines(facts: FileFacts, text: str) -> list[str]:
    """The head's lines to check: all of a whole object, else the first 100 whole lines."""
    # Cut where Spark cuts (\n, \r\n, \r), not at every Unicode line boundary: a U+2028
    # inside a JSON string or a CSV field is content.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines if facts.complete else lines[:-1][:100]  # the last partial line may be cut


def _check_json(facts: FileFacts, text: str) -> str:
    decoder = json.JSONDecoder()
    if text.startswith("[") and facts.extension not in feeds.JSON_LINES_EXTENSIONS:
        body = text[1:].lstrip()
        if facts.complete:
            _loads(facts, text)
            return "json_array"
        if body.startswith("{"):
            _raw_decode(facts, decoder, body)
        return "json_array"
    if text.startswith("{") and text.split("\n", 1)[0].strip() == "{":
        raise ValidationFailed(_one_object_over_lines(facts, text))
    for number, line in enumerate(_checked_lines(facts, text), start=1):
        if line.strip():
            record = _loads(facts, line, number)
            if not isinstance(record, dict):
                raise ValidationFailed(
                    f"{facts.filename} line {number} is not a JSON object "
                    f"(it is {JSON_KINDS.get(type(record), 'a literal')})"
                )
            keys = list(record)
            blank = next((i for i, key in enumerate(keys, start=1) if not key.strip()), None)
            clash = f"key {blank} is empty; give every field a name" if blank else None
            clash = clash or name_clash(keys, "keys")
            if clash:
                raise ValidationFailed(f"{facts.filename} line {number}: {clash}")
    return "json"


def _one_object_over_lines(facts: FileFacts, text: str) -> str:
    """What to say of a file that opens one JSON object over several lines (an API response
    saved as it came), not JSON lines: and where its records are, when a whole file shows."""
    message = (
        f"{facts.filename} is one JSON object written over several lines, not JSON lines "
        "(an object per line) or an array of objects"
    )
    parsed = json_problem(text) if facts.complete else None
    document = parsed.value if isinstance(parsed, Parsed) else None
    lists = [
        (key, len(value))
        for key, value in (document.items() if isinstance(document, dict) else ())
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
    ]
    if len(lists) != 1:
        return message + "; write its records one per line (e.g. with jq -c)"
    key, count = lists[0]
    return (
        f"{message}; its {count:,} records look to be in {key!r}: write them one per line, "
        f"e.g. {records_one_per_line(facts.filename, key)}"
    )


def records_one_per_line(filename: str, key: str) -> str:
    """The ``jq`` command writing the records listed under ``key`` of a JSON document one
    per line, as JSON lines beside it."""
    path = f".{key}[]" if key.isidentifier() else f".[{json.dumps(key)}][]"
    return f"jq -c '{path}' {filename} > {filename.rsplit('.', 1)[0]}.jsonl"


def _loads(facts: FileFacts, text: str, line: int | None = None) -> object:
    problem = json_problem(text, line)
    if isinstance(problem, str):
        raise ValidationFailed(f"{facts.filename} is not parseable JSON ({problem})")
    return problem.value


def _raw_decode(facts: FileFacts, decoder: json.JSONDecoder, text: str) -> None:
    try:
        decoder.raw_decode(text)
    except json.JSONDecodeError as error:
        raise ValidationFailed(
            f"{facts.filename} is not parseable JSON (first record, line {error.lineno}, "
            f"column {error.colno}: {error.msg})"
        ) from None
    except RecursionError:
        raise ValidationFailed(
            f"{facts.filename} is not parseable JSON (first record: nested too deeply)"
        ) from None


@dataclass(frozen=True)
class Parsed:
    value: object


def json_problem(text: str | bytes, line: int | None = None) -> Parsed | str:
    """The parsed value, or where and why ``text`` is not JSON: ``line N, column C: why``.

    ``line`` numbers a single line of a JSON-lines file; without it the position is the
    document's own. Nesting deeper than Python's recursion limit (about 1,000 levels,
    Spark's limit too) is a problem, not a crash.
    """
    try:
        return Parsed(json.loads(text))
    except json.JSONDecodeError as error:
        number = line if line is not None else error.lineno
        return f"line {number}, column {error.colno}: {error.msg}"
    except UnicodeDecodeError as error:
        return f"line {line or '?'}: not UTF-8 text (byte {error.start + 1})"
    except RecursionError:
        return f"line {line or '?'}: nested too deeply (more than about 1,000 levels)"


def _oversized(number: int, size: int, max_record_bytes: int) -> str:
    return (
        f"line {number} is a {size / 1024**2:,.1f} MB record; records over "
        f"{max_record_bytes // 1024**2} MB are not supported (split it)"
    )


def oversized_line(chunks: Iterable[bytes], max_record_bytes: int = MAX_RECORD_BYTES) -> str | None:
    """Where the first line longer than ``max_record_bytes`` is, or None: a scan for line
    ends only, no parsing (the crawler's check of a file it typed from its head)."""
    number, carry = 0, 0  # lines before this chunk; length of the unfinished line
    for chunk in chunks:
        *complete, rest = chunk.split(b"\n")
        if complete and max(carry + len(complete[0]), *map(len, complete)) > max_record_bytes:
            for index, piece in enumerate(complete):
                size = len(piece) + (carry if index == 0 else 0)
                if size > max_record_bytes:
                    return _oversized(number + index + 1, size, max_record_bytes)
        if complete:
            number, carry = number + len(complete), len(rest)
        else:
            carry += len(rest)
    return _oversized(number + 1, carry, max_record_bytes) if carry > max_record_bytes else None


def longest_line_bound(
    read_at: Callable[[int, int], bytes], size: int, window: int = MAX_RECORD_BYTES // 2
) -> int:
    """At least the length of the longest line of an object of ``size`` bytes, read only from
    every ``window``-th byte to the next line end (``read_at(offset, n)`` returns up to ``n``
    bytes): every line lies between two of those line ends. About ``size / window`` small
    reads instead of reading it all; for lines much shorter than ``window`` the bound is
    under ``2 * window``, so ``oversized_line`` need only run when it is not.
    """
    bound, previous = 0, -1  # the last line end found (-1: before the first byte)
    for start in range(0, size, window):
        if start <= previous:
            continue  # that line end is also the first at or after ``start``
        end = _next_line_end(read_at, start, size)
        if end is None:
            break
        bound, previous = max(bound, end - previous - 1), end
    return max(bound, size - previous - 1)


def _next_line_end(read_at, start: int, size: int, piece: int = 1 << 16) -> int | None:
    position = start
    while position < size:
        block = read_at(position, min(piece, size - position))
        if not block:
            return None
        found = block.find(b"\n")
        if found >= 0:
            return position + found
        position += len(block)
    return None


def json_lines_problem(
    chunks: Iterable[bytes], max_record_bytes: int = MAX_RECORD_BYTES
) -> str | None:
    """Where the first record of a JSON-lines stream that cannot be read is, and why
    (``line N, column C: reason``), or None. Memory is bounded by ``max_record_bytes``:
    a longer line is a problem whatever it holds."""
    number, size, record = 0, 0, bytearray()

    def problem() -> str | None:
        if size > max_record_bytes:
            return _oversized(number, size, max_record_bytes)
        if not record.strip():
            return None
        parsed = json_problem(bytes(record), number)
        if isinstance(parsed, str):
            return parsed
        if not isinstance(parsed.value, dict):
            kind = JSON_KINDS.get(type(parsed.value), "a literal")
            return f"line {number} is not a JSON object (it is {kind})"
        return None

    for chunk in chunks:
        *complete, rest = chunk.split(b"\n")
        for piece in complete:
            size += len(piece)
            if size <= max_record_bytes:
                record += piece
            number += 1
            found = problem()
            if found:
                return found
            size, record = 0, bytearray()
        size += len(rest)
        if size <= max_record_bytes:
            record += rest
    if size:
        number += 1
        return problem()
    return None


def _check_csv(facts: FileFacts, text: str, delimiter: str | None = None) -> str:
    sample = "\n".join(_checked_lines(facts, text))
    if delimiter is None:
        delimiter = sniff_delimiter(sample, facts.complete)
    rows = _csv_rows(sample, delimiter, facts.complete)
    if len(rows) < 2:
        raise ValidationFailed(f"{facts.filename} has a header but no data rows")
    header = rows[0]
    problem = header_problem(header)
    if problem:
        raise ValidationFailed(f"{facts.filename}'s header: {problem}")
    split_at = "" if delimiter == "," else f" (fields split at {delimiter!r})"
    if len(header) == 1 and len({len(row) for row in rows[1:]}) == 1 and len(rows[1]) > 1:
        split_at = f"{split_at} (a title line above the header? the file must start with it)"
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValidationFailed(
                f"{facts.filename} row {number} has {len(row)} fields, header has "
                f"{len(header)}{split_at}"
            )
    return "csv"


def header_problem(header: list[str]) -> str | None:
    """What makes a CSV header unusable, or None: a column without a name, or two names
    Spark, the Glue catalog and Athena take for one (they ignore case)."""
    blank = [i for i, name in enumerate(header, start=1) if not name.strip()]
    if blank:
        hint = ""
        if blank == [1]:
            hint = " (pandas writes its index so; to_csv(index=False) leaves it out)"
        elif blank == [len(header)]:
            hint = " (does every line end with the delimiter?)"
        numbers = ", ".join(map(str, blank))
        return f"column {numbers} has no name{hint}; give every column a name"
    return name_clash(header, "columns")


def name_clash(names: list[str], what: str) -> str | None:
    """Two of ``names`` that Spark, the Glue catalog and Athena take for one (they ignore
    case), said with their positions, or None."""
    first: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        seen = first.setdefault(name.lower(), position)
        if seen != position:
            same = "is repeated" if names[seen - 1] == name else f"and {name!r} differ in case"
            return (
                f"{what} {seen} and {position}: {names[seen - 1]!r} {same}; Spark, the Glue "
                "catalog and Athena ignore case, so each column needs a name of its own"
            )
    return None


def sniff_delimiter(sample: str, complete: bool = True) -> str:
    """The first of ``CSV_DELIMITERS`` that splits every row of ``sample`` into the
    header's number of fields, more than one; a comma when none does (and the check then
    says which row is off)."""
    for delimiter in CSV_DELIMITERS:
        rows = _csv_rows(sample, delimiter, complete)
        if len(rows) >= 2 and len(rows[0]) > 1 and all(len(r) == len(rows[0]) for r in rows):
            return delimiter
    return ","


def _csv_rows(sample: str, delimiter: str, complete: bool) -> list[list[str]]:
    rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
    if not complete and len(rows) > 2:
        rows = rows[:-1]  # the sample's last record may be cut inside a quoted newline
    return rows
