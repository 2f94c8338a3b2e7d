"""Property: whatever the env file holds, init never changes what a reader reads from it."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from periph_env.env import init
from periph_env.env.compose_view import read
from periph_env.errors import UsageError
from tests.examples import examples
from tests.unit.env.conftest import EXAMPLE

PIECES = [
    "DB_HOST", "DB_PORT", "JWT_SECRET", "WORKERS", "=", ":", " ", "\t", "\f", "\xa0", "\n",
    "\r\n", "\r", "'", '"', "\\", "#", "export ", "x", "1", "${DB_HOST}", "\u2028",
]  # fmt: skip
ENV_TEXT = st.lists(st.sampled_from(PIECES), max_size=25).map("".join)


def dotenv_view(text: str) -> dict[str, str | None]:
    return dotenv_values(stream=io.StringIO(text), interpolate=False)


def compose_view(text: str) -> dict[str, str | None] | None:
    view = read(text)
    return {b.key: b.value for b in view.bindings}


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ENV_TEXT)
def test_init_never_changes_what_either_reader_reads(text: str):
    with tempfile.TemporaryDirectory() as tmp:
        env, example = Path(tmp) / ".env", Path(tmp) / ".env.example"
        example.write_text(EXAMPLE)
        env.write_bytes(text.encode())
        try:
            init(str(env), str(example))
        except UsageError:
            assert env.read_bytes() == text.encode()
            return
        after = env.read_bytes().decode()
    assert after.startswith(text)
    before_dotenv, after_dotenv = dotenv_view(text), dotenv_view(after)
    for key, value in before_dotenv.items():
        assert after_dotenv.get(key) == value, key
    before_compose, after_compose = read(text), read(after)
    if before_compose.error is None:
        for binding in before_compose.bindings:
            if not binding.key:
                continue  # compose's nameless reading of a last line without '=' or newline
            latest = [b.value for b in after_compose.bindings if b.key == binding.key]
            assert latest and latest[-1] == compose_view(text)[binding.key], binding.key
