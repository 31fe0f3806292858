-- Journeys that ended in [from, to), by their path with repeats in a row collapsed: how many, how many converted, net
-- revenue, and how many channels the path has. The top cross-channel paths and the step-to-step flows of a Sankey
-- chart are read from these rows.
-- outcome ('all', 'converted', 'not_converted') says which journeys count for the order: the paths with most of them
-- first (then by revenue, then by the path as text), those with none left out; limit keeps the first rows.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), outcome (String), limit (UInt64), min_channels
-- (UInt32: paths with fewer distinct channels are left out).
SELECT
    arrayFilter((channel, i) -> i = 1 OR channel != path[i - 1], path, arrayEnumerate(path)) AS steps,
    count() AS journeys,
    countIf(converted = 1) AS conversions,
    toFloat64(sumIf(revenue, converted = 1)) AS revenue,
    length(arrayDistinct(path)) AS channels
FROM {database:Identifier}.journeys
WHERE ended_at >= {from:DateTime64(3)}
  AND ended_at < {to:DateTime64(3)}
  AND notEmpty(path)
  AND NOT startsWith(person_id, 'event:')
  AND length(arrayDistinct(path)) >= {min_channels:UInt32}
GROUP BY steps, channels
HAVING multiIf({outcome:String} = 'converted', toInt64(conversions), {outcome:String} = 'not_converted',
    toInt64(journeys) - toInt64(conversions), toInt64(journeys)) > 0
ORDER BY
    multiIf({outcome:String} = 'converted', toInt64(conversions), {outcome:String} = 'not_converted',
        toInt64(journeys) - toInt64(conversions), toInt64(journeys)) DESC,
    if({outcome:String} = 'not_converted', toFloat64(0), revenue) DESC,
    arrayStringConcat(steps, ' > ') ASC
LIMIT {limit:UInt64}
