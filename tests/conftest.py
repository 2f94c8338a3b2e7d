"""Test tiers.

- unit (no marker): pure Python, seconds, no engines.
- docker / registry / k8s / stack markers: real engines, brought up once per session by the
  fixtures in tests/fixtures (the same code as ``periph testenv up``).

An engine that cannot start makes its fixtures *error*, never skip. ``PERIPH_TIERS=unit``
(set by ``scripts/test --unit``) is a local opt-out only.
"""

pytest_plugins = ["tests.fixtures.engines", "tests.fixtures.kube"]
