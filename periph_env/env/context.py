"""What every rule looks at: the parsed env file, its expanded values and the schema."""

from __future__ import annotations

from collections import namedtuple

from periph_env.env.masking import Masker
from periph_env.env.model import Entry, Finding
from periph_env.env.schema import KeySpec, Schema
from periph_env.env.values import is_placeholder


class Value(namedtuple("_ValueBase", "entry expanded unresolved")):
    """The effective (last) setting of a key: its entry, expanded value and references."""

    __slots__ = ()
    entry: Entry
    expanded: str
    unresolved: list[str]

    @property
    def raw(self) -> str:
        """The value as written (python-dotenv's reading before interpolation)."""
        return self.entry.value


class Context:
    """One env file checked against one schema for one target."""

    __slots__ = ("example_path", "findings", "masker", "path", "schema", "target", "values")

    def __init__(
        self,
        path: str,
        example_path: str,
        target: str,
        schema: Schema,
        values: dict[str, Value],
        masker: Masker,
    ) -> None:
        self.path = path
        self.example_path = example_path
        self.target = target
        self.schema = schema
        self.values = values
        self.masker = masker
        self.findings: list[Finding] = []

    def add(self, finding: Finding) -> None:
        """Record a finding."""
        self.findings.append(finding)

    def is_real(self, spec: KeySpec, value: Value | None) -> bool:
        """True when the key holds a value of its own: set, not a placeholder, not default."""
        if value is None or not value.expanded or value.raw == spec.default:
            return False
        return not (is_placeholder(value.raw, spec.kind) or is_placeholder(value.expanded))

    def checkable(self, spec: KeySpec, value: Value | None) -> bool:
        """True when the value can be judged: set, resolved and not a placeholder."""
        if value is None or not value.expanded or value.unresolved:
            return False
        return not (is_placeholder(value.raw, spec.kind) or is_placeholder(value.expanded))
