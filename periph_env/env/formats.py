"""Render a report as text (``PATH:LINE: CODE severity: message``), JSON or SARIF 2.1.0.

Every string a renderer emits goes through ``line`` (control characters escaped, on one
line): findings arrive masked from the checker, and no file can put a raw ESC, C1 or
bidi character into a terminal or a report, whatever the format.
"""

from __future__ import annotations

from periph_env.common.redact import escape_controls
from periph_env.env.model import Report

FORMATS = ("text", "json", "sarif")


def render(report: Report, fmt: str) -> str:
    """The report in format ``fmt`` (one of FORMATS), ending with a newline."""
    if fmt == "json":
        return to_json(report)
    if fmt == "sarif":
        from periph_env.env.sarif import to_sarif

        return to_sarif(report)
    return to_text(report)


def line(text: str | None) -> str | None:
    """``text`` safe on one line of a terminal or a report (None stays None)."""
    return None if text is None else escape_controls(text, keep_lines=False)


def to_text(report: Report) -> str:
    """One line per finding, then notices and a summary line."""
    lines = [
        f"{line(f.path)}:{f.line}: {f.code} {f.severity}: {line(f.message)}"
        for f in report.sorted()
    ]
    lines += [f"note: {line(notice)}" for notice in report.notices]
    checked = line(report.env_path or report.example_path)
    lines.append(
        f"{checked}: {_count(report.errors, 'error')}, {_count(report.warnings, 'warning')} "
        f"(target {report.target})"
    )
    return "\n".join(lines) + "\n"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def to_json(report: Report) -> str:
    """A JSON object with ``findings``, ``errors``, ``warnings`` and what was checked."""
    import json

    doc = {
        "env_file": line(report.env_path),
        "example_file": line(report.example_path),
        "example_only": report.example_only,
        "target": report.target,
        "notices": [line(n) for n in report.notices],
        "findings": [
            {
                "path": line(f.path),
                "line": f.line,
                "code": f.code,
                "severity": f.severity,
                "key": line(f.key),
                "message": line(f.message),
            }
            for f in report.sorted()
        ],
        "errors": report.errors,
        "warnings": report.warnings,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
