"""A dataset's rules as data: the parsed form of ``datasets/<name>/dataset.yaml``.

Standard library only: the Lambdas read the same spec (from the JSON that ``etl export``
writes into their bundles) as the Glue job and the CLI. ``etl.core.datasets`` finds and
validates spec files (``dataset.schema.json``); this module only turns a validated
document into frozen dataclasses with the defaults filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources.abc import Traversable

from etl.core.conventions import DEFAULT_DATABASE

DEFAULT_THRESHOLD = 70.0


@dataclass(frozen=True)
class Column:
    """One declared column of the raw feed."""

    name: str
    type: str = "string"
    format: str | None = None  # how a text value parses into a date/timestamp
    trim: bool = False
    case: str | None = None  # "upper" | "lower"
    accepted_values: tuple[str, ...] = ()  # rows with another (normalised) value: quarantined
    curated_name: str | None = None  # its name in curated; None: the feed's

    @property
    def normalises(self) -> bool:
        return self.trim or self.case is not None


@dataclass(frozen=True)
class ComposedTimestamp:
    """A timestamp built from several columns (year, month, day, hour, minute, second)."""

    name: str
    parts: dict[str, str]


@dataclass(frozen=True)
class Reference:
    """A reference table shipped with the dataset and joined (left, broadcast) on ``key``.

    ``join_on`` names the feed's columns matched with ``key`` when the feed calls them
    otherwise (a flight's ``dest`` is an airport's ``faa``); ``rename`` gives joined columns
    their curated names (two tables may both call a column ``name``).
    """

    table: str
    file: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    types: dict[str, str] = field(default_factory=dict)
    join_on: tuple[str, ...] = ()  # empty: the feed's columns have the key's names
    rename: dict[str, str] = field(default_factory=dict)  # reference column -> curated name

    @property
    def feed_key(self) -> tuple[str, ...]:
        """The feed's columns the key is matched with."""
        return self.join_on or self.key

    @property
    def curated_columns(self) -> tuple[str, ...]:
        """The joined columns as curated names them."""
        return tuple(self.rename.get(c, c) for c in self.columns)


@dataclass(frozen=True)
class Pii:
    """What happens to a PII column: ``drop`` it, ``mask`` it or ``hash`` it.

    The default mask keeps at most the first character of an address's local part and
    never a whole one (``alice@x.com`` -> ``a***@x.com``, ``a@x.com`` -> ``***@x.com``, a
    value without ``@`` -> ``***``). ``pattern`` + ``replacement`` (a regular expression
    and its Java-style replacement) replace that rule for a column; they are the
    dataset's responsibility.
    """

    column: str
    treatment: str
    pattern: str | None = None
    replacement: str | None = None

    @property
    def output(self) -> str | None:
        """The column written in its place (none when dropped)."""
        return {"mask": f"{self.column}_masked", "hash": f"{self.column}_hash"}.get(self.treatment)


@dataclass(frozen=True)
class Summary:
    """An analytics table: ``columns`` computed per row, grouped by ``group_by``."""

    name: str
    group_by: tuple[str, ...]
    aggregates: dict[str, str]
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSpec:
    """Every rule of one dataset, from landing file to analytics tables."""

    name: str
    description: str = ""
    database: str = DEFAULT_DATABASE
    null_markers: tuple[str, ...] = ()
    csv_delimiter: str = ","
    columns: tuple[Column, ...] = ()
    required: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    deduplicate: str = "exact"  # "exact" | "key" | "none"
    timestamps: tuple[ComposedTimestamp, ...] = ()
    time_column: str | None = None
    retention_days: int | None = None
    derived: dict[str, str] = field(default_factory=dict)
    references: tuple[Reference, ...] = ()
    steps: tuple[str, ...] = ()
    pii: tuple[Pii, ...] = ()
    column_order: tuple[str, ...] = ()
    quality_threshold: float = DEFAULT_THRESHOLD
    expectation_suite: str | None = None
    summaries: tuple[Summary, ...] = ()
    folder: Traversable | None = field(default=None, compare=False, repr=False)

    @property
    def curated_table(self) -> str:
        return self.name

    @property
    def raw_table(self) -> str:
        return f"raw_{self.name}"

    @property
    def quarantine_table(self) -> str:
        return f"{self.name}_quarantine"

    @property
    def read_as_text(self) -> tuple[str, ...]:
        """Columns a CSV or JSON file is read with as text, whatever a crawler inferred:
        declared strings (codes keep leading zeros), the text formatted dates are parsed
        from, and declared decimals (read as a double, ``12345678901234567.12`` would lose
        its last digits before the cast; the text casts exactly)."""
        return tuple(
            c.name
            for c in self.columns
            if c.type == "string" or c.format or c.type.startswith("decimal(")
        )

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def curated_names(self) -> dict[str, str]:
        """``{feed column: curated name}`` for the columns curated names otherwise, their
        PII outputs included (``Customer Email_masked`` -> ``customer_email_masked``)."""
        names = {c.name: c.curated_name for c in self.columns if c.curated_name}
        for rule in self.pii:
            if rule.column in names and rule.output:
                names[rule.output] = names[rule.column] + rule.output[len(rule.column) :]
        return names

    def curated(self, name: str) -> str:
        """A feed column's (or its PII output's) name in curated."""
        return self.curated_names().get(name, name)

    def curated_order(self) -> tuple[str, ...]:
        """Curated's leading columns: ``column_order``, or else the declared columns as the
        spec lists them (a PII column's output in its place), then the derived ones. Spark
        reads a JSON file's keys in alphabetical order; the spec keeps the file's."""
        if self.column_order:
            return self.column_order
        outputs = {rule.column: rule.output for rule in self.pii}
        names = [outputs.get(c.name, c.name) for c in self.columns]
        return tuple(dict.fromkeys(self.curated(n) for n in [*names, *self.derived] if n))

    def to_dict(self) -> dict:
        """The spec as the document it was read from (what ``etl datasets show`` prints)."""
        return spec_document(self)


def spec_from_document(document: dict, folder: Traversable | None = None) -> DatasetSpec:
    """A ``DatasetSpec`` from a document already validated against the schema."""
    quality = document.get("quality", {})
    retention = document.get("retention") or {}
    return DatasetSpec(
        name=document["name"],
        description=document.get("description", ""),
        database=document.get("database", DEFAULT_DATABASE),
        null_markers=tuple(document.get("format", {}).get("null_markers", [])),
        csv_delimiter=document.get("format", {}).get("csv_delimiter", ","),
        columns=tuple(_column(name, c or {}) for name, c in document.get("columns", {}).items()),
        required=tuple(document.get("required", [])),
        key=tuple(document.get("key", [])),
        deduplicate=document.get("deduplicate", "exact"),
        timestamps=tuple(
            ComposedTimestamp(name, dict(parts))
            for name, parts in document.get("timestamps", {}).items()
        ),
        time_column=document.get("time_column"),
        retention_days=retention.get("days"),
        derived=dict(document.get("derived", {})),
        references=tuple(_reference(r) for r in document.get("references", [])),
        steps=tuple(document.get("steps", [])),
        pii=tuple(_pii(name, p) for name, p in document.get("pii", {}).items()),
        column_order=tuple(document.get("column_order", [])),
        quality_threshold=float(quality.get("threshold", DEFAULT_THRESHOLD)),
        expectation_suite=quality.get("suite"),
        summaries=tuple(_summary(name, s) for name, s in document.get("summaries", {}).items()),
        folder=folder,
    )


def _column(name: str, document: dict) -> Column:
    normalise = document.get("normalize", {})
    return Column(
        name=name,
        type=document.get("type", "string"),
        format=document.get("format"),
        trim=bool(normalise.get("trim", False)),
        case=normalise.get("case"),
        accepted_values=tuple(document.get("accepted_values", [])),
        curated_name=document.get("curated_name"),
    )


def _reference(document: dict) -> Reference:
    columns = document["columns"]  # a list, or a mapping {reference column: curated name}
    renamed = columns.items() if isinstance(columns, dict) else ()
    return Reference(
        table=document["table"],
        file=document["file"],
        key=_names(document["key"]),
        columns=tuple(columns),
        types=dict(document.get("types", {})),
        join_on=_names(document.get("join_on", [])),
        rename={column: name for column, name in renamed if column != name},
    )


def _names(value: str | list[str]) -> tuple[str, ...]:
    return tuple([value] if isinstance(value, str) else value)


def _pii(column: str, document: dict | str) -> Pii:
    if isinstance(document, str):
        return Pii(column, document)
    return Pii(column, document["treatment"], document.get("pattern"), document.get("replacement"))


def _summary(name: str, document: dict) -> Summary:
    return Summary(
        name=name,
        group_by=tuple(document["group_by"]),
        aggregates=dict(document["aggregates"]),
        columns=dict(document.get("columns", {})),
    )


def spec_document(spec: DatasetSpec) -> dict:
    """The inverse of ``spec_from_document`` (defaults included), for JSON and display."""
    document: dict = {"name": spec.name}
    if spec.description:
        document["description"] = spec.description
    document["database"] = spec.database
    document["format"] = {"null_markers": list(spec.null_markers)}
    if spec.csv_delimiter != ",":
        document["format"]["csv_delimiter"] = spec.csv_delimiter
    document["columns"] = {c.name: _column_document(c) for c in spec.columns}
    for name in ("required", "key"):
        if getattr(spec, name):
            document[name] = list(getattr(spec, name))
    document["deduplicate"] = spec.deduplicate
    if spec.timestamps:
        document["timestamps"] = {t.name: dict(t.parts) for t in spec.timestamps}
    if spec.time_column:
        document["time_column"] = spec.time_column
    if spec.retention_days is not None:
        document["retention"] = {"days": spec.retention_days}
    if spec.derived:
        document["derived"] = dict(spec.derived)
    if spec.references:
        document["references"] = [
            {
                "table": r.table,
                "file": r.file,
                "key": list(r.key),
                **({"join_on": list(r.join_on)} if r.join_on else {}),
                "columns": dict(zip(r.columns, r.curated_columns, strict=True))
                if r.rename
                else list(r.columns),
                **({"types": dict(r.types)} if r.types else {}),
            }
            for r in spec.references
        ]
    if spec.steps:
        document["steps"] = list(spec.steps)
    if spec.pii:
        document["pii"] = {p.column: _pii_document(p) for p in spec.pii}
    if spec.column_order:
        document["column_order"] = list(spec.column_order)
    document["quality"] = {"threshold": spec.quality_threshold}
    if spec.expectation_suite:
        document["quality"]["suite"] = spec.expectation_suite
    if spec.summaries:
        document["summaries"] = {
            s.name: {
                **({"columns": dict(s.columns)} if s.columns else {}),
                "group_by": list(s.group_by),
                "aggregates": dict(s.aggregates),
            }
            for s in spec.summaries
        }
    return document


def _column_document(column: Column) -> dict:
    document: dict = {"type": column.type}
    if column.format:
        document["format"] = column.format
    if column.normalises:
        document["normalize"] = {
            **({"trim": True} if column.trim else {}),
            **({"case": column.case} if column.case else {}),
        }
    if column.accepted_values:
        document["accepted_values"] = list(column.accepted_values)
    if column.curated_name:
        document["curated_name"] = column.curated_name
    return document


def _pii_document(pii: Pii) -> dict:
    document: dict = {"treatment": pii.treatment}
    if pii.treatment == "mask" and pii.pattern is not None:
        document.update(pattern=pii.pattern, replacement=pii.replacement or "")
    return document
