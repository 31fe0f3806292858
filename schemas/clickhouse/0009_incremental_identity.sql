-- Incremental identity resolution (docs/ARCHITECTURE.md D21): the identity graph is kept here between runs, so that a
-- run reads what arrived since the last one and the parts of the graph it touches, not every combination stored.

-- What the loader stored, as identifier combinations: one row per combination per insert, written by the view below
-- as touchpoints are inserted, whatever inserts them. The resolver reads the rows loaded since its last run (a range
-- of loaded_at, with a margin for inserts that committed late); re-reading a row is harmless. Kept a week.
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_inbox
(
    combo UInt64,
    anonymous_id String,
    device_id String,
    customer_id String,
    email_hash String,
    phone_hash String,
    loyalty_card String,
    order_id String,
    first_time DateTime64(3, 'UTC'),
    first_event String,
    loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY loaded_at
TTL toDateTime(loaded_at) + INTERVAL 7 DAY;

-- first_event is the earliest event of the combination in the inserted rows, ties broken by event id, as a full
-- rebuild takes it: the order of edges decides which of two customer ids an identifier joins.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.identity_inbox_feed
TO {database:Identifier}.identity_inbox
AS SELECT
    cityHash64(anonymous_id, device_id, customer_id, email_hash, phone_hash, loyalty_card, order_id) AS combo,
    anonymous_id,
    device_id,
    customer_id,
    email_hash,
    phone_hash,
    loyalty_card,
    order_id,
    min(event_time) AS first_time,
    argMin(toString(event_id), (event_time, toString(event_id))) AS first_event
FROM {database:Identifier}.touchpoints
GROUP BY anonymous_id, device_id, customer_id, email_hash, phone_hash, loyalty_card, order_id;

-- The graph: every usable identifier and the raw component it belongs to (identifiers connected by any event,
-- whether or not the rules let them merge). A component is the unit a run recomputes. The newest version wins.
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_nodes
(
    identifier String,
    component UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY identifier;

-- The edges of each component: every combination of identifiers seen, with its earliest event. A combination that
-- moves to another component (two components joined) is deleted from the old one (deleted = 1, read with FINAL).
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_edges
(
    component UInt64,
    combo UInt64,
    anonymous_id String,
    device_id String,
    customer_id String,
    email_hash String,
    phone_hash String,
    loyalty_card String,
    order_id String,
    first_time DateTime64(3, 'UTC'),
    first_event String,
    version UInt64,
    deleted UInt8
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (component, combo);

-- Which process runs the resolver: the holder of the earliest claim that has not expired (consumers/
-- identity-lease.ts). A claim is (holder, since); its newest row (written_at) says until when it holds. Holders renew
-- their claim while they hold it and end it when they stop. Rows are kept a day.
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_lease
(
    holder String,
    since DateTime64(3, 'UTC'),
    expires_at DateTime64(3, 'UTC'),
    written_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY since
TTL toDateTime(since) + INTERVAL 1 DAY;

-- A run's journal: mode (incremental or rebuild), where the next run reads the inbox from, the rules it resolved with,
-- and, for a run that began writing, the components it was writing (finished = 0) until its row with finished = 1.
-- A run that finds the last one unfinished recomputes those components (or rebuilds) first.
ALTER TABLE {database:Identifier}.identity_runs
    ADD COLUMN IF NOT EXISTS mode LowCardinality(String) DEFAULT 'rebuild',
    ADD COLUMN IF NOT EXISTS finished UInt8 DEFAULT 1,
    ADD COLUMN IF NOT EXISTS inbox_from DateTime64(3, 'UTC') DEFAULT 0,
    ADD COLUMN IF NOT EXISTS rules String DEFAULT '',
    ADD COLUMN IF NOT EXISTS components Array(UInt64) DEFAULT [];
