"""Which columns of a summary table make a readable bar chart, for any dataset.

A summary is ``group_by`` columns and ``aggregates``. A bar chart shows one group-by column
along the x axis, perhaps a second as stacked colours, and adds up the rest - which only
means something for additive aggregates (``sum(...)``, ``count(...)``; not ``avg`` or
``count(DISTINCT ...)``). ``chart_plan`` picks them from the rows at hand, so the chart in
notebook 06 stays readable whatever the dataset: few enough bars to label, few enough
colours to tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from etl.core.spec import Summary

MAX_BARS = 25  # more x values than this: only the largest are drawn
MAX_STACKED = 8  # more colours than this are no longer told apart


@dataclass(frozen=True)
class ChartPlan:
    """What to draw: ``measures`` per ``x`` value, stacked by ``stack`` (or not)."""

    x: str
    stack: str | None
    measures: tuple[str, ...]
    how: str  # "sum" for additive measures, "mean" when the summary has none
    top: int | None  # only the ``top`` x values with the largest first measure

    def title(self, measure: str) -> str:
        shown = f"{measure}" if self.how == "sum" else f"mean {measure}"
        by = f" by {self.x}" + (f" and {self.stack}" if self.stack else "")
        top = f" (top {self.top})" if self.top else ""
        return f"{shown}{by}{top}"


def is_additive(expression: str) -> bool:
    """True for one ``sum(...)`` or ``count(...)`` call (totals of totals still add up)."""
    text = " ".join(expression.lower().split())
    name, _, rest = text.partition("(")
    if name.strip() not in ("sum", "count") or rest.lstrip().startswith("distinct"):
        return False
    depth = 1
    for index, char in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index == len(rest) - 1  # the call is the whole expression
    return False


def chart_plan(rows: pd.DataFrame, summary: Summary) -> ChartPlan:
    """The x axis, the stacking column and the measures for ``rows`` of ``summary``.

    x is the first group-by column (in the spec's order) with at most ``MAX_BARS`` values,
    else the one with the fewest (drawn for its top ``MAX_BARS`` values); the stack is the
    next group-by column with 2 to ``MAX_STACKED`` values.
    """
    distinct = {c: int(rows[c].nunique(dropna=False)) for c in summary.group_by}
    x = next((c for c in summary.group_by if distinct[c] <= MAX_BARS), None)
    top = None
    if x is None:
        x = min(summary.group_by, key=lambda c: distinct[c])
        top = MAX_BARS
    stack = next((c for c in summary.group_by if c != x and 2 <= distinct[c] <= MAX_STACKED), None)
    additive = tuple(n for n, e in summary.aggregates.items() if is_additive(e))
    if additive:
        return ChartPlan(x, stack, additive, "sum", top)
    return ChartPlan(x, stack, tuple(summary.aggregates), "mean", top)


def chart_table(rows: pd.DataFrame, plan: ChartPlan, measure: str) -> pd.DataFrame:
    """``measure`` per x value (rows) and stack value (columns), ready for ``plot.bar``."""
    frame = rows.assign(**{plan.x: rows[plan.x].astype(str)})
    if plan.stack:
        frame = frame.assign(**{plan.stack: rows[plan.stack].astype(str)})
    table = frame.pivot_table(
        index=plan.x, columns=plan.stack, values=measure, aggfunc=plan.how, dropna=False
    ).fillna(0)
    if isinstance(table, pd.Series):
        table = table.to_frame(measure)
    if plan.top:
        table = table.loc[table.sum(axis=1).nlargest(plan.top).index].sort_index()
    return table
