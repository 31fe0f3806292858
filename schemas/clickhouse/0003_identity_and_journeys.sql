-- Identity, orders, journeys and daily figures. See docs/DATA_MODEL.md for what analysts read and
-- docs/ARCHITECTURE.md (D21-D24) for why identity is resolved this way.

-- What a touchpoint says about orders, set by the loader's normalise step: the order it belongs to (an order id, a
-- receipt number, a marketplace order), where that order was placed and where it was (or is to be) fulfilled.
-- identity_combo names the combination of identifiers the event carried; the resolver maps each combination to a
-- person (identity_combos), so a merge re-keys every earlier event of the merged identifiers without rewriting them.
ALTER TABLE {database:Identifier}.touchpoints
    ADD COLUMN IF NOT EXISTS order_key String DEFAULT order_id AFTER order_id,
    ADD COLUMN IF NOT EXISTS placed_channel LowCardinality(String) DEFAULT '' AFTER order_key,
    ADD COLUMN IF NOT EXISTS fulfilled_channel LowCardinality(String) DEFAULT '' AFTER placed_channel,
    ADD COLUMN IF NOT EXISTS identity_combo UInt64 MATERIALIZED
        cityHash64(anonymous_id, device_id, customer_id, email_hash, phone_hash, loyalty_card, order_id);

-- The identity map: every identifier seen (as kind:value), the person it belongs to now, and why. Each resolver run
-- writes a new version; FINAL reads the newest. status: linked (it merges), quarantined (seen with more people than
-- its kind allows: kept, never merges), split (an operator took it out of merging), single (seen alone so far).
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_map
(
    identifier String,
    kind LowCardinality(String),
    person_id String,
    status LowCardinality(String),
    linked_by_event String,
    people_seen UInt32,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY identifier;

-- The person of each combination of identifiers seen on an event (touchpoints.identity_combo).
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_combos
(
    combo UInt64,
    person_id String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY combo;

-- The audit trail: every change of the map, in the run that made it. action: link (an identifier joined a person,
-- event_id is the event that linked it), move (a person id changed, after a merge or a split), quarantine,
-- conflict (an event carried two customer ids; not merged), split and unsplit (operator actions).
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_audit
(
    version UInt64,
    at DateTime64(3, 'UTC'),
    action LowCardinality(String),
    identifier String,
    person_id String,
    previous_person_id String,
    event_id String,
    detail String
)
ENGINE = MergeTree
ORDER BY (identifier, version);

-- Operator decisions (`omnistitch identity split|unsplit`): a split identifier never merges. The newest row wins.
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_splits
(
    identifier String,
    active UInt8,
    reason String,
    created_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY identifier;

-- Resolver runs, one row each: the version it wrote and what it found.
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_runs
(
    version UInt64,
    started_at DateTime64(3, 'UTC'),
    finished_at DateTime64(3, 'UTC'),
    combos UInt64,
    identifiers UInt64,
    persons UInt64,
    quarantined UInt64,
    conflicts UInt64,
    changes UInt64
)
ENGINE = MergeTree
ORDER BY version;

-- Journey settings, written from the configuration when the pipeline starts; the newest row wins.
CREATE TABLE IF NOT EXISTS {database:Identifier}.journey_settings
(
    id UInt8,
    session_timeout_minutes UInt32,
    lookback_days UInt32,
    conversion_types Array(String),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id;

INSERT INTO {database:Identifier}.journey_settings
SELECT 1, 30, 30, ['order_created', 'pos_receipt'], toDateTime64(0, 3, 'UTC');

-- Every touchpoint with its person: the raw table deduplicated (FINAL) and re-keyed through the identity map. An
-- event without usable identifiers is a person of its own.
CREATE VIEW IF NOT EXISTS {database:Identifier}.touchpoints_resolved AS
SELECT
    t.event_id AS event_id,
    t.event_time AS event_time,
    t.received_at AS received_at,
    t.channel AS channel,
    t.event_type AS event_type,
    t.family AS family,
    t.source AS source,
    if(c.person_id = '', concat('event:', toString(t.event_id)), c.person_id) AS person_id,
    t.anonymous_id AS anonymous_id,
    t.device_id AS device_id,
    t.customer_id AS customer_id,
    t.email_hash AS email_hash,
    t.phone_hash AS phone_hash,
    t.loyalty_card AS loyalty_card,
    t.order_id AS order_id,
    t.order_key AS order_key,
    t.placed_channel AS placed_channel,
    t.fulfilled_channel AS fulfilled_channel,
    t.utm_source AS utm_source,
    t.utm_medium AS utm_medium,
    t.utm_campaign AS utm_campaign,
    t.utm_content AS utm_content,
    t.utm_term AS utm_term,
    t.revenue AS revenue,
    t.amount AS amount,
    t.currency AS currency,
    t.details AS details
FROM {database:Identifier}.touchpoints AS t FINAL
LEFT JOIN (SELECT combo, argMax(person_id, version) AS person_id FROM {database:Identifier}.identity_combos GROUP BY combo) AS c
    ON c.combo = t.identity_combo;

-- Orders: every event that names an order (online orders, receipts, marketplace orders), folded into one row. Revenue
-- is what the money events realised: paid minus refunded, returned in store, refused at the door.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.orders
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree
ORDER BY (person_id, placed_at, order_key)
AS SELECT
    t.order_key AS order_key,
    argMin(t.person_id, t.event_time) AS person_id,
    min(t.event_time) AS placed_at,
    anyIf(t.placed_channel, t.placed_channel != '') AS placed_channel,
    anyIf(t.fulfilled_channel, t.fulfilled_channel != '') AS fulfilled_channel,
    countIf(t.event_type = 'returned_in_store') > 0 AS returned_in_store,
    countIf(t.event_type = 'partial_refusal') > 0 AS partially_refused,
    sum(t.revenue) AS revenue,
    sumIf(t.revenue, t.revenue > 0) AS gross_revenue,
    -sumIf(t.revenue, t.revenue < 0) AS refunded,
    anyIf(t.currency, t.currency != '') AS currency,
    count() AS events
FROM {database:Identifier}.touchpoints_resolved AS t
WHERE t.order_key != ''
GROUP BY t.order_key;

-- Journeys, one row per touchpoint: a person's touches in time order, cut after each conversion. journey_seq counts
-- the person's conversions before the touch; a journey with converted = 0 is the path since the last conversion
-- (kept: Markov attribution needs paths that did not convert). in_lookback is 0 for touches older than the lookback
-- window before the journey's conversion (or its last touch). Events that only move an order along (payment,
-- delivery, pickup, refunds) are not touches: they live in `orders`. Sessions: digital touches (web, app) 30 minutes
-- apart or less share a session; every other touch is a session of its own.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.journey_touchpoints
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree
ORDER BY (person_id, event_time, event_id)
AS SELECT
    person_id,
    event_time,
    event_id,
    channel,
    event_type,
    family,
    source,
    utm_source,
    utm_medium,
    utm_campaign,
    order_key,
    is_conversion,
    journey_seq,
    concat(person_id, '#', toString(journey_seq)) AS journey_id,
    session_id,
    converted,
    toUInt8(event_time >= ifNull(conversion_time, last_time) - toIntervalDay((SELECT argMax(lookback_days, updated_at) FROM {database:Identifier}.journey_settings))) AS in_lookback,
    revenue
FROM
(
    SELECT
        *,
        toUInt8(max(is_conversion) OVER (PARTITION BY person_id, journey_seq)) AS converted,
        max(if(is_conversion = 1, toNullable(event_time), NULL)) OVER (PARTITION BY person_id, journey_seq)
            AS conversion_time,
        max(event_time) OVER (PARTITION BY person_id, journey_seq) AS last_time
    FROM
    (
        SELECT
            *,
            toUInt32(sum(is_conversion) OVER (PARTITION BY person_id ORDER BY event_time, event_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS journey_seq,
            concat(person_id, if(is_digital = 1, '/d', '/e'), toString(sum(starts_session) OVER (
                PARTITION BY person_id, is_digital ORDER BY event_time, event_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))) AS session_id
        FROM
        (
            SELECT
                *,
                toUInt8(is_digital = 0 OR previous_time IS NULL
                    OR dateDiff('second', previous_time, event_time) > (SELECT argMax(session_timeout_minutes, updated_at) FROM {database:Identifier}.journey_settings) * 60) AS starts_session
            FROM
            (
                SELECT
                    person_id, event_time, event_id, channel, event_type, family, source, utm_source, utm_medium,
                    utm_campaign, order_key, revenue,
                    toUInt8(has((SELECT argMax(conversion_types, updated_at) FROM {database:Identifier}.journey_settings), event_type)) AS is_conversion,
                    toUInt8(channel IN ('web', 'app')) AS is_digital,
                    lagInFrame(toNullable(event_time)) OVER (PARTITION BY person_id, is_digital
                        ORDER BY event_time, event_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous_time
                FROM {database:Identifier}.touchpoints_resolved
                WHERE order_key = '' OR has((SELECT argMax(conversion_types, updated_at) FROM {database:Identifier}.journey_settings), event_type)
            )
        )
    )
);

-- Journeys, one row each: the path of channels in order (touches within the lookback window), and the order it
-- ended in with that order's revenue (net of refunds and returns).
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.journeys
REFRESH EVERY 1 MINUTE DEPENDS ON {database:Identifier}.journey_touchpoints
ENGINE = MergeTree
ORDER BY (person_id, started_at, journey_id)
AS SELECT
    j.journey_id AS journey_id,
    j.person_id AS person_id,
    j.started_at AS started_at,
    j.ended_at AS ended_at,
    j.converted AS converted,
    j.order_key AS order_key,
    j.conversion_channel AS conversion_channel,
    j.path AS path,
    j.touches AS touches,
    j.sessions AS sessions,
    if(j.converted = 1, o.revenue, toDecimal64(0, 2)) AS revenue,
    o.placed_channel AS placed_channel,
    o.fulfilled_channel AS fulfilled_channel
FROM
(
    SELECT
        journey_id,
        any(person_id) AS person_id,
        min(event_time) AS started_at,
        max(event_time) AS ended_at,
        max(converted) AS converted,
        anyIf(order_key, is_conversion = 1) AS order_key,
        anyIf(channel, is_conversion = 1) AS conversion_channel,
        arrayMap(x -> x.2, arraySort(groupArray((event_time, channel)))) AS path,
        count() AS touches,
        uniqExact(session_id) AS sessions
    FROM {database:Identifier}.journey_touchpoints
    WHERE in_lookback = 1
    GROUP BY journey_id
) AS j
LEFT JOIN {database:Identifier}.orders AS o ON o.order_key = j.order_key;

-- Persons: who each resolved person is, across every channel. Events without any usable identifier (an ad impression
-- with no cookie) are nobody's and are left out.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.persons
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree
ORDER BY person_id
AS SELECT
    t.person_id AS person_id,
    min(t.event_time) AS first_seen,
    max(t.event_time) AS last_seen,
    count() AS events,
    groupUniqArray(t.channel) AS channels,
    anyIf(t.customer_id, t.customer_id != '') AS customer_id,
    uniqExactIf(t.order_key, t.order_key != '' AND t.event_type IN ('order_created', 'pos_receipt')) AS orders,
    sum(t.revenue) AS revenue
FROM {database:Identifier}.touchpoints_resolved AS t
WHERE NOT startsWith(t.person_id, 'event:')
GROUP BY t.person_id;

-- Daily figures per channel, for dashboards.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.channel_daily
REFRESH EVERY 1 MINUTE
ENGINE = MergeTree
ORDER BY (day, channel)
AS SELECT
    toDate(t.event_time) AS day,
    t.channel AS channel,
    count() AS events,
    uniqExactIf(t.person_id, NOT startsWith(t.person_id, 'event:')) AS persons,
    countIf(startsWith(t.person_id, 'event:')) AS anonymous_events,
    countIf(t.event_type IN ('order_created', 'pos_receipt')) AS orders,
    sum(t.revenue) AS revenue
FROM {database:Identifier}.touchpoints_resolved AS t
GROUP BY day, channel;

-- The stage ledger: what the consumer did with each Kafka batch, for reconciliation (docs/OPERATIONS.md). A batch
-- re-delivered after a crash starts at the same offset and replaces its earlier row.
CREATE TABLE IF NOT EXISTS {database:Identifier}.stage_ledger
(
    consumer_group LowCardinality(String),
    topic LowCardinality(String),
    partition UInt32,
    first_offset UInt64,
    last_offset UInt64,
    received UInt32,
    dead_lettered UInt32,
    dropped UInt32,
    loaded UInt32,
    recorded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY (consumer_group, topic, partition, first_offset);
