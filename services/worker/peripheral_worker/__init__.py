"""Peripheral backtest worker: consumes jobs from Redis, stores results in Postgres."""
print("periph-bench 1deb049a1718", flush=True)
