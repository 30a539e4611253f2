"""Security of the API on real processes (uvicorn + redis-server): keys, rate limit, hostile input.

401 (missing/wrong key) and 403 (client key on /admin), /health open with details for admin
keys only, 429 with Retry-After from the Redis token bucket, oversize uploads cut off while
streaming, non-audio uploads, traversal attempts in ids, unknown fields, body caps, and the
API's refusal to start without keys.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.service.helpers import clone, wav_bytes
from tests.service.procs import REPO_ROOT, free_port, stop_pid, wait_for

ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def stack(make_stack, tmp_path_factory):
    # The admin key is given to the API as its sha256: digest, as .env may hold it.
    s = make_stack(
        start_worker=False,
        MAX_UPLOAD_MB="0.1",
        MAX_JSON_BODY_KB="8",
        MAX_REFERENCE_SECONDS="3",
        RATE_LIMIT_PER_MINUTE="6000",
        RATE_LIMIT_BURST="1000",
    )
    with s.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
    return s


@pytest.fixture(scope="module")
def admin(stack):
    with stack.client("admin") as c:
        yield c


@pytest.fixture(scope="module")
def client(stack):
    with stack.client("client") as c:
        yield c


@pytest.fixture(scope="module")
def anon(stack):
    with stack.client(None) as c:
        yield c


PROTECTED = [
    ("get", "/voices"),
    ("get", f"/voices/{ZERO}"),
    ("delete", f"/voices/{ZERO}"),
    ("post", "/jobs"),
    ("get", f"/jobs/{ZERO}"),
    ("get", f"/jobs/{ZERO}/audio"),
    ("get", "/admin/vram"),
    ("post", "/voices/clone"),
]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_missing_key_is_401_with_challenge(anon, method, path):
    r = anon.request(method.upper(), path)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert "missing API key" in r.json()["detail"]


@pytest.mark.parametrize(
    "header", ["Bearer wrong-key-wrong-key-wrong", "Basic dXNlcjpwYXNz", "Bearer", "bearer x"]
)
def test_wrong_key_is_401(stack, header):
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": header}) as c:
        for method, path in (("GET", "/voices"), ("GET", "/admin/vram")):
            r = c.request(method, path)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert r.json()["detail"] in (
                "invalid API key",
                "missing API key: send `Authorization: Bearer <key>`",
            )


def test_client_key_on_admin_route_is_403(client, admin):
    r = client.get("/admin/vram")
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    assert client.get("/voices").status_code == 200
    assert admin.get("/admin/vram").status_code == 200
    assert admin.get("/voices").status_code == 200  # an admin key is a client key too


def test_other_headers_are_not_keys(stack):
    with httpx.Client(base_url=stack.base_url, headers={"X-API-Key": stack.admin_key}) as c:
        assert c.get("/voices").status_code == 401


def test_health_open_details_for_admin_only(anon, client, admin):
    r = anon.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "degraded"}
    assert client.get("/health").json() == {"status": "degraded"}
    body = admin.get("/health").json()
    assert body["status"] == "degraded" and set(body["checks"]) == {
        "redis",
        "worker",
        "storage",
        "queue",
    }
    # the container healthcheck (no key) still passes
    out = subprocess.run(
        [sys.executable, "-m", "service.healthcheck", "api", "--url", f"{anon.base_url}/health"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_docs_and_schema_are_open_and_declare_bearer(anon):
    spec = anon.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "http", "scheme": "bearer"}
    post_jobs = spec["paths"]["/jobs"]["post"]
    assert {"401", "429"} <= set(post_jobs["responses"]) and post_jobs["security"]


def read_to_close(sock: socket.socket) -> str:
    """The whole response of a server that answers and closes (``connection: close``): headers
    and body may arrive in separate packets, so one ``recv`` is not enough."""
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_unauthenticated_upload_is_refused_before_the_body_is_read(stack):
    """The guard answers 401 from the headers: a huge body is never read."""
    with socket.create_connection(("127.0.0.1", stack.api_port), timeout=10) as sock:
        sock.sendall(
            b"POST /voices/clone HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 10000000000\r\n\r\n"
        )
        response = read_to_close(sock)
    assert response.startswith("HTTP/1.1 401"), response


# --------------------------------------------------------------------------- uploads
def test_oversize_upload_declared_is_413_unread(stack):
    with socket.create_connection(("127.0.0.1", stack.api_port), timeout=10) as sock:
        sock.sendall(
            b"POST /voices/clone HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {stack.api_key}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 10000000000\r\n\r\n"
        )
        response = read_to_close(sock)
    assert response.startswith("HTTP/1.1 413"), response
    assert "MAX_UPLOAD_MB" in response


def test_oversize_chunked_upload_is_cut_off_while_streaming(client, stack):
    """No Content-Length: the guard counts bytes and answers 413 once the cap (0.1 MB) passes;
    the client is stopped long before its 50 MB are sent."""
    sent = 0

    def body():
        nonlocal sent
        yield (
            b'--b\r\nContent-Disposition: form-data; name="language"\r\n\r\npt\r\n'
            b'--b\r\nContent-Disposition: form-data; name="voice_name"\r\n\r\nx\r\n'
            b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n"
        )
        for _ in range(800):
            sent += 65536
            yield b"\0" * 65536
        yield b"\r\n--b--\r\n"

    try:
        r = client.post(
            "/voices/clone",
            content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert r.status_code == 413, r.text
        assert "MAX_UPLOAD_MB" in r.json()["detail"]
        print(f"413 after {sent} bytes sent")
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered 413 and closed while we were still sending: also a cut-off
    assert sent < 40 * 2**20, sent
    assert not list((stack.data_dir / "voices" / ".incoming").glob("*.part"))


def test_non_audio_upload_is_415_and_nothing_stored(client, stack):
    before = set((stack.data_dir / "voices").glob("*"))
    for data in (
        b"#!/bin/sh\nrm -rf /\n" * 50,
        b"<?php system($_GET['c']); ?>" * 20,
        b"\x89PNG\r\n\x1a\n" + b"\0" * 512,
    ):
        r = client.post(
            "/voices/clone",
            data={"language": "pt", "voice_name": "x"},
            files={"audio": ("voice.wav", data, "audio/wav")},
        )
        assert r.status_code == 415 and "not a decodable audio" in r.json()["detail"]
    after = set((stack.data_dir / "voices").glob("*"))
    assert {p.name for p in after - before} <= {".incoming"}
    assert not list((stack.data_dir / "voices" / ".incoming").glob("*"))


def test_client_filename_never_becomes_a_path(client, stack):
    r = client.post(
        "/voices/clone",
        data={"language": "pt", "voice_name": "../../x"},
        files={"audio": ("../../../../tmp/evil.sh", wav_bytes(2.0, 8000), "audio/wav")},
    )
    assert r.status_code == 202, r.text
    voice_id = r.json()["voice_id"]
    files = sorted(p.name for p in (stack.data_dir / "voices" / voice_id).iterdir())
    assert files == ["upload.wav", "voice.json"]
    assert not (stack.data_dir.parent / "tmp" / "evil.sh").exists()


def test_unknown_form_field_is_422(client):
    r = client.post(
        "/voices/clone",
        data={"language": "pt", "voice_name": "x", "path": "/etc"},
        files={"audio": ("a.wav", wav_bytes(2.0, 8000), "audio/wav")},
    )
    assert r.status_code == 422 and "path: unknown field" in r.json()["detail"]


# --------------------------------------------------------------------------- ids and bodies
TRAVERSALS = [
    "..",
    "%2e%2e",
    "..%2F..%2Fetc%2Fpasswd",
    "..%5C..%5Cwindows",
    ".incoming",
    "%00",
    ZERO.upper(),
    ZERO + "%00",
    "x" * 300,
]


@pytest.mark.parametrize("ident", TRAVERSALS)
def test_traversal_ids_are_404(client, stack, ident):
    sentinel = stack.data_dir / "voices" / "sentinel.txt"
    sentinel.parent.mkdir(parents=True, exist_ok=True)
    sentinel.write_text("keep")
    for method, path in (
        ("GET", f"/voices/{ident}"),
        ("DELETE", f"/voices/{ident}"),
        ("GET", f"/jobs/{ident}"),
        ("GET", f"/jobs/{ident}/audio"),
    ):
        r = client.request(method, path)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    assert sentinel.read_text() == "keep" and (stack.data_dir / "voices").is_dir()


def test_unknown_json_field_is_422(client):
    r = client.post(
        "/jobs",
        json={"text": "ola", "language": "pt", "voice_id": ZERO, "output_path": "/etc/passwd"},
    )
    assert r.status_code == 422 and "output_path" in r.json()["detail"]
    assert r.json()["errors"][0]["type"] == "extra_forbidden"


def test_json_body_cap(client):
    r = client.post("/jobs", json={"text": "a" * 9000, "language": "pt", "voice_id": ZERO})
    assert r.status_code == 413 and "MAX_JSON_BODY_KB" in r.json()["detail"]


def test_field_length_caps(client):
    r = client.post("/jobs", json={"text": "ola", "language": "p" * 100, "voice_id": ZERO})
    assert r.status_code == 422 and "language" in r.json()["detail"]


# --------------------------------------------------------------------------- rate limit
def test_rate_limit_429_with_retry_after(make_stack):
    s = make_stack(start_worker=False, RATE_LIMIT_PER_MINUTE="6", RATE_LIMIT_BURST="3")
    with s.client("client") as c, s.client("admin") as other:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
        voice = clone(c, data=wav_bytes(2.0, 8000))
        assert voice.status_code == 202, voice.text  # the first token of the burst of 3
        job = {"text": "ola", "language": "pt", "voice_id": voice.json()["voice_id"]}
        codes = [c.post("/jobs", json=job).status_code for _ in range(2)]
        assert codes == [202, 202]  # only accepted work costs a token (tests/service/test_input.py)
        r = c.post("/jobs", json=job)
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["retry-after"]) <= 10  # 6/min: a token every 10 s
        assert "rate limit" in r.json()["detail"]
        r = clone(c, data=wav_bytes(2.0, 8000))
        assert r.status_code == 429  # clone shares the key's bucket
        # the bucket is per key: another key is not limited; reads are not limited
        assert other.post("/jobs", json=job).status_code == 202
        assert c.get("/voices").status_code == 200


def test_token_bucket_refills():
    """The Lua script itself: burst, refill at the rate, atomic under concurrent callers."""
    from concurrent.futures import ThreadPoolExecutor

    import redis as redis_lib

    from service.ratelimit import RateLimiter

    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port := free_port()),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        r = redis_lib.Redis(port=port, decode_responses=True)
        wait_for(r.ping, 15, "redis")
        limiter = RateLimiter(r, per_minute=600, burst=20)  # 10 tokens/s
        with ThreadPoolExecutor(8) as pool:
            allowed = sum(d.allowed for d in pool.map(lambda _: limiter.hit("k"), range(40)))
        assert allowed == 20  # exactly the burst, however the 40 calls interleave
        denied = limiter.hit("k")
        assert not denied.allowed and 0 < denied.retry_after_s <= 0.1 + 1e-6
        time.sleep(0.35)
        assert sum(limiter.hit("k").allowed for _ in range(10)) in (3, 4)
        assert limiter.hit("other").allowed
        # a refund gives back a taken token, never more than the burst
        assert limiter.refund("other").remaining == 20
        assert limiter.refund("fresh").remaining == 20
        assert sum(limiter.hit("fresh").allowed for _ in range(25)) == 20
        limiter.refund("fresh")
        assert limiter.hit("fresh").allowed and not limiter.hit("fresh").allowed
    finally:
        stop_pid(server)


# --------------------------------------------------------------------------- startup
def _run_api(tmp_path, **env) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "DATA_DIR": str(tmp_path),
            "REDIS_URL": "redis://127.0.0.1:9/0",
            "API_KEYS": "",
            "ADMIN_API_KEYS": "",
            **env,
        },
    )


def test_refuses_to_start_without_keys(tmp_path):
    out = _run_api(tmp_path)
    assert out.returncode != 0
    assert "refusing to start: no API key configured" in out.stdout + out.stderr


def test_refuses_short_keys_without_echoing_them(tmp_path):
    out = _run_api(tmp_path, API_KEYS="tooshort-secret")
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "API_KEYS" in text and "shorter than 16" in text and "tooshort-secret" not in text


def test_allow_unauthenticated_starts_open_with_a_loud_warning(tmp_path):
    import os

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "DATA_DIR": str(tmp_path),
            "REDIS_URL": "redis://127.0.0.1:9/0",
            "API_KEYS": "",
            "ADMIN_API_KEYS": "",
            "ALLOW_UNAUTHENTICATED": "true",
        },
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            wait_for(lambda: c.get("/health").status_code in (200, 503), 60, "the open API")
            assert c.get(f"/voices/{ZERO}").status_code == 404  # open: no 401
    finally:
        stop_pid(proc)
    assert "the API is OPEN" in proc.stdout.read()


def test_digest_entries_are_accepted(tmp_path):
    """ADMIN_API_KEYS may hold sha256:<hex> of the key instead of the key."""
    import os

    key = "digest-only-key-0123456789"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            "DATA_DIR": str(tmp_path),
            "REDIS_URL": "redis://127.0.0.1:9/0",
            "API_KEYS": "",
            "ADMIN_API_KEYS": "sha256:" + hashlib.sha256(key.encode()).hexdigest(),
        },
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            wait_for(lambda: c.get("/health").status_code in (200, 503), 60, "the API")
            assert (
                c.get(f"/voices/{ZERO}", headers={"Authorization": f"Bearer {key}"}).status_code
                == 404
            )
            assert (
                c.get(
                    f"/voices/{ZERO}",
                    headers={
                        "Authorization": "Bearer sha256:" + hashlib.sha256(key.encode()).hexdigest()
                    },
                ).status_code
                == 401
            )  # the digest itself is not a key
    finally:
        stop_pid(proc)


def test_the_open_api_banner_is_printed_once_by_the_images_command(tmp_path):
    """`python -m service.serve` (the image's CMD) checks the keys before uvicorn starts and the
    lifespan announces: the banner appears once, not once per check."""
    import os

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.serve"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "DATA_DIR": str(tmp_path),
            "REDIS_URL": "redis://127.0.0.1:9/0",
            "API_HOST": "127.0.0.1",
            "API_PORT": str(port),
            "API_KEYS": "",
            "ADMIN_API_KEYS": "",
            "ALLOW_UNAUTHENTICATED": "true",
        },
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            wait_for(lambda: c.get("/health").status_code in (200, 503), 60, "the open API")
    finally:
        stop_pid(proc)
    out = proc.stdout.read()
    assert out.count("WARNING: ALLOW_UNAUTHENTICATED=true and no API key configured") == 1, out
