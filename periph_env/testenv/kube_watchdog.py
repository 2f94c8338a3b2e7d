"""Restart the test cluster's control-plane processes when they exit, as a real one does.

kube-controller-manager and kube-scheduler exit when they lose their leader lease (an API
server stall of ~20 s is enough), and kwokctl's binary runtime never starts them again: a
Job then waits forever for a pod no controller creates. On a real control plane the
kubelet (static pods) or systemd restarts them; for the kwok cluster this watchdog does.

``kube.ensure`` starts one per cluster, in its own session (``python -m
periph_env.testenv.kube_watchdog NAME``); ``kube.stop`` stops it before deleting the
cluster, and it exits by itself once the cluster's directory is gone. Restarts go through
``kwokctl start cluster``, which starts only the components whose process is gone, in
dependency order (etcd, apiserver, controllers), under the lock ``ensure`` and ``stop``
take, so the three never act on the cluster at once. ``kube.restarts_held`` pauses it for
a test that wants a component to stay dead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

POLL_SECONDS = 1.0
FIRST_DELAY = 1.0  # a component dying again soon after a restart waits longer each time
MAX_DELAY = 30.0
CALM_SECONDS = 60.0  # this long without a death resets the delay


@dataclass
class Backoff:
    """When the next restart may run: doubling delays while components keep dying."""

    delay: float = 0.0
    not_before: float = 0.0
    last_death: float = float("-inf")

    def may_restart(self, now: float) -> bool:
        """Whether a restart is allowed at ``now``."""
        return now >= self.not_before

    def restarted(self, now: float) -> None:
        """Record a restart attempt at ``now``: the next one waits ``delay`` (doubling)."""
        if now - self.last_death > CALM_SECONDS:
            self.delay = 0.0
        self.delay = FIRST_DELAY if self.delay == 0 else min(self.delay * 2, MAX_DELAY)
        self.not_before = now + self.delay
        self.last_death = now


def check_once(
    dead: Callable[[], list[str]],
    restart: Callable[[list[str]], str | None],
    backoff: Backoff,
    now: float,
    log: Callable[[str], None],
) -> bool:
    """One round: restart the dead components if the backoff allows; True if it tried.

    ``restart`` returns None on success or why it failed (the next round tries again).
    """
    gone = dead()
    if not gone or not backoff.may_restart(now):
        return False
    backoff.restarted(now)
    started = time.monotonic()
    error = restart(gone)
    took = time.monotonic() - started
    if error is None:
        log(f"restarted {', '.join(gone)} (exited) in {took:.1f}s")
    else:
        log(f"restart of {', '.join(gone)} failed after {took:.1f}s: {error}")
    return True


def _stamp(line: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}", flush=True)


def run(name: str, poll: float = POLL_SECONDS) -> int:
    """Watch cluster ``name`` until its directory disappears; return the exit code."""
    from periph_env.testenv import kube
    from periph_env.testenv import kube_config as cfg

    with cfg.use_cluster(name):
        _stamp(f"watching cluster {name} (pid file {kube.watchdog_pid_file()})")
        backoff = Backoff()
        dead, restart = kube.dead_components, kube.restart_dead
        while (cfg.cluster_dir() / "kwok.yaml").is_file():
            if not kube.restarts_are_held():
                check_once(dead, restart, backoff, time.monotonic(), _stamp)
            time.sleep(poll)
        _stamp(f"cluster {name} deleted; exiting")
    return 0


def main(argv: Sequence[str]) -> int:
    """Entry point: ``python -m periph_env.testenv.kube_watchdog CLUSTER``."""
    if len(argv) != 1:
        print("usage: python -m periph_env.testenv.kube_watchdog CLUSTER", file=sys.stderr)
        return 2
    return run(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
