"""The worker's backtest: deterministic, no look-ahead, sane numbers."""

import pytest
from peripheral_worker import backtest


def test_same_strategy_id_gives_the_same_result():
    assert backtest.backtest(7, 5, 20) == backtest.backtest(7, 5, 20)


def test_different_strategy_ids_give_different_prices():
    assert backtest.synthetic_prices(1) != backtest.synthetic_prices(2)


def test_moving_average_is_none_until_the_window_fills():
    assert backtest.moving_average([1, 2, 3, 4], 3) == [None, None, 2.0, 3.0]


def test_flat_prices_never_trade_and_keep_the_capital():
    result = backtest.run([100.0] * 50, 3, 10)
    assert result.trades == 0
    assert result.final_equity == 10_000.0
    assert result.total_return == 0.0


def test_a_steady_uptrend_is_held_and_gains():
    prices = [100.0 * 1.01**i for i in range(60)]
    result = backtest.run(prices, 2, 5)
    assert result.trades == 1
    assert result.total_return > 0
    assert result.max_drawdown == 0.0


def test_no_look_ahead_the_first_day_after_the_signal_is_not_earned():
    # The fast average crosses on day 5's close; the day-5 jump must not count.
    prices = [100.0, 100.0, 100.0, 100.0, 100.0, 200.0, 200.0]
    result = backtest.run(prices, 1, 2)
    assert result.final_equity == 10_000.0


def test_windows_must_be_ordered():
    with pytest.raises(ValueError):
        backtest.run([1.0] * 30, 10, 10)


def test_result_serialises_to_plain_numbers():
    as_dict = backtest.backtest(3, 5, 20).as_dict()
    assert set(as_dict) == {"total_return", "max_drawdown", "trades", "final_equity"}
    assert all(isinstance(v, int | float) for v in as_dict.values())
