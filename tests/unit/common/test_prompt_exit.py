"""``prompt_exit.exit_now``: the command line ends as the interpreter would, minus teardown."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path
    from periph_env.common.prompt_exit import exit_now

    out = Path(sys.argv[1])
    atexit.register(lambda: out.with_suffix(".atexit").write_text("ran"))
    worker = threading.Thread(target=lambda: (time.sleep(0.2), out.write_text("joined")))
    worker.start()
    print("last line", end="")  # no newline: only a flush gets it out
    exit_now(3)
    """
)


def test_exit_now_keeps_the_exit_code_joins_threads_flushes_and_runs_atexit(tmp_path: Path):
    marker = tmp_path / "thread.txt"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(marker)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "last line"
    assert marker.read_text() == "joined"
    assert marker.with_suffix(".atexit").read_text() == "ran"
