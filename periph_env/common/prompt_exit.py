"""Make the ``periph`` process end as soon as its last line is out.

A deploy printed its last line, then the process took 1.7-4 s more to end (measured on the
shared 2-core test machine): not a thread or a watch (they are stopped and joined before
the ending is printed, and ``atexit`` ran 0.014 s after the last line), but the
interpreter's finalization: its garbage collections walk every object the command loaded,
and the Kubernetes client alone is thousands of classes.

``gc.freeze()`` moves every object alive at that point into the permanent generation,
which those collections skip. The interpreter then exits the ordinary way: non-daemon
threads joined, ``finally`` blocks and ``atexit`` handlers run, streams flushed, exit code
kept. (``os._exit`` would also be quick, but it skips exactly those, and periph never
leaves that way: ``tests/unit/test_architecture.py``.)

Only the process's own invocation does this (``periph`` and ``python -m periph_env``);
``cli.main(argv)`` called in-process (the tests) leaves the collector alone.
"""

from __future__ import annotations

import gc


def quick_exit_ahead() -> None:
    """Call once the command is done and the process is about to exit: the exit's
    collections then skip everything loaded so far."""
    gc.freeze()
