"""Reusable widgets of the periph TUI (each in its own module)."""
