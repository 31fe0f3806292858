-- attribution-shapley-ordered-days.sql for a range of whole UTC days, from the daily aggregate journey_path_days: the
-- ordered Shapley credit (queries/models/attribution.ts, shapley_ordered) per channel and position over the journeys
-- that ended in [from, to): in each converting journey a channel's 1/|set| of its conversions and value, split evenly
-- over the positions (1 = the first step) the channel holds. Paths as in attribution-days.sql. from and to must be UTC
-- midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String), channels (Array(String)),
-- collapse_repeats (UInt8).
SELECT
    step,
    position,
    sum(path_conversions * weight) AS conversions,
    sum(path_value * weight) AS value
FROM
(
    -- How often a step occurs in its path: its occurrences up to it plus those after it, counted from the end.
    SELECT step, position, path_conversions, path_value, 1 / size / (before + after - 1) AS weight
    FROM
    (
        SELECT
            if(empty({channels:Array(String)}), path,
                arrayFilter((step, channel) -> has({channels:Array(String)}, channel), path, path_channels)) AS kept,
            if({collapse_repeats:UInt8} = 1, arrayCompact(kept), kept) AS p,
            length(arrayDistinct(p)) AS size,
            conversions AS path_conversions,
            toFloat64(value) AS path_value
        FROM {database:Identifier}.journey_path_days
        WHERE group_by = {group_by:String}
          AND day >= toDate({from:DateTime64(3)})
          AND day < toDate({to:DateTime64(3)})
          AND (conversions > 0 OR value > 0)
    )
    ARRAY JOIN p AS step, arrayEnumerate(p) AS position, arrayEnumerateUniq(p) AS before,
        arrayReverse(arrayEnumerateUniq(arrayReverse(p))) AS after
)
GROUP BY step, position
