-- ltv-historical.sql from customer_values (kept by the view refresh): a row per customer with the values within each
-- horizon already summed. Answers any range; the route runs it for ranges of whole UTC days, like every -days twin.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
WITH
    (SELECT max(placed_at) FROM {database:Identifier}.orders) AS newest,
    per_customer AS
    (
        SELECT person_id, first_purchase, horizon_days, gross, net
        FROM {database:Identifier}.customer_values
        ARRAY JOIN [30, 90, 180, 365] AS horizon_days, gross, net
        WHERE first_purchase >= {from:DateTime64(3)} AND first_purchase < {to:DateTime64(3)}
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
