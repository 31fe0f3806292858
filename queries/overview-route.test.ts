import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import { eventAt, webOrder } from '../test/fixtures/events.ts'
import { asReader, openTestStore, testLogger } from '../test/helpers.ts'
import { expectRowsAsCsvAndArrow, storeEvents, testApiServer } from '../test/api-fixture.ts'
import { overviewSeriesColumns, type OverviewPeriod, type OverviewTotals } from './overview-route.ts'

const hour = 3_600_000
const day = 24 * hour
/** A Friday: the ISO week of 1-3 May starts on Monday 27 April, the next one on 4 May. */
const t0 = Date.parse('2026-05-01T10:00:00Z')

const email = (at: number, emailHash: string) =>
  eventAt('messaging', at, {
    channel: 'email',
    event_type: 'clicked',
    source: 'esp',
    identifiers: { email_hash: emailHash },
  })
const page = (at: number, identifiers: Record<string, string>) =>
  eventAt('digital', at, { channel: 'web', event_type: 'page_view', identifiers })
const order = (at: number, type: string, amount: number, identifiers: Record<string, string>) =>
  eventAt('order', at, { ...webOrder, event_type: type, amount_minor: amount, identifiers })

/**
 * Five people and one event nobody can be named for, 1-4 May (and one event on 6 May, after the range).
 * Anna: e-mail click, web visit, web order O-1 of 1,000.00 paid on 1 May, 100.00 of it refunded on 2 May (net 900).
 * Boris: SMS on 1 May, store receipt of 500.00 on 2 May. Dmitri: web visit and an order O-3 on 2 May, never paid
 * (gross 0: a converted journey, not an order). An anonymous page view on 2 May. Vera: e-mail click and web visit on
 * 3 May, no order. Gleb: web visit and web order O-2 of 200.00 on 4 May; another visit on 6 May.
 */
const events = [
  email(t0, 'e-anna'),
  page(t0 + hour, { anonymous_id: 'ck-anna', email_hash: 'e-anna' }),
  order(t0 + 2 * hour, 'order_created', 100_000, { customer_id: 'C-anna', email_hash: 'e-anna', order_id: 'O-1' }),
  order(t0 + 2 * hour + 60_000, 'order_paid', 100_000, { customer_id: 'C-anna', order_id: 'O-1' }),
  order(t0 + day - hour, 'order_refunded', 10_000, { customer_id: 'C-anna', order_id: 'O-1' }),
  eventAt('messaging', t0, {
    channel: 'sms',
    event_type: 'delivered',
    source: 'sms-gateway',
    identifiers: { phone_hash: 'p-boris' },
  }),
  eventAt('receipt', t0 + day, {
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
  page(t0 + day + 5 * hour, { anonymous_id: 'ck-dmitri', customer_id: 'C-dmitri' }),
  order(t0 + day + 5 * hour + 30 * 60_000, 'order_created', 30_000, { customer_id: 'C-dmitri', order_id: 'O-3' }),
  page(t0 + day + 2 * hour, {}),
  email(t0 + 2 * day, 'e-vera'),
  page(t0 + 2 * day + hour, { anonymous_id: 'ck-vera', email_hash: 'e-vera' }),
  page(t0 + 3 * day, { anonymous_id: 'ck-gleb', customer_id: 'C-gleb' }),
  order(t0 + 3 * day + hour, 'order_created', 20_000, { customer_id: 'C-gleb', order_id: 'O-2' }),
  order(t0 + 3 * day + hour + 60_000, 'order_paid', 20_000, { customer_id: 'C-gleb', order_id: 'O-2' }),
  page(t0 + 5 * day, { anonymous_id: 'ck-gleb' }),
]

/** 30 April (nothing happened) to 4 May inclusive. */
const range = 'from=2026-04-30T00:00:00Z&to=2026-05-05T00:00:00Z'

interface Overview {
  from: string
  to: string
  interval: string
  totals: OverviewTotals
  series: OverviewPeriod[]
}

describe('GET /v1/overview over events stored in the real ClickHouse engine', () => {
  let store: Store
  let app: FastifyInstance

  beforeAll(async () => {
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    await storeEvents(store, events)
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    app = await testApiServer(store)
  })

  afterAll(async () => {
    await app?.close()
    await store?.close()
  })

  const overview = async (query: string) => {
    const response = await app.inject({ url: `/v1/overview?${query}`, headers: asReader })
    expect(response.statusCode, response.body).toBe(200)
    return response.json<Overview>()
  }

  it('gives the totals and the daily series worked out by hand', async () => {
    const body = await overview(range)
    expect(body).toEqual({
      from: '2026-04-30T00:00:00.000Z',
      to: '2026-05-05T00:00:00.000Z',
      interval: 'day',
      // 15 events in the range (Gleb's visit on 6 May is after it); 5 persons once identities are resolved (the
      // anonymous view is nobody's); Anna, Boris and Vera used two channels each. Orders: O-1 (1,000 less the 100
      // refunded), the receipt (500) and O-2 (200); Dmitri's unpaid O-3 is not one. Journeys that ended in the range:
      // Anna's, Boris's, Dmitri's and Gleb's first converted, Vera's and the anonymous one did not.
      totals: {
        events: 15,
        persons: 5,
        orders: 3,
        revenue: 1600,
        conversion_rate: 4 / 6,
        omnichannel_share: 3 / 5,
        journeys: 6,
        converted_journeys: 4,
      },
      series: [
        { period: '2026-04-30', events: 0, persons: 0, orders: 0, revenue: 0 },
        // Anna's click, visit, order and payment; Boris's SMS. O-1 counts on the day it was placed, net of its refund.
        { period: '2026-05-01', events: 5, persons: 2, orders: 1, revenue: 900 },
        // Anna's refund, Boris's receipt, Dmitri's visit and order, the anonymous view.
        { period: '2026-05-02', events: 5, persons: 3, orders: 1, revenue: 500 },
        { period: '2026-05-03', events: 2, persons: 1, orders: 0, revenue: 0 },
        { period: '2026-05-04', events: 3, persons: 1, orders: 1, revenue: 200 },
      ],
    })
  })

  it('gives a series per ISO week, each starting on its Monday', async () => {
    const body = await overview(`${range}&interval=week`)
    expect(body.interval).toBe('week')
    expect(body.series).toEqual([
      { period: '2026-04-27', events: 12, persons: 4, orders: 2, revenue: 1400 },
      { period: '2026-05-04', events: 3, persons: 1, orders: 1, revenue: 200 },
    ])
    expect(body.totals.events).toBe(15)
  })

  it('counts only the channels asked for, and every channel of a person for the omnichannel share', async () => {
    // E-mail and SMS: Anna's and Vera's clicks and Boris's SMS; no order was placed in them; Anna's, Boris's and
    // Vera's journeys touch them, the first two converted. All three also used another channel.
    const messaging = await overview(`${range}&channels=email,sms`)
    expect(messaging.totals).toEqual({
      events: 3,
      persons: 3,
      orders: 0,
      revenue: 0,
      conversion_rate: 2 / 3,
      omnichannel_share: 1,
      journeys: 3,
      converted_journeys: 2,
    })
    expect(messaging.series.map((row) => [row.period, row.events, row.persons])).toEqual([
      ['2026-04-30', 0, 0],
      ['2026-05-01', 2, 2],
      ['2026-05-02', 0, 0],
      ['2026-05-03', 1, 1],
      ['2026-05-04', 0, 0],
    ])
    // The web: 11 events of Anna, Dmitri, Vera, Gleb and the anonymous visitor; O-1 and O-2 were placed there; the
    // journeys of all but Boris touch it (Anna's, Dmitri's and Gleb's converted); Anna and Vera used another channel.
    const web = await overview(`${range}&channels=web`)
    expect(web.totals).toEqual({
      events: 11,
      persons: 4,
      orders: 2,
      revenue: 1100,
      conversion_rate: 3 / 5,
      omnichannel_share: 2 / 4,
      journeys: 5,
      converted_journeys: 3,
    })
    expect(web.series).toEqual([
      { period: '2026-04-30', events: 0, persons: 0, orders: 0, revenue: 0 },
      { period: '2026-05-01', events: 3, persons: 1, orders: 1, revenue: 900 },
      { period: '2026-05-02', events: 4, persons: 2, orders: 0, revenue: 0 },
      { period: '2026-05-03', events: 1, persons: 1, orders: 0, revenue: 0 },
      { period: '2026-05-04', events: 3, persons: 1, orders: 1, revenue: 200 },
    ])
  })

  it('answers zeros for a range with nothing in it', async () => {
    const body = await overview('from=2026-06-01T00:00:00Z&to=2026-06-02T00:00:00Z')
    expect(body.totals).toEqual({
      events: 0,
      persons: 0,
      orders: 0,
      revenue: 0,
      conversion_rate: 0,
      omnichannel_share: 0,
      journeys: 0,
      converted_journeys: 0,
    })
    expect(body.series).toEqual([{ period: '2026-06-01', events: 0, persons: 0, orders: 0, revenue: 0 }])
  })

  it('gives the series rows as JSON, CSV and an Arrow stream alike, by parameter or Accept header', async () => {
    const url = `/v1/overview?${range}&interval=week`
    const expected = (await overview(`${range}&interval=week`)).series
    await expectRowsAsCsvAndArrow(app, url, overviewSeriesColumns, expected)
  })

  it('refuses a bad parameter with 400, naming it, and a request without a key with 401', async () => {
    for (const [query, text] of [
      ['interval=month', /"interval" must be equal to one of the allowed values/],
      ['channels=Email', /"channels" must match pattern/],
      ['from=yesterday', /"from" must match format "date-time"/],
      ['from=2026-05-10T00:00:00Z&to=2026-05-01T00:00:00Z', /"from" must be before "to"/],
      ['colour=red', /"colour" is not accepted here/],
    ] as const) {
      const response = await app.inject({ url: `/v1/overview?${query}`, headers: asReader })
      expect(response.statusCode, query).toBe(400)
      const error = response.json<{ error: { code: string; message: string } }>().error
      expect(error.code, query).toBe('OMNI_ERR_API_BAD_PARAMETER')
      expect(error.message, query).toMatch(text)
    }
    expect((await app.inject({ url: `/v1/overview?${range}` })).statusCode).toBe(401)
  })
})
