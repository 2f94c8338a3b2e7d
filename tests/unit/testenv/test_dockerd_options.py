"""The options periph's own dockerd starts with."""

from __future__ import annotations

from pathlib import Path

from periph_env.testenv.docker_engine import DEFAULT_HOST, default_route_mtu, dockerd_argv

ROUTES = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
"""


def test_mtu_is_read_from_the_default_route_interface(tmp_path: Path) -> None:
    (tmp_path / "route").write_text(ROUTES)
    (tmp_path / "net" / "eth0").mkdir(parents=True)
    (tmp_path / "net" / "eth0" / "mtu").write_text("1400\n")
    assert default_route_mtu(tmp_path / "route", tmp_path / "net") == 1400


def test_no_default_route_means_unknown_mtu(tmp_path: Path) -> None:
    (tmp_path / "route").write_text(ROUTES.splitlines()[0] + "\n")
    assert default_route_mtu(tmp_path / "route", tmp_path / "net") is None


def test_small_mtu_is_passed_to_dockerd(tmp_path: Path) -> None:
    argv = dockerd_argv(tmp_path / "pid", 1400)
    assert argv[argv.index("--mtu") + 1] == "1400"


def test_standard_mtu_is_left_to_dockerd(tmp_path: Path) -> None:
    assert "--mtu" not in dockerd_argv(tmp_path / "pid", 1500)


def test_dockerd_listens_on_the_default_socket_without_systemd(tmp_path: Path) -> None:
    argv = dockerd_argv(tmp_path / "pid", None)
    assert argv[argv.index("--host") + 1] == DEFAULT_HOST
    assert "native.cgroupdriver=cgroupfs" in argv
    assert argv[argv.index("--pidfile") + 1] == str(tmp_path / "pid")
