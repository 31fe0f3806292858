import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * The pipeline's Prometheus metrics (prom-client), in one registry a process serves at `/metrics`. Names follow the
 * Prometheus conventions: a unit suffix, `_total` for counters.
 */
export interface PipelineMetrics {
  readonly registry: Registry
  /** Records by outcome: received, loaded, dead_lettered, dropped. */
  readonly records: Counter<'topic' | 'outcome'>
  /** Dead letters by error code and the step that refused them. */
  readonly deadLetters: Counter<'code' | 'step'>
  /** Records behind the partition's high watermark after the batch in hand. */
  readonly lag: Gauge<'topic' | 'partition'>
  readonly batchSeconds: Histogram<'topic'>
  readonly insertSeconds: Histogram<'table'>
  readonly insertedRows: Counter<'table'>
  /** Step failures that were retried. */
  readonly retries: Counter<'step'>
  /** Times a partition was paused because the store pushed back. */
  readonly pauses: Counter<'topic'>
  readonly identityRuns: Counter
  readonly identitySeconds: Histogram
  readonly persons: Gauge
  readonly quarantined: Gauge
}

export function createPipelineMetrics(options: { defaultMetrics?: boolean } = {}): PipelineMetrics {
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'omnistitch_' })
  const registers = [registry]
  const seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
  return {
    registry,
    records: new Counter({
      name: 'omnistitch_consumer_records_total',
      help: 'Records the consumer handled, by topic and outcome (received, loaded, dead_lettered, dropped).',
      labelNames: ['topic', 'outcome'],
      registers,
    }),
    deadLetters: new Counter({
      name: 'omnistitch_consumer_dead_letters_total',
      help: 'Records sent to the dead-letter topic, by error code and the step that refused them.',
      labelNames: ['code', 'step'],
      registers,
    }),
    lag: new Gauge({
      name: 'omnistitch_consumer_lag_records',
      help: 'Records between the last batch handled and the high watermark, per partition.',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'omnistitch_consumer_batch_seconds',
      help: 'Time to handle one Kafka batch, from decode to offset commit.',
      labelNames: ['topic'],
      buckets: seconds,
      registers,
    }),
    insertSeconds: new Histogram({
      name: 'omnistitch_clickhouse_insert_seconds',
      help: 'Time of one ClickHouse insert.',
      labelNames: ['table'],
      buckets: seconds,
      registers,
    }),
    insertedRows: new Counter({
      name: 'omnistitch_clickhouse_inserted_rows_total',
      help: 'Rows sent to ClickHouse inserts (a re-delivered batch counts again; ClickHouse drops the repeat).',
      labelNames: ['table'],
      registers,
    }),
    retries: new Counter({
      name: 'omnistitch_consumer_step_retries_total',
      help: 'Failed attempts of a pipeline step that were retried.',
      labelNames: ['step'],
      registers,
    }),
    pauses: new Counter({
      name: 'omnistitch_consumer_pauses_total',
      help: 'Times consumption was paused because the store did not accept a batch.',
      labelNames: ['topic'],
      registers,
    }),
    identityRuns: new Counter({
      name: 'omnistitch_identity_runs_total',
      help: 'Identity resolver runs.',
      registers,
    }),
    identitySeconds: new Histogram({
      name: 'omnistitch_identity_run_seconds',
      help: 'Time of one identity resolver run, including the refresh of journeys and persons.',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    persons: new Gauge({ name: 'omnistitch_identity_persons', help: 'Persons after the last run.', registers }),
    quarantined: new Gauge({
      name: 'omnistitch_identity_quarantined_identifiers',
      help: 'Identifiers quarantined (seen with too many people) after the last run.',
      registers,
    }),
  }
}
