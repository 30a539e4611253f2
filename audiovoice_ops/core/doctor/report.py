"""What a doctor run produces: checks with a status, a reason and a fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, WARN, FAIL, SKIPPED = "pass", "warn", "fail", "skipped"


@dataclass
class Check:
    id: str
    group: str
    title: str
    status: str
    reason: str
    fix: str | None = None


@dataclass
class DoctorReport:
    project: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in (PASS, WARN, FAIL, SKIPPED)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "ok": self.ok,
            "summary": self.counts(),
            "checks": [asdict(c) for c in self.checks],
        }
