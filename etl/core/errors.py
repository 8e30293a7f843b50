"""Expected failures of a pipeline run, with messages meant for people.

Each carries a ``status`` (the notification status the seed's workflow publishes) so
the CLI, the Lambda handlers and the Glue job report failures the same way.
"""

from __future__ import annotations

MESSAGE_LIMIT = 300  # characters: a reason fits one terminal line, a notification, a log line


def one_line(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class EtlError(Exception):
    """An expected failure: bad input or a failed gate. Not a bug, so no traceback."""

    status = "FAILED"

    def __init__(self, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class ValidationFailed(EtlError):
    """The landed file breaks a validation rule (name, extension, size, content)."""

    status = "VALIDATION_FAILED"


class QualityCheckFailed(EtlError):
    """The data's quality score is below the dataset's threshold."""

    status = "QUALITY_CHECK_FAILED"
