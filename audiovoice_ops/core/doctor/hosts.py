"""Checklist "Containers", other hosts: every host of ``avops worker add`` answers and runs its
workers healthy (a host that does not answer is a warning with its reason, not a doctor crash)."""

from __future__ import annotations

from audiovoice_ops.core.doctor.report import FAIL, PASS, SKIPPED, WARN, Check
from audiovoice_ops.core.doctor.sources import Sources

TITLE = "workers on other hosts answer and are healthy"


def check_worker_hosts(src: Sources) -> Check:
    hosts = src.worker_hosts
    if not hosts:
        return _check(SKIPPED, "no worker hosts (avops worker add)")
    unreachable = [f"{h['url']}: {h['error']}" for h in hosts if h["error"]]
    bad = [
        f"{w['name']} on {h['url']} is {w['state']}/{w['health'] or 'no healthcheck'}"
        for h in hosts
        for w in h["workers"]
        if w["state"] != "running" or w["health"] not in (None, "healthy", "starting")
    ]
    empty = [h["url"] for h in hosts if not h["error"] and not h["workers"]]
    if bad:
        return _check(
            FAIL, "; ".join(bad), "avops worker ls; avops worker add HOST to replace them"
        )
    if unreachable or empty:
        parts = [f"unreachable: {u}" for u in unreachable] + [f"no workers on {u}" for u in empty]
        return _check(
            WARN, "; ".join(parts), "check ssh to the host; avops worker rm HOST --forget"
        )
    workers = sum(len(h["workers"]) for h in hosts)
    return _check(PASS, f"{len(hosts)} host(s), {workers} worker(s) running")


def _check(status: str, reason: str, fix: str | None = None) -> Check:
    return Check("workers.hosts", "containers", TITLE, status, reason, fix)
