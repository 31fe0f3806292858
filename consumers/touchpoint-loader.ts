import type avro from 'avsc'
import type { ClickHouseSettings } from '@clickhouse/client'
import { Partitioners, type Consumer, type EachBatchPayload, type IHeaders, type Kafka, type Producer } from 'kafkajs'
import { OmnistitchError, describeError } from '../runtime/errors.ts'
import type { Logger } from '../runtime/logger.ts'
import type { PipelineMetrics } from '../runtime/metrics.ts'
import { insertRows, insertTabSeparated, type Store } from '../runtime/clickhouse-store.ts'
import { findSchemaErrors, type CapturedEvent } from '../schemas/capture-events.ts'
import { decodeEvent, type SchemaRegistry } from '../schemas/schema-registry.ts'
import {
  deadLetter,
  defaultRetryPolicy,
  drop,
  ok,
  retrying,
  withRetry,
  type RetryPolicy,
  type Step,
  type StepOutcome,
} from './pipeline-steps.ts'
import { adCostColumns, toAdCostRow, toTouchpointTsvLine, touchpointColumns, type AdCostRow } from './touchpoint-row.ts'

const ledgerColumns = [
  'consumer_group',
  'topic',
  'partition',
  'first_offset',
  'last_offset',
  'received',
  'dead_lettered',
  'dropped',
  'loaded',
  'recorded_at',
] as const

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
  readonly metrics?: PipelineMetrics | undefined
  /** Retries of one step (decode's registry lookups, load's inserts) before the batch is given up and re-read. */
  readonly retry?: RetryPolicy
  /** How long a partition is paused when the store did not take a batch after the retries (default 5 s). */
  readonly pauseMs?: number
  /** Called after each batch is committed (the consumer uses it to know when to re-resolve identities). */
  readonly onBatchLoaded?: (loaded: number) => void
}

/** Counters of what a loader has done since it started. */
export interface LoaderStats {
  batches: number
  received: number
  rowsInserted: number
  deadLettered: number
  dropped: number
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

interface Decoded {
  readonly schemaId: number
  readonly event: CapturedEvent
  readonly type: avro.Type
}

/** A normalised record: a touchpoint as its TabSeparated line (`toTouchpointRow` in `touchpointColumns` order), or an ad cost row. */
type Row = { table: 'touchpoints'; line: string } | { table: 'ad_costs'; row: AdCostRow }

interface Origin {
  readonly topic: string
  readonly partition: number
  readonly offset: string
}

const dayMs = 86_400_000

/** Settings of every insert the loader makes (the deduplication token is added per batch). */
// optimize_on_insert=0: the ReplacingMergeTree tables are read with FINAL, which collapses repeats anyway; collapsing
// them again in each inserted block cost about 10-20% of the engine's insert time (measured on touchpoints).
const insertSettings: ClickHouseSettings = { optimize_on_insert: 0 }
/** Before this, an event time is a default or a unit mistake, not a touchpoint: 2000-01-01. */
const earliestEventTime = Date.UTC(2000, 0, 1)

/** Money fields that can never be negative (a return is its own event type with a positive amount). */
const moneyFields = ['amount_minor', 'total_minor', 'value_minor', 'spend_minor', 'discount_minor'] as const

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Logical-type values decoding does not check: the event id must be a UUID. Others go to the full schema check. */
function logicalTypeErrors(decoded: Decoded): string[] {
  if (decoded.event.family === 'ad-cost') return []
  if (uuidPattern.test(decoded.event.value.event_id)) return []
  const problems = findSchemaErrors(decoded.type, decoded.event.value)
  return problems.length > 0
    ? problems
    : [`event_id: expected a UUID string (got ${JSON.stringify(decoded.event.value.event_id).slice(0, 60)})`]
}

/** Why an event that matches its schema cannot be true, or undefined when it can. */
export function implausibility(event: CapturedEvent): string | undefined {
  const value = event.value as unknown as Record<string, unknown>
  if (event.family !== 'ad-cost') {
    const time = event.value.event_time
    const received = event.value.received_at
    if (time < earliestEventTime)
      return `event_time: expected 2000-01-01 or later (got ${new Date(time).toISOString()})`
    if (time > received + dayMs) {
      return `event_time: expected no later than a day after received_at (event_time ${new Date(time).toISOString()}, received_at ${new Date(received).toISOString()})`
    }
  }
  for (const field of moneyFields) {
    const amount = value[field]
    if (typeof amount === 'number' && amount < 0) return `${field}: expected zero or more (got ${amount})`
  }
  return undefined
}

/**
 * The record steps of the consumer pipeline, each a named step returning its outcome as a value:
 * decode (Confluent framing, the writer's schema from the registry, cached, read into the newest shape) →
 * validate (the schema's own rules, then plausibility) → normalise (the ClickHouse row, with order and identity
 * columns). Identity resolution and journey stitching run after loading, over what is stored (identity-resolver.ts).
 */
export function recordSteps(registry: SchemaRegistry): {
  decode: Step<Buffer | null, Decoded>
  validate: Step<Decoded, Decoded>
  normalise: Step<{ decoded: Decoded; origin: Origin }, Row>
} {
  return {
    decode: {
      name: 'decode',
      async run(value) {
        if (value === null) return drop('tombstone (a record without a value)')
        try {
          return ok(await decodeEvent(registry, value))
        } catch (error) {
          // A record that cannot be read now will never be readable; a registry that cannot be reached may be soon.
          if (error instanceof OmnistitchError && !error.retriable) return deadLetter(error.code, error.message)
          throw error
        }
      },
    },
    validate: {
      name: 'validate',
      run(decoded) {
        // A value read from Avro bytes has its schema's types by construction; what decoding does not check is the
        // format of logical types (a uuid is a string on the wire), which ClickHouse would refuse for the whole batch.
        const problems = logicalTypeErrors(decoded)
        if (problems.length > 0) {
          return deadLetter(
            'OMNI_ERR_SCHEMA_INVALID_EVENT',
            `Invalid ${decoded.event.family} event: ${problems.join('; ')}`,
            decoded.schemaId,
          )
        }
        const impossible = implausibility(decoded.event)
        if (impossible !== undefined) {
          return deadLetter(
            'OMNI_ERR_EVENT_IMPOSSIBLE',
            `Impossible ${decoded.event.family} event: ${impossible}`,
            decoded.schemaId,
          )
        }
        return ok(decoded)
      },
    },
    normalise: {
      name: 'normalise',
      run({ decoded, origin }) {
        const source = { ...origin, schemaId: decoded.schemaId }
        return ok(
          decoded.event.family === 'ad-cost'
            ? { table: 'ad_costs', row: toAdCostRow(decoded.event.value, source) }
            : { table: 'touchpoints', line: toTouchpointTsvLine(decoded.event, source) },
        )
      },
    },
  }
}

/**
 * Reads touchpoints and ad costs from Kafka and loads them into ClickHouse, one Kafka batch at a time. Every record
 * goes through the record steps; a record a step refuses goes to the dead-letter topic with its original key, value
 * and headers plus the reason. Then the batch's rows are inserted (the load step), the batch is entered in the stage
 * ledger, and only then are its offsets committed. A crash anywhere before the commit means the batch is delivered
 * again; the insert's deduplication token and the ReplacingMergeTree keep that repeat out of every result
 * (docs/ARCHITECTURE.md, "No loss, no duplicates").
 */
export function createTouchpointLoader(options: TouchpointLoaderOptions): TouchpointLoader {
  const logger = options.logger.child({ component: 'touchpoint-loader', group: options.groupId })
  const consumer: Consumer = options.kafka.consumer({
    groupId: options.groupId,
    allowAutoTopicCreation: false,
    // Larger fetches mean fewer, larger inserts, which is what ClickHouse wants.
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxBytes: 32 * 1024 * 1024,
  })
  const deadLetters: Producer = options.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  const metrics = options.metrics
  const policy: RetryPolicy = {
    ...(options.retry ?? defaultRetryPolicy),
    onRetry: (step, attempt, error) => {
      metrics?.retries.inc({ step })
      logger.warn({ step, attempt, err: describeError(error) }, 'step failed; retrying')
    },
  }
  const steps = recordSteps(options.registry)
  const decode = retrying(steps.decode, policy)
  // The batches waiting for, or in, their turn through the record steps: a FIFO of promises.
  let lastTurn: Promise<void> = Promise.resolve()
  /** Waits for this batch's turn through the record steps; call what it returns when done. */
  async function recordStepsTurn(): Promise<() => void> {
    let end!: () => void
    const turn = new Promise<void>((resolve) => {
      end = resolve
    })
    const previous = lastTurn
    lastTurn = turn
    await previous
    return end
  }
  const stats: LoaderStats = { batches: 0, received: 0, rowsInserted: 0, deadLettered: 0, dropped: 0 }

  /** The load step for one table: `write` inserts the rows with the given settings, retried by the policy. */
  async function insert(
    table: string,
    count: number,
    token: string,
    write: (settings: ClickHouseSettings) => Promise<void>,
  ): Promise<void> {
    if (count === 0) return
    const stop = metrics?.insertSeconds.startTimer({ table })
    await withRetry(
      'load',
      async () => {
        try {
          // The same batch inserted again after a crash is dropped by ClickHouse (see 0001_touchpoints.sql).
          await write({ ...insertSettings, insert_deduplication_token: token })
        } catch (error) {
          throw new OmnistitchError(
            'OMNI_ERR_STORE_UNAVAILABLE',
            `insert of ${count} rows into ${table} failed: ${describeError(error)}`,
            { cause: error },
          )
        }
      },
      policy,
    )
    stop?.()
    metrics?.insertedRows.inc({ table }, count)
  }
  const insertRowsOf =
    <R extends object>(table: string, columns: readonly (keyof R & string)[], rows: readonly R[]) =>
    (settings: ClickHouseSettings) =>
      insertRows(options.store, table, columns, rows, settings)

  function deadLetterRecord(
    message: EachBatchPayload['batch']['messages'][number],
    origin: Origin,
    step: string,
    outcome: Extract<StepOutcome<unknown>, { kind: 'dead-letter' }>,
  ): { key: Buffer | null; value: Buffer | null; headers: IHeaders } {
    metrics?.deadLetters.inc({ code: outcome.code, step })
    return {
      key: message.key,
      value: message.value,
      headers: {
        ...message.headers,
        'omnistitch.reason': outcome.reason,
        'omnistitch.error-code': outcome.code,
        'omnistitch.step': step,
        'omnistitch.source-topic': origin.topic,
        'omnistitch.source-partition': String(origin.partition),
        'omnistitch.source-offset': origin.offset,
        'omnistitch.schema-id': outcome.schemaId === undefined ? '' : String(outcome.schemaId),
        'omnistitch.failed-at': new Date().toISOString(),
      },
    }
  }

  async function handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload
    if (batch.isEmpty() || payload.isStale()) return
    const stopBatch = metrics?.batchSeconds.startTimer({ topic: batch.topic })
    const touchpoints: string[] = []
    const costs: AdCostRow[] = []
    const dead: { key: Buffer | null; value: Buffer | null; headers: IHeaders }[] = []
    let dropped = 0
    // One batch at a time through the record steps (they are CPU work on this thread): two batches decoded
    // interleaved both finish late and leave the store idle meanwhile; one after the other, the first batch is being
    // inserted (off this thread) while the next is decoded.
    const endTurn = await recordStepsTurn()
    try {
      if (payload.isStale()) return
      for (const message of batch.messages) {
        const origin = { topic: batch.topic, partition: batch.partition, offset: message.offset }
        const decoded = await decode.run(message.value)
        if (decoded.kind === 'dead-letter') {
          dead.push(deadLetterRecord(message, origin, 'decode', decoded))
          continue
        }
        if (decoded.kind === 'drop') {
          dropped += 1
          continue
        }
        const valid = steps.validate.run(decoded.value) as StepOutcome<Decoded>
        if (valid.kind !== 'ok') {
          if (valid.kind === 'dead-letter') dead.push(deadLetterRecord(message, origin, 'validate', valid))
          else dropped += 1
          continue
        }
        const row = steps.normalise.run({ decoded: valid.value, origin }) as StepOutcome<Row>
        if (row.kind !== 'ok') {
          if (row.kind === 'dead-letter') dead.push(deadLetterRecord(message, origin, 'normalise', row))
          else dropped += 1
          continue
        }
        if (row.value.table === 'touchpoints') touchpoints.push(row.value.line)
        else costs.push(row.value.row)
      }
    } finally {
      endTurn()
    }
    // Dead letters first: if writing them fails, nothing is committed and the whole batch comes back.
    if (dead.length > 0) {
      await deadLetters.send({ topic: options.deadLetterTopic, acks: -1, messages: dead })
      logger.warn({ count: dead.length, partition: batch.partition }, 'records sent to the dead-letter topic')
    }
    const token = `${batch.topic}:${batch.partition}:${batch.firstOffset()}-${batch.lastOffset()}`
    try {
      await insert('touchpoints', touchpoints.length, token, (settings) =>
        insertTabSeparated(options.store, 'touchpoints', touchpointColumns, touchpoints, settings),
      )
      await insert('ad_costs', costs.length, token, insertRowsOf('ad_costs', adCostColumns, costs))
      await insert(
        'stage_ledger',
        1,
        token,
        insertRowsOf('stage_ledger', ledgerColumns, [
          {
            consumer_group: options.groupId,
            topic: batch.topic,
            partition: batch.partition,
            first_offset: batch.firstOffset(),
            last_offset: batch.lastOffset(),
            received: batch.messages.length,
            dead_lettered: dead.length,
            dropped,
            loaded: touchpoints.length + costs.length,
            recorded_at: new Date().toISOString().replace('T', ' ').replace('Z', ''),
          },
        ]),
      )
    } catch (error) {
      // Back-pressure: the store did not take the batch after the retries. Pause this partition instead of spinning;
      // the batch is read again from its first offset when it resumes.
      if (error instanceof OmnistitchError && error.retriable) {
        const pauseMs = options.pauseMs ?? 5_000
        const resume = payload.pause()
        metrics?.pauses.inc({ topic: batch.topic })
        logger.warn({ partition: batch.partition, pauseMs }, 'the store did not take the batch; partition paused')
        setTimeout(resume, pauseMs).unref()
      }
      throw error
    }
    const next = (BigInt(batch.lastOffset()) + 1n).toString()
    await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }])
    payload.resolveOffset(batch.lastOffset())
    const loaded = touchpoints.length + costs.length
    stats.batches += 1
    stats.received += batch.messages.length
    stats.rowsInserted += loaded
    stats.deadLettered += dead.length
    stats.dropped += dropped
    if (metrics) {
      metrics.records.inc({ topic: batch.topic, outcome: 'received' }, batch.messages.length)
      metrics.records.inc({ topic: batch.topic, outcome: 'loaded' }, loaded)
      metrics.records.inc({ topic: batch.topic, outcome: 'dead_lettered' }, dead.length)
      metrics.records.inc({ topic: batch.topic, outcome: 'dropped' }, dropped)
      metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()))
      stopBatch?.()
    }
    logger.debug({ partition: batch.partition, loaded, dead: dead.length, next }, 'batch loaded')
    options.onBatchLoaded?.(loaded)
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
        // One batch per partition at a time, up to three partitions at once: while one batch goes through the record
        // steps, the ones before it are being inserted (the store works off this thread) or wait for the store.
        partitionsConsumedConcurrently: 3,
        eachBatch: async (payload) => {
          try {
            await handleBatch(payload)
          } catch (error) {
            logger.error(
              { err: describeError(error), partition: payload.batch.partition },
              'batch failed; it will be read again',
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
