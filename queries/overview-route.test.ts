import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { events, range } from '../test/fixtures/five-people.ts'
import { asReader } from '../test/helpers.ts'
import { apiOnEvents, expectRowsAsCsvAndArrow } from '../test/api-fixture.ts'
import { overviewSeriesColumns, type OverviewPeriod, type OverviewTotals } from './overview-route.ts'

interface Overview {
  from: string
  to: string
  interval: string
  totals: OverviewTotals
  series: OverviewPeriod[]
}

describe('GET /v1/overview over events stored in the real ClickHouse engine', () => {
  let app: FastifyInstance
  let close: (() => Promise<void>) | undefined

  beforeAll(async () => {
    ;({ app, close } = await apiOnEvents(events))
  })

  afterAll(async () => {
    await close?.()
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
