"""Exit the ``periph`` process as soon as its last line is out.

A deploy printed its last line, then the process took 1.7-4 s more to end (measured on the
shared 2-core test machine): not a thread or a watch (the rollout watch's threads are
stopped and joined before the ending is printed, and ``atexit`` ran 0.014 s after the last
line), but the interpreter's own finalization, which tears down every module and object
it loaded; the Kubernetes client alone is thousands of classes. A command line has
nothing left to do by then, so it ends the way the interpreter would minus that teardown:
its non-daemon threads joined, its streams flushed, its ``atexit`` handlers run (the
Kubernetes client's temporary certificate files are removed there), then ``os._exit``.

Only the process's own invocation exits this way (``periph`` and ``python -m
periph_env``); ``cli.main(argv)`` called in-process (the tests) returns its code as before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading


def exit_now(code: int) -> None:
    """End the process with ``code``: what the interpreter does at exit, minus finalization."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()  # as the interpreter would: a non-daemon thread is waited for
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more can be said
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)
