"""No import circles anywhere in the project, function-level imports included (a circle hidden
inside a function is still a circle: it only moves the failure to run time)."""

from __future__ import annotations

import grimp

PACKAGES = ("console", "screens", "widgets", "backends", "themes")


def strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm over the module graph: every group of modules that import each
    other, directly or through others."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_no_module_imports_itself_through_others() -> None:
    # A `TYPE_CHECKING` import is a type reference, not a run-time import: left out.
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False,
                              exclude_type_checking_imports=True)
    circles = [sorted(g) for g in strongly_connected(graph) if len(g) > 1]
    assert circles == [], "import circles: " + "; ".join(" ⇄ ".join(c) for c in circles)
