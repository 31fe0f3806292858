import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import type { Kafka } from 'kafkajs'
import { ensureTopics } from '../runtime/kafka-client.ts'
import { createEmbeddedSchemaRegistry, decodeEvent } from '../schemas/schema-registry.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { testKafka, testLogger, uniqueName, waitFor } from '../test/helpers.ts'
import { buildCollectorServer, type ItemResult } from './collector-server.ts'
import { createIdentifierHasher } from './identifier-hashing.ts'
import { createTouchpointProducer, type TouchpointProducer } from './touchpoint-producer.ts'

const writeKey = 'site-write-key-0123456789'
const registry = createEmbeddedSchemaRegistry()
const hasher = createIdentifierHasher('collector-test-secret-0123')

interface CollectBody {
  accepted: number
  rejected: number
  results: ItemResult[]
}

/** Reads every record of a topic from the beginning until `count` have arrived. */
async function readTopic(kafka: Kafka, topic: string, count: number): Promise<{ raw: Buffer; event: CapturedEvent }[]> {
  const records: { raw: Buffer; event: CapturedEvent }[] = []
  const consumer = kafka.consumer({ groupId: uniqueName('reader') })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value === null) return
      records.push({ raw: message.value, event: (await decodeEvent(registry, message.value)).event })
    },
  })
  await waitFor(
    async () => records.length,
    (n) => n >= count,
    { what: `${count} records in ${topic}` },
  )
  await consumer.disconnect()
  return records
}

describe('the HTTP collector', () => {
  let kafka: Kafka
  let producer: TouchpointProducer
  let app: FastifyInstance
  const topic = uniqueName('collected')
  const adCostTopic = `${topic}.costs`

  beforeAll(async () => {
    kafka = testKafka()
    await ensureTopics(kafka, [
      { topic, partitions: 3 },
      { topic: adCostTopic, partitions: 1 },
    ])
    producer = createTouchpointProducer({ kafka, topic, adCostTopic, registry, logger: testLogger })
    await producer.connect()
    app = await buildCollectorServer({
      producer,
      registry,
      hasher,
      writeKeys: { [writeKey]: 'site' },
      rateLimitPerMinute: 10_000,
      maxBodyBytes: 2 * 1024 * 1024,
      maxBatch: 1000,
      logger: testLogger,
    })
  })

  afterAll(async () => {
    await app?.close()
    await producer?.disconnect()
  })

  const collect = (payload: unknown, key: string | null = writeKey) =>
    app.inject({
      method: 'POST',
      url: '/v1/collect',
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
      payload: payload as object,
    })

  it('refuses a request without a known write key', async () => {
    const missing = await collect({ channel: 'web', event_type: 'page_view' }, null)
    expect(missing.statusCode).toBe(401)
    expect(missing.json()).toEqual({
      error: {
        code: 'OMNI_ERR_COLLECT_UNAUTHORIZED',
        message: 'a write key is required: send `Authorization: Bearer <key>`',
      },
    })
    expect((await collect({ channel: 'web' }, 'not-a-key-at-all-000')).statusCode).toBe(401)
  })

  it('answers a batch of 1,000 mixed events item by item, stores the valid ones once even when the request is retried, and lets no raw e-mail or phone through', async () => {
    const events: unknown[] = []
    const expectedRejections = new Map<number, string>()
    const raw: string[] = []
    for (let index = 0; index < 1000; index += 1) {
      const email = `Person.${index}@Example.RU`
      const phone = `+7 (916) ${String(100 + (index % 900)).padStart(3, '0')}-${String(index % 100).padStart(2, '0')}-00`
      raw.push(email, email.toLowerCase(), phone, phone.replace(/\D/g, ''))
      const base = { message_id: `m-${index}`, event_time: '2026-11-20T10:00:00Z' }
      switch (index % 10) {
        case 0:
          events.push({ ...base, channel: 'fax', event_type: 'page_view' })
          expectedRejections.set(index, 'channel')
          break
        case 1:
          events.push({ ...base, channel: 'web', event_type: 'page_view', identifiers: { email: 'not-an-email' } })
          expectedRejections.set(index, 'identifiers.email')
          break
        case 2:
          events.push({
            ...base,
            channel: 'store',
            event_type: 'pos_receipt',
            store_id: 'msk-01',
            receipt_number: `R${index}`,
            total_minor: 'a lot',
            currency: 'RUB',
            payment_method: 'card',
            items: [],
          })
          expectedRejections.set(index, 'total_minor')
          break
        case 3:
          events.push({
            ...base,
            channel: 'call_center',
            event_type: 'call_ended',
            call_id: `c${index}`,
            duration_seconds: 30,
            identifiers: { phone },
          })
          break
        case 4:
          events.push({
            ...base,
            family: 'order',
            channel: 'web',
            event_type: 'order_paid',
            amount_minor: 129_900,
            currency: 'RUB',
            placed_channel: 'web',
            identifiers: { email, customer_id: `C${index}` },
          })
          break
        case 5:
          events.push({
            ...base,
            channel: 'email',
            event_type: 'opened',
            campaign_id: 'weekly',
            identifiers: { email },
          })
          break
        default:
          events.push({
            ...base,
            channel: 'web',
            event_type: 'page_view',
            page_url: 'https://shop.example.ru/',
            identifiers: { anonymous_id: `cookie-${index}`, email, phone },
          })
      }
    }

    const first = await collect({ batch: events })
    expect(first.statusCode).toBe(202)
    const body = first.json<CollectBody>()
    expect(body.accepted).toBe(700)
    expect(body.rejected).toBe(300)
    body.results.forEach((result, index) => {
      expect(result.index).toBe(index)
      const field = expectedRejections.get(index)
      if (field === undefined) {
        expect(result).toMatchObject({
          status: 'accepted',
          event_id: expect.stringMatching(/^[0-9a-f-]{36}$/) as string,
        })
      } else {
        expect(result.status).toBe('rejected')
        if (result.status === 'rejected') expect(result.errors[0]?.field).toBe(field)
      }
    })

    const retry = await collect({ batch: events })
    expect(retry.statusCode).toBe(202)
    const retried = retry.json<CollectBody>()
    expect(retried.accepted).toBe(700)
    expect(retried.results.map((result) => (result.status === 'accepted' ? result.event_id : null))).toEqual(
      body.results.map((result) => (result.status === 'accepted' ? result.event_id : null)),
    )
    expect(
      retried.results
        .filter((result) => result.status === 'accepted')
        .every((result) => result.status === 'accepted' && result.duplicate),
    ).toBe(true)

    const stored = await readTopic(kafka, topic, 700)
    const ids = stored.map((record) => (record.event.family === 'ad-cost' ? '' : record.event.value.event_id))
    expect(ids.length).toBe(700)
    expect(new Set(ids).size).toBe(700)
    const families = new Set(stored.map((record) => record.event.family))
    expect([...families].sort()).toEqual(['call', 'digital', 'messaging', 'order'])

    const everything = stored.map((record) => record.raw.toString('latin1') + JSON.stringify(record.event)).join('\n')
    for (const value of raw) expect(everything.includes(value), value).toBe(false)
    const call = stored.find((record) => record.event.family === 'call')?.event
    expect(call?.family === 'call' && call.value.identifiers.phone_hash).toMatch(/^[0-9a-f]{64}$/)
  })

  it('gives a resent message the same event id', async () => {
    const payload = {
      channel: 'app',
      event_type: 'screen_view',
      message_id: 'sdk-42',
      identifiers: { device_id: 'd1' },
    }
    const one = (await collect(payload)).json<CollectBody>().results[0]
    const two = (await collect(payload)).json<CollectBody>().results[0]
    expect(one?.status).toBe('accepted')
    expect(two).toEqual({ ...one, duplicate: true })
  })

  it('refuses a body over the size limit with 413 and a malformed request with 400', async () => {
    const small = await buildCollectorServer({
      producer,
      registry,
      hasher,
      writeKeys: { [writeKey]: 'site' },
      rateLimitPerMinute: 2,
      maxBodyBytes: 2048,
      maxBatch: 3,
      logger: testLogger,
    })
    const big = await small.inject({
      method: 'POST',
      url: '/v1/collect',
      headers: { authorization: `Bearer ${writeKey}` },
      payload: { channel: 'web', event_type: 'page_view', page_title: 'x'.repeat(5000) },
    })
    expect(big.statusCode).toBe(413)
    expect(big.json<{ error: { code: string } }>().error.code).toBe('OMNI_ERR_COLLECT_TOO_LARGE')
    const tooMany = await small.inject({
      method: 'POST',
      url: '/v1/collect',
      headers: { authorization: `Bearer ${writeKey}` },
      payload: [{}, {}, {}, {}],
    })
    expect(tooMany.statusCode).toBe(400)
    expect(tooMany.json<{ error: { message: string } }>().error.message).toMatch(/at most 3 events, got 4/)
    const limited = await small.inject({
      method: 'POST',
      url: '/v1/collect',
      headers: { authorization: `Bearer ${writeKey}` },
      payload: [],
    })
    expect(limited.statusCode).toBe(429)
    expect(limited.json<{ error: { code: string } }>().error.code).toBe('OMNI_ERR_COLLECT_RATE_LIMITED')
    await small.close()
  })

  it('maps a webhook payload through its adapter, and refuses an unknown source', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/webhooks/call-tracking',
      headers: { authorization: `Bearer ${writeKey}` },
      payload: { call_id: 'w-1', caller_phone: '+79161234567', duration: 12, status: 'answered' },
    })
    expect(response.statusCode).toBe(202)
    expect(response.json<CollectBody>()).toMatchObject({ accepted: 1, rejected: 0 })
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/webhooks/fax-gateway',
      headers: { authorization: `Bearer ${writeKey}` },
      payload: {},
    })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json<{ error: { code: string } }>().error.code).toBe('OMNI_ERR_COLLECT_UNKNOWN_SOURCE')
    const broken = await app.inject({
      method: 'POST',
      url: '/v1/webhooks/marketplace',
      headers: { authorization: `Bearer ${writeKey}` },
      payload: { marketplace: 'ozon', order_id: '1' },
    })
    expect(broken.statusCode).toBe(400)
    expect(broken.json<{ error: { message: string } }>().error.message).toBe(
      'marketplace payload: status: expected a non-empty string',
    )
  })

  it('publishes its OpenAPI description at /docs', async () => {
    const spec = await app.inject({ url: '/docs/json' })
    expect(spec.statusCode).toBe(200)
    const paths = Object.keys(spec.json<{ paths: Record<string, unknown> }>().paths)
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/collect',
        '/v1/webhooks/call-tracking',
        '/v1/webhooks/messenger',
        '/v1/webhooks/email-service',
        '/v1/webhooks/marketplace',
      ]),
    )
  })
})
