"""Import torchaudio on a CPU-only torch without its native extension.

Why this exists: PyPI only carries CUDA builds of torchaudio for Linux. Beside the
CPU torch wheel used in dev/CI, ``torchaudio/lib/_torchaudio.abi3.so`` fails to
load (``libc10_cuda.so: cannot open shared object file``) and ``import torchaudio``
raises, which also breaks ``import f5_tts`` and ``import TTS``. The engines only
need torchaudio's pure-Python parts (``transforms.MelSpectrogram``,
``transforms.Resample``, ``functional.resample``); audio file I/O goes through
soundfile, never ``torchaudio.load`` (its torchcodec backend cannot load here).

``import_torchaudio()`` tries the normal import first, so on the GPU image with
matching CUDA wheels nothing changes. Only when the native extension fails to load
does it install a stand-in for ``torchaudio._extension`` that reports "no native
extension" (the state torchaudio itself supports when the .so is absent) and
import again. Features that need the extension (forced alignment, CUDA CTC) then
fail with a clear message instead of at import time.
"""

from __future__ import annotations

import logging
import sys
import types

logger = logging.getLogger(__name__)

_STUB_NAME = "torchaudio._extension"


def _fail_without_extension(func):
    def wrapped(*args, **kwargs):
        raise RuntimeError(
            f"{func.__name__} needs torchaudio's native extension, which could not be "
            "loaded beside this torch build (pure-Python mode, see engines/_torchaudio.py)"
        )

    return wrapped


def _pure_python_extension() -> types.ModuleType:
    stub = types.ModuleType(_STUB_NAME)
    stub.__doc__ = "Stand-in installed by engines._torchaudio: native extension unavailable."
    vars(stub).update(
        _IS_TORCHAUDIO_EXT_AVAILABLE=False,
        _IS_ALIGN_AVAILABLE=False,
        fail_if_no_align=_fail_without_extension,
        _load_lib=lambda lib: False,
        _check_cuda_version=lambda: None,
        ENGINES_PURE_PYTHON_STUB=True,
    )
    return stub


def _forget_torchaudio() -> None:
    # A failed import leaves half-initialised submodules behind; drop them so the
    # second import starts clean.
    for name in [n for n in sys.modules if n == "torchaudio" or n.startswith("torchaudio.")]:
        del sys.modules[name]


def import_torchaudio() -> types.ModuleType:
    """Return the torchaudio module, in pure-Python mode if its .so cannot load."""
    try:
        import torchaudio

        return torchaudio
    except OSError as exc:  # the native extension failed to dlopen
        reason = str(exc)
    _forget_torchaudio()
    sys.modules[_STUB_NAME] = _pure_python_extension()
    import torchaudio

    logger.warning(
        "torchaudio native extension unavailable (%s); using its pure-Python parts only",
        reason.splitlines()[0][:200],
    )
    return torchaudio
