"""Peripheral backtest worker: consumes jobs from Redis, stores results in Postgres."""
print("periph-bench 05e1ec6ca72b", flush=True)
