-- channel-stats.sql for a range of whole UTC days, from aggregates kept by the view refresh: events per day and
-- channel (channel_daily) and the days each named person had events in each channel (person_channel_days). from and
-- to must be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    e.channel AS channel,
    e.events AS events,
    ifNull(p.persons, 0) AS persons
FROM
(
    SELECT channel, sum(events) AS events
    FROM {database:Identifier}.channel_daily
    WHERE day >= toDate({from:DateTime64(3)})
      AND day < toDate({to:DateTime64(3)})
    GROUP BY channel
) AS e
LEFT JOIN
(
    SELECT channel, countIf(arrayExists(d -> d >= toDate({from:DateTime64(3)}) AND d < toDate({to:DateTime64(3)}), days))
        AS persons
    FROM {database:Identifier}.person_channel_days
    GROUP BY channel
) AS p ON p.channel = e.channel
ORDER BY events DESC, channel ASC
