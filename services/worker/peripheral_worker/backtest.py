"""A deterministic moving-average crossover backtest on synthetic prices.

Pure functions only: the same strategy id always yields the same prices and result,
which is what makes the worker's output testable end to end.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

DAYS = 500


@dataclass(frozen=True)
class Result:
    """Summary of one backtest."""

    total_return: float
    max_drawdown: float
    trades: int
    final_equity: float

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready form."""
        return asdict(self)


def synthetic_prices(seed: int, days: int = DAYS, start: float = 100.0) -> list[float]:
    """A geometric random walk seeded by seed (e.g. the strategy id)."""
    rng = random.Random(seed)
    prices = [start]
    for _ in range(days - 1):
        prices.append(prices[-1] * math.exp(rng.gauss(0.0003, 0.015)))
    return prices


def moving_average(values: list[float], window: int) -> list[float | None]:
    """Trailing simple moving average; None until the window is full."""
    out: list[float | None] = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / window if i >= window - 1 else None)
    return out


def run(prices: list[float], fast: int, slow: int, capital: float = 10_000.0) -> Result:
    """Hold the asset while the fast average is above the slow one, cash otherwise.

    The position for day i is decided on day i-1's close, so there is no look-ahead.
    """
    if not 1 <= fast < slow:
        raise ValueError("need 1 <= fast < slow")
    f, s = moving_average(prices, fast), moving_average(prices, slow)
    equity, peak, max_dd, trades, long = capital, capital, 0.0, 0, False
    for i in range(1, len(prices)):
        if long:
            equity *= prices[i] / prices[i - 1]
        want = f[i] is not None and s[i] is not None and f[i] > s[i]
        if want != long:
            trades += 1
            long = want
        peak = max(peak, equity)
        max_dd = max(max_dd, (peak - equity) / peak)
    return Result(
        total_return=round(equity / capital - 1, 6),
        max_drawdown=round(max_dd, 6),
        trades=trades,
        final_equity=round(equity, 2),
    )


def backtest(strategy_id: int, fast: int, slow: int) -> Result:
    """Backtest a strategy on its own synthetic price series."""
    return run(synthetic_prices(strategy_id), fast, slow)
