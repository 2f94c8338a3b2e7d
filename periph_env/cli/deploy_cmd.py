"""``periph deploy|rollout|rollback|history`` (and ``periph logs --env``): thin layer over
``periph_env.deploy``, imported lazily inside the handlers."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

ENVIRONMENTS = ("demo", "prod")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``deploy``, ``rollout``, ``rollback`` and ``history``."""
    deploy = subparsers.add_parser(
        "deploy",
        help="deploy to demo or prod: guarded, migrations first, watched, recorded",
        description="Deploy the images pinned in k8s/overlays/<env>/release. Every guard is "
        "checked first; exit 0 rolled out, 1 rollout failed (or rolled back), 2 refused/usage.",
    )
    deploy.add_argument("environment", choices=ENVIRONMENTS)
    deploy.add_argument("--yes", action="store_true", help="confirm a production deploy")
    deploy.add_argument("--dry-run", action="store_true", help="stop after the change summary")
    deploy.add_argument(
        "--auto-rollback",
        action="store_true",
        help="on a failed rollout, return every Deployment to its previous revision",
    )
    deploy.add_argument(
        "--prune",
        action="store_true",
        help="delete periph-labelled objects the overlay no longer renders "
        "(never Namespaces or PersistentVolumeClaims)",
    )
    deploy.add_argument(
        "--allow-branch",
        action="store_true",
        help="deploy from another branch (only where the environment allows it: demo)",
    )
    deploy.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="rollout watch limit (default: "
        "the longest progressDeadlineSeconds + 60)",
    )  # fmt: skip
    deploy.add_argument(
        "--verify",
        action="store_true",
        help="after the rollout: smoke checks and an error-rate watch ([verify] in periph.toml); "
        "a bad result fails the deploy (with --auto-rollback: rolls back)",
    )
    deploy.add_argument(
        "--watch-window", type=_duration, metavar="DURATION",
        help="error-rate watch length, e.g. 90s, 5m (implies --verify; default: [verify] "
        "watch_window)",
    )  # fmt: skip
    _force_schema_flag(deploy, "deploy")
    deploy.add_argument(
        "--canary",
        action="store_true",
        help="first run one pod of the new backend beside the old ones, judge its 5xx ratio "
        "against theirs, then promote (the normal rollout) or abort (only the canary removed)",
    )
    deploy.add_argument(
        "--canary-window", type=_canary_window, metavar="DURATION",
        help="how long the canary is watched, e.g. 2m (implies --canary; default: [verify] "
        "watch_window)",
    )  # fmt: skip
    _wait_flag(deploy, "deploy")
    deploy.add_argument("--format", choices=("text", "json"), default="text")
    deploy.set_defaults(handler=run_deploy)

    verify = subparsers.add_parser(
        "verify",
        help="smoke checks and error-rate watch on what is deployed to demo or prod",
        description="Exit 0 when every check passes and the 5xx ratio stays under the "
        "threshold for the watch window, 1 otherwise.",
    )
    verify.add_argument("environment", choices=ENVIRONMENTS)
    verify.add_argument(
        "--watch-window", type=_duration, metavar="DURATION",
        help="error-rate watch length, e.g. 90s, 5m; 0 runs only the checks",
    )  # fmt: skip
    _wait_flag(verify, "verify")
    verify.add_argument("--format", choices=("text", "json"), default="text")
    verify.set_defaults(handler=run_verify)

    rollout = subparsers.add_parser("rollout", help="rollout status of an environment")
    actions = rollout.add_subparsers(dest="rollout_action", metavar="ACTION")
    status = actions.add_parser("status", help="watch until every Deployment is rolled out")
    status.add_argument("environment", choices=ENVIRONMENTS)
    status.add_argument("--timeout", type=float, metavar="SECONDS")
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.set_defaults(handler=run_rollout_status)
    rollout.set_defaults(handler=lambda _a: _usage(rollout))

    back = subparsers.add_parser(
        "rollback", help="return an environment's Deployments to an earlier revision"
    )
    back.add_argument("environment", choices=ENVIRONMENTS)
    back.add_argument(
        "--to-revision",
        type=int,
        metavar="N",
        help="deploy number from `periph history` (default: each Deployment's previous revision)",
    )
    _force_schema_flag(back, "rollback")
    _wait_flag(back, "rollback")
    back.add_argument("--format", choices=("text", "json"), default="text")
    back.set_defaults(handler=run_rollback)

    hist = subparsers.add_parser("history", help="deploy history, as recorded in the cluster")
    hist.add_argument("environment", choices=ENVIRONMENTS)
    hist.add_argument("--format", choices=("text", "json"), default="text")
    hist.set_defaults(handler=run_history)


def _force_schema_flag(parser: argparse.ArgumentParser, action: str) -> None:
    parser.add_argument(
        "--force-schema",
        action="store_true",
        help=f"{action} even when the code it moves to does not know a contract migration the "
        "database has applied (or the schema cannot be read); refused with exit 2 otherwise",
    )


def _wait_flag(parser: argparse.ArgumentParser, action: str) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help=f"when another deploy, rollback or verify of the environment runs, wait for it "
        f"(saying for whom) instead of refusing with exit 2; then {action}",
    )


def _duration(value: str) -> float:
    from periph_env.deploy.verify_config import parse_duration
    from periph_env.errors import UsageError

    try:
        return parse_duration(value, "--watch-window")
    except UsageError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration (e.g. 90s, 5m)") from None


def _canary_window(value: str) -> float:
    seconds = _duration(value)
    if seconds <= 0:  # a canary judged on nothing would be aborted as "too few requests"
        raise argparse.ArgumentTypeError(f"{value!r}: a canary needs a window above zero")
    return seconds


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _root():
    from periph_env.common.paths import find_project_root

    return find_project_root()


def _print(text: str) -> None:
    print(text, flush=True)


def _text(event: Any) -> str | None:
    """One event as the lines a person reads (None: nothing to show)."""
    from periph_env.deploy import events as e

    if isinstance(event, e.Step):
        return f"== {event.name}"
    if isinstance(event, e.Note):
        return f"   {event.text}"
    if isinstance(event, e.GuardResult):
        line = f"   {'ok  ' if event.ok else 'FAIL'} {event.name}: {event.message}"
        return line + (f"\n        hint: {event.hint}" if event.hint and not event.ok else "")
    if isinstance(event, e.Summary):
        lines = []
        for img in event.images:
            lines.append(
                f"   image {img.workload}/{img.container}: {img.old or '(new)'} -> {img.new}"
            )
        counts: dict[str, int] = {}
        for obj in event.objects:
            counts[obj.action] = counts.get(obj.action, 0) + 1
            if obj.action != "unchanged":
                fields = f" ({', '.join(obj.fields)})" if obj.fields else ""
                lines.append(f"   {obj.action:8} {obj.kind}/{obj.name}{fields}")
        order = ("added", "changed", "removed", "unchanged")
        lines.append("   " + ", ".join(f"{counts.get(a, 0)} {a}" for a in order))
        return "\n".join(lines)
    if isinstance(event, e.MigrationResult):
        text = f"   {'ok  ' if event.ok else 'FAIL'} {event.message}"
        if event.logs:
            text += "\n" + "\n".join(f"      | {line}" for line in event.logs.splitlines())
        return text
    if isinstance(event, e.DeploymentProgress):
        return (
            f"   {event.name}: {event.updated}/{event.desired} updated, {event.ready} ready, "
            f"{event.available} available, {event.old_replicas} old"
        )
    if isinstance(event, e.PodProblem):
        return f"   ! {event.deployment} pod/{event.pod}: {event.reason}: {event.message}"
    if isinstance(event, e.RolloutVerdict):
        text = f"   {'ok  ' if event.ok else 'FAIL'} {event.message}"
        if event.logs:
            text += "\n" + "\n".join(f"      | {line}" for line in event.logs.splitlines())
        return text
    if isinstance(event, e.RolledBack):
        return f"   {'rolled back' if event.ok else 'ROLLBACK INCOMPLETE'}: {event.message}"
    if isinstance(event, e.VerifyCheck):
        mark = "ok  " if event.ok else "FAIL"
        return f"   {mark} {event.name} GET {event.target}: {event.message}"
    if isinstance(event, e.ErrorRateSample):
        ratio = "-" if event.ratio is None else f"{event.ratio:.1%}"
        return (
            f"   {'FAIL' if event.failed else '    '} error rate {ratio} at {event.elapsed:.0f}"
            f"/{event.window:.0f}s, {event.pods} pod(s), {event.restarts} restart(s): "
            f"{event.message}"
        )
    if isinstance(event, e.CanarySample):

        def pct(ratio: float | None) -> str:
            return "-" if ratio is None else f"{ratio:.1%}"

        return (
            f"   {'FAIL' if event.failed else '    '} canary {pct(event.canary_ratio)} of "
            f"{event.canary_requests:.0f} vs baseline {pct(event.baseline_ratio)} of "
            f"{event.baseline_requests:.0f} at {event.elapsed:.0f}/{event.window:.0f}s: "
            f"{event.message}"
        )
    if isinstance(event, e.VerifyVerdict):
        return f"   {'verified' if event.ok else 'NOT VERIFIED'}: {event.message}"
    if isinstance(event, e.Notified):
        return f"   notified {event.channel}" + ("" if event.ok else f" FAILED: {event.error}")
    if isinstance(event, e.Finished):
        rev = f" (history #{event.revision})" if event.revision else ""
        return f"{event.result.upper()} in {event.seconds:.1f}s{rev}: {event.message}".rstrip(": ")
    return None


def _drive(events: Any, fmt: str, environment: str, action: str) -> int:
    """Print (text) or collect (json) the events; return the Finished event's exit code.

    An error raised in any step (the summary's dry-run, a guard, the API server gone) ends
    the run like a Finished event would: JSON still prints one document, with the step it
    failed in and the (masked) error; text prints the step, then the error, as ``main``
    would.
    """
    from periph_env.deploy.events import Finished, Step
    from periph_env.errors import PeriphError

    collected: list[dict[str, Any]] = []
    code = 1
    step = ""
    error: PeriphError | None = None
    try:
        # Closed on ctrl+c or an error here: the run's own cleanup (its history record, the
        # environment's lock) happens now, not whenever the generator is collected.
        with contextlib.ExitStack() as stack:
            if hasattr(events, "close"):
                stack.callback(events.close)
            for event in events:
                if isinstance(event, Step):
                    step = event.name
                if isinstance(event, Finished):
                    code = event.exit_code
                if fmt == "json":
                    collected.append(event.as_dict())
                else:
                    if isinstance(event, Finished) and event.error:
                        # An error ended the run: said as periph says every error (stderr),
                        # then the ending line (stdout, its last line).
                        where = f" in step {step}" if step else ""
                        print(f"periph: error{where}: {event.error}", file=sys.stderr, flush=True)
                    text = _text(event)
                    if text is not None:
                        _print(text)
                    if isinstance(event, Finished) and event.hint:
                        # After the ending, as an error's hint always is: on stderr.
                        print(f"hint: {event.hint}", file=sys.stderr, flush=True)
    except PeriphError as exc:
        error, code = exc, exc.exit_code
    if fmt == "json":
        final = collected[-1] if collected and error is None else {}
        document: dict[str, Any] = {
            "environment": environment,
            "action": action,
            "result": final.get("result") if error is None else "failed",
            "exit_code": code,
            "step": step,
            "events": collected,
        }
        if error is not None:
            document["error"] = _masked(environment, error.message)
            document["hint"] = error.hint and _masked(environment, error.hint)
        elif final.get("error"):  # an error that ended the run (masked by the run)
            document["error"], document["hint"] = final["error"], final.get("hint") or None
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return code
    if error is not None:
        where = f" in step {step}" if step else ""
        print(f"periph: error{where}: {_masked(environment, str(error))}", file=sys.stderr)
    return code


def _masked(environment: str, text: str) -> str:
    """``text`` with the environment's secret values masked (the errors are masked where
    they are raised; this is the last line of defence before the terminal)."""
    from periph_env.deploy.migrate import mask
    from periph_env.deploy.sources import read_source
    from periph_env.deploy.target import resolve

    try:
        secrets = read_source(resolve(_root(), environment)).secret_values()
    except Exception:  # no source, no project: nothing more to mask with
        return text
    return mask(text, secrets)


def run_deploy(args: argparse.Namespace) -> int:
    """``periph deploy ENV``: 0 rolled out, 1 failed or rolled back, 2 refused."""
    from periph_env.deploy import Options, deploy

    options = Options(
        yes=args.yes,
        dry_run=args.dry_run,
        auto_rollback=args.auto_rollback,
        prune=args.prune,
        allow_branch=args.allow_branch,
        rollout_timeout=args.timeout,
        verify=args.verify or args.watch_window is not None,
        watch_window=args.watch_window,
        wait=args.wait,
        force_schema=args.force_schema,
        canary=args.canary or args.canary_window is not None,
        canary_window=args.canary_window,
    )
    return _drive(
        deploy(_root(), args.environment, options), args.format, args.environment, "deploy"
    )


def run_verify(args: argparse.Namespace) -> int:
    """``periph verify ENV``: 0 verified, 1 a check failed or the error rate is too high."""
    from periph_env.deploy.verify_stage import verify_environment

    events = verify_environment(_root(), args.environment, args.watch_window, wait=args.wait)
    return _drive(events, args.format, args.environment, "verify")


def run_rollout_status(args: argparse.Namespace) -> int:
    """``periph rollout status ENV``: 0 when every Deployment is rolled out, 1 if one failed."""
    from periph_env.deploy import rollout_status

    events = rollout_status(_root(), args.environment, args.timeout)
    return _drive(events, args.format, args.environment, "rollout-status")


def run_rollback(args: argparse.Namespace) -> int:
    """``periph rollback ENV [--to-revision N]``."""
    from periph_env.deploy import rollback_environment

    events = rollback_environment(
        _root(),
        args.environment,
        args.to_revision,
        wait=args.wait,
        force_schema=args.force_schema,
    )
    return _drive(events, args.format, args.environment, "rollback")


def run_history(args: argparse.Namespace) -> int:
    """``periph history ENV``: newest first."""
    from periph_env.deploy import read_history

    records = read_history(_root(), args.environment)
    if args.format == "json":
        sys.stdout.write(json.dumps([r.as_dict() for r in records], indent=2) + "\n")
        return 0
    if not records:
        _print(f"no deploys recorded for {args.environment}")
        return 0
    _print(
        f"{'#':>4}  {'action':8}  {'status':11}  {'started (UTC)':25}  {'took':>6}  "
        f"{'commit':12}  by"
    )
    for r in records:
        took = f"{r.duration:.0f}s" if r.duration is not None else "-"
        number = str(r.revision) if r.revision else "?"
        row = (
            f"{number:>4}  {r.action:8}  {r.status:11}  {r.started:25}  {took:>6}  "
            f"{r.git_sha[:12] or '-':12}  {r.user}"
        )
        _print(_printable(row))
        for line in r.message.splitlines():
            _print(f"      {_printable(line)}")
        if r.schema.get("left_applied"):
            forced = " (--force-schema)" if r.schema.get("forced") else ""
            left = ", ".join(str(n) for n in r.schema["left_applied"])
            _print(f"      schema: left {_printable(left)} applied{forced}")
    return 0


def _printable(text: str) -> str:
    """``text`` with control characters shown escaped (a record is data from the cluster:
    it must not drive the terminal)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def env_logs(args: argparse.Namespace) -> int:
    """``periph logs --env demo|prod [SERVICE...] [-f]``: every replica, following new pods."""
    from periph_env.deploy.logs import follow, tail
    from periph_env.deploy.session import kube_for
    from periph_env.deploy.target import resolve

    target = resolve(_root(), args.env)
    kube = kube_for(target)
    services = list(getattr(args, "services", None) or [])
    if getattr(args, "follow", False):
        import threading

        from periph_env import stop_on_interrupt

        stop = threading.Event()
        try:
            with stop_on_interrupt(stop):
                follow(kube, services, _print, stop=stop, notice=kube.notice)
        except KeyboardInterrupt:
            return 0
        return 0
    count = tail(kube, services, _print)
    if count == 0:
        print(f"periph: no pods for {', '.join(services) or 'the stack'} in {target.namespace}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


# The events printer, public for the other commands that drive deploy runs (preview_cmd).
drive_events = _drive
