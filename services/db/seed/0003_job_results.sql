-- One result per done job, in the ranges the worker's 500-day synthetic backtest gives
-- (returns -35 %..+60 %, drawdowns 4-38 %, a few dozen trades). Deterministic: values
-- come from a hash of the job id, not random().
INSERT INTO job_results (job_id, strategy_id, computed_at, total_return, max_drawdown,
                         trades, final_equity, duration_ms)
SELECT j.id, j.strategy_id, j.finished_at,
       r.ret, r.dd, r.trades, round((10000 * (1 + r.ret))::numeric, 2)::double precision,
       extract(epoch FROM j.finished_at - j.created_at) * 1000
  FROM jobs j
 CROSS JOIN LATERAL (
       SELECT round((((abs(hashint4(j.id::int)::bigint) % 9500) / 10000.0) - 0.35)::numeric, 4)::double precision AS ret,
              round(((abs(hashint4(j.id::int * 7)::bigint) % 3400) / 10000.0 + 0.04)::numeric, 4)::double precision AS dd,
              abs(hashint4(j.id::int * 13)::bigint) % 40 + 6 AS trades
       ) AS r
 WHERE j.status = 'done'
 ORDER BY j.id;
