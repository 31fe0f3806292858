-- The dashboard's figures of [from, to) per day or per ISO week (interval = 'day' or 'week'; a week starts on Monday),
-- with the definitions of overview-totals.sql: events, distinct resolved persons, orders (gross_revenue > 0) and their
-- net revenue, each in the period its event or order placement fell in. Every period the range touches has a row,
-- zeros where nothing happened. A person active in two periods counts in each, so persons do not add up to the total.
-- With channels non-empty: only events of those channels and orders placed in them count.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), channels (Array(String)), interval (String).
SELECT period, sum(events) AS events, sum(persons) AS persons, sum(orders) AS orders, sum(revenue) AS revenue
FROM
(
    SELECT
        if({interval:String} = 'week', toMonday(event_time), toDate(event_time)) AS period,
        count() AS events,
        uniqExactIf(person_id, NOT startsWith(person_id, 'event:')) AS persons,
        toUInt64(0) AS orders,
        toFloat64(0) AS revenue
    FROM {database:Identifier}.touchpoints_resolved
    WHERE event_time >= {from:DateTime64(3)}
      AND event_time < {to:DateTime64(3)}
      AND (empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(channel)))
    GROUP BY period
    UNION ALL
    SELECT
        if({interval:String} = 'week', toMonday(placed_at), toDate(placed_at)) AS period,
        toUInt64(0) AS events,
        toUInt64(0) AS persons,
        count() AS orders,
        toFloat64(sum(revenue)) AS revenue
    FROM {database:Identifier}.orders
    WHERE placed_at >= {from:DateTime64(3)}
      AND placed_at < {to:DateTime64(3)}
      AND gross_revenue > 0
      AND (empty({channels:Array(String)}) OR has({channels:Array(String)}, toString(placed_channel)))
    GROUP BY period
)
GROUP BY period
ORDER BY period WITH FILL
    FROM if({interval:String} = 'week', toMonday({from:DateTime64(3)}), toDate({from:DateTime64(3)}))
    TO if({interval:String} = 'week', toMonday({to:DateTime64(3)} - toIntervalMillisecond(1)),
        toDate({to:DateTime64(3)} - toIntervalMillisecond(1))) + 1
    STEP if({interval:String} = 'week', 7, 1)
