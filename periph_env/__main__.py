"""``python -m periph_env`` is the same as the ``periph`` command."""

import sys

from periph_env.cli import main

sys.exit(main())
