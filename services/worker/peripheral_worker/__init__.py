"""Peripheral backtest worker: consumes jobs from Redis, stores results in Postgres."""
