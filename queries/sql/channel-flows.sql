-- Journeys that ended in [from, to), in one row: how many (with a non-empty path), how many of them touched two
-- channels or more, and the flows of a Sankey chart: with repeats in a row collapsed, each move from the channel at
-- step i to the one at step i + 1 (for steps up to flow_steps), as 'i. channel' TAB 'i+1. channel', and how many
-- journeys made it (flows.1 the moves, flows.2 their journeys).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), flow_steps (UInt8).
SELECT
    count() AS journeys,
    countIf(length(arrayDistinct(path)) > 1) AS multichannel_journeys,
    sumMap(
        arrayMap(i -> concat(toString(i), '. ', steps[i], '\t', toString(i + 1), '. ', steps[i + 1]),
            range(1, least(length(steps), {flow_steps:UInt8}))),
        arrayMap(i -> toUInt64(1), range(1, least(length(steps), {flow_steps:UInt8})))
    ) AS flows
FROM
(
    SELECT path, arrayFilter((channel, i) -> i = 1 OR channel != path[i - 1], path, arrayEnumerate(path)) AS steps
    FROM {database:Identifier}.journeys
    WHERE ended_at >= {from:DateTime64(3)}
      AND ended_at < {to:DateTime64(3)}
      AND notEmpty(path)
      AND NOT startsWith(person_id, 'event:')
)
