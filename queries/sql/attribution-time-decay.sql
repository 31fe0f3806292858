-- Time-decay attribution in days, computed here rather than from aggregated paths because each touch's weight
-- depends on its age: in every converted journey that ended in [from, to), a touch aged d days before the conversion
-- weighs 2^(−d / half_life_days), and the journey's conversion and net revenue are shared out in proportion to those
-- weights. Journeys are cut as in attribution-journey-paths.sql (conversion_types, lookback_seconds); with
-- collapse_repeats = 1, a run of touches of one step counts once, at the age of its latest touch. The same model as
-- queries/models/attribution.ts's time_decay given ages (tested against it).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String), channels (Array(String)),
-- conversion_types (Array(String)), lookback_seconds (UInt64), half_life_days (Float64), collapse_repeats (UInt8).
WITH
    steps AS
    (
        SELECT
            person_id,
            event_time,
            toUInt8(has({conversion_types:Array(String)}, event_type)) AS is_conversion,
            order_key,
            multiIf(
                {group_by:String} = 'channel_source', concat(channel, ' / ', if(utm_source = '', '(none)', utm_source)),
                {group_by:String} = 'channel_campaign', concat(channel, ' / ', if(utm_campaign = '', '(none)', utm_campaign)),
                toString(channel)) AS step,
            empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(channel)) AS kept,
            sum(is_conversion) OVER (PARTITION BY person_id ORDER BY event_time, event_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS journey_seq
        FROM {database:Identifier}.journey_touchpoints
        WHERE event_time >= {from:DateTime64(3)} - toIntervalSecond({lookback_seconds:UInt64})
    ),
    journeys AS
    (
        SELECT
            argMaxIf(order_key, event_time, is_conversion = 1) AS conversion_order,
            max(event_time) AS ended_at,
            arrayFilter(x -> x.1 >= ended_at - toIntervalSecond({lookback_seconds:UInt64}),
                arraySort(groupArrayIf((event_time, step), kept))) AS touches,
            arrayFilter((x, i) -> {collapse_repeats:UInt8} = 0 OR i = length(touches) OR touches[i + 1].2 != x.2,
                touches, arrayEnumerate(touches)) AS counted,
            arrayMap(x -> exp2(-(toUnixTimestamp64Milli(ended_at) - toUnixTimestamp64Milli(x.1)) / 86400000
                / {half_life_days:Float64}), counted) AS weights
        FROM steps
        GROUP BY person_id, journey_seq
        HAVING max(is_conversion) = 1 AND ended_at >= {from:DateTime64(3)} AND ended_at < {to:DateTime64(3)}
            AND notEmpty(counted)
    )
SELECT
    credit.1 AS channel,
    sum(credit.2) AS conversions,
    sum(credit.2 * revenue) AS value
FROM
(
    SELECT
        arrayJoin(arrayMap((x, w) -> (x.2, w / arraySum(j.weights)), j.counted, j.weights)) AS credit,
        toFloat64(o.revenue) AS revenue
    FROM journeys AS j
    LEFT JOIN
    (
        SELECT order_key, revenue FROM {database:Identifier}.orders WHERE order_key != ''
    ) AS o ON o.order_key = j.conversion_order
)
GROUP BY channel
ORDER BY conversions DESC, channel
