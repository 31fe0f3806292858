-- Incremental derived data (docs/ARCHITECTURE.md D23): orders, journeys, persons and the daily aggregates become
-- tables that the resolver's cycle keeps, recomputing only the persons it touched, instead of refreshable views
-- recomputed in full every minute. Same names and columns as the views they replace (the API's SQL is unchanged), plus
-- person_key where a table had no person column: a person's rows are deleted and written anew together. The deletes
-- are lightweight updates (patch parts, applied when read and merged in the background), which need the block number
-- and offset columns: a mutation-based delete waited up to a second per table here. Until the first resolver run after
-- this migration (a full rebuild of them) the tables are empty.

-- Every event by its identity combination, deduplicated as touchpoints is (read with FINAL): what a cycle reads to
-- recompute the persons of the combinations it touched, by key instead of scanning every event.
CREATE TABLE IF NOT EXISTS {database:Identifier}.events_by_combo
(
    identity_combo UInt64,
    event_id UUID,
    event_time DateTime64(3, 'UTC'),
    channel LowCardinality(String),
    event_type LowCardinality(String),
    family LowCardinality(String),
    source LowCardinality(String),
    customer_id String,
    order_key String,
    placed_channel LowCardinality(String),
    fulfilled_channel LowCardinality(String),
    utm_source String,
    utm_medium String,
    utm_campaign String,
    revenue Decimal(18, 2),
    currency LowCardinality(String),
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (identity_combo, channel, toDate(event_time), event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.events_by_combo_feed
TO {database:Identifier}.events_by_combo
AS SELECT
    cityHash64(anonymous_id, device_id, customer_id, email_hash, phone_hash, loyalty_card, order_id) AS identity_combo,
    event_id, event_time, channel, event_type, family, source, customer_id, order_key, placed_channel,
    fulfilled_channel, utm_source, utm_medium, utm_campaign, revenue, currency, loaded_at
FROM {database:Identifier}.touchpoints;

INSERT INTO {database:Identifier}.events_by_combo
SELECT identity_combo, event_id, event_time, channel, event_type, family, source, customer_id, order_key,
       placed_channel, fulfilled_channel, utm_source, utm_medium, utm_campaign, revenue, currency, loaded_at
FROM {database:Identifier}.touchpoints;

-- The same for the events that name an order, by order: an order is recomputed from all of its events, whoever they
-- belong to (a return in store may carry no identifier of the buyer), and the persons of those events (an event
-- nobody can be named for is a person of its own) have their journeys recomputed with it.
CREATE TABLE IF NOT EXISTS {database:Identifier}.order_events
(
    order_key String,
    identity_combo UInt64,
    event_id UUID,
    event_time DateTime64(3, 'UTC'),
    channel LowCardinality(String),
    event_type LowCardinality(String),
    family LowCardinality(String),
    source LowCardinality(String),
    customer_id String,
    placed_channel LowCardinality(String),
    fulfilled_channel LowCardinality(String),
    utm_source String,
    utm_medium String,
    utm_campaign String,
    revenue Decimal(18, 2),
    currency LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (order_key, channel, toDate(event_time), event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.order_events_feed
TO {database:Identifier}.order_events
AS SELECT
    order_key,
    cityHash64(anonymous_id, device_id, customer_id, email_hash, phone_hash, loyalty_card, order_id) AS identity_combo,
    event_id, event_time, channel, event_type, family, source, customer_id, placed_channel, fulfilled_channel,
    utm_source, utm_medium, utm_campaign, revenue, currency
FROM {database:Identifier}.touchpoints
WHERE order_key != '';

INSERT INTO {database:Identifier}.order_events
SELECT order_key, identity_combo, event_id, event_time, channel, event_type, family, source, customer_id,
       placed_channel, fulfilled_channel, utm_source, utm_medium, utm_campaign, revenue, currency
FROM {database:Identifier}.touchpoints
WHERE order_key != '';

-- A cycle's working set: the combinations in scope with their person, the persons whose rows are replaced (their
-- previous ids too), the orders recomputed, and the scope's events with their persons. Partitioned by cycle, dropped
-- when it ends; a day's TTL removes what a cycle that died left.
CREATE TABLE IF NOT EXISTS {database:Identifier}.derived_scope
(
    run UInt64,
    combo UInt64,
    person_id String
)
ENGINE = MergeTree
PARTITION BY run
ORDER BY combo
TTL toDateTime(intDiv(run, 1000)) + INTERVAL 1 DAY;

CREATE TABLE IF NOT EXISTS {database:Identifier}.derived_scope_persons
(
    run UInt64,
    person_id String
)
ENGINE = MergeTree
PARTITION BY run
ORDER BY person_id
TTL toDateTime(intDiv(run, 1000)) + INTERVAL 1 DAY;

CREATE TABLE IF NOT EXISTS {database:Identifier}.derived_scope_orders
(
    run UInt64,
    order_key String
)
ENGINE = MergeTree
PARTITION BY run
ORDER BY order_key
TTL toDateTime(intDiv(run, 1000)) + INTERVAL 1 DAY;

CREATE TABLE IF NOT EXISTS {database:Identifier}.derived_events
(
    run UInt64,
    person_id String,
    event_id UUID,
    event_time DateTime64(3, 'UTC'),
    channel LowCardinality(String),
    event_type LowCardinality(String),
    family LowCardinality(String),
    source LowCardinality(String),
    customer_id String,
    order_key String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    revenue Decimal(18, 2)
)
ENGINE = MergeTree
PARTITION BY run
ORDER BY (person_id, event_time, event_id)
TTL toDateTime(intDiv(run, 1000)) + INTERVAL 1 DAY;

DROP VIEW IF EXISTS {database:Identifier}.customer_values;
DROP VIEW IF EXISTS {database:Identifier}.conversion_touch_ages;
DROP VIEW IF EXISTS {database:Identifier}.journey_path_days;
DROP VIEW IF EXISTS {database:Identifier}.channel_transition_days;
DROP VIEW IF EXISTS {database:Identifier}.conversion_days;
DROP VIEW IF EXISTS {database:Identifier}.touch_channel_days;
DROP VIEW IF EXISTS {database:Identifier}.person_channels;
DROP VIEW IF EXISTS {database:Identifier}.person_channel_days;
DROP VIEW IF EXISTS {database:Identifier}.funnel_events;
DROP VIEW IF EXISTS {database:Identifier}.channel_daily;
DROP VIEW IF EXISTS {database:Identifier}.persons;
DROP VIEW IF EXISTS {database:Identifier}.journeys;
DROP VIEW IF EXISTS {database:Identifier}.journey_touchpoints;
DROP VIEW IF EXISTS {database:Identifier}.orders;

CREATE TABLE IF NOT EXISTS {database:Identifier}.orders
(
    order_key String,
    person_id String,
    placed_at DateTime64(3, 'UTC'),
    placed_channel String,
    fulfilled_channel String,
    returned_in_store UInt8,
    partially_refused UInt8,
    revenue Decimal(38, 2),
    gross_revenue Decimal(38, 2),
    refunded Decimal(38, 2),
    currency String,
    events UInt64
)
ENGINE = MergeTree
ORDER BY (person_id, placed_at, order_key)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.journey_touchpoints
(
    person_id String,
    event_time DateTime64(3, 'UTC'),
    event_id UUID,
    channel LowCardinality(String),
    event_type LowCardinality(String),
    family LowCardinality(String),
    source LowCardinality(String),
    utm_source String,
    utm_medium String,
    utm_campaign String,
    order_key String,
    is_conversion UInt8,
    journey_seq UInt32,
    journey_id String,
    session_id Nullable(String),
    converted UInt8,
    in_lookback Nullable(UInt8),
    revenue Decimal(18, 2)
)
ENGINE = MergeTree
ORDER BY (person_id, event_time, event_id)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.journeys
(
    journey_id String,
    person_id String,
    started_at DateTime64(3, 'UTC'),
    ended_at DateTime64(3, 'UTC'),
    converted UInt8,
    order_key String,
    conversion_channel String,
    path Array(String),
    touches UInt64,
    sessions UInt64,
    revenue Decimal(38, 2),
    placed_channel String,
    fulfilled_channel String
)
ENGINE = MergeTree
ORDER BY (person_id, started_at, journey_id)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.persons
(
    person_id String,
    first_seen DateTime64(3, 'UTC'),
    last_seen DateTime64(3, 'UTC'),
    events UInt64,
    channels Array(String),
    customer_id String,
    orders UInt64,
    revenue Decimal(38, 2)
)
ENGINE = MergeTree
ORDER BY person_id
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

-- One row per day, channel and person (person_key; an event nobody can be named for is a person of its own): sum it.
CREATE TABLE IF NOT EXISTS {database:Identifier}.channel_daily
(
    day Date,
    channel LowCardinality(String),
    events UInt64,
    persons UInt64,
    anonymous_events UInt64,
    orders UInt64,
    revenue Decimal(38, 2),
    person_key UInt64
)
ENGINE = MergeTree
ORDER BY (day, channel)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.person_channel_days
(
    person_key UInt64,
    channel LowCardinality(String),
    days Array(Date)
)
ENGINE = MergeTree
ORDER BY (channel, person_key)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.touch_channel_days
(
    person_key UInt64,
    channel LowCardinality(String),
    days Array(Date)
)
ENGINE = MergeTree
ORDER BY (channel, person_key)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.conversion_days
(
    day Date,
    person_key UInt64,
    conversions UInt64,
    revenue Decimal(38, 2)
)
ENGINE = MergeTree
ORDER BY (day, person_key)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

-- One row per day pair, channel pair and person: sum the transitions, merge the medians' states.
CREATE TABLE IF NOT EXISTS {database:Identifier}.channel_transition_days
(
    day Date,
    previous_day Date,
    from_channel String,
    to_channel LowCardinality(String),
    transitions UInt64,
    seconds AggregateFunction(quantile(0.5), Int64),
    person_key UInt64
)
ENGINE = MergeTree
ORDER BY (day, previous_day, from_channel, to_channel)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

-- One row per day, naming, path and person: sum conversions, value and nulls.
CREATE TABLE IF NOT EXISTS {database:Identifier}.journey_path_days
(
    day Date,
    group_by String,
    path Array(LowCardinality(String)),
    path_channels Array(LowCardinality(String)),
    steps Array(String),
    channels UInt32,
    anonymous UInt8,
    conversions UInt64,
    value Decimal(38, 2),
    nulls UInt64,
    person_key UInt64
)
ENGINE = MergeTree
ORDER BY (group_by, day)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.conversion_touch_ages
(
    day Date,
    group_by String,
    steps Array(LowCardinality(String)),
    path_channels Array(LowCardinality(String)),
    ages Array(Float64),
    value Float64,
    person_key UInt64
)
ENGINE = MergeTree
ORDER BY (group_by, day)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.person_channels
(
    person_id String,
    acquisition_channel String,
    channels_used UInt64
)
ENGINE = MergeTree
ORDER BY person_id
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.funnel_events
(
    event_type LowCardinality(String),
    event_time DateTime64(3, 'UTC'),
    channel LowCardinality(String),
    person_key UInt64
)
ENGINE = MergeTree
ORDER BY (event_type, event_time)
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

CREATE TABLE IF NOT EXISTS {database:Identifier}.customer_values
(
    person_id String,
    first_purchase DateTime64(3, 'UTC'),
    gross Array(Float64),
    net Array(Float64)
)
ENGINE = MergeTree
ORDER BY first_purchase
SETTINGS enable_block_number_column = 1, enable_block_offset_column = 1;

-- The combinations of each person: a cycle reads a person's events through them. Kept by the resolver with
-- identity_combos (a combination that changes person is deleted from the old one); filled here from it.
CREATE TABLE IF NOT EXISTS {database:Identifier}.person_combos
(
    person_id String,
    combo UInt64,
    version UInt64,
    deleted UInt8
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (person_id, combo);

INSERT INTO {database:Identifier}.person_combos
SELECT person_id, combo, newest, 0
FROM
(
    SELECT c.combo AS combo, argMax(c.person_id, c.version) AS person_id, max(c.version) AS newest
    FROM {database:Identifier}.identity_combos AS c
    GROUP BY c.combo
)
WHERE person_id != '';

-- The journal: the journey settings the derived tables were computed with (a cycle whose settings differ rebuilds
-- them), and the persons a cycle that began writing was about to recompute (a cycle that died is finished by the next).
ALTER TABLE {database:Identifier}.identity_runs
    ADD COLUMN IF NOT EXISTS derived String DEFAULT '',
    ADD COLUMN IF NOT EXISTS persons_in_scope Array(String) DEFAULT [];
