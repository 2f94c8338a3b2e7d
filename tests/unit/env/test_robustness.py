"""Any input gives findings, never a crash or a traceback (hypothesis), in and out of process."""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from periph_env.cli import main
from tests.examples import examples
from tests.unit.env.conftest import EXAMPLE

# Fragments that reach deep into the grammar; hypothesis glues them with random bytes.
FRAGMENTS = [
    b"A=", b"export ", b"'", b'"', b"\\", b"${", b"}", b"$", b"$$", b":-", b"-", b"#",
    b" ", b"\t", b"\n", b"\r\n", b"\r", b"\xef\xbb\xbf", b"\xff", b"\0", b"=", b"DB_PORT=",
    b"VITE_X=", b"JWT_SECRET=", b"# @port", b"# @enum=a|b", b"# @demo:prefix=x", b"<p>",
]  # fmt: skip
ENVISH = st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=8), max_size=40).map(b"".join)
FORMATS = ("text", "json", "sarif")


def run_in_process(root: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["env", "check", "--env-file", str(root / "in.env"),
                     "--example", str(root / "in.example"), *args])  # fmt: skip
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(env=st.binary(max_size=400) | ENVISH, fmt=st.sampled_from(FORMATS))
def test_arbitrary_env_bytes_give_findings_never_a_crash(env: bytes, fmt: str):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in.example").write_text(EXAMPLE)
        (root / "in.env").write_bytes(env)
        code, out, err = run_in_process(root, "--format", fmt, "--target", "prod")
    assert code in (0, 1)
    assert err == ""
    assert out.strip()


@settings(max_examples=examples(100), deadline=None)
@given(example=st.binary(max_size=400) | ENVISH, env=ENVISH)
def test_arbitrary_example_bytes_give_findings_never_a_crash(example: bytes, env: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in.example").write_bytes(example)
        (root / "in.env").write_bytes(env)
        code, _, err = run_in_process(root, "--target", "demo")
    assert code in (0, 1)
    assert err == ""


def test_hostile_bytes_in_a_real_process_exit_1_without_traceback(tmp_path: Path):
    (tmp_path / ".env.example").write_text(EXAMPLE)
    (tmp_path / ".env").write_bytes(
        b"\xef\xbb\xbfDB_PORT=\xff\xfe\n\0\0\nA='${\nB=\"\\\nC=${X:?}\r\nD\n" + bytes(range(256))
    )
    proc = subprocess.run(
        [sys.executable, "-m", "periph_env", "env", "check", "--format", "sarif"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr == ""
    assert '"ruleId": "PE005"' in proc.stdout
