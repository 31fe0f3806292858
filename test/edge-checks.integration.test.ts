import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import type { Admin, Kafka } from 'kafkajs'
import { createTouchpointLoader } from '../consumers/touchpoint-loader.ts'
import { buildCollectorServer, maxJsonDepth, type ItemResult } from '../producers/collector-server.ts'
import { createTouchpointProducer, type TouchpointProducer } from '../producers/touchpoint-producer.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { ensureTopics } from '../runtime/kafka-client.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry, decodeEvent } from '../schemas/schema-registry.ts'
import { storeEvents, testApiServer } from './api-fixture.ts'
import { event } from './fixtures/events.ts'
import { asReader, openTestStore, testHasher, testKafka, testLogger, uniqueName, waitFor } from './helpers.ts'

const registry = createEmbeddedSchemaRegistry()
const writeKey = 'site-write-key-0123456789'
const asSite = { authorization: `Bearer ${writeKey}` }

interface CollectBody {
  accepted: number
  rejected: number
  results: ItemResult[]
  error?: { code: string; message: string }
}

/** Every name a plain object answers to without owning it: what `keys[name]` let through. */
const inheritedNames = Object.getOwnPropertyNames(Object.prototype)

/**
 * Events the edge must refuse and the loader must dead-letter, each with the field the reason names. `fields` are
 * the event's own; a test sends them to the collector as JSON, and produces them to Kafka as complete records past
 * the edge, the way a producer of its own would.
 */
const refused: { what: string; fields: Record<string, unknown>; field: string; past?: (at: number) => number }[] = [
  { what: 'an e-mail hash that is no hash', fields: { identifiers: { email_hash: 'abc123' } }, field: 'email_hash' },
  {
    what: 'a phone number as the customer id',
    fields: { identifiers: { customer_id: '+7 916 123-45-67' } },
    field: 'identifiers.customer_id',
  },
  {
    what: 'an e-mail address in a page address',
    fields: { page_url: 'https://shop.example.ru/thanks?email=anna%40example.ru' },
    field: 'page_url',
  },
  {
    what: 'a phone number in a campaign name',
    fields: { utm: { source: 'vk', campaign: 'call 8 (916) 123-45-67' } },
    field: 'utm.campaign',
  },
  { what: 'a negative value', fields: { value_minor: -5 }, field: 'value_minor' },
  { what: 'a time before 2000', fields: { event_time: Date.parse('1999-12-31T00:00:00Z') }, field: 'event_time' },
  { what: 'a time days ahead', fields: {}, field: 'event_time', past: (at) => at + 3 * 86_400_000 },
]

describe('the capture edge and the loader check events alike, and keys are own entries only', () => {
  let kafka: Kafka
  let admin: Admin
  let store: Store
  let producer: TouchpointProducer
  let collector: FastifyInstance
  let api: FastifyInstance
  const topic = uniqueName('edge')
  const adCostTopic = `${topic}.costs`
  const deadLetterTopic = `${topic}.dlq`

  beforeAll(async () => {
    kafka = testKafka()
    admin = kafka.admin()
    await admin.connect()
    await ensureTopics(kafka, [
      { topic, partitions: 1 },
      { topic: adCostTopic, partitions: 1 },
      { topic: deadLetterTopic, partitions: 1 },
    ])
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    producer = createTouchpointProducer({ kafka, topic, adCostTopic, registry, logger: testLogger })
    await producer.connect()
    collector = await buildCollectorServer({
      producer,
      registry,
      hasher: testHasher,
      writeKeys: { [writeKey]: 'site' },
      rateLimitPerMinute: 100_000,
      maxBodyBytes: 1024 * 1024,
      logger: testLogger,
    })
    await collector.ready()
    await storeEvents(store, [event('digital', { event_id: '00000000-0000-4000-8000-0000000000aa' })])
    api = await testApiServer(store)
  })

  afterAll(async () => {
    await collector?.close()
    await api?.close()
    await producer?.disconnect()
    await admin?.disconnect()
    await store?.close()
  })

  const loaderOf = (from: string) =>
    createTouchpointLoader({
      kafka,
      topic: from,
      adCostTopic,
      deadLetterTopic,
      groupId: uniqueName('edge-loader'),
      registry,
      store,
      logger: testLogger,
    })

  const collect = (payload: unknown, headers: Record<string, string> = asSite) =>
    collector.inject({ method: 'POST', url: '/v1/collect', headers, payload: payload as object })

  it('takes no name of an Object.prototype property for a write key or an API key', async () => {
    const body = { channel: 'web', event_type: 'page_view', identifiers: { anonymous_id: 'cookie-x' } }
    const webhook = { event: 'opened', message_id: 'x1', email: 'v@example.ru' }
    for (const name of inheritedNames) {
      const presented: Record<string, string>[] = [
        { authorization: `Bearer ${name}` },
        { authorization: `Basic ${Buffer.from(`${name}:`).toString('base64')}` },
        { 'x-omnistitch-write-key': name },
      ]
      for (const headers of presented) {
        const answer = await collect(body, headers)
        expect(answer.statusCode, `collect with ${JSON.stringify(headers)}`).toBe(401)
        const hook = await collector.inject({
          method: 'POST',
          url: '/v1/webhooks/email-service',
          headers,
          payload: webhook,
        })
        expect(hook.statusCode, `webhook with ${JSON.stringify(headers)}`).toBe(401)
      }
    }
    const document = api.swagger() as { paths: Record<string, Record<string, unknown>> }
    const routes = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), url: path.replace(/\{[^}]+\}/g, 'x') })),
    )
    // The routes that want a key: those that refuse a request without one.
    const guarded = []
    for (const route of routes) {
      const answer = await api.inject({ method: route.method as 'GET', url: route.url })
      if (answer.statusCode === 401) guarded.push(route)
    }
    expect(guarded.length).toBeGreaterThan(10)
    for (const name of inheritedNames) {
      for (const route of guarded) {
        const answer = await api.inject({
          method: route.method as 'GET',
          url: route.url,
          headers: { authorization: `Bearer ${name}` },
        })
        expect(answer.statusCode, `${route.method} ${route.url} with Bearer ${name}`).toBe(401)
      }
    }
  })

  it('takes no name of an Object.prototype property for a kind of identifier in a person lookup', async () => {
    for (const name of inheritedNames) {
      const answer = await api.inject({
        method: 'GET',
        url: `/v1/persons/${encodeURIComponent(name)}:x`,
        headers: asReader,
      })
      expect(answer.statusCode, name).toBe(400)
      expect(answer.json<{ error: { message: string } }>().error.message, name).toContain('expected kind:value')
    }
  })

  it('hashes a raw e-mail or phone sent as a hash, and refuses what is neither', async () => {
    const answer = await collect([
      { channel: 'web', event_type: 'page_view', identifiers: { email_hash: ' Raw@Example.RU ' } },
      { channel: 'web', event_type: 'page_view', identifiers: { phone_hash: '8 (916) 123-45-67' } },
      { channel: 'web', event_type: 'page_view', identifiers: { phone_hash: 'anna@example.ru' } },
      { channel: 'web', event_type: 'page_view', identifiers: { email_hash: 'A'.repeat(64) } },
      { channel: 'web', event_type: 'page_view', identifiers: { phone_hash: 'not a phone' } },
    ])
    expect(answer.statusCode).toBe(202)
    const body = answer.json<CollectBody>()
    expect(body.results.map((result) => result.status)).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'rejected',
    ])
    expect(body.results[4]).toMatchObject({ errors: [{ field: 'identifiers.phone_hash' }] })
    expect(JSON.stringify(body.results[4])).not.toContain('not a phone')
    const ids = body.results.slice(0, 4).map((result) => (result.status === 'accepted' ? result.event_id : ''))
    const loader = loaderOf(topic)
    await loader.start()
    const rows = await waitFor(
      () =>
        queryRows<{ event_id: string; email_hash: string; phone_hash: string }>(
          store,
          'SELECT toString(event_id) AS event_id, email_hash, phone_hash FROM {database:Identifier}.touchpoints FINAL WHERE toString(event_id) IN {ids:Array(String)}',
          { ids },
        ),
      (found) => found.length === 4,
      { what: 'the four accepted events to be loaded', timeoutMs: 20_000 },
    )
    await loader.stop()
    const byId = new Map(rows.map((row) => [row.event_id, row]))
    expect(byId.get(ids[0] as string)?.email_hash).toBe(testHasher.email('raw@example.ru'))
    expect(byId.get(ids[1] as string)?.phone_hash).toBe(testHasher.phone('79161234567'))
    // An address sent in the phone's field is an address: hashed as one, into its own field.
    expect(byId.get(ids[2] as string)).toMatchObject({
      email_hash: testHasher.email('anna@example.ru'),
      phone_hash: '',
    })
    expect(byId.get(ids[3] as string)?.email_hash).toBe('a'.repeat(64))
  })

  it('refuses at the edge, in its answer, every event the loader dead-letters, and the loader dead-letters them when produced past the edge', async () => {
    const now = Date.now()
    const direct: CapturedEvent[] = []
    for (const [index, item] of refused.entries()) {
      const time = item.past?.(now) ?? (item.fields['event_time'] as number | undefined) ?? now - 60_000
      const answer = await collect({ channel: 'web', event_type: 'page_view', ...item.fields, event_time: time })
      expect(answer.statusCode, item.what).toBe(400)
      const body = answer.json<CollectBody>()
      expect(body, item.what).toMatchObject({
        accepted: 0,
        rejected: 1,
        error: { code: 'OMNI_ERR_COLLECT_BAD_REQUEST' },
      })
      const result = body.results[0]
      expect(result?.status === 'rejected' && result.errors[0]?.field, item.what).toContain(item.field)
      direct.push(
        event('digital', {
          identifiers: { anonymous_id: 'cookie-direct' },
          ...item.fields,
          event_id: `00000000-0000-4000-8000-${String(index + 1).padStart(12, '0')}`,
          event_time:
            item.past?.(Date.parse('2026-05-10T12:00:01Z')) ??
            item.fields['event_time'] ??
            Date.parse('2026-05-10T12:00:00Z'),
        }),
      )
    }
    const control = event('digital', {
      event_id: '00000000-0000-4000-8000-0000000000cc',
      identifiers: { anonymous_id: '6f1c2d3e-8912-4345-9789-0123456789ab', loyalty_card: '2770123456789' },
      page_url: 'https://shop.example.ru/catalog/2770123456789-sneakers?size=42',
    })
    const fine = await collect({
      channel: 'web',
      event_type: 'page_view',
      identifiers: control.value.identifiers,
      page_url: control.value.page_url,
    })
    expect(fine.statusCode, fine.body).toBe(202)

    const directTopic = uniqueName('direct')
    await ensureTopics(kafka, [{ topic: directTopic, partitions: 1 }])
    const directProducer = createTouchpointProducer({
      kafka,
      topic: directTopic,
      adCostTopic,
      registry,
      logger: testLogger,
    })
    await directProducer.connect()
    await directProducer.send([...direct, control])
    await directProducer.disconnect()
    const loader = loaderOf(directTopic)
    await loader.start()
    await waitFor(
      async () => loader.stats.deadLettered + loader.stats.rowsInserted,
      (n) => n >= direct.length + 1,
      { what: 'every direct record to be loaded or dead-lettered' },
    )
    await loader.stop()
    expect(loader.stats.deadLettered).toBe(direct.length)

    const reasons = new Map<string, { code: string; reason: string }>()
    const reader = kafka.consumer({ groupId: uniqueName('dlq-reader') })
    await reader.connect()
    await reader.subscribe({ topic: deadLetterTopic, fromBeginning: true })
    await reader.run({
      eachMessage: async ({ message }) => {
        if (message.value === null) return
        const decoded = await decodeEvent(registry, message.value)
        const id = decoded.event.family === 'ad-cost' ? '' : decoded.event.value.event_id
        reasons.set(id, {
          code: String(message.headers?.['omnistitch.error-code']),
          reason: String(message.headers?.['omnistitch.reason']),
        })
      },
    })
    await waitFor(
      async () => direct.filter((item) => reasons.has(eventId(item))).length,
      (n) => n === direct.length,
      { what: 'the dead letters of the direct records' },
    )
    await reader.disconnect()
    for (const [index, item] of refused.entries()) {
      const dead = reasons.get(eventId(direct[index] as CapturedEvent))
      expect(dead?.reason, item.what).toContain(item.field)
      expect(dead?.code, item.what).toMatch(/^OMNI_ERR_EVENT_(IMPOSSIBLE|PERSONAL_DATA)$/)
      expect(dead?.reason, item.what).not.toMatch(/916|anna/)
    }
    const stored = await queryRows<{ n: number }>(
      store,
      'SELECT count() AS n FROM {database:Identifier}.touchpoints FINAL WHERE event_id = {id:UUID}',
      { id: control.value.event_id },
    )
    expect(stored[0]?.n).toBe(1)
  })

  it('answers 400, not 202, when every event is refused, and 202 with the results when some are', async () => {
    const bad = { channel: 'web', event_type: 'page_view', value_minor: -5 }
    const good = { channel: 'web', event_type: 'page_view', identifiers: { anonymous_id: 'cookie-mixed' } }
    const none = await collect([bad, bad])
    expect(none.statusCode).toBe(400)
    expect(none.json<CollectBody>()).toMatchObject({ accepted: 0, rejected: 2 })
    expect(none.json<CollectBody>().error?.message).toMatch(/every event was rejected.*value_minor/)
    const some = await collect({ batch: [bad, good] })
    expect(some.statusCode).toBe(202)
    expect(some.json<CollectBody>()).toMatchObject({ accepted: 1, rejected: 1 })
    expect((await collect([])).statusCode).toBe(400)
  })

  it('refuses JSON nested past its limit with 400 naming the limit, and stays up for the next request', async () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
    const answer = await collector.inject({
      method: 'POST',
      url: '/v1/collect',
      headers: { ...asSite, 'content-type': 'application/json' },
      payload: deep,
    })
    expect(answer.statusCode).toBe(400)
    expect(answer.json<CollectBody>().error).toMatchObject({ code: 'OMNI_ERR_COLLECT_TOO_DEEP' })
    expect(answer.json<CollectBody>().error?.message).toContain(`${maxJsonDepth} levels`)
    const nested = { channel: 'web', event_type: 'page_view', identifiers: { anonymous_id: 'c' }, x: {} }
    let inner: Record<string, unknown> = nested.x
    for (let level = 0; level < 40; level++) inner = inner['y'] = {}
    expect((await collect(nested)).statusCode).toBe(400)
    expect((await collect({ channel: 'web', event_type: 'page_view' })).statusCode).toBe(202)
  })

  it("records the write key's source, and refuses an event that names another", async () => {
    const own = await collect({ channel: 'web', event_type: 'page_view', source: 'site' })
    expect(own.statusCode).toBe(202)
    const other = await collect({ channel: 'web', event_type: 'page_view', source: 'pos-terminal-1' })
    expect(other.statusCode).toBe(400)
    const result = other.json<CollectBody>().results[0]
    expect(result).toMatchObject({ status: 'rejected', errors: [{ field: 'source' }] })
  })

  it('answers every malformed request to every route with a 4xx', async () => {
    const document = collector.swagger() as { paths: Record<string, unknown> }
    const urls = [...Object.keys(document.paths), '/v1/webhooks/fax-gateway', '/v1/webhooks/constructor']
    const malformed: { what: string; payload: string; type?: string }[] = [
      { what: 'broken JSON', payload: '{"channel": "web",' },
      { what: 'XML', payload: '<event/>', type: 'text/xml' },
      { what: 'an empty body', payload: '' },
      { what: 'a number', payload: '42' },
      { what: 'null', payload: 'null' },
      { what: 'numbers for events', payload: '[1, 2, 3]' },
      { what: 'a prototype key', payload: '{"__proto__": {"admin": true}, "channel": "web"}' },
      { what: 'a constructor key', payload: '{"constructor": {"prototype": {}}, "channel": "web"}' },
      { what: 'deep JSON', payload: `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}` },
      { what: 'a huge number', payload: '{"channel":"web","event_type":"page_view","event_time":1e400}' },
      { what: 'a long string', payload: JSON.stringify({ channel: 'x'.repeat(100_000) }) },
      { what: 'bad UTF-8', payload: '{"channel":"\udc00"}' },
    ]
    for (const url of urls) {
      for (const item of malformed) {
        const answer = await collector.inject({
          method: 'POST',
          url,
          headers: { ...asSite, 'content-type': item.type ?? 'application/json' },
          payload: item.payload,
        })
        expect(answer.statusCode, `${item.what} to ${url}`).toBeGreaterThanOrEqual(400)
        expect(answer.statusCode, `${item.what} to ${url}`).toBeLessThan(500)
      }
    }
    for (const url of [
      '/docs/static/../../package.json',
      '/docs/static/%2e%2e/%2e%2e/package.json',
      '/docs/json?x=%ff',
    ]) {
      const answer = await collector.inject({ method: 'GET', url })
      expect(answer.statusCode, url).toBeLessThan(500)
      expect(answer.body).not.toContain('"devDependencies"')
    }
  })
})

function eventId(item: CapturedEvent): string {
  return item.family === 'ad-cost' ? '' : item.value.event_id
}
