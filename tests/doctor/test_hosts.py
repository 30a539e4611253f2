"""doctor's ``workers.hosts``: the hosts of ``avops worker add``, as ``status`` reads them."""

from __future__ import annotations

import pytest

from audiovoice_ops.core.doctor.hosts import check_worker_hosts
from audiovoice_ops.core.doctor.sources import Sources


def host(url="ssh://me@gpu1", error=None, workers=()):
    return {
        "url": url,
        "gpus": "0,1",
        "reachable": error is None,
        "error": error,
        "workers": list(workers),
    }


def worker(name="p-celery-gpu1-1", state="running", health="healthy"):
    return {"name": name, "state": state, "health": health, "gpu": "0", "uptime_s": 60.0}


def check(*hosts):
    # the check reads only the host reports; no project, engine or API is needed
    return check_worker_hosts(Sources(project=None, worker_hosts=list(hosts)))


@pytest.mark.parametrize(
    "hosts,status,words",
    [
        ((), "skipped", "no worker hosts"),
        ((host(workers=[worker(), worker("p-celery-gpu1-2")]),), "pass", "1 host(s), 2 worker(s)"),
        ((host(workers=[worker(health="starting")]),), "pass", "1 worker(s)"),
        (
            (host(error="cannot reach the Docker daemon at ssh://me@gpu1 over ssh: refused"),),
            "warn",
            "unreachable: ssh://me@gpu1",
        ),
        ((host(),), "warn", "no workers on ssh://me@gpu1"),
        ((host(workers=[worker(health="unhealthy")]),), "fail", "is running/unhealthy"),
        (
            (host(workers=[worker(state="exited", health=None)]), host("ssh://gpu2", error="x")),
            "fail",
            "is exited/no healthcheck",
        ),
    ],
)
def test_worker_hosts(hosts, status, words):
    result = check(*hosts)
    assert result.status == status and words in result.reason, result
    assert result.id == "workers.hosts" and (result.fix is not None) == (status in ("warn", "fail"))
