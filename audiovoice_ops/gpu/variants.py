"""The worker image's build variants (CUDA 12.4 default, CUDA 12.8 for Blackwell), read from the
one data file (``audiovoice_ops/data/cuda_tags.json``) that the Dockerfile's ARG defaults, the
compose build args and the doctor's tag rules agree with (tests check it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from engines.archcompat import OK, check_arch  # the one compatibility rule (pure Python)

IMAGE_REPOSITORY = "audio-voice"  # compose's default image name (AVOPS_IMAGE)


def load_cuda_tags() -> dict[str, Any]:
    return json.loads(
        resources.files("audiovoice_ops")
        .joinpath("data", "cuda_tags.json")
        .read_text(encoding="utf-8")
    )


@dataclass(frozen=True)
class Variant:
    name: str  # cu124, cu128
    cuda: str
    base_image: str
    torch_index_url: str
    torch_version: str
    tag_suffix: str  # "" or "-cu128": audio-voice:latest<suffix>
    gpus: str  # which cards it is for, in words
    arch_list: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        return cls(**{**data, "arch_list": tuple(data["arch_list"])})

    @property
    def image(self) -> str:
        return f"{IMAGE_REPOSITORY}:latest{self.tag_suffix}"

    def build_args(self) -> dict[str, str]:
        """The Dockerfile's ARGs (and compose's build-arg variables) that select this variant."""
        return {
            "BASE_IMAGE": self.base_image,
            "TORCH_INDEX_URL": self.torch_index_url,
            "TORCH_VERSION": self.torch_version,
        }

    def env_lines(self) -> str:
        """What to put in .env for ``avops rebuild`` to build this variant."""
        pairs = {**self.build_args(), "AVOPS_IMAGE": self.image}
        return " ".join(f"{key}={value}" for key, value in pairs.items())

    def runs_on(self, cc: tuple[int, int]) -> bool:
        return check_arch(cc, list(self.arch_list)).status == OK


def load_variants(data: dict[str, Any] | None = None) -> list[Variant]:
    data = data if data is not None else load_cuda_tags()
    return [Variant.from_dict(v) for v in data["variants"]]


def default_variant(data: dict[str, Any] | None = None) -> Variant:
    data = data if data is not None else load_cuda_tags()
    return next(v for v in load_variants(data) if v.name == data["default_variant"])


def variants_for(cc: tuple[int, int], data: dict[str, Any] | None = None) -> list[Variant]:
    """The variants whose torch build runs a GPU of compute capability ``cc``, default first."""
    data = data if data is not None else load_cuda_tags()
    default = data["default_variant"]
    found = [v for v in load_variants(data) if v.runs_on(cc)]
    return sorted(found, key=lambda v: v.name != default)
