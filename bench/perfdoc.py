"""docs/performance.md is shared by every benchmark: each owns the section between its
``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->`` markers and replaces only that."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
HEADER = "# Performance\n\nBenchmarks under `bench/`.\n\n"


def write_section(start: str, end: str, section: str, doc: Path = DOC) -> None:
    """Replace the text between ``start`` and ``end`` (markers included) with ``section``,
    which carries the markers itself; append it when the markers are not there yet."""
    text = doc.read_text() if doc.exists() else HEADER
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text)


def ensure_hyperfine() -> None:
    """Install hyperfine (Debian's package) when it is missing, as the test engines install
    theirs: a fresh machine runs the benches with no hand set-up."""
    import sys

    from periph_env.errors import PeriphError
    from periph_env.testenv.debian_host import ensure_packages
    from periph_env.testenv.state import Log

    try:
        ensure_packages({"hyperfine": "hyperfine"}, Log(prefix="bench"), why="the benchmark")
    except PeriphError as exc:
        sys.exit(f"bench: {exc}")
