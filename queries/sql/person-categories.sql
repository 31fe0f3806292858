-- The categories a person bought most, by items on their orders and receipts.
-- Parameters: database (Identifier), person_id (String).
SELECT JSONExtractString(item, 'category') AS category, count() AS items
FROM {database:Identifier}.touchpoints_resolved
ARRAY JOIN JSONExtractArrayRaw(details, 'items') AS item
WHERE person_id = {person_id:String}
  AND event_type IN ('order_created', 'pos_receipt')
  AND category != ''
GROUP BY category
ORDER BY items DESC, category
LIMIT 5
