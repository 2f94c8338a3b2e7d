"""periph: a local-first development environment manager for the Peripheral platform.

The package is a core library (``env``, ``testenv`` and, later, ``stack``, ``reload``,
``images``, ``deploy``) with thin front ends over it (``cli``, ``tui``). Core modules never
import Textual; ``tests/unit/test_architecture.py`` enforces it.
"""

__version__ = "0.1.0"
