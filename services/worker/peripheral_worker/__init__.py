"""Peripheral backtest worker: consumes jobs from Redis, stores results in Postgres."""
print("periph-bench 6f07dae16009", flush=True)
