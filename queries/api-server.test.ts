import { tableFromIPC } from 'apache-arrow'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import { asAdmin, asReader, openTestStore, testLogger } from '../test/helpers.ts'
import { storeEvents, testApiServer } from '../test/api-fixture.ts'
import { event } from '../test/fixtures/events.ts'

describe('the API', () => {
  let store: Store
  let app: FastifyInstance
  let kafkaUp = true

  beforeAll(async () => {
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    const id = (n: number) => `00000000-0000-4000-8000-00000000000${n}`
    const events = [
      event('digital', { event_id: id(1), identifiers: { anonymous_id: 'cookie-a' } }),
      event('digital', { event_id: id(2), identifiers: { anonymous_id: 'cookie-a' } }),
      event('digital', { event_id: id(3), identifiers: { customer_id: 'C7' } }),
      event('receipt', {
        event_id: id(4),
        channel: 'store',
        event_type: 'pos_receipt',
        identifiers: { loyalty_card: '27701' },
        store_id: 'msk-01',
        receipt_number: 'R1',
        items: [],
        total_minor: 150_00,
        currency: 'RUB',
        payment_method: 'card',
      }),
      // Outside the range asked for below.
      event('digital', { event_id: id(5), event_time: Date.parse('2026-07-01T00:00:00Z') }),
    ]
    // The same rows twice, as a re-delivery would: every count below must still see each event once.
    await storeEvents(store, events)
    await storeEvents(store, events)
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    app = await testApiServer(store, {
      checkKafka: async () => {
        if (!kafkaUp) throw new Error('connect ECONNREFUSED 127.0.0.1:9092')
      },
    })
  })

  afterAll(async () => {
    await app?.close()
    await store?.close()
  })

  it('answers /healthz', async () => {
    const response = await app.inject({ url: '/healthz' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok' })
  })

  it('is ready when Kafka and ClickHouse answer, and says which one does not', async () => {
    expect((await app.inject({ url: '/readyz' })).json()).toEqual({
      status: 'ready',
      checks: { kafka: 'ok', clickhouse: 'ok' },
    })
    kafkaUp = false
    const down = await app.inject({ url: '/readyz' })
    kafkaUp = true
    expect(down.statusCode).toBe(503)
    expect(down.json()).toEqual({
      status: 'not ready',
      checks: { kafka: 'connect ECONNREFUSED 127.0.0.1:9092', clickhouse: 'ok' },
    })
  })

  it('counts events and distinct persons per channel in a time range, each event once', async () => {
    const response = await app.inject({
      url: '/v1/stats/channels?from=2026-05-01T00:00:00Z&to=2026-06-01T00:00:00Z',
      headers: asReader,
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({
      from: '2026-05-01T00:00:00.000Z',
      to: '2026-06-01T00:00:00.000Z',
      channels: [
        { channel: 'web', events: 3, persons: 2 },
        { channel: 'store', events: 1, persons: 1 },
      ],
    })
  })

  it('gives the same per-channel rows as CSV and as an Arrow stream', async () => {
    const url = '/v1/stats/channels?from=2026-05-01T00:00:00Z&to=2026-06-01T00:00:00Z'
    const csv = await app.inject({ url: `${url}&format=csv`, headers: asReader })
    expect(csv.body).toBe('channel,events,persons\nweb,3,2\nstore,1,1\n')
    const arrow = await app.inject({ url, headers: { ...asReader, accept: 'application/vnd.apache.arrow.stream' } })
    const rows = (tableFromIPC(arrow.rawPayload).toArray() as { toJSON(): object }[]).map((row) => row.toJSON())
    expect(rows).toEqual([
      { channel: 'web', events: 3, persons: 2 },
      { channel: 'store', events: 1, persons: 1 },
    ])
  })

  it('refuses /v1 without a key or with an unknown one, and an admin route to a reader key', async () => {
    const url = '/v1/stats/channels'
    const none = await app.inject({ url })
    expect(none.statusCode).toBe(401)
    expect(none.json()).toEqual({
      error: {
        code: 'OMNI_ERR_API_UNAUTHORIZED',
        message: 'an API key is required: send `Authorization: Bearer <key>`',
      },
    })
    const unknown = await app.inject({ url, headers: { authorization: 'Bearer not-a-key-0123456789' } })
    expect(unknown.statusCode).toBe(401)
    const reader = await app.inject({ method: 'POST', url: '/v1/admin/refresh', headers: asReader })
    expect(reader.statusCode).toBe(403)
    expect(reader.json<{ error: { code: string } }>().error.code).toBe('OMNI_ERR_API_FORBIDDEN')
    const admin = await app.inject({ method: 'POST', url: '/v1/admin/refresh', headers: asAdmin })
    expect(admin.statusCode).toBe(200)
    expect(admin.json<{ refreshed: string[] }>().refreshed).toContain('journeys')
    // An admin key reads metrics too; health, readiness and the docs need no key.
    expect((await app.inject({ url, headers: asAdmin })).statusCode).toBe(200)
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200)
  })

  it('documents every route in OpenAPI at /docs, with the key required where it is', async () => {
    const spec = (await app.inject({ url: '/docs/json' })).json<{
      openapi: string
      paths: Record<string, Record<string, { security?: unknown[]; parameters?: { name: string }[] }>>
    }>()
    expect(spec.openapi).toMatch(/^3\./)
    expect(spec.paths['/v1/attribution']?.['get']?.security).toEqual([{ apiKey: [] }])
    expect(spec.paths['/v1/attribution']?.['get']?.parameters?.map((parameter) => parameter.name)).toEqual(
      expect.arrayContaining(['from', 'to', 'models', 'order', 'format']),
    )
    expect(spec.paths['/v1/admin/refresh']?.['post']?.security).toEqual([{ apiKey: [] }])
    expect(spec.paths['/healthz']?.['get']?.security).toBeUndefined()
  })

  it('answers 429 to a key over its rate limit', async () => {
    const limited = await testApiServer(store, { rateLimitPerMinute: 2 })
    try {
      const codes: number[] = []
      for (let i = 0; i < 3; i++)
        codes.push((await limited.inject({ url: '/v1/stats/channels', headers: asReader })).statusCode)
      expect(codes).toEqual([200, 200, 429])
      const other = await limited.inject({ url: '/v1/stats/channels', headers: asAdmin })
      expect(other.statusCode).toBe(200)
    } finally {
      await limited.close()
    }
  })

  it.each([
    ['format=xml', /querystring parameter "format" must be equal to one of the allowed values/],
    ['from=yesterday', /querystring parameter "from" must match format "date-time"/],
    ['to=2026-13-45T00:00:00Z', /querystring parameter "to" must match format "date-time"/],
    ['from=2026-06-01T00:00:00Z&to=2026-05-01T00:00:00Z', /"from" must be before "to"/],
    ['form=2026-06-01T00:00:00Z', /querystring parameter "form" is not accepted here/],
  ])('answers ?%s with 400 naming the parameter', async (query, message) => {
    const response = await app.inject({ url: `/v1/stats/channels?${query}`, headers: asReader })
    expect(response.statusCode).toBe(400)
    const body = response.json<{ error: { code: string; message: string } }>()
    expect(body.error.code).toBe('OMNI_ERR_API_BAD_PARAMETER')
    expect(body.error.message).toMatch(message)
  })
})
