"""``python -m periph_env.testenv up|down|status [--tier ...]``."""

import sys

from periph_env.testenv.orchestrator import cli_main

sys.exit(cli_main(sys.argv[1:]))
