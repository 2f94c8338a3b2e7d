#!/usr/bin/env python3
"""Benchmark log throughput: `docker compose logs -f` against periph, in one run.

    .venv/bin/python bench/logs.py                  # 200,000 lines, updates docs/performance.md
    .venv/bin/python bench/logs.py --lines 50000 --no-write

The compose project of ``bench/tui.py`` (its ``chatty`` service writes N lines as fast as
it can, then ``chatty done``). Once all N are in the engine's log, each reader drains the
same container from its first line to ``chatty done``, one after the other:

- ``docker compose logs -f --no-log-prefix chatty`` (Go), its stdout read line by line;
- periph's ``LogFollower`` (the engine's stream demultiplexed, masked, cut into lines),
  ``on_lines`` counting;
- the TUI's Logs area (the real app headless, real engine) until the last line is in the
  view; a 10 ms timer on the app's event loop records how late each tick fires (Textual
  paints on that loop, so a late tick is a late frame).

Each reader runs ``--runs`` times; the table shows the median.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import perfdoc
import tui

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
START, END = "<!-- bench:logs:start -->", "<!-- bench:logs:end -->"


def fill(root: Path, count: int) -> None:
    """Recreate ``chatty`` writing ``count`` lines; return once all are written."""
    env = {"CHATTY_RATE": "0", "CHATTY_COUNT": str(count)}
    tui.compose(root, "up", "-d", "--force-recreate", "chatty", env=env)
    argv = ["docker", "compose", "-f", str(root / "compose" / "compose.yaml"), "logs"]
    deadline = time.time() + 300
    while time.time() < deadline:
        tail = subprocess.run([*argv, "--tail", "1", "chatty"], capture_output=True, text=True)
        if "chatty done" in tail.stdout:
            return
        time.sleep(0.5)
    raise SystemExit("chatty did not finish writing")


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compose_drain(root: Path) -> tuple[float, float]:
    """Seconds for ``docker compose logs -f`` to print every line, and its CPU seconds."""
    cpu = _children_cpu()
    argv = ["docker", "compose", "-f", str(root / "compose" / "compose.yaml"), "logs", "-f"]
    started = time.perf_counter()
    proc = subprocess.Popen([*argv, "--no-log-prefix", "chatty"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(b"chatty done"):
            break
    spent = time.perf_counter() - started
    proc.kill()
    proc.wait()
    return spent, _children_cpu() - cpu


def follower_drain(root: Path, project: str) -> tuple[float, float, int]:
    """Seconds for ``LogFollower`` to deliver every line, its CPU seconds, the lines."""
    from periph_env.stack import LogFollower, Stack

    stack = Stack(root, project=project)
    done = threading.Event()
    seen = 0

    def on_lines(lines) -> None:
        nonlocal seen
        seen += len(lines)
        if lines[-1].text.startswith("chatty done"):
            done.set()

    started, cpu = time.perf_counter(), time.process_time()
    follower = LogFollower(stack, on_lines, services=["chatty"]).start()
    done.wait(300)
    spent, cpu = time.perf_counter() - started, time.process_time() - cpu
    follower.stop()
    return spent, cpu, seen


async def _tui_drain(root: Path, project: str) -> dict:
    from periph_env.stack import Stack
    from periph_env.tui.app import PeriphApp, Settings

    stack = Stack(root, project=project)
    app = PeriphApp(root, stack=stack, settings=Settings(cursor_blink=False, watch_files=False))
    lags: list[float] = []
    started = time.perf_counter()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        last = time.perf_counter()

        def tick() -> None:
            nonlocal last
            now = time.perf_counter()
            lags.append(max(0.0, now - last - 0.010))
            last = now

        timer = app.set_interval(0.010, tick)
        log = app.query_one("#logs-lines")
        while time.perf_counter() - started < 300:
            if log.lines and "chatty done" in log.lines[-1]:
                break
            await pilot.pause(0.01)
        spent = time.perf_counter() - started
        timer.stop()
        view = app.query_one("#logs-view")
        received = view.received + view.skipped
    lags.sort()
    return {
        "seconds": spent,
        "received": received,
        "p50": lags[len(lags) // 2] * 1000 if lags else 0.0,
        "p99": lags[int(len(lags) * 0.99)] * 1000 if lags else 0.0,
        "max": lags[-1] * 1000 if lags else 0.0,
    }


def tui_drain(root: Path, project: str) -> dict:
    """The app's Logs area draining the container: seconds and frame lags (ms)."""
    return asyncio.run(_tui_drain(root, project))


def section(r: dict) -> str:
    """The docs/performance.md section for results ``r``."""
    count = r["count"]
    compose_s = statistics.median(c[0] for c in r["compose"])
    follower_s = statistics.median(f[0] for f in r["follower"])
    tui_runs = r["tui"]
    tui_s = statistics.median(t["seconds"] for t in tui_runs)
    worst = max(tui_runs, key=lambda t: t["max"])
    rate = {name: count / s for name, s in (("c", compose_s), ("f", follower_s), ("t", tui_s))}
    f_ratio, t_ratio = rate["f"] / rate["c"], rate["t"] / rate["c"]
    frames_ok = max(t["p99"] for t in tui_runs) < 50

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**NOT met**"

    def spread(values: list[float]) -> str:
        return f"{min(values):.2f}–{max(values):.2f}"

    lines = [
        START,
        "## Log throughput (`bench/logs.py`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores shared with other "
        f"jobs (load average {r['load_start']:.1f} at the start, {r['load_end']:.1f} at the "
        f"end), Docker engine 20.10, Compose v2. `chatty` wrote {count:,} lines of ~80 bytes "
        f"before any reader started; each reader drained them {len(r['compose'])} times "
        "(median, min–max). Reproduce: `.venv/bin/python bench/logs.py`.",
        "",
        "| reader | seconds | lines/s | × compose's lines/s | goal |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| `docker compose logs -f` | {compose_s:.2f} ({spread([c[0] for c in r['compose']])}) "
        f"| {rate['c']:,.0f} | 1.00× | |",
        f"| periph `LogFollower` (`periph logs -f`) | {follower_s:.2f} "
        f"({spread([f[0] for f in r['follower']])}) | {rate['f']:,.0f} | {f_ratio:.2f}× "
        f"| ≥ 1.0×: {verdict(f_ratio >= 1.0)} |",
        f"| periph TUI, Logs area (start, connect, draw) | {tui_s:.2f} "
        f"({spread([t['seconds'] for t in tui_runs])}) | {rate['t']:,.0f} | {t_ratio:.2f}× "
        f"| ≥ 0.5×: {verdict(t_ratio >= 0.5)} |",
        "",
        f"CPU of the periph process while `LogFollower` drained (median): "
        f"{statistics.median(f[1] for f in r['follower']):.2f} s, "
        f"{1e6 * statistics.median(f[1] for f in r['follower']) / count:.1f} µs per line. "
        "On a loaded machine wall time is mostly waiting for a core: compare rows of one run.",
        "",
        f"Frames while the Logs area drained (event-loop lag of a 10 ms timer, worst run): "
        f"p50 {worst['p50']:.1f} ms, p99 {worst['p99']:.1f} ms, max {worst['max']:.1f} ms; "
        f"goal p99 < 50 ms: {verdict(frames_ok)}. Lines that reached the view: "
        f"{min(t['received'] for t in tui_runs):,} of {count + 1:,}.",
        "",
        "How: `LogFollower` reads the stream 256 KiB at a time and demultiplexes, decodes, "
        "masks and splits each read once (`periph_env/stack/logstream.py`); per line it "
        "only reads the timestamp and makes the `LogLine`. Readers hand whole reads to the "
        "dispatcher (one queue operation per read, not per line). The Logs area gets one "
        "message per batch, sized so that drawing it fits in a frame.",
        END,
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-tui", action="store_true", help="leave out the TUI row")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results: dict = {"count": args.lines, "load_start": os.getloadavg()[0]}
    results.update(compose=[], follower=[], tui=[])
    with tempfile.TemporaryDirectory(prefix="periph-bench-logs-") as tmp:
        root, project = tui.make_project(Path(tmp))
        try:
            fill(root, args.lines)
            for run in range(args.runs):
                results["compose"].append(compose_drain(root))
                results["follower"].append(follower_drain(root, project))
                if not args.no_tui:
                    results["tui"].append(tui_drain(root, project))
                print(
                    f"run {run + 1}: compose {results['compose'][-1]}, "
                    f"follower {results['follower'][-1]}, "
                    f"tui {results['tui'][-1] if results['tui'] else '-'}",
                    flush=True,
                )
        finally:
            tui.compose(root, "down", "-v", "--remove-orphans", "-t", "1")
    results["load_end"] = os.getloadavg()[0]
    if args.no_tui:
        return 0
    text = section(results)
    print(text)
    if not args.no_write:
        perfdoc.write_section(START, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
