-- channel_transition_days keeps the seconds between a person's consecutive touches as the values themselves (sorted),
-- not as a median's state: with a row per person (0010) the table holds about one row per transition, and merging ten
-- million one-value states took most of a second and a half of GET /v1/channel-switch at 10 M events. The metric reads
-- the values with medianArrayIf, as channel-transitions.sql takes the median of the events' gaps. Created empty: the
-- next resolver cycle sees the layout changed (derived-data.ts derivedLayout) and rebuilds the derived tables.

DROP TABLE IF EXISTS {database:Identifier}.channel_transition_days;

-- One row per day pair, channel pair and person: sum the transitions, take the median over the seconds of all rows.
CREATE TABLE IF NOT EXISTS {database:Identifier}.channel_transition_days
(
    day Date,
    previous_day Date,
    from_channel String,
    to_channel LowCardinality(String),
    transitions UInt64,
    seconds Array(Int64),
    person_key UInt64
)
ENGINE = MergeTree
ORDER BY (to_channel, person_key, day)
SETTINGS index_granularity = 1024, enable_block_number_column = 1, enable_block_offset_column = 1;
