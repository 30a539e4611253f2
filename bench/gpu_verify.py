"""GPU verification kit: every GPU claim of this repo checked on one host, into one report.

    bash bench/gpu_verify.sh [REPORT_DIR]        installs what is missing, then runs this
    python bench/gpu_verify.py [REPORT_DIR]      the steps only (REPORT_DIR: bench/gpu_verify_report)
    python bench/gpu_verify.py --requirements    the wheels the kit installs (bench/gpu_wheels.sh)
    python bench/gpu_verify.py --missing         those not installed here (bench/gpu_verify.sh)

Made for an air-gapped GPU box that has PyTorch with CUDA and nothing else (no Docker, no
internet): bench/gpu_wheels.sh builds the wheel folder on a connected machine. Each step is a
function returning a ``Step`` (pass / fail / skip with its reason and figures); on a host without
CUDA the GPU steps skip and the rest still runs, so CI keeps the kit working. The report is
REPORT_DIR/gpu_verify.json and REPORT_DIR/gpu_verify.md (a table for bench/RESULTS.md); exit 0
when no step failed, 1 otherwise.

Only the standard library at the top: ``--requirements`` and ``--missing`` run before anything
is installed.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from importlib import metadata, util
from pathlib import Path
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REPORT_DIR = REPO / "bench" / "gpu_verify_report"
MIB = 2**20

# What the engines' import paths (engines/f5tts.py, engines/xtts.py, the `avops` CLI) and the CUDA
# tests need beyond torch, pinned to the versions tested on the dev host. Found by running both
# engines with tiny models in a venv holding only torch and its own dependencies (filelock,
# fsspec, jinja2, networkx, sympy, typing-extensions: not listed, a torch install has them).
# Installed with --no-deps: f5-tts and coqui-tts declare far more (gradio, wandb, datasets, ...)
# than inference imports; the heavy ones they import anyway are in IMPORT_STUBS.
REQUIREMENTS = (
    # the engines
    "f5-tts==1.1.22",
    "coqui-tts==0.28.0",
    "coqui-tts-trainer==0.4.0",
    "coqpit-config==0.2.5",
    "transformers==5.23.0",
    "tokenizers==0.23.3",
    "safetensors==0.8.0",
    "huggingface_hub==1.33.0",
    "numpy==2.4.6",
    "soundfile==0.14.0",
    "cffi==2.1.1",
    "x-transformers==2.31.10",
    "einops==0.8.2",
    "einx==0.4.3",
    "frozendict==2.5.1",
    "loguru==0.7.3",
    "torchdiffeq==0.2.5",
    "torch-einops-utils==0.2.0",
    "ema-pytorch==0.8.3",
    "accelerate==1.16.0",
    "psutil==7.2.2",
    "vocos==0.1.0",
    "encodec==0.1.1",
    "hydra-core==1.3.8",
    "omegaconf==2.3.1",
    "antlr4-python3-runtime==4.9.3",
    "pypinyin==0.55.0",
    "rjieba==0.2.2",
    "pydub==0.25.1",
    "anyascii==0.3.3",
    "num2words==0.5.14",
    "ko-speech-tools==0.1.0",
    "regex==2026.11.19",
    "tqdm==4.70.1",
    "packaging==26.3",
    "PyYAML==6.0.4",
    "six==1.17.0",
    # the avops CLI (pyproject's dependencies) and the engines' settings
    "typer==0.29.2",
    "click==8.5.1",
    "rich==13.9.4",
    "markdown-it-py==4.3.0",
    "mdurl==0.1.2",
    "Pygments==2.21.0",
    "shellingham==1.5.4",
    "annotated-doc==0.0.7",
    "docker==7.2.0",
    "requests==2.34.2",
    "urllib3==2.8.0",
    "idna==3.20",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "pydantic==2.14.4",
    "pydantic_core==2.50.5",
    "annotated-types==0.8.0",
    "typing-inspection==0.4.5",
    "pydantic-settings==2.16.3",
    "python-dotenv==1.2.4",
    "nvidia-ml-py==13.615.71",
    "httpx==0.29.0",
    "httpcore==1.0.9",
    "h11==0.16.0",
    "anyio==4.16.0",
    # the CUDA tests
    "pytest==9.2.0",
    "pluggy==1.7.0",
    "iniconfig==2.3.1",
    "pytest-timeout==2.4.0",
)

# Modules f5_tts and coqui-tts import at module level but never call on our inference paths;
# real wheels would be ~200 MB (llvmlite, pyarrow, scipy, wandb, pandas, ...), over the 64 MiB a
# GPU box is given. Where one is not installed, the kit puts an import-only stand-in at the END
# of sys.path (a real install always wins): importable, decorators pass through, and any call at
# run time raises StubUsed naming it, so a path that does need it fails loudly.
IMPORT_STUBS = {
    "wandb": "f5_tts.model.trainer (training logs)",
    "datasets": "f5_tts.model.dataset (training data; pulls pandas + pyarrow)",
    "matplotlib": "f5_tts.infer.utils_infer (spectrogram plots)",
    "librosa": "f5_tts.model.modules (BigVGAN mel only) and coqui xtts (librosa_trim_db, unset); "
    "pulls scipy + numba + llvmlite",
    "scipy": "vocos.spectral_ops (IMDCT heads only; ours is ISTFT) and coqui's numpy_transforms "
    "(pre-emphasis, WAV writing: not on the XTTS inference path)",
    "torchcodec": "coqui-tts's import gate with torch >= 2.9 (audio IO through torchaudio.load; "
    "engines/audio.py reads audio with soundfile)",
}

# F5TTS_v1_Base's DiT as issue 13 states it; the step checks the installed package's config.
F5_V1_BASE_ARCH = dict(dim=1024, depth=22, heads=16, ff_mult=2, text_dim=512, conv_layers=4)
SWAP_TARGET_RATIO = 0.25  # swap / reload: bench/RESULTS.md "engines" (offload vs reload)
BASELINE_TOLERANCE_MIB = 1.0  # memory_allocated after unload vs before load
KEEP_ALIVE_S = 2.0
KEEP_ALIVE_GRACE_S = 5.0  # the timer's wake-up, gc and empty_cache on top of the keep-alive
CLI_TIMEOUT_S = 120
PYTEST_TIMEOUT_S = 1800
CUDA_TEST_DIRS = ("tests/engines", "tests/gpu")
CUDA_SKIP_MARKERS = ("cuda.is_available()", "needs CUDA")
KIT_TEST = "tests/engines/test_gpu_verify.py"  # the kit's own test: runs the kit, not CUDA


@dataclass
class Step:
    name: str
    status: str  # pass | fail | skip
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


def passed(name: str, reason: str, **figures: Any) -> Step:
    return Step(name, "pass", reason, figures)


def failed(name: str, reason: str, **figures: Any) -> Step:
    return Step(name, "fail", reason, figures)


def skipped(name: str, reason: str, **figures: Any) -> Step:
    return Step(name, "skip", reason, figures)


class Kit:
    """What the steps share: where the report goes, the CUDA answer, the big F5 model (built once)."""

    def __init__(self, report_dir: Path, runs: int = 3) -> None:
        self.report_dir = report_dir
        self.runs = runs
        self._tmp = tempfile.TemporaryDirectory(prefix="gpu_verify_")
        # outside REPORT_DIR: the report stays four files (a device run brings back eight at most)
        self.stub_dir = Path(self._tmp.name) / "import_stubs"
        self.stubbed: list[str] = []
        self._big_f5: Optional[dict] = None

    def cuda(self) -> tuple[bool, str]:
        """Whether torch sees a CUDA device, and why not."""
        try:
            import torch
        except ImportError as exc:
            return False, f"torch not importable ({exc})"
        if not torch.cuda.is_available():
            build = (
                "a CPU-only build"
                if torch.version.cuda is None
                else f"built for CUDA {torch.version.cuda}, no device or driver"
            )
            return (
                False,
                f"no CUDA: torch.cuda.is_available() is False (torch {torch.__version__}: {build})",
            )
        return True, torch.cuda.get_device_name(0)

    def env(self) -> dict[str, str]:
        """Environment of the kit's subprocesses: the repo and the stubs importable, offline."""
        paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        if self.stubbed:
            paths.append(str(self.stub_dir))
        env = {k: v for k, v in os.environ.items() if k != "AVOPS_NVML_SNAPSHOT"}
        env.update(PYTHONPATH=os.pathsep.join(paths), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        return env

    def big_f5(self) -> dict:
        """F5TTS_v1_Base with random weights on disk (bench/bench_engines.py's builder)."""
        if self._big_f5 is None:
            sys.path.insert(0, str(REPO / "bench"))
            from bench_engines import build_big_f5

            logging.disable(logging.NOTSET)  # bench_engines silences warnings; the kit wants them

            started = time.perf_counter()
            self._big_f5 = build_big_f5(Path(self._tmp.name))
            self._big_f5["build_s"] = round(time.perf_counter() - started, 1)
        return self._big_f5

    def f5_engine(self, **overrides: Any):
        """The real F5-TTS engine on the big model, with its own VramManager."""
        from engines import get_engine
        from engines.settings import load_settings
        from engines.vram import VramManager

        paths = {k.lower(): v for k, v in self.big_f5()["env"].items()}
        settings = load_settings(
            **paths, f5tts_device="cuda", device_fallback_to_cpu=False, **overrides
        )
        return get_engine("f5tts", settings=settings, vram_manager=VramManager(settings))

    def close(self) -> None:
        self._tmp.cleanup()


# ---------------------------------------------------------------------------- import stubs
STUB_MODULE = '''"""Import-only stand-ins written by bench/gpu_verify.py (IMPORT_STUBS there)."""
import importlib.abc
import importlib.machinery
import sys

VERSION = "0+gpukit.stub"


class StubUsed(RuntimeError):
    pass


def _passthrough(qualname):
    def decorate(obj):
        if callable(obj):
            return obj  # a decorator factory applied at import time (numba.jit(...))
        raise StubUsed(f"{qualname} was called at run time, but it is a gpu_verify import "
                       "stub: install its wheel")
    return decorate


class _Meta(type):
    def __call__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]):
            return args[0]  # a bare decorator at import time
        return _passthrough(cls.__qualname__)

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return stub_attr(f"{cls.__qualname__}.{name}")


def stub_attr(qualname):
    return _Meta(qualname.rpartition(".")[2], (), {"__qualname__": qualname})


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        fill(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        root = sys.modules.get(fullname.partition(".")[0])
        if "." in fullname and getattr(root, "__gpukit_stub__", False):
            return importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=True)
        return None


def fill(module):
    name = module.__name__

    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return stub_attr(f"{name}.{attr}")

    module.__path__ = []
    module.__version__ = VERSION
    module.__gpukit_stub__ = True
    module.__getattr__ = __getattr__
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
'''


def write_import_stubs(stub_dir: Path, roots: list[str]) -> None:
    """One package per root that imports as a stand-in (STUB_MODULE)."""
    stub_dir.mkdir(parents=True, exist_ok=True)
    (stub_dir / "_gpukit_stub.py").write_text(STUB_MODULE, encoding="utf-8")
    for root in roots:
        (stub_dir / root).mkdir(exist_ok=True)
        (stub_dir / root / "__init__.py").write_text(
            "import sys\n\nfrom _gpukit_stub import fill\n\nfill(sys.modules[__name__])\n",
            encoding="utf-8",
        )


def install_import_stubs(kit: Kit) -> None:
    """Stand-ins for the IMPORT_STUBS not installed here, at the end of sys.path."""
    kit.stubbed = [root for root in IMPORT_STUBS if util.find_spec(root) is None]
    if kit.stubbed:
        write_import_stubs(kit.stub_dir, kit.stubbed)
        sys.path.append(str(kit.stub_dir))


# ---------------------------------------------------------------------------- requirements
def requirement_name(requirement: str) -> str:
    return requirement.partition("==")[0]


def installed_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def missing_requirements() -> list[str]:
    """REQUIREMENTS whose distribution is not installed at all (any version is kept), and
    torchaudio unpinned (its wheel must match the box's torch: gpu_wheels.sh --torch)."""
    missing = [r for r in REQUIREMENTS if installed_version(requirement_name(r)) is None]
    return missing + (["torchaudio"] if installed_version("torchaudio") is None else [])


# ---------------------------------------------------------------------------- steps
def step_install(kit: Kit) -> Step:
    """The engines' libraries and the CLI import; what is missing, what is stubbed."""
    name = "install"
    missing = missing_requirements()
    versions = {
        dist: installed_version(dist)
        for dist in ("torch", "torchaudio", "f5-tts", "coqui-tts", "transformers", "numpy")
    }
    imports = (
        "engines.f5tts",
        "engines.xtts",
        "f5_tts.model",
        "f5_tts.infer.utils_infer",
        "TTS.tts.models.xtts",
        "audiovoice_ops.cli",
    )
    figures: dict[str, Any] = dict(versions=versions, missing=missing, stubbed=kit.stubbed)
    broken = {}
    try:
        figures["torchaudio_native"] = torchaudio_native()
    except ImportError as exc:
        broken["torchaudio"] = f"{type(exc).__name__}: {first_line(exc)}"
    for module in imports if not broken else ():
        try:
            __import__(module)
        except Exception as exc:  # noqa: BLE001  (any import error is the finding)
            broken[module] = f"{type(exc).__name__}: {first_line(exc)}"
    problems = [f"{module}: {error}" for module, error in broken.items()]
    if missing:
        problems.append(f"not installed: {', '.join(missing)}")
    if problems:
        return failed(name, "; ".join(problems), **figures)
    stubs = f"; import stubs for {', '.join(kit.stubbed)}" if kit.stubbed else ""
    return passed(
        name, f"all {len(REQUIREMENTS)} requirements present, engines import{stubs}", **figures
    )


def torchaudio_native() -> bool:
    """Import torchaudio as the engines do (before f5_tts / TTS); whether its native extension
    loaded (engines/_torchaudio.py's stand-in marks one that could not, beside this torch)."""
    from engines._torchaudio import import_torchaudio

    torchaudio = import_torchaudio()
    extension = sys.modules.get(f"{torchaudio.__name__}._extension")
    return not getattr(extension, "ENGINES_PURE_PYTHON_STUB", False)


def first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else ""


def cuda_test_files() -> list[str]:
    """Test files that skip without CUDA (they say so with one of CUDA_SKIP_MARKERS)."""
    found = []
    for folder in CUDA_TEST_DIRS:
        for path in sorted((REPO / folder).glob("test_*.py")):
            text = path.read_text(encoding="utf-8")
            relative = str(path.relative_to(REPO))
            if relative != KIT_TEST and any(marker in text for marker in CUDA_SKIP_MARKERS):
                found.append(relative)
    return found


def step_cuda_tests(kit: Kit) -> Step:
    """The tests that skip without CUDA, run with pytest; pass/skip/fail per test."""
    name = "cuda_tests"
    files = cuda_test_files()
    ok, why = kit.cuda()
    if not ok:
        return skipped(name, why, files=files)
    junit = kit.report_dir / "cuda_tests.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [*command, f"--junitxml={junit}", *files],
        cwd=REPO,
        env=kit.env(),
        capture_output=True,
        text=True,
        timeout=PYTEST_TIMEOUT_S,
    )
    (kit.report_dir / "cuda_tests.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    outcomes = junit_outcomes(junit) if junit.exists() else {}
    counts = {s: sum(1 for o in outcomes.values() if o == s) for s in ("pass", "skip", "fail")}
    figures = dict(files=files, exit_code=proc.returncode, **counts, tests=outcomes)
    if proc.returncode != 0 or counts["fail"]:
        return failed(name, f"pytest exit {proc.returncode}: {counts} (cuda_tests.log)", **figures)
    return passed(name, f"{counts['pass']} passed, {counts['skip']} skipped", **figures)


def junit_outcomes(junit: Path) -> dict[str, str]:
    """``file::test`` -> pass | skip | fail from pytest's JUnit XML."""
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcomes[test] = (
            "fail" if kinds & {"failure", "error"} else "skip" if "skipped" in kinds else "pass"
        )
    return outcomes


def allocated_mib() -> float:
    import torch

    gc.collect()
    torch.cuda.synchronize()
    return torch.cuda.memory_allocated() / MIB


def nvml_used_mib() -> Optional[dict[str, Any]]:
    """NVML's view of GPU 0 (device used, this process's use), or None without pynvml."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        used = pynvml.nvmlDeviceGetMemoryInfo(handle).used / MIB
        mine = [
            p.usedGpuMemory
            for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
            if p.pid == os.getpid() and p.usedGpuMemory is not None
        ]
        pynvml.nvmlShutdown()
    except pynvml.NVMLError as exc:
        return {"error": str(exc)}
    return {
        "device_used_mib": round(used, 1),
        "process_used_mib": round(mine[0] / MIB, 1) if mine else None,
    }


def nvml_trend(*readings: Optional[dict[str, Any]]) -> str:
    """NVML's device-used MiB across readings, ``a -> b -> c`` (or why there is none)."""
    if any(r is None for r in readings):
        return "pynvml not importable"
    errors = [r["error"] for r in readings if r is not None and "error" in r]
    if errors:
        return f"NVML: {errors[0]}"
    return " -> ".join(str(r["device_used_mib"]) for r in readings if r is not None)


def step_unload_baseline(kit: Kit) -> Step:
    """LOW_VRAM: after a job the model leaves and memory_allocated is back at its baseline."""
    name = "unload_baseline"
    ok, why = kit.cuda()
    if not ok:
        return skipped(name, why)
    import torch

    modes: dict[str, dict[str, Any]] = {}
    for offload in ("none", "cpu"):
        engine = kit.f5_engine(low_vram=True, vram_offload=offload)
        torch.cuda.empty_cache()
        before, nvml_before = allocated_mib(), nvml_used_mib()
        with engine.vram.load_model("f5tts", engine._load, "cuda") as model:
            during, nvml_during = allocated_mib(), nvml_used_mib()
            del model
        after, nvml_after = allocated_mib(), nvml_used_mib()
        modes[offload] = dict(
            baseline_mib=round(before, 1),
            loaded_mib=round(during, 1),
            after_unload_mib=round(after, 1),
            delta_mib=round(after - before, 2),
            nvml_device_used=nvml_trend(nvml_before, nvml_during, nvml_after),
            nvml_before=nvml_before,
            nvml_loaded=nvml_during,
            nvml_after=nvml_after,
            state_after=engine.vram.snapshot().resident_models[0].state
            if engine.vram.resident()
            else "freed",
        )
        engine.vram.clear()
    bad = [
        f"VRAM_OFFLOAD={mode}: {m['after_unload_mib']} MiB after unload vs {m['baseline_mib']} "
        f"before (loaded {m['loaded_mib']})"
        for mode, m in modes.items()
        if abs(m["delta_mib"]) > BASELINE_TOLERANCE_MIB or m["loaded_mib"] - m["baseline_mib"] < 100
    ]
    if bad:
        return failed(name, "; ".join(bad), **modes)
    return passed(
        name,
        f"both offload modes back to baseline within {BASELINE_TOLERANCE_MIB:g} MiB",
        **modes,
    )


def step_swap_vs_reload(kit: Kit) -> Step:
    """F5TTS_v1_Base: parked-in-host-RAM swap (VRAM_OFFLOAD=cpu) vs reload (none)."""
    name = "swap_vs_reload"
    installed = installed_f5_arch()
    arch = {k: installed.get(k) for k in F5_V1_BASE_ARCH}  # the figures issue 13 names
    differ = {k: (v, arch[k]) for k, v in F5_V1_BASE_ARCH.items() if arch[k] != v}
    if differ:
        return failed(name, f"F5TTS_v1_Base.yaml differs (expected, found): {differ}", arch=arch)
    ok, why = kit.cuda()
    if not ok:
        return skipped(name, f"{why} (the installed F5TTS_v1_Base.yaml arch matches)", arch=arch)
    runs: dict[str, list[float]] = {}
    counters: dict[str, dict[str, int]] = {}
    for offload in ("cpu", "none"):
        runs[offload], counters[offload] = timed_loads(kit, offload)
    swap, reload = statistics.median(runs["cpu"]), statistics.median(runs["none"])
    big = kit.big_f5()
    figures = dict(
        params_m=round(big["params"] / 1e6, 1),
        ckpt_mb=round(big["ckpt_mb"], 1),
        swap_s=round(swap, 4),
        reload_s=round(reload, 4),
        ratio=round(swap / reload, 4),
        swap_runs=[round(t, 4) for t in runs["cpu"]],
        reload_runs=[round(t, 4) for t in runs["none"]],
        counters=counters,
        arch=arch,
    )
    if counters["cpu"]["swaps_in"] != kit.runs or counters["none"]["loads"] != kit.runs + 1:
        return failed(name, f"not {kit.runs} swaps and {kit.runs + 1} loads: {counters}", **figures)
    verdict = f"swap {swap:.3f} s vs reload {reload:.3f} s: ratio {swap / reload:.3f}x"
    if swap / reload > SWAP_TARGET_RATIO:
        return failed(name, f"{verdict} > target {SWAP_TARGET_RATIO}x", **figures)
    return passed(name, f"{verdict} (target <= {SWAP_TARGET_RATIO}x)", **figures)


def timed_loads(kit: Kit, offload: str) -> tuple[list[float], dict[str, int]]:
    """Seconds until the model is usable on the GPU, per job after the first, under LOW_VRAM with
    this VRAM_OFFLOAD; and the manager's load and swap counters."""
    import torch

    engine = kit.f5_engine(low_vram=True, vram_offload=offload)
    with engine.vram.load_model("f5tts", engine._load, "cuda"):
        pass  # the first load reads the checkpoint in both modes
    runs = []
    for _ in range(kit.runs):
        started = time.perf_counter()
        with engine.vram.load_model("f5tts", engine._load, "cuda"):
            torch.cuda.synchronize()
            runs.append(time.perf_counter() - started)
    stats = engine.vram.snapshot()
    engine.vram.clear()
    return runs, dict(loads=stats.loads, swaps_in=stats.swaps_in)


def installed_f5_arch() -> dict[str, Any]:
    """The DiT arch of the installed f5_tts package's F5TTS_v1_Base.yaml."""
    from importlib.resources import files

    import yaml

    config = files("f5_tts").joinpath("configs/F5TTS_v1_Base.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(config)["model"]["arch"])


def step_keep_alive_expiry(kit: Kit) -> Step:
    """MODEL_KEEP_ALIVE=2: the manager's timer takes the idle model off; VRAM back to baseline."""
    name = "keep_alive_expiry"
    ok, why = kit.cuda()
    if not ok:
        return skipped(name, why)
    import torch

    engine = kit.f5_engine(model_keep_alive=KEEP_ALIVE_S, vram_offload="none")
    torch.cuda.empty_cache()
    baseline = allocated_mib()
    with engine.vram.load_model("f5tts", engine._load, "cuda"):
        pass
    released = time.monotonic()
    resident = allocated_mib()
    freed_after = None
    while time.monotonic() - released < KEEP_ALIVE_S + KEEP_ALIVE_GRACE_S:
        stats = engine.vram.snapshot()
        if stats.expiries and abs(allocated_mib() - baseline) <= BASELINE_TOLERANCE_MIB:
            freed_after = time.monotonic() - released
            break
        time.sleep(0.1)
    stats = engine.vram.snapshot()
    figures = dict(
        baseline_mib=round(baseline, 1),
        resident_after_job_mib=round(resident, 1),
        final_mib=round(allocated_mib(), 1),
        expiries=stats.expiries,
        freed_after_s=None if freed_after is None else round(freed_after, 2),
        keep_alive_s=KEEP_ALIVE_S,
    )
    engine.vram.clear()
    if resident - baseline < 100:
        return failed(
            name, "the model was not resident after its job (keep-alive ignored)", **figures
        )
    if freed_after is None:
        return failed(
            name,
            f"not back to baseline {KEEP_ALIVE_S + KEEP_ALIVE_GRACE_S:g} s after the job "
            f"(expiries {stats.expiries})",
            **figures,
        )
    return passed(
        name, f"freed {freed_after:.2f} s after the job (keep-alive {KEEP_ALIVE_S:g} s)", **figures
    )


def run_cli(kit: Kit, *args: str) -> tuple[int, Optional[dict], str]:
    """``avops ARGS`` (as ``python -m audiovoice_ops``): exit code, parsed JSON, stderr's last line."""
    proc = subprocess.run(
        [sys.executable, "-m", "audiovoice_ops", *args],
        cwd=REPO,
        env={**kit.env(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    try:
        parsed = json.loads(proc.stdout)
    except json.JSONDecodeError:
        parsed = None
    lines = proc.stderr.strip().splitlines()
    return proc.returncode, parsed, lines[-1] if lines else ""


def step_check_gpu_cli(kit: Kit) -> Step:
    """``avops check-gpu --json``: the host (NVML) layer passes exactly when there is a GPU."""
    name = "check_gpu_cli"
    code, report, err = run_cli(kit, "check-gpu", "--json")
    if report is None:
        return failed(name, f"no JSON (exit {code}): {err}", exit_code=code)
    layers = {
        layer: {"status": report[layer]["status"], "message": report[layer]["message"]}
        for layer in ("host", "recommendation", "engine", "container", "arch")
        if isinstance(report.get(layer), dict)
    }
    figures = dict(exit_code=code, layers=layers)
    host = layers.get("host", {})
    gpu, why = kit.cuda()
    if gpu and host.get("status") != "pass":
        return failed(name, f"GPU host but the host layer says: {host}", **figures)
    if not gpu and (host.get("status") != "fail" or code != 10):
        return failed(
            name, f"no GPU ({why}) but host {host} exit {code} (expected fail, 10)", **figures
        )
    verdict = "host layer pass" if gpu else "no driver reported as such (host fail, exit 10)"
    others = ", ".join(f"{k} {v['status']}" for k, v in layers.items() if k != "host")
    return passed(name, f"{verdict}; {others}", **figures)


def step_vram_cli(kit: Kit) -> Step:
    """``avops vram --json --no-api`` on real NVML."""
    name = "vram_cli"
    code, frame, err = run_cli(kit, "vram", "--json", "--no-api")
    if frame is None:
        return failed(name, f"no JSON (exit {code}): {err}", exit_code=code)
    nvml = frame.get("gpu") or {}
    gpus = [
        {k: g.get(k) for k in ("index", "name", "memory.used", "memory.total", "compute_cap")}
        for g in nvml.get("gpus") or []
    ]
    figures = dict(
        exit_code=code,
        available=nvml.get("available"),
        driver=nvml.get("driver_version"),
        error=nvml.get("error"),
        gpus=gpus,
    )
    gpu, why = kit.cuda()
    if gpu:
        if code != 0 or not nvml.get("available") or not gpus:
            return failed(name, f"GPU host but exit {code}, NVML {nvml.get('error')}", **figures)
        first = gpus[0]
        return passed(
            name,
            f"{len(gpus)} GPU(s): {first['name']}, {first['memory.used']:.0f} / "
            f"{first['memory.total']:.0f} MiB used (NVML)",
            **figures,
        )
    if code != 1 or nvml.get("available"):
        return failed(
            name, f"no GPU ({why}) but exit {code}, available {nvml.get('available')}", **figures
        )
    return passed(name, f"no NVML here, reported as such (exit 1: {nvml.get('error')})", **figures)


def step_fp16_policy(kit: Kit) -> Step:
    """What engines.precision decides for this GPU (FP16=auto/on/off, per engine)."""
    name = "fp16_policy"
    if util.find_spec("engines.precision") is None:
        return skipped(name, "engines/precision.py is not in this tree yet")
    from engines.precision import fp16_supported, resolve_fp16
    from engines.settings import load_settings

    ok, why = kit.cuda()
    if not ok:
        return skipped(name, why, cpu_auto=resolve_fp16("auto", "cpu"))
    import torch

    cc = torch.cuda.get_device_capability(0)
    device_name = torch.cuda.get_device_name(0)
    supported, reason = fp16_supported(cc, device_name)
    settings = load_settings()
    figures = dict(
        device=device_name,
        compute_capability=f"{cc[0]}.{cc[1]}",
        supported=supported,
        decisions={s: resolve_fp16(s, "cuda", cc, device_name) for s in ("auto", "on", "off")},
        engines={
            engine: resolve_fp16(settings.fp16_setting(engine), "cuda", cc, device_name, engine)
            for engine in ("f5tts", "xtts")
        },
    )
    return passed(
        name,
        f"{device_name} cc {cc[0]}.{cc[1]}: fp16 {'on' if supported else 'off'} ({reason})",
        **figures,
    )


STEPS: tuple[Callable[[Kit], Step], ...] = (
    step_install,
    step_cuda_tests,
    step_unload_baseline,
    step_swap_vs_reload,
    step_keep_alive_expiry,
    step_check_gpu_cli,
    step_vram_cli,
    step_fp16_policy,
)


# ---------------------------------------------------------------------------- runner and report
def step_name(step: Callable[[Kit], Step]) -> str:
    return step.__name__.removeprefix("step_")


def run_steps(kit: Kit, steps: tuple[Callable[[Kit], Step], ...] = STEPS) -> list[Step]:
    """Every step, in order; one that raises is a fail with the exception as its reason."""
    results = []
    for step in steps:
        print(f"gpu_verify: {step_name(step)} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            result = step(kit)
        except Exception as exc:  # noqa: BLE001  (a crashing step is a failed step, the rest run)
            detail = traceback.format_exc(limit=-3).strip().splitlines()
            result = failed(
                step_name(step), f"{type(exc).__name__}: {first_line(exc)}", traceback=detail
            )
        result.figures["seconds"] = round(time.perf_counter() - started, 2)
        print(f"gpu_verify: {result.name}: {result.status}: {result.reason}", file=sys.stderr)
        results.append(result)
    return results


def exit_code(results: list[Step]) -> int:
    return 1 if any(r.status == "fail" for r in results) else 0


def host_facts(kit: Kit) -> dict[str, Any]:
    facts: dict[str, Any] = dict(python=platform.python_version(), platform=platform.platform())
    try:
        import torch

        facts.update(torch=torch.__version__, torch_cuda=torch.version.cuda)
    except ImportError:
        facts["torch"] = None
    gpu, why = kit.cuda()
    facts["gpu"] = why if gpu else None
    facts["no_gpu_reason"] = None if gpu else why
    return facts


def cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def figures_summary(figures: dict[str, Any], limit: int = 12) -> str:
    """The scalar figures as ``key=value``, one level into dicts (``cpu.delta_mib=0.0``); the
    rest is in the JSON."""
    scalar = (int, float, str, bool)
    pairs = []
    for key, value in figures.items():
        if isinstance(value, dict):
            pairs += [(f"{key}.{k}", v) for k, v in value.items() if isinstance(v, scalar)]
        elif isinstance(value, scalar):
            pairs.append((key, value))
    return ", ".join(f"{key}={value}" for key, value in pairs[:limit])


def render_markdown(results: list[Step], host: dict[str, Any]) -> str:
    where = host.get("gpu") or f"no GPU ({host.get('no_gpu_reason')})"
    lines = [
        f"GPU verification kit (`bash bench/gpu_verify.sh`): {where}; python {host['python']}, "
        f"torch {host.get('torch')} (CUDA {host.get('torch_cuda')}).",
        "",
        "| step | status | reason | figures |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r.name} | {r.status} | {cell(r.reason)} | {cell(figures_summary(r.figures))} |"
        for r in results
    ]
    return "\n".join(lines) + "\n"


def write_report(report_dir: Path, results: list[Step], host: dict[str, Any]) -> str:
    report_dir.mkdir(parents=True, exist_ok=True)
    code = exit_code(results)
    document = dict(ok=code == 0, exit_code=code, host=host, steps=[asdict(r) for r in results])
    (report_dir / "gpu_verify.json").write_text(
        json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8"
    )
    markdown = render_markdown(results, host)
    (report_dir / "gpu_verify.md").write_text(markdown, encoding="utf-8")
    return markdown


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", nargs="?", type=Path, default=DEFAULT_REPORT_DIR)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per mode (swap_vs_reload)")
    parser.add_argument("--requirements", action="store_true", help="print REQUIREMENTS")
    parser.add_argument("--missing", action="store_true", help="print REQUIREMENTS not installed")
    opts = parser.parse_args(argv)
    if opts.requirements or opts.missing:
        for requirement in missing_requirements() if opts.missing else REQUIREMENTS:
            print(requirement)
        return 0
    report_dir = opts.report_dir.resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    kit = Kit(report_dir, runs=opts.runs)
    try:
        install_import_stubs(kit)
        results = run_steps(kit)
        markdown = write_report(report_dir, results, host_facts(kit))
    finally:
        kit.close()
    print(markdown)
    print(f"report: {report_dir / 'gpu_verify.json'}, {report_dir / 'gpu_verify.md'}")
    return exit_code(results)


if __name__ == "__main__":
    sys.exit(main())
