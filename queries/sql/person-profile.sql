-- What a person is like, from all their events: when first and last seen, events, channels used, orders and net
-- revenue, the payment method used most, the categories bought most, the price band of their orders against the
-- store's (below the 33rd percentile of order value: low; above the 67th: high), and their newest consent flags.
-- Parameters: database (Identifier), person_id (String).
WITH
    (SELECT quantiles(0.33, 0.67)(gross_revenue) FROM {database:Identifier}.orders WHERE gross_revenue > 0) AS bands,
    person_orders AS (
        SELECT count() AS orders, avgIf(gross_revenue, gross_revenue > 0) AS average_order, sum(revenue) AS revenue
        FROM {database:Identifier}.orders
        WHERE person_id = {person_id:String}
    )
SELECT
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    count() AS events,
    groupUniqArray(channel) AS channels,
    (SELECT orders FROM person_orders) AS orders,
    toFloat64((SELECT revenue FROM person_orders)) AS revenue,
    topKIf(1)(JSONExtractString(details, 'payment_method'), JSONExtractString(details, 'payment_method') != '')
        AS payment_methods,
    (SELECT average_order FROM person_orders) AS average_order,
    multiIf(isNaN(average_order) OR length(bands) < 2, '',
            average_order < toFloat64(bands[1]), 'low',
            average_order > toFloat64(bands[2]), 'high', 'mid') AS price_band,
    argMaxIf(consent, event_time, consent != '') AS consent
FROM
(
    SELECT t.event_time AS event_time, t.channel AS channel, t.details AS details, p.consent AS consent
    FROM {database:Identifier}.touchpoints_resolved AS t
    LEFT JOIN
    (
        SELECT event_id, consent FROM {database:Identifier}.touchpoints FINAL
        WHERE consent NOT IN ('', '{}')
          AND event_id IN (SELECT event_id FROM {database:Identifier}.touchpoints_resolved WHERE person_id = {person_id:String})
    ) AS p ON p.event_id = t.event_id
    WHERE t.person_id = {person_id:String}
)
