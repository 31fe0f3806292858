import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ledgerColumns } from '../consumers/touchpoint-loader.ts'
import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { insertRows, type Store } from '../runtime/clickhouse-store.ts'
import { createPipelineMetrics } from '../runtime/metrics.ts'
import { asReader, openTestStore, testLogger } from '../test/helpers.ts'
import { expectRowsAsCsvAndArrow, testApiServer } from '../test/api-fixture.ts'
import { ledgerTopicColumns, noConsumerMetricsNote, type LedgerTopic } from './pipeline-health-route.ts'

interface LedgerRow {
  consumer_group: string
  topic: string
  partition: number
  first_offset: number
  last_offset: number
  received: number
  dead_lettered: number
  dropped: number
  loaded: number
  recorded_at: string
}

const touchpoints = 'omni.touchpoints'
const adCosts = 'omni.ad-costs'

/** A stage ledger row as the loader writes it: a batch of one partition, offsets inclusive. */
const batch = (
  topic: string,
  partition: number,
  firstOffset: number,
  lastOffset: number,
  outcomes: { loaded: number; dead_lettered?: number; dropped?: number },
  recordedAt: string | number,
): LedgerRow => {
  const deadLettered = outcomes.dead_lettered ?? 0
  const dropped = outcomes.dropped ?? 0
  return {
    consumer_group: 'omnistitch-loader',
    topic,
    partition,
    first_offset: firstOffset,
    last_offset: lastOffset,
    received: outcomes.loaded + deadLettered + dropped,
    dead_lettered: deadLettered,
    dropped,
    loaded: outcomes.loaded,
    recorded_at: formatDateTime64(typeof recordedAt === 'number' ? recordedAt : Date.parse(recordedAt)),
  }
}

const hour = 3_600_000
/** The batch the test of the default range finds: recorded an hour before the test started. */
const recentAt = Date.now() - hour

/**
 * Batches of 1 May 2026, 10:00-11:00. Touchpoints: partition 0 took 100 records at 10:00:05 (97 loaded, 2
 * dead-lettered, 1 dropped) and 50 at 10:00:40; partition 1 took 80 at 10:02:10 and the same batch again at 10:03:05
 * (re-delivered after a crash: it replaces the first row). Ad costs: 10 records at 10:01:00, one dead-lettered. Outside
 * the range: a batch a millisecond before it and one at its (exclusive) end. Besides: a batch an hour ago and one two
 * days ago, for the default range.
 */
const ledger = [
  batch(touchpoints, 0, 0, 99, { loaded: 97, dead_lettered: 2, dropped: 1 }, '2026-05-01T10:00:05Z'),
  batch(touchpoints, 0, 100, 149, { loaded: 50 }, '2026-05-01T10:00:40Z'),
  batch(touchpoints, 1, 0, 79, { loaded: 80 }, '2026-05-01T10:02:10Z'),
  batch(touchpoints, 1, 0, 79, { loaded: 80 }, '2026-05-01T10:03:05Z'),
  batch(adCosts, 0, 0, 9, { loaded: 9, dead_lettered: 1 }, '2026-05-01T10:01:00Z'),
  batch(touchpoints, 2, 0, 9, { loaded: 10 }, '2026-05-01T09:59:59.999Z'),
  batch(touchpoints, 2, 10, 19, { loaded: 10 }, '2026-05-01T11:00:00Z'),
  batch(touchpoints, 3, 0, 4, { loaded: 5 }, recentAt),
  batch(touchpoints, 3, 5, 11, { loaded: 7 }, Date.now() - 48 * hour),
]

const range = 'from=2026-05-01T10:00:00Z&to=2026-05-01T11:00:00Z'

const expectedTopics: LedgerTopic[] = [
  {
    topic: adCosts,
    batches: 1,
    received: 10,
    loaded: 9,
    dead_lettered: 1,
    dropped: 0,
    last_recorded_at: '2026-05-01T10:01:00.000Z',
  },
  {
    topic: touchpoints,
    batches: 3,
    received: 230,
    loaded: 227,
    dead_lettered: 2,
    dropped: 1,
    last_recorded_at: '2026-05-01T10:03:05.000Z',
  },
]

describe('GET /v1/health/pipeline over a stage ledger in the real ClickHouse engine', () => {
  let store: Store
  /** Built with the consumer's metrics, as in `omnistitch start`. */
  let withMetrics: FastifyInstance
  /** Built without, as in `omnistitch serve`. */
  let apiOnly: FastifyInstance

  beforeAll(async () => {
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    await insertRows<LedgerRow>(store, 'stage_ledger', ledgerColumns, ledger)
    const metrics = createPipelineMetrics({ defaultMetrics: false })
    metrics.lag.set({ topic: touchpoints, partition: '1' }, 7)
    metrics.lag.set({ topic: touchpoints, partition: '0' }, 12)
    metrics.deadLetters.inc({ code: 'OMNI_ERR_SCHEMA_INVALID_EVENT', step: 'validate' }, 2)
    metrics.deadLetters.inc({ code: 'OMNI_ERR_SCHEMA_UNKNOWN_ID', step: 'decode' })
    withMetrics = await testApiServer(store, { metrics: metrics.registry })
    apiOnly = await testApiServer(store)
  })

  afterAll(async () => {
    await withMetrics?.close()
    await apiOnly?.close()
    await store?.close()
  })

  const health = async (app: FastifyInstance, query: string) => {
    const response = await app.inject({ url: `/v1/health/pipeline?${query}`, headers: asReader })
    expect(response.statusCode, response.body).toBe(200)
    return response.json<Record<string, unknown>>()
  }

  it('totals the ledger per topic and loads per minute, and reads lag and dead letters from the metrics', async () => {
    expect(await health(withMetrics, range)).toEqual({
      from: '2026-05-01T10:00:00.000Z',
      to: '2026-05-01T11:00:00.000Z',
      topics: expectedTopics,
      // Partition 1's batch counts once, in the minute of its newer row.
      ingest: [
        { minute: '2026-05-01T10:00:00.000Z', loaded: 147 },
        { minute: '2026-05-01T10:01:00.000Z', loaded: 9 },
        { minute: '2026-05-01T10:03:00.000Z', loaded: 80 },
      ],
      lag: [
        { topic: touchpoints, partition: 0, records: 12 },
        { topic: touchpoints, partition: 1, records: 7 },
      ],
      dead_letters: [
        { code: 'OMNI_ERR_SCHEMA_INVALID_EVENT', step: 'validate', records: 2 },
        { code: 'OMNI_ERR_SCHEMA_UNKNOWN_ID', step: 'decode', records: 1 },
      ],
    })
  })

  it('answers null lag and dead letters, saying why, in a process without the consumer', async () => {
    const body = await health(apiOnly, range)
    expect(body).toMatchObject({ topics: expectedTopics, lag: null, dead_letters: null, note: noConsumerMetricsNote })
    expect(body['ingest']).toHaveLength(3)
  })

  it('looks at the last 24 hours by default, or the 24 hours before `to`', async () => {
    const before = Date.now()
    const body = await health(withMetrics, '')
    expect(Date.parse(body['to'] as string)).toBeGreaterThanOrEqual(before)
    expect(Date.parse(body['to'] as string) - Date.parse(body['from'] as string)).toBe(24 * hour)
    expect(body['topics']).toEqual([
      {
        topic: touchpoints,
        batches: 1,
        received: 5,
        loaded: 5,
        dead_lettered: 0,
        dropped: 0,
        last_recorded_at: new Date(recentAt).toISOString(),
      },
    ])
    expect(body['ingest']).toEqual([{ minute: new Date(recentAt - (recentAt % 60_000)).toISOString(), loaded: 5 }])

    const dayBefore = await health(withMetrics, 'to=2026-05-02T10:00:00Z')
    expect([dayBefore['from'], dayBefore['to']]).toEqual(['2026-05-01T10:00:00.000Z', '2026-05-02T10:00:00.000Z'])
    expect((dayBefore['topics'] as LedgerTopic[]).map((topic) => [topic.topic, topic.batches])).toEqual([
      [adCosts, 1],
      [touchpoints, 4],
    ])
  })

  it('gives the topic rows as JSON, CSV and an Arrow stream alike, by parameter or Accept header', async () => {
    const url = `/v1/health/pipeline?${range}`
    await expectRowsAsCsvAndArrow(withMetrics, url, ledgerTopicColumns, expectedTopics)
    await expectRowsAsCsvAndArrow(apiOnly, url, ledgerTopicColumns, expectedTopics)
  })

  it('refuses a bad parameter with 400, naming it, and a request without a key with 401', async () => {
    for (const [query, text] of [
      ['from=an-hour-ago', /"from" must match format "date-time"/],
      ['format=xml', /"format" must be equal to one of the allowed values/],
      ['to=2026-05-01T00:00:00Z&from=2026-05-02T00:00:00Z', /"from" must be before "to"/],
      ['topic=omni.touchpoints', /"topic" is not accepted here/],
    ] as const) {
      const response = await withMetrics.inject({ url: `/v1/health/pipeline?${query}`, headers: asReader })
      expect(response.statusCode, query).toBe(400)
      const error = response.json<{ error: { code: string; message: string } }>().error
      expect(error.code, query).toBe('OMNI_ERR_API_BAD_PARAMETER')
      expect(error.message, query).toMatch(text)
    }
    expect((await apiOnly.inject({ url: `/v1/health/pipeline?${range}` })).statusCode).toBe(401)
  })
})
