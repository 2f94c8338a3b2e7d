"""Test tiers.

- unit (no marker): pure Python, seconds, no engines.
- docker / registry / k8s / stack markers: real engines, brought up once per session by the
  fixtures in tests/fixtures (the same code as ``periph testenv up``).
- frontend marker: the frontend's own Node tooling (svelte-check, vitest, vite build).
- tui marker: pilot tests, the whole Textual app driven headless (``app.run_test``).

An engine that cannot start makes its fixtures *error*, never skip. ``scripts/test --unit``
deselects the engine tiers as a local opt-out; under CI (``CI=true``) deselecting an engine
tier or skipping any test fails the run, so a green CI always means every tier ran.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.examples import default_profile

pytest_plugins = ["tests.fixtures.engines", "tests.fixtures.kube", "tests.fixtures.node"]

# Property suites run a tenth of their examples on the fast loop and all of them under CI
# (tests/examples.py). Loaded here, before any test module's @settings is evaluated;
# hypothesis's --hypothesis-profile, applied later at configure, still wins.
settings.load_profile(default_profile())

# Every tier but unit: under CI none of them may be deselected (frontend: Node tooling,
# and tui: the whole app driven headless by Textual's pilot; neither is an engine, but
# each is as slow as one, so `--unit` leaves them out too).
ENGINE_MARKERS = (
    "docker",
    "registry",
    "k8s",
    "stack",
    "tools",
    "node",
    "browser",
    "frontend",
    "tui",
)


# A developer's shell after `eval "$(periph testenv env)"` points periph's environments at
# the test cluster; tests choose their own targets and kubeconfigs, so the suite runs the
# same in that shell as in CI. (KUBECONFIG, DOCKER_CONFIG, PERIPH_REGISTRY stay: the
# fixtures set them to the same engines.)
for _name in ("PERIPH_DEMO_CONTEXT", "PERIPH_PROD_CONTEXT"):
    os.environ.pop(_name, None)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Under CI, refuse to leave out an engine tier."""
    if not _in_ci():
        return
    dropped = sorted({m for item in items for m in ENGINE_MARKERS if item.get_closest_marker(m)})
    if dropped:
        raise pytest.UsageError(f"CI runs every tier; deselected: {', '.join(dropped)}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI, a skipped test fails the run: skips hide engines that did not start."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if _in_ci() and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {skipped} skipped test(s) count as failures", red=True)
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _fresh_secret_set() -> None:
    """Each test starts with an empty process-wide secret set (``common.redact``): the
    secrets one test's engines learnt must not mask another test's output."""
    from periph_env.common import redact

    redact.forget_all()
