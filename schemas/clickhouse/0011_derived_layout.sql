-- The derived tables laid out for a cycle's deletes and reads (docs/ARCHITECTURE.md D23). A cycle deletes the rows
-- of a few thousand persons spread over the whole history: with the daily aggregates sorted by day, every delete read
-- the person column of the whole table, so a cycle's cost grew with the history. Now every table is sorted by person
-- first (within its event type, channel or naming, which reads filter on), with granules of 1,024 rows instead of
-- 8,192, so that a cycle reads and deletes the granules of its persons. The price: a read of a few days reads its
-- columns over the whole table, not over those days only. The tables are created empty: the next resolver cycle sees
-- the layout changed (derived-data.ts derivedLayout) and rebuilds them.
--
-- Working tables of a cycle, like derived_events: the orders, touchpoints and journeys it computed, which the later
-- tables are computed from instead of reading them back out of the large tables.

CREATE TABLE IF NOT EXISTS {database:Identifier}.derived_orders
(
    run UInt64,
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
PARTITION BY run
ORDER BY (person_id, order_key)
TTL toDateTime(intDiv(run, 1000)) + INTERVAL 1 DAY;

CREATE TABLE IF NOT EXISTS {database:Identifier}.derived_touchpoints
(
    run UInt64,
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
PARTITION BY run
ORDER BY (person_id, event_time, event_id)
TTL toDateTime(intDiv(run, 1000)) + INTERVAL 1 DAY;

CREATE TABLE IF NOT EXISTS {database:Identifier}.derived_journeys
(
    run UInt64,
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
PARTITION BY run
ORDER BY (person_id, journey_id)
TTL toDateTime(intDiv(run, 1000)) + INTERVAL 1 DAY;

DROP TABLE IF EXISTS {database:Identifier}.orders;

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
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.journey_touchpoints;

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
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.journeys;

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
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.persons;

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
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.channel_daily;

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
ORDER BY (channel, person_key, day)
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.person_channel_days;

CREATE TABLE IF NOT EXISTS {database:Identifier}.person_channel_days
(
    person_key UInt64,
    channel LowCardinality(String),
    days Array(Date)
)
ENGINE = MergeTree
ORDER BY (channel, person_key)
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.touch_channel_days;

CREATE TABLE IF NOT EXISTS {database:Identifier}.touch_channel_days
(
    person_key UInt64,
    channel LowCardinality(String),
    days Array(Date)
)
ENGINE = MergeTree
ORDER BY (channel, person_key)
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.conversion_days;

CREATE TABLE IF NOT EXISTS {database:Identifier}.conversion_days
(
    day Date,
    person_key UInt64,
    conversions UInt64,
    revenue Decimal(38, 2)
)
ENGINE = MergeTree
ORDER BY (person_key, day)
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.channel_transition_days;

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
ORDER BY (to_channel, person_key, day)
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.journey_path_days;

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
ORDER BY (group_by, person_key, day)
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.conversion_touch_ages;

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
ORDER BY (group_by, person_key, day)
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.person_channels;

CREATE TABLE IF NOT EXISTS {database:Identifier}.person_channels
(
    person_id String,
    acquisition_channel String,
    channels_used UInt64
)
ENGINE = MergeTree
ORDER BY person_id
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.funnel_events;

CREATE TABLE IF NOT EXISTS {database:Identifier}.funnel_events
(
    event_type LowCardinality(String),
    event_time DateTime64(3, 'UTC'),
    channel LowCardinality(String),
    person_key UInt64
)
ENGINE = MergeTree
ORDER BY (event_type, person_key, event_time)
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;

DROP TABLE IF EXISTS {database:Identifier}.customer_values;

CREATE TABLE IF NOT EXISTS {database:Identifier}.customer_values
(
    person_id String,
    first_purchase DateTime64(3, 'UTC'),
    gross Array(Float64),
    net Array(Float64)
)
ENGINE = MergeTree
ORDER BY person_id
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;
