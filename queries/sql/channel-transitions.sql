-- Transitions between the channels of consecutive touches of a person, for touches in [from, to): how many, and for
-- switches (the channel changes) how many and the median time between the two touches. Self-transitions are counted
-- too, so each row's share of its from_channel's total is the transition probability. The row with empty channels
-- holds the totals: every transition, the switches among them and their median time apart.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    toString(assumeNotNull(previous_channel)) AS from_channel,
    toString(channel) AS to_channel,
    count() AS transitions,
    countIf(from_channel != to_channel) AS switches,
    if(switches = 0, NULL, medianIf(dateDiff('second', previous_time, event_time), from_channel != to_channel) / 3600)
        AS median_hours
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
WHERE previous_channel IS NOT NULL
GROUP BY GROUPING SETS ((from_channel, to_channel), ())
ORDER BY transitions DESC, from_channel, to_channel
