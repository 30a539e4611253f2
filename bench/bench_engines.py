"""Benchmarks for engines/ (results: bench/RESULTS.md, section "## engines").

    .venv/bin/python bench/bench_engines.py [--runs 7] [--big-runs 3] [--skip-big]

1. VRAM-manager overhead per job (normal and LOW_VRAM), tiny models on CPU, against
   calling the same inference directly, interleaved, median of --runs.
2. Bringing back a model parked in host RAM (VRAM_OFFLOAD=cpu) vs rebuilding it from its
   checkpoint through the engine's real loader, for a model of F5-TTS's real size
   (F5TTS_v1_Base DiT, ~336 M parameters, random weights saved to disk). On a GPU the
   swap is the host-to-device copy of the parked weights, recorded with VRAM before load,
   after load and after unload. Without a GPU the swap is measured as the same copy at
   host-memory speed (every parameter and buffer cloned), a stand-in stated as such.
3. Peak RSS of the API-side import (engines, settings, profiles: no torch) and of the
   worker-side import (both engines and their libraries).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import logging  # noqa: E402  (after the sys.path line: run as a script)

logging.disable(logging.WARNING)  # library chatter would distort nothing but the output


def median_ms(samples):
    return statistics.median(samples) * 1000


def bench_overhead(models: dict, ref_wav: Path, runs: int) -> list[dict]:
    from engines import get_engine
    from engines.settings import load_settings
    from engines.vram import VramManager

    paths = {k.lower(): v for k, v in models.items()}
    rows = []
    for low_vram in (False, True):
        settings = load_settings(**paths, low_vram=low_vram, vram_offload="cpu", f5tts_device="cpu")
        engine = get_engine("f5tts", settings=settings, vram_manager=VramManager(settings))
        voice = engine.prepare_voice(ref_wav, ref_text="this is the reference clip.")
        text, prof = "Hello world, this is a benchmark.", "f5tts_fast"
        model = engine._load("cpu")  # the direct path: same model, no manager
        from engines.profiles import get_profile

        p = get_profile(prof, "f5tts")
        engine.synthesize(text, voice, profile=prof)  # warm the manager's cache / parked copy
        engine._infer(model, "cpu", text, voice, p)
        direct, managed = [], []
        for _ in range(runs):  # interleaved so drift hits both equally
            t = time.perf_counter()
            engine._infer(model, "cpu", text, voice, p)
            direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            engine.synthesize(text, voice, profile=prof)
            managed.append(time.perf_counter() - t)
        # Pure bookkeeping cost: a no-op job through the manager.
        vm = engine.vram
        noop = []
        for _ in range(runs * 20):
            t = time.perf_counter()
            vm.run("f5tts", engine._load, lambda m, d: None, "cpu")
            noop.append(time.perf_counter() - t)
        d, m = median_ms(direct), median_ms(managed)
        rows.append(
            dict(
                mode="LOW_VRAM (offload=cpu)" if low_vram else "normal",
                direct_ms=round(d, 2),
                managed_ms=round(m, 2),
                overhead_pct=round((m - d) / d * 100, 2),
                noop_job_ms=round(median_ms(noop), 3),
            )
        )
    return rows


def build_big_f5(dest: Path) -> dict:
    """F5TTS_v1_Base architecture with random weights, saved like the official checkpoint."""
    import yaml
    from safetensors.torch import save_file

    from engines._torchaudio import import_torchaudio
    from engines.testing import _build_vocos

    import_torchaudio()
    from importlib.resources import files

    from f5_tts.model import CFM, DiT
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(str(files("f5_tts").joinpath("configs/F5TTS_v1_Base.yaml")))
    arch = OmegaConf.to_container(cfg.model.arch, resolve=True)
    vocab_file = str(files("f5_tts").joinpath("infer/examples/vocab.txt"))
    n_vocab = sum(1 for _ in open(vocab_file, encoding="utf-8"))
    model = CFM(
        transformer=DiT(**arch, text_num_embeds=n_vocab, mel_dim=100),
        mel_spec_kwargs=dict(
            n_fft=1024,
            hop_length=256,
            win_length=1024,
            n_mel_channels=100,
            target_sample_rate=24000,
            mel_spec_type="vocos",
        ),
    )
    params = sum(p.numel() for p in model.parameters())
    ckpt = dest / "model_big.safetensors"
    save_file({f"ema_model.{k}": v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))
    config = dest / "model.yaml"
    config.write_text(yaml.safe_dump({"model": OmegaConf.to_container(cfg.model, resolve=True)}))
    _build_vocos(dest / "vocos")
    del model
    return dict(
        params=params,
        env={
            "F5TTS_CKPT_FILE": str(ckpt),
            "F5TTS_VOCAB_FILE": vocab_file,
            "F5TTS_MODEL_CONFIG": str(config),
            "VOCOS_DIR": str(dest / "vocos"),
        },
        ckpt_mb=ckpt.stat().st_size / 2**20,
    )


def bench_offload(runs: int) -> dict:
    import gc

    import torch

    from engines import get_engine
    from engines.settings import load_settings
    from engines.vram import VramManager

    gpu = torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        big = build_big_f5(Path(tmp))
        build_s = time.perf_counter() - t
        paths = {k.lower(): v for k, v in big["env"].items()}
        settings = load_settings(**paths, low_vram=True, vram_offload="cpu")
        engine = get_engine("f5tts", settings=settings, vram_manager=VramManager(settings))
        device = engine.device
        reload_s, swap_s, vram = [], [], []
        for _ in range(runs):  # rebuild from checkpoint through the engine's real loader
            gc.collect()
            t = time.perf_counter()
            model = engine._load(device)
            if gpu:
                torch.cuda.synchronize()
            reload_s.append(time.perf_counter() - t)
            del model
            gc.collect()
        vm = engine.vram
        with vm.load_model("f5tts", engine._load, device):  # first load, then parked
            pass
        for _ in range(runs):
            if gpu:
                before = torch.cuda.memory_allocated() / 2**20
                t = time.perf_counter()
                with vm.load_model("f5tts", engine._load, device):
                    torch.cuda.synchronize()
                    swap_s.append(time.perf_counter() - t)
                    loaded = torch.cuda.memory_allocated() / 2**20
                after = torch.cuda.memory_allocated() / 2**20
                vram.append(
                    dict(
                        before_mb=round(before, 1),
                        after_load_mb=round(loaded, 1),
                        after_unload_mb=round(after, 1),
                    )
                )
            else:
                parked = vm._entries["f5tts"].model
                t = time.perf_counter()
                for tensor in list(parked.parameters()) + list(parked.buffers()):
                    tensor.data = tensor.data.clone()  # same bytes moved as an H2D copy
                swap_s.append(time.perf_counter() - t)
        vm.clear()
    r, s = statistics.median(reload_s), statistics.median(swap_s)
    return dict(
        params_m=round(big["params"] / 1e6, 1),
        ckpt_mb=round(big["ckpt_mb"], 1),
        device=device,
        build_s=round(build_s, 1),
        reload_s=round(r, 3),
        swap_s=round(s, 4),
        ratio=round(s / r, 4),
        swap_kind="host-to-device copy" if gpu else "host-RAM copy stand-in (no GPU)",
        reload_runs=[round(x, 3) for x in reload_s],
        vram=vram,
    )


RSS_CODE = """
import sys, json
sys.path.insert(0, {root!r})
{imports}
heavy = [m for m in ('torch', 'f5_tts', 'TTS') if m in sys.modules]
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a child of a big
# parent would report the parent's peak.
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]
print(json.dumps(dict(rss_mb=int(hwm) / 1024, heavy=heavy)))
"""


def bench_rss() -> list[dict]:
    cases = {
        "API side: import engines, engines.settings, engines.profiles": "import engines, engines.settings, engines.profiles",
        "worker side: engines.f5tts + engines.xtts with f5_tts and TTS imported": "import engines.f5tts, engines.xtts, engines.vram\n"
        "from engines._torchaudio import import_torchaudio; import_torchaudio()\n"
        "import f5_tts.infer.utils_infer, TTS.tts.models.xtts",
    }
    rows = []
    for label, imports in cases.items():
        out = subprocess.run(
            [sys.executable, "-c", RSS_CODE.format(root=str(ROOT), imports=imports)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        data = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(dict(case=label, peak_rss_mb=round(data["rss_mb"], 1), heavy=data["heavy"]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--big-runs", type=int, default=3)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()

    import torch

    from engines.testing import build_tiny_models, write_test_wav

    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # f5_tts prints while loading: keep stdout for the JSON
    results = dict(
        host=dict(
            torch=torch.__version__,
            cuda=torch.cuda.is_available(),
            cpus=os.cpu_count(),
            threads=torch.get_num_threads(),
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        models = build_tiny_models(Path(tmp) / "models")
        ref = write_test_wav(Path(tmp) / "ref.wav")
        results["overhead"] = bench_overhead(models, ref, args.runs)
    if not args.skip_big:
        results["offload_vs_reload"] = bench_offload(args.big_runs)
    results["rss"] = bench_rss()
    sys.stdout = real_stdout
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
