import { tableFromIPC } from 'apache-arrow'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { toAdCostRow, toTouchpointRow } from '../consumers/touchpoint-row.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import type { AdCost } from '../schemas/capture-events.ts'
import { eventAt, webOrder } from '../test/fixtures/events.ts'
import { asReader, openTestStore, testApiKeys, testLogger } from '../test/helpers.ts'
import { buildApiServer } from './api-server.ts'
import { attribute, attributionModels } from './models/attribution.ts'
import { attributionColumns, withCosts, type CreditedChannel } from './attribution-route.ts'
import { arrowStreamType } from './tabular.ts'

const hour = 3_600_000
const day = 24 * hour
const t0 = Date.parse('2026-05-01T10:00:00Z')

const touch = eventAt

const email = (at: number, emailHash: string) =>
  touch('messaging', at, {
    channel: 'email',
    event_type: 'clicked',
    source: 'esp',
    identifiers: { email_hash: emailHash },
  })
const page = (at: number, identifiers: Record<string, string>) =>
  touch('digital', at, { channel: 'web', event_type: 'page_view', identifiers })
const order = (at: number, type: string, amount: number, identifiers: Record<string, string>) =>
  touch('order', at, { ...webOrder, event_type: type, amount_minor: amount, identifiers })

/**
 * Three people. Anna clicks an e-mail, browses, and orders online (1,000.00, paid): path email > web > web.
 * Boris gets an SMS and buys in a store (500.00): path sms > store. Vera clicks an e-mail and browses, and buys
 * nothing: email > web, not converted. E-mail cost 300.00 in the range; SMS cost 50.00 on a day outside it.
 */
const events = [
  email(t0, 'e-anna'),
  page(t0 + hour, { anonymous_id: 'ck-anna', email_hash: 'e-anna' }),
  order(t0 + 2 * hour, 'order_created', 100_000, { customer_id: 'C-anna', email_hash: 'e-anna', order_id: 'O-1' }),
  order(t0 + 2 * hour + 60_000, 'order_paid', 100_000, { customer_id: 'C-anna', order_id: 'O-1' }),
  touch('messaging', t0, {
    channel: 'sms',
    event_type: 'delivered',
    source: 'sms-gateway',
    identifiers: { phone_hash: 'p-boris' },
  }),
  touch('receipt', t0 + day, {
    channel: 'store',
    event_type: 'pos_receipt',
    source: 'pos',
    store_id: 'S-1',
    receipt_number: 'R-1',
    total_minor: 50_000,
    currency: 'RUB',
    items: [],
    payment_method: 'card',
    identifiers: { loyalty_card: '2770000000002', phone_hash: 'p-boris' },
  }),
  email(t0 + 2 * day, 'e-vera'),
  page(t0 + 2 * day + hour, { anonymous_id: 'ck-vera', email_hash: 'e-vera' }),
]
const expectedPaths = [
  { channels: ['email', 'web', 'web'], conversions: 1, value: 1000, nulls: 0 },
  { channels: ['sms', 'store'], conversions: 1, value: 500, nulls: 0 },
  { channels: ['email', 'web'], conversions: 0, value: 0, nulls: 1 },
]

describe('GET /v1/attribution against the real ClickHouse engine', () => {
  let store: Store
  let app: FastifyInstance
  const range = 'from=2026-04-25T00:00:00Z&to=2026-05-10T00:00:00Z'

  beforeAll(async () => {
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    const rows = events.map((item, index) =>
      toTouchpointRow(item, { topic: 't', partition: 0, offset: String(index), schemaId: 1 }),
    )
    await store.client.insert({ table: `${store.database}.touchpoints`, values: rows, format: 'JSONEachRow' })
    const cost = (date: string, channel: AdCost['channel'], spend: number) =>
      toAdCostRow(
        {
          cost_id: `${channel}:${date}`,
          date: Date.parse(date) / day,
          channel,
          source: channel,
          medium: null,
          campaign: 'spring',
          campaign_id: null,
          spend_minor: spend,
          currency: 'RUB',
          impressions: 0,
          clicks: 0,
          received_at: Date.parse(date),
        },
        { topic: 't', partition: 0, offset: '0', schemaId: 1 },
      )
    await store.client.insert({
      table: `${store.database}.ad_costs`,
      values: [cost('2026-05-01', 'email', 30_000), cost('2026-06-01', 'sms', 5_000)],
      format: 'JSONEachRow',
    })
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    app = await buildApiServer({ store, logger: testLogger, checkKafka: async () => undefined, apiKeys: testApiKeys })
    await app.ready()
  })

  afterAll(async () => {
    await app?.close()
    await store?.close()
  })

  it('credits the stored journeys as the models do on the same paths, with spend, CPA, ROAS and ROMI', async () => {
    const response = await app.inject({ url: `/v1/attribution?${range}&order=2`, headers: asReader })
    expect(response.statusCode).toBe(200)
    const body = response.json<{
      journeys: number
      conversions: number
      value: number
      spend: number
      models: { model: string; channels: CreditedChannel[] }[]
    }>()
    expect([body.journeys, body.conversions, body.value, body.spend]).toEqual([3, 2, 1500, 300])
    expect(body.models.map((entry) => entry.model)).toEqual([...attributionModels])
    const spend = new Map([['email', 300]])
    for (const entry of body.models) {
      const expected = withCosts(
        attribute(expectedPaths, entry.model as (typeof attributionModels)[number], { order: 2 }).channels,
        spend,
        2,
      )
      expect(entry.channels.map((credit) => credit.channel).sort()).toEqual(
        expected.map((credit) => credit.channel).sort(),
      )
      for (const credit of expected) {
        const got = entry.channels.find((item) => item.channel === credit.channel)
        expect(got?.conversions, `${entry.model} ${credit.channel}`).toBeCloseTo(credit.conversions, 9)
        expect(got?.value, `${entry.model} ${credit.channel}`).toBeCloseTo(credit.value, 6)
      }
    }
    // Last touch by hand: web has Anna's order (1,000.00), store Boris's receipt (500.00); e-mail gets none of it
    // but spent 300.00: no CPA, ROAS 0, ROMI -1.
    const lastTouch = body.models.find((entry) => entry.model === 'last_touch')?.channels ?? []
    expect(lastTouch.find((credit) => credit.channel === 'web')).toMatchObject({
      conversions: 1,
      value: 1000,
      share: 0.5,
    })
    expect(lastTouch.find((credit) => credit.channel === 'email')).toMatchObject({
      conversions: 0,
      spend: 300,
      cpa: null,
      roas: 0,
      romi: -1,
    })
    // First touch: e-mail gets Anna's order: CPA 300, ROAS 1,000 / 300.
    const firstTouch = body.models.find((entry) => entry.model === 'first_touch')?.channels ?? []
    const emailCredit = firstTouch.find((credit) => credit.channel === 'email')
    expect(emailCredit?.cpa).toBeCloseTo(300, 9)
    expect(emailCredit?.roas).toBeCloseTo(1000 / 300, 9)
    expect(emailCredit?.romi).toBeCloseTo(700 / 300, 9)
  })

  it('gives the same rows as JSON, CSV and an Arrow stream, asked by parameter or by Accept header', async () => {
    const url = `/v1/attribution?${range}&models=last_touch,markov`
    const json = (await app.inject({ url, headers: asReader })).json<{
      models: { model: string; channels: CreditedChannel[] }[]
    }>()
    const expected = json.models.flatMap((entry) => entry.channels.map((credit) => ({ model: entry.model, ...credit })))
    expect(expected.length).toBeGreaterThan(3)
    const columns = attributionColumns.map((column) => column.name)
    /** A row with every value as its column's type: text, a number, or null for an empty number. */
    const typed = (row: Record<string, unknown>): Record<string, string | number | null> =>
      Object.fromEntries(
        attributionColumns.map((column): [string, string | number | null] => {
          const raw = row[column.name]
          if (column.type === 'text') return [column.name, String(raw)]
          return [column.name, raw === null || raw === '' || raw === undefined ? null : Number(raw)]
        }),
      )

    for (const request of [
      { url: `${url}&format=csv`, headers: asReader },
      { url, headers: { ...asReader, accept: 'text/csv' } },
    ]) {
      const response = await app.inject(request)
      expect(response.headers['content-type']).toMatch(/^text\/csv/)
      const rows = parse<Record<string, string>>(response.body, { columns: true })
      expect(Object.keys(rows[0] ?? {})).toEqual(columns)
      expect(rows.map(typed)).toEqual(expected.map(typed))
    }

    for (const request of [
      { url: `${url}&format=arrow`, headers: asReader },
      { url, headers: { ...asReader, accept: arrowStreamType } },
    ]) {
      const response = await app.inject(request)
      expect(response.headers['content-type']).toBe(arrowStreamType)
      const table = tableFromIPC(response.rawPayload)
      expect(table.schema.fields.map((field) => field.name)).toEqual(columns)
      const rows = (table.toArray() as { toJSON(): Record<string, unknown> }[]).map((row) => typed(row.toJSON()))
      expect(rows).toEqual(expected.map(typed))
    }
  })

  it('answers only the models asked for', async () => {
    const response = await app.inject({ url: `/v1/attribution?${range}&models=markov,shapley`, headers: asReader })
    expect(response.json<{ models: { model: string }[] }>().models.map((entry) => entry.model)).toEqual([
      'markov',
      'shapley',
    ])
  })

  it('refuses a bad parameter with 400, naming it', async () => {
    for (const [query, text] of [
      ['models=markov,bogus', /"models": expected names from first_touch.*\(got "bogus"\)/],
      ['order=4', /"order" must be <= 3/],
      ['position_weights=50/50/50', /"position_weights": expected percentages adding up to 100/],
      ['from=2026-05-10T00:00:00Z&to=2026-05-01T00:00:00Z', /"from" must be before "to"/],
      ['colour=red', /"colour" is not accepted here/],
    ] as const) {
      const response = await app.inject({ url: `/v1/attribution?${query}`, headers: asReader })
      expect(response.statusCode, query).toBe(400)
      expect(response.json<{ error: { message: string } }>().error.message, query).toMatch(text)
    }
  })
})
