-- Switches between channels (consecutive touches of a person on different channels) among touches in [from, to):
-- how many, and the median time between the two touches of a switch.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    count() AS switches,
    if(count() = 0, NULL, median(dateDiff('second', previous_time, event_time)) / 3600) AS median_hours
FROM
(
    SELECT
        channel,
        event_time,
        lagInFrame(toNullable(channel)) OVER w AS previous_channel,
        lagInFrame(event_time) OVER w AS previous_time
    FROM {database:Identifier}.journey_touchpoints
    WHERE event_time >= {from:DateTime64(3)}
      AND event_time < {to:DateTime64(3)}
      AND NOT startsWith(person_id, 'event:')
    WINDOW w AS (PARTITION BY person_id ORDER BY event_time, event_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE previous_channel IS NOT NULL AND previous_channel != channel
