"""docs/env-rules.md documents every finding code the checker can emit."""

from __future__ import annotations

from pathlib import Path

from periph_env.env.codes import RULES

DOC = Path(__file__).resolve().parents[3] / "docs" / "env-rules.md"


def test_every_code_has_an_anchor_and_its_name_in_the_rules_reference():
    text = DOC.read_text()
    missing = [
        code
        for code, rule in RULES.items()
        if f'id="{code.lower()}"' not in text or rule.name not in text
    ]
    assert missing == []


def test_every_code_is_exercised_by_some_test():
    here = Path(__file__).parent
    sources = "".join(p.read_text() for p in here.glob("test_*.py") if p.name != "test_docs.py")
    untested = [code for code in RULES if code not in sources]
    assert untested == []
