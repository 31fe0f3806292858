-- What a person is like, from all their events: when first and last seen, events, channels used, orders and net
-- revenue, the payment method used most, the categories bought most, the price band of their orders against the
-- store's (below the 33rd percentile of order value: low; above the 67th: high), and their newest consent flags.
-- The person's events come from touchpoints by their identity combinations, each once (see person-timeline.sql).
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
    argMaxIf(consent, event_time, consent NOT IN ('', '{}')) AS consent
FROM
(
    SELECT event_id, event_time, channel, details, consent
    FROM {database:Identifier}.touchpoints
    WHERE identity_combo IN
    (
        SELECT combo FROM {database:Identifier}.identity_combos
        WHERE combo IN (SELECT combo FROM {database:Identifier}.identity_combos WHERE person_id = {person_id:String})
        GROUP BY combo
        HAVING argMax(person_id, version) = {person_id:String}
    )
    LIMIT 1 BY event_id
)
