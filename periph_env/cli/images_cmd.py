"""`periph` images commands (being built; registers nothing yet)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Register this module's commands (none yet)."""
