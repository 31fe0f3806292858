import { Partitioners, type Consumer, type EachBatchPayload, type IHeaders, type Kafka, type Producer } from 'kafkajs'
import { OmnistitchError, describeError } from '../runtime/errors.ts'
import type { Logger } from '../runtime/logger.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import { findSchemaErrors } from '../schemas/capture-events.ts'
import { decodeEvent, type SchemaRegistry } from '../schemas/schema-registry.ts'
import { toAdCostRow, toTouchpointRow, type AdCostRow, type TouchpointRow } from './touchpoint-row.ts'

export interface TouchpointLoaderOptions {
  readonly kafka: Kafka
  /** The touchpoints topic. */
  readonly topic: string
  /** The ad costs topic. */
  readonly adCostTopic: string
  readonly deadLetterTopic: string
  readonly groupId: string
  readonly registry: SchemaRegistry
  readonly store: Store
  readonly logger: Logger
}

/** Counters of what a loader has done since it started. */
export interface LoaderStats {
  batches: number
  rowsInserted: number
  deadLettered: number
}

export interface TouchpointLoader {
  /** Connects and starts consuming; resolves before the consumer has joined its group (see `joined`). */
  start(): Promise<void>
  /** Resolves when the consumer has joined its group and been given partitions to read. */
  readonly joined: Promise<void>
  /** Finishes the batch in hand, commits it, leaves the group and disconnects. */
  stop(): Promise<void>
  readonly stats: Readonly<LoaderStats>
}

type Outcome =
  | { kind: 'touchpoint'; row: TouchpointRow }
  | { kind: 'ad-cost'; row: AdCostRow }
  | { kind: 'dead'; code: string; reason: string; schemaId?: number }

/**
 * Reads touchpoints from Kafka and loads them into ClickHouse, one Kafka batch at a time:
 * decode and validate every record, write the ones that cannot be read to the dead-letter topic with the reason,
 * insert the rest in one insert, and only then commit the batch's offsets. A crash anywhere before the commit means
 * the batch is delivered again; the insert's deduplication token and the ReplacingMergeTree keep that repeat out of
 * every result (see schemas/clickhouse/0001_touchpoints.sql).
 */
export function createTouchpointLoader(options: TouchpointLoaderOptions): TouchpointLoader {
  const logger = options.logger.child({ component: 'touchpoint-loader', group: options.groupId })
  const consumer: Consumer = options.kafka.consumer({ groupId: options.groupId, allowAutoTopicCreation: false })
  const deadLetters: Producer = options.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  const stats: LoaderStats = { batches: 0, rowsInserted: 0, deadLettered: 0 }

  async function insert(table: string, values: readonly object[], token: string): Promise<void> {
    if (values.length === 0) return
    await options.store.client.insert({
      table,
      values: [...values],
      format: 'JSONEachRow',
      // The same batch inserted again after a crash is dropped by ClickHouse (see 0001_touchpoints.sql).
      clickhouse_settings: { insert_deduplication_token: token },
    })
  }

  async function readRecord(
    value: Buffer | null,
    origin: { topic: string; partition: number; offset: string },
  ): Promise<Outcome> {
    let decoded: Awaited<ReturnType<typeof decodeEvent>>
    try {
      decoded = await decodeEvent(options.registry, value)
    } catch (error) {
      if (error instanceof OmnistitchError && !error.retriable) {
        return { kind: 'dead', code: error.code, reason: error.message }
      }
      throw error
    }
    const problems = findSchemaErrors(decoded.type, decoded.event.value)
    if (problems.length > 0) {
      return {
        kind: 'dead',
        code: 'OMNI_ERR_SCHEMA_INVALID_EVENT',
        reason: `Invalid ${decoded.event.family} event: ${problems.join('; ')}`,
        schemaId: decoded.schemaId,
      }
    }
    const source = { ...origin, schemaId: decoded.schemaId }
    return decoded.event.family === 'ad-cost'
      ? { kind: 'ad-cost', row: toAdCostRow(decoded.event.value, source) }
      : { kind: 'touchpoint', row: toTouchpointRow(decoded.event, source) }
  }

  async function handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload
    if (batch.isEmpty() || payload.isStale()) return
    const rows: TouchpointRow[] = []
    const costs: AdCostRow[] = []
    const dead: { key: Buffer | null; value: Buffer | null; headers: IHeaders }[] = []
    for (const message of batch.messages) {
      const outcome = await readRecord(message.value, {
        topic: batch.topic,
        partition: batch.partition,
        offset: message.offset,
      })
      if (outcome.kind === 'touchpoint') {
        rows.push(outcome.row)
        continue
      }
      if (outcome.kind === 'ad-cost') {
        costs.push(outcome.row)
        continue
      }
      dead.push({
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          'omnistitch.reason': outcome.reason,
          'omnistitch.error-code': outcome.code,
          'omnistitch.step': 'decode',
          'omnistitch.source-topic': batch.topic,
          'omnistitch.source-partition': String(batch.partition),
          'omnistitch.source-offset': message.offset,
          'omnistitch.schema-id': outcome.schemaId === undefined ? '' : String(outcome.schemaId),
          'omnistitch.failed-at': new Date().toISOString(),
        },
      })
    }
    // Dead letters first: if writing them fails, nothing is committed and the whole batch comes back.
    if (dead.length > 0) {
      await deadLetters.send({ topic: options.deadLetterTopic, acks: -1, messages: dead })
      logger.warn({ count: dead.length, partition: batch.partition }, 'records sent to the dead-letter topic')
    }
    const token = `${batch.topic}:${batch.partition}:${batch.firstOffset()}-${batch.lastOffset()}`
    await insert(`${options.store.database}.touchpoints`, rows, token)
    await insert(`${options.store.database}.ad_costs`, costs, token)
    const next = (BigInt(batch.lastOffset()) + 1n).toString()
    await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }])
    payload.resolveOffset(batch.lastOffset())
    stats.batches += 1
    stats.rowsInserted += rows.length + costs.length
    stats.deadLettered += dead.length
    logger.debug({ partition: batch.partition, rows: rows.length, dead: dead.length, next }, 'batch loaded')
    await payload.heartbeat()
  }

  let started = false
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, () => resolve())
  })
  return {
    stats,
    joined,
    async start() {
      await deadLetters.connect()
      await consumer.connect()
      await consumer.subscribe({ topics: [options.topic, options.adCostTopic], fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async (payload) => {
          try {
            await handleBatch(payload)
          } catch (error) {
            logger.error(
              { err: describeError(error), partition: payload.batch.partition },
              'batch failed; it will be retried',
            )
            throw error
          }
        },
      })
      started = true
      logger.info({ topic: options.topic }, 'loader started')
    },
    async stop() {
      if (started) await consumer.disconnect()
      await deadLetters.disconnect()
      started = false
      logger.info(stats, 'loader stopped')
    },
  }
}
