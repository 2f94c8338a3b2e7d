"""Build stream parsing, per-service JSON, tags and credentials that never show a secret."""

from __future__ import annotations

import json

import pytest

from periph_env.errors import UsageError
from periph_env.images import services
from periph_env.images.credentials import Credentials
from periph_env.images.engine import RetryPolicy
from periph_env.images.models import Failed, ServiceResult, StepStarted
from periph_env.images.progress import BuildStream

# What the classic builder streams for a two-step build whose second step fails.
FAILING_STREAM = [
    {"stream": "Step 1/2 : FROM debian:bookworm-slim"},
    {"stream": "\n"},
    {"stream": " ---> 5f2c\n"},
    {"stream": "Step 2/2 : RUN echo compiling && exit 3\n"},
    {"stream": " ---> Running in 0a1b\n"},
    {"stream": "compiling\n"},
    {
        "errorDetail": {"code": 3, "message": "The command '/bin/sh -c exit 3' returned 3"},
        "error": "The command '/bin/sh -c exit 3' returned a non-zero code: 3",
    },
]


def test_steps_become_step_events_with_number_and_instruction():
    stream = BuildStream("backend")

    events = [e for m in FAILING_STREAM for e in stream.feed(m)]

    steps = [e for e in events if isinstance(e, StepStarted)]
    assert [(s.step, s.total, s.instruction) for s in steps] == [
        (1, 2, "FROM debian:bookworm-slim"),
        (2, 2, "RUN echo compiling && exit 3"),
    ]


def test_a_failure_keeps_the_step_the_error_and_the_log_tail():
    stream = BuildStream("backend")
    for message in FAILING_STREAM:
        stream.feed(message)

    assert stream.step == "step 2/2: RUN echo compiling && exit 3"
    assert "non-zero code: 3" in stream.error
    assert stream.tail().splitlines()[-1] == "compiling"


def test_the_log_tail_is_bounded():
    stream = BuildStream("worker", tail_lines=3)

    for i in range(10):
        stream.feed({"stream": f"line {i}\n"})

    assert stream.tail().splitlines() == ["line 7", "line 8", "line 9"]


def test_the_image_id_comes_from_aux():
    stream = BuildStream("db")

    stream.feed({"aux": {"ID": "sha256:abc"}})

    assert stream.image_id == "sha256:abc"


def test_a_failed_event_line_shows_step_and_tail():
    line = Failed("backend", "exit 3", step="step 2/2: RUN make", log_tail="cc: error").line()

    assert "FAILED at step 2/2: RUN make: exit 3" in line and "backend: | cc: error" in line


def test_result_json_has_the_documented_fields():
    result = ServiceResult("worker", "built", tags=["r/peripheral-worker:main"], seconds=1.23456)

    data = json.loads(json.dumps(result.to_json()))

    assert {"service", "status", "tags", "digest", "seconds", "changed"} <= set(data)
    assert data["seconds"] == 1.235 and data["digest"] is None


def test_branch_names_become_valid_tags():
    assert services.tag_for_branch("main") == "main"
    assert services.tag_for_branch("feature/Login UI") == "feature-Login-UI"
    assert services.tag_for_branch("-x") == "x"
    assert len(services.tag_for_branch("b" * 300)) == 128


def test_image_names_are_lowercase_peripheral_names():
    assert services.image_repository("127.0.0.1:5000/", "backend") == (
        "127.0.0.1:5000/peripheral-backend"
    )
    assert services.service_of("127.0.0.1:5000/peripheral-db") == "db"
    assert services.service_of("redis") is None


def test_unknown_services_are_a_usage_error():
    with pytest.raises(UsageError, match="unknown service"):
        services.select({"images": {"services": ["backend"]}}, ["backend", "nope"])


def test_the_backend_builds_from_services_with_its_prod_dockerfile(tmp_path):
    spec = services.spec(tmp_path, {}, "backend")

    assert spec.context == (tmp_path / "services").resolve()
    assert spec.dockerfile == "backend/Dockerfile.prod"


def test_a_service_without_a_prod_dockerfile_uses_its_dockerfile(tmp_path):
    (tmp_path / "services" / "db").mkdir(parents=True)
    (tmp_path / "services" / "db" / "Dockerfile").write_text("FROM scratch\n")

    assert services.spec(tmp_path, {}, "db").dockerfile == "Dockerfile"


def test_credentials_never_show_the_password():
    creds = Credentials("ci", "hunter2-secret", "DOCKER_USERNAME/DOCKER_PASSWORD")

    assert "hunter2-secret" not in repr(creds) + creds.describe()


def test_retry_delays_back_off_and_are_capped():
    policy = RetryPolicy(attempts=5, delay=1, max_delay=3)

    assert list(policy.delays()) == [1, 2, 3, 3]
