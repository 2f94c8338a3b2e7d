"""The stack commands' flags, exactly as issue 8 lists them, and `logs --env` routing."""

from __future__ import annotations

import sys
import types

from periph_env.cli import build_parser, main


def parse(*argv: str):
    return build_parser(only=argv[0]).parse_args(list(argv))


def test_up_flags():
    args = parse("up", "backend", "worker", "--wait", "--watch", "--build")
    assert (args.services, args.wait, args.watch, args.build) == (
        ["backend", "worker"],
        True,
        True,
        True,
    )


def test_logs_flags():
    args = parse("logs", "api", "-f", "--since", "10m", "--grep", "err", "--format", "json")
    assert (args.services, args.follow, args.since, args.grep, args.format) == (
        ["api"],
        True,
        "10m",
        "err",
        "json",
    )


def test_down_ps_watch_and_control_commands_parse():
    assert parse("down", "--volumes").volumes
    assert parse("ps", "--format", "json").format == "json"
    assert parse("watch", "frontend").services == ["frontend"]
    for verb in ("start", "stop", "restart", "rebuild"):
        args = parse(verb, "worker")
        assert (args.verb, args.services) == (verb, ["worker"])


def test_logs_env_is_handed_to_the_deploy_engine(monkeypatch):
    seen = []
    fake = types.ModuleType("periph_env.cli.deploy_cmd")
    fake.env_logs = lambda args: seen.append(args.env) or 0
    fake.register = lambda _subparsers: None
    monkeypatch.setitem(sys.modules, "periph_env.cli.deploy_cmd", fake)
    assert main(["logs", "--env", "demo"]) == 0
    assert seen == ["demo"]


def test_logs_env_without_the_deploy_engine_is_a_clear_usage_error(monkeypatch, capsys):
    fake = types.ModuleType("periph_env.cli.deploy_cmd")
    fake.register = lambda _subparsers: None
    monkeypatch.setitem(sys.modules, "periph_env.cli.deploy_cmd", fake)
    assert main(["logs", "--env", "prod"]) == 2
    assert "not available yet" in capsys.readouterr().err
