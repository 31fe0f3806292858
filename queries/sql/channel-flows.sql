-- Journeys that ended in [from, to) (with a non-empty path): the flows of a Sankey chart and, in the row with step 0,
-- the totals: how many journeys, and how many of them touched two channels or more. With repeats in a row collapsed,
-- a flow is a move from the channel at step `step` to the one at step + 1 (for steps up to flow_steps), with how many
-- journeys made it.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), flow_steps (UInt8).
WITH paths AS
(
    SELECT path, arrayCompact(path) AS steps
    FROM {database:Identifier}.journeys
    WHERE ended_at >= {from:DateTime64(3)}
      AND ended_at < {to:DateTime64(3)}
      AND notEmpty(path)
      AND NOT startsWith(person_id, 'event:')
)
SELECT toUInt8(0) AS step, '' AS from_channel, '' AS to_channel, count() AS journeys,
    countIf(length(arrayDistinct(path)) > 1) AS multichannel_journeys
FROM paths
UNION ALL
SELECT step, from_channel, to_channel, count(), 0
FROM (SELECT arraySlice(steps, 1, {flow_steps:UInt8}) AS shown FROM paths)
ARRAY JOIN arrayEnumerate(arrayPopFront(shown)) AS step, arrayPopBack(shown) AS from_channel,
    arrayPopFront(shown) AS to_channel
GROUP BY step, from_channel, to_channel
