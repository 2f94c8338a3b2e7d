"""Real engines for tests, CI and demos: Docker, Compose v2, a registry, base images, Kubernetes.

Each component is a module with the same three functions::

    ensure(log) -> Info   # idempotent: reuse what runs, start what is missing, return its facts
    status() -> str       # one line for `testenv status`
    stop(log) -> None     # stop only what periph itself started (recorded in the state dir)

``python -m periph_env.testenv up|down|status`` (or ``periph testenv ...``) drives them in
dependency order; the pytest fixtures in ``tests/fixtures`` call the same ``ensure``.
"""

from periph_env.testenv.state import CACHE_DIR, STATE_DIR, Log

__all__ = ["CACHE_DIR", "STATE_DIR", "Log"]
