"""schemathesis fuzzing of the API against its own OpenAPI schema (loopback, bounded).

A real uvicorn API, Celery worker and redis-server on 127.0.0.1. Every operation of
/openapi.json gets MAX_EXAMPLES positive and MAX_EXAMPLES negative cases (schema-violating
input), sent with a valid admin key. Checks: no 5xx (``not_a_server_error``) and every
answer matches its documented schema (``response_schema_conformance``); afterwards the
worker is still alive and still completes a job. The number of cases tried is printed (and
recorded in bench/RESULTS.md, "## security"). Deterministic (``derandomize``), no shrinking:
about 30 s.
"""

from __future__ import annotations

import pytest

from tests.service.helpers import ready_voice, wait_job, wav_bytes
from tests.service.procs import wait_for

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 40


def test_schemathesis_fuzz_no_server_errors(make_stack, capsys):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    from hypothesis import strategies as st

    stack = make_stack(LOW_VRAM="true", MAX_UPLOAD_MB="1", MAX_TEXT_CHARS="80")
    assert stack.base_url.startswith("http://127.0.0.1:")  # loopback only
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    with stack.client() as c:  # a real voice, so some fuzzed jobs reach the worker
        voice_id = ready_voice(c)

    def deepen(args):
        """Positive cases mostly fail on semantics the schema cannot say (a supported language,
        an existing voice); fix those in a share of them so the fuzzing reaches the upload
        sniffing, the job store and the worker."""
        case, (use_language, use_voice) = args
        if isinstance(case.body, dict):
            if use_language and "language" in case.body:
                case.body["language"] = "pt-BR"
            if use_voice and case.operation.label == "POST /jobs":
                case.body["voice_id"] = voice_id
                case.body.pop("quality_profile", None)
                case.body.pop("engine", None)
        return case

    def strategy(operation, mode):
        base = operation.as_strategy(generation_mode=mode)
        if mode != GenerationMode.POSITIVE:
            return base
        return st.tuples(base, st.tuples(st.booleans(), st.integers(0, 3).map(lambda n: n == 0))
                         ).map(deepen)
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9, [op.label for op in operations]

    tried: dict[str, int] = {}
    statuses: dict[int, int] = {}
    failures: list[str] = []
    accepted: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} [{mode.value}]"

            @given(case=strategy(operation, mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            def run(case):
                tried[label] = tried.get(label, 0) + 1
                response = case.call_and_validate(
                    base_url=stack.base_url, headers=auth, timeout=30,
                    checks=[not_a_server_error, response_schema_conformance])
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 202 and operation.label == "POST /jobs":
                    accepted.append(response.json()["job_id"])

            try:
                run()
            except Exception as exc:  # noqa: BLE001  (collect all, report together)
                failures.append(f"{label}: {str(exc)[:1500]}")

    total = sum(tried.values())
    with capsys.disabled():
        print(f"\nschemathesis: {total} cases over {len(operations)} operations "
              f"(positive + negative, {MAX_EXAMPLES} max each); statuses {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(failures)
    assert not any(code >= 500 for code in statuses), statuses
    assert total >= 200, tried

    # No worker crash: every fuzzed job ends (completed or failed, none stuck), the same worker
    # process is alive, heartbeating, and completes a clone afterwards.
    with stack.client() as c:
        ends = [wait_job(c, job_id, timeout=120)["status"] for job_id in accepted]
    with capsys.disabled():
        print(f"schemathesis: {len(accepted)} fuzzed jobs reached the worker: "
              f"{ends.count('completed')} completed, {ends.count('failed')} failed")
    assert stack.worker.poll() is None, "the Celery worker died during the fuzzing"
    with stack.client() as c:
        wait_for(lambda: c.get("/health").json()["checks"]["worker"]["ok"], 30, "worker heartbeat")
        r = c.post("/voices/clone", data={"language": "pt", "voice_name": "after-fuzz",
                                          "ref_text": "a reference"},
                   files={"audio": ("a.wav", wav_bytes(2.0, 24000), "audio/wav")})
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["job_id"])["status"] == "completed"
    assert "Traceback" not in (stack.log_dir / "api.log").read_text(errors="replace")
