-- Journeys that ended in [from, to), aggregated by their path: how many converted, the net revenue of those that did,
-- and how many did not. The input of every attribution model (queries/models/attribution.ts).
-- A path step is the touch's channel, or its channel and UTM source or campaign (group_by = 'channel',
-- 'channel_source', 'channel_campaign'). With channels non-empty, only touches in those channels make the path, and
-- journeys with none of them are left out. Conversions, the lookback window and sessions are those the journeys
-- were built with (journey_settings); touches outside the lookback window are not in the path.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String), channels (Array(String)).
SELECT
    path,
    countIf(converted = 1) AS conversions,
    toFloat64(sumIf(revenue, converted = 1)) AS value,
    countIf(converted = 0) AS nulls
FROM
(
    SELECT
        j.journey_id AS journey_id,
        any(j.converted) AS converted,
        any(j.revenue) AS revenue,
        arrayMap(x -> x.2, arraySort(groupArray((t.event_time, multiIf(
            {group_by:String} = 'channel_source', concat(t.channel, ' / ', if(t.utm_source = '', '(none)', t.utm_source)),
            {group_by:String} = 'channel_campaign', concat(t.channel, ' / ', if(t.utm_campaign = '', '(none)', t.utm_campaign)),
            toString(t.channel)))))) AS path
    FROM {database:Identifier}.journeys AS j
    INNER JOIN {database:Identifier}.journey_touchpoints AS t ON t.journey_id = j.journey_id
    WHERE j.ended_at >= {from:DateTime64(3)}
      AND j.ended_at < {to:DateTime64(3)}
      AND t.in_lookback = 1
      AND (empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(t.channel)))
    GROUP BY j.journey_id
)
WHERE notEmpty(path)
GROUP BY path
ORDER BY conversions DESC, nulls DESC
