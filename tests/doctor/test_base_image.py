"""Dockerfile base-image parsing and the CUDA tag data file."""

from __future__ import annotations

import pytest

from audiovoice_ops.core.doctor import classify_image, dockerfile_base_images, load_cuda_tags


def test_arg_default_is_resolved():
    text = "ARG BASE_IMAGE=nvidia/cuda:12.4.1-cudnn9-runtime-ubuntu22.04\nFROM ${BASE_IMAGE}\nRUN true\n"
    assert dockerfile_base_images(text) == ["nvidia/cuda:12.4.1-cudnn9-runtime-ubuntu22.04"]


def test_build_args_win_and_stages_are_skipped():
    text = (
        "# comment\nARG CUDA=12.4.1\nARG BASE_IMAGE=nvidia/cuda:${CUDA}-cudnn9-devel-ubuntu22.04\n"
        "FROM --platform=linux/amd64 $BASE_IMAGE AS build\nRUN make \\\n  all\n"
        "FROM build AS test\nFROM nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04\n"
    )
    assert dockerfile_base_images(text, {"BASE_IMAGE": "nvidia/cuda:11.8.0-base-ubuntu22.04"}) == [
        "nvidia/cuda:11.8.0-base-ubuntu22.04",
        "nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04",
    ]


@pytest.mark.parametrize(
    "image, status",
    [
        ("nvidia/cuda:12.4.1-cudnn9-runtime-ubuntu22.04", "pass"),
        ("docker.io/nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04", "pass"),
        ("nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04", "fail"),
        ("nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", "fail"),
        ("nvidia/cuda:12.4.1-cudnn8-runtime-ubuntu22.04", "fail"),
        ("nvidia/cuda:12.2.2-runtime-ubuntu22.04", "warn"),
        ("nvidia/cuda", "warn"),
        ("nvidia/cuda:12.7.0-weird", "warn"),
        ("python:3.11-slim", "skipped"),
    ],
)
def test_classify(image, status):
    assert classify_image(image, load_cuda_tags())[0] == status


def test_data_file_shape():
    data = load_cuda_tags()
    default = next(v for v in data["variants"] if v["name"] == data["default_variant"])
    assert default["base_image"].startswith("nvidia/cuda:12.4.1")
    for rule in data["deprecated"]:
        assert set(rule) == {"pattern", "status", "reason", "replacement"} and rule["status"] in (
            "fail",
            "warn",
        )
