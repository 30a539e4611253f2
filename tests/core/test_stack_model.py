"""Loading compose files into the stack model."""

from pathlib import Path

import pytest

from audiovoice_ops.core.errors import ComposeFileError
from audiovoice_ops.core.stack import load_stack
from audiovoice_ops.core.stack.dependencies import dependents_closure


def load(tmp_path: Path, text: str, env: str | None = None, environ=None, **kw):
    compose = tmp_path / "compose.yml"
    compose.write_text(text)
    env_file = tmp_path / ".env"
    if env is not None:
        env_file.write_text(env)
    return load_stack(compose, env_file, environ or {}, **kw)


FULL = """
name: my_stack
x-common: &common
  restart: unless-stopped
services:
  api:
    <<: *common
    build:
      context: ..
      dockerfile: docker/Dockerfile
      args: [A=1]
      target: runtime
    image: audio-voice:latest
    container_name: audio-voice-api
    command: uvicorn service.api:app --port 8005
    environment:
      LOW_VRAM: ${LOW_VRAM}
      PORT: 8005
      DEBUG: false
    env_file: [../.env]
    ports: ["127.0.0.1:8005:8005"]
    volumes: [data:/data, ./conf:/conf:ro]
    depends_on:
      redis: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8005/health"]
      interval: 30s
      timeout: 10s
      retries: 5
      start_period: 1m
    labels: {tier: api}
    networks: [backend]
    stop_grace_period: 1m30s
  celery:
    image: audio-voice:latest
    entrypoint: ["celery"]
    depends_on: [api]
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: all
              capabilities: [gpu]
  redis:
    image: redis:7
    network_mode: host
volumes:
  data:
networks:
  backend:
"""


def test_full_file(tmp_path):
    stack = load(tmp_path, FULL, env="LOW_VRAM=yes\n")
    assert stack.project == "my_stack"
    api = stack.services["api"]
    assert api.build.dockerfile == "docker/Dockerfile" and api.build.args == {"A": "1"}
    assert api.command == ["uvicorn", "service.api:app", "--port", "8005"]
    assert api.environment == {"LOW_VRAM": "yes", "PORT": "8005", "DEBUG": "false"}
    assert api.ports[0].host_ip == "127.0.0.1" and api.ports[0].published == 8005
    assert api.volumes[1].type == "bind" and api.volumes[1].read_only
    assert api.depends_on["redis"].condition == "service_healthy"
    assert api.healthcheck.start_period == 60 and api.stop_grace_period == 90
    assert api.restart == "unless-stopped"
    celery = stack.services["celery"]
    assert celery.depends_on["api"].condition == "service_started"
    assert celery.gpu_devices[0].count == "all" and celery.gpu_devices[0].capabilities == ["gpu"]
    assert stack.startup_order == ["redis", "api", "celery"]
    assert dependents_closure(stack.model, ["redis"]) == {"redis", "api", "celery"}
    assert dependents_closure(stack.model, ["celery"]) == {"celery"}


def test_project_name_sources(tmp_path):
    assert load(tmp_path, "services: {a: {image: x}}").project == tmp_path.name.lower()
    assert load(tmp_path, "name: fromfile\nservices: {a: {image: x}}").project == "fromfile"
    assert (
        load(tmp_path, "name: fromfile\nservices: {a: {image: x}}", project_name="opt").project
        == "opt"
    )


def test_shell_overrides_env_file(tmp_path):
    stack = load(
        tmp_path, "services: {a: {image: 'img:${TAG}'}}", env="TAG=file\n", environ={"TAG": "shell"}
    )
    assert stack.services["a"].image == "img:shell"


def test_environment_list_and_env_file_precedence(tmp_path):
    (tmp_path / "svc.env").write_text("A=from-file\nB=from-file\n")
    stack = load(
        tmp_path,
        "services: {a: {image: x, env_file: svc.env, environment: [B=inline, C]}}",
        environ={"C": "shell"},
    )
    assert stack.effective_environment("a") == {"A": "from-file", "B": "inline", "C": "shell"}


@pytest.mark.parametrize(
    "text, needle",
    [
        (
            "services: {a: {image: x, privileged: true}}",
            "service 'a': unsupported key 'privileged'",
        ),
        (
            "services: {a: {image: x, healthcheck: {test: x, bogus: 1}}}",
            "service 'a': unsupported key 'healthcheck.bogus'",
        ),
        ("services: {a: {image: x}}\nconfigs: {}", "top level: unsupported key 'configs'"),
        ("services: {a: {command: x}}", "service 'a': needs `image` or `build`"),
        ("services: {a: {image: x, depends_on: [b]}}", "depends on undefined service 'b'"),
        ("services: {a: {image: x, volumes: ['v:/d']}}", "undefined volume 'v'"),
        ("services: {a: {image: x, restart: sometimes}}", "invalid restart policy"),
        ("services: {a: {image: x, stop_grace_period: soon}}", "invalid duration"),
        (
            "services: {a: {image: x, depends_on: {b: {condition: service_ok}}}, b: {image: y}}",
            "depends_on.b.condition",
        ),
        ("volumes: {}", "missing required key 'services'"),
        ("- just\n- a list", "expected a mapping"),
    ],
)
def test_errors_name_file_service_and_key(tmp_path, text, needle):
    with pytest.raises(ComposeFileError) as info:
        load(tmp_path, text)
    assert needle in str(info.value)
    assert str(tmp_path / "compose.yml") in str(info.value)


def test_dependency_cycle(tmp_path):
    with pytest.raises(ComposeFileError, match="dependency cycle"):
        _ = load(
            tmp_path, "services: {a: {image: x, depends_on: [b]}, b: {image: y, depends_on: [a]}}"
        ).startup_order


def test_config_hash_follows_env(tmp_path):
    first = load(
        tmp_path, "services: {a: {image: x, env_file: .env}}", env="LOW_VRAM=true\n"
    ).config_hash("a")
    second = load(
        tmp_path, "services: {a: {image: x, env_file: .env}}", env="LOW_VRAM=false\n"
    ).config_hash("a")
    assert first != second and len(first) == 64
