-- Daily aggregates kept by the view refresh, so that the metrics API reads days instead of every event on each request
-- (docs/ARCHITECTURE.md D28). Days are UTC. A request whose range starts and ends on UTC midnights reads these; any
-- other range, or parameters they cannot serve, read the events as before (queries/sql/*.sql, tested equal).
-- A person is keyed by sipHash64(person_id) (person_key) and kept with the days they were seen: counting the persons
-- of a range reads one row per person and channel, not one per event.

-- Per named person and channel, the days they had an event there (as touchpoints_resolved: re-deliveries once): a
-- person counts in a range if one of their days falls in it. Events per day and channel are in channel_daily.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.person_channel_days
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree
ORDER BY (channel, person_key)
AS SELECT
    sipHash64(t.person_id) AS person_key,
    t.channel AS channel,
    arraySort(groupUniqArray(toDate(t.event_time))) AS days
FROM {database:Identifier}.touchpoints_resolved AS t
WHERE NOT startsWith(t.person_id, 'event:')
GROUP BY person_key, channel;

-- The same for touches (journey_touchpoints: the touches journeys are made of), and per day and person the
-- conversions among those touches with their journeys' net revenue: channel-switchers.sql by days.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.touch_channel_days
REFRESH EVERY 1 MINUTE DEPENDS ON {database:Identifier}.journey_touchpoints
ENGINE = MergeTree
ORDER BY (channel, person_key)
AS SELECT
    sipHash64(person_id) AS person_key,
    channel,
    arraySort(groupUniqArray(toDate(event_time))) AS days
FROM {database:Identifier}.journey_touchpoints
WHERE NOT startsWith(person_id, 'event:')
GROUP BY person_key, channel;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.conversion_days
REFRESH EVERY 1 MINUTE DEPENDS ON {database:Identifier}.journeys
ENGINE = MergeTree
ORDER BY (day, person_key)
AS SELECT
    toDate(t.event_time) AS day,
    sipHash64(t.person_id) AS person_key,
    uniqExact(t.journey_id) AS conversions,
    sum(j.revenue) AS revenue
FROM {database:Identifier}.journey_touchpoints AS t
LEFT JOIN {database:Identifier}.journeys AS j ON j.journey_id = t.journey_id
WHERE t.is_conversion = 1 AND NOT startsWith(t.person_id, 'event:')
GROUP BY day, person_key;

-- Transitions between the channels of a person's consecutive touches, by the days of the two touches: how many, and
-- the time between them as a quantile state (median over any set of days). channel-transitions.sql by days.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.channel_transition_days
REFRESH EVERY 1 MINUTE DEPENDS ON {database:Identifier}.journey_touchpoints
ENGINE = MergeTree
ORDER BY (day, previous_day, from_channel, to_channel)
AS SELECT
    toDate(event_time) AS day,
    toDate(assumeNotNull(previous_time)) AS previous_day,
    toString(assumeNotNull(previous_channel)) AS from_channel,
    toString(channel) AS to_channel,
    count() AS transitions,
    quantileState(0.5)(dateDiff('second', assumeNotNull(previous_time), event_time)) AS seconds
FROM
(
    SELECT
        channel,
        event_time,
        lagInFrame(toNullable(channel)) OVER w AS previous_channel,
        lagInFrame(toNullable(event_time)) OVER w AS previous_time
    FROM {database:Identifier}.journey_touchpoints
    WHERE NOT startsWith(person_id, 'event:')
    WINDOW w AS (PARTITION BY person_id ORDER BY event_time, event_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE previous_channel IS NOT NULL
GROUP BY day, previous_day, from_channel, to_channel;

-- Journeys by the day they ended and their path (touches in the lookback window, in order), one row per way of
-- naming a step (group_by: channel, channel_source, channel_campaign, as attribution-paths.sql): how many converted,
-- their net revenue, and how many did not. path_channels holds each step's channel, for channel filters; steps is the
-- path with repeats in a row collapsed and channels the number of distinct channels in it (channel-paths.sql).
-- anonymous: the journey is of an event nobody can be named for. Journeys with an empty path are left out.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.journey_path_days
REFRESH EVERY 1 MINUTE DEPENDS ON {database:Identifier}.journeys
ENGINE = MergeTree
ORDER BY (group_by, day)
AS SELECT
    toDate(ended_at) AS day,
    naming.1 AS group_by,
    naming.2 AS path,
    path_channels,
    arrayFilter((step, i) -> i = 1 OR step != path[i - 1], path, arrayEnumerate(path)) AS steps,
    toUInt32(length(arrayDistinct(path_channels))) AS channels,
    anonymous,
    countIf(converted = 1) AS conversions,
    sumIf(revenue, converted = 1) AS value,
    countIf(converted = 0) AS nulls
FROM
(
    SELECT
        any(j.ended_at) AS ended_at,
        any(j.converted) AS converted,
        any(j.revenue) AS revenue,
        startsWith(any(j.person_id), 'event:') AS anonymous,
        arraySort(groupArray((t.event_time, toString(t.channel), t.utm_source, t.utm_campaign))) AS touches,
        arrayMap(x -> x.2, touches) AS path_channels,
        [
            ('channel', path_channels),
            ('channel_source', arrayMap(x -> concat(x.2, ' / ', if(x.3 = '', '(none)', x.3)), touches)),
            ('channel_campaign', arrayMap(x -> concat(x.2, ' / ', if(x.4 = '', '(none)', x.4)), touches))
        ] AS namings
    FROM {database:Identifier}.journeys AS j
    INNER JOIN {database:Identifier}.journey_touchpoints AS t ON t.journey_id = j.journey_id
    WHERE t.in_lookback = 1
    GROUP BY j.journey_id
)
ARRAY JOIN namings AS naming
GROUP BY day, group_by, path, path_channels, steps, channels, anonymous;

-- Each person's acquisition channel (the channel of their first touch) and how many channels they touched, for the
-- LTV segments (ltv-historical.sql, ltv-customers.sql).
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.person_channels
REFRESH EVERY 1 MINUTE DEPENDS ON {database:Identifier}.journey_touchpoints
ENGINE = MergeTree
ORDER BY person_id
AS SELECT
    person_id,
    argMin(channel, (event_time, event_id)) AS acquisition_channel,
    uniqExact(channel) AS channels_used
FROM {database:Identifier}.journey_touchpoints
WHERE NOT startsWith(person_id, 'event:')
GROUP BY person_id;

-- Every event of a named person, narrowed to what a funnel reads and sorted by event type, so that funnel-days.sql
-- reads only the events of its steps.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.funnel_events
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree
ORDER BY (event_type, event_time)
AS SELECT
    t.event_type AS event_type,
    t.event_time AS event_time,
    t.channel AS channel,
    sipHash64(t.person_id) AS person_key
FROM {database:Identifier}.touchpoints_resolved AS t
WHERE NOT startsWith(t.person_id, 'event:');

-- A person's events are found by their identity combinations (person-*.sql): a bloom filter on identity_combo lets a
-- read skip the granules without them instead of scanning every event.
ALTER TABLE {database:Identifier}.touchpoints
    ADD INDEX IF NOT EXISTS identity_combo_bloom identity_combo TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE {database:Identifier}.touchpoints MATERIALIZE INDEX identity_combo_bloom;
