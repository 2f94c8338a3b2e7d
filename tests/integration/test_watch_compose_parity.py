"""`periph watch` and `docker compose watch` leave the container in the same state.

One small compose project (a ``debian:bookworm-slim`` stand-in service, a sync rule with
glob, directory, ``./``-relative and ``!`` ignore entries, a build context with a
``.dockerignore``) is brought up twice under two project names. The real
``docker compose watch`` follows one, periph's ``Watcher`` the other, both watching the
same host tree, so every edit below reaches both at once. Each case then compares the
two containers: a recursive listing (type, path, mode, owner, link target) plus every
file's checksum, for the paths the case touched.

The service's reload marker is never printed and its ``x-periph.reload_timeout`` is
1 s, which is also the real test that a reload without its marker ends.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from periph_env.stack import Stack, Watcher
from periph_env.stack.reload.tracker import no_marker_note
from tests.fixtures.engines import remove_project
from tests.integration.stack_engine_support import Events, remove_image, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.stack, pytest.mark.timeout(600)]

COMPOSE_CMD = ("docker", "compose")
MARKER = "never-printed-marker"
COMPOSE = """\
services:
  c:
    build: ./ctx
    image: {image}
    init: true
    stop_grace_period: 1s
    x-periph:
      reload_marker: "{marker}"
      reload_timeout: 1
    develop:
      watch:
        - action: sync
          path: ./ctx/src
          target: /app/src
          ignore:
            - "*.log"
            - cache/
            - ./tmp/
            - "!keep.log"
"""
DOCKERFILE = """\
FROM debian:bookworm-slim
RUN mkdir -p /app/src
CMD ["sleep", "infinity"]
"""
# What the container's tree looks like: one line per entry, then one per file's content.
LISTING = (
    "cd /app/src && find . -mindepth 1 -printf '%y %P %m %U:%G %l\\n' | sort"
    " && find . -type f -exec md5sum {} + | sort -k2"
)


@dataclass
class Parity:
    """The two projects over one host tree, and the two watchers on them."""

    root: Path
    compose_project: str
    periph_project: str
    periph: Stack
    events: Events
    step: int = 0

    @property
    def src(self) -> Path:
        return self.root / "ctx" / "src"

    def container(self, project: str) -> str:
        out = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert len(out) == 1, f"{project}: {out}"
        return out[0]

    def listing(self, project: str) -> list[str]:
        out = subprocess.run(
            ["docker", "exec", self.container(project), "sh", "-c", LISTING],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.splitlines()

    def settle(self) -> None:
        """Write a step marker and wait until both containers have it: every earlier edit
        has then been applied by both watchers (each applies its batches in order)."""
        self.step += 1
        (self.src / "step").write_text(f"{self.step}\n")

        def both_have_it() -> bool:
            return all(self._step_of(p) == self.step for p in self.projects)

        wait_for(both_have_it, f"step {self.step} in both containers", timeout=30, every=0.2)
        time.sleep(0.5)  # a trailing batch of the same edits (rare) lands too

    def _step_of(self, project: str) -> int | None:
        proc = subprocess.run(
            ["docker", "exec", self.container(project), "cat", "/app/src/step"],
            capture_output=True,
            text=True,
        )
        return int(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None

    @property
    def projects(self) -> tuple[str, str]:
        return self.compose_project, self.periph_project

    def compare(self, *prefixes: str) -> tuple[list[str], list[str]]:
        """(compose's entries, periph's entries) under ``prefixes``."""

        def keep(line: str) -> bool:
            path = line.split()[1]
            return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)

        return tuple(  # type: ignore[return-value]
            [line for line in self.listing(p) if keep(line)] for p in self.projects
        )


def _compose(project: str, root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMPOSE_CMD, "-p", project, "-f", str(root / "compose.yaml"), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def parity(docker_engine, compose_v2, base_images, tmp_path_factory) -> Iterator[Parity]:
    """Both projects up, `docker compose watch` on one and periph's Watcher on the other."""
    suffix = secrets.token_hex(4)
    root = tmp_path_factory.mktemp("parity")
    image = f"periph-parity-{suffix}:dev"
    (root / "ctx" / "src").mkdir(parents=True)
    (root / "ctx" / "Dockerfile").write_text(DOCKERFILE)
    (root / "ctx" / ".dockerignore").write_text("**/*.bak\n")
    (root / "compose.yaml").write_text(COMPOSE.format(image=image, marker=MARKER))
    compose_project, periph_project = f"paritycompose-{suffix}", f"parityperiph-{suffix}"
    watch: subprocess.Popen | None = None
    watcher: Watcher | None = None
    try:
        for project in (compose_project, periph_project):
            up = _compose(project, root, "up", "--detach", "--build")
            assert up.returncode == 0, up.stderr[-3000:]
        log = (root / "compose-watch.log").open("w")
        watch = subprocess.Popen(
            [
                *COMPOSE_CMD,
                "-p",
                compose_project,
                "-f",
                str(root / "compose.yaml"),
                "watch",
                "--no-up",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COMPOSE_MENU": "false"},
        )
        wait_for(
            lambda: "Watch enabled" in (root / "compose-watch.log").read_text(),
            "docker compose watch to start",
            timeout=60,
        )
        stack = Stack(
            root=root,
            compose_path=root / "compose.yaml",
            project=periph_project,
            env_file=root / ".env",
        )
        events = Events()
        watcher = Watcher(stack, events).start()
        yield Parity(root, compose_project, periph_project, stack, events)
    finally:
        if watcher is not None:
            watcher.stop()
        if watch is not None:
            watch.terminate()
            try:
                watch.wait(timeout=20)
            except subprocess.TimeoutExpired:
                watch.kill()
        for project in (compose_project, periph_project):
            remove_project(project)
        remove_image(image)


def write(path: Path, text: str = "x\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@dataclass(frozen=True)
class Case:
    name: str
    prefixes: tuple[str, ...]
    steps: tuple[Callable[[Path], None], ...]


def _vim_save(src: Path) -> None:
    """What vim does on :w with default options: probe 4913, back up, write, clean up,
    while its swap file stays next to the file."""
    target = src / "vim" / "edit.txt"
    write(src / "vim" / ".edit.txt.swp", "swap")
    write(src / "vim" / "4913", "")
    (src / "vim" / "4913").unlink()
    target.rename(src / "vim" / "edit.txt~")
    write(target, "saved by vim\n")
    (src / "vim" / "edit.txt~").unlink()


def _sed_in_place(src: Path) -> None:
    subprocess.run(["sed", "-i", "s/before/after/", str(src / "sed" / "file.txt")], check=True)


def _stage_then_move(src: Path) -> None:
    """A directory appears whole (a checkout, an unpacked archive): renamed into the tree."""
    stage = src.parent / "stage" / "appeared"
    write(stage / "x.bak", "dockerignored, but inside a directory that appeared\n")
    write(stage / "inner" / "a.txt", "a\n")
    (stage / "empty").mkdir()
    stage.rename(src / "appeared")


def _rapid(src: Path) -> None:
    for i in range(50):
        write(src / "rapid" / "r.txt", f"version {i}\n")


CASES = [
    Case("create", ("create.txt",), (lambda s: write(s / "create.txt", "created\n"),)),
    Case(
        "modify",
        ("modify.txt",),
        (lambda s: write(s / "modify.txt", "one\n"), lambda s: write(s / "modify.txt", "two\n")),
    ),
    Case(
        "delete",
        ("delete.txt",),
        (lambda s: write(s / "delete.txt"), lambda s: (s / "delete.txt").unlink()),
    ),
    # Folders first, files in a second step: a directory that appears is copied whole
    # (its own case below), so these test what the ignore entries do to changed files.
    Case(
        "glob is top-level only",
        ("glob.log", "glob"),
        (
            lambda s: write(s / "glob" / "keep.txt"),
            lambda s: (write(s / "glob.log"), write(s / "glob" / "deep.log")),
        ),
    ),
    Case(
        "directory entry",
        ("cache", "dirent"),
        (
            lambda s: ((s / "cache").mkdir(), write(s / "dirent" / "cache" / "keep.txt")),
            lambda s: (write(s / "cache" / "a.txt"), write(s / "dirent" / "cache" / "b.txt")),
        ),
    ),
    Case(
        "./-relative entry",
        ("tmp",),
        (lambda s: (s / "tmp").mkdir(), lambda s: write(s / "tmp" / "t.txt")),
    ),
    Case(
        "exclusion entry",
        ("keep.log", "other.log"),
        (lambda s: (write(s / "keep.log"), write(s / "other.log")),),
    ),
    Case(
        ".dockerignore",
        ("di",),
        (
            lambda s: write(s / "di" / "y.txt"),
            lambda s: (write(s / "di" / "x.bak"), write(s / "di" / "z.txt")),
        ),
    ),
    Case("empty directory", ("emptydir",), (lambda s: (s / "emptydir").mkdir(),)),
    Case(
        "nested directories",
        ("nested",),
        (lambda s: write(s / "nested" / "a" / "b" / "c.txt", "deep\n"),),
    ),
    Case(
        "directory deletion",
        ("rmdir",),
        (
            lambda s: write(s / "rmdir" / "x" / "y.txt"),
            lambda s: shutil.rmtree(s / "rmdir"),
        ),
    ),
    Case(
        "file rename",
        ("ren-a.txt", "ren-b.txt"),
        (
            lambda s: write(s / "ren-a.txt", "renamed\n"),
            lambda s: (s / "ren-a.txt").rename(s / "ren-b.txt"),
        ),
    ),
    Case(
        "directory rename",
        ("rdir-a", "rdir-b"),
        (
            lambda s: write(s / "rdir-a" / "sub" / "f.txt", "in a dir\n"),
            lambda s: (s / "rdir-a").rename(s / "rdir-b"),
        ),
    ),
    Case("directory that appears whole", ("appeared",), (_stage_then_move,)),
    Case("rapid rewrites", ("rapid",), (_rapid,)),
    Case(
        "vim save",
        ("vim",),
        (lambda s: write(s / "vim" / "edit.txt", "original\n"), _vim_save),
    ),
    Case(
        "sed -i",
        ("sed",),
        (lambda s: write(s / "sed" / "file.txt", "before\n"), _sed_in_place),
    ),
    Case(
        "files that look like temporaries but are not",
        ("misc",),
        (
            lambda s: (s / "misc").mkdir(),
            lambda s: (
                write(s / "misc" / ".DS_Store"),
                write(s / "misc" / "x.tmp"),
                write(s / "misc" / "plain.swp"),
            ),
        ),
    ),
    Case(
        "symlink",
        ("link",),
        (lambda s: (s / "link").mkdir() or (s / "link" / "to-create").symlink_to("../create.txt"),),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_periph_and_compose_leave_the_same_container(parity, case):
    for step in case.steps:
        step(parity.src)
        parity.settle()
    compose_side, periph_side = parity.compare(*case.prefixes)
    assert periph_side == compose_side


def reloads_since(parity: Parity, since: float, fragment: str, count: int = 1) -> list:
    """Finished reloads seen after ``since`` that name a path containing ``fragment``."""

    def found():
        hits = [e for e in list(parity.events.done) if e.seen_at >= since]
        hits = [e for e in hits if any(fragment in f for f in e.files)]
        return hits if len(hits) >= count else None

    return wait_for(found, f"{count} finished reload(s) naming {fragment}", timeout=30)


def test_a_sed_edit_is_one_reload_naming_only_the_file(parity):
    write(parity.src / "sedline" / "conf.txt", "a=1\n")
    parity.settle()
    since = time.time()
    subprocess.run(["sed", "-i", "s/1/2/", str(parity.src / "sedline" / "conf.txt")], check=True)
    reloads_since(parity, since, "sedline/")
    time.sleep(1.5)  # any other reload of this edit (a second batch) has finished too
    events = [e for e in parity.events.done if e.seen_at >= since]
    named = {f for e in events for f in e.files if "sedline" in f}
    assert named == {"ctx/src/sedline/conf.txt"}


def test_a_reload_without_its_marker_ends_after_the_timeout_and_the_next_shows(parity):
    # The folder first: a file created in a brand-new folder may be reported only as the
    # folder (copied whole), and this test looks for the file's name.
    (parity.src / "marker").mkdir()
    parity.settle()
    since = time.time()
    write(parity.src / "marker" / "one.txt")
    (first,) = reloads_since(parity, since, "marker/one.txt")
    assert first.done and first.ok and first.serving_at is None and first.synced_at
    assert first.note == no_marker_note(1, MARKER)
    since = time.time()
    write(parity.src / "marker" / "two.txt")
    (second,) = reloads_since(parity, since, "marker/two.txt")
    assert second is not first and second.done
    assert second.note == no_marker_note(1, MARKER)
