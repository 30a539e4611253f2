"""Property tests of the .env parser, interpolation and the compose loader: any input, text or bytes,
gives a result or the project's one-line config error (exit 3), never another exception, in bounded
time; a few cases run the real CLI in a subprocess with a memory cap."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audiovoice_ops.core.envfile import parse_env_text, read_env_file
from audiovoice_ops.core.errors import ConfigError, ExitCode
from audiovoice_ops.core.interpolation import (
    InterpolationError,
    interpolate_string,
    interpolate_tree,
)
from audiovoice_ops.core.stack import load_stack
from tests.support.dockerenv import REPO_ROOT

FAST = settings(
    max_examples=300,
    deadline=1000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(
    max_examples=60,
    deadline=5000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text biased towards the characters these grammars care about.
SYNTAX = st.sampled_from(
    list("${}:-?+=#'\"\\\n \t&*[]<>!|%@`,.")
    + ["${", "$$", ":-", "\r\n", "export ", "&a ", "*a", "<<: ", "- ", "\x00", "\ufeff"]
)
TEXT = st.lists(st.one_of(SYNTAX, st.text(max_size=5)), max_size=60).map("".join)
NAMES = st.sampled_from(["A", "B", "LOW_VRAM", "_X", "a1"])
ENVIRON = st.dictionaries(NAMES, st.text(max_size=10), max_size=4)


def assert_one_line(error: ConfigError) -> None:
    assert error.message and "\n" not in error.message and "\r" not in error.message, repr(
        error.message
    )
    assert error.exit_code == ExitCode.CONFIG


# --- interpolation ------------------------------------------------------------------------------------


@FAST
@given(text=TEXT, environ=ENVIRON)
@example(text="${A" * 5000, environ={})
@example(text="${A:-" * 300 + "}" * 300, environ={})
def test_interpolation_returns_text_or_interpolation_error(text, environ):
    try:
        result = interpolate_string(text, environ)
    except InterpolationError as exc:
        assert "\n" not in str(exc).replace("\\n", "")
        return
    assert isinstance(result, str)


@FAST
@given(text=st.text(max_size=80), environ=ENVIRON)
def test_escaped_dollars_round_trip(text, environ):
    assert interpolate_string(text.replace("$", "$$"), environ) == text


@FAST
@given(text=st.text(alphabet=st.characters(blacklist_characters="$"), max_size=80), environ=ENVIRON)
def test_text_without_dollar_is_unchanged(text, environ):
    assert interpolate_string(text, environ) == text


@FAST
@given(
    name=NAMES,
    value=st.text(max_size=10),
    before=st.text(alphabet="ab }{:-", max_size=5),
    after=st.text(alphabet="ab }{:-", max_size=5),
)
def test_braced_variable_is_replaced_in_place(name, value, before, after):
    escaped_before, escaped_after = before, after
    assert (
        interpolate_string(f"{escaped_before}${{{name}}}{escaped_after}", {name: value})
        == before + value + after
    )


# --- .env parser --------------------------------------------------------------------------------------


@FAST
@given(text=TEXT, environ=ENVIRON)
@example(text="A=${B\n", environ={})
@example(text=" \n", environ={})
@example(text="=\n", environ={})
def test_env_text_gives_values_or_one_line_error(text, environ):
    try:
        values = parse_env_text(text, source=".env", environ=environ)
    except ConfigError as exc:
        assert_one_line(exc)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())


@FAST
@given(data=st.binary(max_size=200))
@example(data=b"A=caf\xe9\n")
@example(data=b"\xff\xfe=1")
def test_env_file_bytes_give_values_or_one_line_error(tmp_path, data):
    path = tmp_path / ".env"
    path.write_bytes(data)
    try:
        read_env_file(path, {})
    except ConfigError as exc:
        assert_one_line(exc)


@FAST
@given(
    pairs=st.dictionaries(
        st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True),
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
        max_size=8,
    )
)
def test_single_quoted_values_are_literal(pairs):
    literal = {key: value for key, value in pairs.items() if "'" not in value and "\\" not in value}
    text = "".join(f"{key}='{value}'\n" for key, value in literal.items())
    expected = literal
    assert parse_env_text(text, ".env", {}) == expected


# --- compose loader -----------------------------------------------------------------------------------


def load_or_config_error(compose: Path) -> None:
    try:
        load_stack(compose, compose.with_name(".env"), {}, project_name="fuzz")
    except ConfigError as exc:
        assert_one_line(exc)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=10),
    st.sampled_from(["${A}", "${A:?x}", "$$", "8005:8005", "1:2:3", "on-failure:3", "host", "1s"]),
)
KEYS = st.sampled_from(
    [
        "services",
        "image",
        "ports",
        "volumes",
        "environment",
        "networks",
        "restart",
        "build",
        "command",
        "healthcheck",
        "depends_on",
        "env_file",
        "network_mode",
        "deploy",
        "x-a",
        "name",
        "target",
        "published",
        "test",
        "app",
        "db",
        "context",
        "condition",
    ]
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=25,
)


@SLOW
@given(tree=st.dictionaries(KEYS, TREES, max_size=4))
def test_any_yaml_tree_loads_or_fails_in_one_line(tmp_path, tree):
    compose = tmp_path / "compose.yml"
    compose.write_text(yaml.safe_dump(tree, allow_unicode=True))
    load_or_config_error(compose)


@SLOW
@given(
    services=st.dictionaries(
        st.sampled_from(["app", "db", "x-a", "1"]),
        st.dictionaries(KEYS, TREES, max_size=5),
        min_size=1,
        max_size=2,
    )
)
def test_any_service_body_loads_or_fails_in_one_line(tmp_path, services):
    compose = tmp_path / "compose.yml"
    compose.write_text(yaml.safe_dump({"services": services}, allow_unicode=True))
    load_or_config_error(compose)


@SLOW
@given(text=TEXT)
@example(text="a: &a [*a]\n")
@example(text="services: !!binary x\n")
@example(text="? [a]\n: b\n")
@example(text="services: {1: 2}\n")
def test_any_yaml_text_loads_or_fails_in_one_line(tmp_path, text):
    compose = tmp_path / "compose.yml"
    compose.write_text(text, encoding="utf-8", errors="surrogatepass")
    load_or_config_error(compose)


@SLOW
@given(data=st.binary(max_size=300))
def test_any_bytes_load_or_fail_in_one_line(tmp_path, data):
    compose = tmp_path / "compose.yml"
    compose.write_bytes(data)
    load_or_config_error(compose)


@FAST
@given(tree=TREES, environ=ENVIRON)
def test_tree_interpolation_keeps_shape(tree, environ):
    try:
        result = interpolate_tree(tree, environ)
    except InterpolationError:
        return
    assert type(result) is type(tree)


# --- the real CLI, a few cases, under a memory cap -----------------------------------------------------

MEMORY_CAP = 1024 * 1024 * 1024  # 1 GiB of address space: an alias bomb would need far more


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    compose=st.one_of(
        TEXT,
        st.sampled_from(
            [
                "a: &a [*a]\nservices: {}\n",
                "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nservices: *g\n",
            ]
        ),
    ),
    env=TEXT,
)
def test_cli_exits_0_or_3_with_one_line(tmp_path, compose, env):
    (tmp_path / "compose.yml").write_text(compose, encoding="utf-8", errors="surrogatepass")
    (tmp_path / ".env").write_text(env, encoding="utf-8", errors="surrogatepass")
    environ = {
        **os.environ,
        "AVOPS_COMPOSE_FILE": str(tmp_path / "compose.yml"),
        "AVOPS_ENV_FILE": str(tmp_path / ".env"),
        "AVOPS_PROJECT_NAME": "fuzz",
    }
    result = subprocess.run(
        [sys.executable, "-m", "audiovoice_ops", "env", "--no-docker"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO_ROOT,
        timeout=60,
        preexec_fn=cap_memory,
    )
    assert result.returncode in (ExitCode.OK, ExitCode.CONFIG), result.stderr
    assert "Traceback" not in result.stderr
    if result.returncode:
        assert 1 <= len(result.stderr.strip().splitlines()) <= 2, (
            result.stderr
        )  # the error and its hint
