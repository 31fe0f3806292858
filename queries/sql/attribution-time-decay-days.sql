-- attribution-time-decay.sql for the stored journeys (journey_settings' conversion types and lookback) over a range of
-- whole UTC days, from conversion_touch_ages (kept by the view refresh) instead of cutting journeys from the touches on
-- each request. from and to must be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String), channels (Array(String)),
-- half_life_days (Float64), collapse_repeats (UInt8).
SELECT
    step AS channel,
    sum(weight / total) AS conversions,
    sum(weight / total * value) AS value
FROM
(
    SELECT p, arrayMap(age -> exp2(-age / {half_life_days:Float64}), a) AS weights, arraySum(weights) AS total, value
    FROM
    (
        -- The touches in channels, then with collapse_repeats the last of each run of a step (the step after it
        -- differs; compared through a copy shifted by one).
        SELECT
            if(empty({channels:Array(String)}), steps,
                arrayFilter((step, channel) -> has({channels:Array(String)}, channel), steps, path_channels)) AS kept,
            if(empty({channels:Array(String)}), ages,
                arrayFilter((age, channel) -> has({channels:Array(String)}, channel), ages, path_channels)) AS kept_ages,
            arrayMap((step, next) -> step != next, kept, arrayResize(arrayPopFront(kept), length(kept), '')) AS last_of_run,
            if({collapse_repeats:UInt8} = 0, kept, arrayFilter((step, keep) -> keep, kept, last_of_run)) AS p,
            if({collapse_repeats:UInt8} = 0, kept_ages, arrayFilter((age, keep) -> keep, kept_ages, last_of_run)) AS a,
            value
        FROM {database:Identifier}.conversion_touch_ages
        WHERE group_by = {group_by:String}
          AND day >= toDate({from:DateTime64(3)})
          AND day < toDate({to:DateTime64(3)})
    )
    WHERE notEmpty(p)
)
ARRAY JOIN p AS step, weights AS weight
GROUP BY step
ORDER BY conversions DESC, channel
