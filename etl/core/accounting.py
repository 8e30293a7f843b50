"""Where every raw record of a run went: curated, dropped as a duplicate, or quarantined.

Standard library only: the Glue job measures the counts, the local runner and the CLI
report them. The identity ``read = written + duplicates + sum(rejected)`` must hold;
when it does not, rows were lost or invented (a ``steps.py`` function that filters, a
reference table with repeated keys), and the run fails rather than report a number
nobody can reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from etl.core.errors import EtlError


class RowsUnaccounted(EtlError):
    """The run's row counts do not add up: a bug in the rules or the dataset's steps."""


@dataclass(frozen=True)
class RowCounts:
    """``read`` from the quality gate's profile; ``written`` and ``rejected`` (per rule) from
    the Parquet footers of what was published; ``duplicates`` the copies dropped."""

    read: int
    written: int
    duplicates: int
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def unaccounted(self) -> int:
        """Rows read but found nowhere (negative: rows written that were never read)."""
        return self.read - self.written - self.duplicates - sum(self.rejected.values())

    def check(self) -> RowCounts:
        """Raise ``RowsUnaccounted`` unless every row read is accounted for."""
        if self.unaccounted:
            raise RowsUnaccounted(
                f"rows do not add up: read {self.read} != written {self.written} + duplicates "
                f"{self.duplicates} + rejected {sum(self.rejected.values())} "
                f"({self.unaccounted:+d}); a steps.py function that drops or adds rows, or a "
                "reference table with repeated keys, breaks conservation"
            )
        return self

    def to_dict(self) -> dict:
        return {
            "read": self.read,
            "written": self.written,
            "duplicates": self.duplicates,
            "rejected": dict(sorted(self.rejected.items())),
        }

    def describe(self) -> str:
        """One line: ``read 300 = written 250 + duplicates 9 + rejected 41 (rule 20, ...)``."""
        rejected = sum(self.rejected.values())
        rules = ", ".join(f"{rule} {n:,}" for rule, n in sorted(self.rejected.items()))
        return (
            f"read {self.read:,} = written {self.written:,} + duplicates {self.duplicates:,}"
            f" + rejected {rejected:,}" + (f" ({rules})" if rules else "")
        )
