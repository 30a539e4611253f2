import pytest

from audiovoice_ops.core.interpolation import (
    InterpolationError,
    interpolate_string,
    interpolate_tree,
)

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("${SET}", "value"),
        ("$SET/x", "value/x"),
        ("${UNSET}", ""),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${UNSET-fallback}", "fallback"),
        ("${SET:+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("$$SET", "$SET"),
        ("cost: $$5", "cost: $5"),
        ("${UNSET:-${SET}}", "value"),
        ("no vars", "no vars"),
    ],
)
def test_forms(text, expected):
    assert interpolate_string(text, ENV) == expected


def test_required_variable_error_carries_message():
    with pytest.raises(InterpolationError, match="LOW_VRAM.*set it in .env"):
        interpolate_string("${LOW_VRAM:?set it in .env}", ENV)
    with pytest.raises(InterpolationError):
        interpolate_string("${EMPTY:?}", ENV)
    assert interpolate_string("${EMPTY?}", ENV) == ""


def test_invalid_format():
    with pytest.raises(InterpolationError, match="invalid interpolation"):
        interpolate_string("${not valid}", ENV)


def test_tree_error_names_path():
    with pytest.raises(InterpolationError, match=r"services\.api\.environment\[0\]"):
        interpolate_tree({"services": {"api": {"environment": ["${X:?missing}"]}}}, {})
    assert interpolate_tree({"a": [1, "${SET}", True]}, ENV) == {"a": [1, "value", True]}
