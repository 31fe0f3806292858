-- Every capture family lands in touchpoints: the shared envelope in columns, the family's own fields as JSON in
-- `details`. Revenue is signed (returns and refunds negative) and counted where the money is realised: receipts,
-- paid and refunded orders, paid and returned marketplace orders. `amount` is the money an event mentions, unsigned.
ALTER TABLE {database:Identifier}.touchpoints
    ADD COLUMN IF NOT EXISTS family LowCardinality(String) DEFAULT 'touchpoint' AFTER event_type,
    ADD COLUMN IF NOT EXISTS source LowCardinality(String) DEFAULT '' AFTER family,
    ADD COLUMN IF NOT EXISTS utm_source String DEFAULT '' AFTER order_id,
    ADD COLUMN IF NOT EXISTS utm_medium String DEFAULT '' AFTER utm_source,
    ADD COLUMN IF NOT EXISTS utm_campaign String DEFAULT '' AFTER utm_medium,
    ADD COLUMN IF NOT EXISTS utm_content String DEFAULT '' AFTER utm_campaign,
    ADD COLUMN IF NOT EXISTS utm_term String DEFAULT '' AFTER utm_content,
    ADD COLUMN IF NOT EXISTS amount Decimal(18, 2) DEFAULT 0 AFTER revenue,
    ADD COLUMN IF NOT EXISTS consent String DEFAULT '{}' AFTER currency,
    ADD COLUMN IF NOT EXISTS details String DEFAULT '{}' AFTER consent;

-- Daily ad spend per campaign. A later row with the same cost_id (a corrected figure) replaces the earlier one.
CREATE TABLE IF NOT EXISTS {database:Identifier}.ad_costs
(
    cost_id String,
    date Date,
    channel LowCardinality(String),
    source LowCardinality(String),
    medium String,
    campaign String,
    campaign_id String,
    spend Decimal(18, 2),
    currency LowCardinality(String),
    impressions UInt64,
    clicks UInt64,
    received_at DateTime64(3, 'UTC'),
    schema_id UInt32,
    source_topic LowCardinality(String),
    source_partition UInt32,
    source_offset UInt64,
    loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(date)
ORDER BY (date, cost_id)
SETTINGS non_replicated_deduplication_window = 10000;
