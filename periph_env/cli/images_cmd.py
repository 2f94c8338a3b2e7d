"""``periph build|push|images``: production images. Progress goes to stderr, the result
(text or JSON) to stdout; exit 0 ok, 1 a service failed or an engine or registry is down
or does not answer, 2 usage (bad flags, an unusable Docker config file). A call to the
engine or the registry that takes more than two seconds says what it waits for on
stderr. Imports the engine lazily.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``build``, ``push`` and ``images``."""
    build = subparsers.add_parser(
        "build",
        help="build production images, skipping services whose inputs did not change",
        description="Build each service's prod image as <registry>/peripheral-<svc>, tagged "
        ":<branch>, :<git-sha> and a content tag; a service whose content tag exists "
        "locally or in the registry is reported unchanged and not rebuilt.",
    )
    build.add_argument("services", nargs="*", metavar="SERVICE", help="default: every service")
    build.add_argument("--branch", help="branch tag (default: the current git branch)")
    build.add_argument("--push", action="store_true", help="push and record the digests")
    build.add_argument(
        "--pin",
        metavar="ENV",
        help="write the pushed digests into k8s/overlays/ENV/release (implies --push)",
    )
    build.add_argument(
        "--allow-dirty",
        action="store_true",
        help="allow demo/prod tags from uncommitted changes",
    )
    build.add_argument("-j", "--jobs", type=_positive, help="parallel builds (default: cores)")
    build.add_argument(
        "--no-cache", action="store_true", help="rebuild every service without the layer cache"
    )
    build.add_argument("-v", "--verbose", action="store_true", help="print every build line")
    build.add_argument("--format", choices=("text", "json"), default="text")
    build.set_defaults(handler=run_build)

    push = subparsers.add_parser(
        "push", help="push the last recorded build of each service and record its digest"
    )
    push.add_argument("services", nargs="*", metavar="SERVICE", help="default: every service")
    push.add_argument("-j", "--jobs", type=_positive, help="parallel pushes (default: cores)")
    push.add_argument("--format", choices=("text", "json"), default="text")
    push.set_defaults(handler=run_push, verbose=False)

    images = subparsers.add_parser(
        "images", help="local and registry images of each service: tags, digests, sizes, ages"
    )
    images.add_argument("--format", choices=("text", "json"), default="text")
    images.set_defaults(handler=run_images)


def _speak() -> None:
    """Show waits longer than two seconds (``waiting for the registry at … (3 s)…``)."""
    from periph_env.common.waiting import set_reporter

    set_reporter(lambda line: print(f"[periph] {line}", file=sys.stderr, flush=True))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _follow(events, verbose: bool) -> tuple[list, bool]:
    """Print progress lines to stderr; return the per-service results and whether
    pinning failed."""
    from periph_env.images.models import Done, Failed, OutputLine, PushProgress
    from periph_env.images.pipeline import PIN_EVENT

    results = []
    pin_failed = False
    for event in events:
        if isinstance(event, Done):
            results.append(event.result)
            continue  # the summary on stdout says it
        if isinstance(event, (OutputLine, PushProgress)) and not verbose:
            continue
        if isinstance(event, Failed) and event.service == PIN_EVENT:
            pin_failed = True
        print(f"[periph] {event.line()}", file=sys.stderr, flush=True)
    return results, pin_failed


def _print_results(results, fmt: str, order: list[str]) -> None:
    results = sorted(results, key=lambda r: order.index(r.service) if r.service in order else 99)
    if fmt == "json":
        print(json.dumps([r.to_json() for r in results], indent=2))
        return
    for r in results:
        status = f"{r.status} ({r.where})" if r.where else r.status
        line = f"{r.service:<10} {status:<21} {r.seconds:6.1f}s"
        if r.digest:
            line += f"  {r.digest[:19]}…"
        print(line)
        if r.tags:
            print(f"{'':<10} tags: {', '.join(t.rsplit(':', 1)[1] for t in r.tags)}")
        if r.status == "built" and r.changed:
            print(f"{'':<10} changed: {', '.join(r.changed)}")
        if r.error:
            where = f" ({r.step})" if r.step else ""
            print(f"{'':<10} error{where}: {r.error}")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print(", ".join(f"{n} {status}" for status, n in counts.items()) or "no services")


def run_build(args: argparse.Namespace) -> int:
    """``periph build``: exit 0 when every service is built or unchanged, else 1."""
    from periph_env.common import find_project_root
    from periph_env.images.pipeline import BuildOptions, build

    root = find_project_root()
    _speak()
    options = BuildOptions(
        services=args.services or None,
        branch=args.branch,
        push=args.push,
        pin=args.pin,
        allow_dirty=args.allow_dirty,
        jobs=args.jobs,
        no_cache=args.no_cache,
    )
    results, pin_failed = _follow(build(root, options), args.verbose)
    _print_results(results, args.format, args.services or [r.service for r in results])
    return 1 if pin_failed or any(r.status == "failed" for r in results) else 0


def run_push(args: argparse.Namespace) -> int:
    """``periph push``: exit 0 when every service was pushed and verified, else 1."""
    from periph_env.common import find_project_root
    from periph_env.images.pipeline import push

    root = find_project_root()
    _speak()
    results, _ = _follow(push(root, args.services or None, jobs=args.jobs), args.verbose)
    _print_results(results, args.format, args.services or [r.service for r in results])
    return 1 if any(r.status == "failed" for r in results) else 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def run_images(args: argparse.Namespace) -> int:
    """``periph images``: what is here and what is in the registry, per service; exit 1
    (after the listing) when the registry could not be listed."""
    from periph_env.common import find_project_root
    from periph_env.images.listing import list_images

    _speak()
    listing = list_images(find_project_root())
    failed = 1 if any(s.remote_error for s in listing) else 0
    if args.format == "json":
        print(json.dumps([s.to_json() for s in listing], indent=2))
        return failed
    for s in listing:
        print(f"{s.service} ({s.repository})")
        for where, rows in (("local", s.local), ("registry", s.remote)):
            if where == "registry" and s.remote_error:
                print(f"  registry: unavailable: {s.remote_error}")
                continue
            if not rows:
                print(f"  {where}: none")
            for row in rows:
                ident = row.digest if where == "registry" else (row.id or "")[:19]
                tags = ", ".join(row.tags) or "<untagged>"
                print(f"  {where:<8} {tags}  {ident}  {_size(row.size)}  {_age(row.age_seconds)}")
    return failed
