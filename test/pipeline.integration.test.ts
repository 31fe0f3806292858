import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Partitioners, type Admin, type Kafka } from 'kafkajs'
import { defaultIdentityRules, personOfIdentifiers, resolveIdentities } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { createTouchpointLoader, type TouchpointLoader } from '../consumers/touchpoint-loader.ts'
import { createDemoTouchpointGenerator } from '../producers/demo-traffic.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { createTouchpointProducer, type TouchpointProducer } from '../producers/touchpoint-producer.ts'
import { buildApiServer } from '../queries/api-server.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { ensureTopics } from '../runtime/kafka-client.ts'
import { frame } from '../schemas/confluent-wire-format.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { identifiersOf, type CapturedEvent } from '../schemas/capture-events.ts'
import {
  asReader,
  openTestStore,
  testApiKeys,
  testHasher,
  testKafka,
  testLogger,
  uniqueName,
  waitFor,
} from './helpers.ts'

const eventCount = 1000
const registry = createEmbeddedSchemaRegistry()

describe('a touchpoint travels through Kafka into ClickHouse and out of the API', () => {
  let kafka: Kafka
  let admin: Admin
  let store: Store
  let producer: TouchpointProducer
  const topic = uniqueName('touchpoints')
  const deadLetterTopic = `${topic}.dlq`
  const groupId = uniqueName('loader')
  const start = Date.parse('2026-03-01T00:00:00Z')
  let clock = start
  const demo = createDemoTouchpointGenerator({
    hasher: createIdentifierHasher('test-secret-0123456789'),
    seed: 42,
    people: 150,
    now: () => (clock += 60_000),
  })
  const events: CapturedEvent[] = []
  while (events.length < eventCount) {
    const next = demo()
    if (next.family !== 'ad-cost') events.push(next)
  }
  const adCostTopic = `${topic}.costs`

  const newLoader = () =>
    createTouchpointLoader({ kafka, topic, adCostTopic, deadLetterTopic, groupId, registry, store, logger: testLogger })

  const countRows = async (): Promise<number> => {
    const rows = await queryRows<{ n: number }>(
      store,
      'SELECT count() AS n FROM {database:Identifier}.touchpoints FINAL',
    )
    return rows[0]?.n ?? 0
  }

  /** Committed offsets of the loader's group, summed over partitions, against the topic's end offsets. */
  // Over every topic the loader reads: with the touchpoints' topic alone, a test that sends only ad costs found the
  // loader caught up at once and stopped it before the costs were loaded (seen in CI).
  const lag = async (): Promise<number> => {
    let total = 0
    for (const name of [topic, adCostTopic]) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [name] })
      const ends = await admin.fetchTopicOffsets(name)
      total += ends.reduce((sum, end) => {
        const done = committed?.partitions.find((entry) => entry.partition === end.partition)?.offset ?? '-1'
        return sum + Number(end.high) - Math.max(0, Number(done))
      }, 0)
    }
    return total
  }

  const runLoaderUntilCaughtUp = async (): Promise<TouchpointLoader> => {
    const loader = newLoader()
    await loader.start()
    await loader.joined
    await waitFor(lag, (value) => value === 0, { what: 'the loader to commit every offset' })
    return loader
  }

  beforeAll(async () => {
    kafka = testKafka()
    admin = kafka.admin()
    await admin.connect()
    await ensureTopics(kafka, [
      { topic, partitions: 3 },
      { topic: deadLetterTopic, partitions: 1 },
      { topic: adCostTopic, partitions: 1 },
    ])
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    producer = createTouchpointProducer({ kafka, topic, adCostTopic, registry, logger: testLogger })
    await producer.connect()
  })

  afterAll(async () => {
    await producer?.disconnect()
    await admin?.disconnect()
    await store?.close()
  })

  it('loads 1,000 produced events exactly once, and the API counts them per channel', async () => {
    await producer.send(events)
    const loader = newLoader()
    await loader.start()
    await waitFor(countRows, (n) => n >= eventCount, { what: `${eventCount} rows in ClickHouse` })
    await waitFor(lag, (value) => value === 0, { what: 'offsets committed after the insert' })
    await loader.stop()
    expect(await countRows()).toBe(eventCount)

    // Persons as the pure identity graph resolves these events; an event without usable identifiers is nobody's.
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    const touchpoints = events.filter((item) => item.family !== 'ad-cost')
    const resolution = resolveIdentities(
      touchpoints.flatMap((item) => {
        const identifiers = identifiersOf(item)
        return identifiers === undefined
          ? []
          : [{ event_id: item.value.event_id, event_time: item.value.event_time, identifiers }]
      }),
    )
    const expected = new Map<string, { events: number; persons: Set<string> }>()
    for (const item of touchpoints) {
      const entry = expected.get(item.value.channel) ?? { events: 0, persons: new Set<string>() }
      entry.events += 1
      const identifiers = identifiersOf(item)
      const person = identifiers === undefined ? undefined : personOfIdentifiers(identifiers, resolution)
      if (person !== undefined) entry.persons.add(person)
      expected.set(item.value.channel, entry)
    }

    const api = await buildApiServer({
      store,
      logger: testLogger,
      checkKafka: async () => undefined,
      apiKeys: testApiKeys,
      hasher: testHasher,
    })
    const response = await api.inject({
      method: 'GET',
      url: '/v1/stats/channels',
      query: { from: '2026-01-01T00:00:00Z', to: '2026-12-31T00:00:00Z' },
      headers: asReader,
    })
    await api.close()
    expect(response.statusCode).toBe(200)
    const body = response.json<{ channels: { channel: string; events: number; persons: number }[] }>()
    const actual = new Map(body.channels.map((row) => [row.channel, row]))
    expect(body.channels.reduce((sum, row) => sum + row.events, 0)).toBe(eventCount)
    expect(actual.size).toBe(expected.size)
    for (const [channel, entry] of expected) {
      expect(actual.get(channel), channel).toEqual({ channel, events: entry.events, persons: entry.persons.size })
    }
  })

  it('still has exactly 1,000 after the loader stops and restarts', async () => {
    const loader = await runLoaderUntilCaughtUp()
    expect(loader.stats.rowsInserted).toBe(0)
    await loader.stop()
    expect(await countRows()).toBe(eventCount)
  })

  it('still has exactly 1,000 when every batch is delivered again, as after a crash before the commit', async () => {
    await admin.resetOffsets({ groupId, topic, earliest: true })
    const loader = await runLoaderUntilCaughtUp()
    expect(loader.stats.rowsInserted).toBe(eventCount)
    await loader.stop()
    expect(await countRows()).toBe(eventCount)
  })

  it('still has exactly 1,000 when a client sends the same events again', async () => {
    await producer.send(events.slice(0, 250))
    const loader = await runLoaderUntilCaughtUp()
    expect(loader.stats.rowsInserted).toBe(250)
    await loader.stop()
    expect(await countRows()).toBe(eventCount)
  })

  it('sends records it cannot read to the dead-letter topic with the reason, and loads the rest', async () => {
    const badProducer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await badProducer.connect()
    const first = events.find((item) => item.family === 'digital')
    if (first?.family !== 'digital') throw new Error('the demo made no digital event')
    const valid = { ...first.value, event_id: '00000000-0000-4000-8000-000000000001' }
    const writer = await registry.writerFor('digital')
    await badProducer.send({
      topic,
      messages: [
        { key: 'not-avro', value: Buffer.from('{"channel":"web"}') },
        { key: 'unknown-schema', value: frame(999, Buffer.from([0])) },
        { key: 'valid', value: frame(writer.id, writer.type.toBuffer(valid)) },
        // Schema-valid, but it happened three days after it was received: a clock that is wrong, not a touchpoint.
        {
          key: 'impossible',
          value: frame(
            writer.id,
            writer.type.toBuffer({
              ...valid,
              event_id: '00000000-0000-4000-8000-000000000002',
              event_time: valid.received_at + 3 * 86_400_000,
            }),
          ),
        },
      ],
    })
    await badProducer.disconnect()

    const loader = await runLoaderUntilCaughtUp()
    await loader.stop()
    expect(loader.stats.deadLettered).toBe(3)
    expect(await countRows()).toBe(eventCount + 1)

    const dead: { key: string; value: Buffer | null; headers: Record<string, string> }[] = []
    const reader = kafka.consumer({ groupId: uniqueName('dlq-reader') })
    await reader.connect()
    await reader.subscribe({ topic: deadLetterTopic, fromBeginning: true })
    await reader.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]),
        )
        dead.push({ key: String(message.key), value: message.value, headers })
      },
    })
    await waitFor(
      async () => dead.length,
      (n) => n >= 3,
      { what: 'three dead letters' },
    )
    await reader.disconnect()

    const notAvro = dead.find((record) => record.key === 'not-avro')
    expect(notAvro?.value?.toString()).toBe('{"channel":"web"}')
    expect(notAvro?.headers).toMatchObject({
      'omnistitch.error-code': 'OMNI_ERR_SCHEMA_WIRE_FORMAT',
      'omnistitch.step': 'decode',
      'omnistitch.source-topic': topic,
    })
    expect(notAvro?.headers['omnistitch.reason']).toMatch(/magic byte 0/)
    expect(notAvro?.headers['omnistitch.source-offset']).toMatch(/^\d+$/)
    const unknownSchema = dead.find((record) => record.key === 'unknown-schema')
    expect(unknownSchema?.headers['omnistitch.error-code']).toBe('OMNI_ERR_SCHEMA_UNKNOWN_ID')
    expect(unknownSchema?.headers['omnistitch.reason']).toMatch(/schema id 999/)
    const impossible = dead.find((record) => record.key === 'impossible')
    expect(impossible?.headers).toMatchObject({
      'omnistitch.error-code': 'OMNI_ERR_EVENT_IMPOSSIBLE',
      'omnistitch.step': 'validate',
      'omnistitch.schema-id': String(writer.id),
    })
    expect(impossible?.headers['omnistitch.reason']).toMatch(
      /^Impossible digital event: event_time: expected no later than a day after received_at/,
    )
  })

  it('loads ad costs into their own table, where a corrected figure replaces the earlier one', async () => {
    const day = Math.floor(Date.parse('2026-03-01T00:00:00Z') / 86_400_000)
    const cost = (campaign: string, spend: number, receivedAt: number): CapturedEvent => ({
      family: 'ad-cost',
      value: {
        cost_id: `yandex_direct:${campaign}:${day}`,
        date: day,
        channel: 'ads',
        source: 'yandex_direct',
        medium: 'cpc',
        campaign,
        campaign_id: null,
        spend_minor: spend,
        currency: 'RUB',
        impressions: 1000,
        clicks: 40,
        received_at: receivedAt,
      },
    })
    await producer.send([cost('autumn', 100_00, 1), cost('spring', 50_00, 1)])
    await producer.send([cost('autumn', 120_00, 2)])
    const loader = await runLoaderUntilCaughtUp()
    await loader.stop()
    const rows = await queryRows<{ campaign: string; spend: string }>(
      store,
      'SELECT campaign, toString(spend) AS spend FROM {database:Identifier}.ad_costs FINAL ORDER BY campaign',
    )
    expect(rows).toEqual([
      { campaign: 'autumn', spend: '120' },
      { campaign: 'spring', spend: '50' },
    ])
  })
})
