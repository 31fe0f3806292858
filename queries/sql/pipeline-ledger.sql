-- What the consumers did with the Kafka batches they recorded in the stage ledger in [from, to), per topic: batches,
-- records received, loaded, dead-lettered and dropped, and when the newest batch was recorded (UTC). FINAL: a batch
-- re-delivered after a crash replaces its earlier row. Every consumer group counts (docs/OPERATIONS.md).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    topic,
    count() AS batches,
    sum(received) AS received,
    sum(loaded) AS loaded,
    sum(dead_lettered) AS dead_lettered,
    sum(dropped) AS dropped,
    max(recorded_at) AS last_recorded_at
FROM {database:Identifier}.stage_ledger FINAL
WHERE recorded_at >= {from:DateTime64(3)}
  AND recorded_at < {to:DateTime64(3)}
GROUP BY topic
ORDER BY topic
