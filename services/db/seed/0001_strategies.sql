-- 24 strategies: two window pairs (fast/slow) per symbol. Deterministic.
INSERT INTO strategies (name, symbol, fast_window, slow_window, created_at)
SELECT format('%s %s/%s crossover', s.symbol, w.fast, w.slow),
       s.symbol, w.fast, w.slow,
       timestamptz '2026-01-05 09:30:00+00' + ((s.ord * 2 + w.ord) * interval '7 hours')
  FROM (VALUES (1, 'AAPL'), (2, 'MSFT'), (3, 'NVDA'), (4, 'AMZN'), (5, 'GOOGL'), (6, 'META'),
               (7, 'SPY'), (8, 'QQQ'), (9, 'IWM'), (10, 'TSLA'), (11, 'JPM'), (12, 'XOM'))
       AS s (ord, symbol)
 CROSS JOIN (VALUES (0, 10, 50), (1, 20, 100)) AS w (ord, fast, slow)
 ORDER BY s.ord, w.ord;
