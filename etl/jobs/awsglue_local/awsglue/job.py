"""``Job`` with Glue's lifecycle: ``init`` starts a run, ``commit`` ends it.

In Glue, ``commit`` also saves the job bookmark. The local run has no bookmark store: a
run reads one explicitly named object, and loading it again replaces its rows.
"""

from __future__ import annotations


class Job:
    def __init__(self, glue_context) -> None:
        self.glue_context = glue_context
        self.name: str | None = None
        self.committed = False

    def init(self, job_name: str, args: dict | None = None) -> None:
        self.name = job_name
        self.args = dict(args or {})

    def commit(self) -> None:
        if self.name is None:
            raise RuntimeError("Job.commit() called before Job.init()")
        self.committed = True
