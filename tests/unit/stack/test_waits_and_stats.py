"""Why a service waits (from compose's depends_on conditions) and stats arithmetic."""

from __future__ import annotations

from periph_env.stack.models import ServiceStatus
from periph_env.stack.stats import cpu_text, human_bytes, sample_of, sparkline
from periph_env.stack.waits import WaitTracker

DEPENDS = {"backend": {"db": "service_healthy", "migrate": "service_completed_successfully"}}


def status(name, state, health=None, code=None, cid="x"):
    return ServiceStatus(name, state, health=health, exit_code=code, container_id=cid)


def test_a_created_service_waits_for_its_first_unmet_dependency_with_the_time():
    tracker = WaitTracker(DEPENDS)
    tracker.update([status("db", "running", "starting"), status("backend", "created")], 100)
    waits = tracker.update([status("db", "running", "starting"), status("backend", "created")], 112)
    assert waits["backend"].text(112) == "waiting for db: healthy (12 s)"


def test_the_wait_moves_on_to_the_next_dependency_when_one_is_met():
    tracker = WaitTracker(DEPENDS)
    waits = tracker.update(
        [status("db", "running", "healthy"), status("migrate", "running"),
         status("backend", "created")], 5,
    )  # fmt: skip
    assert waits["backend"].text(5) == "waiting for migrate: completed (0 s)"


def test_a_failed_one_shot_dependency_shows_the_wait_is_blocked():
    tracker = WaitTracker(DEPENDS)
    waits = tracker.update(
        [status("db", "running", "healthy"), status("migrate", "exited", code=1),
         status("backend", "created")], 5,
    )  # fmt: skip
    assert waits["backend"].text(5) == "blocked: migrate failed (exit 1)"


def test_a_dependency_that_restarts_is_waited_for_again_from_zero():
    tracker = WaitTracker(DEPENDS)
    tracker.update([status("db", "running", "starting"), status("backend", "created")], 0)
    done = [status("db", "running", "healthy"), status("migrate", "exited", code=0)]
    assert tracker.update([*done, status("backend", "running")], 10) == {}
    restarting = [status("db", "running", "starting"), status("backend", "created", cid="y")]
    again = tracker.update(restarting, 50)
    assert again["backend"].text(53) == "waiting for db: healthy (3 s)"


def test_a_running_service_is_not_waiting():
    tracker = WaitTracker(DEPENDS)
    statuses = [status("db", "running", "starting"), status("backend", "running")]
    assert tracker.update(statuses, 1) == {}


def stats(total, system, usage=100 * 2**20, inactive=20 * 2**20):
    return {
        "cpu_stats": {"cpu_usage": {"total_usage": total}, "system_cpu_usage": system,
                      "online_cpus": 2},
        "memory_stats": {"usage": usage, "limit": 2**30,
                         "stats": {"total_inactive_file": inactive}},
    }  # fmt: skip


def test_cpu_is_the_containers_share_of_system_time_times_cpus():
    sample = sample_of(stats(1_500_000_000, 12_000_000_000), stats(1_000_000_000, 10_000_000_000))
    assert sample.cpu == 50.0  # 0.5 s of 2 s system time, 2 CPUs: half a core


def test_memory_leaves_out_the_reclaimable_page_cache():
    assert sample_of(stats(1, 1)).mem == 80 * 2**20


def test_the_first_reading_has_no_cpu_yet():
    assert sample_of(stats(1, 1)).cpu is None
    assert cpu_text(None) == "-"


def test_sizes_and_cpu_read_like_docker_stats():
    assert (human_bytes(80 * 2**20), human_bytes(3 * 2**30)) == ("80M", "3.0G")
    assert (cpu_text(0.25), cpu_text(150.4)) == ("0.2%", "150%")


def test_a_sparkline_scales_to_its_own_maximum_and_stays_flat_when_idle():
    assert sparkline([0, 5, 10]) == "▁▄█"
    assert sparkline([0.0, 0.1, 0.05]) == "▁▁▁"
