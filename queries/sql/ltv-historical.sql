-- Historical customer value: customers whose first purchase fell in [from, to), and what their orders brought in
-- within 30, 90, 180 and 365 days of it, gross and net of refunds and returns, averaged per customer. Grouped three
-- ways: by first-purchase month (cohort), by acquisition channel (the channel of the customer's first touch) and by
-- how many channels the customer used (single_channel or multichannel), both from person_channels (kept by the view
-- refresh). `matured` counts the customers whose horizon has fully passed by the newest order stored; the averages
-- are over every customer of the segment.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
WITH
    (SELECT max(placed_at) FROM {database:Identifier}.orders) AS newest,
    customers AS
    (
        SELECT person_id, min(placed_at) AS first_purchase
        FROM {database:Identifier}.orders
        WHERE gross_revenue > 0 AND NOT startsWith(person_id, 'event:')
        GROUP BY person_id
        HAVING first_purchase >= {from:DateTime64(3)} AND first_purchase < {to:DateTime64(3)}
    ),
    per_customer AS
    (
        SELECT
            c.person_id AS person_id,
            horizon_days,
            any(c.first_purchase) AS first_purchase,
            toFloat64(sumIf(o.gross_revenue, o.placed_at < c.first_purchase + toIntervalDay(horizon_days))) AS gross,
            toFloat64(sumIf(o.revenue, o.placed_at < c.first_purchase + toIntervalDay(horizon_days))) AS net
        FROM customers AS c
        ARRAY JOIN [30, 90, 180, 365] AS horizon_days
        INNER JOIN {database:Identifier}.orders AS o ON o.person_id = c.person_id
        GROUP BY c.person_id, horizon_days
    )
SELECT
    d.1 AS dimension,
    d.2 AS segment,
    horizon_days,
    count() AS customers,
    countIf(p.first_purchase + toIntervalDay(horizon_days) <= newest) AS matured,
    avg(gross) AS ltv_gross,
    avg(net) AS ltv_net
FROM per_customer AS p
LEFT JOIN {database:Identifier}.person_channels AS t ON t.person_id = p.person_id
ARRAY JOIN [
    ('cohort', toString(toStartOfMonth(p.first_purchase))),
    ('acquisition_channel', t.acquisition_channel),
    ('channels_used', if(t.channels_used > 1, 'multichannel', 'single_channel'))
] AS d
GROUP BY dimension, segment, horizon_days
ORDER BY dimension, segment, horizon_days
