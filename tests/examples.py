"""How many examples a property test runs: hypothesis profiles for the two loops.

- ``fast`` (the default on a developer's machine): a tenth of each suite's examples, at
  least ``FLOOR``. The unit tier is run on every save; a property suite there is a smoke
  test of its generator and of the property, not the search for a rare input.
- ``thorough`` (CI, ``CI=true``; or ``HYPOTHESIS_PROFILE=thorough`` /
  ``--hypothesis-profile=thorough``): every suite runs the number of examples it names.

A suite names its full count with ``examples(n)``: hypothesis lets an explicit
``@settings(max_examples=…)`` win over any profile, so the scaling has to happen where the
count is written. The profile is loaded by ``tests/conftest.py`` before any test module
is imported (``--hypothesis-profile`` is applied then too), so ``examples`` sees it.
"""

from __future__ import annotations

import os

from hypothesis import settings

FULL = 100  # the thorough profile's max_examples: a suite's own count runs unscaled
FAST = 10  # the fast profile's: a tenth
FLOOR = 5  # fewer than this would hardly exercise a generator at all

settings.register_profile("thorough", max_examples=FULL)
settings.register_profile("fast", max_examples=FAST)


def default_profile() -> str:
    """``thorough`` under CI, ``fast`` elsewhere; ``HYPOTHESIS_PROFILE`` overrides both."""
    chosen = os.environ.get("HYPOTHESIS_PROFILE")
    if chosen:
        return chosen
    return "thorough" if os.environ.get("CI", "").lower() == "true" else "fast"


def examples(full: int) -> int:
    """``full`` examples under the thorough profile, scaled down (never below ``FLOOR``)
    under the fast one."""
    return max(min(FLOOR, full), full * settings.default.max_examples // FULL)
