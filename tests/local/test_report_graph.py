"""The workflow graph is laid out from the ASL file: every state once, loops drawn as loops."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from etl.local.definition import all_states, load_definition
from etl.local.report_graph import (
    Visit,
    layout,
    render_svg,
    taken_transitions,
    transitions,
)

DEFINITION = json.loads(load_definition())


@pytest.fixture(scope="module")
def drawn():
    return layout(DEFINITION)


def test_every_state_is_placed_once(drawn):
    placed = [name for name, node in drawn.nodes.items() if not node.waypoint]
    assert sorted(placed) == sorted(all_states(DEFINITION))
    assert {"DiscoverAndCheckQuality", "RunDataDiscovery", "RunDataQualityCheck"} <= set(placed)


def test_every_transition_of_the_definition_is_drawn(drawn):
    choices = {
        (name, choice["Next"])
        for name, state in all_states(DEFINITION).items()
        for choice in state.get("Choices", [])
    }
    assert choices <= {(e.source, e.target) for e in drawn.edges}
    assert ("RunETLJob", "DidJobQualityGateFail") in {
        (e.source, e.target) for e in drawn.edges if e.kind == "catch"
    }


def test_the_crawler_poll_loop_is_the_only_edge_drawn_upwards(drawn):
    assert [(e.source, e.target) for e in drawn.edges if e.back] == [
        ("IsCrawlerComplete", "WaitForCrawler")
    ]
    for edge in drawn.edges:
        if not edge.back:
            assert drawn.nodes[edge.target].layer > drawn.nodes[edge.source].layer, edge


def test_an_edge_skipping_layers_bends_through_a_waypoint_on_each(drawn):
    for edge in drawn.edges:
        if not edge.back:
            skipped = drawn.nodes[edge.target].layer - drawn.nodes[edge.source].layer - 1
            assert [drawn.nodes[w].layer for w in edge.via] == list(
                range(drawn.nodes[edge.source].layer + 1, drawn.nodes[edge.target].layer)
            )
            assert len(edge.via) == skipped


def test_states_on_a_layer_do_not_overlap(drawn):
    for layer in drawn.layers:
        boxes = sorted(
            (
                drawn.nodes[n].x - drawn.nodes[n].width / 2,
                drawn.nodes[n].x + drawn.nodes[n].width / 2,
            )
            for n in layer
        )
        for (_, right), (left, _) in itertools.pairwise(boxes):
            assert left >= right


def test_the_layout_is_deterministic():
    first, second = layout(DEFINITION), layout(DEFINITION)
    assert {n: v.x for n, v in first.nodes.items()} == {n: v.x for n, v in second.nodes.items()}


def test_visited_states_and_the_taken_transitions_are_marked():
    svg = render_svg(
        DEFINITION,
        {"ValidateInput": Visit(1, 0.4), "ValidationFailed": Visit(1, 0.0, "FAILED")},
        {("ValidateInput", "CheckValidation")},
    )
    status = dict(re.findall(r'data-state="(\w+)" data-status="(\w+)"', svg))
    assert status["ValidateInput"] == "ok" and status["ValidationFailed"] == "failed"
    assert status["RunETLJob"] == "unvisited"
    assert re.search(r'class="edge \w+ taken"[^>]*><title>ValidateInput → CheckValidation', svg)
    assert "http" not in svg  # inline SVG in HTML needs no namespace URL


def test_a_parallel_state_forks_to_its_branches_which_join_at_its_next_state():
    edges = {(e.source, e.target): e.kind for e in transitions(DEFINITION)}
    assert edges[("DiscoverAndCheckQuality", "RunDataDiscovery")] == "next"
    assert edges[("DiscoverAndCheckQuality", "RunDataQualityCheck")] == "next"
    assert edges[("RecordRawTableVersion", "CheckDataQuality")] == "next"
    assert edges[("RunDataQualityCheck", "CheckDataQuality")] == "next"
    # a failed branch fails the Parallel state, whose Catch goes on to NotifyFailure
    assert edges[("CrawlerFailed", "NotifyFailure")] == "catch"
    assert edges[("DiscoverAndCheckQuality", "NotifyFailure")] == "catch"
    assert ("DiscoverAndCheckQuality", "CheckDataQuality") not in edges


def steps(*names: str) -> list[dict]:
    return [{"state": name} for name in names]


def test_the_transitions_taken_follow_each_branch_through_interleaved_steps():
    taken = taken_transitions(
        DEFINITION,
        steps(
            "CheckValidation",
            "DiscoverAndCheckQuality",
            "RunDataDiscovery",
            "RunDataQualityCheck",
            "WaitForCrawler",
            "CheckCrawlerStatus",
            "CountCrawlerPoll",
            "IsCrawlerComplete",
            "DidCrawlSucceed",
            "RecordRawTableVersion",
            "CheckDataQuality",
        ),
    )
    assert {
        ("CheckValidation", "DiscoverAndCheckQuality"),
        ("DiscoverAndCheckQuality", "RunDataDiscovery"),
        ("DiscoverAndCheckQuality", "RunDataQualityCheck"),
        ("RunDataDiscovery", "WaitForCrawler"),
        ("RecordRawTableVersion", "CheckDataQuality"),
        ("RunDataQualityCheck", "CheckDataQuality"),
    } <= taken
    assert ("RunDataDiscovery", "RunDataQualityCheck") not in taken
    assert ("DiscoverAndCheckQuality", "NotifyFailure") not in taken


def test_a_failed_branch_is_drawn_through_the_parallel_states_catch():
    taken = taken_transitions(
        DEFINITION,
        steps(
            "DiscoverAndCheckQuality",
            "RunDataDiscovery",
            "RunDataQualityCheck",
            "DidCrawlSucceed",
            "CrawlerFailed",
            "NotifyFailure",
        ),
    )
    assert ("CrawlerFailed", "NotifyFailure") in taken
    assert ("DiscoverAndCheckQuality", "NotifyFailure") in taken
    assert ("RunDataQualityCheck", "CheckDataQuality") not in taken
