"""The import graph, as the layering promises it: no cycles among the modules of ``conformance``
(lazy, function-level imports included), and the reference renderers never import the code that
derives or reads the goldens they are judged against.

Still shared, and listed here so the list can only shrink (issue 21): the reference renderers'
base class uses ``conformance.oracle.message_spans``, ``conformance.oracle.turn_end`` and
``conformance.oracle.turn_spans``, which golden derivation uses as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOLDEN_CODE = {"conformance.oracle.derivation", "conformance.fixtures.goldens", "conformance.fixtures.golden_diff"}
STILL_SHARED = {"conformance.oracle.message_spans", "conformance.oracle.turn_end", "conformance.oracle.turn_spans"}


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every module of ``known`` that ``path`` imports, at any depth of the file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out & known


def _graph(package: str, known: set[str] | None = None) -> dict[str, set[str]]:
    files = {_module(p): p for p in (REPO / package).rglob("*.py")}
    universe = set(files) | (known or set())
    return {m: _imports(p, universe) - {m} for m, p in files.items()}


def test_the_conformance_package_has_no_import_cycle():
    graph = _graph("conformance")
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, path: list[str]) -> bool:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycle.extend(path[path.index(d):] + [m, d] if d in path else [m, d])
                return True
            if d not in state and visit(d, path + [m]):
                return True
        state[m] = 2
        return False

    assert not any(visit(m, []) for m in sorted(graph) if m not in state), f"import cycle: {' -> '.join(cycle)}"


#: What a message, a case, a model, a tokenizer and the protocol are: both sides must agree on
#: them. (``conformance.oracle`` is here for ``TemplateRenderer``, which *is* the oracle.)
INPUT_LAYER = {"conformance.errors", "conformance.fixtures", "conformance.fixtures.cases", "conformance.fixtures.registry",
               "conformance.fixtures.paths", "conformance.fixtures.snapshots", "conformance.messages", "conformance.protocol",
               "conformance.tool_declarations", "conformance.oracle"}


def test_reference_renderers_import_no_golden_code():
    graph = _graph("conformance")
    used = set().union(*_graph("reference_renderers", set(graph)).values())
    assert not used & GOLDEN_CODE, f"reference renderers import golden code: {sorted(used & GOLDEN_CODE)}"
    # What they share with golden derivation beyond the input layer may only shrink: a new shared
    # helper is a new way for goldens and reference renderers to be wrong together.
    shared = used & graph["conformance.oracle.derivation"]
    assert shared - INPUT_LAYER <= STILL_SHARED, f"newly shared with golden derivation: {sorted(shared - INPUT_LAYER - STILL_SHARED)}"


def test_hand_written_renderers_import_nothing_of_the_oracle():
    """Only ``TemplateRenderer`` (the oracle behind the protocol) uses ``conformance.oracle``: the
    template, golden derivation, message spans and turn ends. Every hand-written renderer finds its
    own (training.py), so a bug in the goldens' span code cannot be copied into a renderer that
    then certifies."""
    graph = _graph("conformance")
    hand_written = {m: deps for m, deps in _graph("reference_renderers", set(graph)).items() if m != "reference_renderers.template"}
    oracle = {m for m in graph if m == "conformance.oracle" or m.startswith("conformance.oracle.")}
    assert STILL_SHARED <= oracle, sorted(oracle)
    shared = {m: sorted(deps & oracle) for m, deps in hand_written.items() if deps & oracle}
    assert not shared, f"hand-written renderers importing the oracle: {shared}"
    assert len(hand_written) >= 10, sorted(hand_written)  # the scan saw the family modules
