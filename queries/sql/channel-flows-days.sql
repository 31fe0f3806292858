-- channel-flows.sql for a range of whole UTC days, from the daily aggregate journey_path_days. from and to must be UTC
-- midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), flow_steps (UInt8).
SELECT
    sum(n) AS journeys,
    sumIf(n, channels > 1) AS multichannel_journeys,
    sumMap(
        arrayMap(i -> concat(toString(i), '. ', steps[i], '\t', toString(i + 1), '. ', steps[i + 1]),
            range(1, least(length(steps), {flow_steps:UInt8}))),
        arrayMap(i -> n, range(1, least(length(steps), {flow_steps:UInt8})))
    ) AS flows
FROM
(
    SELECT steps, channels, conversions + nulls AS n
    FROM {database:Identifier}.journey_path_days
    WHERE group_by = 'channel'
      AND day >= toDate({from:DateTime64(3)})
      AND day < toDate({to:DateTime64(3)})
      AND anonymous = 0
)
