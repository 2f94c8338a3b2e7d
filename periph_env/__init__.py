"""periph: a local-first development environment manager for the Peripheral platform.

The package is a core library (``env``, ``testenv`` and, later, ``stack``, ``reload``,
``images``, ``deploy``) with thin front ends over it (``cli``, ``tui``). Core modules never
import Textual; ``tests/unit/test_architecture.py`` enforces it.
"""

# The built-in module, not ``signal`` (a Python module that imports enum): the handler
# below is installed as early as possible, and every import before it is a window in
# which ctrl+c still prints the interpreter's traceback.
import _signal
import os as _os
import sys as _sys

__version__ = "0.1.0"


def quiet_interrupt(_signum: int, _frame: object) -> None:
    """ctrl+c before a command runs (start-up, imports, exit): one line, then periph ends
    by the signal itself (a shell shows 130).

    Not an exception: one raised here can land in a weakref callback of the import system
    and be swallowed ("Exception ignored in ..."), and the ctrl+c would be lost.
    """
    _os.write(2, b"periph: interrupted\n")
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    _os.kill(_os.getpid(), _signal.SIGINT)


# The ``periph`` script's first line imports this package: from here on, a ctrl+c during
# the imports that follow (tens of milliseconds) exits with one line, not a traceback.
# Only in the periph process itself (a test importing the package keeps its own handler);
# ``periph_env.cli`` turns ctrl+c back into KeyboardInterrupt while a command runs (so that
# a deploy records where it was interrupted), see ``interruptible``.
def _is_periph_process() -> bool:
    # ``python -m periph_env``: argv[0] is still "-m" while runpy imports this package, so
    # the original command line tells; "__main__.py" alone would also match ``python -m
    # pytest`` importing periph_env, and take its ctrl+c away.
    orig = getattr(_sys, "orig_argv", [])
    if "-m" in orig and orig[orig.index("-m") + 1 :][:1] == ["periph_env"]:
        return True
    return _os.path.basename(_sys.argv[0] if _sys.argv else "") == "periph"


if _is_periph_process() and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    _signal.signal(_signal.SIGINT, quiet_interrupt)


def interruptible() -> object:
    """Context manager: ctrl+c raises KeyboardInterrupt inside (a command's own handling),
    and is quiet again after. A no-op where the quiet handler is not installed."""
    import contextlib

    @contextlib.contextmanager
    def switched():  # type: ignore[no-untyped-def]
        quiet = _signal.getsignal(_signal.SIGINT) is quiet_interrupt
        if quiet:
            _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        try:
            yield
        finally:
            if quiet:
                _signal.signal(_signal.SIGINT, quiet_interrupt)

    return switched()


def stop_on_interrupt(stop: object) -> object:
    """Context manager for commands that run until ctrl+c (``logs -f``, ``watch``): inside,
    SIGINT sets the ``threading.Event`` ``stop`` rather than raising KeyboardInterrupt.

    Why: a KeyboardInterrupt raised while a lazy import runs (the kubernetes client, under
    load: seconds) can land in a weakref callback and be swallowed, and the command then
    runs on; an event cannot be lost. Outside the main thread it is a no-op (no signals).
    """
    import contextlib
    import threading

    @contextlib.contextmanager
    def switched():  # type: ignore[no-untyped-def]
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(_signum: int, _frame: object) -> None:
            # Set from a thread: the handler runs in the main thread, which may hold the
            # event's own lock at that moment (inside ``stop.wait``); setting it here could
            # deadlock on that lock.
            threading.Thread(target=stop.set, name="periph-ctrl-c", daemon=True).start()  # type: ignore[attr-defined]

        before = _signal.getsignal(_signal.SIGINT)
        _signal.signal(_signal.SIGINT, handler)
        try:
            yield
        finally:
            _signal.signal(_signal.SIGINT, before)

    return switched()


def wait_for_ctrl_c() -> None:
    """Block until ctrl+c (``stop_on_interrupt``: an event, never a lost interrupt); what
    a command that runs until stopped (``watch``, ``logs -f``) waits on."""
    import threading

    stop = threading.Event()
    try:
        with stop_on_interrupt(stop):  # type: ignore[attr-defined]
            stop.wait()
    except KeyboardInterrupt:  # one that landed before the handler was in place
        pass
