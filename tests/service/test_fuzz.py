"""schemathesis fuzzing of the API against its own OpenAPI schema (loopback, bounded).

A real uvicorn API, Celery worker and redis-server on 127.0.0.1. Every operation of
/openapi.json gets MAX_EXAMPLES positive and MAX_EXAMPLES negative cases (schema-violating
input), sent with a valid admin key. Checks: no 5xx (``not_a_server_error``), every answer
matches its documented schema (``response_schema_conformance``), and what was accepted is
stored clean (``accepted_input_is_clean``: strings generated with every code point the wire
can carry, NUL and other controls included, ``allow_x00``); afterwards the worker is still
alive and still completes a job. The number of cases tried is printed (and recorded in
bench/RESULTS.md, "## security"). Deterministic (``derandomize``), no shrinking: about 30 s.

schemathesis sends what a JSON encoder can write: never NaN, Infinity, numbers past a float
or lone surrogates. ``test_raw_json_never_5xx`` (hypothesis) posts those as raw bodies,
anywhere in the body, and wants a 422 for each.
"""

from __future__ import annotations

import json
import re

import pytest
import redis

from tests.service.helpers import ready_voice, wait_job, wav_bytes
from tests.service.procs import wait_for

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 40
RAW_EXAMPLES = 80
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # what no accepted name may hold
SPEECH_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # text keeps \t\n\r


@pytest.fixture(scope="module")
def fuzz_stack(make_stack):
    stack = make_stack(LOW_VRAM="true", MAX_UPLOAD_MB="1", MAX_TEXT_CHARS="80")
    assert stack.base_url.startswith("http://127.0.0.1:")  # loopback only
    with stack.client() as c:  # a real voice, so some fuzzed jobs reach the worker
        stack.voice_id = ready_voice(c)
    return stack


def accepted_input_is_clean(stack, operation: str, response) -> None:
    """What a 202 stored: stripped, non-empty, no control characters (text: but \t\n\r)."""
    if response.status_code != 202:
        return
    body = response.json()
    if operation == "POST /voices/clone":
        meta = json.loads((stack.data_dir / "voices" / body["voice_id"] / "voice.json").read_text())
        fields = {"name": CONTROLS, "language": CONTROLS, "ref_text": SPEECH_CONTROLS}
    elif operation == "POST /jobs":
        raw = redis.Redis.from_url(stack.redis_url).hgetall(f"avops:job:{body['job_id']}")
        meta = {k.decode(): json.loads(v) for k, v in raw.items()}
        fields = {"text": SPEECH_CONTROLS, "language": CONTROLS}
    else:
        return
    for field, controls in fields.items():
        value = meta.get(field)
        if value is None and field == "ref_text":
            continue
        assert value and value == value.strip(), (operation, field, value)
        assert not controls.search(value), (operation, field, value)
        value.encode("utf-8")  # valid Unicode


def test_schemathesis_fuzz_no_server_errors(fuzz_stack, capsys):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    stack = fuzz_stack
    voice_id = stack.voice_id
    auth = {"Authorization": f"Bearer {stack.admin_key}"}

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
        return st.tuples(
            base, st.tuples(st.booleans(), st.integers(0, 3).map(lambda n: n == 0))
        ).map(deepen)

    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    # Strings over all of UTF-8, NUL included (schemathesis never generates lone surrogates:
    # they cannot be encoded for the wire; test_raw_json_never_5xx sends those).
    schema.config.generation.update(allow_x00=True, codec="utf-8")
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
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            # B023: run() is called right below, in the same iteration, never later.
            def run(case):
                tried[label] = tried.get(label, 0) + 1  # noqa: B023  (called below)
                response = case.call_and_validate(
                    base_url=stack.base_url,
                    headers=auth,
                    timeout=30,
                    checks=[not_a_server_error, response_schema_conformance],
                )
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                accepted_input_is_clean(stack, operation.label, response)  # noqa: B023  (called below)
                if response.status_code == 202 and operation.label == "POST /jobs":  # noqa: B023  (called below)
                    accepted.append(response.json()["job_id"])

            try:
                run()
            except Exception as exc:  # noqa: BLE001  (collect all, report together)
                failures.append(f"{label}: {str(exc)[:1500]}")

    total = sum(tried.values())
    with capsys.disabled():
        print(
            f"\nschemathesis: {total} cases over {len(operations)} operations "
            f"(positive + negative, {MAX_EXAMPLES} max each); statuses {dict(sorted(statuses.items()))}"
        )
    assert not failures, "\n\n".join(failures)
    assert not any(code >= 500 for code in statuses), statuses
    assert total >= 200, tried

    # No worker crash: every fuzzed job ends (completed or failed, none stuck), the same worker
    # process is alive, heartbeating, and completes a clone afterwards.
    with stack.client() as c:
        ends = [wait_job(c, job_id, timeout=120)["status"] for job_id in accepted]
    with capsys.disabled():
        print(
            f"schemathesis: {len(accepted)} fuzzed jobs reached the worker: "
            f"{ends.count('completed')} completed, {ends.count('failed')} failed"
        )
    assert stack.worker.poll() is None, "the Celery worker died during the fuzzing"
    with stack.client() as c:
        wait_for(lambda: c.get("/health").json()["checks"]["worker"]["ok"], 30, "worker heartbeat")
        r = c.post(
            "/voices/clone",
            data={"language": "pt", "voice_name": "after-fuzz", "ref_text": "a reference"},
            files={"audio": ("a.wav", wav_bytes(2.0, 24000), "audio/wav")},
        )
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["job_id"])["status"] == "completed"
    assert "Traceback" not in (stack.log_dir / "api.log").read_text(errors="replace")


# --------------------------------------------------------------------------- raw JSON
NOT_JSON = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1E+400",
    "1e309",
    "9" * 5000,
    '"\\ud800abc"',
    '"x\\udfffy"',
    '"\\udbff"',
    '"ok \\udc80\\ud800"',
]
SURROGATES = [t for t in NOT_JSON if t.startswith('"')]
HOLE = "\u2603hole\u2603"  # where the bad token goes; never generated otherwise


def test_raw_json_never_5xx(fuzz_stack):
    """NaN, Infinity, 1e999, huge integers and lone-surrogate escapes at any position of a
    POST /jobs body (a field, an unknown field, nested in lists and objects, a key, the whole
    body): always a 422 that says the body is not valid JSON, and nothing queued."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    stack = fuzz_stack
    keys = st.text(st.characters(codec="utf-8", exclude_characters="\u2603"), max_size=4)
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | keys
        | st.floats(allow_nan=False, allow_infinity=False)
    )

    def around(inner):  # one container on the path to the hole, with siblings
        return st.tuples(st.lists(leaves, max_size=2), inner, st.lists(leaves, max_size=2)).map(
            lambda t: [*t[0], t[1], *t[2]]
        ) | st.tuples(st.dictionaries(keys, leaves, max_size=2), keys, inner).map(
            lambda t: {**t[0], t[1]: t[2]}
        )

    holder = st.recursive(st.just(HOLE), around, max_leaves=6)
    fields = st.sampled_from(
        ["text", "language", "voice_id", "engine", "quality_profile", "mode", "unknown"]
    )
    valid = {"text": "ola", "language": "pt-BR", "voice_id": stack.voice_id}
    bodies = (
        st.tuples(fields, holder).map(lambda t: {**valid, t[0]: t[1]})
        | holder
        | st.just({**valid, HOLE: 1})
    )

    def job_keys() -> set:
        return set(redis.Redis.from_url(stack.redis_url).scan_iter("avops:job:*"))

    before = job_keys()

    @given(body=bodies, token=st.sampled_from(NOT_JSON), surrogate=st.sampled_from(SURROGATES))
    @settings(
        max_examples=RAW_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(client, body, token, surrogate):
        text = json.dumps(body, ensure_ascii=False)
        text = text.replace(f'"{HOLE}":', f"{surrogate}:").replace(f'"{HOLE}"', token)
        r = client.post(
            "/jobs",
            content=text.encode("utf-8", "surrogatepass"),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 422, (text[:300], r.status_code, r.text[:300])
        assert r.json()["detail"].startswith("body: not valid JSON: "), r.text[:300]

    with fuzz_stack.client() as client:
        run(client)
    assert job_keys() == before
    assert "Traceback" not in (stack.log_dir / "api.log").read_text(errors="replace")
