import type avro from 'avsc'
import type { ClickHouseSettings } from '@clickhouse/client'
import { createHash } from 'node:crypto'
import { Partitioners, type Consumer, type EachBatchPayload, type IHeaders, type Kafka, type Producer } from 'kafkajs'
import { OmnistitchError, describeError } from '../runtime/errors.ts'
import type { Logger } from '../runtime/logger.ts'
import type { PipelineMetrics } from '../runtime/metrics.ts'
import { insertRows, insertTabSeparated, type Store } from '../runtime/clickhouse-store.ts'
import { findSchemaErrors, type CapturedEvent } from '../schemas/capture-events.ts'
import { eventProblem } from '../schemas/event-checks.ts'
import { decodeEvent, decodeEventCached, type SchemaRegistry } from '../schemas/schema-registry.ts'
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

/** The columns of `stage_ledger` the loader writes, in order. */
export const ledgerColumns = [
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
  /**
   * Batches that have been through the record steps and wait for (or are in) their insert (default 12, about 60,000
   * events). Beyond this, reading waits for the store: the bound on memory and on what a crash sends back.
   */
  readonly maxPendingBatches?: number
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

/** Rows one insert takes at most when several batches wait for the store. */
const maxGroupRows = 200_000
/** Records through the steps between two turns of the event loop. */
const yieldEvery = 1000

/** Settings of every insert the loader makes (the deduplication token is added per group). */
// optimize_on_insert=0: the ReplacingMergeTree tables are read with FINAL, which collapses repeats anyway; collapsing
// them again in each inserted block cost about 10-20% of the engine's insert time (measured on touchpoints).
const insertSettings: ClickHouseSettings = { optimize_on_insert: 0 }
// Embedded, the engine shares the machine's cores with this thread and the broker: one parsing thread per insert
// took less CPU for the same rows than parallel parsing did (bench:ingest). A server keeps its own defaults.
const embeddedInsertSettings: ClickHouseSettings = {
  ...insertSettings,
  max_threads: 1,
  input_format_parallel_parsing: 0,
}
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

/**
 * The record steps of the consumer pipeline, each a named step returning its outcome as a value:
 * decode (Confluent framing, the writer's schema from the registry, cached, read into the newest shape) →
 * validate (the schema's own rules, then the edge's checks: hash form, plausibility, no contact details) → normalise (the ClickHouse row, with order and identity
 * columns). Identity resolution and journey stitching run after loading, over what is stored (identity-resolver.ts).
 */
export function recordSteps(registry: SchemaRegistry): {
  decode: Step<Buffer | null, Decoded>
  /** The decode step for a record whose schema id is already cached, without a promise; undefined otherwise. */
  decodeCached: (value: Buffer | null) => StepOutcome<Decoded> | undefined
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
    decodeCached(value) {
      if (value === null) return drop('tombstone (a record without a value)')
      try {
        const decoded = decodeEventCached(registry, value)
        return decoded === undefined ? undefined : ok(decoded)
      } catch (error) {
        if (error instanceof OmnistitchError && !error.retriable) return deadLetter(error.code, error.message)
        throw error
      }
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
        // The edge's own checks (schemas/event-checks.ts), again: a producer writing to Kafka directly skips the edge.
        const problem = eventProblem(decoded.event)
        if (problem !== undefined) {
          const what = problem.code === 'OMNI_ERR_EVENT_IMPOSSIBLE' ? 'Impossible' : 'Refused'
          return deadLetter(
            problem.code,
            `${what} ${decoded.event.family} event: ${problem.field}: ${problem.message}`,
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
    // Fetches of 1 MiB a partition (about 5,000 events): the first rows reach the steps sooner, and a round of
    // fetches is over sooner. Insert size does not depend on it: batches waiting for the store go in together.
    maxBytesPerPartition: 1024 * 1024,
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
  const settingsOfStore = options.store.mode === 'embedded' ? embeddedInsertSettings : insertSettings
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
          await write({ ...settingsOfStore, insert_deduplication_token: token })
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

  /** A batch through the record steps, waiting for its load: what to insert and what to count. */
  interface StepsDone {
    readonly topic: string
    readonly partition: number
    readonly firstOffset: string
    readonly lastOffset: string
    readonly received: number
    readonly touchpoints: readonly string[]
    readonly costs: readonly AdCostRow[]
    readonly deadLettered: number
    readonly dropped: number
    readonly offsetLag: string
    readonly stopTimer: (() => void) | undefined
  }

  /** Batches through the steps, in the order they came, waiting for their load. */
  const queue: (StepsDone & { readonly generation: number })[] = []
  /** Per partition, moved on by a failed load: a queued batch of an older generation is read again, not loaded. */
  const generations = new Map<string, number>()
  const partitionKey = (topic: string, partition: number) => `${topic}:${partition}`
  let loading = false
  let pending = 0
  const pendingChanged = new Set<() => void>()
  const maxPending = Math.max(1, options.maxPendingBatches ?? 12)
  let handlersRunning = 0
  let stopping = false

  function pendingSettled(): Promise<void> {
    return new Promise((resolve) => pendingChanged.add(resolve))
  }
  function notifyPending(): void {
    for (const resolve of pendingChanged) resolve()
    pendingChanged.clear()
  }

  /**
   * The load step of a group of batches: one insert per table for the whole group, a stage ledger row per batch, then
   * one commit of every batch's offsets. Nothing is committed that is not stored.
   */
  async function loadGroup(group: readonly StepsDone[]): Promise<void> {
    const names = group.map((done) => `${done.topic}:${done.partition}:${done.firstOffset}-${done.lastOffset}`)
    // The same group inserted again after a crash is dropped by ClickHouse (see 0001_touchpoints.sql); one cut
    // differently is collapsed by the ReplacingMergeTree.
    const token = group.length === 1 ? (names[0] as string) : createHash('sha256').update(names.join(',')).digest('hex')
    const touchpoints =
      group.length === 1 ? (group[0] as StepsDone).touchpoints : group.flatMap((done) => done.touchpoints)
    const costs = group.flatMap((done) => done.costs)
    await insert('touchpoints', touchpoints.length, token, (settings) =>
      insertTabSeparated(options.store, 'touchpoints', touchpointColumns, touchpoints, settings),
    )
    await insert('ad_costs', costs.length, token, insertRowsOf('ad_costs', adCostColumns, costs))
    const recordedAt = new Date().toISOString().replace('T', ' ').replace('Z', '')
    await insert(
      'stage_ledger',
      group.length,
      token,
      insertRowsOf(
        'stage_ledger',
        ledgerColumns,
        group.map((done) => ({
          consumer_group: options.groupId,
          topic: done.topic,
          partition: done.partition,
          first_offset: done.firstOffset,
          last_offset: done.lastOffset,
          received: done.received,
          dead_lettered: done.deadLettered,
          dropped: done.dropped,
          loaded: done.touchpoints.length + done.costs.length,
          recorded_at: recordedAt,
        })),
      ),
    )
    // Within a partition the group is in offset order: its last batch there holds the partition's commit.
    const commits = new Map<string, { topic: string; partition: number; offset: string }>()
    for (const done of group) {
      const next = (BigInt(done.lastOffset) + 1n).toString()
      commits.set(partitionKey(done.topic, done.partition), {
        topic: done.topic,
        partition: done.partition,
        offset: next,
      })
    }
    try {
      await consumer.commitOffsets([...commits.values()])
    } catch (error) {
      // The rows are stored; only the commit was refused, as during a rebalance. Rewinding would seek partitions that
      // may no longer be this consumer's (which crashes kafkajs' next fetch). Whoever reads them next starts from the
      // last commit, and deduplication keeps the repeat out of every result (D7).
      logger.warn({ err: describeError(error) }, 'offsets not committed; the batches will be read again')
    }
    for (const done of group) {
      const loaded = done.touchpoints.length + done.costs.length
      stats.batches += 1
      stats.received += done.received
      stats.rowsInserted += loaded
      stats.deadLettered += done.deadLettered
      stats.dropped += done.dropped
      if (metrics) {
        metrics.records.inc({ topic: done.topic, outcome: 'received' }, done.received)
        metrics.records.inc({ topic: done.topic, outcome: 'loaded' }, loaded)
        metrics.records.inc({ topic: done.topic, outcome: 'dead_lettered' }, done.deadLettered)
        metrics.records.inc({ topic: done.topic, outcome: 'dropped' }, done.dropped)
        metrics.lag.set({ topic: done.topic, partition: String(done.partition) }, Number(done.offsetLag))
        done.stopTimer?.()
      }
      logger.debug({ partition: done.partition, loaded, dead: done.deadLettered }, 'batch loaded')
      options.onBatchLoaded?.(loaded)
    }
  }

  /**
   * After a load failed past its retries: rewinds each of its partitions to the first offset it held there, pauses
   * them (back-pressure: the store did not take the rows, and spinning would not help), and cancels the loads queued
   * behind it on those partitions. They are read again after the pause, in order.
   */
  function rewind(group: readonly StepsDone[], error: unknown): void {
    const firsts = new Map<string, StepsDone>()
    for (const done of group) {
      const key = partitionKey(done.topic, done.partition)
      if (!firsts.has(key)) firsts.set(key, done)
    }
    for (const [key, done] of firsts) {
      generations.set(key, (generations.get(key) ?? 0) + 1)
      logger.error(
        { err: describeError(error), partition: done.partition, from: done.firstOffset },
        'batch failed; it will be read again',
      )
      // Seek only a partition this consumer still holds: kafkajs' next fetch fails on a seek of any other.
      if (stopping || !(assigned.get(done.topic)?.includes(done.partition) ?? false)) continue
      const pauseMs = options.pauseMs ?? 5_000
      const paused = [{ topic: done.topic, partitions: [done.partition] }]
      try {
        consumer.seek({ topic: done.topic, partition: done.partition, offset: done.firstOffset })
        consumer.pause(paused)
      } catch (seekError) {
        // The partition went to another consumer meanwhile: that one reads on from the last commit.
        logger.warn({ err: describeError(seekError), partition: done.partition }, 'could not rewind the partition')
        continue
      }
      metrics?.pauses.inc({ topic: done.topic })
      logger.warn({ partition: done.partition, pauseMs }, 'the store did not take the batch; partition paused')
      setTimeout(() => consumer.resume(paused), pauseMs).unref()
    }
  }

  /**
   * Loads what is queued, a group at a time: while the store works on one group, the next batches go through the
   * steps and queue up, then go in together. Larger inserts leave fewer parts for ClickHouse to merge: 45,000-row
   * inserts cost the embedded engine 12-13 µs of CPU a row, 150,000-row inserts 7 µs (docs/ARCHITECTURE.md, D24).
   */
  async function runLoads(): Promise<void> {
    loading = true
    try {
      while (queue.length > 0) {
        const group: StepsDone[] = []
        let rows = 0
        while (queue.length > 0) {
          const next = queue[0] as (typeof queue)[number]
          const size = next.touchpoints.length + next.costs.length
          if (group.length > 0 && rows + size > maxGroupRows) break
          queue.shift()
          if ((generations.get(partitionKey(next.topic, next.partition)) ?? 0) !== next.generation) {
            pending -= 1
            continue
          }
          group.push(next)
          rows += size
        }
        if (group.length === 0) continue
        try {
          await loadGroup(group)
        } catch (error) {
          rewind(group, error)
        } finally {
          pending -= group.length
          notifyPending()
        }
      }
    } finally {
      loading = false
      notifyPending()
    }
  }

  function queueLoad(done: StepsDone): void {
    queue.push({ ...done, generation: generations.get(partitionKey(done.topic, done.partition)) ?? 0 })
    pending += 1
    if (!loading) void runLoads()
  }

  /**
   * One Kafka batch through the record steps on this thread; its load is queued and this returns, so the next fetch
   * and its record steps overlap the engine's work on this one (off this thread). The batch's offset is resolved for
   * reading on, but committed only by its load.
   */
  async function handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload
    if (stopping || batch.isEmpty() || payload.isStale()) return
    const stopTimer = metrics?.batchSeconds.startTimer({ topic: batch.topic })
    const touchpoints: string[] = []
    const costs: AdCostRow[] = []
    const dead: { key: Buffer | null; value: Buffer | null; headers: IHeaders }[] = []
    let dropped = 0
    // One batch at a time through the record steps (they are CPU work on this thread): two batches decoded
    // interleaved both finish late and leave the store idle meanwhile.
    const endTurn = await recordStepsTurn()
    try {
      if (stopping || payload.isStale()) return
      let sinceYield = 0
      for (const message of batch.messages) {
        // The steps are synchronous work chained by resolved promises, which never let the event loop turn: yield to
        // it now and then, so that queued loads get their files written and their inserts sent (the engine then
        // works on another thread meanwhile), and network reads and timers are not starved.
        if (++sinceYield === yieldEvery) {
          sinceYield = 0
          await new Promise<void>((resolve) => setImmediate(resolve))
        }
        const origin = { topic: batch.topic, partition: batch.partition, offset: message.offset }
        const decoded = steps.decodeCached(message.value) ?? (await decode.run(message.value))
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
    // Dead letters before the load is queued: if writing them fails, the batch is read again and nothing of it is
    // committed.
    if (dead.length > 0) {
      await deadLetters.send({ topic: options.deadLetterTopic, acks: -1, messages: dead })
      logger.warn({ count: dead.length, partition: batch.partition }, 'records sent to the dead-letter topic')
    }
    if (payload.isStale()) return
    queueLoad({
      topic: batch.topic,
      partition: batch.partition,
      firstOffset: batch.firstOffset() ?? batch.lastOffset(),
      lastOffset: batch.lastOffset(),
      received: batch.messages.length,
      touchpoints,
      costs,
      deadLettered: dead.length,
      dropped,
      offsetLag: batch.offsetLag() ?? '0',
      stopTimer,
    })
    payload.resolveOffset(batch.lastOffset())
    while (pending > maxPending) await pendingSettled()
    await payload.heartbeat()
  }

  /** Resolves when every queued load has finished (stored and committed, or failed and rewound). */
  async function drain(): Promise<void> {
    while (pending > 0 || handlersRunning > 0) await pendingSettled()
  }

  let started = false
  /** The partitions the group gave this consumer at its last join, by topic. */
  let assigned = new Map<string, number[]>()
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      assigned = new Map(Object.entries(event.payload.memberAssignment))
      resolve()
    })
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
        // One batch per partition at a time, up to three partitions at once. The record steps take one batch at a
        // time anyway; a handler waiting for room in the load queue does not hold up the others of the round.
        partitionsConsumedConcurrently: 3,
        eachBatch: async (payload) => {
          handlersRunning += 1
          try {
            await handleBatch(payload)
          } catch (error) {
            logger.error(
              { err: describeError(error), partition: payload.batch.partition },
              'batch failed; it will be read again',
            )
            throw error
          } finally {
            handlersRunning -= 1
            notifyPending()
          }
        },
      })
      started = true
      logger.info({ topic: options.topic }, 'loader started')
    },
    async stop() {
      // Finish what is in hand: no new batch goes through the steps, the ones queued are stored and committed while
      // this consumer still owns their partitions, and then it leaves the group.
      stopping = true
      await drain()
      if (started) await consumer.disconnect()
      stopping = false
      await deadLetters.disconnect()
      started = false
      logger.info(stats, 'loader stopped')
    },
  }
}
