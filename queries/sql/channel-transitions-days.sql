-- channel-transitions.sql for a range of whole UTC days, from the daily aggregate channel_transition_days: transitions
-- whose two touches both fall in [from, to). from and to must be UTC midnights. One pass gives the pairs and the
-- totals row; the median is taken over the gaps each row keeps (migration 0012).
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    from_channel,
    to_channel,
    sum(t.transitions) AS transitions,
    sumIf(t.transitions, from_channel != to_channel) AS switches,
    if(switches = 0, NULL, medianArrayIf(t.seconds, from_channel != to_channel) / 3600) AS median_hours
FROM {database:Identifier}.channel_transition_days AS t
WHERE t.previous_day >= toDate({from:DateTime64(3)})
  AND t.day < toDate({to:DateTime64(3)})
GROUP BY GROUPING SETS ((from_channel, to_channel), ())
ORDER BY transitions DESC, from_channel, to_channel
