-- Every converted journey with its touches' ages, for time-decay attribution over whole days (docs/ARCHITECTURE.md
-- D29): a touch's weight depends on how long before the conversion it happened, so its journeys cannot be summed by
-- path as journey_path_days does. One row per converted journey and way of naming a step (as journey_path_days): the
-- day it ended, the steps of its touches in the lookback window in time order (ties by step name, as
-- attribution-time-decay.sql sorts them), their channels, their ages in days before the conversion, and the order's
-- net revenue. attribution-time-decay-days.sql reads it.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.conversion_touch_ages
REFRESH EVERY 1 MINUTE DEPENDS ON {database:Identifier}.journeys
ENGINE = MergeTree
ORDER BY (group_by, day)
AS SELECT
    toDate(ended_at) AS day,
    naming.1 AS group_by,
    CAST(arrayMap(x -> x.2, naming.2), 'Array(LowCardinality(String))') AS steps,
    CAST(arrayMap(x -> x.3, naming.2), 'Array(LowCardinality(String))') AS path_channels,
    arrayMap(x -> (toUnixTimestamp64Milli(ended_at) - toUnixTimestamp64Milli(x.1)) / 86400000, naming.2) AS ages,
    value
FROM
(
    SELECT
        any(j.ended_at) AS ended_at,
        toFloat64(any(j.revenue)) AS value,
        groupArray((t.event_time, toString(t.channel), t.utm_source, t.utm_campaign)) AS touches,
        -- Per naming: (time, step, channel), sorted by time, then step.
        [
            ('channel', arraySort(arrayMap(x -> (x.1, x.2, x.2), touches))),
            ('channel_source',
                arraySort(arrayMap(x -> (x.1, concat(x.2, ' / ', if(x.3 = '', '(none)', x.3)), x.2), touches))),
            ('channel_campaign',
                arraySort(arrayMap(x -> (x.1, concat(x.2, ' / ', if(x.4 = '', '(none)', x.4)), x.2), touches)))
        ] AS namings
    FROM {database:Identifier}.journeys AS j
    INNER JOIN {database:Identifier}.journey_touchpoints AS t ON t.journey_id = j.journey_id
    WHERE t.in_lookback = 1 AND j.converted = 1
    GROUP BY j.journey_id
)
ARRAY JOIN namings AS naming;
