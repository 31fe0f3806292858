import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import { apiOnEvents, storeEvents } from '../test/api-fixture.ts'
import { eventAt, webOrder } from '../test/fixtures/events.ts'
import { asReader, testLogger } from '../test/helpers.ts'

const day = 86_400_000
const t0 = Date.parse('2026-05-10T10:00:00Z')
/** A customer who clicks an e-mail, browses, then orders on the web. */
const customer = (index: number, at: number) => {
  const identifiers = { customer_id: `C-${index}`, anonymous_id: `ck-${index}` }
  return [
    eventAt('messaging', at - 2 * day, {
      channel: 'email',
      event_type: 'clicked',
      source: 'esp',
      identifiers: { anonymous_id: `ck-${index}` },
    }),
    eventAt('digital', at - day, { channel: 'web', event_type: 'page_view', identifiers }),
    eventAt('order', at, {
      ...webOrder,
      event_type: 'order_created',
      amount_minor: 10_000 * (index + 1),
      identifiers: { ...identifiers, order_id: `O-${index}` },
    }),
  ]
}

describe('whole-day metric answers kept per data version', () => {
  let store: Store
  let app: FastifyInstance
  let close: () => Promise<void>
  const days = 'from=2026-05-01T00:00:00Z&to=2026-06-01T00:00:00Z'
  const get = (url: string, headers: Record<string, string> = {}) =>
    app.inject({ url, headers: { ...asReader, ...headers } })

  beforeAll(async () => {
    ;({ app, store, close } = await apiOnEvents(
      Array.from({ length: 4 }, (_, i) => customer(i, t0 + i * 3_600_000)).flat(),
    ))
  })
  afterAll(async () => {
    await close?.()
  })

  it('answers a repeated request from memory, the same bytes, per format', async () => {
    for (const url of [
      `/v1/channel-switch?${days}`,
      `/v1/attribution?${days}`,
      `/v1/funnels?${days}&steps=page_view,order_created`,
    ]) {
      const first = await get(url)
      expect([first.statusCode, first.headers['x-omnistitch-cache']], url).toEqual([200, 'miss'])
      const again = await get(url)
      expect([again.statusCode, again.headers['x-omnistitch-cache']], url).toEqual([200, 'hit'])
      expect(again.body).toBe(first.body)
      expect(again.headers['content-type']).toBe(first.headers['content-type'])
    }
    // CSV is another answer, kept on its own.
    const csv = await get(`/v1/attribution?${days}&format=csv`)
    expect([csv.headers['x-omnistitch-cache'], csv.headers['content-type']]).toEqual([
      'miss',
      expect.stringMatching(/csv/),
    ])
    expect((await get(`/v1/attribution?${days}&format=csv`)).body).toBe(csv.body)
  })

  it('leaves alone what reads events: hours, and journeys cut another way', async () => {
    const hours = await get('/v1/channel-switch?from=2026-05-01T06:00:00Z&to=2026-06-01T00:00:00Z')
    expect([hours.statusCode, hours.headers['x-omnistitch-cache']]).toEqual([200, undefined])
    const cut = await get(`/v1/attribution?${days}&lookback_days=7`)
    expect([cut.statusCode, cut.headers['x-omnistitch-cache']]).toEqual([200, undefined])
  })

  it('answers anew once a cycle has written new journeys', async () => {
    const url = `/v1/attribution?${days}&models=last_touch`
    const before = await get(url)
    expect((await get(url)).headers['x-omnistitch-cache']).toBe('hit')
    // Stored events alone change nothing the answer reads: still the kept answer.
    await storeEvents(store, customer(9, t0 + 5 * day))
    expect((await get(url)).headers['x-omnistitch-cache']).toBe('hit')
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    const after = await get(url)
    expect(after.headers['x-omnistitch-cache']).toBe('miss')
    expect(after.body).not.toBe(before.body)
  })

  it('answers without the cache when the data version cannot be read', async () => {
    const url = `/v1/channel-switch?${days}`
    await get(url)
    expect((await get(url)).headers['x-omnistitch-cache']).toBe('hit')
    const rename = (from: string, to: string) =>
      store.client.command({ query: `RENAME TABLE ${store.database}.${from} TO ${store.database}.${to}` })
    await rename('identity_runs', 'identity_runs_away')
    try {
      const answer = await get(url)
      expect([answer.statusCode, answer.headers['x-omnistitch-cache']]).toEqual([200, undefined])
    } finally {
      await rename('identity_runs_away', 'identity_runs')
    }
  })
})
