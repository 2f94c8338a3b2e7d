"""One masker for everything periph prints: every output path gets the same hostile values.

A secret (short or long) and its base64, URL-encoded and JSON-escaped forms, control
characters (ESC, OSC and CSI sequences, C1, DEL, bidi overrides) and undecodable bytes go
into the env check (text, JSON, SARIF), the deploy guard, a failing real subprocess
(``CommandFailed``), compose output through ``Stack``, deploy events, the notification
payload, history-record messages and the TUI's text helpers. Nothing may come out holding
the secret in any form, or a raw control character.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from periph_env.cli import main
from periph_env.common import redact
from periph_env.common.process import run, run_streamed
from periph_env.common.redact import MIN_SECRET_LEN, Redactor, escape_controls, forms_of
from periph_env.env.values import is_placeholder
from periph_env.errors import CommandFailed
from tests.examples import examples

# Raw characters no output may hold (newline and tab are allowed between lines).
RAW_CONTROL = redact._CONTROL  # the masker's own definition of "control"
HOSTILE_TEXT = [
    "\x1b]0;pwned\x07",  # OSC: retitles the terminal
    "\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x1b[2J\x1b[H",  # CSI: clear the screen
    "\x9b31m",  # C1 CSI
    "\x7f\x08\r",  # DEL, backspace, bare CR
    "\u202etxt.exe",  # bidi override
    "\udcff\udcfe",  # undecodable bytes read with surrogateescape
]
# Secrets: letters, digits and punctuation an env line can hold unquoted. '*' is left out
# (the mask itself is made of it), and so are '=', '#', quotes, spaces, '$' and '\\', which
# change how the line parses.
SECRET_CHARS = st.characters(
    whitelist_categories=("Lu", "Ll", "Nd"), min_codepoint=48, max_codepoint=0x7FF
) | st.sampled_from(list("!%&()+,-./:;?@[]^_{|}~"))
SECRETS = st.text(SECRET_CHARS, min_size=MIN_SECRET_LEN, max_size=40).filter(
    lambda s: (
        not is_placeholder(s)
        and redact.maskable(s)
        # a bare upper-case word reads as a key that lost its '=', not as a value
        and not s.replace("_", "").isupper()
        and not s.isdigit()
    )
)
HOSTILE = st.sampled_from(HOSTILE_TEXT)
SETTINGS = settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def encodings(secret: str) -> list[str]:
    """The forms a tool may print a secret in (each one must be masked)."""
    data = secret.encode()
    b64 = base64.b64encode(data).decode()
    return [
        secret,
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(data).decode(),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=True)[1:-1],
    ]


def embedded_base64(secret: str) -> list[str]:
    """The secret base64-encoded inside longer data at every byte offset (what kubectl
    shows for a Secret whose value holds the secret, e.g. a whole .env or user:password)."""
    return [
        base64.b64encode(prefix + secret.encode() + b"@suffix").decode()
        for prefix in (b"", b"u", b"us", b"usr:")
    ]


def assert_clean(out: str, secret: str) -> None:
    """No form of ``secret`` and no raw control character in ``out``."""
    for form in encodings(secret):
        assert form not in out or len(form) < MIN_SECRET_LEN, (form, out)
    raw = RAW_CONTROL.findall(out)
    assert not raw, (raw, out)


@contextlib.contextmanager
def project(env: bytes, example: str = "") -> Iterator[Path]:
    """A throwaway periph project (compose file, example, .env) as the working directory."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "compose").mkdir()
        (root / "compose" / "compose.yaml").write_text(
            "services:\n  app:\n    image: debian:bookworm-slim\n"
            "    environment:\n      DB_PASSWORD: ${DB_PASSWORD:-x}\n"
        )
        (root / ".env.example").write_text(example or EXAMPLE)
        (root / ".env").write_bytes(env)
        cwd = os.getcwd()
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(cwd)


EXAMPLE = (
    "# @secret\nJWT_SECRET=\n# @type int\nWORKERS=4\n# @type port\nAPI_PORT=5058\n"
    "DB_HOST=localhost\n"
)


def cli(*args: str) -> tuple[int, str]:
    """``periph ARGS`` in-process: exit code and everything it printed (out + err)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


def hostile_env(secret: str, noise: str) -> bytes:
    """An env file that holds ``secret`` every way a user could put it there."""
    forms = encodings(secret)
    lines = [
        f"JWT_SECRET={secret}",  # a secret-named key
        secret,  # pasted alone on a line (PE001)
        f'DB_PASSWORD="{secret}',  # an unterminated quote (PE002; compose quotes it)
        f"WORKERS={forms[1]}",  # its base64 where a type error quotes the value
        f"API_PORT={forms[4]}",  # its URL form, same
        f"DB_HOST=host{noise}",  # control characters in a value
        f"NOTE{noise}=1",  # and in a key
        noise,  # and alone on a line
    ]
    return "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n\xff\xfeBAD=1\n"


# --- the property suite: every path, the same hostile values ---------------------------


@SETTINGS
@given(secret=SECRETS, noise=HOSTILE, fmt=st.sampled_from(["text", "json", "sarif"]))
def test_env_check_never_prints_a_secret_or_a_control_character(secret, noise, fmt):
    with project(hostile_env(secret, noise)):
        code, out = cli("env", "check", "--format", fmt)
    assert code == 1
    assert_clean(out, secret)


@SETTINGS
@given(secret=SECRETS, noise=HOSTILE)
def test_the_deploy_guard_never_prints_a_secret_or_a_control_character(secret, noise):
    with project(hostile_env(secret, noise)) as root:
        result = demo_guard(root)
    assert not result.ok
    assert_clean(json.dumps(result.as_dict(), ensure_ascii=False), secret)


def demo_guard(root: Path):
    """The deploy's env-check guard for ``demo`` over the project's .env."""
    from periph_env.deploy.guards import env_check_guard
    from periph_env.deploy.sources import SecretSource
    from periph_env.deploy.target import Target

    target = Target(
        "demo", root, "demo", "peripheral-demo", "kind-demo", root / "k8s", "demo",
        root / ".env", False, "127.0.0.1:5000", None,
    )  # fmt: skip
    return env_check_guard(target, SecretSource(str(root / ".env"), root / ".env", {}), None)


@SETTINGS
@given(secret=SECRETS, noise=HOSTILE)
def test_a_failing_command_echoing_a_secret_raises_it_masked(secret, noise):
    printed = "\n".join([*encodings(secret), *embedded_base64(secret), noise])
    script = "import sys; sys.stderr.write(sys.argv[1]); sys.exit(3)"
    with pytest.raises(CommandFailed) as failure:
        run([sys.executable, "-c", script, printed, f"--password={secret}"], secrets=[secret])
    shown = str(failure.value)
    assert_clean(shown, secret)
    for blob in embedded_base64(secret):
        assert blob not in shown


@SETTINGS
@given(secret=SECRETS, noise=HOSTILE)
def test_a_streamed_command_echoing_a_secret_is_masked_line_by_line(secret, noise):
    seen: list[str] = []
    script = "import sys; print(sys.argv[1]); sys.exit(2)"
    printed = " ".join([*encodings(secret), noise])
    with pytest.raises(CommandFailed) as failure:
        run_streamed([sys.executable, "-c", script, printed], seen.append, secrets=[secret])
    assert_clean("\n".join(seen) + str(failure.value), secret)


@SETTINGS
@given(secret=SECRETS, noise=HOSTILE)
def test_compose_output_through_the_stack_is_masked(secret, noise):
    from periph_env.stack import Stack

    with project(hostile_env(secret, noise)) as root:
        stack = Stack(root, compose_path=root / "compose" / "compose.yaml")
        shown = stack.mask(
            f'failed to read {root}/.env: line 3: unterminated quoted value "{secret}\n'
            + "\n".join(encodings(secret))
            + noise
        )
    assert_clean(shown, secret)


@SETTINGS
@given(secret=SECRETS, noise=HOSTILE)
def test_deploy_events_notifications_and_history_messages_are_masked(secret, noise):
    from periph_env.deploy import notify
    from periph_env.deploy.events import GuardResult, MigrationResult, PodProblem
    from periph_env.deploy.history import Record

    redact.forget_all()
    redact.remember([secret])  # what the deploy's secret_values learnt
    hostile = " ".join([*encodings(secret), *embedded_base64(secret), noise])
    events = [
        GuardResult("env-check", False, hostile, hostile),
        MigrationResult(False, hostile, hostile),
        PodProblem("api", f"api-1{noise}", "CrashLoopBackOff", hostile),
    ]
    for event in events:
        data = {k: v for k, v in event.as_dict().items() if k != "event"}  # "event": its kind
        assert_clean(json.dumps(data, ensure_ascii=False), secret)
    record = Record("demo", 3, "deploy", "failed", f"ci{noise}", "2026-12-02T00:00:00Z")
    record.message = hostile
    assert_clean(notify.message(record), secret)


@SETTINGS
@given(secret=SECRETS, noise=HOSTILE)
def test_the_tui_text_helpers_mask_and_escape(secret, noise):
    from types import SimpleNamespace

    from periph_env.tui import formatting
    from periph_env.tui.messages import ActionProgress, EngineDown

    redact.forget_all()
    redact.remember([secret])
    hostile = " ".join([*encodings(secret), noise])
    event = SimpleNamespace(
        files=[f"src/{noise}.py"], kind="restart", ok=False, error=hostile, trigger=None,
        breakdown=lambda: "sync 0.1s",
    )  # fmt: skip
    shown = [
        formatting.safe(hostile),
        *formatting.reload_detail("api", True, event),
        ActionProgress(f"up: {hostile}").text,
        EngineDown(hostile, [], False).message,
    ]
    assert_clean("\n".join(shown), secret)


@SETTINGS
@given(secret=SECRETS, noise=HOSTILE)
def test_the_cli_streams_mask_what_any_path_prints(secret, noise):
    """The last line of defence: a handler that prints a remembered secret raw."""
    out = io.StringIO()
    redact.forget_all()
    redact.remember([secret])
    with contextlib.redirect_stdout(out), redact.guard_streams():
        print("value:", *encodings(secret), noise)
        sys.stdout.write(f"partial {secret}")  # no newline yet: masked on flush
    assert_clean(out.getvalue(), secret)
    assert "partial ****" in out.getvalue()


# --- the masker itself ------------------------------------------------------------------


@given(secret=SECRETS, prefix=st.binary(max_size=5), suffix=st.binary(max_size=5))
def test_base64_of_a_secret_inside_longer_data_is_masked_at_any_offset(secret, prefix, suffix):
    blob = base64.b64encode(prefix + secret.encode() + suffix).decode()
    masked = Redactor([secret]).mask(blob)
    # What is left cannot be decoded back to the secret.
    assert secret.encode() not in _decodable(masked)


def _decodable(text: str) -> bytes:
    """Every byte string the base64 runs of ``text`` decode to (as a best effort)."""
    out = b""
    for run_ in text.replace("*", " ").split():
        for start in range(4):
            chunk = run_[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            with contextlib.suppress(ValueError):
                out += b"|" + base64.b64decode(chunk, validate=True)
    return out


def test_a_short_secret_is_masked_in_every_form():
    assert Redactor(["pw4!"]).mask("p pw4! cHc0IQ== pw4%21 c")
    masked = Redactor(["pw4!"]).mask("x pw4! cHc0IQ== pw4%21 y")
    assert masked == "x **** **** **** y"


def test_a_multi_line_secret_printed_line_by_line_is_masked_on_every_line():
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n-----END"
    out = io.StringIO()
    redact.remember([key])
    with contextlib.redirect_stdout(out), redact.guard_streams():
        for line in key.splitlines():
            print(line)
    assert "MIIEvQIBADANBgkqhkiG9w0B" not in out.getvalue()
    assert "AQEFAASCBKcwggSjAgEAAoIB" not in out.getvalue()


def test_values_below_the_floor_and_switch_words_are_never_searched_for():
    masker = Redactor(["ab", "true", "off", "5"])
    assert masker.secrets == frozenset()
    assert masker.mask("port 5432 is off, debug true") == "port 5432 is off, debug true"


def test_innocent_values_stay_readable_because_only_secrets_are_in_the_set():
    values = {"DB_HOST": "db", "DB_PORT": "5432", "DB_USER": "peripheral", "DB_PASSWORD": "pw4!"}
    assert redact.secrets_in(values) == {"pw4!"}


def test_a_url_password_is_a_secret_alone_and_with_its_url():
    found = redact.secrets_in({"DATABASE_URL": "postgres://app:s%40fe@db:5432/app"})
    assert {"postgres://app:s%40fe@db:5432/app", "s%40fe", "s@fe"} <= found


def test_control_characters_are_escaped_visibly():
    shown = escape_controls("a\x1b]0;t\x07b\x9b\x7f\u202ec\udcff\n", keep_lines=False)
    assert shown == "a\\x1b]0;t\\x07b\\x9b\\x7f\\u202ec\\xff\\x0a"


def test_every_form_is_searched_only_when_long_enough_to_mean_something():
    assert all(len(f) >= MIN_SECRET_LEN for f in forms_of("abc"))
    assert "YWJj" in forms_of("abc")


# --- regressions named for the cases --------------------------------------------

SHORT = "Tr0ub4dor&3"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_pe001_describes_a_short_pasted_password_by_its_shape_not_its_text(fmt):
    with project(f"JWT_SECRET=x\n{SHORT}\n".encode()):
        code, out = cli("env", "check", "--format", fmt)
    assert code == 1
    assert SHORT not in out and base64.b64encode(SHORT.encode()).decode() not in out
    assert "line 2: 11 characters, no '='" in out


def test_the_deploy_guard_does_not_echo_a_short_pasted_password():
    with project(f"JWT_SECRET=x\n{SHORT}\n".encode()) as root:
        result = demo_guard(root)
    assert not result.ok and "PE001" in result.message
    assert SHORT not in result.message and "11 characters" in result.message


def test_an_osc_title_sequence_in_env_example_never_reaches_the_terminal():
    example = EXAMPLE + "# @type \x1b]0;pwned\x07\nTITLE=\x1b]0;pwned\x07\n"
    with project(b"JWT_SECRET=x\n", example):
        _, out = cli("env", "check")
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07" in out  # shown, escaped


def test_a_failing_kubectl_apply_that_echoes_a_secret_shows_no_base64_data():
    """A real failing process prints what ``kubectl apply -o json`` prints for a Secret
    it applied before failing on the next object (the issue's case; the kwok version is
    in tests/integration/test_masking_engines.py)."""
    values = {"DB_PASSWORD": SHORT, "DB_USER": "peripheral"}
    secret = {
        "kind": "Secret",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }
    script = (
        "import sys; print(sys.argv[1]); sys.stderr.write('error: invalid object'); sys.exit(1)"
    )
    secrets = redact.secrets_in(values)
    with pytest.raises(CommandFailed) as failure:
        run([sys.executable, "-c", script, json.dumps(secret)], secrets=secrets)
    shown = str(failure.value)
    assert base64.b64encode(SHORT.encode()).decode() not in shown
    assert '"DB_PASSWORD": "****"' in shown
    assert base64.b64encode(b"peripheral").decode() in shown  # not a secret: readable


def test_threads_share_one_process_wide_secret_set():
    redact.forget_all()
    threads = [threading.Thread(target=redact.remember, args=([f"s3cret-{i}"],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert redact.redact(" ".join(f"s3cret-{i}" for i in range(8))) == " ".join(["****"] * 8)


class _Sink(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_notification_payload_sent_over_http_is_masked():
    from periph_env.deploy import notify
    from periph_env.deploy.history import Record

    server = HTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        record = Record("demo", 2, "deploy", "failed", "ci", "2026-12-02T00:00:00Z")
        record.message = f"kubectl said {base64.b64encode(SHORT.encode()).decode()} \x1b]0;x\x07"
        results = notify.send(record, {"SLACK_WEBHOOK_URL": url}, [SHORT])
    finally:
        server.shutdown()
    assert results == [("slack", None)]
    text = json.loads(_Sink.bodies[-1])["text"]
    assert_clean(text, SHORT)


def test_every_command_first_learns_the_secrets_of_the_projects_env_files():
    from periph_env import cli

    env = b"JWT_SECRET=jw7!\nDB_HOST=localhost\nTr0ub4dor&3\n"
    with project(env) as root:
        (root / ".env.demo").write_text("DB_PASSWORD=demo-pw9\n")
        (root / ".env.prod").write_text("API_TOKEN=prod-tok\n")
        cli._learn_project_secrets()
    known = redact.known()
    assert {"jw7!", "Tr0ub4dor&3", "demo-pw9", "prod-tok"} <= known
    assert "localhost" not in known


def test_env_guard_refuses_a_staged_copy_of_a_password_pasted_alone_in_env_and_never_prints_it():
    import subprocess

    with project(f"JWT_SECRET=x\n{SHORT}\n".encode()) as root:
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        (root / "notes.txt").write_text(f"the db password is {SHORT}\n")
        subprocess.run(["git", "-C", str(root), "add", "notes.txt"], check=True)
        code, out = cli("env", "guard")
    assert code == 1  # refused: the pasted line counts as a secret
    assert "notes.txt" in out and SHORT not in out
