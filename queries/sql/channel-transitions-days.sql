-- channel-transitions.sql for a range of whole UTC days, from the daily aggregate channel_transition_days: transitions
-- whose two touches both fall in [from, to). from and to must be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    from_channel,
    to_channel,
    sum(transitions) AS transitions,
    if(from_channel = to_channel, NULL, quantileMerge(0.5)(seconds) / 3600) AS median_hours
FROM {database:Identifier}.channel_transition_days
WHERE previous_day >= toDate({from:DateTime64(3)})
  AND day < toDate({to:DateTime64(3)})
GROUP BY from_channel, to_channel
ORDER BY transitions DESC, from_channel, to_channel
