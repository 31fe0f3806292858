-- Identity rules, stored like journey_settings (0003) so that every process resolves with the same ones: what is junk
-- (values, and the pattern of placeholder loyalty cards), how many people an identifier of a kind may be seen with
-- before it is quarantined (order_id included), and the kinds from most to least stable. The newest row wins. Written
-- only by the pipeline's start (`omnistitch start`, `omnistitch consume`) and `omnistitch settings apply`, and only
-- when the rules differ from the newest row (docs/OPERATIONS.md, "Settings"); every resolver run reads them. No row is
-- written here: until the first is, the defaults of runtime/config.ts apply, so they live in one place.
CREATE TABLE IF NOT EXISTS {database:Identifier}.identity_settings
(
    id UInt8,
    junk_values Array(String),
    junk_card_pattern String,
    max_people Map(String, UInt32),
    priority Array(String),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id;
