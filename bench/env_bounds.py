#!/usr/bin/env python3
"""Time and memory of `periph env check` on pathological env files: linear and bounded.

    .venv/bin/python bench/env_bounds.py             # measure, check bounds, update docs
    .venv/bin/python bench/env_bounds.py --no-write  # print only

Each hostile input is generated at four sizes up to the 256 KiB env-file bound; the check
runs in-process (best of 3 for time, tracemalloc for peak memory). The bound holds when
doubling the input at most ~doubles time and memory: the time of the largest size over
the smallest stays under 3x the size ratio, and peak memory stays under a fixed multiple
of the input size. python-dotenv's own `dotenv_values` (what the worker runs) reads the
same largest inputs side by side, in a subprocess with a timeout. A 30 MB file of keys is
refused before it is read. Exits 1 when a bound does not hold.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import perfdoc  # noqa: E402  (bench/ is on sys.path when run as a script)

from periph_env.env import check  # noqa: E402
from periph_env.env.files import MAX_ENV_BYTES  # noqa: E402
from periph_env.errors import UsageError  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:env-bounds:start -->", "<!-- bench:env-bounds:end -->"
SIZES = (MAX_ENV_BYTES // 8, MAX_ENV_BYTES // 4, MAX_ENV_BYTES // 2, MAX_ENV_BYTES - 64)
# Growth allowed from the smallest to the largest size, over the size ratio (8x).
TIME_SLACK = 3.0
# Peak memory of one check, as a multiple of the input size (plus a fixed allowance).
MEMORY_FACTOR = 200
MEMORY_BASE = 4 << 20
DOTENV_TIMEOUT = 10.0
EXAMPLE = "# @host required\nDB_HOST=localhost\n# @secret optional\nJWT_SECRET=<jwt>\n"


def _fill(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


CASES: dict[str, Callable[[int], str]] = {
    "one very long line": lambda n: "A=" + "x" * (n - 3) + "\n",
    "long unquoted value with spaces": lambda n: "A=" + _fill("word ", n - 3) + "\n",
    "unterminated quotes on every line": lambda n: _fill("A=\"open\nB='open\n", n),
    "an unterminated quote, then the file": lambda n: 'A="' + _fill("B=1\n", n - 3),
    "escapes in one quoted value": lambda n: 'A="' + _fill("\\\\\\n", n - 4) + '"\n',
    "whitespace runs just under the PE010 bound": lambda n: _fill("A=x" + " " * 127 + "y\n", n),
    "one huge whitespace run (PE010)": lambda n: "A=x" + " " * (n - 5) + "y\n",
    "keys, keys, keys": lambda n: "".join(f"K{i:06d}=v\n" for i in range(n // 10)),
    "chained references": lambda n: (
        "A0=xxxxxxxx\n" + "".join(f"A{i}=${{A{i - 1}}}${{A{i - 1}}}\n" for i in range(1, n // 32))
    ),
    "comment lines": lambda n: _fill("# a comment line, like most of .env.example\n", n),
}


def measure(env: Path, example: Path) -> tuple[float, int]:
    """(best wall time of 3 in seconds, peak traced memory in bytes) of one check."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        check(str(env), str(example), "local", env_required=True)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    check(str(env), str(example), "local", env_required=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak


def dotenv_time(env: Path) -> str:
    """python-dotenv's dotenv_values on ``env`` in a subprocess, or '> timeout'."""
    code = (
        "import time,sys;from dotenv import dotenv_values;t=time.perf_counter();"
        "dotenv_values(sys.argv[1]);print(time.perf_counter()-t)"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(env)],
            capture_output=True,
            text=True,
            timeout=DOTENV_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"> {DOTENV_TIMEOUT:.0f} s (killed)"
    if proc.returncode != 0:
        return "error"
    return f"{float(proc.stdout) * 1000:.0f} ms"


def refused_big_file(work: Path) -> tuple[float, int]:
    """Time and peak memory to refuse a 30 MB env file of keys."""
    big = work / "big.env"
    with open(big, "w") as handle:
        for i in range(0, 30_000_000, 12 * 10_000):
            handle.write("".join(f"K{j:09d}=v\n" for j in range(i, i + 10_000)))
    example = work / "big.example"
    example.write_text(EXAMPLE)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        check(str(big), str(example), "local", env_required=True)
    except UsageError:
        pass
    else:
        raise SystemExit("bench: the 30 MB file was not refused")
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak


def run(work: Path) -> tuple[list[list[str]], list[str], tuple[float, int]]:
    """Rows for the table, bound violations, and the refusal measurement."""
    example = work / "example"
    example.write_text(EXAMPLE)
    rows, failures = [], []
    for name, make in CASES.items():
        times, peaks, size = [], [], 0
        env = work / "in.env"
        for target in SIZES:
            data = make(target).encode()
            size = len(data)
            env.write_bytes(data)
            seconds, peak = measure(env, example)
            times.append(seconds)
            peaks.append(peak)
            shown = f"{seconds * 1000:.1f} ms, {peak >> 10} KiB"
            print(f"bench: {name} {size} B: {shown}", file=sys.stderr)
        ratio = SIZES[-1] / SIZES[0]
        growth = times[-1] / max(times[0], 1e-6)
        memory_ok = peaks[-1] <= MEMORY_FACTOR * size + MEMORY_BASE
        time_ok = growth <= TIME_SLACK * ratio
        if not (memory_ok and time_ok):
            failures.append(
                f"{name}: time x{growth:.1f} for x{ratio:.0f} input, peak {peaks[-1]} B"
            )
        rows.append(
            [
                name,
                f"{size / 1024:.0f} KiB",
                f"{times[-1] * 1000:.0f} ms",
                f"x{growth:.1f}",
                f"{peaks[-1] / (1 << 20):.1f} MiB",
                dotenv_time(env),
                "ok" if memory_ok and time_ok else "**NOT met**",
            ]
        )
    return rows, failures, refused_big_file(work)


def render(rows: list[list[str]], refusal: tuple[float, int]) -> str:
    """The markdown section for docs/performance.md."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        START,
        "## env check on pathological input (bounds)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/env_bounds.py` on {os.cpu_count()} "
        f"cores (load average at the end {load}). Each input is generated at "
        f"{', '.join(f'{s >> 10}' for s in SIZES)} KiB; `periph env check` runs in-process "
        "(best of 3; peak memory from tracemalloc). *Growth* is the time at the largest "
        "size over the smallest (input x8; linear is about x8, the bound is x24). "
        "python-dotenv's `dotenv_values` reads the largest input in a subprocess "
        f"({DOTENV_TIMEOUT:.0f} s timeout).",
        "",
        "| input | size | periph env check | growth | peak memory | python-dotenv | bound |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += [
        "",
        f'A 30 MB file of keys is refused (exit 2, "periph reads env files up to '
        f'{MAX_ENV_BYTES >> 10} KiB") in {refusal[0] * 1000:.1f} ms with '
        f"{refusal[1] / 1024:.0f} KiB peak memory: it is never read.",
        "",
        "Lines with a run of 128+ whitespace characters are PE010 and not parsed: "
        "python-dotenv's inline-comment regex is quadratic in such a run (the row marked "
        "PE010 shows what that costs python-dotenv itself).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="periph-bounds-") as tmp:
        rows, failures, refusal = run(Path(tmp))
    section = render(rows, refusal)
    print(section)
    if not args.no_write:
        perfdoc.write_section(START, END, section)
        print(f"bench: wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    for failure in failures:
        print(f"bench: bound NOT met: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
