"""Typed errors of the engines package (importable without torch)."""


class EngineError(Exception):
    """Base class for every error raised by engines/."""


class EngineConfigError(EngineError, ValueError):
    """A setting is invalid or a model file it points at is missing. One line, names the variable."""


class DeviceUnavailableError(EngineError):
    """CUDA was requested, is not available, and DEVICE_FALLBACK_TO_CPU is false."""


class VramError(EngineError):
    """CUDA ran out of memory and could not recover (retry failed, CPU fallback not allowed)."""


class ReferenceAudioError(EngineError, ValueError):
    """Reference audio is missing, undecodable, silent or out of length bounds."""


class SynthesisError(EngineError):
    """Bad synthesis request (empty text, unknown language or profile) or failed generation."""


class VoiceMismatchError(SynthesisError, ValueError):
    """A voice prepared by one engine was given to another (conditioning is engine-specific)."""
