"""The Celery application, shared by the API (to send tasks) and the worker (to run them).

Deliberately light: no task code and no engines here, so the API can import it without
the ML stack. Tasks are sent by name; their bodies live in ``service.worker``.
"""

from __future__ import annotations

from celery import Celery, signals

from service.redis_conn import redis_target, watch_connection
from service.settings import get_service_settings
from service.startup import or_exit

QUEUE = "audio-voice"
TASK_CLONE = "avops.clone_voice"
TASK_SYNTHESIZE = "avops.synthesize"
# Model admin (/admin/models): sent to one worker's own queue (worker_direct), so each worker's
# pool child, where the models live, runs it between jobs.
TASK_MODEL_LOAD = "avops.model_load"
TASK_MODEL_UNLOAD = "avops.model_unload"
HARD_LIMIT_GRACE_S = 30  # after the soft limit, before the child is killed


def make_celery() -> Celery:
    # The first settings read of the API, the worker and the healthcheck: a bad value exits
    # here with one line, before uvicorn or celery could print a traceback around it.
    s = or_exit(get_service_settings)
    target = or_exit(redis_target)  # REDIS_URL: plain, or TLS with its ssl_* options
    app = Celery("avops", broker=target.url, backend=target.url)
    app.conf.update(
        # rediss://: the same TLS options for both (verification, CA), never kombu's unverified
        # default for a rediss:// URL without them.
        broker_use_ssl=target.celery_ssl(),
        redis_backend_use_ssl=target.celery_ssl(),
        task_default_queue=QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=s.job_ttl_seconds,
        # Ack after the task ran, and requeue if the pool child dies mid-job: a killed worker
        # never loses a job (the job store's attempt counter stops poison jobs looping).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # with acks_late: hold one job at a time, FIFO
        # One GPU, one job: prefork with a single child keeps CUDA out of the parent
        # process (which answers `celery inspect ping` even during a long job).
        worker_pool="prefork",
        worker_concurrency=1,
        # Child init imports torch and probes CUDA: the 4 s default would kill it.
        worker_proc_alive_timeout=120,
        # Redis restarts: keep reconnecting instead of exiting.
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # A job whose worker (or host) was lost outright comes back after the visibility
        # timeout, found by a sweep of the surviving workers every REDELIVERY_SWEEP_S: kombu's
        # default sweeps only every 10 x 10 s, which made redelivery take up to 100 s longer
        # than the timeout. With a throttle of 1 the bound is timeout + sweep.
        broker_transport_options={
            "visibility_timeout": s.job_visibility_timeout_s,
            "unacked_restore_interval": s.redelivery_sweep_s,
            "unacked_restore_throttle": 1,
            **target.broker_timeouts(),
        },
        result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
        worker_hijack_root_logger=True,
        task_send_sent_event=False,
        # Each worker also consumes its own queue (<node>.dq2): /admin/models reaches every
        # worker one by one through the broker, not through a side channel.
        worker_direct=True,
        # The bound of one attempt (the reaper fails the job at the same deadline even if the
        # worker never comes back): the task gets SoftTimeLimitExceeded and ends failed with
        # that reason; a child that ignores it is killed a little later.
        task_soft_time_limit=s.job_deadline_s,
        task_time_limit=s.job_deadline_s + HARD_LIMIT_GRACE_S,
    )
    return app


celery_app = make_celery()
# The worker's parent, logging set up, before its consumer connects: a refused connection is
# logged with its cause (wrong password, TLS) while Celery keeps retrying.
signals.celeryd_after_setup.connect(lambda **_: watch_connection(), weak=False)
