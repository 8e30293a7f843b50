"""``etl datasets new``: propose a dataset folder from a sample file.

The sample is profiled with DuckDB (``etl.local.profiling``; no Spark, so it takes seconds)
and the proposal is written as ``<into>/<name>/dataset.yaml`` (commented, so a person can
review it) and ``<into>/<name>/expectations/<name>_raw.json`` (a great-expectations suite
that the sample itself passes). The proposal is chosen so that, unedited, ``etl run SAMPLE
--dataset NAME`` lands every row of a clean, duplicate-free file in curated, typed:

- no accepted values, no retention: nothing filters rows;
- the key is unique and never null in the sample, so dropping null keys drops nothing;
- ``deduplicate: exact`` (not ``key``): the key is a guess from one sample, and a wrong
  guess would make ``key`` drop distinct records of later files silently;
- expectations tolerate what the sample shows (``mostly`` below the observed share).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from etl.core.conventions import (
    DATA_PERIOD_COLUMNS,
    DEFAULT_DATABASE,
    PROCESS_PARTITIONS,
    QUARANTINE_COLUMNS,
    RESERVED_COLUMNS,
    RULE_COLUMN,
    sql_identifier,
)
from etl.core.datasets import (
    REPO_DATASETS,
    SPEC_FILE,
    SpecError,
    dataset_folders,
    read_spec_file,
    schema,
)
from etl.core.errors import EtlError, ValidationFailed
from etl.core.spec import DEFAULT_THRESHOLD
from etl.local.profiling import (
    IN_SET_MAX_VALUES,
    ColumnProfile,
    SampleProfile,
    SampleUnreadable,
    id_like,
    is_numeric,
    profile_sample,
)
from etl.stages.validate import (
    HEAD_BYTES,
    TAIL_BYTES,
    FileFacts,
    check_extension,
    check_filename,
    decompressed_facts,
    name_clash,
    records_one_per_line,
    sniff_format,
)

SUITE_FOLDER = "expectations"
MAX_TOTAL_ROWS = 3  # more rows saying 'Total' are data (a status), not a totals line
MOSTLY_MARGIN = 0.05  # expectations allow 5 points below what the sample shows
MOSTLY_CAP = 0.95
MAX_VALUE_EXPECTATIONS = 8  # each costs the quality gate about one Spark pass
NESTED_FIELDS_SHOWN = 4  # a nested column's comment lists this many of its fields
# Numeric ranges are widened by 10% of the observed span, or by 1/n of it for n values when
# that is more: n values leave gaps of about span/n, and a small sample's next file falls
# past its ends more often.
RANGE_MARGIN = 0.1
SHARE_FOR_CONTENT_PII = 0.5  # half the values look like e-mails/phone numbers
# The parts of a composed timestamp, in order, with the range their values must be in.
TIME_PARTS = {
    "year": (1, 9999),
    "month": (1, 12),
    "day": (1, 31),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}
# Whole seconds, milliseconds or microseconds since 1970 (UTC) that fall in 2000..2100, in a
# column named like a time: a timestamp made of it in derived is the time_column.
EPOCH_UNITS = {
    "seconds": ("timestamp_seconds", 1),
    "milliseconds": ("timestamp_millis", 10**3),
    "microseconds": ("timestamp_micros", 10**6),
}
EPOCH_SECONDS = (946_684_800, 4_102_444_800)  # 2000-01-01 and 2100-01-01, UTC
EPOCH_NAME = re.compile(r"time|epoch|unix|(^|_)(ts|at)$|^(created|updated|modified)")
YAML_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
YAML_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}

# PII guessed from a column's name: (what it is, name pattern, treatment).
# Matched on the snake-cased name. Besides English: Japanese (the seed tutorial's language;
# written without word breaks, so matched anywhere in the name), German, French, Spanish.
PII_NAMES = (
    (
        "an e-mail address",
        r"(^|_)(e_?mail|email_address|mail|courriel|correo)(_|$)|メール",
        "mask",
    ),
    ("an IP address", r"(^|_)(ip|ipv4|ipv6|ip_address|ip_addr)(_|$)", "hash"),
    (
        "a phone number",
        r"phone|(^|_)(mobile|tel|fax|msisdn|cell|telefon|téléphone|teléfono|handy)(_|$)"
        r"|電話|携帯",
        "hash",
    ),
    (
        "a person's name",
        r"(first|last|full|middle|given|family|maiden|customer|contact|person|user|display)"
        r"_?name|^(name|nom|nombre)$|surname|nom_de_famille|nom_client|nombre_cliente"
        r"|(^|_)(vorname|nachname|prénom|apellidos?)(_|$)"
        r"|氏名|名前|姓名|顧客名|会員名|お客様名|担当者名|利用者名|受取人名|フリガナ|ふりがな",
        "hash",
    ),
    (
        "a postal address",
        r"address|street|(^|_)(addr|adresse|anschrift|straße|strasse|dirección|direccion)(_|$)"
        r"|住所",
        "hash",
    ),
    (
        "a birth date",
        r"birth|(^|_)dob(_|$)|geburtsdatum|date_de_naissance|fecha_de_nacimiento|生年月日|誕生日",
        "hash",
    ),
    (
        "a national identifier",
        r"(^|_)(ssn|social_security|passport|national_id|tax_id|nin)(_|$)|マイナンバー|個人番号",
        "hash",
    ),
    ("a payment card or account", r"credit_card|card_number|(^|_)(iban|pan)(_|$)", "hash"),
)


class OnboardingError(EtlError):
    """The sample or the name cannot make a dataset; the message says what to change."""

    status = "INVALID_SPEC"


@dataclass(frozen=True)
class PiiGuess:
    column: str
    treatment: str  # "mask" | "hash"
    why: str


@dataclass(frozen=True)
class ComposedTime:
    name: str
    parts: dict[str, str]  # part ("year", ...) -> column


@dataclass(frozen=True)
class EpochTime:
    """A column of whole seconds (or milliseconds, microseconds) since 1970: the timestamp
    ``name`` is derived from it (``timestamp_millis(ts)``)."""

    name: str
    column: str
    unit: str  # a key of EPOCH_UNITS

    @property
    def expression(self) -> str:
        return f"{EPOCH_UNITS[self.unit][0]}({_sql_name(self.column)})"


@dataclass
class Proposal:
    """The spec proposed for a profiled sample (before it is written as text)."""

    name: str
    profile: SampleProfile
    null_markers: list[str]
    key: tuple[str, ...]
    composed: ComposedTime | None
    time_column: str | None
    pii: list[PiiGuess]
    epoch: EpochTime | None = None  # the time_column, derived from epoch numbers

    @property
    def spark_null_value(self) -> str | None:
        """The marker Spark's CSV reader turns into null (the first non-empty one)."""
        return next((m for m in self.null_markers if m), None)

    def raw_visible_markers(self, column: ColumnProfile) -> dict[str, int]:
        """Marker cells the raw read still sees as values (only CSV's first one is null)."""
        if self.profile.data_format != "csv":
            return dict(column.markers)
        return {m: n for m, n in column.markers.items() if m != self.spark_null_value}

    def raw_numeric(self, column: ColumnProfile) -> bool:
        """True when the raw table (what the suite runs on) holds this column as numbers."""
        if not is_numeric(column.type):
            return False
        if self.profile.data_format == "parquet":
            return True
        if column.type.startswith("decimal("):
            return False  # read as text, to cast exactly (DatasetSpec.read_as_text)
        if self.profile.data_format == "csv":
            return not self.raw_visible_markers(column)
        return column.json_numeric

    def is_pii(self, column: str) -> bool:
        return any(p.column == column for p in self.pii)

    @cached_property
    def curated_names(self) -> dict[str, str]:
        """``{feed column: curated name}``: lower-case snake case, as the Glue catalog and
        Athena want names (``Review ID`` -> ``review_id``), and a name the lake's tables add
        themselves moved aside (``data_year`` -> ``feed_data_year``). A name that would
        collide with another column's keeps the feed's."""
        taken = {c.name for c in self.profile.columns}
        names: dict[str, str] = {}
        for column in self.profile.columns:
            if column.nested:
                continue
            wanted = curated_name(column.name)
            if wanted != column.name and wanted not in taken | set(names.values()):
                names[column.name] = wanted
        return names

    def curated(self, column: str) -> str:
        return self.curated_names.get(column, column)

    @property
    def text_numbers(self) -> list[ColumnProfile]:
        """Columns of numbers Spark reads as text: ``derived`` casts them."""
        return [c for c in self.profile.columns if c.text_number]

    @property
    def has_derived(self) -> bool:
        """True when the spec gets a ``derived`` section of its own."""
        return bool(self.text_numbers or self.epoch)


@dataclass
class NewDataset:
    """What ``new_dataset`` wrote, and the summary ``etl datasets new`` prints."""

    name: str
    source: Path
    folder: Path
    spec_path: Path
    suite_path: Path
    proposal: Proposal
    expectations: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        profile, proposal = self.proposal.profile, self.proposal
        columns = profile.columns
        types: dict[str, int] = {}
        for column in columns:
            written = column.text_number
            kind = f"double ({written})" if written else column.type or "nested"
            types[kind] = types.get(kind, 0) + 1
        formats = [f"{c.name}: {c.format}" for c in columns if c.format]
        type_line = ", ".join(f"{t} {n}" for t, n in types.items())
        if formats:
            type_line += f" ({'; '.join(formats)})"
        lines = [
            f"Proposed dataset {self.name!r} from {_shown(self.source)} ({profile.data_format}, "
            f"{profile.rows:,} rows, {len(columns)} columns) in {self.seconds:.1f} s:",
            f"  wrote {_shown(self.spec_path)}",
            f"  wrote {_shown(self.suite_path)} ({self.expectations} expectations)",
            "",
            f"  types       {type_line}",
            f"  nulls       {_markers_line(proposal)}",
            f"  key         {_key_line(proposal)}",
            f"  time        {_time_line(proposal)}",
            f"  pii         {_pii_line(proposal)}",
            *_names_line(proposal),
            f"  duplicates  {_duplicates_line(profile)}",
        ]
        lines += [f"  note: {note}" for note in self.notes]
        run = f"etl run {_shown(self.source)} --dataset {self.name}"
        lines += [
            "",
            "Next:",
            f"  1. review {_shown(self.spec_path)}: types, key, time_column, the PII guesses",
            "     (each says why); add accepted_values, retention, derived columns, references",
            "     or summaries where the feed needs them (commented examples inside)",
            f"  2. etl datasets check            (validates every spec, {self.name} included)",
            f"  3. {run}",
            f'  4. etl query "SELECT count(*) FROM {DEFAULT_DATABASE}.{self.name}"',
        ]
        return "\n".join(lines)


def new_dataset(name: str, source: Path, into: str | None, force: bool = False) -> NewDataset:
    """Profile ``source`` and write ``<into>/<name>/`` (spec + suite); see the module doc."""
    started = time.perf_counter()
    _check_name(name)
    data_format = _data_format(source)
    base = Path(into) if into else default_into()
    folder = base / name
    spec_path = folder / SPEC_FILE
    suite_path = folder / SUITE_FOLDER / f"{name}_raw.json"
    if folder.exists() and not force:
        raise OnboardingError(
            f"{_shown(folder)} already exists: pass --force to rewrite its {SPEC_FILE} and "
            f"{SUITE_FOLDER}/{suite_path.name} (other files there are kept), or pick another name"
        )
    if folder.exists() and not folder.is_dir():
        raise OnboardingError(f"{_shown(folder)} exists and is not a folder")
    try:
        profile = profile_sample(source, data_format)
    except SampleUnreadable as error:
        raise OnboardingError(f"cannot read {source.name} as {data_format}: {error}") from None
    if profile.rows == 0:
        raise OnboardingError(f"{source.name} has no data rows: nothing to profile")
    wrapped = _records_inside(profile) if profile.rows == 1 else None
    if wrapped:
        raise OnboardingError(
            f"{source.name} has one record, whose {wrapped!r} is a list of objects: an API "
            "response? A feed has a record per line; write them so, e.g. "
            + records_one_per_line(source.name, wrapped)
        )
    if not profile.columns:
        raise OnboardingError(f"{source.name} has no columns")
    clash = name_clash(list(profile.file_names), "columns")
    if clash:  # validation checks a CSV's header and each JSON record's keys
        raise OnboardingError(f"{source.name}: {clash}")
    proposal = propose(name, profile)
    suite = build_suite(proposal)
    spec_text = render_spec(proposal, source, spec_path)
    _write(folder, spec_text, suite, suite_path.relative_to(folder))
    notes = _notes(name, source, base, folder, proposal)
    return NewDataset(
        name,
        source,
        folder,
        spec_path,
        suite_path,
        proposal,
        len(suite["expectations"]),
        time.perf_counter() - started,
        notes,
    )


def default_into() -> Path:
    """The first folder of ``$ETL_DATASETS_DIR``, else the checkout's ``datasets/``."""
    configured = [p for p in os.environ.get("ETL_DATASETS_DIR", "").split(os.pathsep) if p]
    return Path(configured[0]) if configured else REPO_DATASETS


def _check_name(name: str) -> None:
    identifier = schema()["$defs"]["identifier"]
    if not re.fullmatch(identifier["pattern"], name):
        raise OnboardingError(
            f"invalid dataset name {name!r}: expected {identifier['description']} "
            "(at most 63 characters), e.g. 'flights' or 'sales_2024'"
        )


def _data_format(source: Path) -> str:
    """How the pipeline will read ``source``: its own validation stage decides."""
    if not source.is_file():
        raise OnboardingError(f"no such file: {source}")
    size = source.stat().st_size
    with source.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        handle.seek(max(0, size - TAIL_BYTES))
        tail = handle.read(TAIL_BYTES)
    facts = FileFacts(key=source.name, size=size, head=head, tail=tail)
    try:
        check_extension(source.name)
        if facts.compression and size:
            facts = decompressed_facts(facts, lambda: _blocks(source))
        if facts.size == 0 or not facts.head.strip():
            raise ValidationFailed(f"{source.name} is empty: nothing to profile")
        return sniff_format(facts)
    except ValidationFailed as error:
        raise OnboardingError(str(error)) from None


def _blocks(source: Path, block_bytes: int = 8 << 20):
    with source.open("rb") as handle:
        while block := handle.read(block_bytes):
            yield block


def propose(name: str, profile: SampleProfile) -> Proposal:
    """The proposed rules for a profiled sample."""
    seen: dict[str, int] = {}
    for column in profile.columns:
        for marker, cells in column.markers.items():
            seen[marker] = seen.get(marker, 0) + cells
    if profile.data_format == "csv" and any(c.nulls for c in profile.columns):
        seen.setdefault("", 0)  # empty fields: null in every reader, listed for the reader
    # The most frequent non-empty marker first: Spark's CSV reader nulls that one itself.
    markers = sorted(seen, key=lambda m: (m == "", -seen[m], m))
    composed = _composed_time(profile)
    timestamps = [c.name for c in profile.columns if c.type == "timestamp"]
    dates = [c.name for c in profile.columns if c.type == "date"]
    time_column = composed.name if composed else next(iter(timestamps + dates), None)
    epoch = None if time_column else _epoch_time(profile)
    return Proposal(
        name=name,
        profile=profile,
        null_markers=markers,
        key=profile.key,
        composed=composed,
        time_column=epoch.name if epoch else time_column,
        epoch=epoch,
        pii=[g for g in map(guess_pii, profile.columns) if g is not None],
    )


def _composed_time(profile: SampleProfile) -> ComposedTime | None:
    """``[prefix]year/month/day[/hour[/minute[/second]]]`` integer columns, each within its
    natural range, become one composed timestamp."""
    by_name = {c.name.lower(): c for c in profile.columns}
    for column in profile.columns:
        lowered = column.name.lower()
        if not lowered.endswith("year"):
            continue
        prefix = lowered[: -len("year")]
        parts: dict[str, str] = {}
        for part, bounds in TIME_PARTS.items():  # in order: a minute needs an hour
            candidate = by_name.get(prefix + part)
            if candidate is None or not _integer_in(candidate, bounds):
                break
            parts[part] = candidate.name
        if len(parts) >= 3:  # year, month and day at least
            taken = {c.name.lower() for c in profile.columns}
            stem = f"{prefix}timestamp" if prefix else "event_time"
            return ComposedTime(stem if stem not in taken else f"{stem}_composed", parts)
    return None


def _epoch_time(profile: SampleProfile) -> EpochTime | None:
    """The first integer column named like a time whose values are all seconds (or
    milliseconds, microseconds) since 1970 between 2000 and 2100."""
    taken = {c.name.lower() for c in profile.columns}
    for column in profile.columns:
        if not EPOCH_NAME.search(_snake(column.name)):
            continue
        for unit, (_, scale) in EPOCH_UNITS.items():
            if _integer_in(column, (EPOCH_SECONDS[0] * scale, EPOCH_SECONDS[1] * scale)):
                stem = _snake(column.name)
                names = ["event_time", f"{stem}_timestamp"]
                if not re.search(r"time|epoch|unix|^ts$", stem):
                    names.insert(0, f"{stem}_time")
                name = next((n for n in names if n not in taken), f"{stem}_as_timestamp")
                return EpochTime(name, column.name, unit)
    return None


def _integer_in(column: ColumnProfile, bounds: tuple[int, int]) -> bool:
    integers = ("tinyint", "smallint", "int", "bigint")
    if column.type not in integers or column.minimum is None:
        return False
    return bounds[0] <= column.minimum and column.maximum <= bounds[1]


def guess_pii(column: ColumnProfile) -> PiiGuess | None:
    """PII from the column's name (email, phone, name, address, ...) or values."""
    if column.nested:
        return _nested_pii(column)
    if column.type in ("boolean", "double", "float"):
        return None
    snake = _snake(column.name)
    email_share = column.email_like / column.values if column.values else 0.0
    phone_share = column.phone_like / column.values if column.values else 0.0
    for what, pattern, treatment in PII_NAMES:
        if re.search(pattern, snake):
            if treatment == "mask" and column.values and email_share < SHARE_FOR_CONTENT_PII:
                treatment = "hash"  # the e-mail mask would leave other values readable
            return PiiGuess(column.name, treatment, f"its name looks like {what}")
    if column.type == "string" and email_share >= SHARE_FOR_CONTENT_PII:
        return PiiGuess(
            column.name, "mask", f"{email_share:.0%} of its values are e-mail addresses"
        )
    if column.type == "string" and phone_share >= SHARE_FOR_CONTENT_PII:
        return PiiGuess(
            column.name, "hash", f"{phone_share:.0%} of its values look like phone numbers"
        )
    return None


def _nested_pii(column: ColumnProfile) -> PiiGuess | None:
    """A nested column passes through whole: one holding PII is dropped whole (``derived``
    can take out what curated needs, see ``_pii_section``)."""
    for path in column.nested_fields:
        what = _pii_name(path)
        if what:
            return PiiGuess(column.name, "drop", f"its field {path} looks like {what}")
    if column.nested_emails:
        path = column.nested_emails[0]
        return PiiGuess(column.name, "drop", f"its field {path} holds e-mail addresses")
    if column.email_like:
        share = column.email_like / column.values if column.values else 0.0
        return PiiGuess(column.name, "drop", f"{share:.0%} of its values hold an e-mail address")
    return None


def _pii_name(path: str) -> str | None:
    """What a nested field's name says it holds (``user.email``: an e-mail address)."""
    leaf = _snake(path.rsplit(".", 1)[-1].removesuffix("[]"))
    return next((what for what, pattern, _ in PII_NAMES if re.search(pattern, leaf)), None)


def curated_name(name: str) -> str:
    """The name curated should give a feed column: ``name`` when it is fine as it is."""
    if name in DATA_PERIOD_COLUMNS:
        return f"feed_{name}"
    snake = _snake(name)
    return snake if re.fullmatch(r"[^\W\d]\w*", snake) else name


def _snake(name: str) -> str:
    """Lower-case snake case, letters of every script kept (``Größe (kg)`` -> ``größe_kg``,
    ``注文ID`` -> ``注文id``): the Glue catalog takes any lower-case UTF-8 name."""
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    return re.sub(r"\W+", "_", snake).strip("_")


# --- the expectation suite --------------------------------------------------------------


def mostly(share: float) -> float:
    """``mostly`` for an expectation the sample meets on ``share`` of its rows: floored to
    hundredths, ``MOSTLY_MARGIN`` below it, at most ``MOSTLY_CAP``."""
    floored = math.floor(round(share * 100, 6)) / 100
    return round(min(MOSTLY_CAP, floored - MOSTLY_MARGIN), 2)


def build_suite(proposal: Proposal) -> dict:
    """A great-expectations suite profiled from the sample, which the sample passes.

    Each column-value expectation costs the gate about one Spark pass over the raw data, so
    at most ``MAX_VALUE_EXPECTATIONS`` are proposed (orders' suite has five), in order of
    what protects the run most: key not null, date layouts, categories, time parts, ranges.
    The rest are named in the suite's notes, ready to add. Identifiers (``_identifier``) get
    no range: tomorrow's file has ids past today's sample.
    """
    profile = proposal.profile
    expectations: list[dict] = [
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 1},
            "meta": {"why": "an empty file is never a valid delivery"},
        }
    ]
    expectations += [
        {"type": "expect_column_to_exist", "kwargs": {"column": name}} for name in proposal.key
    ]
    candidates = [
        *(_not_null(proposal, name) for name in proposal.key),
        *(_layout(proposal, c) for c in profile.columns if c.format_regex),
        *(_in_set(proposal, c) for c in profile.columns if _categorical(c, proposal)),
    ]
    parts = {c: p for p, c in proposal.composed.parts.items()} if proposal.composed else {}
    numeric = [
        c for c in profile.columns if proposal.raw_numeric(c) and not _identifier(c, proposal)
    ]
    numeric.sort(key=lambda c: c.name not in parts or parts[c.name] == "year")
    candidates += [_between(c, parts.get(c.name)) for c in numeric]
    candidates = [e for e in candidates if e is not None]
    chosen, left_out = (
        candidates[:MAX_VALUE_EXPECTATIONS],
        candidates[MAX_VALUE_EXPECTATIONS:],
    )
    notes = (
        f"Proposed by `etl datasets new` from {profile.rows} sample rows: the gate for raw "
        f"{proposal.name} files before the Glue job runs. Every expectation passes on the "
        "sample; tighten or loosen them as you learn the feed."
    )
    if left_out:
        notes += (
            " Left out to keep the gate as fast as orders' (each costs a pass over the data): "
            + ", ".join(f"{e['type']} on {e['kwargs']['column']}" for e in left_out)
            + "."
        )
    return {
        "name": f"{proposal.name}_raw",
        "meta": {"notes": notes},
        "expectations": expectations + chosen,
    }


def _not_null(proposal: Proposal, name: str) -> dict:
    column = proposal.profile.column(name)
    # Spark reads empty fields and the CSV null marker as null.
    raw_nulls = column.nulls + column.markers.get(proposal.spark_null_value or "", 0)
    share = 1.0 - raw_nulls / column.rows
    return {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": name, "mostly": mostly(share)},
        "meta": {
            "why": f"key column; {share:.0%} non-null in the sample, rows without a key are dropped"
        },
    }


def _value_share(proposal: Proposal, column: ColumnProfile) -> float:
    """The share of the raw read's non-null cells that are values (not markers)."""
    extra = sum(proposal.raw_visible_markers(column).values())
    return column.values / (column.values + extra) if column.values else 0.0


def _layout(proposal: Proposal, column: ColumnProfile) -> dict | None:
    share = _value_share(proposal, column)
    if not column.values or mostly(share) < 0.5:
        return None
    return {
        "type": "expect_column_values_to_match_regex",
        "kwargs": {
            "column": column.name,
            "regex": f"^{column.format_regex}$",
            "mostly": mostly(share),
        },
        "meta": {
            "why": f"the transform parses {column.format}; another layout would null every value"
        },
    }


def _in_set(proposal: Proposal, column: ColumnProfile) -> dict:
    # The raw read still holds the markers Spark does not null: they belong to the set.
    values = proposal.profile.value_sets[column.name] + sorted(proposal.raw_visible_markers(column))
    return {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {
            "column": column.name,
            "value_set": list(dict.fromkeys(values)),
            "mostly": MOSTLY_CAP,
        },
        "meta": {
            "why": f"the sample has {column.distinct} values; a few new ones are tolerated, "
            "a flood is not"
        },
    }


def _between(column: ColumnProfile, part: str | None) -> dict | None:
    bounds = _range(column, part)
    if bounds is None:
        return None
    return {
        "type": "expect_column_values_to_be_between",
        "kwargs": {
            "column": column.name,
            "min_value": bounds[0],
            "max_value": bounds[1],
            "mostly": MOSTLY_CAP,
        },
        "meta": {"why": bounds[2]},
    }


def _identifier(column: ColumnProfile, proposal: Proposal) -> bool:
    """A key column, or one named like an id (``profiling.id_like``): no range, since the
    next delivery's new ids lie past the sample's."""
    return column.name in proposal.key or id_like(_snake(column.name))


def _categorical(column: ColumnProfile, proposal: Proposal) -> bool:
    """A low-cardinality text column whose values repeat (and that is not PII)."""
    return (
        column.type == "string"
        and not column.text_number
        and column.name in proposal.profile.value_sets
        and 0 < column.distinct <= IN_SET_MAX_VALUES
        and column.values >= 2 * column.distinct
        and not proposal.is_pii(column.name)
    )


def _range(column: ColumnProfile, part: str | None) -> tuple[float, float, str] | None:
    """Bounds for a numeric column: a time part's natural range, else the observed range
    widened by ``RANGE_MARGIN`` of its span, more for a small sample (a constant column gets
    none)."""
    if part is not None and part != "year":
        low, high = TIME_PARTS[part]
        return low, high, f"the {part} of the composed timestamp"
    low, high = column.minimum, column.maximum
    if low is None or high is None or low == high:
        return None
    share = max(RANGE_MARGIN, 1 / column.values) if column.values else RANGE_MARGIN
    margin = (high - low) * share
    lower = low - margin if low < 0 else max(0.0, low - margin)
    upper = high + margin
    if column.type in ("tinyint", "smallint", "int", "bigint"):
        lower, upper = math.floor(lower), math.ceil(upper)
    else:
        lower, upper = _round_down(lower), _round_up(upper)
    why = (
        f"the sample's range is {_number(low)}..{_number(high)}, widened by {share:.0%} of its span"
    )
    return lower, upper, why


def _round_down(value: float) -> float:
    return math.floor(value * 100) / 100


def _round_up(value: float) -> float:
    return math.ceil(value * 100) / 100


# --- the spec, as commented YAML --------------------------------------------------------


def _records_inside(profile: SampleProfile) -> str | None:
    """The column of a one-record JSON sample holding a list of objects (``data[].id``):
    the records of an API response saved whole, which the feed should carry one per line."""
    lists = [
        c.name
        for c in profile.columns
        if c.nested
        and c.is_text_source
        and any(f.startswith(f"{c.name}[].") for f in c.nested_fields)
    ]
    return lists[0] if len(lists) == 1 else None


def _nested_shape(column: ColumnProfile) -> str:
    """A nested column as a person reads it: Parquet's own type, or for JSON (read as text)
    whether it holds objects or lists and the fields seen (``items[].sku, items[].qty``)."""
    if not column.is_text_source:
        return column.source_type
    fields = column.nested_fields
    kind = "a list" if (column.example or "").lstrip().startswith("[") else "an object"
    if not fields:
        return f"{kind} of values" if kind == "a list" else kind
    shown = ", ".join(fields[:NESTED_FIELDS_SHOWN])
    more = (
        f", +{len(fields) - NESTED_FIELDS_SHOWN} more" if len(fields) > NESTED_FIELDS_SHOWN else ""
    )
    return f"{kind}: {shown}{more}"


def _yaml(value: str) -> str:
    """A YAML scalar: plain when that reads back as the same string, else double-quoted."""
    if YAML_PLAIN.fullmatch(value) and value.lower() not in YAML_RESERVED:
        return value
    return json.dumps(value, ensure_ascii=False)


def _flow_list(values) -> str:
    return "[" + ", ".join(_yaml(v) for v in values) + "]"


def _with_comment(text: str, comment: str, width: int = 44) -> str:
    return f"{text.ljust(width)} # {comment}" if comment else text


def render_spec(proposal: Proposal, source: Path, spec_path: Path) -> str:
    """``dataset.yaml`` as commented text (comments survive; ``yaml.dump`` would drop them)."""
    profile = proposal.profile
    name = proposal.name
    lines = [
        f"# yaml-language-server: $schema={_schema_reference(spec_path)}",
        f"# Proposed by `etl datasets new {name} --from {source.name}` from {profile.rows:,} rows",
        f"# x {len(profile.columns)} columns. Every rule below is a guess from that sample:",
        "# review it (the comments say what each guess rests on), then `etl datasets check`.",
        f"name: {name}",
        "description: >-",
        f"  {_description_text(source, profile)}",
        "",
    ]
    lines += _format_section(proposal)
    lines += _columns_section(proposal)
    lines += _key_section(proposal)
    lines += _time_section(proposal)
    lines += _derived_section(proposal)
    lines += _pii_section(proposal)
    lines += [
        "# More rules, when the feed needs them (see datasets/orders/dataset.yaml):",
        "# required: [a_column]                # columns every file must have",
        "# derived:                            # new columns as Spark SQL expressions",
        "#   total: quantity * price",
        "# references:                         # a CSV in this folder, joined on its key",
        "#   - {table: regions, file: reference/regions.csv, key: region_code, "
        "columns: [region_name]}",
        "# column_order: [a_column, another]   # curated columns first in this order",
        "",
        "# The gate before anything is written to curated: the quality score (100 - null% -",
        "# duplicate%) must reach the threshold and the expectation suite must pass.",
        "quality:",
        f"  threshold: {DEFAULT_THRESHOLD:g}",
        f"  suite: {SUITE_FOLDER}/{name}_raw.json       # profiled from the sample; edit freely",
        "",
    ]
    lines += _summaries_example(proposal)
    return "\n".join(lines) + "\n"


def _schema_reference(spec_path: Path) -> str:
    schema_file = Path(__file__).resolve().parents[1] / "core" / "dataset.schema.json"
    try:
        return os.path.relpath(schema_file, spec_path.resolve().parent)
    except ValueError:  # another drive
        return str(schema_file)


def _description_text(source: Path, profile: SampleProfile) -> str:
    return (
        f"Proposed from {source.name} ({profile.data_format}, {profile.rows} rows). "
        "Say what the feed is, who sends it and how often."
    )


def _format_section(proposal: Proposal) -> list[str]:
    profile = proposal.profile
    lines = ["# How the file is read."]
    if proposal.null_markers:
        where = _marker_places(proposal)
        lines += [
            "# Null markers: text read as null before any cast, so a numeric column holding",
            "# NA is a numeric column with nulls. Seen in the sample: " + where + ".",
            "format:",
            f"  null_markers: {_flow_list(proposal.null_markers)}",
        ]
    else:
        lines += [
            "# No null markers (NA, N/A, NULL, ...) were seen; add them if the feed uses some:",
            "format:",
            "  null_markers: []",
        ]
    if profile.data_format == "csv" and profile.csv_delimiter != ",":
        lines.append(f"  csv_delimiter: {json.dumps(profile.csv_delimiter)}")
    return [*lines, ""]


def _marker_places(proposal: Proposal) -> str:
    parts = []
    for marker in proposal.null_markers:
        columns = [c.name for c in proposal.profile.columns if c.markers.get(marker)]
        if marker == "":
            empty = [c.name for c in proposal.profile.columns if c.nulls or c.markers.get("")]
            parts.append(f"empty fields in {len(empty)} column(s)")
            continue
        cells = sum(c.markers.get(marker, 0) for c in proposal.profile.columns)
        parts.append(f"{marker!r} in {len(columns)} column(s), {cells:,} cells")
    return "; ".join(parts)


def _columns_section(proposal: Proposal) -> list[str]:
    lines = [
        "# The raw feed's columns as discovered. No type means text (codes keep their leading",
        "# zeros); a date or timestamp given as text has the Spark pattern it is parsed with",
        "# (a value that does not parse becomes null). Add `normalize: {trim: true, case: upper}`",
        "# or `accepted_values: [A, B]` (rows with another value are dropped) where needed.",
    ]
    if proposal.curated_names:
        lines += [
            "# `curated_name` is a column's name in curated: lower-case snake case, as the Glue",
            "# catalog and Athena want names. Every other rule names the feed's column;",
            "# column_order and summaries, which describe curated, name the curated one.",
        ]
    lines += [
        "columns:",
    ]
    for column in proposal.profile.columns:
        if column.nested:
            dropped = any(g.column == column.name for g in proposal.pii)
            fate = "dropped: see pii" if dropped else "passed through unchanged"
            lines.append(
                f"  # {_yaml(column.name)}: a nested column ({_nested_shape(column)}), {fate}"
            )
            continue
        fields = [] if column.type == "string" else [f"type: {_yaml(column.type)}"]
        if column.format:
            fields.append(f"format: {json.dumps(column.format)}")
        if column.name in proposal.curated_names:
            fields.append(f"curated_name: {_yaml(proposal.curated_names[column.name])}")
        body = "{" + ", ".join(fields) + "}"
        lines.append(
            _with_comment(f"  {_yaml(column.name)}: {body}", _column_comment(column, proposal))
        )
    if all(c.nested for c in proposal.profile.columns):
        lines[lines.index("columns:")] = "columns: {}  # every column is nested: none to type"
    return [*lines, ""]


def _column_comment(column: ColumnProfile, proposal: Proposal) -> str:
    notes = []
    if column.values == 0:
        return "no values in the sample: read as text"
    if column.digits and is_numeric(column.type):
        notes.append(f"{column.digits} significant digits, past a double's 15: a decimal")
    if is_numeric(column.type) and column.minimum is not None:
        notes.append(f"{_number(column.minimum)}..{_number(column.maximum)}")
    elif column.text_number:
        span = f"{_number(column.minimum)}..{_number(column.maximum)}"
        notes.append(
            f"{column.text_number} (e.g. {column.example!r}, {span}): made a number in derived"
        )
    elif column.type == "string" and column.leading_zeros:
        notes.append(f"text: codes with leading zeros, e.g. {column.example!r}")
    elif column.long_digits:
        notes.append(
            f"text: whole numbers past bigint (a double would round them), e.g. {column.example!r}"
        )
    elif column.digits:
        notes.append(
            f"text: numbers of up to {column.digits} digits, past what a decimal holds, "
            f"e.g. {_truncate(column.example)!r}"
        )
    elif column.type == "string" and 0 < column.distinct <= IN_SET_MAX_VALUES:
        notes.append(f"text, {column.distinct} values, e.g. {column.example!r}")
    elif column.example is not None:
        notes.append(f"e.g. {_truncate(column.example)!r}")
    if column.ambiguous_formats:
        notes.append(f"{', '.join(column.ambiguous_formats)} fits too: check which it is")
    missing = column.rows - column.values
    if missing:
        share = missing / column.rows
        notes.append(f"{share:.1%} null" if share >= 0.001 else f"{missing} null")
    if proposal.is_pii(column.name):
        notes.append("PII, see pii:")
    return "; ".join(notes)


def _key_section(proposal: Proposal) -> list[str]:
    lines = [
        "# The key: rows with a null in a key column are dropped; the suite expects it not",
        "# null. `deduplicate: exact` drops rows that repeat another row in every column;",
        "# `key` would keep one row per key, but this key is a guess from one sample and a wrong",
        "# guess would silently drop distinct records, so switch only once the key is confirmed.",
    ]
    if proposal.key:
        lines.append(
            _with_comment(
                f"key: {_flow_list(proposal.key)}",
                f"unique and never null in the {proposal.profile.rows:,} sample rows",
            )
        )
    else:
        lines.append(
            "# key: [a_column]    # no combination of up to 4 columns was unique and never null"
        )
    return [*lines, "deduplicate: exact", ""]


def _time_section(proposal: Proposal) -> list[str]:
    lines = []
    if proposal.composed:
        parts = ", ".join(f"{p}: {_yaml(c)}" for p, c in proposal.composed.parts.items())
        lines += [
            "# A timestamp composed from the columns that hold its parts (make_timestamp; a",
            "# missing hour/minute/second is 0).",
            "timestamps:",
            f"  {_yaml(proposal.composed.name)}: {{{parts}}}",
        ]
    if proposal.time_column:
        lines += [
            "# The record's time: curated gets data_year/data_month from it (and retention",
            "# keeps only recent rows by it, when set).",
            f"time_column: {_yaml(proposal.time_column)}",
        ]
    else:
        lines.append("# time_column: a_timestamp   # no date or timestamp column was found")
    lines += [
        "# retention: {days: 365}   # keep only rows whose time_column is in the last N days",
        "",
    ]
    return lines


def _derived_section(proposal: Proposal) -> list[str]:
    """Numbers Spark reads as text, made numbers: with a decimal comma (Spark reads only
    ``.`` as the decimal mark), or with a currency sign or thousands separators. Derived
    columns are made before PII treatment and summaries, and a name of the raw feed keeps
    its place."""
    columns = proposal.text_numbers
    epoch = proposal.epoch
    if not columns and not epoch:
        return []
    lines = []
    if columns:
        lines += [
            "# Numbers written as text (21,5; $1,234.50; 1.234,50 €; 72 % is 72): read as",
            "# text, made numbers here (a value that does not parse becomes null).",
        ]
    if epoch:
        lines += [
            f"# {epoch.column} holds {epoch.unit} since 1970 (UTC): {epoch.name} is that time as",
            "# a timestamp, and the time_column.",
        ]
    lines.append("derived:")
    for column in columns:
        lines.append(f"  {_yaml(column.name)}: {json.dumps(_number_cast(column))}")
    if epoch:
        lines.append(f"  {_yaml(epoch.name)}: {json.dumps(epoch.expression)}")
    return [*lines, ""]


def _number_cast(column: ColumnProfile) -> str:
    """Spark SQL that makes the column's written numbers doubles."""
    return column.number_layout.number(_sql_name(column.name))


def _pii_section(proposal: Proposal) -> list[str]:
    lines = [
        "# PII: mask writes <column>_masked (al***@x.com), hash writes <column>_hash (SHA-256),",
        "# drop removes the column; the raw value never reaches curated. <column> is the",
        "# curated_name when the column has one.",
    ]
    if not proposal.pii:
        return [
            *lines,
            "# None was guessed from the column names or values. To protect a column:",
            "# pii: {email: {treatment: mask}}",
            "",
        ]
    nested = [proposal.profile.column(g.column) for g in proposal.pii]
    lines += _nested_drop_hint([c for c in nested if c.nested], proposal.has_derived)
    lines.append("pii:")
    for guess in proposal.pii:
        lines.append(
            _with_comment(
                f"  {_yaml(guess.column)}: {{treatment: {guess.treatment}}}",
                f"guessed: {guess.why}",
            )
        )
    return [*lines, ""]


def _nested_drop_hint(columns: list[ColumnProfile], has_derived: bool) -> list[str]:
    """How to keep some of the nested columns PII drops: derived columns (made before the
    PII treatment, ``etl.stages.transform.curate``), their PII fields hashed. One top-level
    ``derived`` line to uncomment as it stands, or, when the spec has a ``derived`` section
    already (a second would be an error), entries to add to it."""
    if not columns:
        return []
    names = " and ".join(column.name for column in columns)
    verb = "is" if len(columns) == 1 else "are"
    example = [entry for column in columns for entry in _derived_fields(column)]
    if not example:
        return [f"# {names} {verb} nested and dropped whole below; derive what curated needs."]
    if has_derived:
        return [
            f"# {names} {verb} nested and dropped whole below; to keep some of it, add lines",
            "# like these to derived: above (derived columns are made before the PII treatment):",
            *(f"#   {entry}" for entry in example),
        ]
    return [
        f"# {names} {verb} nested and dropped whole below; to keep some of it, uncomment",
        "# this line (derived columns are made before the PII treatment) and edit it:",
        f"# derived: {{{', '.join(example)}}}",
    ]


def _derived_fields(column: ColumnProfile) -> list[str]:
    """A few of a nested column's plain fields, and its PII fields hashed, as derived."""
    paths = column.nested_fields
    leaves = [p for p in paths if not any(q.startswith((f"{p}.", f"{p}[]")) for q in paths)]
    fields = [p for p in leaves if "[]" not in p]  # one value per row: a column of its own
    pii = [p for p in fields if _pii_name(p) or p in column.nested_emails]
    plain = [f"{_derived_name(p)}: {_yaml(_sql_path(p))}" for p in fields if p not in pii][:3]
    hashed = [f'{_derived_name(p)}_hash: "sha2({_sql_path(p)}, 256)"' for p in pii]
    return [*plain, *hashed[:1]]


def _sql_name(name: str) -> str:
    """A column or field name in Spark SQL: as it is (easier to read), or quoted when odd."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else sql_identifier(name)


def _sql_path(path: str) -> str:
    """A nested field's path as Spark SQL (``user.email``, ``user.`first name```)."""
    return ".".join(map(_sql_name, path.split(".")))


def _derived_name(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", path).strip("_")


def _summaries_example(proposal: Proposal) -> list[str]:
    """A commented summary table built from the sample's own columns."""
    profile = proposal.profile
    group = next(
        (c.name for c in profile.columns if _categorical(c, proposal)),
        None,
    )
    parts = set(proposal.composed.parts.values()) if proposal.composed else set()
    # Not an identifier, nor PII: its raw value is gone before summaries are made.
    measures = [
        c
        for c in profile.columns
        if (is_numeric(c.type) or c.text_number)
        and c.name not in parts
        and not _identifier(c, proposal)
        and not proposal.is_pii(c.name)
        and c.minimum != c.maximum
    ]
    fractional = [c for c in measures if c.type in ("double", "float") or c.text_number]
    measure = next((c.name for c in [*fractional, *measures]), None)
    lines = [
        "# Summary tables for the analytics zone (etl_pipeline.<summary>), one row per group",
        "# and processing date, e.g.:",
        "# summaries:",
        f"#   {proposal.name}_daily:",
    ]
    group_by = []
    if proposal.time_column:
        taken = {c.name for c in profile.columns}
        date = next(n for n in ("record_date", "summary_date", "date_of_record") if n not in taken)
        time = proposal.curated(proposal.time_column)
        lines.append(f"#     columns: {{{date}: to_date(`{time}`)}}")
        group_by.append(date)
    # Summaries are made from curated: its names.
    if group:
        group_by.append(proposal.curated(group))
    first = proposal.curated(profile.columns[0].name)
    lines.append(f"#     group_by: {_flow_list(group_by or [first])}")
    aggregates = "rows: count(1)"
    if measure:
        measure = proposal.curated(measure)
        aggregates += f", avg_{re.sub(r'[^a-z0-9_]', '_', measure.lower())}: avg(`{measure}`)"
    lines.append(f"#     aggregates: {{{aggregates}}}")
    return lines


# --- writing -----------------------------------------------------------------------------


def _write(folder: Path, spec_text: str, suite: dict, suite_name: Path) -> None:
    """Write spec and suite to a staging folder, validate, then move them into ``folder``."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-new-", dir=folder.parent))
    try:
        (staging / suite_name).parent.mkdir(parents=True)
        (staging / suite_name).write_text(json.dumps(suite, indent=2) + "\n", encoding="utf-8")
        (staging / SPEC_FILE).write_text(spec_text, encoding="utf-8")
        try:
            read_spec_file(staging / SPEC_FILE)
        except SpecError as error:  # a bug here, not the user's: say so
            raise OnboardingError(f"the proposed spec does not validate (a bug): {error}") from None
        if not folder.exists():
            staging.rename(folder)
            return
        (folder / suite_name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / suite_name, folder / suite_name)
        os.replace(staging / SPEC_FILE, folder / SPEC_FILE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _notes(name: str, source: Path, base: Path, folder: Path, proposal: Proposal) -> list[str]:
    notes = []
    try:
        check_filename(source.name)
    except ValidationFailed as error:
        notes.append(f"etl run will refuse this file name: {error}")
    search = [
        Path(p).resolve() for p in os.environ.get("ETL_DATASETS_DIR", "").split(os.pathsep) if p
    ]
    if base.resolve() not in [*search, REPO_DATASETS.resolve()]:
        notes.append(
            f"etl looks for datasets in $ETL_DATASETS_DIR and {_shown(REPO_DATASETS)}: "
            f"export ETL_DATASETS_DIR={_shown(base)} before etl run"
        )
    found = dataset_folders().get(name)
    if found is not None and Path(str(found)).resolve() != folder.resolve():
        notes.append(f"{found} also defines {name!r} and comes first on the search path")
    in_quarantine = (RULE_COLUMN, *QUARANTINE_COLUMNS, *PROCESS_PARTITIONS)  # feed names kept
    reserved = [c.name for c in proposal.profile.columns if c.name in in_quarantine]
    if reserved:
        notes.append(
            f"etl run will refuse this feed: the lake's tables add columns of their own "
            f"({', '.join(RESERVED_COLUMNS)}), and it has {', '.join(reserved)}; "
            "rename them in the feed"
        )
    totals = [c for c in proposal.profile.columns if 0 < c.total_rows <= MAX_TOTAL_ROWS]
    if totals:
        rows = totals[0].total_rows
        notes.append(
            f"{rows} row{'s' if rows > 1 else ''} with a total in {totals[0].name} (e.g. "
            "'Total'): a spreadsheet's totals line? It would land as a record, and it can keep "
            "a number column from being typed; drop it from the feed"
        )
    if proposal.profile.duplicate_rows:
        notes.append(
            f"{proposal.profile.duplicate_rows:,} rows repeat another row exactly: "
            "deduplicate: exact drops them"
        )
    return notes


# --- summary helpers ---------------------------------------------------------------------


def _names_line(proposal: Proposal) -> list[str]:
    names = proposal.curated_names
    if not names:
        return []
    shown = ", ".join(f"{_said(old)} -> {new}" for old, new in list(names.items())[:3])
    more = f", and {len(names) - 3} more" if len(names) > 3 else ""
    return [f"  names       {len(names)} renamed for curated ({shown}{more}) -> curated_name"]


def _markers_line(proposal: Proposal) -> str:
    if not proposal.null_markers:
        return "no null markers seen"
    return _marker_places(proposal) + " -> format.null_markers"


def _key_line(proposal: Proposal) -> str:
    if not proposal.key:
        return "none found (no combination of up to 4 columns is unique and never null)"
    return ", ".join(proposal.key) + " (unique and never null in the sample; deduplicate: exact)"


def _time_line(proposal: Proposal) -> str:
    if proposal.composed:
        parts = ", ".join(proposal.composed.parts.values())
        return f"{proposal.composed.name} composed from {parts} -> time_column"
    if proposal.epoch:
        epoch = proposal.epoch
        return f"{epoch.name} derived from {epoch.column} ({epoch.unit} since 1970) -> time_column"
    if proposal.time_column:
        return f"{proposal.time_column} -> time_column"
    return "no date or timestamp column found"


def _pii_line(proposal: Proposal) -> str:
    if not proposal.pii:
        return "none guessed"
    return "; ".join(f"{_said(g.column)} -> {g.treatment} ({g.why})" for g in proposal.pii)


def _said(name: str) -> str:
    """A column name in a summary line: quoted when spaces at its ends would not show."""
    return repr(name) if name != name.strip() else name


def _duplicates_line(profile: SampleProfile) -> str:
    if profile.duplicate_rows is None:
        return "not measured"
    return f"{profile.duplicate_rows:,} exact duplicate rows"


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 2**53:  # whole and exact: all its digits
        return str(int(value))
    return f"{value:g}" if abs(value) < 1e15 else f"{value:.6g}"


def _truncate(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _shown(path: Path) -> str:
    """A path for messages: relative to the working directory when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


__all__ = ["NewDataset", "OnboardingError", "new_dataset"]
