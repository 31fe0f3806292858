-- Journeys built for this query, aggregated by path as attribution-paths.sql does, for conversion types and a lookback
-- window other than those the stored journeys were built with (journey_settings). From journey_touchpoints (every
-- touch, and events of the stored conversion types): a person's touches in time order are cut after each touch whose
-- event type is in conversion_types; a journey's path is its touches within lookback_seconds before its end (its
-- conversion, or its last touch if it did not convert); journeys that ended in [from, to) count. Revenue is the net
-- revenue of the converting touch's order (0 for a conversion without an order, such as a lead).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String), channels (Array(String)),
-- conversion_types (Array(String)), lookback_seconds (UInt64).
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
            max(is_conversion) AS converted,
            argMaxIf(order_key, event_time, is_conversion = 1) AS conversion_order,
            max(event_time) AS ended_at,
            arrayMap(x -> x.2, arrayFilter(x -> x.1 >= ended_at - toIntervalSecond({lookback_seconds:UInt64}),
                arraySort(groupArrayIf((event_time, step), kept)))) AS path
        FROM steps
        GROUP BY person_id, journey_seq
        HAVING ended_at >= {from:DateTime64(3)} AND ended_at < {to:DateTime64(3)} AND notEmpty(path)
    )
SELECT
    j.path AS path,
    countIf(j.converted = 1) AS conversions,
    sumIf(toFloat64(o.revenue), j.converted = 1) AS value,
    countIf(j.converted = 0) AS nulls
FROM journeys AS j
LEFT JOIN
(
    SELECT order_key, revenue FROM {database:Identifier}.orders WHERE order_key != ''
) AS o ON o.order_key = j.conversion_order
GROUP BY path
ORDER BY conversions DESC, nulls DESC
