"""The testenv watchdog restarts dead control-plane components, backing off if they keep dying.

Decisions only (fake clock, fake restart); the real restart of a killed
kube-controller-manager is in tests/integration/test_deploy_chaos.py.
"""

from __future__ import annotations

import itertools

from periph_env.testenv import kube_config as cfg
from periph_env.testenv.kube_watchdog import MAX_DELAY, Backoff, check_once


def test_a_dead_component_is_restarted_and_the_restart_logged():
    restarted, lines = [], []
    tried = check_once(
        lambda: ["kube-controller-manager"], lambda dead: restarted.append(dead), Backoff(),
        now=0.0, log=lines.append,
    )  # fmt: skip
    assert tried and restarted == [["kube-controller-manager"]]
    assert lines[0].startswith("restarted kube-controller-manager (exited) in ")


def test_nothing_happens_while_every_component_runs():
    lines = []
    assert not check_once(lambda: [], lambda dead: None, Backoff(), now=0.0, log=lines.append)
    assert lines == []


def test_a_failed_restart_is_logged_with_its_reason():
    lines = []
    check_once(lambda: ["kube-scheduler"], lambda dead: "the cluster is locked", Backoff(),
               now=0.0, log=lines.append)  # fmt: skip
    assert "restart of kube-scheduler failed" in lines[0] and "the cluster is locked" in lines[0]


def test_a_component_that_keeps_dying_is_restarted_less_and_less_often():
    backoff, times = Backoff(), []
    for now in range(0, 200):
        if check_once(lambda: ["kube-scheduler"], lambda dead: None, backoff, float(now),
                      lambda line: None):  # fmt: skip
            times.append(now)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[:5] == [1, 2, 4, 8, 16] and max(gaps) <= MAX_DELAY + 1


def test_a_calm_minute_resets_the_backoff():
    backoff = Backoff()
    for now in (0.0, 1.0, 3.0, 7.0):
        backoff.restarted(now)
    backoff.restarted(200.0)
    assert backoff.not_before == 201.0


def test_use_cluster_points_every_path_at_the_named_cluster():
    before = cfg.cluster_dir()
    with cfg.use_cluster("periph-chaos"):
        assert cfg.cluster_dir().name == "periph-chaos"
        assert cfg.periph_dir().name == "periph-chaos"
        assert cfg.kwokctl_argv(cfg.bin_dir() / "kwokctl")[1:3] == ["--name", "periph-chaos"]
    assert cfg.cluster_dir() == before


def test_a_hold_lasts_while_its_holder_lives(tmp_path, monkeypatch):
    from periph_env.testenv import kube

    monkeypatch.setattr(kube.cfg, "periph_dir", lambda: tmp_path)
    assert not kube.restarts_are_held()
    with kube.restarts_held():
        assert kube.restarts_are_held()
        (tmp_path / "watchdog.hold").write_text("999999999\n")  # a holder that died
        assert not kube.restarts_are_held()
    assert not (tmp_path / "watchdog.hold").exists()
