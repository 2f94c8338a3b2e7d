"""`periph env init` against other processes: it never loses their lines, waits for their
lock, and exactly one of two racing inits creates the file.

The races run in real processes (bash appending without a lock, forked inits started
together by a barrier), many iterations each; nothing asserts on timing.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from periph_env.env import init_file, init_target
from periph_env.env.init_file import init
from periph_env.errors import UsageError
from tests.examples import examples
from tests.unit.env.conftest import EXAMPLE

# Iterations look for a rare interleaving, as a property suite looks for a rare input:
# all of them under CI's thorough profile, a quarter on a developer's save (tests/examples.py).
ITERATIONS = examples(20)
FORK = multiprocessing.get_context("fork")
GENERATE_EXAMPLE = """\
# @secret required generate
JWT_SECRET=changemeinprod123!
# @host
DB_HOST=localhost
"""
# Appends LINE_1=1, LINE_2=1, ... one `echo >>` (one open, one write) per line, taking no
# lock, until the stop file exists or it has appended 3800 lines (the issue's
# reproduction); prints how many lines it appended.
APPENDER = (
    'i=0; while [ ! -e "$1" ] && [ "$i" -lt 3800 ]; do i=$((i+1)); echo "LINE_$i=1" >> "$0"; '
    'done; echo "$i"'
)

# Every line of the file in the end: an assignment, a comment, or blank.
WHOLE_LINE = re.compile(r"(?:\w+=\S*|# .*)$")


def _wait_for(path: Path, text: str, proc: subprocess.Popen[str]) -> None:
    while text not in path.read_text():
        assert proc.poll() is None, "the appender stopped before it started appending"
        time.sleep(0.001)


def test_lines_appended_without_the_lock_while_init_appends_are_never_lost(
    tmp_path: Path, monkeypatch
):
    append = init_target.append
    appender: list[subprocess.Popen[str]] = []

    def after_others_appended(held: init_target.Locked, data: bytes) -> None:
        # Hold the window between init's read and its write open until the appender has
        # added lines in it (the lines a rename-replace used to lose), or has finished.
        while os.stat(held.path).st_size < len(held.data) + 64 and appender[-1].poll() is None:
            time.sleep(0.001)
        append(held, data)

    monkeypatch.setattr(init_target, "append", after_others_appended)
    for iteration in range(ITERATIONS):
        root = tmp_path / str(iteration)
        root.mkdir()
        env, stop = root / ".env", root / "stop"
        env.write_text("BASE=1\n")
        examples = []
        for n in range(3):  # each example adds one more key: every init appends
            example = root / f"example{n}"
            example.write_text("".join(f"K{k}=v\n" for k in range(n + 1)))
            examples.append(example)
        proc = subprocess.Popen(
            ["bash", "-c", APPENDER, str(env), str(stop)], stdout=subprocess.PIPE, text=True
        )
        appender.append(proc)
        try:
            _wait_for(env, "LINE_1=1\n", proc)
            for example in examples:
                init(str(env), str(example))
        finally:
            stop.touch()
            appended = int(proc.communicate(timeout=60)[0])
        lines = Counter(env.read_text().splitlines())
        expected = {f"LINE_{i}=1" for i in range(1, appended + 1)}
        got = {line for line in lines if line.startswith("LINE_")}
        assert got == expected, f"iteration {iteration}: {len(expected - got)} lines lost"
        assert all(lines[line] == 1 for line in expected)
        assert [lines[f"K{k}=v"] for k in range(3)] == [1, 1, 1]
        torn = [line for line in lines if line and not WHOLE_LINE.match(line)]
        assert torn == [], f"iteration {iteration}: lines run together or cut: {torn}"


@pytest.mark.parametrize("rest_lands", ["before init looks again", "while init waits"])
def test_an_append_caught_half_done_by_inits_read_is_waited_for(
    tmp_path: Path, monkeypatch, rest_lands: str
):
    # The kernel copies `echo LINE_738=1 >> .env` into the file page by page and the size
    # grows after each page: a read at that moment ends in `LINE_73`, a last line without
    # '=' (init refused the file, seen under load). Here the file holds the first part of
    # such a write when init reads it, and the rest lands after the read.
    env, example = tmp_path / ".env", tmp_path / "example"
    lines = "BASE=1\n" + "".join(f"LINE_{i}=1\n" for i in range(1, 738))
    env.write_text(lines + "LINE_73")
    example.write_text("K0=v\n")
    reads: list[bytes] = []

    def rest_of_the_write() -> None:
        if env.read_text().endswith("LINE_73"):
            with env.open("a") as out:
                out.write("8=1\n")

    read_fd = init_target.read_fd

    def read(fd: int, limit: int) -> bytes:
        reads.append(read_fd(fd, limit))
        if rest_lands == "before init looks again":
            rest_of_the_write()
        return reads[-1]

    monkeypatch.setattr(init_target, "read_fd", read)
    if rest_lands == "while init waits":
        sleep = time.sleep

        def pause(seconds: float) -> None:
            rest_of_the_write()
            sleep(seconds)

        monkeypatch.setattr(time, "sleep", pause)
    result = init(str(env), str(example))
    assert reads[0].endswith(b"LINE_73") and reads[-1].endswith(b"LINE_738=1\n")
    assert result.added == ["K0"]
    text = env.read_text()
    assert text.startswith(lines + "LINE_738=1\n\n# Added by `periph env init`")
    assert text.endswith("\nK0=v\n")
    assert Path(result.backup).read_text() == lines + "LINE_738=1\n"


def _init_child(env: str, example: str, barrier, results) -> None:
    barrier.wait()
    try:
        result = init(env, example)
        results.put((result.created, result.raced, result.added, result.generated))
    except BaseException as exc:  # report it to the parent instead of dying silently
        results.put(("error", repr(exc)))


def _race(env: Path, example: Path, processes: int) -> list[tuple]:
    barrier, results = FORK.Barrier(processes), FORK.Queue()
    children = [
        FORK.Process(target=_init_child, args=(str(env), str(example), barrier, results))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    got = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    return got


def test_concurrent_inits_on_one_file_append_each_key_exactly_once(tmp_path: Path):
    example = tmp_path / ".env.example"
    example.write_text(EXAMPLE)
    for iteration in range(ITERATIONS):
        env = tmp_path / f"{iteration}.env"
        env.write_text("DB_HOST=db\n")
        results = _race(env, example, 3)
        assert all(r[0] is False for r in results), results
        appenders = [r for r in results if r[2]]
        assert len(appenders) == 1, f"iteration {iteration}: {results}"
        keys = Counter(re.findall(r"^(\w+)=", env.read_text(), re.M))
        assert set(keys.values()) == {1}, keys


def test_two_inits_racing_to_create_make_exactly_one_creator(tmp_path: Path):
    example = tmp_path / ".env.example"
    example.write_text(GENERATE_EXAMPLE)
    for iteration in range(ITERATIONS):
        env = tmp_path / f"{iteration}.env"
        results = _race(env, example, 2)
        created = [r for r in results if r[0] is True]
        others = [r for r in results if r[0] is False]
        assert len(created) == 1 and len(others) == 1, f"iteration {iteration}: {results}"
        assert created[0][3] == ["JWT_SECRET"]
        assert others[0][2:] == ([], []), "the other init reported keys or a generated secret"
        assert len(re.findall(r"^JWT_SECRET=[0-9a-f]{64}$", env.read_text(), re.M)) == 1
        assert list(tmp_path.glob(".periph-tmp-*")) == []


def _cli_child(root: str, name: str, barrier) -> None:
    """`periph env init` in a forked process, its stdout/stderr in files."""
    from periph_env.cli import main

    os.chdir(root)
    # pytest captures sys.stdout in the parent: give the child its own files.
    sys.stdout = open(f"{name}.out", "w")  # noqa: SIM115 (flushed before _exit)
    sys.stderr = open(f"{name}.err", "w")  # noqa: SIM115
    barrier.wait()
    code = main(["env", "init"])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def test_racing_cli_inits_both_exit_0_and_only_one_says_it_created_the_file(tmp_path: Path):
    for iteration in range(ITERATIONS):
        root = tmp_path / str(iteration)
        root.mkdir()
        (root / ".env.example").write_text(GENERATE_EXAMPLE)
        barrier = FORK.Barrier(2)
        children = [
            FORK.Process(target=_cli_child, args=(str(root), name, barrier)) for name in "ab"
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=60)
        assert [c.exitcode for c in children] == [0, 0]
        outs = sorted((root / f"{name}.out").read_text() for name in "ab")
        created = [o for o in outs if o.startswith("created .env from .env.example")]
        assert len(created) == 1, outs
        other = next(o for o in outs if o not in created)
        assert other.startswith(
            (
                ".env was created by another process meanwhile and already has every key "
                "of .env.example; appended 0 keys",
                ".env already has every key of .env.example; nothing to do",
            )
        ), other
        assert sum("generated random values" in o for o in outs) == 1


def test_init_that_finds_the_file_created_meanwhile_says_so(tmp_path, run_cli, monkeypatch):
    (tmp_path / ".env.example").write_text(GENERATE_EXAMPLE)
    fresh = init_file._fresh

    def another_init_first(*args):
        # Another init creates .env between this one's look and its create.
        subprocess.run(
            [sys.executable, "-m", "periph_env", "env", "init"], cwd=tmp_path, check=True
        )
        return fresh(*args)

    monkeypatch.setattr(init_file, "_fresh", another_init_first)
    code, out, err = run_cli("env", "init", cwd=tmp_path)
    assert (code, err) == (0, "")
    assert out == (
        ".env was created by another process meanwhile and already has every key of "
        ".env.example; appended 0 keys\n"
    )
    assert (tmp_path / ".env").read_text().count("JWT_SECRET=") == 1


def test_a_dangling_link_that_appears_before_the_create_is_not_followed(tmp_path, monkeypatch):
    (tmp_path / ".env.example").write_text(GENERATE_EXAMPLE)
    (tmp_path / "elsewhere").mkdir()
    fresh = init_file._fresh

    def link_first(*args):
        (tmp_path / ".env").symlink_to(tmp_path / "elsewhere" / "env")
        return fresh(*args)

    monkeypatch.setattr(init_file, "_fresh", link_first)
    with pytest.raises(UsageError, match="which does not exist"):
        init(str(tmp_path / ".env"), str(tmp_path / ".env.example"))
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert list(tmp_path.glob(".periph-tmp-*")) == []


def _holder(env: str, conn) -> None:
    """Hold the env file's lock until told, then append a key and release it."""
    fd = os.open(env, os.O_RDWR | os.O_APPEND)
    fcntl.flock(fd, fcntl.LOCK_EX)
    conn.send("locked")
    assert conn.recv() == "go"
    os.write(fd, b"DB_PORT=6543\n")
    fcntl.flock(fd, fcntl.LOCK_UN)
    conn.send("released")


def test_init_waits_for_the_lock_and_rereads_what_the_holder_wrote(tmp_path, monkeypatch):
    env, example = tmp_path / ".env", tmp_path / ".env.example"
    env.write_text("DB_HOST=db\n")
    example.write_text(EXAMPLE)
    ours, theirs = FORK.Pipe()
    holder = FORK.Process(target=_holder, args=(str(env), theirs))
    holder.start()
    assert ours.recv() == "locked"
    monkeypatch.setattr(init_target, "LOCK_NOTICE", 0.0)
    told: list[str] = []

    def waiting(message: str) -> None:
        told.append(message)
        ours.send("go")  # the holder appends DB_PORT and lets go
        assert ours.recv() == "released"

    result = init(str(env), str(example), on_wait=waiting)
    holder.join(timeout=60)
    assert told == [f"waiting for another process to release the lock on {env}"]
    assert "DB_PORT" not in result.added
    text = env.read_text()
    assert text.startswith("DB_HOST=db\nDB_PORT=6543\n") and text.count("DB_PORT") == 1


def test_a_lock_held_too_long_ends_in_exit_1_and_the_file_is_unchanged(ws, run_cli, monkeypatch):
    ws.write_env("DB_HOST=db\n")
    monkeypatch.setattr(init_target, "LOCK_TIMEOUT", 0.0)
    with open(ws.env, "rb") as other:  # another open file: its flock conflicts with init's
        fcntl.flock(other, fcntl.LOCK_EX)
        code, out, err = run_cli("env", "init", cwd=ws.root)
    assert (code, out) == (1, "")
    assert "another process has held the lock on .env" in err and "init did not change it" in err
    assert ws.env.read_text() == "DB_HOST=db\n"
    assert list(ws.root.glob(".env.bak.*")) == []


def test_a_file_renamed_over_the_env_file_while_init_waits_is_the_one_extended(
    tmp_path, monkeypatch
):
    env, example = tmp_path / ".env", tmp_path / ".env.example"
    env.write_text("DB_HOST=old\n")
    example.write_text(EXAMPLE)
    monkeypatch.setattr(init_target, "LOCK_NOTICE", 0.0)
    with open(env, "rb") as old:
        fcntl.flock(old, fcntl.LOCK_EX)

        def editor_saves(_message: str) -> None:
            # An editor's save: a new file renamed over the name, then the old one let go.
            (tmp_path / "new").write_text("DB_HOST=new\n")
            os.replace(tmp_path / "new", env)
            fcntl.flock(old, fcntl.LOCK_UN)

        init(str(env), str(example), on_wait=editor_saves)
        old.seek(0)
        assert old.read() == b"DB_HOST=old\n"  # the replaced file got nothing
    text = env.read_text()
    assert text.startswith("DB_HOST=new\n") and "DB_PORT=5432" in text
