-- attribution-credits-days.sql for a range of whole UTC days, from the daily aggregate journey_path_days: each
-- requested model's credit per channel (path step) over the journeys that ended in [from, to), worked out in the
-- engine, so that the paths themselves never leave it. The same models as queries/models/attribution.ts (tested
-- equal): first touch, last touch, last non-direct, linear, position-based, Shapley over channel sets and its
-- ordered variant (one row per position). One row with an empty model holds the totals over the journeys: journeys,
-- conversions and value. A journey's path keeps only the steps in channels (when not empty), and its repeats in a
-- row collapsed when collapse_repeats is 1; journeys left with no step are not counted. from and to must be UTC
-- midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String), channels (Array(String)),
-- collapse_repeats (UInt8), models (Array(String)), direct (Array(String): the channels last non-direct skips),
-- first, middle and last (Float64: the position-based shares, adding up to 1).
WITH paths AS
(
    SELECT
        p,
        length(p) AS n,
        conversions AS path_conversions,
        toFloat64(value) AS path_value,
        nulls AS path_nulls
    FROM
    (
        SELECT
            if(empty({channels:Array(String)}), path,
                arrayFilter((step, channel) -> has({channels:Array(String)}, channel), path, path_channels)) AS kept,
            if({collapse_repeats:UInt8} = 1, arrayCompact(kept), kept) AS p,
            conversions,
            value,
            nulls
        FROM {database:Identifier}.journey_path_days
        WHERE group_by = {group_by:String}
          AND day >= toDate({from:DateTime64(3)})
          AND day < toDate({to:DateTime64(3)})
    )
    WHERE notEmpty(p)
),
-- The converting journeys: only they carry credit.
converting AS (SELECT * FROM paths WHERE path_conversions > 0 OR path_value > 0)
SELECT '' AS model, '' AS channel, toUInt32(0) AS position,
    toFloat64(sum(path_conversions)) AS conversions, sum(path_value) AS value, sum(path_conversions + path_nulls) AS journeys
FROM paths
UNION ALL
SELECT 'first_touch', p[1], 0, sum(path_conversions), sum(path_value), 0
FROM converting WHERE has({models:Array(String)}, 'first_touch') GROUP BY p[1]
UNION ALL
SELECT 'last_touch', p[n], 0, sum(path_conversions), sum(path_value), 0
FROM converting WHERE has({models:Array(String)}, 'last_touch') GROUP BY p[n]
UNION ALL
-- The last step not in direct, or the first step when every later one is.
SELECT 'last_non_direct', step, 0, sum(path_conversions), sum(path_value), 0
FROM converting
WHERE has({models:Array(String)}, 'last_non_direct')
GROUP BY p[arrayLastIndex((s, i) -> i = 1 OR NOT has({direct:Array(String)}, s), p, arrayEnumerate(p))] AS step
UNION ALL
SELECT 'linear', step, 0, sum(path_conversions / n), sum(path_value / n), 0
FROM converting ARRAY JOIN p AS step
WHERE has({models:Array(String)}, 'linear')
GROUP BY step
UNION ALL
-- No steps between the first and the last: the middle share goes to the ends in proportion to theirs.
SELECT 'position_based', step, 0, sum(path_conversions * weight), sum(path_value * weight), 0
FROM
(
    SELECT step, path_conversions, path_value, i,
        multiIf(n = 1, 1,
            n = 2, if(i = 1, {first:Float64}, {last:Float64}) / ({first:Float64} + {last:Float64}),
            i = 1, {first:Float64},
            i = n, {last:Float64},
            {middle:Float64} / (n - 2)) AS weight
    FROM converting ARRAY JOIN p AS step, arrayEnumerate(p) AS i
    WHERE has({models:Array(String)}, 'position_based')
)
GROUP BY step
UNION ALL
-- Each channel of the journey's set gets 1/|set| (Zhao et al. 2018; see shapley in attribution.ts).
SELECT 'shapley', step, 0, sum(path_conversions / size), sum(path_value / size), 0
FROM (SELECT arrayDistinct(p) AS members, length(members) AS size, path_conversions, path_value FROM converting
      WHERE has({models:Array(String)}, 'shapley'))
ARRAY JOIN members AS step
GROUP BY step
UNION ALL
-- A channel's 1/|set| split evenly over the positions it holds in the journey.
-- How often a step occurs in its path: its occurrences up to it plus those after it, counted from the end.
SELECT 'shapley_ordered', step, i, sum(path_conversions * weight), sum(path_value * weight), 0
FROM
(
    SELECT step, i, path_conversions, path_value, 1 / size / (before + after - 1) AS weight
    FROM
    (
        SELECT p, length(arrayDistinct(p)) AS size, path_conversions, path_value FROM converting
        WHERE has({models:Array(String)}, 'shapley_ordered')
    )
    ARRAY JOIN p AS step, arrayEnumerate(p) AS i, arrayEnumerateUniq(p) AS before,
        arrayReverse(arrayEnumerateUniq(arrayReverse(p))) AS after
)
GROUP BY step, i
