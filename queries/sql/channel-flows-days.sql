-- channel-flows.sql for a range of whole UTC days, from the daily aggregate journey_path_days. from and to must be UTC
-- midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), flow_steps (UInt8).
WITH paths AS
(
    SELECT steps, channels, conversions + nulls AS n
    FROM {database:Identifier}.journey_path_days
    WHERE group_by = 'channel'
      AND day >= toDate({from:DateTime64(3)})
      AND day < toDate({to:DateTime64(3)})
      AND anonymous = 0
)
SELECT toUInt8(0) AS step, '' AS from_channel, '' AS to_channel, sum(n) AS journeys,
    sumIf(n, channels > 1) AS multichannel_journeys
FROM paths
UNION ALL
SELECT step, from_channel, to_channel, sum(n), 0
FROM (SELECT arraySlice(steps, 1, {flow_steps:UInt8}) AS shown, n FROM paths)
ARRAY JOIN arrayEnumerate(arrayPopFront(shown)) AS step, arrayPopBack(shown) AS from_channel,
    arrayPopFront(shown) AS to_channel
GROUP BY step, from_channel, to_channel
