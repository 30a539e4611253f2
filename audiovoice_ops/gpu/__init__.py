"""GPU knowledge of the host CLI: NVML readings (``nvml``, ``types``, ``source``), GPU processes
mapped to containers (``containers``), the NVIDIA Container Toolkit's failure and fix
(``toolkit``) and ``avops check-gpu`` as data (``check``).

Stack knowledge (which service is the worker) lives in ``core/stack/roles.py``, not here.
"""
