-- Records loaded per minute (UTC) in [from, to), by when their batch was recorded in the stage ledger, every topic and
-- consumer group together. FINAL: a re-delivered batch counts once. Only minutes with a batch have a row.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT toStartOfMinute(recorded_at) AS minute, sum(loaded) AS loaded
FROM {database:Identifier}.stage_ledger FINAL
WHERE recorded_at >= {from:DateTime64(3)}
  AND recorded_at < {to:DateTime64(3)}
GROUP BY minute
ORDER BY minute
