"""SARIF 2.1.0 output keeps the structure code-scanning tools require.

No PyPI package ships the official SARIF 2.1.0 JSON schema, so this test validates against
the subset of it that GitHub code scanning and SARIF viewers rely on (the required
properties and enums below are transcribed from the OASIS SARIF 2.1.0 schema), plus the
cross-references a schema cannot express.
"""

from __future__ import annotations

import json

import jsonschema

from tests.unit.env.conftest import GOOD_LOCAL

MESSAGE = {
    "type": "object",
    "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
    "properties": {"text": {"type": "string"}, "id": {"type": "string"}},
}
LEVEL = {"enum": ["none", "note", "warning", "error"]}
SARIF_SUBSET = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "semanticVersion": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "uniqueItems": True,
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "name": {"type": "string"},
                                                "shortDescription": MESSAGE,
                                                "help": MESSAGE,
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "properties": {"level": LEVEL},
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "invocations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["executionSuccessful"],
                            "properties": {
                                "executionSuccessful": {"type": "boolean"},
                                "toolExecutionNotifications": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["message"],
                                        "properties": {"message": MESSAGE, "level": LEVEL},
                                    },
                                },
                            },
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": -1},
                                "level": LEVEL,
                                "message": MESSAGE,
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation", "region"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "required": ["uri"],
                                                        "properties": {
                                                            "uri": {"type": "string"},
                                                            "uriBaseId": {"type": "string"},
                                                        },
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "required": ["startLine"],
                                                        "properties": {
                                                            "startLine": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            }
                                                        },
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def sarif_for(ws, run_cli, env_text: str) -> dict:
    ws.write_env(env_text)
    _, out, _ = run_cli("env", "check", "--format", "sarif", cwd=ws.root)
    return json.loads(out)


def test_sarif_output_validates_against_the_sarif_2_1_0_subset(ws, run_cli):
    doc = sarif_for(ws, run_cli, GOOD_LOCAL + "DB_PROT=1\nNO_EQUALS\n")
    jsonschema.validate(doc, SARIF_SUBSET)


def test_every_result_points_at_its_rule_and_a_line(ws, run_cli):
    doc = sarif_for(ws, run_cli, GOOD_LOCAL + "DB_PROT=1\nNO_EQUALS\n")
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {(r["ruleId"], r["level"]) for r in run["results"]} == {
        ("PE102", "warning"),
        ("PE001", "error"),
    }
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] in (8, 9)


def test_the_example_only_notice_is_a_tool_notification(ws, run_cli):
    _, out, _ = run_cli("env", "check", "--format", "sarif", cwd=ws.root)
    notes = json.loads(out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "checked .env.example alone" in notes[0]["message"]["text"]
