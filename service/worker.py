"""Celery worker: voice cloning and synthesis tasks, VRAM stats publishing.

Run: ``celery -A service.worker worker --pool=prefork --concurrency=1 --loglevel=INFO``.

CUDA is never initialised in the parent process: a forked child inherits a broken
CUDA context. The parent only imports Celery and the light ``engines`` modules; torch,
the CUDA check and the models are touched in the pool child (``worker_process_init``
and the tasks). With one child, the parent stays free to answer ``celery inspect ping``
during a long job, which is what the container healthcheck asks.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any, Callable, Optional

from celery import signals
from celery.exceptions import SoftTimeLimitExceeded

from service import blobs, jobmetrics, settle, vram_publish
from service import jobs as jobstore
from service.celery_app import (
    TASK_CLONE,
    TASK_MODEL_LOAD,
    TASK_MODEL_UNLOAD,
    TASK_SYNTHESIZE,
    celery_app,
)
from service.redis_conn import get_raw_redis, get_redis, reset_redis
from service.schemas import JobMode, JobStatus
from service.settings import get_service_settings
from service.speechstream import (
    TICK_INTERVAL_S,
    EventType,
    SpeechEvent,
    StreamWriter,
    event_for_failure,
    pcm16,
)
from service.startup import or_exit
from service.storage import NO_SPACE_MESSAGE, is_no_space

logger = logging.getLogger("service.worker")
app = celery_app


def _check_engine_settings() -> None:
    """LOW_VRAM, devices...: read in the pool child, so a bad value would crash every child
    in a loop. Validate in the parent as it loads this module: one line, exit 2 (the service
    settings were checked by ``service.celery_app``)."""
    from engines.settings import load_settings

    or_exit(load_settings)


_check_engine_settings()

CLONE_SAMPLE_RATE = 24000  # stored reference rate: F5-TTS's; XTTS resamples to 22.05 kHz
CLONE_MAX_SECONDS = 30.0  # the longest reference an engine uses (XTTS); F5 clips to 12 s


class JobError(Exception):
    """A job cannot run as asked (voice missing or not ready...): ends 'failed' with this text.
    ``status``: the HTTP status a speech request reports when no audio was sent yet."""

    status = 409


class Cancelled(JobError):
    """The request was cancelled (its client went away): the job ends ``cancelled``."""


FINAL_STATUSES = (JobStatus.completed.value, JobStatus.failed.value, JobStatus.cancelled.value)


# --------------------------------------------------------------------------- child state
class _Child:
    """Per-pool-child state, set up in worker_process_init (never in the parent)."""

    node = f"celery@{socket.gethostname()}"
    manager: Any = None  # engines' VramManager, None if the engines extra is missing
    engines: dict[str, Any] = {}
    stop = threading.Event()


def _worker_id() -> str:
    return f"{_Child.node} pid={os.getpid()}"


def _store() -> jobstore.JobStore:
    return jobstore.JobStore(get_redis(), get_service_settings().job_ttl_seconds)


def _cache() -> blobs.WorkerCache:
    s = get_service_settings()
    return blobs.WorkerCache(s.worker_cache_dir, s.worker_cache_mb)


def publish_vram(event: str) -> None:
    """Best effort: a Redis hiccup must never fail a job or kill the heartbeat."""
    try:
        stats = (
            _Child.manager.stats()
            if _Child.manager is not None
            else {"available": False, "error": "engines extra not installed in this image"}
        )
        heartbeat = get_service_settings().vram_heartbeat_s
        vram_publish.publish(get_redis(), stats, _worker_id(), event, heartbeat_s=heartbeat)
    except Exception as exc:  # noqa: BLE001  (a Redis hiccup must never fail a job or the heartbeat)
        logger.warning("could not publish VRAM stats (%s): %s", event, exc)


def _heartbeat() -> None:
    interval = get_service_settings().vram_heartbeat_s
    while not _Child.stop.wait(interval):
        publish_vram("heartbeat")


@signals.celeryd_after_setup.connect
def _remember_node(sender: str, instance, **_: Any) -> None:
    _Child.node = sender  # e.g. celery@<hostname>, inherited by the child at fork


@signals.worker_process_init.connect
def _init_child(**_: Any) -> None:
    reset_redis()  # never share the parent's sockets
    s = get_service_settings()
    s.worker_cache_dir.mkdir(parents=True, exist_ok=True)
    logger.info("worker child pid=%d starting on %s", os.getpid(), _Child.node)
    _init_engines()
    if _Child.manager is not None:
        # Publish the moment memory changes, so /admin/vram is never a heartbeat behind.
        _Child.manager.add_listener(lambda event, _key: publish_vram(event))
    publish_vram("startup")
    threading.Thread(target=_heartbeat, name="vram-heartbeat", daemon=True).start()
    _preload(s.preload_engines)


def _init_engines() -> None:
    from engines import check_cuda, get_settings

    report = check_cuda()  # logs the seed's CUDA lines; safe without torch
    logger.info("cuda_check: %s", report.to_dict())
    get_settings()  # logs "LOW_VRAM env=... parsed=..."
    try:
        from engines import get_vram_manager

        _Child.manager = get_vram_manager()  # logs "LOW VRAM MODE: ENABLED" or "NORMAL MODE"
    except ImportError as exc:
        logger.error("engines unavailable (%s): synthesis jobs will fail", exc)


def _preload(names: str) -> None:
    """Warm the listed engines so the first job needs no load (not with a keep-alive of 0,
    e.g. LOW_VRAM: they would leave the GPU at once)."""
    names_list = [n.strip() for n in names.split(",") if n.strip()]
    if names_list and _Child.manager is not None and _Child.manager.keep_alive_s == 0:
        logger.info("PRELOAD_ENGINES=%s not preloaded: MODEL_KEEP_ALIVE is 0", names)
        return
    for name in names_list:
        try:
            _engine(name).load()
        except Exception as exc:  # noqa: BLE001  (a bad model path fails jobs, not the worker)
            logger.error("preloading engine %s failed: %s", name, exc)


@signals.task_postrun.connect
def _count_job_end(task_id: str, **_: Any) -> None:
    jobmetrics.record_job_end(get_redis(), task_id)  # /metrics: once per job (task id = job id)


@signals.worker_process_shutdown.connect
def _shutdown_child(**_: Any) -> None:
    _Child.stop.set()
    if _Child.manager is not None:
        _Child.manager.clear()


def _engine(name: str):
    """Engines are built once per child (they resolve paths and pick the device)."""
    if name not in _Child.engines:
        from engines import get_engine

        _Child.engines[name] = get_engine(name)
    return _Child.engines[name]


# --------------------------------------------------------------------------- job wrapper
def _run_job(job_id: str, body: Callable[[dict], dict]) -> str:
    """Common life cycle: processing -> completed | failed; never raises (worker survives).

    The attempt runs under a deadline (JOB_DEADLINE_S): past it the reaper in the API fails
    the job even if this worker never comes back, and a result that arrives later is dropped."""
    store = _store()
    record = store.get(job_id)
    if record is None:
        logger.warning("job %s: no record (expired or unknown), dropped", job_id)
        return "missing"
    if record["status"] in FINAL_STATUSES:
        return record["status"]  # a redelivery of a job that already finished (or cancelled)
    attempt = _admit(store, job_id, record)
    if attempt is None:
        return JobStatus.failed.value
    started = time.time()
    queue_wait = started - jobstore.parse_iso(record["created_at"]).timestamp()
    store.mark_processing(
        job_id,
        started + get_service_settings().job_deadline_s,
        started_at=jobstore.now_iso(),
        worker=_worker_id(),
        error=None,
        timings={"queue_wait_s": round(queue_wait, 4)},
    )
    try:
        updates = body(record)
        status, error = JobStatus.completed.value, None
    except Cancelled as exc:
        updates, status, error = {}, JobStatus.cancelled.value, str(exc)
        logger.info("job %s cancelled: %s", job_id, exc)
    except Exception as exc:  # noqa: BLE001  (any failure ends the job `failed`; the worker lives on)
        updates, status, error = {}, JobStatus.failed.value, _error_text(exc)
        logger.log(
            logging.WARNING if _expected(exc) else logging.ERROR,
            "job %s failed: %s",
            job_id,
            error,
            exc_info=not _expected(exc),
        )
    timings = {
        "queue_wait_s": round(queue_wait, 4),
        **updates.pop("timings", {}),
        "total_s": round(time.time() - started, 4),
    }
    if not store.finish_attempt(
        job_id,
        attempt,
        status=status,
        error=error,
        finished_at=jobstore.now_iso(),
        timings=timings,
        **updates,
    ):
        _discard_late_result(job_id, updates)
        return JobStatus.failed.value
    _report_finished(job_id)
    logger.info("job %s %s in %.2f s", job_id, status, timings["total_s"])
    publish_vram("task")
    return status


def _discard_late_result(job_id: str, updates: dict) -> None:
    """The reaper already failed this attempt (past its deadline): its result must not
    resurrect the job, so its output blob goes (the reaper failed a clone's voice with it)."""
    logger.warning(
        "job %s: finished after the reaper had failed it (JOB_DEADLINE_S); result discarded", job_id
    )
    if updates.get("output_digest"):
        blobs.delete(get_raw_redis(), updates["output_digest"])


def _report_finished(job_id: str) -> None:
    """Queue the job for the API to settle (store its result on the data volume) even if no
    client asks for it. Best effort: a reader of the job settles it too."""
    try:
        get_redis().rpush(settle.FINISHED_KEY, job_id)
    except Exception as exc:  # noqa: BLE001  (the job's record is final; settling also happens on read)
        logger.warning("job %s: could not queue it for settling: %s", job_id, exc)


def _admit(store: jobstore.JobStore, job_id: str, record: dict) -> Optional[int]:
    """Count this delivery (the attempt number); None when the job's worker died too often:
    the job is failed, not run again."""
    attempt = store.start_attempt(job_id)
    limit = get_service_settings().max_job_attempts
    if attempt <= limit:
        if attempt > 1:
            logger.warning(
                "job %s: attempt %d of %d (previous worker lost mid-job)", job_id, attempt, limit
            )
        return attempt
    reason = (
        f"worker lost mid-job {limit} time(s) (process killed, e.g. out of memory); not retried"
    )
    store.update(
        job_id, status=JobStatus.failed.value, finished_at=jobstore.now_iso(), error=reason
    )
    return None  # a clone's voice is failed by the API when it settles the job


def _error_text(exc: BaseException) -> str:
    """The job's one-line error: what went wrong, never a path on the data volume."""
    if is_no_space(exc):
        return NO_SPACE_MESSAGE
    if isinstance(exc, SoftTimeLimitExceeded):
        return (
            f"job exceeded JOB_DEADLINE_S ({get_service_settings().job_deadline_s:g} s) "
            "and was stopped"
        )
    text = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else ""
    return text if isinstance(exc, _EXPECTED) else f"{type(exc).__name__}: {text}"


def _expected(exc: BaseException) -> bool:
    """Errors that are the job's fault or the environment's, not a bug: no traceback logged."""
    return isinstance(exc, _EXPECTED) or is_no_space(exc) or isinstance(exc, SoftTimeLimitExceeded)


def _expected_errors() -> tuple[type[BaseException], ...]:
    from engines.errors import EngineError

    return (JobError, EngineError)


_EXPECTED = _expected_errors()


# --------------------------------------------------------------------------- tasks
@app.task(name=TASK_CLONE)
def clone_voice(job_id: str) -> str:
    return _run_job(job_id, _clone)


@app.task(name=TASK_SYNTHESIZE)
def synthesize(job_id: str) -> str:
    return _run_job(job_id, _synthesize)


@app.task(name=TASK_MODEL_LOAD)
def model_load(engine_name: str, keep_alive: Optional[float] = None) -> dict:
    """/admin/models load: warm ``engine_name`` in this worker; it stays by ``keep_alive``."""
    return _model_command(engine_name, lambda: _engine(engine_name).load(keep_alive))


@app.task(name=TASK_MODEL_UNLOAD)
def model_unload(engine_name: str) -> dict:
    """/admin/models unload: take ``engine_name`` off the GPU now (VRAM_OFFLOAD rule)."""
    return _model_command(engine_name, lambda: _Child.manager.offload_now(engine_name))


def _model_command(engine_name: str, action: Callable[[], Any]) -> dict:
    """Run a model command; its outcome as ``engines.contracts.ModelCommandResult``'s fields."""
    from engines.contracts import ModelCommandResult

    started = time.perf_counter()
    error = None
    if _Child.manager is None:
        error = "engines extra not installed in this worker"
    else:
        try:
            action()
        except Exception as exc:  # noqa: BLE001  (the API reports it per worker; the worker lives on)
            error = _error_text(exc)
            logger.warning("model command on %s failed: %s", engine_name, error)
    state = _model_state(engine_name)
    publish_vram("model_command")
    return ModelCommandResult(
        worker=_Child.node,
        engine=engine_name,
        ok=error is None,
        state=state,
        seconds=round(time.perf_counter() - started, 4),
        error=error,
    ).model_dump()


def _model_state(engine_name: str) -> str:
    if _Child.manager is None:
        return "free"
    for model in _Child.manager.snapshot().resident_models:
        if model.key == engine_name:
            return model.state or "free"
    return "free"


def _clone(record: dict) -> dict:
    """Full decode of the upload (silence, NaN, length) into a mono 24 kHz reference, put back as
    a blob for the API to store (``service.settle``); nothing is written to a shared volume.

    Whatever goes wrong (bad audio, a crash of the decoder), the job ends ``failed`` with the
    reason, and the API fails the voice with it."""
    from engines.audio import load_reference, to_wav_bytes

    start = time.perf_counter()
    upload = _fetch(record["upload_digest"], "." + record["upload_ext"], "the uploaded audio")
    ref = load_reference(
        upload,
        CLONE_SAMPLE_RATE,
        CLONE_MAX_SECONDS,
        min_seconds=get_service_settings().min_reference_seconds,
    )
    wav = to_wav_bytes(ref.samples, ref.sample_rate)
    digest = blobs.put(get_raw_redis(), wav, get_service_settings().reference_ttl_s)
    return {
        "reference_digest": digest,
        "duration_s": round(ref.duration_s, 3),
        "sample_rate": ref.sample_rate,
        "timings": {"voice_prep_s": round(time.perf_counter() - start, 4)},
    }


def _fetch(digest: str, suffix: str, what: str):
    """A blob as a file in this worker's cache; a missing one fails the job with ``what``."""
    try:
        return _cache().fetch(get_raw_redis(), digest, suffix)
    except blobs.BlobMissing as exc:
        raise JobError(f"{what} is no longer available: {exc}") from None


def _synthesize(record: dict) -> dict:
    if record.get("mode") == JobMode.speech.value:
        return _speak(record)
    from engines.audio import to_wav_bytes

    engine, voice, prep_s = _engine_and_voice(record)
    t1 = time.perf_counter()
    with engine.vram.keep_alive(record.get("keep_alive")):
        result = engine.synthesize(
            record["text"], voice, language=record["language"], profile=record["quality_profile"]
        )
    t2 = time.perf_counter()
    # The WAV goes back as a blob; the API stores it on its data volume (service.settle).
    wav = to_wav_bytes(result.waveform, result.sample_rate)
    digest = blobs.put(get_raw_redis(), wav, get_service_settings().job_ttl_seconds)
    write_s = time.perf_counter() - t2
    return {
        "engine": engine.name,
        "device": result.device,
        "output_digest": digest,
        "audio_duration_s": round(result.duration_s, 3),
        "timings": {
            "voice_prep_s": round(prep_s, 4),
            "load_s": round(result.timings.get("load_s", 0.0), 4),
            "inference_s": round(result.timings.get("infer_s", t2 - t1), 4),
            "write_s": round(write_s, 4),
        },
    }


def _engine_and_voice(record: dict):
    """The engine and the voice's conditioning, from the reference the job names by digest
    (the API checked the voice was ready when it accepted the job)."""
    from engines.voice_cache import prepare_voice_cached

    engine = _engine(record["engine"])
    t0 = time.perf_counter()
    digest = _reference_digest(record)
    reference = _fetch(digest, ".wav", f"voice {record['voice_id']}'s reference audio")
    # XTTS conditioning is a model pass: computed on the voice's first job on this worker,
    # then read from this worker's cache (keyed by the reference's digest).
    voice = prepare_voice_cached(
        engine,
        reference,
        _cache().path(f"{digest}-conditioning-{engine.name}.pt"),
        ref_text=record.get("ref_text"),
        language=record["language"],
    )
    return engine, voice, time.perf_counter() - t0


def _reference_digest(record: dict) -> str:
    """The job's reference: named at submission, or (a voice still pending then) found in its
    clone job's record once that job validated it."""
    if record.get("reference_digest"):
        return record["reference_digest"]
    clone = _store().get(record.get("voice_job_id") or "") or {}
    if clone.get("status") == JobStatus.completed.value and clone.get("reference_digest"):
        return clone["reference_digest"]
    state = clone.get("status") or "unknown"
    raise JobError(
        f"voice_id: voice {record['voice_id']} is not ready (its validation job is {state}"
        + (f": {clone['error']}" if clone.get("error") else "")
        + ")"
    )


# --------------------------------------------------------------------------- speech streams
def _speak(record: dict) -> dict:
    """A /v1/audio/speech request: each segment goes to the request's Redis Stream the moment
    it is synthesized (the API relays and encodes it); nothing is written to the data volume.
    Between segments the worker checks whether the request was cancelled."""
    job_id = record["job_id"]
    writer = StreamWriter(get_raw_redis(), job_id, get_service_settings().speech_stream_ttl_s)
    writer.write(SpeechEvent(EventType.start, worker=_worker_id()))
    ticker = _Ticker(writer)
    try:
        _stop_if_cancelled(job_id)
        engine, voice, prep_s = _engine_and_voice(record)
        sink = _StreamSink(writer, job_id)
        t1 = time.perf_counter()
        with engine.vram.keep_alive(record.get("keep_alive")):
            result = engine.synthesize(
                record["text"],
                voice,
                language=record["language"],
                profile=record["quality_profile"],
                speed=record.get("speed"),
                on_segment=sink,
            )
        writer.write(
            SpeechEvent(EventType.done, segments=sink.sent, duration_s=round(result.duration_s, 3))
        )
    except Cancelled:
        writer.write(SpeechEvent(EventType.cancelled))
        raise
    except Exception as exc:
        _best_effort(writer, event_for_failure(_error_text(exc), _speech_status(exc)))
        raise
    finally:
        ticker.stop()
    return {
        "engine": engine.name,
        "device": result.device,
        "audio_duration_s": round(result.duration_s, 3),
        "timings": {
            "voice_prep_s": round(prep_s, 4),
            "load_s": round(result.timings.get("load_s", 0.0), 4),
            "first_audio_s": sink.first_audio_s(t1),
            "inference_s": round(time.perf_counter() - t1, 4),
        },
    }


class _StreamSink:
    """The engines' ``on_segment``: publish each segment as int16 24 kHz, then stop if the
    request was cancelled. An OOM retry re-synthesizes from the first segment: segments the
    client already has are not sent again."""

    def __init__(self, writer: StreamWriter, job_id: str) -> None:
        self.writer, self.job_id = writer, job_id
        self.sent = 0
        self.first_at: Optional[float] = None

    def __call__(self, index: int, count: int, samples, sample_rate: int) -> None:
        if index < self.sent:
            return
        self.writer.write(
            SpeechEvent(EventType.audio, seq=index, segments=count, pcm=pcm16(samples, sample_rate))
        )
        self.sent = index + 1
        self.first_at = self.first_at or time.perf_counter()
        if self.sent < count:
            _stop_if_cancelled(self.job_id)

    def first_audio_s(self, since: float) -> Optional[float]:
        return None if self.first_at is None else round(self.first_at - since, 4)


def _stop_if_cancelled(job_id: str) -> None:
    if _store().cancel_requested(job_id):
        raise Cancelled("cancelled: the client went away or the request timed out")


def _speech_status(exc: BaseException) -> int:
    """The HTTP status a speech request reports for a failure before any audio was sent."""
    from engines.errors import EngineConfigError, EngineError, ReferenceAudioError, SynthesisError

    if isinstance(exc, JobError):
        return exc.status
    if isinstance(exc, (EngineConfigError, ReferenceAudioError)):
        return 409  # the voice or the engine cannot serve this request as configured
    if isinstance(exc, EngineError) and not isinstance(exc, SynthesisError):
        return 400  # the input (text, language) is not speakable by this engine
    return 500


def _best_effort(writer: StreamWriter, event: SpeechEvent) -> None:
    try:
        writer.write(event)
    except Exception as exc:  # noqa: BLE001  (Redis may be what failed; the job records it)
        logger.warning("could not write %s to the speech stream: %s", event.type.value, exc)


class _Ticker:
    """Says the worker child is alive every TICK_INTERVAL_S while a request runs, so the API
    tells a long segment from a dead worker (SPEECH_STALL_S)."""

    def __init__(self, writer: StreamWriter) -> None:
        self.writer = writer
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="speech-ticks", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(TICK_INTERVAL_S):
            _best_effort(self.writer, SpeechEvent(EventType.tick))

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
