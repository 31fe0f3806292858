import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { isoFromDateTime } from '../runtime/clickhouse-values.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { loadSql } from './sql-files.ts'
import {
  formatProperty,
  metricAnswers,
  requestedFormat,
  sendTable,
  type TableColumn,
  type TableFormat,
} from './tabular.ts'
import { timeRangeOf, timeRangeProperties } from './time-range.ts'

const ledgerSql = loadSql('pipeline-ledger')
const ingestSql = loadSql('pipeline-ingest')

const dayMs = 86_400_000

/** The consumer's metrics read from this process's registry (runtime/metrics.ts). */
const lagMetric = 'omnistitch_consumer_lag_records'
const deadLetterMetric = 'omnistitch_consumer_dead_letters_total'

export interface LedgerTopic {
  topic: string
  batches: number
  received: number
  loaded: number
  dead_lettered: number
  dropped: number
  /** ISO 8601: when the newest batch of the topic in the range was recorded. */
  last_recorded_at: string
}

export const ledgerTopicColumns: readonly TableColumn<LedgerTopic>[] = [
  { name: 'topic', type: 'text' },
  { name: 'batches', type: 'number' },
  { name: 'received', type: 'number' },
  { name: 'loaded', type: 'number' },
  { name: 'dead_lettered', type: 'number' },
  { name: 'dropped', type: 'number' },
  { name: 'last_recorded_at', type: 'text' },
]

export interface PartitionLag {
  topic: string
  partition: number
  records: number
}

export interface DeadLetterCount {
  code: string
  step: string
  records: number
}

/** Said in the answer when `lag` and `dead_letters` are null. */
export const noConsumerMetricsNote =
  'lag and dead_letters come from the metrics of a consumer running in the same process (omnistitch start); this ' +
  "API runs without one (omnistitch serve): read them from the consumer's /metrics (OMNISTITCH_METRICS_PORT)"

/** The labelled values of a metric in the registry; none when it is not registered. */
async function metricValues(
  registry: Registry,
  name: string,
): Promise<readonly { value: number; labels: Partial<Record<string, string | number>> }[]> {
  return (await registry.getSingleMetric(name)?.get())?.values ?? []
}

/**
 * `GET /v1/health/pipeline`: how ingestion went over a range (default: the last 24 hours). Per topic, the batches the
 * consumers recorded in the stage ledger and their records received, loaded, dead-lettered and dropped; records loaded
 * per minute; and, from this process's Prometheus registry, the consumer's lag per partition and dead letters by code
 * and step (null, with a note, in a process without one). SQL: `queries/sql/pipeline-ledger.sql` and
 * `pipeline-ingest.sql`.
 */
export function registerPipelineHealthRoute(
  app: FastifyInstance,
  store: Store,
  settings: Record<string, string | number>,
  metrics?: Registry,
): void {
  app.get<{ Querystring: { from?: string; to?: string; format?: TableFormat } }>(
    '/v1/health/pipeline',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description:
          'Pipeline health: stage-ledger totals per topic, records loaded per minute, and the consumer lag and dead ' +
          'letters of this process. As CSV or Arrow: the totals per topic.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...timeRangeProperties,
            from: {
              ...timeRangeProperties.from,
              description: 'Start of the range, inclusive (default: 24 hours before `to`).',
            },
            ...formatProperty,
          },
        },
        response: metricAnswers('Pipeline health; as CSV or Arrow, the totals per topic.'),
      },
    },
    async (request, reply) => {
      // Pipeline health looks at the day up to now unless asked otherwise.
      const range = timeRangeOf(
        { to: request.query.to ?? new Date().toISOString(), from: request.query.from },
        Date.now(),
        dayMs,
      )
      const [ledgerRows, ingestRows] = await Promise.all([
        queryRows<LedgerTopic>(store, ledgerSql, range.params, settings),
        queryRows<{ minute: string; loaded: number }>(store, ingestSql, range.params, settings),
      ])
      const topics = ledgerRows.map((row) => ({ ...row, last_recorded_at: isoFromDateTime(row.last_recorded_at) }))
      const format = requestedFormat(request)
      if (format !== 'json') return sendTable(reply, format, ledgerTopicColumns, topics)

      const ingest = ingestRows.map((row) => ({ minute: isoFromDateTime(row.minute), loaded: row.loaded }))
      if (metrics === undefined) {
        return {
          from: range.from,
          to: range.to,
          topics,
          ingest,
          lag: null,
          dead_letters: null,
          note: noConsumerMetricsNote,
        }
      }
      const lag = (await metricValues(metrics, lagMetric)).map((value): PartitionLag => ({
        topic: String(value.labels['topic'] ?? ''),
        partition: Number(value.labels['partition'] ?? 0),
        records: value.value,
      }))
      lag.sort((x, y) => x.topic.localeCompare(y.topic) || x.partition - y.partition)
      const deadLetters = (await metricValues(metrics, deadLetterMetric)).map((value): DeadLetterCount => ({
        code: String(value.labels['code'] ?? ''),
        step: String(value.labels['step'] ?? ''),
        records: value.value,
      }))
      deadLetters.sort((x, y) => x.code.localeCompare(y.code) || x.step.localeCompare(y.step))
      return { from: range.from, to: range.to, topics, ingest, lag, dead_letters: deadLetters }
    },
  )
}
