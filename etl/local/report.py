"""``etl report``: one self-contained HTML page per workflow execution.

What a data engineer reviewing a night's runs wants on one page: the workflow graph (drawn
from the ASL file, with the path taken, each state's status and time), the row flow (read ->
duplicates / rejected per rule -> written), stage timings, quality (score, per-column null
and distinct counts, the expectation suite's results, rendered by great-expectations itself
as Data Docs beside the page), the outputs (partitions, files, rows) and the lineage.

Every fact comes from the lake: the execution history (``_system/executions``), the
OpenLineage events (``_system/lineage``, see ``etl.local.lineage``) and the job's quality
record (``_system/quality``). What a run did not record is said, not guessed. The page has
no script and loads nothing: styles and charts (SVG) are inline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from urllib.parse import quote

from etl import __version__
from etl.core import scoring
from etl.local import history, lineage, profiling
from etl.local.data_docs import write_data_docs
from etl.local.definition import all_states, load_definition
from etl.local.report_graph import Visit, render_svg, taken_transitions
from etl.storage import quality_results
from etl.storage.lake import Lake


# --------------------------------------------------------------------------- the facts
@dataclass
class ReportFacts:
    """Everything the page shows about one execution, read back from the lake."""

    execution: dict
    events: list[dict]
    definition: dict
    steps: list[dict]
    visits: dict[str, Visit]
    taken: set[tuple[str, str]]
    input: dict
    dataset: str
    run_date: str
    job_run_id: str = ""
    quality: dict | None = None  # the quality Lambda's result
    job_quality: dict | None = None  # the job gate's record: quality + validation
    lineage_events: list[dict] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)  # lineage output datasets
    rows: dict | None = None
    unmatched: dict | None = None  # per reference table, the written rows whose key it lacked
    validation_result: dict | None = None  # the Lambda's validation verdict
    distinct_counts: dict[str, int] = field(default_factory=dict)  # per column, raw file

    @property
    def status(self) -> str:
        return self.execution.get("status", "")

    @property
    def seconds(self) -> float | None:
        if not self.execution.get("stopDate"):
            return None
        stopped, started = self.execution["stopDate"], self.execution["startDate"]
        return (_time(stopped) - _time(started)).total_seconds()


def gather(lake: Lake, execution_id: str | None = None) -> ReportFacts:
    """The facts of ``execution_id`` (name or ARN), or of the latest execution in the lake.

    Raises ``LookupError`` when there is no such execution (or none at all).
    """
    if execution_id is None:
        listing = history.list_executions(lake)["executions"]
        if not listing:
            raise LookupError(
                f"no executions in {lake.system_path('executions')}; run `etl run FILE` first"
            )
        execution_id = listing[0]["name"]
    try:
        record = history.load(lake, execution_id)
    except KeyError as error:
        raise LookupError(error.args[0]) from None
    execution, events = record["execution"], record["events"]
    definition = json.loads(load_definition())
    steps = history.path_taken(events)
    given = lineage.execution_input(execution)
    facts = ReportFacts(
        execution=execution,
        events=events,
        definition=definition,
        steps=steps,
        visits=_visits(steps, definition, execution),
        taken=taken_transitions(definition, steps),
        input=given.get("inputData") or {},
        dataset=(given.get("dataset") or {}).get("name", ""),
        run_date=given.get("runDate", ""),
    )
    facts.job_run_id = lineage.job_run_id(events)
    facts.quality = history.state_value(events, "qualityResult")
    facts.validation_result = history.state_value(events, "validationResult")
    facts.job_quality = quality_results.load(lake, facts.job_run_id)
    facts.distinct_counts = _distinct_counts(facts)
    facts.lineage_events = lineage.read_events(lake, execution["name"])
    ended = [e for e in facts.lineage_events if e["eventType"] != "START"]
    if ended:
        facts.outputs = ended[-1].get("outputs", [])
        facts.rows = lineage.execution_of(ended[-1]).get("rows")
        facts.unmatched = lineage.execution_of(ended[-1]).get("unmatched")
    facts.rows = facts.rows or history.state_value(events, "rows")
    return facts


def _distinct_counts(facts: ReportFacts) -> dict[str, int]:
    """Distinct values per column of the raw file the job's gate read, counted by DuckDB
    now (the raw zone is immutable, so the file is the one the run read); the Glue job
    spends no time estimating them. Empty when the file or its format is unknown."""
    gate = (facts.job_quality or {}).get("quality") or {}
    source = (facts.job_quality or {}).get("source") or ""
    data_format = (facts.validation_result or {}).get("dataFormat")
    if not gate or not data_format or not Path(source).is_file():
        return {}
    try:
        return profiling.distinct_counts(
            Path(source), data_format, list(gate.get("nullCounts") or {})
        )
    except profiling.SampleUnreadable:
        return {}


def _visits(steps: list[dict], definition: dict, execution: dict) -> dict[str, Visit]:
    """Per state: visits, seconds, and OK / CAUGHT (left through a Catch) / FAILED."""
    states = all_states(definition)
    taken = taken_transitions(definition, steps)
    visits: dict[str, Visit] = {}
    for step in steps:
        visit = visits.setdefault(step["state"], Visit(entered=step["entered"]))
        visit.count += 1
        visit.seconds += step["seconds"] or 0.0
        visit.exited = step["exited"] or ""
        catchers = {c.get("Next") for c in states.get(step["state"], {}).get("Catch", [])}
        if any((step["state"], target) in taken for target in catchers):
            visit.status = "CAUGHT"
        if step["type"] == "Fail":
            visit.status = "FAILED"
    if steps and execution.get("status") not in ("SUCCEEDED", "RUNNING"):
        visits[steps[-1]["state"]].status = "FAILED"
    return visits


# --------------------------------------------------------------------------- row flow
@dataclass
class RowFlow:
    read: int | None
    written: int | None
    duplicates: int | None
    rejected: dict[str, int]
    note: str = ""  # how the numbers were obtained, when not from the job's own accounting


def row_flow(facts: ReportFacts) -> RowFlow:
    """read -> duplicates / rejected per rule -> written: the job's accounting when it kept
    one (``rows``), else what the quality profile and the written files say."""
    rows = facts.rows or {}
    if rows:
        return RowFlow(
            rows.get("read"),
            rows.get("written"),
            rows.get("duplicates"),
            {str(k): int(v) for k, v in (rows.get("rejected") or {}).items()},
        )
    gate = (facts.job_quality or {}).get("quality") or {}
    read = gate.get("totalRecords", (facts.quality or {}).get("totalRecords"))
    written = _curated_rows(facts.outputs)
    duplicates = gate.get("duplicateRecords")
    rejected: dict[str, int] = {}
    note = "No row accounting was recorded by this run: "
    if read is not None and written is None and facts.status != "SUCCEEDED":
        written, duplicates = 0, None
        rejected["run stopped before writing"] = read
        note = f"The run stopped before anything was written ({facts.execution.get('error')})."
    elif read is not None and written is not None:
        rest = read - written - (duplicates or 0)
        if rest > 0:
            rejected["dataset rules (not broken down)"] = rest
        note += (
            "read from the quality profile, duplicates are the profile's exact duplicate "
            "records, written from the curated files' Parquet footers; the rest were "
            "dropped by the dataset's rules (null keys, accepted values, retention)."
        )
    else:
        note += "the job wrote nothing."
    return RowFlow(read, written, duplicates, rejected, note)


def _curated_rows(outputs: list[dict]) -> int | None:
    for output in outputs:
        facet = output.get("facets", {}).get("etl_partitions", {})
        if facet.get("zone") == "curated":
            return sum(p["rows"] for p in facet["partitions"] if not p.get("moved_out"))
    return None


# --------------------------------------------------------------------------- the page
DATA_DOCS = "data_docs"  # beside the report: the execution's GX pages (etl.local.data_docs)


def default_path(lake: Lake, execution: str) -> Path:
    return Path(lake.system_path("reports", f"{execution}.html"))


def write_report(lake: Lake, execution_id: str | None = None, out: str | None = None) -> Path:
    """Write the report (and its Data Docs page) for an execution; return the page's path."""
    facts = gather(lake, execution_id)
    path = Path(out) if out else default_path(lake, facts.execution["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(facts, data_docs=_data_docs(facts, path)), encoding="utf-8")
    return path


def _data_docs(facts: ReportFacts, report: Path) -> str | None:
    """The execution's Data Docs, written beside ``report``: the page's link, relative to
    the report (None when the job recorded no validation)."""
    validation = (facts.job_quality or {}).get("validation")
    if not validation:
        return None
    name, started = facts.execution["name"], _time(facts.execution["startDate"])
    home = f"../{quote(report.name)}"
    page = write_data_docs(validation, name, started, report.parent / DATA_DOCS, home)
    return page.relative_to(report.parent).as_posix()


def render(facts: ReportFacts, data_docs: str | None = None) -> str:
    """The whole page."""
    execution = facts.execution
    sections = [
        _header(facts),
        _cards(facts),
        _section("Workflow", _workflow(facts), "workflow"),
        _section("Row flow", _row_flow(row_flow(facts)) + _lookups(facts), "rows"),
        _section("Stage timings", _timings(facts), "timings"),
        _section("Quality", _quality(facts, data_docs), "quality"),
        _section("Outputs", _outputs(facts), "outputs"),
        _section("Lineage", _lineage(facts), "lineage"),
    ]
    title = f"{execution['name']} — {facts.status}"
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>etl report: {escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><main>{''.join(sections)}"
        f"<footer>Written by <code>etl report</code> (etl-workbench {__version__}) at "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC from the lake's execution history, "
        "lineage events and quality record. Self-contained: no scripts, nothing loaded."
        "</footer></main></body></html>\n"
    )


PAGE_STYLE = """
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --ink: #1f2328; --mute: #57606a;
  --line: #d0d7de; --blue: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f8fa; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0 0 12px; }
h3 { font-size: 14px; margin: 16px 0 8px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin: 16px 0; }
.sub { color: var(--mute); } code { font: 12.5px ui-monospace, Menlo, Consolas, monospace; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff;
  font-weight: 600; font-size: 13px; vertical-align: middle; }
.badge.SUCCEEDED { background: var(--ok); } .badge.FAILED, .badge.TIMED_OUT,
.badge.ABORTED { background: var(--bad); } .badge.RUNNING { background: var(--blue); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr));
  gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.card .label { color: var(--mute); font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: 650; }
.card[data-card='status'] .value { font-size: 17px; padding-top: 4px; }
.card .value small { font-size: 13px; color: var(--mute); font-weight: 400; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eaeef2;
  vertical-align: top; }
th { color: var(--mute); font-weight: 600; font-size: 12.5px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.where code { word-break: break-all; }
.ok { color: var(--ok); font-weight: 600; } .bad { color: var(--bad); font-weight: 600; }
.flowchart { display: grid; grid-template-columns: minmax(0, 3fr) minmax(250px, 1fr);
  gap: 20px; align-items: start; }
.graph svg { max-width: 100%; height: auto; }
.steps td { padding: 2px 6px; font-size: 12.5px; }
.legend span { margin-right: 14px; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px;
  vertical-align: -1px; margin-right: 4px; border: 1px solid #0002; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
.note { color: var(--mute); font-size: 12.5px; margin: 8px 0 0; }
.error { background: #ffebe9; border: 1px solid #ff818266; border-radius: 6px;
  padding: 8px 12px; margin-top: 10px; }
svg text { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
footer { color: var(--mute); font-size: 12px; margin: 24px 0; }
"""


def _section(title: str, body: str, anchor: str) -> str:
    return f"<section id='{anchor}'><h2>{escape(title)}</h2>{body}</section>"


def _header(facts: ReportFacts) -> str:
    execution, obj = facts.execution, facts.input
    started = _time(execution["startDate"]).strftime("%Y-%m-%d %H:%M:%S %Z")
    error = ""
    if execution.get("error") or execution.get("cause"):
        error = (
            f"<div class='error'><b>{escape(execution.get('error', ''))}</b>: "
            f"{escape(execution.get('cause', ''))}</div>"
        )
    source = f"s3://{obj.get('bucket', '?')}/{obj.get('key', '?')}"
    return (
        "<header>"
        f"<h1>{escape(facts.dataset or '?')}: {escape(obj.get('key', ''))} "
        f"<span class='badge {escape(facts.status)}'>{escape(facts.status)}</span></h1>"
        f"<div class='sub'>execution <code>{escape(execution['name'])}</code> · started "
        f"{escape(started)} · run date {escape(facts.run_date)}"
        + (f" · Glue job run <code>{escape(facts.job_run_id)}</code>" if facts.job_run_id else "")
        + f"</div><div class='sub'>input <code>{escape(source)}</code>"
        + (f" · version <code>{escape(str(obj['version']))}</code>" if obj.get("version") else "")
        + " · ETag "
        f"<code>{escape(str(obj.get('etag', '')))}</code> · {_bytes(obj.get('size'))}</div>"
        f"{error}</header>"
    )


def _cards(facts: ReportFacts) -> str:
    flow = row_flow(facts)
    score = (facts.quality or {}).get("qualityScore")
    threshold = (facts.quality or {}).get("threshold")
    cards = [
        ("status", escape(facts.status), ""),
        ("duration", _duration(facts.seconds), ""),
        ("quality score", _n(score), f"/ 100 (threshold {_n(threshold)})" if score else ""),
        ("rows read", _n(flow.read), ""),
        ("rows written", _n(flow.written), "curated" if flow.written is not None else ""),
        ("partitions", _n(sum(len(_partitions(o)) for o in facts.outputs)), "written"),
    ]
    return (
        "<div class='cards'>"
        + "".join(
            f"<div class='card' data-card='{escape(label)}'><div class='label'>{escape(label)}"
            f"</div><div class='value'>{value} <small>{escape(extra)}</small></div></div>"
            for label, value, extra in cards
        )
        + "</div>"
    )


def _workflow(facts: ReportFacts) -> str:
    legend = (
        "<p class='legend sub'>"
        "<span><i class='swatch' style='background:#dafbe1;border-color:#1a7f37'></i>visited</span>"
        "<span><i class='swatch' style='background:#fff8c5;border-color:#9a6700'></i>"
        "left through a Catch</span>"
        "<span><i class='swatch' style='background:#ffebe9;border-color:#cf222e'></i>"
        "failed / end state of a failed run</span>"
        "<span><i class='swatch' style='background:#fff'></i>not visited</span>"
        "<span style='color:#0969da'>━ path taken</span> <span>┄ Catch transition</span>"
        "</p>"
    )
    steps = "".join(
        f"<tr><td class='num'>{number}</td><td>{escape(step['state'])}</td>"
        f"<td class='sub'>{escape(step['type'])}</td>"
        f"<td class='num'>{_step_seconds(step)}</td></tr>"
        for number, step in enumerate(facts.steps, start=1)
    )
    return (
        f"<p class='sub'>Drawn from <code>infra/statemachine/etl_workflow.asl.json</code>; "
        f"each visited state shows its type, visits and time.</p>{legend}"
        f"<div class='flowchart'><div class='graph'>"
        f"{render_svg(facts.definition, facts.visits, facts.taken)}</div>"
        "<div><h3>Path taken</h3><table class='steps'><tr><th class='num'>#</th><th>state</th>"
        f"<th>type</th><th class='num'>time</th></tr>{steps}</table></div></div>"
    )


def _step_seconds(step: dict) -> str:
    return "" if step["seconds"] is None else f"{step['seconds']:.2f} s"


def _row_flow(flow: RowFlow) -> str:
    if flow.read is None:
        return f"<p class='sub'>No rows were read. {escape(flow.note)}</p>"
    parts = [("written", flow.written or 0, "#2da44e")]
    if flow.duplicates:
        parts.append(("duplicates", flow.duplicates, "#d4a72c"))
    reds = ["#cf222e", "#e5534b", "#f47067", "#ff938a", "#ffb8b0"]
    for i, (rule, count) in enumerate(sorted(flow.rejected.items(), key=lambda kv: -kv[1])):
        parts.append((f"rejected: {rule}", count, reds[i % len(reds)]))
    total = max(flow.read, sum(count for _, count, _ in parts), 1)
    width, x, bars, legend = 1000, 0.0, [], []
    for label, count, colour in parts:
        w = width * count / total
        bars.append(
            f"<rect x='{x:.1f}' y='0' width='{w:.1f}' height='34' fill='{colour}'>"
            f"<title>{escape(label)}: {count:,}</title></rect>"
        )
        legend.append(
            f"<tr data-flow='{escape(label)}'><td><i class='swatch' style='background:{colour}'>"
            f"</i>{escape(label)}</td><td class='num'>{count:,}</td>"
            f"<td class='num'>{100 * count / total:.1f} %</td></tr>"
        )
        x += w
    svg = (
        f"<svg viewBox='0 0 {width} 34' width='100%' height='34' preserveAspectRatio='none' "
        f"role='img' aria-label='row flow'>{''.join(bars)}</svg>"
    )
    table = (
        "<table style='max-width:560px;margin-top:12px'><tr><th>rows</th><th class='num'>count"
        "</th><th class='num'>share of read</th></tr>"
        f"<tr data-flow='read'><td><b>read</b></td><td class='num'><b>{flow.read:,}</b></td>"
        f"<td class='num'>100 %</td></tr>{''.join(legend)}</table>"
    )
    note = f"<p class='note'>{escape(flow.note)}</p>" if flow.note else ""
    return f"<p class='sub'>read {flow.read:,} → written {_n(flow.written)}</p>{svg}{table}{note}"


def _lookups(facts: ReportFacts) -> str:
    """The written rows each reference table did not know (their joined columns null)."""
    if not facts.unmatched:
        return ""
    found = [f"{escape(t)}: {n:,}" for t, n in facts.unmatched.items()]
    return (
        "<p class='note' data-flow='lookups'>Written rows whose key a reference table lacks "
        f"(its columns null in them): {', '.join(found)}.</p>"
    )


def _timings(facts: ReportFacts) -> str:
    if not facts.steps:
        return "<p class='sub'>No states were entered.</p>"
    start = _time(facts.execution["startDate"])
    end = max(_time(s["exited"] or s["entered"]) for s in facts.steps)
    span = max((end - start).total_seconds(), 0.001)
    names = list(dict.fromkeys(s["state"] for s in facts.steps))
    label_w, chart_w, row_h = 190, 760, 20
    rows = []
    for i, name in enumerate(names):
        y = i * row_h
        rows.append(
            f"<text x='{label_w - 8}' y='{y + 14}' text-anchor='end' font-size='12'>"
            f"{escape(name)}</text>"
        )
        visit = facts.visits[name]
        for step in (s for s in facts.steps if s["state"] == name):
            offset = (_time(step["entered"]) - start).total_seconds()
            seconds = step["seconds"] or 0.0
            x = label_w + chart_w * offset / span
            w = max(chart_w * seconds / span, 2)
            colour = {"FAILED": "#cf222e", "CAUGHT": "#d4a72c"}.get(visit.status, "#0969da")
            rows.append(
                f"<rect x='{x:.1f}' y='{y + 3}' width='{w:.1f}' height='{row_h - 6}' rx='2' "
                f"fill='{colour}'><title>{escape(name)}: {seconds:.2f} s from "
                f"+{offset:.2f} s</title></rect>"
            )
        rows.append(
            f"<text x='{label_w + chart_w + 8}' y='{y + 14}' font-size='11' fill='#57606a'>"
            f"{_duration(visit.seconds)}</text>"
        )
    height = len(names) * row_h + 6
    gantt = (
        f"<svg viewBox='0 0 {label_w + chart_w + 80} {height}' width='100%' role='img' "
        f"aria-label='state timeline'>{''.join(rows)}</svg>"
    )
    states = all_states(facts.definition)
    tasks = [(n, facts.visits[n]) for n in names if states[n]["Type"] == "Task"]
    table = "".join(
        f"<tr data-stage='{escape(n)}'><td>{escape(n)}</td><td>{escape(v.status)}</td>"
        f"<td class='num'>{v.count}</td><td class='num'>{v.seconds:.2f}</td>"
        f"<td class='num'>{100 * v.seconds / span:.1f} %</td></tr>"
        for n, v in tasks
    )
    return (
        f"<p class='sub'>Each state on the execution's timeline ({_duration(span)} from start "
        "to last state).</p>"
        f"{gantt}<h3>Task states</h3><table style='max-width:720px'><tr><th>state</th>"
        "<th>status</th><th class='num'>visits</th><th class='num'>seconds</th>"
        f"<th class='num'>share</th></tr>{table}</table>"
    )


def _quality(facts: ReportFacts, data_docs: str | None) -> str:
    lam = facts.quality or {}
    gate = (facts.job_quality or {}).get("quality") or {}
    if not lam and not gate:
        return "<p class='sub'>The run stopped before the quality check.</p>"
    score = lam.get("qualityScore", gate.get("qualityScore"))
    threshold = lam.get("threshold", gate.get("threshold"))
    passed = score is not None and threshold is not None and score >= threshold
    out = [
        f"<p><span class='score' data-score='{escape(str(score))}' style='font-size:30px;"
        f"font-weight:700'>{_n(score)}</span> / 100 <span class='{'ok' if passed else 'bad'}'>"
        f"{'≥' if passed else '<'} threshold {_n(threshold)}</span> · null cells "
        f"{_n(lam.get('nullPercentage', gate.get('nullPercentage')))} % · duplicate rows "
        f"{_n(lam.get('duplicatePercentage', gate.get('duplicatePercentage')))} % · "
        f"{_n(lam.get('totalRecords', gate.get('totalRecords')))} records</p>",
        "<p class='sub'>score = 100 − null cell % − duplicate row % (the quality Lambda "
        "scores the file; the Glue job re-scores every record and runs the suite).</p>",
    ]
    if lam.get("reason"):
        out.append(f"<div class='error'>{escape(lam['reason'])}</div>")
    if gate:
        total = gate.get("totalRecords") or 0
        nulls = gate.get("nullCounts") or {}
        distinct = facts.distinct_counts
        columns = list(nulls)
        out.append(
            "<div class='charts'><div><h3>Null values per column</h3>"
            + _bars([(c, nulls.get(c, 0)) for c in columns], total, "#cf222e", "nulls")
            + "</div><div><h3>Distinct values per column</h3>"
            + (
                _bars([(c, distinct.get(c, 0)) for c in columns], total, "#0969da", "distinct")
                if distinct
                else "<p class='sub'>The raw file could not be read for them.</p>"
            )
            + "</div></div><p class='note'>Of the "
            f"{total:,} raw records the job's gate read; distinct values as read (text for "
            "CSV and JSON), counted exactly by DuckDB over the raw file for this page.</p>"
        )
    else:
        out.append(
            "<p class='sub'>The Glue job did not run its gate (the run stopped before it), so "
            "there are no per-column counts or expectation results.</p>"
        )
    validation = (facts.job_quality or {}).get("validation")
    if validation:
        out.append(_expectations(validation, data_docs))
    return "".join(out)


def _expectations(validation: dict, data_docs: str | None) -> str:
    stats = validation.get("statistics", {})
    rows = []
    for result in validation.get("results", []):
        config = result.get("expectation_config", {})
        kwargs = config.get("kwargs", {})
        detail = result.get("result", {})
        observed = detail.get("observed_value")
        if observed is None and detail.get("unexpected_percent") is not None:
            observed = f"{detail['unexpected_percent']:.2f} % unexpected"
        if observed is None:
            observed = scoring.gx_error(result.get("exception_info"))
        ok = result.get("success")
        rows.append(
            f"<tr data-expectation='{escape(config.get('type', ''))}'>"
            f"<td class='{'ok' if ok else 'bad'}'>{'passed' if ok else 'FAILED'}</td>"
            f"<td><code>{escape(config.get('type', ''))}</code></td>"
            f"<td>{escape(str(kwargs.get('column', '(table)')))}</td>"
            f"<td>{escape(_short(observed))}</td></tr>"
        )
    link = (
        f"<p><a href='{escape(data_docs)}'>Open the great-expectations Data Docs for this "
        "validation</a> (rendered by great-expectations beside this page).</p>"
        if data_docs
        else ""
    )
    return (
        f"<h3>Expectation suite <code>{escape(validation.get('suite_name', ''))}</code>: "
        f"{stats.get('successful_expectations', '?')} of "
        f"{stats.get('evaluated_expectations', '?')} passed</h3>{link}"
        "<table><tr><th>result</th><th>expectation</th><th>column</th><th>observed</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _bars(items: list[tuple[str, int]], total: int, colour: str, kind: str) -> str:
    label_w, chart_w, row_h = 130, 300, 20
    top = max([total] + [v for _, v in items] + [1])
    parts = []
    for i, (label, value) in enumerate(items):
        y = i * row_h
        w = chart_w * value / top
        parts.append(
            f"<g data-{kind}='{escape(label)}' data-value='{value}'>"
            f"<text x='{label_w - 6}' y='{y + 14}' text-anchor='end' font-size='12'>"
            f"{escape(label)}</text><rect x='{label_w}' y='{y + 3}' width='{chart_w}' "
            f"height='{row_h - 6}' fill='#eaeef2'/><rect x='{label_w}' y='{y + 3}' "
            f"width='{w:.1f}' height='{row_h - 6}' fill='{colour}'/>"
            f"<text x='{label_w + chart_w + 6}' y='{y + 14}' font-size='11.5'>{value:,}</text>"
            "</g>"
        )
    height = len(items) * row_h + 4
    return (
        f"<svg viewBox='0 0 {label_w + chart_w + 70} {height}' width='100%' role='img' "
        f"aria-label='{escape(kind)} per column'>{''.join(parts)}</svg>"
    )


def _partitions(output: dict) -> list[dict]:
    return output.get("facets", {}).get("etl_partitions", {}).get("partitions", [])


def _outputs(facts: ReportFacts) -> str:
    if not facts.outputs:
        ended = any(e["eventType"] != "START" for e in facts.lineage_events)
        reason = "The run wrote nothing." if ended else "No lineage events were kept for this run."
        return f"<p class='sub'>{reason}</p>"
    rows = []
    for output in facts.outputs:
        table = (output["facets"].get("symlinks", {}).get("identifiers") or [{}])[0]
        name = table.get("name", "").removeprefix("table/").replace("/", ".")
        for p in _partitions(output):
            moved = " (source's rows moved out)" if p.get("moved_out") else ""
            rows.append(
                f"<tr data-partition='{escape(p['location'])}'><td>{escape(name)}</td>"
                f"<td>{escape('/'.join(p['values']))}{escape(moved)}</td>"
                f"<td class='num'>{p['files']}</td><td class='num'>{p['rows']:,}</td>"
                f"<td class='num'>{_bytes(p['bytes'])}</td>"
                f"<td class='where'><code>s3://{escape(output['namespace'].removeprefix('s3://'))}/"
                f"{escape(p['key'])}</code><br><code class='sub'>{escape(p['location'])}</code>"
                "</td></tr>"
            )
    return (
        "<p class='sub'>Partitions this run published (year/month/day of the run date; the "
        "quarantine's also by rule); files and rows are this run's own.</p>"
        "<table><tr><th>table</th><th>partition</th>"
        "<th class='num'>files</th><th class='num'>rows</th><th class='num'>size</th>"
        f"<th>where</th></tr>{''.join(rows)}</table>"
    )


def _lineage(facts: ReportFacts) -> str:
    if not facts.lineage_events:
        return "<p class='sub'>No OpenLineage events were kept for this execution.</p>"
    last = facts.lineage_events[-1]
    job = last["job"]
    inputs = [f"{d['namespace']}/{d['name']}" for d in last.get("inputs", [])]
    versions = [
        d.get("facets", {}).get("version", {}).get("datasetVersion", "")
        for d in last.get("inputs", [])
    ]
    outputs = [f"{d['namespace']}/{d['name']}" for d in facts.outputs]
    svg = _lineage_svg(inputs, f"{job['namespace']} / {job['name']}", outputs)
    events = "".join(
        f"<tr data-event='{escape(e['eventType'])}'><td>{escape(e['eventType'])}</td>"
        f"<td>{escape(e['eventTime'])}</td><td><code>{escape(e['run']['runId'])}</code></td></tr>"
        for e in facts.lineage_events
    )
    inputs_text = ", ".join(
        f"<code>{escape(i)}</code> (version {escape(v)})"
        for i, v in zip(inputs, versions, strict=True)
    )
    return (
        f"{svg}<p>Input {inputs_text}.</p>"
        "<table style='max-width:760px'><tr><th>OpenLineage event</th><th>time</th>"
        f"<th>run id</th></tr>{events}</table>"
        f"<p class='note'>Kept in <code>_system/lineage/{escape(facts.execution['name'])}"
        ".jsonl</code>; <code>etl lineage PATH</code> traces a partition or file back to its "
        "sources and executions.</p>"
    )


def _lineage_svg(inputs: list[str], job: str, outputs: list[str]) -> str:
    box_h, gap, col_w = 38, 12, 330
    rows = max(len(inputs), len(outputs), 1)
    height = rows * (box_h + gap) + gap
    parts = []

    def box(x: float, y: float, text: str, fill: str) -> str:
        return (
            f"<rect x='{x}' y='{y}' width='{col_w}' height='{box_h}' rx='6' fill='{fill}' "
            f"stroke='#8c959f'/><text x='{x + col_w / 2}' y='{y + box_h / 2 + 4}' "
            f"text-anchor='middle' font-size='12'>{escape(_short(text, 46))}</text>"
        )

    job_x, job_y = col_w + 80, (height - box_h) / 2
    parts.append(box(job_x, job_y, job, "#ddf4ff"))
    for i, name in enumerate(inputs):
        y = gap + i * (box_h + gap)
        parts.append(box(0, y, name, "#fff8c5"))
        parts.append(_arrow_path(col_w, y + box_h / 2, job_x, job_y + box_h / 2))
    for i, name in enumerate(outputs):
        y = gap + i * (box_h + gap)
        x = job_x + col_w + 80
        parts.append(box(x, y, name, "#dafbe1"))
        parts.append(_arrow_path(job_x + col_w, job_y + box_h / 2, x, y + box_h / 2))
    width = 3 * col_w + 160
    return (
        f"<svg viewBox='0 0 {width} {height}' width='100%' role='img' aria-label='lineage'>"
        "<defs><marker id='lineage-arrow' viewBox='0 0 10 10' refX='9' refY='5' "
        "markerWidth='8' markerHeight='8' markerUnits='userSpaceOnUse' orient='auto'>"
        "<path d='M0,0 L10,5 L0,10 z' fill='#57606a'/></marker></defs>"
        f"{''.join(parts)}</svg>"
    )


def _arrow_path(x1: float, y1: float, x2: float, y2: float) -> str:
    middle = (x1 + x2) / 2
    return (
        f"<path d='M{x1},{y1} C{middle},{y1} {middle},{y2} {x2 - 2},{y2}' fill='none' "
        "stroke='#57606a' stroke-width='1.5' marker-end='url(#lineage-arrow)'/>"
    )


# --------------------------------------------------------------------------- formatting
def _n(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _bytes(value) -> str:
    if value is None:
        return "–"
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    return f"{seconds:.1f} s"


def _short(value, limit: int = 80) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _time(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
