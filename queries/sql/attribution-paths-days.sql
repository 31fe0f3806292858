-- attribution-paths.sql for a range of whole UTC days, from the daily aggregate journey_path_days: journeys that
-- ended in [from, to), by path (steps named as group_by says), with channels non-empty only the steps in those
-- channels. from and to must be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String), channels (Array(String)).
SELECT
    kept AS path,
    sum(conversions) AS conversions,
    toFloat64(sum(value)) AS value,
    sum(nulls) AS nulls
FROM
(
    SELECT
        if(empty({channels:Array(String)}), path,
            arrayFilter((step, channel) -> has({channels:Array(String)}, channel), path, path_channels)) AS kept,
        conversions,
        value,
        nulls
    FROM {database:Identifier}.journey_path_days
    WHERE group_by = {group_by:String}
      AND day >= toDate({from:DateTime64(3)})
      AND day < toDate({to:DateTime64(3)})
)
WHERE notEmpty(kept)
GROUP BY kept
ORDER BY conversions DESC, nulls DESC
