-- channel-paths.sql for a range of whole UTC days, from the daily aggregate journey_path_days: journeys that ended in
-- [from, to), by their path with repeats in a row collapsed. from and to must be UTC midnights.
-- outcome ('all', 'converted', 'not_converted') says which journeys count for the order: the paths with most of them
-- first (then by revenue, then by the path as text), those with none left out; limit keeps the first rows.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), outcome (String), limit (UInt64), min_channels
-- (UInt32: paths with fewer distinct channels are left out).
SELECT splitByString(' > ', path) AS steps, journeys, conversions, revenue, channels
FROM
(
    -- Grouped by the steps as text: faster than by the array of them (channel names hold no ' > ').
    SELECT
        arrayStringConcat(p.steps, ' > ') AS path,
        sum(p.conversions + p.nulls) AS journeys,
        sum(p.conversions) AS conversions,
        toFloat64(sum(p.value)) AS revenue,
        p.channels AS channels,
        multiIf({outcome:String} = 'converted', toInt64(conversions), {outcome:String} = 'not_converted',
            toInt64(journeys) - toInt64(conversions), toInt64(journeys)) AS counted,
        if({outcome:String} = 'not_converted', toFloat64(0), revenue) AS counted_revenue
    FROM {database:Identifier}.journey_path_days AS p
    WHERE p.group_by = 'channel'
      AND p.day >= toDate({from:DateTime64(3)})
      AND p.day < toDate({to:DateTime64(3)})
      AND p.anonymous = 0
      AND p.channels >= {min_channels:UInt32}
    GROUP BY path, channels
    HAVING counted > 0
    ORDER BY counted DESC, counted_revenue DESC, path ASC
    LIMIT {limit:UInt64}
)
ORDER BY counted DESC, counted_revenue DESC, path ASC
