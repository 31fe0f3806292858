-- journey_path_days again, its paths as arrays of LowCardinality strings: a path step is one of a few hundred names
-- at most (channels, or channels with their UTM source or campaign), so the engine reads and groups dictionary numbers
-- instead of the strings, which halves the time of the attribution and channel-switch queries over it (docs/
-- ARCHITECTURE.md D29). Same rows, same columns otherwise; steps is the path with repeats in a row collapsed
-- (arrayCompact). Dropped and made anew: a view's column types cannot be altered. Until its first refresh (it starts
-- at once) the new view is empty.
DROP VIEW IF EXISTS {database:Identifier}.journey_path_days;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.journey_path_days
REFRESH EVERY 1 MINUTE DEPENDS ON {database:Identifier}.journeys
ENGINE = MergeTree
ORDER BY (group_by, day)
AS SELECT
    toDate(ended_at) AS day,
    naming.1 AS group_by,
    CAST(naming.2, 'Array(LowCardinality(String))') AS path,
    CAST(touch_channels, 'Array(LowCardinality(String))') AS path_channels,
    arrayCompact(path) AS steps,
    toUInt32(length(arrayDistinct(path_channels))) AS channels,
    anonymous,
    countIf(converted = 1) AS conversions,
    sumIf(revenue, converted = 1) AS value,
    countIf(converted = 0) AS nulls
FROM
(
    SELECT
        any(j.ended_at) AS ended_at,
        any(j.converted) AS converted,
        any(j.revenue) AS revenue,
        startsWith(any(j.person_id), 'event:') AS anonymous,
        arraySort(groupArray((t.event_time, toString(t.channel), t.utm_source, t.utm_campaign))) AS touches,
        arrayMap(x -> x.2, touches) AS touch_channels,
        [
            ('channel', touch_channels),
            ('channel_source', arrayMap(x -> concat(x.2, ' / ', if(x.3 = '', '(none)', x.3)), touches)),
            ('channel_campaign', arrayMap(x -> concat(x.2, ' / ', if(x.4 = '', '(none)', x.4)), touches))
        ] AS namings
    FROM {database:Identifier}.journeys AS j
    INNER JOIN {database:Identifier}.journey_touchpoints AS t ON t.journey_id = j.journey_id
    WHERE t.in_lookback = 1
    GROUP BY j.journey_id
)
ARRAY JOIN namings AS naming
GROUP BY day, group_by, path, path_channels, steps, channels, anonymous;
