"""`avops --help` and `--version` start fast because they load no command module: the module list
they leave in ``sys.modules`` is checked (not a timer). The list of heavy packages is what the
eager app used to load for `--help` (measured: 564 modules, among them these), plus the Docker SDK.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from audiovoice_ops import __version__
from audiovoice_ops.app import COMMANDS
from audiovoice_ops.core.errors import ExitCode
from tests.core.test_errors_cli import env_for
from tests.support.dockerenv import REPO_ROOT

# Packages none of the start-up paths may import: each costs tens of milliseconds.
HEAVY = (
    "rich",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "dotenv",
    "yaml",
    "docker",
    "requests",
    "urllib3",
    "pygments",
    "markdown_it",
    "attr",
    "torch",
    "numpy",
    "pynvml",
)


def loaded_by(*argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the console script's entry point with ``argv``; the modules it left loaded."""
    code = (
        "import sys\n"
        f"sys.argv = ['avops', *{list(argv)!r}]\n"
        "from audiovoice_ops.cli import main\n"
        "try:\n    main()\n"
        "finally:\n    sys.stderr.write('\\nMODULES ' + ' '.join(sys.modules) + '\\n')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    return result, set(result.stderr.rsplit("MODULES ", 1)[1].split())


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize(
    "argv, code",
    [
        (["--help"], ExitCode.OK),
        (["--version"], ExitCode.OK),
        (["-p", "demo", "--version"], ExitCode.OK),  # through Typer, not the --version shortcut
        ([], ExitCode.USAGE),  # no command: the help, exit 2
    ],
)
def test_help_and_version_load_no_heavy_package_and_no_command(argv, code):
    result, modules = loaded_by(*argv)
    assert result.returncode == code, result.stderr
    assert not top_level(modules) & set(HEAVY), top_level(modules) & set(HEAVY)
    assert not {m for m in modules if m.startswith("audiovoice_ops.commands")}


def test_version_shortcut_loads_no_typer():
    result, modules = loaded_by("--version")
    assert result.stdout == f"avops {__version__}\n"
    assert "typer" not in top_level(modules)


def test_a_command_loads_only_its_own_module():
    result, modules = loaded_by("status", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: avops status" in result.stdout
    assert {m for m in modules if m.startswith("audiovoice_ops.commands.")} <= {
        "audiovoice_ops.commands.status",
        "audiovoice_ops.commands.common",
    }


def test_help_lists_every_command_with_its_summary():
    result, _ = loaded_by("--help")
    listed = result.stdout.split("Commands:", 1)[1]
    for name, entry in COMMANDS.items():
        assert f"  {name} " in listed
        assert " ".join(entry.summary.split()[:4]) in " ".join(listed.split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_summary_is_the_first_line_of_the_command_docstring(name):
    import importlib

    entry = COMMANDS[name]
    function = getattr(
        importlib.import_module(f"audiovoice_ops.commands.{entry.module}"), entry.function
    )
    assert function.__doc__.strip().splitlines()[0] == entry.summary


def test_a_typo_still_gets_a_suggestion():
    result, modules = loaded_by("lgos")
    assert result.returncode == ExitCode.USAGE
    assert "Did you mean 'logs'?" in result.stderr
    assert not {m for m in modules if m.startswith("audiovoice_ops.commands")}


def test_ctrl_c_inside_a_command_ends_with_one_line_and_130(stack_dir):
    """Typer turned a KeyboardInterrupt raised in a command into a silent exit 130."""
    code = (
        "import sys\n"
        "import audiovoice_ops.core.stack as stack\n"
        "def interrupted(*args, **kwargs):\n    raise KeyboardInterrupt\n"
        "stack.load_stack = interrupted\n"
        "sys.argv = ['avops', 'env', '--no-docker']\n"
        "from audiovoice_ops.cli import main\nmain()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env_for(stack_dir),
        timeout=60,
    )
    assert result.returncode == ExitCode.INTERRUPTED, result.stderr
    assert result.stderr == "error: interrupted\n"
