"""Serving the TUI in a browser (``periph serve``): the offline page template lives here."""
