"""``prompt_exit.quick_exit_ahead``: the command line's exit skips the teardown collections
and still ends the ordinary way (threads joined, atexit run, output flushed, code kept)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path
    from periph_env.common.prompt_exit import quick_exit_ahead

    out = Path(sys.argv[1])
    atexit.register(lambda: out.with_suffix(".atexit").write_text("ran"))
    worker = threading.Thread(target=lambda: (time.sleep(0.2), out.write_text("joined")))
    worker.start()
    print("last line", end="")  # no newline: only the exit's flush gets it out
    quick_exit_ahead()
    sys.exit(3)
    """
)


def test_the_exit_keeps_the_code_joins_threads_flushes_and_runs_atexit(tmp_path: Path):
    marker = tmp_path / "thread.txt"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(marker)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "last line"
    assert marker.read_text() == "joined"
    assert marker.with_suffix(".atexit").read_text() == "ran"


def test_what_was_loaded_before_is_left_out_of_the_collections(tmp_path: Path):
    script = (
        "import gc; from periph_env.common.prompt_exit import quick_exit_ahead; "
        "quick_exit_ahead(); print(gc.get_freeze_count() > 1000)"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout.strip() == "True", proc.stderr
