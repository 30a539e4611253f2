"""VRAM manager: where models live between jobs, and what happens when memory runs out.

Residency is data, as in ollama's scheduler: each model carries its keep-alive and, once idle,
the moment it expires (``MODEL_KEEP_ALIVE``; a job may ask for its own, bounded by
``MODEL_KEEP_ALIVE_MAX``). When a model leaves the GPU it follows ``VRAM_OFFLOAD``: parked in
host RAM (``cpu``: the next job swaps it back without re-reading the checkpoint) or freed
entirely (``none``: drop every reference, ``gc.collect()``, ``empty_cache()``).

* keep-alive 0 (the default with LOW_VRAM=true): the model leaves in a ``finally`` right after
  the job, exceptions included;
* keep-alive -1 (the default otherwise): models stay resident after the first load (cache);
* keep-alive N > 0: it stays N seconds after its last job; a timer thread of this process (the
  worker's pool child, where CUDA lives) takes it off when nothing used it since.

In both modes loads are budget-aware: before a model goes to the GPU, if free VRAM
minus ``VRAM_RESERVE_MB`` is below its size, idle models are evicted least-recently
used first, and the manager waits (bounded) for the driver to report the memory back.
CUDA OOM during load or inference: evict every other idle model, empty the cache,
retry once; then fall back to CPU if ``DEVICE_FALLBACK_TO_CPU`` else raise ``VramError``.

All CUDA calls go through a small backend object so the bookkeeping (LRU, budget,
OOM) is testable on a CPU-only host with a simulated GPU (see tests/engines).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, cast

from engines.contracts import COUNTERS, Device, ModelState, ResidentModel, VramStats
from engines.errors import EngineConfigError, VramError
from engines.settings import KEEP_FOREVER, EngineSettings, get_settings

logger = logging.getLogger(__name__)

MB = 2**20
# The settings a VramManager acts on: an engine whose settings differ here would get a policy
# it was not configured with.
MANAGER_SETTINGS = (
    "low_vram",
    "vram_offload",
    "vram_reserve_mb",
    "vram_release_timeout_s",
    "device_fallback_to_cpu",
    "model_keep_alive",
    "model_keep_alive_max",
)
LoadFn = Callable[[str], Any]  # load_fn(device) -> model (an nn.Module or anything with .to())
# The keep-alive the job running in this context asked for (None: the manager's default).
_job_keep_alive: ContextVar[Optional[float]] = ContextVar("avops_job_keep_alive", default=None)


class TorchCudaBackend:
    """The real GPU: thin wrappers over torch.cuda, all safe to call without CUDA."""

    def __init__(self) -> None:
        import torch

        self._torch = torch
        self.oom_errors: tuple[type[BaseException], ...] = (torch.cuda.OutOfMemoryError,)

    def available(self) -> bool:
        return bool(self._torch.cuda.is_available())

    def mem_get_info(self) -> tuple[float, float]:
        """(free, total) in MB as the driver reports them."""
        free, total = self._torch.cuda.mem_get_info()
        return free / MB, total / MB

    def allocated_mb(self) -> float:
        return self._torch.cuda.memory_allocated() / MB

    def reserved_mb(self) -> float:
        return self._torch.cuda.memory_reserved() / MB

    def empty_cache(self) -> None:
        self._torch.cuda.synchronize()
        self._torch.cuda.empty_cache()


@dataclass
class _Entry:
    key: str
    model: Any
    device: str  # where the weights are now: "cuda" or "cpu"
    size_mb: float
    last_used: float = field(default_factory=time.monotonic)
    in_use: int = 0
    parked: bool = False  # in host RAM because VRAM_OFFLOAD=cpu took it off the GPU
    keep_alive_s: float = KEEP_FOREVER  # set by the last job that released it
    expires_at: Optional[float] = None  # monotonic; None: not counting down (in use, kept, parked)

    @property
    def state(self) -> ModelState:
        if self.parked:
            return "parked"
        return "gpu" if self.device == "cuda" else "cpu"


def model_size_mb(model: Any) -> float:
    """Bytes of parameters + buffers (what moves to the GPU), or ``model.size_mb``."""
    if hasattr(model, "parameters") and hasattr(model, "buffers"):
        tensors = list(model.parameters()) + list(model.buffers())
        return sum(t.numel() * t.element_size() for t in tensors) / MB
    return float(getattr(model, "size_mb", 0.0))


def _move(model: Any, device: str) -> Any:
    # nn.Module.to() moves in place and returns self; other objects may return a copy.
    moved = model.to(device)
    return model if moved is None else moved


class VramManager:
    """Thread-safe owner of every model the engines load. See the module docstring."""

    def __init__(self, settings: Optional[EngineSettings] = None, backend: Any = None) -> None:
        self.settings = settings or get_settings()
        self.low_vram_mode = self.settings.low_vram
        self.offload = self.settings.vram_offload
        self.reserve_mb = self.settings.vram_reserve_mb
        self.fallback_to_cpu = self.settings.device_fallback_to_cpu
        self.keep_alive_s = self.settings.keep_alive_s
        self.backend = backend if backend is not None else TorchCudaBackend()
        self._lock = threading.RLock()  # guards _entries and counters
        self._key_locks: dict[str, threading.Lock] = {}  # one load at a time per model
        self._entries: "OrderedDict[str, _Entry]" = OrderedDict()  # LRU order, oldest first
        self._counters = dict.fromkeys(COUNTERS, 0)  # the names VramStats declares
        self._load_times: list[float] = []
        self._swap_times: list[float] = []
        self._listeners: list[Callable[[str, str], None]] = []
        self._expiry = _ExpiryTimer(self)
        if self.low_vram_mode:
            logger.info(
                "LOW VRAM MODE: ENABLED - models are loaded per job and taken off the GPU "
                "afterwards (VRAM_OFFLOAD=%s)",
                self.offload,
            )
        else:
            logger.info("NORMAL MODE: models stay resident in VRAM after first load")

    # ------------------------------------------------------------------ public API
    @contextmanager
    def load_model(
        self, key: str, load_fn: LoadFn, device: str = "cuda", size_mb: Optional[float] = None
    ) -> Iterator[Any]:
        """Yield model ``key`` on ``device`` (loading it with ``load_fn(device)`` if needed).

        On exit (exceptions included) LOW_VRAM takes it off the GPU; normal mode keeps it.
        ``size_mb`` is the expected size for the budget check before a first load.
        """
        entry = self._acquire(key, load_fn, device, size_mb)
        try:
            yield entry.model
        finally:
            self._release(entry)

    def run(
        self,
        key: str,
        load_fn: LoadFn,
        job_fn: Callable[[Any, str], Any],
        device: str = "cuda",
        size_mb: Optional[float] = None,
    ) -> Any:
        """Run ``job_fn(model, device)`` with OOM recovery for inference.

        OOM: evict other idle models, empty the cache, retry once on the same device;
        then move this model to CPU and run there if allowed, else raise ``VramError``.
        """
        entry = self._acquire(key, load_fn, device, size_mb)
        try:
            try:
                return job_fn(entry.model, entry.device)
            except self.backend.oom_errors as exc:
                if entry.device == "cpu":
                    raise
                logger.warning(
                    "CUDA OOM during inference with '%s': %s; evicting other models "
                    "and retrying once",
                    key,
                    _first_line(exc),
                )
            self._recover_from_oom(exclude=key)
            try:
                result = job_fn(entry.model, entry.device)
                self._count("oom_recoveries")
                return result
            except self.backend.oom_errors as exc:
                reason = _first_line(exc)
            self._to_cpu_or_raise(entry, "inference", reason)
            result = job_fn(entry.model, entry.device)
            self._count("oom_recoveries")
            return result
        finally:
            self._release(entry)

    @contextmanager
    def keep_alive(self, seconds: Optional[float]) -> Iterator[float]:
        """Models released inside this block stay ``seconds`` (capped at MODEL_KEEP_ALIVE_MAX)
        instead of the default; ``None`` keeps the default. Yields the keep-alive in force."""
        bounded = self.settings.bounded_keep_alive(seconds)
        token = _job_keep_alive.set(bounded)
        try:
            yield bounded
        finally:
            _job_keep_alive.reset(token)

    def offload_now(self, key: str) -> Optional[ModelState]:
        """Take model ``key`` off the GPU now by the VRAM_OFFLOAD rule. Its state afterwards
        ("parked", or None when freed or unknown); raises VramError if a job is using it."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.in_use:
                raise VramError(
                    f"model '{key}' is in use by {entry.in_use} job(s); try again after"
                )
            self._leave_gpu(entry, reason="unload requested")
            return entry.state if key in self._entries else None

    def expire_idle(self, now: Optional[float] = None) -> list[str]:
        """Take off the GPU every idle model whose keep-alive ran out; the keys it took."""
        now = time.monotonic() if now is None else now
        expired = []
        with self._lock:
            for entry in list(self._entries.values()):
                if entry.in_use or entry.expires_at is None or entry.expires_at > now:
                    continue
                logger.info(
                    "keep-alive of model '%s' expired (%g s idle): taking it off the %s",
                    entry.key,
                    entry.keep_alive_s,
                    "GPU" if entry.device == "cuda" else "CPU",
                )
                self._counters["expiries"] += 1
                self._leave_gpu(entry, reason="keep-alive expired")
                expired.append(entry.key)
        return expired

    def next_expiry(self) -> Optional[float]:
        """The earliest monotonic time an idle model expires, or None."""
        with self._lock:
            times = [e.expires_at for e in self._entries.values() if e.expires_at is not None]
        return min(times, default=None)

    def unload(self, key: str) -> bool:
        """Free model ``key`` entirely (GPU and host copy). False if unknown or in use."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.in_use:
                return False
            self._free(entry, reason="unload requested")
            return True

    def clear(self) -> None:
        """Free every idle model (worker shutdown, tests)."""
        with self._lock:
            for key in list(self._entries):
                self.unload(key)

    def add_listener(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(event, model_key)`` after every load, swap-in, park and unload.

        Events: ``load``, ``swap_in``, ``park`` (weights to host RAM without a GPU copy to free),
        ``unload``. The worker uses it to publish ``stats()`` the moment memory changes. A failing
        listener is logged and never breaks a job.
        """
        self._listeners.append(callback)

    def _notify(self, event: str, key: str) -> None:
        for callback in list(self._listeners):
            try:
                callback(event, key)
            except Exception:  # noqa: BLE001  (observers must not fail jobs)
                logger.warning(
                    "VRAM listener %r failed on %s of '%s'", callback, event, key, exc_info=True
                )

    def resident(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def snapshot(self) -> VramStats:
        """Memory figures, resident models and counters, as the typed contract the worker publishes."""
        gpu = self._gpu_available()
        free = total = None
        if gpu:
            free, total = self.backend.mem_get_info()
        with self._lock:
            now = time.monotonic()
            # _acquire normalises every device to "cuda" or "cpu" before an entry exists
            models = [
                ResidentModel(
                    key=e.key,
                    device=cast(Device, e.device),
                    size_mb=round(e.size_mb, 1),
                    parked=e.parked,
                    in_use=e.in_use,
                    last_used_s_ago=round(now - e.last_used, 3),
                    state=e.state,
                    keep_alive_s=e.keep_alive_s,
                    expires_in_s=None if e.expires_at is None else round(e.expires_at - now, 3),
                )
                for e in self._entries.values()
            ]
            return VramStats(
                available=gpu,
                low_vram_mode=self.low_vram_mode,
                offload=self.offload,
                device="cuda" if gpu else "cpu",
                allocated_mb=round(self.backend.allocated_mb(), 1) if gpu else 0.0,
                reserved_mb=round(self.backend.reserved_mb(), 1) if gpu else 0.0,
                free_mb=_r(free),
                total_mb=_r(total),
                reserve_mb=self.reserve_mb,
                keep_alive_s=self.keep_alive_s,
                keep_alive_max_s=self.settings.model_keep_alive_max,
                resident_models=models,
                loads=self._counters["loads"],
                unloads=self._counters["unloads"],
                evictions=self._counters["evictions"],
                expiries=self._counters["expiries"],
                oom_recoveries=self._counters["oom_recoveries"],
                cache_hits=self._counters["cache_hits"],
                swaps_in=self._counters["swaps_in"],
                cpu_fallbacks=self._counters["cpu_fallbacks"],
                mean_load_s=_mean(self._load_times),
                mean_swap_s=_mean(self._swap_times),
            )

    def stats(self) -> dict:
        """``snapshot()`` as a JSON-serialisable dict (engines.contracts.VramStats's fields)."""
        return self.snapshot().model_dump()

    # ------------------------------------------------------------------ acquire/release
    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _acquire(self, key: str, load_fn: LoadFn, device: str, size_mb: Optional[float]) -> _Entry:
        device = "cuda" if device.startswith("cuda") else device
        if device == "cuda" and not self._gpu_available():
            device = "cpu"  # select_device already decided policy; never crash on a stale choice
        with self._key_lock(key):  # two threads never load the same model twice
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.in_use += 1  # pin it: eviction only takes idle models
                    entry.expires_at = None  # in use: not counting down
            if entry is None:
                entry = self._load_fresh(key, load_fn, device, size_mb)
            elif entry.device != device:
                try:
                    self._swap_in(entry, device)
                except BaseException:
                    self._release(entry)  # unpin: a failed swap must not leak a reference
                    raise
            else:
                entry.parked = False  # a CPU model in use again (parked only marks it idle)
                self._count("cache_hits")
                logger.debug("model '%s' cache hit on %s", key, device)
            entry.last_used = time.monotonic()
            with self._lock:
                self._entries.move_to_end(key)
            return entry

    def _release(self, entry: _Entry) -> None:
        keep = _job_keep_alive.get()
        entry.keep_alive_s = self.keep_alive_s if keep is None else keep
        with self._lock:
            entry.in_use -= 1
            entry.last_used = time.monotonic()
            if self._entries.get(entry.key) is not entry:
                return  # already freed (e.g. after an unrecoverable OOM)
            if entry.in_use > 0:
                return
            if entry.keep_alive_s == 0:
                self._leave_gpu(entry, reason="LOW_VRAM job done" if keep is None else "job done")
            elif entry.keep_alive_s == KEEP_FOREVER:
                entry.expires_at = None
            else:
                entry.expires_at = entry.last_used + entry.keep_alive_s
        if entry.expires_at is not None:
            self._expiry.wake()

    def _leave_gpu(self, entry: _Entry, reason: str) -> None:
        """The one place a model leaves the GPU for idleness: by the VRAM_OFFLOAD rule."""
        entry.expires_at = None
        if self.offload == "cpu":
            self._park(entry, reason=reason)
        else:
            self._free(entry, reason=reason)

    # ------------------------------------------------------------------ loading
    def _load_fresh(
        self, key: str, load_fn: LoadFn, device: str, size_mb: Optional[float]
    ) -> _Entry:
        if device == "cuda":
            self._make_room(size_mb or 0.0, exclude=key)
        mode = "LOW_VRAM: loading" if self.low_vram_mode else "loading"
        logger.info("%s model '%s' onto %s...", mode, key, device)
        before = self._allocated()
        start = time.perf_counter()
        try:
            model = load_fn(device)
        except self.backend.oom_errors as exc:
            model, device = self._load_after_oom(key, load_fn, device, _first_line(exc))
        elapsed = time.perf_counter() - start
        entry = _Entry(key=key, model=model, device=device, size_mb=model_size_mb(model), in_use=1)
        with self._lock:
            self._entries[key] = entry
            self._counters["loads"] += 1
            self._load_times.append(elapsed)
        after = self._allocated()
        if device == "cuda":
            logger.info(
                "model '%s' loaded on cuda in %.2f s: size %.1f MB, VRAM allocated after "
                "load %.1f MB (+%.1f MB)",
                key,
                elapsed,
                entry.size_mb,
                after,
                after - before,
            )
        else:
            logger.info(
                "model '%s' loaded on cpu in %.2f s: size %.1f MB", key, elapsed, entry.size_mb
            )
        self._notify("load", key)
        return entry

    def _load_after_oom(self, key: str, load_fn: LoadFn, device: str, reason: str):
        logger.warning(
            "CUDA OOM loading '%s': %s; evicting other models and retrying once", key, reason
        )
        self._recover_from_oom(exclude=key)
        try:
            model = load_fn(device)
            self._count("oom_recoveries")
            return model, device
        except self.backend.oom_errors as exc:
            reason = _first_line(exc)
        self._empty_cache()  # whatever the failed load allocated must not stay stranded
        if not self.fallback_to_cpu:
            raise VramError(
                f"CUDA out of memory loading '{key}' after evicting all other models "
                f"({reason}); DEVICE_FALLBACK_TO_CPU=false"
            ) from None
        logger.warning(
            "loading '%s' on CPU after repeated CUDA OOM (DEVICE_FALLBACK_TO_CPU=true)", key
        )
        model = load_fn("cpu")
        self._count("oom_recoveries")
        self._count("cpu_fallbacks")
        return model, "cpu"

    def _swap_in(self, entry: _Entry, device: str) -> None:
        """Bring a parked (host RAM) model back: a copy, not a checkpoint read."""
        if device == "cuda":
            self._make_room(entry.size_mb, exclude=entry.key)
        before = self._allocated()
        start = time.perf_counter()
        try:
            entry.model = _move(entry.model, device)
        except self.backend.oom_errors as exc:
            logger.warning(
                "CUDA OOM swapping '%s' back: %s; evicting and retrying once",
                entry.key,
                _first_line(exc),
            )
            self._recover_from_oom(exclude=entry.key)
            try:
                entry.model = _move(entry.model, device)
            except self.backend.oom_errors as exc2:
                self._to_cpu_or_raise(entry, "swap-in", _first_line(exc2))
                return
            self._count("oom_recoveries")
        elapsed = time.perf_counter() - start
        entry.device, entry.parked = device, False
        with self._lock:
            self._counters["swaps_in"] += 1
            self._swap_times.append(elapsed)
        logger.info(
            "model '%s' swapped back onto %s from host RAM in %.3f s: VRAM allocated "
            "%.1f MB (+%.1f MB)",
            entry.key,
            device,
            elapsed,
            self._allocated(),
            self._allocated() - before,
        )
        self._notify("swap_in", entry.key)

    def _to_cpu_or_raise(self, entry: _Entry, stage: str, reason: str) -> None:
        if not self.fallback_to_cpu:
            with self._lock:
                self._park(
                    entry, reason=f"OOM during {stage}"
                ) if self.offload == "cpu" else self._free_gpu_copy(entry)
            raise VramError(
                f"CUDA out of memory during {stage} of '{entry.key}' after retry "
                f"({reason}); DEVICE_FALLBACK_TO_CPU=false"
            )
        logger.warning("moving '%s' to CPU after repeated CUDA OOM during %s", entry.key, stage)
        entry.model = _move(entry.model, "cpu")
        entry.device = "cpu"
        self._empty_cache()
        self._count("cpu_fallbacks")

    # ------------------------------------------------------------------ freeing
    def _make_room(self, need_mb: float, exclude: str) -> None:
        """Evict idle GPU models, LRU first, until need_mb fits under the reserve."""
        if not self._gpu_available():
            return
        while self._headroom() < need_mb:
            victim = self._lru_victim(exclude)
            if victim is None:
                logger.warning(
                    "need %.1f MB for '%s' but only %.1f MB free above the %d MB "
                    "reserve and nothing idle to evict",
                    need_mb,
                    exclude,
                    self._headroom(),
                    self.reserve_mb,
                )
                return
            logger.info(
                "evicting '%s' (LRU, %.1f MB) to make room for '%s' (%.1f MB)",
                victim.key,
                victim.size_mb,
                exclude,
                need_mb,
            )
            self._count("evictions")
            self._evict(victim)
            self._wait_for_release(need_mb)

    def _headroom(self) -> float:
        free, _ = self.backend.mem_get_info()
        return free - self.reserve_mb

    def _lru_victim(self, exclude: str) -> Optional[_Entry]:
        with self._lock:
            for entry in self._entries.values():  # oldest first
                if entry.key != exclude and entry.device == "cuda" and entry.in_use == 0:
                    return entry
        return None

    def _evict(self, entry: _Entry) -> None:
        with self._lock:
            self._leave_gpu(entry, reason="evicted")

    def _recover_from_oom(self, exclude: str) -> None:
        while (victim := self._lru_victim(exclude)) is not None:
            self._count("evictions")
            self._evict(victim)
        self._empty_cache()

    def _park(self, entry: _Entry, reason: str) -> None:
        """Move a model's weights to host RAM (VRAM_OFFLOAD=cpu)."""
        if entry.device == "cpu":
            entry.parked = True
            self._notify("park", entry.key)
            return
        before = self._allocated()
        logger.info(
            "LOW_VRAM: unloading model '%s' from VRAM to host RAM (%s)...", entry.key, reason
        )
        entry.model = _move(entry.model, "cpu")
        entry.device, entry.parked = "cpu", True
        self.backend.empty_cache()  # give the cached blocks back to the driver
        self._after_unload(entry.key, before)

    def _free_gpu_copy(self, entry: _Entry) -> None:
        self._free(entry, reason="OOM")

    def _free(self, entry: _Entry, reason: str) -> None:
        """Drop every reference the manager holds, then collect and empty the CUDA cache."""
        on_gpu = entry.device == "cuda"
        before = self._allocated()
        logger.info(
            "LOW_VRAM: unloading model '%s' from %s (%s, freed entirely)...",
            entry.key,
            entry.device,
            reason,
        )
        self._entries.pop(entry.key, None)
        alive = _weak(entry.model)
        entry.model = None
        # A full gc.collect() costs ~80 ms with torch loaded; only pay it when reference
        # cycles are what keeps the model alive (refcounting already freed it otherwise).
        if alive() is not None:
            gc.collect()
        if on_gpu:
            self.backend.empty_cache()
        self._after_unload(entry.key, before)

    def _after_unload(self, key: str, before: float) -> None:
        self._counters["unloads"] += 1
        after = self._allocated()
        if self._gpu_available():
            logger.info(
                "VRAM freed by '%s': %.1f MB (before=%.1f MB, after=%.1f MB)",
                key,
                before - after,
                before,
                after,
            )
        else:
            logger.info("model '%s' unloaded (no CUDA: nothing to free on a GPU)", key)
        self._notify("unload", key)

    def _wait_for_release(self, need_mb: float) -> None:
        """After freeing, wait (bounded) until the driver reports the memory back."""
        deadline = time.monotonic() + self.settings.vram_release_timeout_s
        while self._headroom() < need_mb and time.monotonic() < deadline:
            if self._lru_victim(exclude="") is not None:
                return  # more can be evicted: let _make_room continue instead of waiting
            time.sleep(0.05)

    # ------------------------------------------------------------------ helpers
    def _gpu_available(self) -> bool:
        return self.backend.available()

    def _allocated(self) -> float:
        return self.backend.allocated_mb() if self._gpu_available() else 0.0

    def _empty_cache(self) -> None:
        gc.collect()
        if self._gpu_available():
            self.backend.empty_cache()

    def _count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1


class _ExpiryTimer:
    """One daemon thread per manager that sleeps until the next keep-alive runs out, then calls
    ``expire_idle``. Started on the first countdown, so a process that never sets one (the
    default modes, tests) never has it; it lives where the manager lives (the pool child)."""

    def __init__(self, manager: VramManager) -> None:
        self._manager = weakref.ref(manager)  # the timer must not keep a dropped manager alive
        self._changed = threading.Condition()
        self._thread: Optional[threading.Thread] = None

    def wake(self) -> None:
        with self._changed:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="vram-keep-alive", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        while (manager := self._manager()) is not None:
            try:
                manager.expire_idle()
            except Exception:  # noqa: BLE001  (the timer must outlive one failed offload)
                logger.warning("keep-alive expiry failed", exc_info=True)
            with self._changed:  # read the next deadline under the lock wake() notifies with
                deadline = manager.next_expiry()
                del manager  # sleep without holding it
                idle = 60.0 if deadline is None else deadline - time.monotonic() + 0.01
                self._changed.wait(timeout=max(0.0, idle))


def _weak(obj: Any) -> Callable[[], Any]:
    try:
        return weakref.ref(obj)
    except TypeError:  # not weak-referenceable: assume it may be in a cycle
        return lambda: obj


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _r(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)


def _mean(values: list[float]) -> Optional[float]:
    return round(sum(values) / len(values), 4) if values else None


_manager: Optional[VramManager] = None
_manager_lock = threading.Lock()


def check_manager_settings(manager: VramManager, settings: EngineSettings) -> None:
    """Refuse ``settings`` that disagree with what ``manager`` was built from (EngineConfigError)."""
    differ = [
        name
        for name in MANAGER_SETTINGS
        if getattr(manager.settings, name) != getattr(settings, name)
    ]
    if differ:

        def values(s: EngineSettings) -> str:
            return ", ".join(f"{name.upper()}={getattr(s, name)}" for name in differ)

        raise EngineConfigError(
            f"VRAM manager: it was built with {values(manager.settings)} but the engine's settings "
            f"say {values(settings)}; one process has one VRAM manager: build the engine with the "
            "same settings, or pass vram_manager=VramManager(settings)"
        )


def get_vram_manager(settings: Optional[EngineSettings] = None) -> VramManager:
    """The process-wide manager (created on first call from the settings); later calls with
    settings that disagree with it raise ``EngineConfigError`` instead of silently ignoring them."""
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = VramManager(settings)
        elif settings is not None:
            check_manager_settings(_manager, settings)
        return _manager


def reset_vram_manager() -> None:
    """Forget the singleton after freeing its models (tests, settings reload)."""
    global _manager
    with _manager_lock:
        if _manager is not None:
            _manager.clear()
        _manager = None
