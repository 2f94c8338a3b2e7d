"""``python -m peripheral_worker``: run the worker, under watchfiles when HOT_RELOAD=true."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .config import truthy
from .main import run


def main() -> None:
    """Start the worker, or a reloading supervisor around it."""
    if truthy(os.environ.get("HOT_RELOAD")):
        try:
            from watchfiles import PythonFilter, run_process
        except ImportError:
            # The prod image ships no dev-only packages: a stray HOT_RELOAD=true there
            # must not stop the worker, only the reloading.
            logging.getLogger("peripheral_worker").warning(
                "HOT_RELOAD is set but watchfiles is not installed; running without reload"
            )
            run()
            return

        # run_process restarts `run` in a fresh process on every .py change, sending
        # SIGINT first (the worker finishes its current job), and turns SIGTERM on
        # itself into a clean stop.
        run_process(Path(__file__).parent, target=run, watch_filter=PythonFilter())
    else:
        run()


if __name__ == "__main__":
    main()
