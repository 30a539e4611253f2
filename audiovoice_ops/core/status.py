"""``avops status`` as data: per-container rows and the invariants the old scripts checked by hand,
per replica: exactly one container for each (service, replica) the plan has (``core/replicas.py``;
a plain service has one replica), none past it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from audiovoice_ops.core.containers import ContainerView

if TYPE_CHECKING:
    from audiovoice_ops.core.project import Project
    from audiovoice_ops.core.replicas import ReplicaPlan


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
    replica: int = 1
    gpu_devices: list[str] = field(default_factory=list)  # granted: ids, or "all"
    planned_gpu: str | None = None  # the GPU avops pinned the replica to ("none": CPU worker)

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
            replica=view.number,
            gpu_devices=view.gpu_devices,
            planned_gpu=view.planned_gpu,
        )


@dataclass
class Problem:
    kind: str  # missing | duplicate | surplus | orphan | squatter | not_running | unhealthy
    subject: str
    message: str


@dataclass
class StatusReport:
    project: str
    compose_file: str
    rows: list[ContainerRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # `avops worker add` hosts: each host's workers, or why it did not answer (a row, not a failure)
    worker_hosts: list[dict] = field(default_factory=list)

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
            "worker_hosts": self.worker_hosts,
        }


def project_status(project: Project) -> StatusReport:
    """The report on ``project.inventory`` as last read (refresh it first after a change)."""
    stack, inventory, plan = project.stack, project.inventory, project.replicas
    report = StatusReport(project=stack.project, compose_file=str(stack.compose_file))
    for service, views in inventory.services.items():
        gpu_requested = bool(stack.service(service).gpu_devices)
        report.rows.extend(ContainerRow.of(service, v, gpu_requested) for v in views)
        report.problems.extend(replica_problems(service, views, plan))
        report.problems.extend(_health_problems(views))
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
    report.worker_hosts = worker_host_reports(project)
    return report


def worker_host_reports(project: Project) -> list[dict]:
    """The remembered worker hosts (``avops worker add``), each read from its own engine."""
    from audiovoice_ops.core.remote.hosts import HostBook
    from audiovoice_ops.core.remote.workers import report_host

    book = HostBook.beside(project.stack.env_file)
    return [report_host(host, project.name).to_dict() for host in book.hosts()]


def replica_problems(service: str, views: list[ContainerView], plan: ReplicaPlan) -> list[Problem]:
    """Missing and duplicate replicas, and containers past the plan. A plain service has one
    replica: a second container there is a duplicate, as before replicas existed."""
    numbers = plan.numbers(service)
    replicated = service in plan.reasons
    if not views and not replicated:
        return [Problem("missing", service, f"service {service!r} has no container")]
    problems = []
    for number in numbers:
        mine = [v for v in views if v.number == number]
        subject = f"{service}:{number}" if replicated else service
        if not mine:
            problems.append(
                Problem(
                    "missing",
                    subject,
                    f"replica {subject} has no container ({_why(plan, service)})",
                )
            )
        elif len(mine) > 1:
            names = ", ".join(v.name for v in mine)
            problems.append(
                Problem(
                    "duplicate",
                    subject,
                    f"{subject} has {len(mine)} containers ({names}); expected exactly one",
                )
            )
    surplus = plan.surplus(service, views)
    if surplus:
        names = ", ".join(v.name for v in views)
        problems.append(
            Problem(
                "surplus" if replicated else "duplicate",
                service,
                f"service {service!r} has {len(views)} containers ({names}); expected "
                f"{len(numbers)} ({_why(plan, service)}); avops restart {service} removes "
                + ", ".join(v.name for v in surplus),
            )
        )
    return problems


def _why(plan: ReplicaPlan, service: str) -> str:
    return plan.reasons.get(service) or "exactly one"


def _health_problems(views: list[ContainerView]) -> list[Problem]:
    problems = []
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
