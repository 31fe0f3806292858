-- funnel.sql for a range of whole UTC days, from funnel_events (every named person's events, sorted by event type, so
-- that only the events of the steps are read) and person_channel_days (who had any event, for level 0: persons with
-- events in the range who never did the first step). from and to must be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), window_seconds (UInt64), step_1 ... step_8
-- (String), channel ('' for every channel, else only events of that channel count).
WITH
    (
        SELECT uniqExactIf(person_key,
            arrayExists(d -> d >= toDate({from:DateTime64(3)}) AND d < toDate({to:DateTime64(3)}), days))
        FROM {database:Identifier}.person_channel_days
        WHERE {channel:String} = '' OR channel = {channel:String}
    ) AS everyone
SELECT level, persons
FROM
(
    SELECT level, if(level = 0, everyone - (sum(reached) OVER () - reached), reached) AS persons
    FROM
    (
        SELECT level, sum(persons) AS reached
        FROM
        (
            SELECT level, count() AS persons
            FROM
            (
                SELECT
                    person_key,
                    windowFunnel({window_seconds:UInt64})(
                        toDateTime(event_time),
                        event_type = {step_1:String}, event_type = {step_2:String}, event_type = {step_3:String},
                        event_type = {step_4:String}, event_type = {step_5:String}, event_type = {step_6:String},
                        event_type = {step_7:String}, event_type = {step_8:String}
                    ) AS level
                FROM {database:Identifier}.funnel_events
                WHERE event_type IN ({step_1:String}, {step_2:String}, {step_3:String}, {step_4:String},
                        {step_5:String}, {step_6:String}, {step_7:String}, {step_8:String})
                  AND event_time >= {from:DateTime64(3)}
                  AND event_time < {to:DateTime64(3)}
                  AND ({channel:String} = '' OR channel = {channel:String})
                GROUP BY person_key
            )
            GROUP BY level
            UNION ALL
            SELECT 0 AS level, 0 AS persons
        )
        GROUP BY level
    )
)
WHERE persons > 0
ORDER BY level
