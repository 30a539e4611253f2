"""``avops status`` as data: per-service rows and the invariants the old scripts checked by hand."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from audiovoice_ops.core.containers import ContainerView

if TYPE_CHECKING:
    from audiovoice_ops.core.project import Project


@dataclass
class ContainerRow:
    service: str
    container: str
    id: str
    state: str
    health: str | None
    health_output: str | None
    image: str
    uptime_seconds: float | None
    gpu: bool
    gpu_requested: bool  # the compose file reserves a GPU for this service

    @classmethod
    def of(cls, service: str, view: ContainerView, gpu_requested: bool) -> ContainerRow:
        return cls(
            service=service,
            container=view.name,
            id=view.id[:12],
            state=view.state,
            health=view.health,
            health_output=view.health_output if view.health == "unhealthy" else None,
            image=view.image,
            uptime_seconds=view.uptime_seconds(),
            gpu=view.gpu,
            gpu_requested=gpu_requested,
        )


@dataclass
class Problem:
    kind: str  # missing | duplicate | orphan | squatter | not_running | unhealthy
    subject: str
    message: str


@dataclass
class StatusReport:
    project: str
    compose_file: str
    rows: list[ContainerRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "project": self.project,
            "compose_file": self.compose_file,
            "ok": self.ok,
            "services": [asdict(r) for r in self.rows],
            "problems": [asdict(p) for p in self.problems],
        }


def project_status(project: Project) -> StatusReport:
    """The report on ``project.inventory`` as last read (refresh it first after a change)."""
    stack, inventory = project.stack, project.inventory
    report = StatusReport(project=stack.project, compose_file=str(stack.compose_file))
    for service, views in inventory.services.items():
        gpu_requested = bool(stack.service(service).gpu_devices)
        report.rows.extend(ContainerRow.of(service, v, gpu_requested) for v in views)
        report.problems.extend(_service_problems(service, views))
    for orphan in inventory.orphans:
        report.rows.append(ContainerRow.of(orphan.service or "?", orphan, False))
        report.problems.append(
            Problem(
                "orphan",
                orphan.name,
                f"container {orphan.name} belongs to service {orphan.service!r}, "
                "which is no longer in the compose file",
            )
        )
    for squatter in inventory.squatters:
        report.problems.append(
            Problem(
                "squatter", squatter.name, f"foreign container {squatter.name} {squatter.reason}"
            )
        )
    return report


def _service_problems(service: str, views: list[ContainerView]) -> list[Problem]:
    if not views:
        return [Problem("missing", service, f"service {service!r} has no container")]
    problems = []
    if len(views) > 1:
        names = ", ".join(v.name for v in views)
        problems.append(
            Problem(
                "duplicate",
                service,
                f"service {service!r} has {len(views)} containers ({names}); expected exactly one",
            )
        )
    for view in views:
        if not view.running:
            problems.append(
                Problem("not_running", view.name, f"container {view.name} is {view.state}")
            )
        elif view.health == "unhealthy":
            last_line = (view.health_output or "").strip().splitlines()[-1:] or ["no probe output"]
            problems.append(
                Problem(
                    "unhealthy",
                    view.name,
                    f"container {view.name} is unhealthy: {last_line[0][:200]}",
                )
            )
    return problems
