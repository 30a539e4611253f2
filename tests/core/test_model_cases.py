"""Compose syntaxes and rules the first tests never exercised (mutation testing found them alive):
text around braced variables, port and volume forms, restart policies, networks, x-* keys, env_file
values that reference other variables, empty settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiovoice_ops.core.envfile import parse_env_text, read_env_file
from audiovoice_ops.core.errors import ComposeFileError, EnvFileError
from audiovoice_ops.core.interpolation import (
    InterpolationError,
    interpolate_string,
    interpolate_tree,
)
from audiovoice_ops.core.stack import load_stack

ENV = {"SET": "value", "EMPTY": "", "N": "7"}


def load(tmp_path: Path, text: str, env: str | None = None, environ=None, **kw):
    compose = tmp_path / "compose.yml"
    compose.write_text(text)
    if env is not None:
        (tmp_path / ".env").write_text(env)
    return load_stack(compose, tmp_path / ".env", environ or {}, **kw)


def service(tmp_path: Path, body: str, extra: str = "", **kw):
    return load(tmp_path, f"services:\n  a:\n    image: x\n{body}{extra}", **kw).services["a"]


# --- interpolation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<${SET}>", "<value>"),
        ("${SET}${N}", "value7"),
        ("${SET}/tail", "value/tail"),
        ("a${UNSET:-d}b", "adb"),
        ("${SET:-x}!", "value!"),
        ("${SET-x}", "value"),
        ("${UNSET+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${SET+alt}!", "alt!"),
        ("$SET$N", "value7"),
        ("$SET-x", "value-x"),
        ("$UNSET.", "."),
        ("x$$", "x$"),
        ("$${SET}", "${SET}"),
        ("${UNSET:-a}${UNSET:-b}", "ab"),
        ("${UNSET:-${EMPTY:-${N}}}", "7"),
        ("${UNSET:-{braces}}", "{braces}"),
        ("${SET:?e}", "value"),
        ("${SET?e}.", "value."),
        ("${EMPTY?e}", ""),
        ("${_A1-x}", "x"),
        ("", ""),
    ],
)
def test_more_forms(text, expected):
    assert interpolate_string(text, ENV) == expected


@pytest.mark.parametrize(
    "text, needle",
    [
        ("${SET", "invalid interpolation format in '${SET'"),
        ("x ${SET:-a", "invalid interpolation format"),
        ("${}", "invalid interpolation format"),
        ("${1A}", "invalid interpolation format"),
        ("${SET:x}", "invalid interpolation format"),
        ("$", "use $$ for a literal $"),
        ("cost $5", "use $$ for a literal $"),
        ("${UNSET?}", "required variable UNSET is missing a value: not set"),
        ("${UNSET:?need it}", "required variable UNSET is missing a value: need it"),
        ("${EMPTY:?need it}", "required variable EMPTY is missing a value: need it"),
    ],
)
def test_more_errors(text, needle):
    with pytest.raises(InterpolationError) as caught:
        interpolate_string(text, ENV)
    assert needle in str(caught.value)


def test_nested_default_is_only_evaluated_when_used():
    assert interpolate_string("${SET:-${UNSET:?never}}", ENV) == "value"
    assert interpolate_string("${UNSET:+${UNSET:?never}}", ENV) == ""


def test_tree_keeps_keys_and_non_strings_and_names_nested_paths():
    tree = {"k${SET}": ["${N}", {"deep": "${SET}"}], "n": 1, "f": 1.5, "b": None}
    assert interpolate_tree(tree, ENV) == {
        "k${SET}": ["7", {"deep": "value"}],
        "n": 1,
        "f": 1.5,
        "b": None,
    }
    with pytest.raises(InterpolationError, match=r"^a\[1\]\.b: "):
        interpolate_tree({"a": ["ok", {"b": "$"}]}, ENV)
    with pytest.raises(InterpolationError, match=r"^top: "):
        interpolate_tree({"top": "${X:?}"}, {})
    with pytest.raises(InterpolationError, match=r"^\[0\]: "):
        interpolate_tree(["${X:?}"], {})


# --- .env values that reference others -----------------------------------------------------------------


def test_env_values_reference_earlier_lines_and_the_shell():
    text = "A=1\nB=${A}2\nC=\"${B}-${SHELL_ONLY}\"\nD=${LATER:-none}\nLATER=x\nE=$A$B\nF='${A}'\n"
    assert parse_env_text(text, ".env", {"SHELL_ONLY": "sh"}) == {
        "A": "1",
        "B": "12",
        "C": "12-sh",
        "D": "none",
        "LATER": "x",
        "E": "112",
        "F": "${A}",
    }


def test_env_file_wins_over_shell_inside_the_file_itself():
    assert parse_env_text("A=file\nB=${A}\n", ".env", {"A": "shell"}) == {"A": "file", "B": "file"}


def test_env_file_bare_key_reads_shell_then_is_referenced():
    assert parse_env_text("A\nB=${A}!\n", ".env", {"A": "sh"}) == {"A": "sh", "B": "sh!"}


def test_env_interpolation_error_names_file_and_line():
    with pytest.raises(
        EnvFileError, match=r"^\.env:2: required variable X is missing a value: not set$"
    ):
        parse_env_text("A=1\nB=${X?}\n", ".env", {})
    with pytest.raises(EnvFileError, match=r"^\.env:1: invalid interpolation format in '\${A'$"):
        parse_env_text("A=${A\n", ".env", {})


def test_env_malformed_line_after_blank_lines_and_its_snippet():
    with pytest.raises(EnvFileError, match=r"^\.env:4: malformed line 'bad line here'$") as caught:
        parse_env_text("A=1\n\n\nbad line here\n", ".env", {})
    assert caught.value.hint == "expected KEY=VALUE (comments start with #)"
    with pytest.raises(EnvFileError, match=rf"malformed line 'bad {'x' * 56}'$"):
        parse_env_text("bad " + "x" * 100 + "\n", ".env", {})


def test_read_env_file_missing_and_unreadable(tmp_path):
    with pytest.raises(EnvFileError) as caught:
        read_env_file(tmp_path / "nope.env")
    assert caught.value.message == f"env file not found: {tmp_path / 'nope.env'}"
    assert caught.value.hint == "cp .env.example .env"
    with pytest.raises(EnvFileError, match=f"cannot read env file {tmp_path}: Is a directory"):
        read_env_file(tmp_path)
    (tmp_path / "ok.env").write_text("A=${B:-x}\n")
    assert read_env_file(tmp_path / "ok.env") == {"A": "x"}
    assert read_env_file(tmp_path / "ok.env", {"B": "shell"}) == {"A": "shell"}


def test_service_env_file_values_reference_variables(tmp_path):
    (tmp_path / "svc.env").write_text("GREETING=hello ${WHO}\nSELF=${GREETING}!\n")
    stack = load(
        tmp_path, "services:\n  a:\n    image: x\n    env_file: svc.env\n", env="WHO=world\n"
    )
    assert stack.effective_environment("a") == {"GREETING": "hello world", "SELF": "hello world!"}


# --- ports ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, target, published, host_ip, protocol",
    [
        ('"8080:80"', 80, 8080, None, "tcp"),
        ('"127.0.0.1:9000:90/udp"', 90, 9000, "127.0.0.1", "udp"),
        ('"[::1]:9001:91"', 91, 9001, "::1", "tcp"),
        ('"92"', 92, None, None, "tcp"),
        ("93", 93, None, None, "tcp"),
        ('":94"', 94, None, None, "tcp"),
        ('"127.0.0.1::95"', 95, None, "127.0.0.1", "tcp"),
        (
            "{target: 96, published: 9600, host_ip: 0.0.0.0, protocol: udp}",
            96,
            9600,
            "0.0.0.0",
            "udp",
        ),
        ("{target: 97}", 97, None, None, "tcp"),
    ],
)
def test_port_syntaxes(tmp_path, spec, target, published, host_ip, protocol):
    port = service(tmp_path, f"    ports:\n      - {spec}\n").ports[0]
    assert (port.target, port.published, port.host_ip, port.protocol) == (
        target,
        published,
        host_ip,
        protocol,
    )


@pytest.mark.parametrize(
    "spec", ['"80:http"', '"80/sctp"', "{published: 80}", "{target: 1, bogus: 2}"]
)
def test_bad_ports(tmp_path, spec):
    with pytest.raises(ComposeFileError, match="service 'a': .*ports"):
        service(tmp_path, f"    ports:\n      - {spec}\n")


# --- volumes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, kind, source, target, read_only",
    [
        ("data:/data", "volume", "data", "/data", False),
        ("data:/data:ro", "volume", "data", "/data", True),
        ("data:/data:rw", "volume", "data", "/data", False),
        ("./conf:/conf:z,ro", "bind", "./conf", "/conf", True),
        ("/abs:/abs", "bind", "/abs", "/abs", False),
        ("~/home:/h", "bind", "~/home", "/h", False),
        ("/anonymous", "volume", None, "/anonymous", False),
        ("{type: tmpfs, target: /t}", "tmpfs", None, "/t", False),
        ("{type: bind, source: ./s, target: /s, read_only: true}", "bind", "./s", "/s", True),
        ("{type: volume, source: data, target: /d}", "volume", "data", "/d", False),
    ],
)
def test_volume_syntaxes(tmp_path, spec, kind, source, target, read_only):
    mount = service(tmp_path, f"    volumes:\n      - {spec}\n", "volumes:\n  data:\n").volumes[0]
    assert (mount.type, mount.source, mount.target, mount.read_only) == (
        kind,
        source,
        target,
        read_only,
    )


def test_undefined_volume_and_bind_without_definition(tmp_path):
    with pytest.raises(ComposeFileError, match="service 'a' uses undefined volume 'other'"):
        service(tmp_path, "    volumes: ['other:/o']\n", "volumes:\n  data:\n")
    assert service(tmp_path, "    volumes: ['./x:/x']\n").volumes[0].type == "bind"


def test_top_level_volume_and_network_bodies(tmp_path):
    stack = load(
        tmp_path,
        "services:\n  a: {image: x, networks: [n]}\nvolumes:\n  v:\n  w: {external: true}\n"
        "networks:\n  n:\n  m: {driver: bridge, labels: [k=v]}\n",
    )
    assert stack.model.volumes["v"].external is False and stack.model.volumes["w"].external is True
    assert stack.model.networks["m"].driver == "bridge" and stack.model.networks["m"].labels == {
        "k": "v"
    }
    assert stack.model.networks["n"].driver is None


# --- restart, networks, x-* keys ---------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["no", "always", "on-failure", "on-failure:3", "unless-stopped"])
def test_restart_policies(tmp_path, policy):
    assert service(tmp_path, f"    restart: '{policy}'\n").restart == policy


@pytest.mark.parametrize("policy", ["sometimes", "on-fail:3", "ALWAYS", ":3"])
def test_bad_restart_policies(tmp_path, policy):
    with pytest.raises(
        ComposeFileError, match=rf"invalid restart policy '{policy}' \(no, always, on-failure\[:N\]"
    ):
        service(tmp_path, f"    restart: '{policy}'\n")


def test_network_mode_with_networks_is_rejected(tmp_path):
    with pytest.raises(ComposeFileError, match="`network_mode` and `networks` cannot be combined"):
        service(tmp_path, "    network_mode: host\n    networks: [n]\n", "networks:\n  n:\n")


def test_undefined_network_and_default(tmp_path):
    with pytest.raises(ComposeFileError, match="service 'a' uses undefined network 'nope'"):
        service(tmp_path, "    networks: [nope]\n")
    nets = service(
        tmp_path, "    networks:\n      default:\n      n: {aliases: [x]}\n", "networks:\n  n:\n"
    ).networks
    assert (
        set(nets) == {"default", "n"}
        and nets["n"].aliases == ["x"]
        and nets["default"].aliases == []
    )


def test_x_keys_inside_a_service_and_top_level_are_dropped(tmp_path):
    stack = load(
        tmp_path,
        "x-top: {anything: 1}\nservices:\n  a:\n    image: x\n    x-note: {whatever: [1]}\n"
        "  b:\n    image: y\n",
    )
    assert set(stack.services) == {"a", "b"}
    with pytest.raises(ComposeFileError, match="unsupported key 'y-note'"):
        load(tmp_path, "services:\n  a:\n    image: x\n    y-note: 1\n")
    with pytest.raises(ComposeFileError, match="top level: unsupported key 'y-top'"):
        load(tmp_path, "y-top: 1\nservices:\n  a: {image: x}\n")


def test_x_key_is_not_interpolated(tmp_path):
    # x-* fields are for anchors: a missing required variable there is not an error.
    assert load(
        tmp_path, "x-a: ${MISSING:?no}\nservices:\n  a:\n    image: x\n    x-b: ${MISSING:?no}\n"
    )


def test_service_that_is_not_a_mapping(tmp_path):
    with pytest.raises(ComposeFileError, match="service 'a'"):
        load(tmp_path, "services:\n  a: just-a-string\n")


# --- integer and typed values -------------------------------------------------------------------------


def test_scalars_become_strings_in_key_value_maps(tmp_path):
    svc = service(
        tmp_path,
        "    environment: {I: 1, F: 1.5, T: true, N: null, S: s}\n    labels: [a=b=c, bare]\n",
    )
    assert svc.environment == {"I": "1", "F": "1.5", "T": "true", "N": None, "S": "s"}
    assert svc.labels == {"a": "b=c", "bare": None}
    assert service(tmp_path, "    environment: {F: false}\n").environment == {"F": "false"}


def test_command_forms_and_build_string(tmp_path):
    svc = service(
        tmp_path, "    command: sh -c 'echo hi'\n    entrypoint: [a, b]\n    build: ./ctx\n"
    )
    assert (
        svc.command == ["sh", "-c", "echo hi"]
        and svc.entrypoint == ["a", "b"]
        and svc.build.context == "./ctx"
    )
    assert service(tmp_path, "").command is None


def test_env_file_and_tmpfs_single_string(tmp_path):
    (tmp_path / "one.env").write_text("A=1\n")
    svc = service(tmp_path, "    env_file: one.env\n    tmpfs: /run\n")
    assert svc.env_file == ["one.env"] and svc.tmpfs == ["/run"]
    assert service(tmp_path, "    env_file:\n").env_file == []


def test_healthcheck_string_is_cmd_shell_and_durations(tmp_path):
    check = service(
        tmp_path,
        "    healthcheck: {test: 'curl -f x', interval: 1m30s, timeout: 500ms, retries: 2}\n",
    ).healthcheck
    assert (
        check.test == ["CMD-SHELL", "curl -f x"] and check.interval == 90 and check.timeout == 0.5
    )
    assert check.retries == 2 and check.disable is False


def test_depends_on_map_with_null_body_and_required(tmp_path):
    stack = load(
        tmp_path,
        "services:\n  a:\n    image: x\n    depends_on:\n      b:\n      c: {condition: "
        "service_completed_successfully, restart: true, required: false}\n"
        "  b: {image: y}\n  c: {image: z}\n",
    )
    deps = stack.services["a"].depends_on
    assert deps["b"].condition == "service_started" and deps["b"].required is True
    assert deps["c"].condition == "service_completed_successfully" and deps["c"].restart is True
    assert deps["c"].required is False


def test_gpu_devices_empty_without_deploy(tmp_path):
    assert service(tmp_path, "").gpu_devices == []
    svc = service(
        tmp_path,
        "    deploy: {resources: {reservations: {devices: [{count: 1, device_ids: ['0']}]}}}\n",
    )
    assert svc.gpu_devices[0].count == 1 and svc.gpu_devices[0].device_ids == ["0"]


def test_version_key_is_accepted(tmp_path):
    assert load(tmp_path, "version: '3.8'\nservices:\n  a: {image: x}\n").model.version == "3.8"


# --- the loader's own rules ---------------------------------------------------------------------------


def test_env_file_is_optional_unless_required(tmp_path):
    assert load(tmp_path, "services:\n  a: {image: 'i:${T:-d}'}\n").services["a"].image == "i:d"
    with pytest.raises(EnvFileError, match="env file not found"):
        load(tmp_path, "services:\n  a: {image: x}\n", require_env_file=True)


def test_env_file_values_interpolate_compose_and_shell_wins(tmp_path):
    stack = load(
        tmp_path,
        "services:\n  a: {image: 'i:${T}-${U}'}\n",
        env="T=file\nU=${T}u\n",
        environ={"T": "sh"},
    )
    # Compose sees the shell's T; inside the .env, its own earlier line T=file is what ${T} means.
    assert stack.services["a"].image == "i:sh-fileu"


def test_interpolation_error_names_file_and_key(tmp_path):
    with pytest.raises(ComposeFileError) as caught:
        load(tmp_path, "services:\n  a: {image: '${NOPE:?set NOPE}'}\n")
    assert caught.value.message == (
        f"{tmp_path / 'compose.yml'}: services.a.image: "
        "required variable NOPE is missing a value: set NOPE"
    )


def test_paths_resolve_against_the_compose_directory(tmp_path):
    stack = load(tmp_path, "services:\n  a: {image: x}\n")
    assert stack.project_dir == tmp_path
    assert stack.resolve_path("sub/../f") == tmp_path / "f"
    assert stack.resolve_path("/abs") == Path("/abs")
    assert stack.resolve_path("") == tmp_path


def test_unknown_service_lists_known(tmp_path):
    stack = load(tmp_path, "services:\n  a: {image: x}\n  b: {image: y}\n")
    with pytest.raises(ComposeFileError) as caught:
        stack.service("c")
    assert caught.value.message == f"no service 'c' in {tmp_path / 'compose.yml'}"
    assert caught.value.hint == "services: a, b"


def test_effective_environment_is_a_copy_and_bare_key_without_value_is_skipped(tmp_path):
    stack = load(
        tmp_path,
        "services:\n  a:\n    image: x\n    environment: [A, B, C=3]\n",
        environ={"A": "1"},
    )
    env = stack.effective_environment("a")
    assert env == {"A": "1", "C": "3"}
    env["C"] = "changed"
    assert stack.effective_environment("a")["C"] == "3"


def test_config_hash_depends_on_service_and_is_stable(tmp_path):
    one = load(tmp_path, "services:\n  a: {image: x}\n").config_hash("a")
    assert one == load(tmp_path, "services:\n  a: {image: x}\n").config_hash("a")
    assert one != load(tmp_path, "services:\n  a: {image: y}\n").config_hash("a")


def test_validation_messages(tmp_path):
    path = tmp_path / "compose.yml"
    cases = {
        "services:\n  a: {image: x, ports: [{target: nope}]}\n": f"{path}: service 'a': ports.0.target: Input should be a valid integer, unable to parse string as an integer",
        "services:\n  a: {image: x}\nvolumes: {v: {external: maybe}}\n": f"{path}: top level: volumes.v.external: Input should be a valid boolean, unable to interpret input",
        "services: {}\nname: [1]\n": f"{path}: top level: name: Input should be a valid string",
        "services:\n  a: {image: x, restart: bad}\n": f"{path}: service 'a': restart: invalid restart policy 'bad' (no, always, on-failure[:N], unless-stopped)",
        "services:\n  a: {command: x}\n": f"{path}: service 'a': needs `image` or `build`",
    }
    for text, message in cases.items():
        with pytest.raises(ComposeFileError) as caught:
            load(tmp_path, text)
        assert caught.value.message == message


def test_empty_and_scalar_documents(tmp_path):
    for text in ("", "just text\n", "42\n"):
        with pytest.raises(ComposeFileError, match="expected a mapping with a `services:` key"):
            load(tmp_path, text)


def test_unreadable_compose_file(tmp_path):
    (tmp_path / "compose.yml").mkdir()
    with pytest.raises(
        ComposeFileError,
        match=f"cannot read compose file {tmp_path / 'compose.yml'}: Is a directory",
    ):
        load_stack(tmp_path / "compose.yml", tmp_path / ".env", {})


def test_invalid_yaml_names_the_line(tmp_path):
    with pytest.raises(ComposeFileError) as caught:
        load(tmp_path, "services:\n  a:\n    image: [unclosed\n")
    assert caught.value.message.startswith(f"{tmp_path / 'compose.yml'}:4: invalid YAML: ")


# --- survivors of the first mutation run ------------------------------------------------------------


def test_plus_operator_nests_with_the_same_environment_and_depth_limit():
    from audiovoice_ops.core.limits import MAX_INTERPOLATION_DEPTH as depth

    assert interpolate_string("${SET:+<${N}>}", ENV) == "<7>"
    assert interpolate_string("${SET:+" * depth + "x" + "}" * depth, ENV) == "x"
    with pytest.raises(InterpolationError, match="nested deeper than"):
        interpolate_string("${SET:+" * (depth + 1) + "x" + "}" * (depth + 1), ENV)
    assert interpolate_string("${UNSET:-" * depth + "x" + "}" * depth, ENV) == "x"
    with pytest.raises(InterpolationError, match="nested deeper than"):
        interpolate_string("${UNSET:-" * (depth + 1) + "x" + "}" * (depth + 1), ENV)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("A='$B=c'\n", {"A": "$B=c"}),  # single-quoted: literal, even with "=" inside
        ("A= '$B'\n", {"A": "$B"}),  # space after "=" before the quote
        ('A="$B=c"\n', {"A": "=c"}),
    ],
)
def test_quoted_values_with_equals_signs(text, expected):
    assert parse_env_text(text, ".env", {}) == expected


def test_env_file_errors_name_the_file_and_hint(tmp_path):
    path = tmp_path / "bad.env"
    path.write_bytes(b"A=\xff\n")
    with pytest.raises(EnvFileError) as caught:
        read_env_file(path)
    assert caught.value.hint == "save the env file as UTF-8"
    path.write_text("A=${X?}\n")
    with pytest.raises(EnvFileError) as caught:
        read_env_file(path)
    assert caught.value.message == f"{path}:1: required variable X is missing a value: not set"


def test_top_level_volumes_must_be_a_mapping(tmp_path):
    with pytest.raises(
        ComposeFileError, match="top level: volumes: Input should be a valid dictionary"
    ):
        load(tmp_path, "services:\n  a: {image: x}\nvolumes: [a]\n")


def test_dotenv_references_to_the_shell_feed_compose(tmp_path):
    stack = load(
        tmp_path,
        "services:\n  a: {image: 'i:${TAG}'}\n",
        env="TAG=${FROM_SHELL}-x\n",
        environ={"FROM_SHELL": "sh"},
    )
    assert stack.services["a"].image == "i:sh-x"
    assert stack.env_file == tmp_path / ".env" and stack.compose_file == tmp_path / "compose.yml"


def test_config_hash_is_stable_across_versions(tmp_path):
    """Containers carry this hash as a label: a changed formula would recreate every container."""
    stack = load(tmp_path, "services:\n  a:\n    image: x\n    environment: {B: '2', A: '1'}\n")
    assert stack.config_hash("a") == GOLDEN_HASH


GOLDEN_HASH = "51fdf5f24111ad67951721878e13c8121649c2515ec5e8199f1bfcdc2bd6cb83"  # avops 0.1.0


@pytest.mark.parametrize(
    "given, declared, directory, project",
    [
        (None, None, "__x.Y-1", "xy-1"),
        (None, None, "x-_", "x-_"),
        (None, None, "a b", "ab"),
        ("opt", "file", "dir", "opt"),
        (None, "file", "dir", "file"),
    ],
)
def test_project_name_sources_and_normalisation(given, declared, directory, project):
    from audiovoice_ops.core.stack.loader import project_name_for

    assert project_name_for(given, declared, directory) == project


def test_project_name_errors_say_where_the_name_came_from():
    from audiovoice_ops.core.errors import ConfigError
    from audiovoice_ops.core.stack.loader import (
        PROJECT_NAME_RULE,
        check_project_name,
        project_name_for,
    )

    with pytest.raises(ConfigError) as caught:
        project_name_for("Bad!", None, "dir")
    assert caught.value.message == f"invalid project name 'Bad!': {PROJECT_NAME_RULE}"
    with pytest.raises(ConfigError) as caught:
        project_name_for(None, "Bad!", "dir")
    assert caught.value.message == f"invalid compose file's name: 'Bad!': {PROJECT_NAME_RULE}"
    with pytest.raises(ConfigError) as caught:
        check_project_name("x y")
    assert caught.value.message == f"invalid project name 'x y': {PROJECT_NAME_RULE}"
    with pytest.raises(ConfigError) as caught:
        project_name_for(None, None, "_-.!")
    assert caught.value.message == "cannot derive a project name from the directory name '_-.!'"
    assert caught.value.hint == f"pass -p NAME; a project name {PROJECT_NAME_RULE}"


def test_union_type_tags_are_left_out_of_the_key_path(tmp_path):
    with pytest.raises(ComposeFileError) as caught:
        service(tmp_path, "    deploy: {resources: {reservations: {devices: [{count: some}]}}}\n")
    message = caught.value.message
    assert message.startswith(
        f"{tmp_path / 'compose.yml'}: service 'a': deploy.resources.reservations.devices.0.count: "
    )
    assert "int" not in message.split(": ")[2] and "literal" not in message.split(": ")[2]
