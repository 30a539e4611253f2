"""avops: ops toolkit for the self-hosted audio-voice TTS stack.

The package is split like nvitop: ``audiovoice_ops.core`` is the library (stack model, Docker
inventory, reports) and ``audiovoice_ops.commands`` is the Typer/rich front end. Nothing here imports
torch; the Docker SDK and NVML are imported only by the commands that need them.
"""

__version__ = "0.1.0"
