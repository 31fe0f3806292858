-- channel-paths.sql for a range of whole UTC days, from the daily aggregate journey_path_days: journeys that ended in
-- [from, to), by their path with repeats in a row collapsed. from and to must be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    arrayFilter((channel, i) -> i = 1 OR channel != p.path[i - 1], p.path, arrayEnumerate(p.path)) AS steps,
    sum(p.conversions + p.nulls) AS journeys,
    sum(p.conversions) AS conversions,
    toFloat64(sum(p.value)) AS revenue,
    length(arrayDistinct(p.path)) AS channels
FROM {database:Identifier}.journey_path_days AS p
WHERE p.group_by = 'channel'
  AND p.day >= toDate({from:DateTime64(3)})
  AND p.day < toDate({to:DateTime64(3)})
  AND p.anonymous = 0
GROUP BY steps, channels
ORDER BY journeys DESC
