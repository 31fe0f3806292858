-- A funnel of up to eight steps (event types, in order) over the persons with events in [from, to): how many persons
-- reached each step within the window after their first step (ClickHouse's windowFunnel, strict order not required).
-- Unused steps are bound to a value no event has. Level 0: persons with events who never did the first step.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), window_seconds (UInt64), step_1 ... step_8
-- (String), channel ('' for every channel, else only events of that channel count).
SELECT level, count() AS persons
FROM
(
    SELECT
        person_id,
        windowFunnel({window_seconds:UInt64})(
            toDateTime(event_time),
            event_type = {step_1:String}, event_type = {step_2:String}, event_type = {step_3:String},
            event_type = {step_4:String}, event_type = {step_5:String}, event_type = {step_6:String},
            event_type = {step_7:String}, event_type = {step_8:String}
        ) AS level
    FROM {database:Identifier}.touchpoints_resolved
    WHERE event_time >= {from:DateTime64(3)}
      AND event_time < {to:DateTime64(3)}
      AND NOT startsWith(person_id, 'event:')
      AND ({channel:String} = '' OR channel = {channel:String})
    GROUP BY person_id
)
GROUP BY level
ORDER BY level
