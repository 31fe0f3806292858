-- channel-switch-times.sql for a range of whole UTC days, from the daily aggregate channel_transition_days: switches
-- (consecutive touches on different channels) whose two touches both fall in [from, to), and the median time between
-- them. from and to must be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    sum(transitions) AS switches,
    if(sum(transitions) = 0, NULL, quantileMerge(0.5)(seconds) / 3600) AS median_hours
FROM {database:Identifier}.channel_transition_days
WHERE previous_day >= toDate({from:DateTime64(3)})
  AND day < toDate({to:DateTime64(3)})
  AND from_channel != to_channel
