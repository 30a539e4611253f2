"""Security checks: the API refuses anonymous calls, .env is private, no public bind, no root."""

from __future__ import annotations

from audiovoice_ops.core.doctor.report import FAIL, PASS, SKIPPED, WARN, Check
from audiovoice_ops.core.doctor.sources import (
    KEY_VARIABLES,
    UNAUTH_PROBE,
    Sources,
    api_reason,
)
from audiovoice_ops.core.errors import AvopsError


def check_api_auth(src: Sources) -> Check:
    title = "API refuses requests without a key"
    probe = src.unauthenticated
    if not src.api_expected or probe is None:
        return Check("security.auth", "security", title, SKIPPED, api_reason(src))
    if probe.status is None:
        return Check("security.auth", "security", title, SKIPPED, f"API unavailable: {probe.error}")
    if probe.status in (401, 403):
        return Check(
            "security.auth",
            "security",
            title,
            PASS,
            f"GET {UNAUTH_PROBE} without a key: HTTP {probe.status}",
        )
    if probe.status < 400:
        return Check(
            "security.auth",
            "security",
            title,
            FAIL,
            f"GET {probe.url} answered HTTP {probe.status} without a key: anyone who reaches "
            "the API can clone voices and use the GPU",
            "set API_KEYS and ADMIN_API_KEYS in .env (ALLOW_UNAUTHENTICATED=false), then "
            f"avops restart {src.api_or()}",
        )
    return Check(
        "security.auth",
        "security",
        title,
        WARN,
        f"GET {UNAUTH_PROBE} without a key: unexpected HTTP {probe.status} (expected 401)",
        f"update the API service (avops rebuild --service {src.api_or()})",
    )


def _secret_values(env: dict[str, str]) -> list[str]:
    from audiovoice_ops.core.drift import is_secret

    return sorted(k for k, v in env.items() if v.strip() and (k in KEY_VARIABLES or is_secret(k)))


def check_env_file_mode(src: Sources) -> Check:
    from audiovoice_ops.core.envfile import read_env_file

    title = ".env is private (not world-readable) when it holds keys"
    path = src.stack.env_file
    try:
        mode = path.stat().st_mode
        env = read_env_file(path)
    except (OSError, AvopsError) as exc:
        return Check(
            "security.env_file",
            "security",
            title,
            SKIPPED,
            f"cannot read {path}: {getattr(exc, 'message', None) or exc}",
        )
    secrets = _secret_values(env)
    if not secrets:
        return Check(
            "security.env_file", "security", title, PASS, f"{path.name} holds no keys or secrets"
        )
    if mode & 0o004:
        return Check(
            "security.env_file",
            "security",
            title,
            WARN,
            f"{path} (mode {mode & 0o777:o}) is world-readable and holds {', '.join(secrets)}",
            f"chmod 600 {path}",
        )
    return Check(
        "security.env_file",
        "security",
        title,
        PASS,
        f"mode {mode & 0o777:o}; holds {', '.join(secrets)}",
    )


def _is_loopback(host_ip: str | None) -> bool:
    import ipaddress

    if not host_ip:
        return False  # no address: Docker publishes on every interface
    if host_ip.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_ip).is_loopback
    except ValueError:
        return False


def check_public_bind(src: Sources) -> Check:
    title = "API published on loopback only"
    published = [
        (name, port)
        for name, svc in src.stack.services.items()
        for port in svc.ports
        if port.published is not None or port.host_ip
    ]
    if not published:
        return Check(
            "security.bind", "security", title, PASS, "no service publishes a port on the host"
        )
    public = [
        f"{name} {port.host_ip or '0.0.0.0'}:{port.published or port.target}"
        for name, port in published
        if not _is_loopback(port.host_ip)
    ]
    if public:
        return Check(
            "security.bind",
            "security",
            title,
            WARN,
            f"published on a public interface: {', '.join(public)}",
            "API_BIND_ADDRESS=127.0.0.1 in .env (a TLS reverse proxy for remote clients), "
            f"then avops restart {src.api_or()}",
        )
    where = ", ".join(
        f"{name} {port.host_ip}:{port.published or port.target}" for name, port in published
    )
    return Check("security.bind", "security", title, PASS, where)


def _is_root(user: str) -> bool:
    name = user.split(":", 1)[0].strip()
    return name in ("", "0", "root")


def check_root_containers(src: Sources) -> Check:
    title = "containers run as a non-root user"
    if src.inventory is None:
        return Check(
            "security.root",
            "security",
            title,
            SKIPPED,
            f"Docker Engine unreachable: {src.docker_error}",
        )
    views = [v for group in src.inventory.services.values() for v in group]
    if not views:
        return Check("security.root", "security", title, SKIPPED, "no containers")
    root = [f"{v.name} (user {v.user or 'unset: root'})" for v in views if _is_root(v.user)]
    if root:
        return Check(
            "security.root",
            "security",
            title,
            WARN,
            f"running as root: {', '.join(root)}",
            "set user: in the compose file (or USER in the Dockerfile), then avops rebuild",
        )
    return Check(
        "security.root", "security", title, PASS, ", ".join(f"{v.name} as {v.user}" for v in views)
    )
