"""The ``depends_on`` walk: start order, and who depends on whom."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from audiovoice_ops.core.errors import ComposeFileError
from audiovoice_ops.core.stack.model import ComposeFile


def startup_order(model: ComposeFile) -> list[str]:
    """Services ordered so that each comes after its dependencies (file order breaks ties)."""
    sorter = TopologicalSorter({name: list(svc.depends_on) for name, svc in model.services.items()})
    try:
        sorter.prepare()
    except CycleError as exc:
        raise ComposeFileError(
            f"dependency cycle between services: {' -> '.join(exc.args[1])}"
        ) from None
    order: list[str] = []
    file_order = list(model.services)
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=file_order.index)
        order.extend(ready)
        sorter.done(*ready)
    return order


def dependents_closure(model: ComposeFile, roots: list[str]) -> set[str]:
    """``roots`` and every service that depends on them, directly or not."""
    selected = set(roots)
    changed = True
    while changed:
        changed = False
        for name, svc in model.services.items():
            if name not in selected and selected.intersection(svc.depends_on):
                selected.add(name)
                changed = True
    return selected
