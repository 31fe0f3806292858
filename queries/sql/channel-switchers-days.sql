-- channel-switchers.sql for a range of whole UTC days, from aggregates kept by the view refresh: touch_channel_days
-- (the days each person touched each channel) and conversion_days (a person's conversions on a day and their
-- journeys' net revenue): customers with touches in [from, to), single-channel against multichannel. from and to must
-- be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    if(p.channels > 1, 'multichannel', 'single_channel') AS segment,
    count() AS customers,
    countIf(c.conversions > 0) AS converted_customers,
    sum(c.conversions) AS orders,
    toFloat64(sum(c.revenue)) AS revenue
FROM
(
    SELECT person_key, count() AS channels
    FROM {database:Identifier}.touch_channel_days
    WHERE arrayExists(d -> d >= toDate({from:DateTime64(3)}) AND d < toDate({to:DateTime64(3)}), days)
    GROUP BY person_key
) AS p
LEFT JOIN
(
    SELECT person_key, sum(conversions) AS conversions, sum(revenue) AS revenue
    FROM {database:Identifier}.conversion_days
    WHERE day >= toDate({from:DateTime64(3)})
      AND day < toDate({to:DateTime64(3)})
    GROUP BY person_key
) AS c ON c.person_key = p.person_key
GROUP BY segment
ORDER BY segment
