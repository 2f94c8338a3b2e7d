"""Peripheral backtest worker: consumes jobs from Redis, stores results in Postgres."""
from . import _periph_bench  # noqa: F401  (bench/reload.py; removed after)
