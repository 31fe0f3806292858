-- Each customer's first purchase and what their orders brought in within 30, 90, 180 and 365 days of it, gross and net
-- of refunds and returns (docs/ARCHITECTURE.md D29): ltv-historical-days.sql reads a row per customer instead of
-- joining every order of every customer on each request. The horizons are those of ltv-historical.sql, in its order.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.customer_values
REFRESH EVERY 1 MINUTE DEPENDS ON {database:Identifier}.orders
ENGINE = MergeTree
ORDER BY first_purchase
AS SELECT
    c.person_id AS person_id,
    c.first_purchase AS first_purchase,
    [
        toFloat64(sumIf(o.gross_revenue, o.placed_at < c.first_purchase + toIntervalDay(30))),
        toFloat64(sumIf(o.gross_revenue, o.placed_at < c.first_purchase + toIntervalDay(90))),
        toFloat64(sumIf(o.gross_revenue, o.placed_at < c.first_purchase + toIntervalDay(180))),
        toFloat64(sumIf(o.gross_revenue, o.placed_at < c.first_purchase + toIntervalDay(365)))
    ] AS gross,
    [
        toFloat64(sumIf(o.revenue, o.placed_at < c.first_purchase + toIntervalDay(30))),
        toFloat64(sumIf(o.revenue, o.placed_at < c.first_purchase + toIntervalDay(90))),
        toFloat64(sumIf(o.revenue, o.placed_at < c.first_purchase + toIntervalDay(180))),
        toFloat64(sumIf(o.revenue, o.placed_at < c.first_purchase + toIntervalDay(365)))
    ] AS net
FROM
(
    SELECT person_id, min(placed_at) AS first_purchase
    FROM {database:Identifier}.orders
    WHERE gross_revenue > 0 AND NOT startsWith(person_id, 'event:')
    GROUP BY person_id
) AS c
INNER JOIN {database:Identifier}.orders AS o ON o.person_id = c.person_id
GROUP BY c.person_id, c.first_purchase;
