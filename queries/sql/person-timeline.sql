-- A person's events, newest first: touches and the events of their orders.
-- Parameters: database (Identifier), person_id (String), limit (UInt32).
SELECT event_time, channel, event_type, family, order_key, toFloat64(revenue) AS revenue, utm_source, utm_campaign
FROM {database:Identifier}.touchpoints_resolved
WHERE person_id = {person_id:String}
ORDER BY event_time DESC, event_id
LIMIT {limit:UInt32}
