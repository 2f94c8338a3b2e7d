#!/usr/bin/env python3
"""Benchmark `periph build` against plain `docker build` of the five services, side by side.

    .venv/bin/python bench/images.py             # measure, print, update docs/performance.md
    .venv/bin/python bench/images.py --runs 5 --no-write --skip-cold

Needs the test engines (`periph testenv up --tier registry`). Works on a snapshot of
services/ in a temporary git repo (others editing the tree cannot move the hashes) and a
fresh repository prefix in the test registry, so nothing is shared with other runs:

1. cold build of all five with `periph build --no-cache`, sequential (`-j 1`) then parallel
   (default: one per core), each into a prefix nothing was built for; plus the five plain
   `docker build --no-cache` in a row — what a fresh runner without periph does;
2. no-op on a warm machine: `periph build` with everything built, against the five
   cached `docker build -q` (hyperfine, same session);
3. no-op on a "fresh runner": the images pushed, every local image of the prefix removed
   before each run (hyperfine --prepare); periph must find every service in the registry.
   Base images stay: a real runner pulls them for any build, and periph hashes their IDs;
4. each prod image's size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import perfdoc

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("PERIPH_VENV", ROOT / ".venv"))
PERIPH = VENV / "bin" / "periph"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:images:start -->", "<!-- bench:images:end -->"
SERVICES = ("backend", "frontend", "worker", "db", "cache")
# service -> (context relative to the project, Dockerfile relative to the context)
BUILDS = {
    "backend": ("services", "backend/Dockerfile.prod"),
    "frontend": ("services/frontend", "Dockerfile.prod"),
    "worker": ("services/worker", "Dockerfile.prod"),
    "db": ("services/db", "Dockerfile"),
    "cache": ("services/cache", "Dockerfile"),
}
HEAVY = shutil.ignore_patterns("node_modules", ".svelte-kit", "build", "__pycache__", ".env*")
BACKEND_BASELINE_MB = 15.9
# Raw numbers of the last run (gitignored): `--skip-cold` reuses its cold builds.
RESULTS = ROOT / "bench" / "results" / "images.json"


def snapshot(work: Path) -> Path:
    """A committed copy of what `periph build` reads, in a git repo of its own."""
    project = work / "project"
    shutil.copytree(ROOT / "services", project / "services", ignore=HEAVY)
    for rel in ("periph.toml", "compose/compose.yaml", ".env.example"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, project / rel)
    git = ["git", "-c", "user.email=bench@periph", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "snapshot"], cwd=project, check=True)
    return project


def registry_env() -> dict[str, str]:
    """Credentials and address of the test registry (never printed)."""
    sys.path.insert(0, str(ROOT))
    from periph_env.testenv import registry

    user, password = registry.credentials(registry.registry_dir())
    return {
        "address": registry.address(),
        "DOCKER_USERNAME": user,
        "DOCKER_PASSWORD": password,
    }


def env_for(prefix: str, reg: dict[str, str], cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PERIPH_REGISTRY": f"{reg['address']}/{prefix}",
        "PERIPH_CACHE": str(cache),
        "DOCKER_USERNAME": reg["DOCKER_USERNAME"],
        "DOCKER_PASSWORD": reg["DOCKER_PASSWORD"],
    }


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.monotonic() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        raise SystemExit(f"bench: {' '.join(argv[:3])} failed:\n{tail}")
    return took, proc.stdout


def docker_build_argv(project: Path, service: str, tag: str, no_cache: bool) -> list[str]:
    context, dockerfile = BUILDS[service]
    argv = ["docker", "build", "-q", "-f", str(project / context / dockerfile), "-t", tag]
    return [*argv, *(["--no-cache"] if no_cache else []), str(project / context)]


def plain_builds_script(project: Path, work: Path, no_cache: bool) -> Path:
    """A shell script running the five `docker build`s in a row (hyperfine runs it)."""
    script = work / ("plain-cold.sh" if no_cache else "plain-cached.sh")
    lines = ["#!/bin/sh", "set -e"]
    for s in SERVICES:
        argv = docker_build_argv(project, s, f"periphbench-plain-{s}:latest", no_cache)
        lines.append(" ".join(argv) + " >/dev/null")
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def hyperfine(cwd: Path, cmds: dict[str, str], runs: int, env, prepare: str | None = None):
    out = cwd / "hyperfine.json"
    argv = ["hyperfine", "-N", "--warmup", "1", "--runs", str(runs), "--style", "none"]
    argv += ["--export-json", str(out)]
    if prepare:
        argv += ["--prepare", prepare]
    for name, cmd in cmds.items():
        argv += ["--command-name", name, cmd]
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return {r["command"]: r for r in json.loads(out.read_text())["results"]}


def remove_prefix_images(prefix_ref: str) -> None:
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    mine = [r for r in listed if r.startswith(prefix_ref + "/")]
    if mine:
        subprocess.run(["docker", "image", "rm", "-f", *mine], capture_output=True, check=False)


def machine() -> str:
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.exists():
        found = re.search(r"model name\s*:\s*(.+)", info.read_text())
        cpu = found.group(1).strip() if found else cpu
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average at start {load}"
    )


def statuses(stdout: str) -> dict[str, str]:
    return {r["service"]: f"{r['status']}/{r.get('where') or '-'}" for r in json.loads(stdout)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="hyperfine runs (default 10)")
    parser.add_argument(
        "--skip-cold",
        action="store_true",
        help="no cold builds (minutes); reuse the last run's from bench/results/images.json",
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    perfdoc.ensure_hyperfine()
    reg = registry_env()
    load_at_start = machine()
    prefix = f"periphbench-{secrets.token_hex(3)}"
    cold: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="periph-bench-images-") as tmp:
        work = Path(tmp)
        project = snapshot(work)
        env = env_for(prefix, reg, work / "cache")
        if not args.skip_cold:
            for label, jobs in (("sequential (-j 1)", "1"), ("parallel (default)", None)):
                cold_env = env_for(f"{prefix}-cold{jobs or 'p'}", reg, work / "cache-cold")
                argv = [str(PERIPH), "build", "--no-cache", "--format", "json"]
                argv += ["-j", jobs] if jobs else []
                cold[f"periph build --no-cache, {label}"], _ = timed(argv, project, cold_env)
                print(
                    f"bench: cold {label}: {cold[f'periph build --no-cache, {label}']:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
                remove_prefix_images(cold_env["PERIPH_REGISTRY"])
            plain_cold, _ = timed(
                ["sh", str(plain_builds_script(project, work, True))], project, env
            )
            cold["docker build --no-cache of the five, in a row"] = plain_cold
            print(
                f"bench: cold plain docker build of the five: {plain_cold:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        else:
            saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
            cold = saved.get("cold", {})
            cold_note = saved.get("cold_note", "")
        # Warm: everything built and pushed once under the bench prefix.
        timed([str(PERIPH), "build", "--push", "--format", "json"], project, env)
        plain = plain_builds_script(project, work, False)
        subprocess.run(["sh", str(plain)], check=True, env=env)
        periph_cmd = f"{PERIPH} build --format json"
        # A fresh runner in CI builds to push: `--push` must find every image in the
        # registry and push nothing (issue 23's goal is for this command).
        push_cmd = f"{PERIPH} build --push --format json"
        warm = hyperfine(
            project,
            {"periph build (no-op)": periph_cmd, "docker build x5 (cached)": f"sh {plain}"},
            args.runs,
            env,
        )
        _, out = timed([str(PERIPH), "build", "--format", "json"], project, env)
        warm_status = statuses(out)
        sizes = {}
        for s in SERVICES:
            ref = f"{env['PERIPH_REGISTRY']}/peripheral-{s}:main"
            got = subprocess.run(
                ["docker", "image", "inspect", "-f", "{{.Size}}", ref],
                capture_output=True, text=True,
            )  # fmt: skip
            sizes[s] = int(got.stdout.strip()) / 1e6 if got.returncode == 0 else float("nan")
        drop_script = work / "drop-local.sh"
        drop_script.write_text(
            "#!/bin/sh\ndocker images --format '{{.Repository}}:{{.Tag}}' | "
            f"grep '^{env['PERIPH_REGISTRY']}/' | xargs -r docker image rm -f >/dev/null\n"
        )
        drop = f"sh {drop_script}"
        fresh = hyperfine(
            project, {"periph build --push (fresh runner)": push_cmd}, args.runs, env, prepare=drop
        )
        subprocess.run(["sh", str(drop_script)], check=False)
        _, out = timed([str(PERIPH), "build", "--push", "--format", "json"], project, env)
        fresh_status = statuses(out)
        remove_prefix_images(env["PERIPH_REGISTRY"])
        subprocess.run(
            ["docker", "image", "rm", "-f", *(f"periphbench-plain-{s}:latest" for s in SERVICES)],
            capture_output=True, check=False,
        )  # fmt: skip
    if not args.skip_cold:
        cold_note = f"cold builds measured {time.strftime('%Y-%m-%d %H:%M')} (load {load_at_start})"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"cold": cold, "cold_note": cold_note, "warm": warm, "fresh": fresh}, indent=2)
    )
    section = render(load_at_start, args.runs, cold, warm, fresh, warm_status, fresh_status, sizes)
    if cold_note and args.skip_cold:
        section = section.replace(
            "\n| measurement |",
            f"\nCold rows reused from an earlier run: {cold_note}.\n\n| measurement |",
        )
    print(section)
    if not args.no_write:
        perfdoc.write_section(START, END, section)
        print(f"bench: wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


def fmt(stats: dict) -> str:
    return f"{stats['median']:.2f} s ({stats['min']:.2f}-{stats['max']:.2f})"


def render(load, runs, cold, warm, fresh, warm_status, fresh_status, sizes) -> str:
    noop = warm["periph build (no-op)"]["median"]
    cached = warm["docker build x5 (cached)"]["median"]
    fresh_noop = fresh["periph build --push (fresh runner)"]["median"]
    lines = [
        START,
        "## images (`periph build`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/images.py` on a committed snapshot of "
        "services/ (hyperfine `-N`, 1 warm-up, "
        f"{runs} runs per command, all in one session); median wall time, with min-max.",
        "",
        f"Machine: {load}.",
        "",
        "| measurement | periph | plain docker |",
        "| --- | ---: | ---: |",
        f"| no-op, warm machine (all five) | {fmt(warm['periph build (no-op)'])} | "
        f"{fmt(warm['docker build x5 (cached)'])} (five cached `docker build -q`) |",
    ]
    rebuild = cold.get("docker build --no-cache of the five, in a row")
    plain_fresh = f"{rebuild:.0f} s (full rebuild, `--no-cache`)" if rebuild else "not measured"
    lines.append(
        "| no-op `--push`, fresh runner (no local images; registry has them) | "
        f"{fmt(fresh['periph build --push (fresh runner)'])} | {plain_fresh} |"
    )
    for label, seconds in cold.items():
        if label.startswith("periph"):
            lines.append(f"| cold build, {label.split(', ', 1)[1]} | {seconds:.0f} s | |")
    lines += [
        "",
        "Statuses periph reported: warm "
        + ", ".join(f"{k} {v}" for k, v in warm_status.items())
        + "; fresh runner "
        + ", ".join(f"{k} {v}" for k, v in fresh_status.items())
        + ".",
        "",
        "Image sizes (unpacked, `docker image inspect`): "
        + ", ".join(f"{s} {mb:.1f} MB" for s, mb in sizes.items())
        + ".",
        "",
        "Goals:",
        "",
        f"- warm no-op: {noop:.2f} s, {noop / cached:.2f}x the cached builds ({cached:.2f} s); "
        "goal <= 0.5 s and <= 0.7x: "
        f"**{'met' if noop <= 0.5 and noop <= 0.7 * cached else 'NOT met'}**",
    ]
    all_remote = all(v == "unchanged/registry" for v in fresh_status.values())
    if rebuild:
        ratio = fresh_noop / rebuild
        ok = all_remote and fresh_noop <= 1.5 and ratio <= 0.05
        lines.append(
            f"- fresh-runner no-op `--push`: {fresh_noop:.2f} s, every service unchanged by a "
            f"registry lookup: {all_remote}; {ratio:.3f}x the full rebuild; goal <= 1.5 s "
            "and <= 0.05x: "
            f"**{'met' if ok else 'NOT met'}**"
        )
    else:
        ok = all_remote and fresh_noop <= 1.5
        lines.append(
            f"- fresh-runner no-op `--push`: {fresh_noop:.2f} s, every service unchanged by a "
            f"registry lookup: {all_remote}; goal <= 1.5 s: **{'met' if ok else 'NOT met'}**"
        )
    backend = sizes.get("backend", float("nan"))
    lines += [
        f"- backend image {backend:.1f} MB, goal: not above today's {BACKEND_BASELINE_MB} MB: "
        f"**{'met' if backend <= BACKEND_BASELINE_MB + 0.05 else 'NOT met'}**",
        "",
        "Cold builds on these 2 shared cores: the backend's `go test`/`go build` and the "
        "frontend's `npm ci`/`vite build` each want both cores, so running them side by side "
        "(`-j 2`) only pays off when the machine is otherwise idle; `-j 1` is the safer "
        "choice on small runners. Load from other jobs makes single numbers noisy: compare "
        "the rows of one run, not runs.",
        "",
        "Commands: `periph build --format json` in the snapshot with `PERIPH_REGISTRY` set "
        "to a fresh prefix of the test registry; the plain side is",
        "`docker build -q -f <Dockerfile> -t <tag> <context>` for each service in a row. ",
        "The fresh runner drops every local image of the prefix before each run "
        "(`hyperfine --prepare`); base images stay local.",
        END,
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
