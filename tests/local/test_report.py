"""``etl report``: one self-contained page, checked in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from run_support import run_cli

from etl.local.definition import all_states, load_definition

BROWSER_SECONDS = 120
STATES = list(all_states(json.loads(load_definition())))  # Parallel branches included


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with nothing of its own going out (no sync, updates, networking),
    and every host name failing to resolve: a page that needs the network cannot get it."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        message = "headless Chromium is not installed (make browser installs Debian's)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    profile = tmp_path / "chromium-profile"
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_SECONDS, check=True
    )


class _Page(HTMLParser):
    """The rendered DOM's elements with their attributes, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data) -> None:
        self.text.append(data)

    def attrs(self, name: str) -> list[dict]:
        return [a for _, a in self.elements if name in a]


@pytest.fixture(scope="module")
def page(reported_run, tmp_path_factory) -> _Page:
    """The report of the shared run as Chromium rendered it (``--dump-dom``)."""
    assert reported_run.code == 0, reported_run.stderr
    dom = chromium(
        tmp_path_factory.mktemp("dom"), "--dump-dom", reported_run.report.as_uri()
    ).stdout
    parsed = _Page()
    parsed.feed(dom)
    return parsed


def history(run) -> dict:
    [record] = (run.lake / "_system" / "executions").glob("*.json")
    return json.loads(record.read_text())


def state_output(record: dict, name: str) -> dict:
    for event in reversed(record["events"]):
        output = json.loads((event.get("stateExitedEventDetails") or {}).get("output") or "{}")
        if name in output:
            return output[name]
    raise AssertionError(f"no {name} in the history")


def test_run_report_prints_the_report_path_last(reported_run):
    assert reported_run.report.is_file()
    assert reported_run.report.name == f"{history(reported_run)['execution']['name']}.html"


def test_the_graph_shows_every_state_of_the_definition(page):
    drawn = [a["data-state"] for a in page.attrs("data-state")]
    assert sorted(drawn) == sorted(STATES)


def test_the_graph_marks_the_states_the_run_visited(page, reported_run):
    from etl.local.history import path_taken

    visited = {step["state"] for step in path_taken(history(reported_run)["events"])}
    status = {a["data-state"]: a["data-status"] for a in page.attrs("data-state")}
    assert {s for s, v in status.items() if v == "ok"} == visited
    assert status["NotifyFailure"] == "unvisited"


def test_the_row_flow_shows_rows_read_and_written(page, reported_run):
    quality = state_output(history(reported_run), "qualityResult")
    curated = reported_run.lake / "curated" / "processed" / "orders"
    written = sum(pq.ParquetFile(f).metadata.num_rows for f in curated.rglob("*.parquet"))
    assert {"read", "written"} <= {a["data-flow"] for a in page.attrs("data-flow")}
    text = " ".join(page.text)
    assert f"read {quality['totalRecords']:,} → written {written:,}" in text


def test_the_row_flow_says_how_many_rows_the_regions_table_did_not_know(page, reported_run):
    curated = reported_run.lake / "curated" / "processed" / "orders"
    tables = [
        pq.read_table(f, columns=["region_code", "region_name"]) for f in curated.rglob("*.parquet")
    ]
    unknown = sum(
        1
        for table in tables
        for code, name in zip(*table.to_pydict().values(), strict=True)
        if code is not None and name is None
    )
    assert unknown > 0  # the sample has region codes the regions table lacks, on purpose
    assert f"regions: {unknown:,}." in " ".join(page.text)
    assert "lookups" in {a["data-flow"] for a in page.attrs("data-flow")}


def test_the_quality_section_shows_the_score_and_per_column_counts(page, reported_run):
    quality = state_output(history(reported_run), "qualityResult")
    [score] = page.attrs("data-score")
    assert float(score["data-score"]) == quality["qualityScore"]
    nulls = {a["data-nulls"]: int(a["data-value"]) for a in page.attrs("data-nulls")}
    distinct = {a["data-distinct"]: int(a["data-value"]) for a in page.attrs("data-distinct")}
    assert {"id", "status", "created_date"} <= set(nulls) and set(nulls) == set(distinct)
    assert distinct["status"] >= 2 and sum(nulls.values()) > 0  # the sample has null ids


def test_the_expectation_results_link_to_data_docs_rendered_by_great_expectations(
    page, reported_run
):
    expectations = [a["data-expectation"] for a in page.attrs("data-expectation")]
    assert "expect_column_values_to_not_be_null" in expectations
    [link] = [a["href"] for t, a in page.elements if t == "a" and "data_docs" in a.get("href", "")]
    docs = reported_run.report.parent / link
    html = docs.read_text(encoding="utf-8")
    assert "Expectation Validation Result" in html  # great-expectations' own page title
    assert history(reported_run)["execution"]["name"] in html


def _local_links(html: str) -> set[str]:
    parsed = _Page()
    parsed.feed(html)
    links = {a.get("href") or a.get("src") for _, a in parsed.elements}
    return {link for link in links if link and not re.match(r"[a-z]+:|#", link)}


def test_every_link_of_the_data_docs_pages_leads_somewhere(page, reported_run):
    """GX links its pages into a Data Docs site (``../../../../index.html``); beside the
    report there is none, so Home leads to the report and the suite link to its own page."""
    [link] = [a["href"] for t, a in page.elements if t == "a" and "data_docs" in a.get("href", "")]
    validation_page = reported_run.report.parent / link
    links = _local_links(validation_page.read_text(encoding="utf-8"))
    targets = {(validation_page.parent / link).resolve() for link in links}
    [suite_page] = [t for t in targets if t.name.endswith(".suite.html")]
    assert targets == {reported_run.report.resolve(), suite_page}
    suite_html = suite_page.read_text(encoding="utf-8")
    suite_links = _local_links(suite_html)
    assert {(suite_page.parent / link).resolve() for link in suite_links} == {
        reported_run.report.resolve()
    }
    quality = json.loads(
        next((reported_run.lake / "_system" / "quality").rglob("*.json")).read_text()
    )
    validated = quality["validation"]
    assert f"Expectations / {validated['suite_name']}" in suite_html
    columns = {r["expectation_config"]["kwargs"].get("column") for r in validated["results"]}
    headings = set(re.findall(r"<h5[^>]*>\s*([^<]*?)\s*</h5>", suite_html))
    assert columns - {None} <= headings  # a section per column, as GX lays out a suite


def test_outputs_list_the_partitions_written(page, reported_run):
    partitions = {Path(a["data-partition"]) for a in page.attrs("data-partition")}
    data = [reported_run.lake / "curated" / "processed", reported_run.lake / "analytics"]
    data.append(reported_run.lake / "curated" / "quarantine")
    assert partitions == {f.parent for folder in data for f in folder.rglob("*.parquet")}


def test_lineage_lists_the_start_and_complete_events(page):
    assert [a["data-event"] for a in page.attrs("data-event")] == ["START", "COMPLETE"]


# Appended to a copy of a Data Docs page: what each icon shows, as the browser draws it.
SHOWN_PROBE = """<script>
for (const icon of document.querySelectorAll("i.fas")) {
  icon.setAttribute("data-shown", getComputedStyle(icon, "::before").content);
}
</script>"""


def test_the_data_docs_page_shows_each_status_and_the_statistics_offline(
    page, reported_run, tmp_path
):
    """Font Awesome and Bootstrap come from CDNs, out of reach here: each expectation's
    status must still show, and the statistics GX's own validations record."""
    [link] = [a["href"] for t, a in page.elements if t == "a" and "data_docs" in a.get("href", "")]
    html = (reported_run.report.parent / link).read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", f"{SHOWN_PROBE}</body>"), encoding="utf-8")
    docs = _Page()
    docs.feed(chromium(tmp_path, "--dump-dom", probed.as_uri()).stdout)
    icons = [(a["class"], a.get("data-shown")) for t, a in docs.elements if t == "i"]
    quality = json.loads(
        next((reported_run.lake / "_system" / "quality").rglob("*.json")).read_text()
    )
    results = quality["validation"]["results"]
    passed = sum(r["success"] for r in results)
    assert passed and all(shown not in (None, "none", "normal", '""') for _, shown in icons)
    ticks = [c for c, shown in icons if shown == '"✔"' and "text-success" in c]
    assert len(ticks) >= passed  # one per passed expectation, and the overview's
    text = " ".join(" ".join(docs.text).split())
    assert f"Evaluated Expectations {len(results)}" in text
    assert f"Successful Expectations {passed}" in text


def test_the_page_loads_nothing_from_anywhere(reported_run):
    html = reported_run.report.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.IGNORECASE)
    assert not re.search(r"url\((?!#)", html)  # only references to the page's own SVG defs
    assert "@import" not in html


def test_the_screenshot_shows_a_drawn_page(reported_run, tmp_path):
    from PIL import Image, ImageStat

    shot = tmp_path / "report.png"
    chromium(
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        reported_run.report.as_uri(),
    )
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 2000)
    assert ImageStat.Stat(image).stddev[0] > 20  # not a blank page
    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 200  # text, graph, badges: far more than a background and a line


def test_a_run_stopped_by_validation_reports_where_it_stopped(invalid_run, tmp_path):
    assert invalid_run.code == 3
    dom = chromium(tmp_path, "--dump-dom", invalid_run.report.as_uri()).stdout
    parsed = _Page()
    parsed.feed(dom)
    status = {a["data-state"]: a["data-status"] for a in parsed.attrs("data-state")}
    assert status["ValidationFailed"] == "failed"
    assert status["RunETLJob"] == "unvisited"
    assert "The run stopped before the quality check." in " ".join(parsed.text)


def test_report_defaults_to_the_latest_execution(invalid_run, tmp_path):
    out = tmp_path / "latest.html"
    code, stdout, _ = run_cli(invalid_run.lake, "report", "--out", str(out))
    assert code == 0 and stdout.strip().splitlines()[-1] == str(out)
    assert "orders.xlsx" in out.read_text(encoding="utf-8")


def test_report_of_an_unknown_execution_is_a_one_line_error(invalid_run):
    code, _, err = run_cli(invalid_run.lake, "report", "nope")
    assert code == 2 and err.startswith("error: no execution 'nope'") and err.count("\n") == 1


def test_report_without_any_execution_says_to_run_one(tmp_path):
    code, _, err = run_cli(tmp_path / "empty", "report")
    assert code == 2 and "run `etl run FILE` first" in err
