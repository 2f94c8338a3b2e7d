-- Three finished backtest jobs per strategy, a day apart; every twelfth one failed with
-- the worker's own error text. Deterministic.
INSERT INTO jobs (strategy_id, status, error, created_at, finished_at)
SELECT st.id,
       CASE WHEN (st.id * 3 + n) % 12 = 0 THEN 'failed' ELSE 'done' END,
       CASE WHEN (st.id * 3 + n) % 12 = 0 THEN 'could not enqueue' END,
       st.created_at + n * interval '1 day',
       st.created_at + n * interval '1 day' + ((st.id * 37 + n * 11) % 900 + 40) * interval '1 ms'
  FROM strategies st
 CROSS JOIN generate_series(1, 3) AS n
 ORDER BY st.id, n;
