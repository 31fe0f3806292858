-- The categories a person bought most, by items on their orders and receipts.
-- The person's events come from touchpoints by their identity combinations, each once (see person-timeline.sql).
-- Parameters: database (Identifier), person_id (String).
SELECT JSONExtractString(item, 'category') AS category, count() AS items
FROM
(
    SELECT event_id, details
    FROM {database:Identifier}.touchpoints
    WHERE identity_combo IN
    (
        SELECT combo FROM {database:Identifier}.identity_combos
        WHERE combo IN (SELECT combo FROM {database:Identifier}.identity_combos WHERE person_id = {person_id:String})
        GROUP BY combo
        HAVING argMax(person_id, version) = {person_id:String}
    )
      AND event_type IN ('order_created', 'pos_receipt')
    LIMIT 1 BY event_id
)
ARRAY JOIN JSONExtractArrayRaw(details, 'items') AS item
WHERE category != ''
GROUP BY category
ORDER BY items DESC, category
LIMIT 5
