"""The workflow graph as SVG, drawn from the ASL definition itself, with the path a run took.

A small layered layout (the Sugiyama method, cut down to what a ~25-state machine needs):
loops are broken where a depth-first walk from ``StartAt`` meets a state on its own stack;
each state sits on the layer of its longest path from the start; transitions that skip
layers get invisible waypoints, so they bend around states instead of crossing them; a few
barycenter sweeps order each layer to cut crossings; states are then pulled towards the
centre of their neighbours. No JavaScript and no fonts to fetch: plain inline SVG.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from html import escape

from etl.local.definition import all_states, branch_of

NODE_HEIGHT = 40
LAYER_GAP = 30
NODE_GAP = 22
WAYPOINT_WIDTH = 12
MARGIN = 20
CHAR_WIDTH = 7.0
ORDER_SWEEPS = 8
POSITION_SWEEPS = 12
CATCH_PULL = 0.05


@dataclass
class Visit:
    """What a run did in one state: how often, how long, and how it ended."""

    count: int = 0
    seconds: float = 0.0
    status: str = "OK"  # OK | CAUGHT (a task error a Catch handled) | FAILED
    entered: str = ""
    exited: str = ""


@dataclass
class _Node:
    name: str
    kind: str  # the ASL state Type, or "" for a waypoint
    comment: str = ""
    layer: int = 0
    width: float = WAYPOINT_WIDTH
    x: float = 0.0  # centre

    @property
    def waypoint(self) -> bool:
        return not self.kind


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # next | choice | default | catch
    back: bool = False
    via: list[str] = field(default_factory=list)  # waypoint node names


def transitions(definition: dict) -> list[Edge]:
    """Every transition of the state machine, in the order the definition lists them.

    A Parallel state leads to the start of each branch; a branch's last states lead to the
    Parallel state's ``Next``, and its Fail states to the Parallel state's Catch targets
    (a failed branch fails the Parallel state, which its Catch handles).
    """
    edges: list[Edge] = []
    seen: set[tuple[str, str]] = set()

    def add(source: str, target: str | None, kind: str) -> None:
        if target and (source, target) not in seen:
            seen.add((source, target))
            edges.append(Edge(source, target, kind))

    def walk(states: dict, joins: str | None, catches: list[str]) -> None:
        for name, state in states.items():
            for choice in state.get("Choices", []):
                add(name, choice.get("Next"), "choice")
            add(name, state.get("Default"), "default")
            if state.get("Branches"):
                caught = [c.get("Next") for c in state.get("Catch", [])]
                for branch in state["Branches"]:
                    add(name, branch["StartAt"], "next")
                    walk(branch["States"], state.get("Next"), caught)
            else:
                add(name, state.get("Next"), "next")
            if state.get("End"):
                add(name, joins, "next")
            if state["Type"] == "Fail":
                for target in catches:
                    add(name, target, "catch")
            for catcher in state.get("Catch", []):
                add(name, catcher.get("Next"), "catch")

    walk(definition["States"], None, [])
    return edges


def taken_transitions(definition: dict, steps: list[dict]) -> set[tuple[str, str]]:
    """The transitions a run took, from its steps (``etl.local.history.path_taken``).

    Branches of a Parallel state run at the same time and their steps interleave, so a
    step's successor is the next step entered in the same branch (or, leaving a branch,
    outside the Parallel state); a transition counts only if the definition has it.
    """
    known = {(e.source, e.target) for e in transitions(definition)}
    owners = branch_of(definition)
    taken = set()
    for position, step in enumerate(steps):
        name, later = step["state"], [s["state"] for s in steps[position + 1 :]]
        inside = owners.get(name)
        candidates = [next((s for s in later if owners.get(s) == inside), None)]
        if inside:  # leaving the branch: the next state entered outside the Parallel state
            outer = owners.get(inside[0])
            candidates.append(next((s for s in later if owners.get(s) == outer), None))
        candidates += [s for s in later if owners.get(s, ("",))[0] == name]  # branch starts
        taken |= {(name, target) for target in candidates if (name, target) in known}
    return taken


@dataclass
class Layout:
    nodes: dict[str, _Node]
    edges: list[Edge]
    layers: list[list[str]]
    width: float
    height: float

    def y(self, name: str) -> float:
        return MARGIN + self.nodes[name].layer * (NODE_HEIGHT + LAYER_GAP)


def layout(definition: dict) -> Layout:
    """Place every state of ``definition`` (an ASL document) on layers, top to bottom."""
    states = all_states(definition)
    edges = transitions(definition)
    _mark_back_edges(definition["StartAt"], states, edges)
    nodes = {
        name: _Node(name, state["Type"], state.get("Comment", ""), width=_width(name))
        for name, state in states.items()
    }
    _assign_layers(definition["StartAt"], nodes, edges)
    layers = _add_waypoints(nodes, edges)
    _order(layers, nodes, edges)
    _position(layers, nodes, edges)
    width = max(n.x + n.width / 2 for n in nodes.values()) + MARGIN + 60
    height = MARGIN * 2 + len(layers) * (NODE_HEIGHT + LAYER_GAP) - LAYER_GAP
    return Layout(nodes, edges, layers, width, height)


def _width(name: str) -> float:
    return max(120.0, len(name) * CHAR_WIDTH + 28)


def _mark_back_edges(start: str, states: dict, edges: list[Edge]) -> None:
    """Edges that close a loop: found by a depth-first walk, in the definition's order."""
    outgoing: dict[str, list[Edge]] = {}
    for edge in edges:
        outgoing.setdefault(edge.source, []).append(edge)
    done: set[str] = set()
    on_stack: set[str] = set()

    def visit(name: str) -> None:
        on_stack.add(name)
        for edge in outgoing.get(name, []):
            if edge.target in on_stack:
                edge.back = True
            elif edge.target not in done:
                visit(edge.target)
        on_stack.discard(name)
        done.add(name)

    visit(start)
    for name in states:  # states nothing reaches still get drawn
        if name not in done:
            visit(name)


def _assign_layers(start: str, nodes: dict[str, _Node], edges: list[Edge]) -> None:
    """Longest path from the start over the forward edges."""
    forward = [e for e in edges if not e.back]
    incoming = {name: 0 for name in nodes}
    for edge in forward:
        incoming[edge.target] += 1
    ready = [start] + [n for n, count in incoming.items() if count == 0 and n != start]
    while ready:
        name = ready.pop(0)
        for edge in forward:
            if edge.source == name:
                target = nodes[edge.target]
                target.layer = max(target.layer, nodes[name].layer + 1)
                incoming[edge.target] -= 1
                if incoming[edge.target] == 0:
                    ready.append(edge.target)


def _add_waypoints(nodes: dict[str, _Node], edges: list[Edge]) -> list[list[str]]:
    """Invisible nodes on every layer a forward edge skips; the layers, listed."""
    for edge in edges:
        if edge.back:
            continue
        top, bottom = nodes[edge.source].layer, nodes[edge.target].layer
        for layer in range(top + 1, bottom):
            name = f"~{edge.source}>{edge.target}@{layer}"
            nodes[name] = _Node(name, "", layer=layer)
            edge.via.append(name)
    depth = max(n.layer for n in nodes.values()) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for name, node in nodes.items():  # the definition's order: a sensible first guess
        layers[node.layer].append(name)
    return layers


def _segments(edges: list[Edge], kinds: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Each forward edge (of ``kinds``, default all) as (upper, lower) pairs via waypoints."""
    pairs = []
    for edge in edges:
        if not edge.back and (not kinds or edge.kind in kinds):
            chain = [edge.source, *edge.via, edge.target]
            pairs += list(itertools.pairwise(chain))
    return pairs


def _order(layers: list[list[str]], nodes: dict[str, _Node], edges: list[Edge]) -> None:
    """Barycenter sweeps down and up; keep the ordering with the fewest crossings."""
    pairs = _segments(edges)
    above: dict[str, list[str]] = {}
    below: dict[str, list[str]] = {}
    for upper, lower in pairs:
        below.setdefault(upper, []).append(lower)
        above.setdefault(lower, []).append(upper)
    best = [list(layer) for layer in layers]
    best_crossings = _crossings(best, pairs)
    for sweep in range(ORDER_SWEEPS):
        down = sweep % 2 == 0
        indices = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for i in indices:
            reference = layers[i - 1] if down else layers[i + 1]
            rank = {name: r for r, name in enumerate(reference)}
            neighbours = above if down else below

            def centre(name: str, current: int, rank=rank, neighbours=neighbours) -> float:
                linked = [rank[n] for n in neighbours.get(name, []) if n in rank]
                return sum(linked) / len(linked) if linked else current

            layers[i] = [
                n
                for _, n in sorted(
                    (centre(n, pos), n) for pos, n in enumerate(layers[i])
                )  # stable on ties by name: deterministic output
            ]
        crossings = _crossings(layers, pairs)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in layers], crossings
    layers[:] = best


def _crossings(layers: list[list[str]], pairs: list[tuple[str, str]]) -> int:
    position = {name: i for layer in layers for i, name in enumerate(layer)}
    count = 0
    for a, (u1, l1) in enumerate(pairs):
        for u2, l2 in pairs[a + 1 :]:
            if (position[u1] - position[u2]) * (position[l1] - position[l2]) < 0:
                count += 1
    return count


def _position(layers: list[list[str]], nodes: dict[str, _Node], edges: list[Edge]) -> None:
    """x centres: packed left to right, then pulled towards their neighbours' centres.

    Catch transitions barely pull a state: every task catches into the same failure
    handler, and letting those edges pull would bend the main path towards it. A catch
    edge's own waypoints follow their edge fully.
    """
    pull: dict[str, list[tuple[str, float]]] = {}
    for upper, lower in _segments(edges, ("next", "choice", "default")):
        pull.setdefault(upper, []).append((lower, 1.0))
        pull.setdefault(lower, []).append((upper, 1.0))
    for upper, lower in _segments(edges, ("catch",)):
        pull.setdefault(upper, []).append((lower, 1.0 if nodes[upper].waypoint else CATCH_PULL))
        pull.setdefault(lower, []).append((upper, 1.0 if nodes[lower].waypoint else CATCH_PULL))
    for layer in layers:
        x = MARGIN
        for name in layer:
            nodes[name].x = x + nodes[name].width / 2
            x += nodes[name].width + NODE_GAP
    for _ in range(POSITION_SWEEPS):
        for layer in layers:
            wanted = []
            for name in layer:
                linked = pull.get(name, [])
                total = sum(weight for _, weight in linked)
                wanted.append(
                    sum(nodes[n].x * w for n, w in linked) / total if total else nodes[name].x
                )
            _place(layer, nodes, wanted)
    shift = MARGIN - min(n.x - n.width / 2 for n in nodes.values())
    for node in nodes.values():
        node.x += shift


def _place(layer: list[str], nodes: dict[str, _Node], wanted: list[float]) -> None:
    """Put a layer's nodes as near ``wanted`` as their order and widths allow."""
    xs = list(wanted)
    for i in range(1, len(layer)):  # push right what overlaps its left neighbour
        gap = (nodes[layer[i - 1]].width + nodes[layer[i]].width) / 2 + NODE_GAP
        xs[i] = max(xs[i], xs[i - 1] + gap)
    overshoot = (xs[-1] - wanted[-1]) / 2 if xs else 0  # share the push both ways
    for i in range(len(layer)):
        xs[i] -= overshoot
    for i in range(len(layer) - 2, -1, -1):
        gap = (nodes[layer[i]].width + nodes[layer[i + 1]].width) / 2 + NODE_GAP
        xs[i] = min(xs[i], xs[i + 1] - gap)
    for name, x in zip(layer, xs, strict=True):
        nodes[name].x = x


# --------------------------------------------------------------------------- drawing
STYLE = """
.wf text { font: 12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
.wf .name { font-weight: 600; fill: #1f2328; }
.wf .meta { font-size: 10.5px; fill: #57606a; }
.wf .state rect, .wf .state polygon { fill: #ffffff; stroke: #afb8c1; stroke-width: 1.2; }
.wf .state.unvisited .name { fill: #8c959f; font-weight: 500; }
.wf .state.ok rect, .wf .state.ok polygon { fill: #dafbe1; stroke: #1a7f37; stroke-width: 1.8; }
.wf .state.caught rect, .wf .state.caught polygon { fill: #fff8c5; stroke: #9a6700;
  stroke-width: 1.8; }
.wf .state.failed rect, .wf .state.failed polygon { fill: #ffebe9; stroke: #cf222e;
  stroke-width: 2.2; }
.wf .edge { fill: none; stroke: #c9d1d9; stroke-width: 1.3; }
.wf .edge.catch { stroke-dasharray: 4 3; stroke-opacity: 0.7; }
.wf .edge.taken { stroke: #0969da; stroke-width: 2.6; }
"""


def render_svg(
    definition: dict,
    visits: dict[str, Visit] | None = None,
    taken: set[tuple[str, str]] | None = None,
) -> str:
    """The graph as an ``<svg>`` element: visited states coloured, the path taken drawn."""
    visits, taken = visits or {}, taken or set()
    drawn = layout(definition)
    parts = [
        f'<svg class="wf" role="img" '
        f'viewBox="0 0 {drawn.width:.0f} {drawn.height:.0f}" width="{drawn.width:.0f}" '
        f'height="{drawn.height:.0f}" aria-label="workflow graph">',
        f"<style>{STYLE}</style>",
        "<defs>",
        _arrow("arrow", "#c9d1d9"),
        _arrow("arrow-taken", "#0969da"),
        "</defs>",
    ]
    ordered = sorted(drawn.edges, key=lambda e: (e.source, e.target) in taken)
    for edge in ordered:  # taken edges last, so they are drawn on top
        parts.append(_edge(drawn, edge, (edge.source, edge.target) in taken))
    for name, node in drawn.nodes.items():
        if not node.waypoint:
            parts.append(_node(drawn, node, visits.get(name)))
    parts.append("</svg>")
    return "\n".join(parts)


def _arrow(name: str, colour: str) -> str:
    return (
        f'<marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        f'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" '
        f'fill="{colour}"/></marker>'
    )


def _edge(drawn: Layout, edge: Edge, taken: bool) -> str:
    nodes = drawn.nodes
    source, target = nodes[edge.source], nodes[edge.target]
    classes = " ".join(["edge", edge.kind] + (["taken"] if taken else []))
    marker = "arrow-taken" if taken else "arrow"
    if edge.back:  # a loop: out of the right side, up, into the right side
        sx, sy = source.x + source.width / 2, drawn.y(edge.source) + NODE_HEIGHT / 2
        tx, ty = target.x + target.width / 2, drawn.y(edge.target) + NODE_HEIGHT / 2
        bulge = max(sx, tx) + 50
        d = f"M{sx:.1f},{sy:.1f} C{bulge:.1f},{sy:.1f} {bulge:.1f},{ty:.1f} {tx:.1f},{ty:.1f}"
    else:
        points = [(source.x, drawn.y(edge.source) + NODE_HEIGHT)]
        points += [(nodes[w].x, drawn.y(w) + NODE_HEIGHT / 2) for w in edge.via]
        points.append((target.x, drawn.y(edge.target)))
        d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
        for (x1, y1), (x2, y2) in itertools.pairwise(points):
            middle = (y1 + y2) / 2
            d += f" C{x1:.1f},{middle:.1f} {x2:.1f},{middle:.1f} {x2:.1f},{y2:.1f}"
    title = f"{edge.source} → {edge.target} ({edge.kind})"
    return (
        f'<path class="{classes}" d="{d}" marker-end="url(#{marker})">'
        f"<title>{escape(title)}</title></path>"
    )


def _node(drawn: Layout, node: _Node, visit: Visit | None) -> str:
    y = drawn.y(node.name)
    left, width, height = node.x - node.width / 2, node.width, NODE_HEIGHT
    status = "unvisited" if visit is None else visit.status.lower()
    if node.kind == "Choice":
        cut = 12
        points = [
            (left, y + height / 2),
            (left + cut, y),
            (left + width - cut, y),
            (left + width, y + height / 2),
            (left + width - cut, y + height),
            (left + cut, y + height),
        ]
        shape = '<polygon points="' + " ".join(f"{px:.1f},{py:.1f}" for px, py in points) + '"/>'
    else:
        radius = height / 2 if node.kind in ("Succeed", "Fail") else 6
        shape = (
            f'<rect x="{left:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height}" '
            f'rx="{radius}"/>'
        )
    meta = node.kind
    if visit is not None:
        times = f"×{visit.count} · " if visit.count > 1 else ""
        meta = f"{node.kind} · {times}{_seconds(visit.seconds)}"
        if visit.status == "CAUGHT":
            meta += " · caught"
    tip = [node.name, node.comment] if node.comment else [node.name]
    if visit is not None:
        tip.append(f"{visit.status}: entered {visit.entered}, left {visit.exited or '-'}")
    return (
        f'<g class="state {status}" data-state="{escape(node.name)}" '
        f'data-status="{escape(status)}"><title>{escape(" — ".join(tip))}</title>{shape}'
        f'<text class="name" x="{node.x:.1f}" y="{y + 16:.1f}" text-anchor="middle">'
        f"{escape(node.name)}</text>"
        f'<text class="meta" x="{node.x:.1f}" y="{y + 31:.1f}" text-anchor="middle">'
        f"{escape(meta)}</text></g>"
    )


def _seconds(value: float) -> str:
    if value >= 60:
        return f"{int(value // 60)} min {value % 60:.0f} s"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
