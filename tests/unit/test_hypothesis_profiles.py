"""The property suites' two loops: a tenth of the examples on save, all of them in CI."""

from __future__ import annotations

import pytest
from hypothesis import settings

from tests.examples import default_profile, examples


@pytest.fixture
def profile():
    """Load a profile for one test and put the session's back afterwards."""
    before = settings.get_current_profile_name()
    yield settings.load_profile
    settings.load_profile(before)


def test_ci_runs_the_thorough_profile(monkeypatch):
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    monkeypatch.setenv("CI", "true")
    assert default_profile() == "thorough"


def test_a_developer_machine_runs_the_fast_profile(monkeypatch):
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert default_profile() == "fast"


def test_hypothesis_profile_overrides_the_choice(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "fast")
    assert default_profile() == "fast"


def test_thorough_runs_every_example_a_suite_names(profile):
    profile("thorough")
    assert [examples(n) for n in (25, 60, 200)] == [25, 60, 200]


def test_fast_runs_a_tenth_and_never_fewer_than_five(profile):
    profile("fast")
    assert [examples(n) for n in (3, 25, 60, 200)] == [3, 5, 6, 20]
