-- Events and distinct persons per channel in a time range [from, to).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
-- FINAL collapses re-delivered events (see schemas/clickhouse/0001_touchpoints.sql).
SELECT
    channel,
    count() AS events,
    uniqExact(person_key) AS persons
FROM {database:Identifier}.touchpoints FINAL
WHERE event_time >= {from:DateTime64(3)}
  AND event_time < {to:DateTime64(3)}
GROUP BY channel
ORDER BY events DESC, channel ASC
