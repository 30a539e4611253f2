"""The CLI starts fast: importing it pulls in no torch, no Docker SDK, no NVML."""

import subprocess
import sys

from tests.support.dockerenv import run_avops

HEAVY = ("torch", "docker", "pynvml", "requests", "numpy")


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {name.split(".")[0] for name in out.split()}


def test_bare_cli_import_is_light():
    modules = imported_after("import audiovoice_ops.cli")
    assert not modules.intersection(HEAVY), modules.intersection(HEAVY)


def test_help_and_version_do_not_import_heavy_modules():
    code = (
        "import sys, runpy; sys.argv=['avops','--help'];\n"
        "try: runpy.run_module('audiovoice_ops', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print('MODULES', ' '.join(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    modules = {m.split(".")[0] for m in out.split("MODULES", 1)[1].split()}
    assert not modules.intersection(HEAVY), modules.intersection(HEAVY)


def test_version():
    result = run_avops("--version")
    assert result.returncode == 0 and result.stdout.startswith("avops ")
