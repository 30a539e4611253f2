"""Hostile or corrupt compose and .env files: one line naming the file, exit 3, in bounded time and
memory. Limits come from ``core/limits.py`` (the tests use them, so a changed limit changes the test)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping

import pytest

from audiovoice_ops.core import limits
from audiovoice_ops.core.envfile import parse_env_text, read_env_file
from audiovoice_ops.core.errors import ComposeFileError, EnvFileError, ExitCode
from audiovoice_ops.core.stack import load_stack
from tests.core.test_errors_cli import assert_clean_error, env_for
from tests.support.dockerenv import run_avops

BILLION_LAUGHS = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    + "services: *i\n"
)


def load(compose_file, env_file=None):
    return load_stack(
        compose_file, env_file or compose_file.with_name("no.env"), {}, project_name="p"
    )


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"services:\n  a:\n    image: caf\xe9\n", "not UTF-8 text (invalid byte at offset 29)"),
        (b"a: &a [*a]\nservices: {}\n", "recursive alias"),
        (b"a: &a {b: *a}\nservices: {}\n", "recursive alias"),
        (BILLION_LAUGHS.encode(), f"more than {limits.MAX_YAML_NODES} nodes"),
        (
            b"services: " + b"[" * 200 + b"]" * 200 + b"\n",
            f"nested deeper than {limits.MAX_YAML_DEPTH} levels",
        ),
        (b"services:\n  a:\n    image: x\x00\n", "invalid YAML: unacceptable character"),
        (b"services:\n  a:\n    created: 2001-13-45\n", "invalid YAML: month must be in 1..12"),
    ],
)
def test_hostile_yaml_is_one_config_error(tmp_path, content, needle):
    compose = tmp_path / "compose.yml"
    compose.write_bytes(content)
    started = time.monotonic()
    with pytest.raises(ComposeFileError) as caught:
        load(compose)
    assert time.monotonic() - started < 5
    assert needle in caught.value.message and str(compose) in caught.value.message
    assert "\n" not in caught.value.message


def test_aliases_within_the_limit_still_work(tmp_path):
    compose = tmp_path / "compose.yml"
    compose.write_text(
        "x-base: &base {image: busybox, environment: {A: '1'}}\n"
        "services:\n  one: *base\n  two:\n    <<: *base\n    image: other\n"
    )
    stack = load(compose)
    assert stack.services["one"].image == "busybox" and stack.services["two"].image == "other"
    assert stack.services["two"].environment == {"A": "1"}


def test_alias_nesting_deeper_than_the_limit_is_rejected(tmp_path):
    # Each anchored node is shallow; only expanded does the tree nest too deep.
    lines = ["a0: &a0 [x]"] + [
        f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, limits.MAX_YAML_DEPTH + 2)
    ]
    compose = tmp_path / "compose.yml"
    compose.write_text("\n".join(lines) + "\nservices: {}\n")
    with pytest.raises(ComposeFileError, match="nested deeper than .* once aliases are expanded"):
        load(compose)


def test_compose_file_over_the_size_limit(tmp_path):
    compose = tmp_path / "compose.yml"
    compose.write_bytes(b"# padding\n" * (limits.MAX_COMPOSE_FILE_BYTES // 10 + 1))
    with pytest.raises(
        ComposeFileError, match=f"compose file {compose} is larger than the 1 MiB limit"
    ):
        load(compose)


def test_compose_file_at_the_size_limit_is_read(tmp_path):
    compose = tmp_path / "compose.yml"
    body = b"services:\n  a:\n    image: busybox\n"
    compose.write_bytes(body + b"#" * (limits.MAX_COMPOSE_FILE_BYTES - len(body)))
    assert load(compose).services["a"].image == "busybox"


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"a: &a [*a]\nservices: {}\n", "recursive alias"),
        (BILLION_LAUGHS.encode(), "nodes once aliases are expanded"),
        (b"services:\n  a:\n    image: \xff\xfe\n", "not UTF-8 text"),
    ],
)
def test_cli_names_the_file_in_one_line(stack_dir, content, needle):
    compose = stack_dir / "compose.yml"
    compose.write_bytes(content)
    result = run_avops("env", "--no-docker", env=env_for(stack_dir), timeout=60)
    assert_clean_error(result, ExitCode.CONFIG, needle, str(compose))
    assert len(result.stderr.strip().splitlines()) <= 2  # the error line and, at most, its hint


# --- .env files -------------------------------------------------------------------------------------


class CountingEnviron(Mapping):
    """An environment that counts every read, to prove each line costs O(1) lookups, not a copy."""

    def __init__(self, data):
        self.data, self.reads = data, Counter()

    def __getitem__(self, key):
        self.reads[key] += 1
        return self.data[key]

    def __iter__(self):
        self.reads["<iter>"] += 1
        return iter(self.data)

    def __len__(self):
        return len(self.data)


def test_env_interpolation_reads_the_environment_per_reference_not_per_line():
    environ = CountingEnviron({f"SHELL_{i}": str(i) for i in range(2000)})
    text = "".join(f"V{i}=${{SHELL_{i}}}\n" for i in range(2000))
    values = parse_env_text(text, ".env", environ)
    assert values["V1999"] == "1999"
    # Copying the environment per line read each shell variable once per line: 4,000,000 reads.
    assert sum(environ.reads.values()) <= 2 * 2000


def test_env_file_at_the_size_limit_parses_quickly(tmp_path):
    line = "VARIABLE_{:06d}=${{VARIABLE_{:06d}:-value}}-suffix\n"
    count = limits.MAX_ENV_FILE_BYTES // len(line.format(0, 0))
    path = tmp_path / ".env"
    path.write_text("".join(line.format(i, max(i - 1, 0)) for i in range(count)))
    started = time.monotonic()
    values = read_env_file(path, {})
    assert time.monotonic() - started < 20  # measured ~2 s; quadratic copying took minutes
    assert len(values) == count and values["VARIABLE_000001"] == "value-suffix-suffix"


def test_env_file_over_the_size_limit(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\n" * (limits.MAX_ENV_FILE_BYTES // 4 + 1))
    started = time.monotonic()
    with pytest.raises(EnvFileError, match=f"env file {path} is larger than the 1 MiB limit"):
        read_env_file(path, {})
    assert time.monotonic() - started < 1


def test_env_file_not_utf8(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"A=caf\xe9\n")
    with pytest.raises(EnvFileError, match=r"not UTF-8 text \(invalid byte at offset 5\)"):
        read_env_file(path, {})


def test_cli_env_file_over_the_limit(stack_dir):
    (stack_dir / ".env").write_bytes(
        b"LOW_VRAM=true\n" + b"A=1\n" * (limits.MAX_ENV_FILE_BYTES // 4)
    )
    result = run_avops("env", "--no-docker", env=env_for(stack_dir), timeout=60)
    assert_clean_error(
        result, ExitCode.CONFIG, "is larger than the 1 MiB limit", str(stack_dir / ".env")
    )


def test_interpolation_nesting_is_bounded():
    from audiovoice_ops.core.interpolation import InterpolationError, interpolate_string

    deep = (
        "${A:-" * (limits.MAX_INTERPOLATION_DEPTH + 2)
        + "x"
        + "}" * (limits.MAX_INTERPOLATION_DEPTH + 2)
    )
    with pytest.raises(InterpolationError, match="nested deeper than"):
        interpolate_string(deep, {})
    ok = "${A:-" * limits.MAX_INTERPOLATION_DEPTH + "x" + "}" * limits.MAX_INTERPOLATION_DEPTH
    assert interpolate_string(ok, {}) == "x"
