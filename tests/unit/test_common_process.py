"""The shared subprocess helpers: streamed runs and masked argv in errors."""

from __future__ import annotations

import pytest

from periph_env.common.process import mask_argv, run_streamed
from periph_env.errors import CommandFailed


def test_a_streamed_run_hands_every_line_over_as_it_comes():
    seen: list[str] = []
    run_streamed(["sh", "-c", "echo one; echo two >&2; echo three"], seen.append)
    assert seen == ["one", "two", "three"]


def test_a_failed_streamed_run_raises_with_only_the_last_lines():
    with pytest.raises(CommandFailed) as failure:
        run_streamed(["sh", "-c", "seq 1 50; exit 3"], lambda _line: None, tail_lines=5)
    assert failure.value.returncode == 3
    assert failure.value.output_tail.splitlines() == ["46", "47", "48", "49", "50"]


def test_credential_flags_and_known_secrets_are_masked_in_argv():
    shown = mask_argv(
        ["login", "--password", "hunter22", "--token=abc", "JWT_SECRET=x1", "id=s3cr3t"],
        secrets=["s3cr3t"],
    )
    assert shown == ["login", "--password", "****", "--token=****", "JWT_SECRET=****", "id=****"]
