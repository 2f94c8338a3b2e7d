"""Render a report as text (``PATH:LINE: CODE severity: message``), JSON or SARIF 2.1.0."""

from __future__ import annotations

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


def to_text(report: Report) -> str:
    """One line per finding, then notices and a summary line."""
    lines = [f"{f.path}:{f.line}: {f.code} {f.severity}: {f.message}" for f in report.sorted()]
    lines += [f"note: {notice}" for notice in report.notices]
    checked = report.env_path or report.example_path
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
        "env_file": report.env_path,
        "example_file": report.example_path,
        "example_only": report.example_only,
        "target": report.target,
        "notices": report.notices,
        "findings": [
            {
                "path": f.path,
                "line": f.line,
                "code": f.code,
                "severity": f.severity,
                "key": f.key,
                "message": f.message,
            }
            for f in report.sorted()
        ],
        "errors": report.errors,
        "warnings": report.warnings,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
