"""Make services/worker importable: the worker ships as its own image, not with periph."""

import sys
from pathlib import Path

WORKER_ROOT = Path(__file__).resolve().parents[3] / "services" / "worker"
if str(WORKER_ROOT) not in sys.path:
    sys.path.insert(0, str(WORKER_ROOT))
