-- Journeys that ended in [from, to), aggregated by their path of channels: how many converted, the net revenue of
-- those that did, and how many did not. The input of every attribution model (queries/models/attribution.ts).
-- Conversions, the lookback window and sessions are those the journeys were built with (journey_settings).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    path,
    countIf(converted = 1) AS conversions,
    toFloat64(sumIf(revenue, converted = 1)) AS value,
    countIf(converted = 0) AS nulls
FROM {database:Identifier}.journeys
WHERE ended_at >= {from:DateTime64(3)}
  AND ended_at < {to:DateTime64(3)}
  AND notEmpty(path)
GROUP BY path
ORDER BY conversions DESC, nulls DESC
