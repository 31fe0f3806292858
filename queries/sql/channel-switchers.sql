-- Customers with touches in [from, to), single-channel against multichannel (two or more channels among their
-- touches): how many, how many converted, their orders and net revenue in the range.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    if(channels > 1, 'multichannel', 'single_channel') AS segment,
    count() AS customers,
    countIf(conversions > 0) AS converted_customers,
    sum(conversions) AS orders,
    toFloat64(sum(revenue)) AS revenue
FROM
(
    SELECT
        person_id,
        uniqExact(channel) AS channels,
        uniqExactIf(journey_id, is_conversion = 1) AS conversions,
        sumIf(journey_revenue, is_conversion = 1) AS revenue
    FROM
    (
        SELECT t.person_id AS person_id, t.channel AS channel, t.journey_id AS journey_id,
               t.is_conversion AS is_conversion, j.revenue AS journey_revenue
        FROM {database:Identifier}.journey_touchpoints AS t
        LEFT JOIN {database:Identifier}.journeys AS j ON j.journey_id = t.journey_id
        WHERE t.event_time >= {from:DateTime64(3)}
          AND t.event_time < {to:DateTime64(3)}
          AND NOT startsWith(t.person_id, 'event:')
    )
    GROUP BY person_id
)
GROUP BY segment
ORDER BY segment
