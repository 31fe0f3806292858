-- Per-customer purchase history for predictive LTV (queries/models/ltv.ts), in lifetimes' layout with days as the unit:
-- customers whose first purchase fell in [from, to), their orders up to the observation end (the earlier of `to` and
-- the newest order stored). Purchases are counted per day, as lifetimes does: `frequency` is the number of days with a
-- purchase after the first one, `recency` the days from the first purchase day to the last, `T` the days from the
-- first to the observation end, `monetary_value` the mean net revenue of the repeat purchase days (refunds and returns
-- deducted; 0 without repeats). Each customer also carries the segments of ltv-historical.sql: acquisition channel
-- (the channel of the first touch) and single_channel or multichannel, from person_channels (kept by the view refresh).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
WITH
    least({to:DateTime64(3)}, (SELECT max(placed_at) FROM {database:Identifier}.orders)) AS observation_end,
    purchase_days AS
    (
        SELECT person_id, toDate(placed_at) AS day, min(placed_at) AS first_at, toFloat64(sum(revenue)) AS value
        FROM {database:Identifier}.orders
        WHERE gross_revenue > 0 AND NOT startsWith(person_id, 'event:') AND placed_at <= observation_end
        GROUP BY person_id, day
    ),
    customers AS
    (
        SELECT
            person_id,
            min(first_at) AS first_purchase,
            count() - 1 AS frequency,
            dateDiff('day', min(day), max(day)) AS recency,
            dateDiff('day', min(day), toDate(observation_end)) AS T,
            if(count() > 1, (sum(value) - argMin(value, day)) / (count() - 1), 0) AS monetary_value
        FROM purchase_days
        GROUP BY person_id
        HAVING first_purchase >= {from:DateTime64(3)} AND first_purchase < {to:DateTime64(3)}
    )
SELECT
    c.person_id AS person_id,
    toString(toDate(c.first_purchase)) AS first_purchase,
    toString(observation_end) AS observed_until,
    c.frequency AS frequency,
    c.recency AS recency,
    c.T AS T,
    c.monetary_value AS monetary_value,
    if(t.acquisition_channel = '', '(unknown)', toString(t.acquisition_channel)) AS acquisition_channel,
    if(t.channels_used > 1, 'multichannel', 'single_channel') AS channels_used
FROM customers AS c
LEFT JOIN {database:Identifier}.person_channels AS t ON t.person_id = c.person_id
ORDER BY c.person_id
