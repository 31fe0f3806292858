-- The persons seen in [from, to) (their first event before `to` and their last at or after `from`), the first `limit`
-- by `sort` (revenue, events or last_seen, highest first; then by person id), with the figures of their whole history
-- from the persons view: first and last seen, events, channels (sorted, comma-separated), customer id, orders and
-- net revenue. With channels non-empty: only persons who used one of those channels. Events nobody can be named for
-- belong to no person (docs/DATA_MODEL.md).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), channels (Array(String)), sort (String),
-- limit (UInt32).
SELECT
    p.person_id AS person_id,
    p.customer_id AS customer_id,
    p.first_seen AS first_seen,
    p.last_seen AS last_seen,
    p.events AS events,
    arrayStringConcat(arraySort(arrayMap(c -> toString(c), p.channels)), ',') AS channels,
    p.orders AS orders,
    toFloat64(p.revenue) AS revenue
FROM {database:Identifier}.persons AS p
WHERE p.first_seen < {to:DateTime64(3)}
  AND p.last_seen >= {from:DateTime64(3)}
  AND (empty({channels:Array(String)}) OR hasAny(arrayMap(c -> toString(c), p.channels), {channels:Array(String)}))
ORDER BY
    multiIf({sort:String} = 'events', toFloat64(p.events),
            {sort:String} = 'last_seen', toFloat64(toUnixTimestamp64Milli(p.last_seen)),
            toFloat64(p.revenue)) DESC,
    p.person_id
LIMIT {limit:UInt32}
