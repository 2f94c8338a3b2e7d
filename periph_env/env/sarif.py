"""SARIF 2.1.0 output for code-scanning tools (GitHub code scanning, IDE viewers).

Every text goes through ``formats.line``: control characters escaped, one line each."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

from periph_env import __version__
from periph_env.env.codes import RULES
from periph_env.env.formats import line
from periph_env.env.model import Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DOCS = "docs/env-rules.md"


def _uri(path: str) -> str:
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    # Escaped first: a raw control character or an undecodable byte never reaches a URI.
    return quote(line(rel.replace(os.sep, "/")) or "")


def to_sarif(report: Report) -> str:
    """One run whose driver lists every rule; one result per finding."""
    codes = list(RULES)
    index = {code: i for i, code in enumerate(codes)}
    rules = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.help},
            "help": {"text": f"{rule.help} See {DOCS}#{rule.code.lower()}."},
            "defaultConfiguration": {"level": rule.severity},
        }
        for rule in RULES.values()
    ]
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": f.severity,
            "message": {"text": line(f.message)},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path), "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": max(f.line, 1)},
                    }
                }
            ],
        }
        for f in report.sorted()
    ]
    run = {
        "tool": {
            "driver": {
                "name": "periph",
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {"level": "note", "message": {"text": line(n)}} for n in report.notices
                ],
            }
        ],
        "results": results,
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
