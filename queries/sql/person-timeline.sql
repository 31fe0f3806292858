-- A person's events, newest first: touches and the events of their orders.
-- The person's events are read straight from touchpoints by their identity combinations (those whose newest mapping
-- in identity_combos is this person), each re-delivered event once (LIMIT 1 BY event_id, as FINAL would): the same
-- rows as touchpoints_resolved WHERE person_id = …, without resolving every touchpoint first.
-- Parameters: database (Identifier), person_id (String), limit (UInt32).
SELECT event_time, channel, event_type, family, order_key, toFloat64(revenue) AS revenue, utm_source, utm_campaign
FROM {database:Identifier}.touchpoints
WHERE identity_combo IN
(
    SELECT combo FROM {database:Identifier}.identity_combos
    WHERE combo IN (SELECT combo FROM {database:Identifier}.identity_combos WHERE person_id = {person_id:String})
    GROUP BY combo
    HAVING argMax(person_id, version) = {person_id:String}
)
ORDER BY event_time DESC, event_id
LIMIT 1 BY event_id
LIMIT {limit:UInt32}
