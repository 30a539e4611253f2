"""The wire contracts (engines.contracts): import-light, and every field a reader uses exists.

The end-to-end trip (producer -> Redis -> API -> avops) is tests/service/test_contracts.py.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from engines.contracts import COUNTERS, HealthResponse, ResidentModel, VramResponse, VramStats
from engines.settings import load_settings
from engines.testing import FakeGpu, FakeGpuModel
from engines.vram import VramManager

REPO = Path(__file__).resolve().parents[2]
# Every module of avops that reads /admin/vram or /health answers.
READERS = (
    "audiovoice_ops/commands/vram.py",
    "audiovoice_ops/core/apiclient.py",
    *sorted(str(p.relative_to(REPO)) for p in (REPO / "audiovoice_ops/core/doctor").glob("*.py")),
)
# Names the readers give to contract objects, and the contract each holds.
HOLDERS: dict[str, type[BaseModel]] = {
    "stats": VramStats,
    "resident": ResidentModel,
    "published": VramResponse,
}
# ``<result>.parsed`` of ApiClient.vram() / .health(), by the name of the result's attribute.
PARSED = {"vram": VramResponse, "health": HealthResponse}
HEAVY = (
    "torch",
    "numpy",
    "fastapi",
    "starlette",
    "redis",
    "celery",
    "httpx",
    "engines.vram",
    "engines.settings",
    "pydantic_settings",
)


def _model(annotation) -> type[BaseModel] | None:
    """The model an annotation holds (Optional[X] -> X), or None."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def contract_of(node: ast.expr) -> type[BaseModel] | None:
    """The contract model the expression evaluates to, as far as the reader's names tell."""
    if isinstance(node, ast.Name):
        return HOLDERS.get(node.id)
    if isinstance(node, ast.Attribute):
        if node.attr == "parsed" and isinstance(node.value, ast.Attribute):
            return PARSED.get(node.value.attr)
        if node.attr == "stats" and isinstance(node.value, ast.Name) and node.value.id == "src":
            return VramStats  # Sources.stats
        parent = contract_of(node.value)
        if parent is not None and node.attr in parent.model_fields:
            return _model(parent.model_fields[node.attr].annotation)
    return None


def unknown_fields(source: str) -> list[str]:
    """``model.attr`` reads of a contract object whose attr is not a field of the model."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and not node.attr.startswith("model_"):
            model = contract_of(node.value)
            if model is not None and node.attr not in model.model_fields:
                found.append(f"line {node.lineno}: {model.__name__}.{node.attr}")
    return found


@pytest.mark.parametrize("reader", READERS)
def test_every_field_a_reader_uses_exists_in_the_contract(reader):
    assert unknown_fields((REPO / reader).read_text()) == []


def test_the_field_check_catches_a_key_nobody_writes():
    """The check above can fail: the keys the seed's reader used and no producer wrote."""
    assert unknown_fields(
        "stats.last_load\nsrc.stats.last_unload\nsrc.vram.parsed.vram.oops\n"
        "resident.size_mb\nresident.vram\nsrc.health.parsed.status\n"
    ) == [
        "line 1: VramStats.last_load",
        "line 2: VramStats.last_unload",
        "line 3: VramStats.oops",
        "line 5: ResidentModel.vram",
    ]


@pytest.mark.parametrize("reader", READERS)
def test_readers_hold_no_string_keys_of_the_stats(reader):
    """Readers go through the models (checked above), not ``stats.get("...")`` or ``["..."]``."""
    text = (REPO / reader).read_text()
    keys = (
        set(VramStats.model_fields) | set(ResidentModel.model_fields) | {"last_load", "last_unload"}
    )
    # words the readers also use for other things (a row label, ApiResult.error, the gpu frame,
    # a container's state in the worker-host reports)
    keys -= {"error", "device", "available", "key", "loads", "state"}
    for key in sorted(keys):
        assert f'"{key}"' not in text and f"'{key}'" not in text, (
            f"{reader} reads {key!r} by string"
        )


def test_producer_sets_every_field_it_declares():
    """A renamed or dropped field on the producer side fails here (not as a silent default)."""
    gpu = FakeGpu(2048)
    vm = VramManager(load_settings(low_vram="true", vram_reserve_mb=0), backend=gpu)
    with vm.load_model("f5tts", lambda device: FakeGpuModel(100, gpu, device), "cuda"):
        snapshot = vm.snapshot()
    assert snapshot.model_fields_set == set(VramStats.model_fields) - {"error"}
    assert snapshot.resident_models[0].model_fields_set == set(ResidentModel.model_fields)
    assert set(vm.stats()) == set(VramStats.model_fields)
    assert set(COUNTERS) <= set(VramStats.model_fields)
    json.dumps(vm.stats())  # JSON-serialisable as before


def test_the_contracts_import_without_the_heavy_stack():
    """The CLI installs without extras: the contracts need pydantic only."""
    code = (
        "import sys, engines.contracts; "
        f"print([m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_the_cli_start_up_does_not_import_the_contracts():
    """avops reads them on first use (ApiClient.vram/health), never at start-up."""
    code = (
        "import sys, audiovoice_ops.app, audiovoice_ops.core.apiclient, audiovoice_ops.core.doctor; "
        "print('engines.contracts' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "False", out.stderr
