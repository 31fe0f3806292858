-- Raw touchpoints as the loader receives them from Kafka, one row per event.
--
-- Exactly-once results: the loader commits Kafka offsets only after the insert succeeded, so a crash can re-deliver
-- a batch. Two mechanisms keep re-deliveries out of every result:
--   1. each insert carries a deduplication token built from topic, partition and offset range, so re-inserting the
--      same batch is dropped by ClickHouse (non_replicated_deduplication_window; Replicated tables do this natively);
--   2. the table is a ReplacingMergeTree whose sorting key ends with event_id, so any other repeat of an event (a
--      producer retry, a client resend, a batch cut differently after a restart) collapses to one row; queries read
--      it with FINAL.
-- See docs/ARCHITECTURE.md, "No loss, no duplicates".
CREATE TABLE IF NOT EXISTS {database:Identifier}.touchpoints
(
    event_id UUID,
    event_time DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    channel LowCardinality(String),
    event_type LowCardinality(String),
    anonymous_id String,
    device_id String,
    customer_id String,
    email_hash String,
    phone_hash String,
    loyalty_card String,
    order_id String,
    -- The strongest identifier the event carries, as kind:value. Identity resolution (stitching several identifiers
    -- into one person) replaces this with a resolved person id.
    person_key String,
    revenue Decimal(18, 2),
    currency LowCardinality(String),
    schema_id UInt32,
    source_topic LowCardinality(String),
    source_partition UInt32,
    source_offset UInt64,
    loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (channel, toDate(event_time), event_id)
SETTINGS non_replicated_deduplication_window = 10000;
