"""How the Docker Engine says it cannot hand a GPU to a container, and the one fix for it.

dockerd registers the ``nvidia`` device driver only when the NVIDIA Container Toolkit's hook is
installed; without it every GPU device request fails with this message. ``avops rebuild/restart``
(starting a service) and ``avops check-gpu`` (its probe container) both meet it.
"""

from __future__ import annotations

GPU_DRIVER_ERROR = "could not select device driver"
TOOLKIT_FIX = (
    "install the NVIDIA Container Toolkit on the Docker host and restart dockerd "
    "(sudo apt-get install nvidia-container-toolkit && sudo nvidia-ctk runtime configure "
    "--runtime=docker && sudo systemctl restart docker; "
    "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/)"
)
# Commands that start services can also go on without the GPU.
TOOLKIT_HINT = f"{TOOLKIT_FIX}, or run with --gpus auto (CPU fallback) / --gpus off"


def lacks_gpu_driver(engine_error: str) -> bool:
    """True when the engine's error says no ``nvidia`` device driver is registered."""
    return GPU_DRIVER_ERROR in engine_error
