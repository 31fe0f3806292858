-- The headline figures of [from, to) for the dashboard, in one row. Events: rows of touchpoints_resolved (FINAL:
-- re-delivered events once) with event_time in the range; persons: the distinct resolved persons among them (events
-- nobody can be named for count as events, not as persons, as in channel-stats.sql); omnichannel_share: the share of
-- those persons whose touches in the range, in any channel, span two channels or more. Orders: rows of orders placed in
-- the range with gross_revenue > 0 (refund-only and zero-value orders are not orders); revenue: their net revenue
-- (refunds and returns deducted). Journeys: rows of journeys that ended in the range; conversion_rate: the share of
-- them that converted (0 without journeys). With channels non-empty: only events of those channels, orders placed in
-- them and journeys whose path has a touch in them count (omnichannel_share still counts every channel of a person).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), channels (Array(String)).
SELECT
    e.events AS events,
    e.persons AS persons,
    o.orders AS orders,
    o.revenue AS revenue,
    if(j.journeys = 0, 0, j.converted_journeys / j.journeys) AS conversion_rate,
    if(e.persons = 0, 0, e.omnichannel_persons / e.persons) AS omnichannel_share,
    j.journeys AS journeys,
    j.converted_journeys AS converted_journeys
FROM
(
    SELECT
        sum(kept_events) AS events,
        countIf(kept_events > 0 AND NOT startsWith(person_id, 'event:')) AS persons,
        countIf(kept_events > 0 AND NOT startsWith(person_id, 'event:') AND channels >= 2) AS omnichannel_persons
    FROM
    (
        SELECT
            person_id,
            countIf(empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(channel))) AS kept_events,
            uniqExact(channel) AS channels
        FROM {database:Identifier}.touchpoints_resolved
        WHERE event_time >= {from:DateTime64(3)}
          AND event_time < {to:DateTime64(3)}
        GROUP BY person_id
    )
) AS e
CROSS JOIN
(
    SELECT count() AS orders, toFloat64(sum(revenue)) AS revenue
    FROM {database:Identifier}.orders
    WHERE placed_at >= {from:DateTime64(3)}
      AND placed_at < {to:DateTime64(3)}
      AND gross_revenue > 0
      AND (empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(placed_channel)))
) AS o
CROSS JOIN
(
    SELECT count() AS journeys, countIf(converted = 1) AS converted_journeys
    FROM {database:Identifier}.journeys
    WHERE ended_at >= {from:DateTime64(3)}
      AND ended_at < {to:DateTime64(3)}
      AND (empty({channels:Array(String)}) OR hasAny(arrayMap(x -> toString(x), path), {channels:Array(String)}))
) AS j
