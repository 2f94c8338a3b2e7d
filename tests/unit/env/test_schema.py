"""Schema annotations in the example (PE901, PE902) and what they mean."""

from __future__ import annotations

import pytest

from periph_env.env.parser import parse_bytes
from periph_env.env.schema import build


def schema_of(text: str):
    return build(parse_bytes(text.encode(), ".env.example").entries, ".env.example")


def test_annotations_set_type_presence_group_and_target_rules():
    schema, findings = schema_of(
        "# Description.\n# @secret group=stripe demo:prefix=sk_test_ prod,demo:required\nK=<k>\n"
    )
    spec = schema.specs["K"]
    assert findings == []
    assert (spec.kind, spec.required, spec.group) == ("secret", False, "stripe")
    assert spec.rules_for("demo") == [("prefix", "sk_test_"), ("required", "")]
    assert spec.rules_for("prod") == [("required", "")]
    assert schema.groups == {"stripe": ["K"]}


def test_enum_choices_are_read():
    schema, _ = schema_of("# @enum=a|b|c\nK=a\n")
    assert (schema.specs["K"].kind, schema.specs["K"].choices) == ("enum", ("a", "b", "c"))


@pytest.mark.parametrize(
    "annotation",
    ["# @prot", "# @enum=", "# @moon:required", "# @demo:fly", "# @demo:prefix", "# @prod:off=1"],
)
def test_an_annotation_word_that_cannot_be_understood_is_pe901(annotation: str):
    _, findings = schema_of(f"{annotation}\nK=v\n")
    assert [f.code for f in findings] == ["PE901"]
    assert findings[0].severity == "error"


def test_a_key_without_annotation_is_a_pe902_warning_and_a_required_string():
    schema, findings = schema_of("K=v\n")
    assert [(f.code, f.severity) for f in findings] == [("PE902", "warning")]
    assert (schema.specs["K"].kind, schema.specs["K"].required) == ("string", True)


def test_an_example_default_of_the_wrong_type_is_reported_in_the_example(ws):
    ws.example.write_text("# @port\nP=99999\n")
    finding = ws.finding("PE111")
    assert finding.path == str(ws.example)


def test_required_together_with_a_group_is_pe901():
    _, findings = schema_of("# @secret group=google required\nK=v\n")
    assert [f.code for f in findings] == ["PE901"]


@pytest.mark.parametrize(
    ("annotation", "problem"),
    [
        ("# @secret int", "contradicting types secret and int"),
        ("# @int port", "contradicting types int and port"),
        ("# @required optional", "both required and optional"),
        ("# @int generate", "generate makes a random string"),
    ],
)
def test_contradicting_annotations_are_pe901_in_the_example(annotation: str, problem: str):
    _, findings = schema_of(f"{annotation}\nK=1\n")
    assert [f.code for f in findings] == ["PE901"]
    assert problem in findings[0].message


def test_a_key_once_marked_secret_stays_secret():
    schema, _ = schema_of("# @int secret\nK=1\n")
    assert schema.specs["K"].secret
    schema, _ = schema_of("# @secret\nK=1\n# @string\nK=2\n")
    assert schema.specs["K"].secret and schema.specs["K"].kind == "string"


def test_a_secret_marked_key_is_masked_even_when_a_later_annotation_says_string(ws):
    marker = "Mk7Qz3Lw8Kv2Jt5Nb9Xc4Rd"
    ws.example.write_text("# @secret\nK=x\n# @port\nK=<port>\n")
    ws.write_env(f"K={marker}\n")
    assert all(marker not in f.message for f in ws.check().findings)
    assert "PE111" in ws.codes()


def test_generate_is_read_from_the_annotation():
    schema, findings = schema_of("# @secret generate\nK=<k>\n")
    assert findings == [] and schema.specs["K"].generate
