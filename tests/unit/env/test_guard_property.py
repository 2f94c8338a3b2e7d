"""Property: whatever is staged, a staged secret never passes the guard and is never printed.

hypothesis generates staged files with arbitrary names (any bytes git can store) and
contents, plants the secret in one file's content or name, and runs `periph env guard`
in a real git repository.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from contextlib import redirect_stderr, redirect_stdout

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from periph_env.cli import main
from periph_env.env.values import is_placeholder
from tests.examples import examples
from tests.unit.env.conftest import EXAMPLE

RESERVED = {b".", b"..", b".env", b".env.example"}


def storable(name: bytes) -> bool:
    """A single path component git and the file system accept (and that is not ours)."""
    return (
        b"/" not in name
        and b"\0" not in name
        and name not in RESERVED
        and not name.lower().startswith(b".git")
    )


NAMES = st.binary(min_size=1, max_size=24).filter(storable)
SECRETS = st.from_regex(r"[A-Za-z0-9_.@%+-]{12,32}", fullmatch=True).filter(
    lambda s: not is_placeholder(s)
)
FILES = st.lists(st.tuples(NAMES, st.binary(max_size=300)), min_size=1, max_size=4)


def run_guard(root: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["env", "guard"])
    finally:
        os.chdir(cwd)
    return code, out.getvalue() + err.getvalue()


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=FILES,
    secret=SECRETS,
    in_name=st.booleans(),
    which=st.integers(min_value=0, max_value=3),
    at=st.integers(min_value=0, max_value=300),
)
def test_a_staged_secret_never_passes_and_is_never_printed(files, secret, in_name, which, at):
    planted = dict(files)  # one file per name
    name, content = list(planted.items())[which % len(planted)]
    raw = secret.encode()
    if in_name:
        del planted[name]
        cut = at % (len(name) + 1)
        name = name[:cut] + raw + name[cut:]
        assume(storable(name) and name not in planted)
        planted[name] = content
    else:
        cut = at % (len(content) + 1)
        planted[name] = content[:cut] + raw + content[cut:]
    with tempfile.TemporaryDirectory() as tmp:
        root = os.fsencode(tmp)
        subprocess.run(["git", "init", "-q", tmp], check=True)
        with open(os.path.join(tmp, ".env.example"), "w") as handle:
            handle.write(EXAMPLE)
        with open(os.path.join(tmp, ".env"), "w") as handle:
            handle.write(f"JWT_SECRET={secret}\n")
        for path, data in planted.items():
            with open(os.path.join(root, path), "wb") as handle:
                handle.write(data)
        added = subprocess.run(
            [b"git", b"-C", root, b"add", b"-f", b"--", *planted], capture_output=True
        )
        assume(added.returncode == 0)
        code, output = run_guard(tmp)
    assert code != 0
    assert secret not in output
