"""The worker's SQL: read a strategy, record a job's outcome exactly once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StrategyRow:
    """The strategy fields a backtest needs."""

    id: int
    symbol: str
    fast_window: int
    slow_window: int


def load_strategy(conn, strategy_id: int) -> StrategyRow | None:
    """Fetch one strategy, or None when it was deleted."""
    row = conn.execute(
        "SELECT id, symbol, fast_window, slow_window FROM strategies WHERE id = %s",
        (strategy_id,),
    ).fetchone()
    return StrategyRow(*row) if row else None


def save_result(conn, job_id: int, strategy_id: int, result: dict, duration_ms: float) -> bool:
    """Mark the job done and store its result in one transaction.

    Returns False when the job was already finished: a redelivered stream entry
    (at-least-once) must not write a second result.
    """
    with conn.transaction():
        done = conn.execute(
            "UPDATE jobs SET status = 'done', finished_at = now() "
            "WHERE id = %s AND status = 'queued' RETURNING id",
            (job_id,),
        ).fetchone()
        if not done:
            return False
        conn.execute(
            "INSERT INTO job_results (job_id, strategy_id, total_return, max_drawdown, trades,"
            " final_equity, duration_ms) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                job_id,
                strategy_id,
                result["total_return"],
                result["max_drawdown"],
                result["trades"],
                result["final_equity"],
                duration_ms,
            ),
        )
    return True


def mark_failed(conn, job_id: int, reason: str) -> None:
    """Record why a job could not be processed."""
    with conn.transaction():
        conn.execute(
            "UPDATE jobs SET status = 'failed', error = %s, finished_at = now() "
            "WHERE id = %s AND status = 'queued'",
            (reason[:500], job_id),
        )
