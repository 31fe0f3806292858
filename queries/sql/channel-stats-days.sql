-- channel-stats.sql for a range of whole UTC days, from the daily aggregate channel_day_persons (kept by the view
-- refresh): events and distinct resolved persons per channel in [from, to). from and to must be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    channel,
    sum(events) AS events,
    groupBitmapMerge(persons) AS persons
FROM {database:Identifier}.channel_day_persons
WHERE day >= toDate({from:DateTime64(3)})
  AND day < toDate({to:DateTime64(3)})
GROUP BY channel
ORDER BY events DESC, channel ASC
