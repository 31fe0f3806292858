import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Kafka } from 'kafkajs'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { recordSplit, runIdentityResolution } from '../consumers/identity-resolver.ts'
import { createTouchpointLoader, type TouchpointLoader } from '../consumers/touchpoint-loader.ts'
import { createTouchpointProducer, type TouchpointProducer } from '../producers/touchpoint-producer.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { createPipelineMetrics } from '../runtime/metrics.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { ensureTopics } from '../runtime/kafka-client.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { eventAt, webOrder } from './fixtures/events.ts'
import { hashFor, openTestStore, testKafka, testLogger, uniqueName, waitFor } from './helpers.ts'

const registry = createEmbeddedSchemaRegistry()
const day = 86_400_000
const minute = 60_000
const t0 = Date.parse('2026-05-01T10:00:00Z')

const touch = eventAt

// Hashes in their form (the loader refuses others), each standing for a label such as 'e-anna'.
const ids = (fields: Record<string, string>) => ({
  identifiers: Object.fromEntries(
    Object.entries(fields).map(([kind, value]) => [kind, kind.endsWith('_hash') ? hashFor(value) : value]),
  ),
})
const order = (at: number, type: string, amount: number, extra: Record<string, unknown> = {}) =>
  touch('order', at, {
    ...webOrder,
    event_type: type,
    amount_minor: amount,
    ...ids({ customer_id: 'C-anna', email_hash: 'e-anna', order_id: 'O-1' }),
    ...extra,
  })

/**
 * Anna browses anonymously with a cookie (two sessions), clicks an e-mail (which names her e-mail next to the cookie),
 * orders online for courier delivery and refunds part of it, then buys in a store with her loyalty card and phone.
 * Her phone is on the online order too. A page view from before the store purchase arrives days late.
 */
const anna = {
  ancient: touch('digital', t0 - 40 * day, {
    channel: 'web',
    event_type: 'page_view',
    ...ids({ anonymous_id: 'ck-anna' }),
  }),
  browse1: touch('digital', t0, { channel: 'web', event_type: 'page_view', ...ids({ anonymous_id: 'ck-anna' }) }),
  browse2: touch('digital', t0 + 10 * minute, {
    channel: 'web',
    event_type: 'product_view',
    ...ids({ anonymous_id: 'ck-anna' }),
  }),
  browse3: touch('digital', t0 + 60 * minute, {
    channel: 'web',
    event_type: 'page_view',
    ...ids({ anonymous_id: 'ck-anna' }),
  }),
  email: touch('messaging', t0 + day, {
    channel: 'email',
    event_type: 'clicked',
    source: 'esp',
    ...ids({ email_hash: 'e-anna' }),
  }),
  landing: touch('digital', t0 + day + 2 * minute, {
    channel: 'web',
    event_type: 'page_view',
    ...ids({ anonymous_id: 'ck-anna', email_hash: 'e-anna' }),
  }),
  created: order(t0 + day + 20 * minute, 'order_created', 500_000, {
    ...ids({ customer_id: 'C-anna', email_hash: 'e-anna', phone_hash: 'p-anna', order_id: 'O-1' }),
  }),
  paid: order(t0 + day + 21 * minute, 'order_paid', 500_000),
  refunded: order(t0 + 4 * day, 'order_refunded', 120_000),
  sms: touch('messaging', t0 + 10 * day, {
    channel: 'sms',
    event_type: 'delivered',
    source: 'sms-gateway',
    ...ids({ phone_hash: 'p-anna' }),
  }),
  receipt: touch('receipt', t0 + 12 * day, {
    channel: 'store',
    event_type: 'pos_receipt',
    source: 'pos',
    store_id: 'S-1',
    receipt_number: 'R-100',
    total_minor: 250_000,
    currency: 'RUB',
    items: [],
    payment_method: 'card',
    ...ids({ loyalty_card: '2770000000001', phone_hash: 'p-anna' }),
  }),
  cardOnly: touch('receipt', t0 + 20 * day, {
    channel: 'store',
    event_type: 'pos_receipt',
    source: 'pos',
    store_id: 'S-1',
    receipt_number: 'R-200',
    total_minor: 90_000,
    currency: 'RUB',
    items: [],
    payment_method: 'card',
    ...ids({ loyalty_card: '2770000000001' }),
  }),
  late: touch(
    'digital',
    t0 + 11 * day,
    { channel: 'web', event_type: 'page_view', ...ids({ anonymous_id: 'ck-anna' }) },
    t0 + 15 * day,
  ),
}

describe('journeys and identity on a known story, through the real broker into ClickHouse', () => {
  let kafka: Kafka
  let store: Store
  let producer: TouchpointProducer
  let loader: TouchpointLoader
  const topic = uniqueName('story')
  const rules = defaultIdentityRules
  const metrics = createPipelineMetrics({ defaultMetrics: false })

  const rowsLoaded = async () =>
    (await queryRows<{ n: number }>(store, 'SELECT count() AS n FROM {database:Identifier}.touchpoints FINAL'))[0]?.n
  const send = async (events: CapturedEvent[], expected: number) => {
    await producer.send(events)
    await waitFor(rowsLoaded, (n) => n === expected, { what: `${expected} rows` })
    await runIdentityResolution(store, { rules, logger: testLogger })
  }
  const journeyOf = async (eventId: string) =>
    (
      await queryRows<{ journey_id: string; journey_seq: number; session_id: string; in_lookback: number }>(
        store,
        `SELECT journey_id, journey_seq, session_id, in_lookback FROM {database:Identifier}.journey_touchpoints
         WHERE event_id = {id:UUID}`,
        { id: eventId },
      )
    )[0]
  const personOf = async (eventId: string) =>
    (
      await queryRows<{ person_id: string }>(
        store,
        'SELECT person_id FROM {database:Identifier}.touchpoints_resolved WHERE event_id = {id:UUID}',
        { id: eventId },
      )
    )[0]?.person_id

  beforeAll(async () => {
    kafka = testKafka()
    await ensureTopics(kafka, [
      { topic, partitions: 2 },
      { topic: `${topic}.costs`, partitions: 1 },
      { topic: `${topic}.dlq`, partitions: 1 },
    ])
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    producer = createTouchpointProducer({
      kafka,
      topic,
      adCostTopic: `${topic}.costs`,
      registry,
      logger: testLogger,
    })
    await producer.connect()
    loader = createTouchpointLoader({
      kafka,
      topic,
      adCostTopic: `${topic}.costs`,
      deadLetterTopic: `${topic}.dlq`,
      groupId: uniqueName('story'),
      registry,
      store,
      logger: testLogger,
      metrics,
    })
    await loader.start()
    // Everything but the late page view, first.
    const onTime = Object.values(anna).filter((each) => each !== anna.late)
    await send(onTime, onTime.length)
  }, 120_000)

  afterAll(async () => {
    await loader?.stop()
    await producer?.disconnect()
    await store?.close()
  })

  it('re-keys the anonymous history once an identifier links the cookie to a person', async () => {
    const person = await personOf(anna.created.value.event_id)
    expect(person).toMatch(/^pers_/)
    for (const earlier of [anna.browse1, anna.browse2, anna.browse3, anna.email, anna.sms, anna.receipt]) {
      expect(await personOf(earlier.value.event_id)).toBe(person)
    }
    const [audit] = await queryRows<{ event_id: string }>(
      store,
      `SELECT event_id FROM {database:Identifier}.identity_audit
       WHERE identifier = 'anonymous_id:ck-anna' AND action = 'link'`,
    )
    // The audit names the event that linked the cookie: the landing page of the e-mail click.
    expect(audit?.event_id).toBe(anna.landing.value.event_id)
  })

  it('cuts sessions after 30 minutes of inactivity on digital channels, and gives every other touch its own', async () => {
    const [first, second, third] = await Promise.all(
      [anna.browse1, anna.browse2, anna.browse3].map((each) => journeyOf(each.value.event_id)),
    )
    expect(second?.session_id).toBe(first?.session_id)
    expect(third?.session_id).not.toBe(first?.session_id)
    const email = await journeyOf(anna.email.value.event_id)
    const sms = await journeyOf(anna.sms.value.event_id)
    expect(email?.session_id).not.toBe(sms?.session_id)
  })

  it('ends journeys at conversions, keeps fulfilment out of the path, and nets refunds out of revenue', async () => {
    const journeys = await queryRows<{
      journey_id: string
      converted: number
      path: string[]
      revenue: string
      placed_channel: string
      fulfilled_channel: string
    }>(
      store,
      `SELECT journey_id, converted, path, toString(revenue) AS revenue, placed_channel, fulfilled_channel
       FROM {database:Identifier}.journeys ORDER BY started_at`,
    )
    expect(journeys.map((journey) => [journey.converted, journey.path, journey.revenue])).toEqual([
      [1, ['web', 'web', 'web', 'email', 'web', 'web'], '3800'],
      [1, ['sms', 'store'], '2500'],
      [1, ['store'], '900'],
    ])
    expect(journeys[0]).toMatchObject({ placed_channel: 'web', fulfilled_channel: 'courier' })
    expect(journeys[1]).toMatchObject({ placed_channel: 'store', fulfilled_channel: 'store' })
    expect(await journeyOf(anna.paid.value.event_id)).toBeUndefined()
    // A touch 40 days before the conversion is in the journey's rows but outside its 30-day lookback and path.
    const ancient = await journeyOf(anna.ancient.value.event_id)
    const first = await journeyOf(anna.browse1.value.event_id)
    expect(ancient).toMatchObject({ journey_id: first?.journey_id, in_lookback: 0 })
    expect(first?.in_lookback).toBe(1)
  })

  it('puts a late event into the journey it belongs to, not the newest one', async () => {
    await send([anna.late], Object.keys(anna).length)
    const late = await journeyOf(anna.late.value.event_id)
    const receipt = await journeyOf(anna.receipt.value.event_id)
    expect(late?.journey_id).toBe(receipt?.journey_id)
    const [journey] = await queryRows<{ path: string[] }>(
      store,
      'SELECT path FROM {database:Identifier}.journeys WHERE journey_id = {id:String}',
      { id: receipt?.journey_id ?? '' },
    )
    expect(journey?.path).toEqual(['sms', 'web', 'store'])
  })

  it('splits a merge an operator disputes, moving the events back, and undoes the split', async () => {
    const anna_ = await personOf(anna.created.value.event_id)
    expect(await personOf(anna.cardOnly.value.event_id)).toBe(anna_)
    await recordSplit(store, 'loyalty_card:2770000000001', true, 'card given to a relative')
    await runIdentityResolution(store, { rules, logger: testLogger })
    const cardPerson = await personOf(anna.cardOnly.value.event_id)
    expect(cardPerson).not.toBe(anna_)
    // The receipt that also carries her phone stays hers.
    expect(await personOf(anna.receipt.value.event_id)).toBe(anna_)
    const moves = await queryRows<{ action: string; previous_person_id: string }>(
      store,
      `SELECT action, previous_person_id FROM {database:Identifier}.identity_audit
       WHERE identifier = 'loyalty_card:2770000000001' ORDER BY version, action`,
    )
    expect(moves.map((row) => row.action)).toEqual(expect.arrayContaining(['split']))
    expect(moves.some((row) => row.previous_person_id === anna_)).toBe(true)

    await recordSplit(store, 'loyalty_card:2770000000001', false, 'checked: it is hers')
    await runIdentityResolution(store, { rules, logger: testLogger })
    expect(await personOf(anna.cardOnly.value.event_id)).toBe(anna_)
  })

  it('never merges two customer ids, and records the conflict', async () => {
    const conflicting = touch('digital', t0 + 30 * day, {
      channel: 'app',
      event_type: 'screen_view',
      ...ids({ customer_id: 'C-other', anonymous_id: 'ck-other' }),
    })
    const bridge = order(t0 + 31 * day, 'order_created', 1000, {
      ...ids({ customer_id: 'C-other', email_hash: 'e-anna', order_id: 'O-9' }),
    })
    await send([conflicting, bridge], Object.keys(anna).length + 2)
    expect(await personOf(conflicting.value.event_id)).not.toBe(await personOf(anna.created.value.event_id))
    const [conflict] = await queryRows<{ identifier: string; event_id: string }>(
      store,
      "SELECT identifier, event_id FROM {database:Identifier}.identity_audit WHERE action = 'conflict'",
    )
    expect(conflict).toEqual({ identifier: 'customer_id:C-anna customer_id:C-other', event_id: bridge.value.event_id })
  })

  it('counts what it did in Prometheus metrics', async () => {
    const text = await metrics.registry.metrics()
    const loaded = new RegExp(`omnistitch_consumer_records_total\\{topic="${topic}",outcome="loaded"\\} (\\d+)`)
    expect(Number(loaded.exec(text)?.[1])).toBe(Object.keys(anna).length + 2)
    expect(text).toMatch(new RegExp(`omnistitch_consumer_lag_records\\{topic="${topic}",partition="\\d"\\} 0`))
    expect(text).toMatch(/omnistitch_clickhouse_insert_seconds_count\{table="touchpoints"\} [1-9]/)
  })
})
