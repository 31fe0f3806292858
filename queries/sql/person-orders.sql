-- A person's orders, newest first, with where they were placed and fulfilled and their net revenue.
-- Parameters: database (Identifier), person_id (String).
SELECT order_key, placed_at, placed_channel, fulfilled_channel, returned_in_store, partially_refused,
       toFloat64(revenue) AS revenue, toFloat64(refunded) AS refunded, currency
FROM {database:Identifier}.orders
WHERE person_id = {person_id:String}
ORDER BY placed_at DESC
