import { tableFromIPC } from 'apache-arrow'
import { parse } from 'csv-parse/sync'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { drawHistories } from '../test/fixtures/customers.ts'
import { eventAt, webOrder } from '../test/fixtures/events.ts'
import { asReader, testHasher, testLogger } from '../test/helpers.ts'
import { apiOnEvents, storeEvents } from '../test/api-fixture.ts'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import type { PredictedCustomer, PredictedSegment } from './ltv-prediction.ts'
import { predictionFor, refitEveryMs } from './ltv-route.ts'
import { fitBgNbd, fitGammaGamma, type CustomerSummary } from './models/ltv.ts'

const day = 86_400_000
const yearStart = Date.parse('2026-01-01T00:00:00Z')
const truth = { r: 2, alpha: 40, a: 1.5, b: 6, p: 5, q: 4, v: 900 }

/**
 * 240 customers whose purchases follow BG/NBD, each bought at noon on its day (several on one day are one purchase
 * day, as lifetimes counts). Every other customer first clicks an e-mail, so is acquired by e-mail and multichannel;
 * the rest only order on the web.
 */
const histories = drawHistories(240, 7, truth).map((history, index) => {
  const days = new Map<number, number>()
  history.times.forEach((time, k) => {
    const at = Math.floor(time)
    days.set(at, (days.get(at) ?? 0) + Math.round((history.values[k] as number) * 100) / 100)
  })
  return { customer: `C-${index}`, viaEmail: index % 2 === 0, days: [...days.entries()].sort((x, y) => x[0] - y[0]) }
})

const events = histories.flatMap(({ customer, viaEmail, days }) => {
  const first = (days[0] as [number, number])[0]
  const click = viaEmail
    ? [
        eventAt('messaging', yearStart + first * day + 6 * 3_600_000, {
          channel: 'email',
          event_type: 'clicked',
          source: 'esp',
          identifiers: { email_hash: testHasher.email(`${customer}@example.com`), customer_id: customer },
        }),
      ]
    : []
  return [
    ...click,
    ...days.flatMap(([at, value], k) => {
      const when = yearStart + at * day + 12 * 3_600_000
      const identifiers = { customer_id: customer, order_id: `${customer}-O${k}` }
      const amount = Math.round(value * 100)
      return [
        eventAt('order', when, { ...webOrder, event_type: 'order_created', amount_minor: amount, identifiers }),
        eventAt('order', when + 60_000, { ...webOrder, event_type: 'order_paid', amount_minor: amount, identifiers }),
      ]
    }),
  ]
})

/** The summaries worked out here from the purchases sent, observed to the newest purchase day. */
const newestDay = Math.max(...histories.map(({ days }) => (days[days.length - 1] as [number, number])[0]))
const expected = histories.map(({ viaEmail, days }) => {
  const first = days[0] as [number, number]
  const repeats = days.slice(1)
  return {
    frequency: repeats.length,
    recency: (days[days.length - 1] as [number, number])[0] - first[0],
    T: newestDay - first[0],
    monetaryValue: repeats.length > 0 ? repeats.reduce((sum, [, value]) => sum + value, 0) / repeats.length : 0,
    acquisition: viaEmail ? 'email' : 'web',
  }
})
/** Customers in one order: by acquisition channel, frequency, recency, T, then mean value. */
const ordered = (rows: readonly (CustomerSummary & { acquisition: string })[]) =>
  [...rows].sort(
    (x, y) =>
      x.acquisition.localeCompare(y.acquisition) ||
      x.frequency - y.frequency ||
      x.recency - y.recency ||
      x.T - y.T ||
      (x.monetaryValue ?? 0) - (y.monetaryValue ?? 0),
  )

describe('predictive LTV over orders stored in the real ClickHouse engine', () => {
  let app: FastifyInstance
  let store: Store
  let close: (() => Promise<void>) | undefined
  const range = 'from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z'
  const get = (query: string) => app.inject({ url: `/v1/ltv/predictive?${query}`, headers: asReader })

  beforeAll(async () => {
    // Refits as soon as the rows change (a running pipeline waits a minute between two: D28).
    ;({ app, store, close } = await apiOnEvents(events, { ltvRefitMs: 0 }))
  })

  afterAll(async () => {
    await close?.()
  })

  it('summarises each customer as worked out from the purchases sent, and fits the models to those summaries', async () => {
    const response = await get(`${range}&level=customer&limit=100000`)
    expect(response.statusCode, response.body).toBe(200)
    const body = response.json<{
      fit: { bgnbd: Record<string, number>; gamma_gamma: Record<string, number> }
      customers: PredictedCustomer[]
      segments: PredictedSegment[]
    }>()
    expect(body.customers).toHaveLength(histories.length)
    const stored = ordered(
      body.customers.map((row) => ({
        ...row,
        monetaryValue: row.monetary_value,
        acquisition: row.acquisition_channel,
      })),
    )
    ordered(expected).forEach((customer, i) => {
      const row = stored[i] as (typeof stored)[number]
      expect([row.acquisition, row.frequency, row.recency, row.T]).toEqual([
        customer.acquisition,
        customer.frequency,
        customer.recency,
        customer.T,
      ])
      expect(row.monetaryValue).toBeCloseTo(customer.monetaryValue ?? 0, 6)
    })

    const bgnbd = fitBgNbd(expected)
    const gammaGamma = fitGammaGamma(expected)
    for (const name of ['r', 'alpha', 'a', 'b'] as const) {
      expect(Math.abs((body.fit.bgnbd[name] as number) / bgnbd.parameters[name] - 1)).toBeLessThan(1e-5)
      // Rounded to days, the draws still carry their parameters.
      expect(Math.abs(bgnbd.parameters[name] - truth[name])).toBeLessThan(3 * bgnbd.standardErrors[name])
    }
    for (const name of ['p', 'q', 'v'] as const) {
      expect(Math.abs((body.fit.gamma_gamma[name] as number) / gammaGamma.parameters[name] - 1)).toBeLessThan(1e-5)
    }
    expect(body.fit.bgnbd['converged']).toBe(true)

    // Highest CLV first; a customer's CLV is their expected purchases times their expected order value, discounted.
    const clvs = body.customers.map((customer) => customer.clv)
    expect(clvs).toEqual([...clvs].sort((x, y) => y - x))
    for (const customer of body.customers) {
      expect(customer.clv).toBeLessThanOrEqual(customer.expected_purchases * customer.expected_order_value + 1e-9)
      expect(customer.clv).toBeGreaterThan(0.9 * customer.expected_purchases * customer.expected_order_value)
      expect(customer.probability_alive).toBeGreaterThan(0)
      expect(customer.probability_alive).toBeLessThanOrEqual(1)
    }

    const all = body.segments.find((segment) => segment.dimension === 'all') as PredictedSegment
    expect(all.customers).toBe(histories.length)
    expect(all.clv_total).toBeCloseTo(
      clvs.reduce((sum, value) => sum + value, 0),
      6,
    )
    const acquisition = body.segments.filter((segment) => segment.dimension === 'acquisition_channel')
    expect(acquisition.map((segment) => [segment.segment, segment.customers])).toEqual([
      ['email', 120],
      ['web', 120],
    ])
    expect(
      body.segments
        .filter((segment) => segment.dimension === 'channels_used')
        .map((segment) => [segment.segment, segment.customers]),
    ).toEqual([
      ['multichannel', 120],
      ['single_channel', 120],
    ])
  })

  it('fits again once the data changes (another purchase of a customer), answering the old fit meanwhile', async () => {
    type Answer = { fit: { bgnbd: { loglik: number }; stale: boolean; fitted_at: string } }
    const fitOf = async () => (await get(range)).json<Answer>().fit
    const before = (await fitOf()).bgnbd.loglik
    expect(await fitOf()).toMatchObject({ bgnbd: { loglik: before }, stale: false })
    const { customer, days } = histories[1] as (typeof histories)[number]
    const when = yearStart + ((days[0] as [number, number])[0] + 1) * day + 18 * 3_600_000
    const identifiers = { customer_id: customer, order_id: `${customer}-extra` }
    await storeEvents(store, [
      eventAt('order', when, { ...webOrder, event_type: 'order_created', amount_minor: 150_000, identifiers }),
      eventAt('order', when + 60_000, { ...webOrder, event_type: 'order_paid', amount_minor: 150_000, identifiers }),
    ])
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    // The first answer after the change is the old fit, marked stale; the refit it started gives the next ones.
    expect(await fitOf()).toMatchObject({ bgnbd: { loglik: before }, stale: true })
    await vi.waitFor(async () => expect((await fitOf()).stale).toBe(false), { timeout: 10_000, interval: 100 })
    expect((await fitOf()).bgnbd.loglik).not.toBe(before)
  })

  it('values a longer horizon more, and a higher discount rate less', async () => {
    const total = async (query: string) =>
      (await get(`${range}&${query}`))
        .json<{ segments: PredictedSegment[] }>()
        .segments.find((segment) => segment.dimension === 'all')?.clv_total as number
    const year = await total('horizon_days=365&discount_rate=0')
    expect(await total('horizon_days=730&discount_rate=0')).toBeGreaterThan(year)
    expect(await total('horizon_days=365&discount_rate=0.5')).toBeLessThan(year)
  })

  it('gives the same segment rows as JSON, CSV and an Arrow stream', async () => {
    const json = (await get(range)).json<{ segments: PredictedSegment[] }>().segments
    const csv = parse<Record<string, unknown>>((await get(`${range}&format=csv`)).body, { columns: true, cast: true })
    const table = tableFromIPC((await get(`${range}&format=arrow`)).rawPayload)
    const arrow = (table.toArray() as { toJSON(): Record<string, unknown> }[]).map((row) => row.toJSON())
    expect(csv).toHaveLength(json.length)
    expect(arrow).toHaveLength(json.length)
    json.forEach((row, i) => {
      for (const [name, value] of Object.entries(row)) {
        const fromCsv = csv[i]?.[name]
        const fromArrow = arrow[i]?.[name]
        if (typeof value === 'number') {
          expect(fromCsv).toBeCloseTo(value, 9)
          expect(fromArrow).toBeCloseTo(value, 9)
        } else {
          expect(String(fromCsv)).toBe(value)
          expect(fromArrow).toBe(value)
        }
      }
    })
  })

  it('refuses, naming what is missing, when the range holds too few customers to fit', async () => {
    const response = await get('from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z')
    expect(response.statusCode).toBe(422)
    const { error } = response.json<{ error: { code: string; message: string } }>()
    expect(error.code).toBe('OMNI_ERR_LTV_NOT_FITTABLE')
    expect(error.message).toContain('at least 20 customers')
    expect((await get(`${range}&horizon_days=0`)).statusCode).toBe(400)
  })
})

describe('predictionFor', () => {
  const rows = drawHistories(200, 11, truth).map((history, index) => {
    const days = [...new Set(history.times.map(Math.floor))].sort((x, y) => x - y)
    const last = days[days.length - 1] as number
    return {
      person_id: `customer:C-${index}`,
      first_purchase: '2026-01-01',
      observed_until: '2027-02-04 00:00:00.000',
      frequency: days.length - 1,
      recency: last - (days[0] as number),
      T: 400 - (days[0] as number),
      monetary_value: days.length > 1 ? 900 + (index % 7) * 50 : 0,
      acquisition_channel: index % 2 === 0 ? 'email' : 'web',
      channels_used: index % 2 === 0 ? 'multichannel' : 'single_channel',
    }
  })
  const options = { horizonDays: 365, annualDiscountRate: 0.1 }

  it('reads and fits the rows once per digest and options, and fits again for other options', async () => {
    let reads = 0
    const load = async () => {
      reads += 1
      return rows
    }
    const first = await predictionFor('range-1', 'digest-a', options, load)
    expect(first.stale).toBe(false)
    expect((await predictionFor('range-1', 'digest-a', options, load)).prediction).toBe(first.prediction)
    expect(reads).toBe(1)
    const other = await predictionFor('range-1', 'digest-a', { ...options, horizonDays: 180 }, load)
    expect(other.prediction).not.toBe(first.prediction)
    expect(reads).toBe(2)
    expect(first.prediction.observedUntil).toBe('2027-02-04 00:00:00.000')
    expect(first.prediction.customers.map((customer) => customer.clv)).toEqual(
      [...first.prediction.customers.map((customer) => customer.clv)].sort((x, y) => y - x),
    )
  })

  it('answers changed rows with the fit it has, marked stale, and refits in the background at most once a minute', async () => {
    let clock = 1_000_000
    const now = () => clock
    let reads = 0
    const load = async () => {
      reads += 1
      return rows
    }
    const first = await predictionFor('range-2', 'digest-a', options, load, { now })
    // Changed rows within the minute: the kept fit, stale, and no refit yet.
    clock += refitEveryMs / 2
    const early = await predictionFor('range-2', 'digest-b', options, load, { now })
    expect([early.prediction, early.stale, reads]).toEqual([first.prediction, true, 1])
    // After the minute: still the kept fit at once, while the refit runs.
    clock += refitEveryMs
    const due = await predictionFor('range-2', 'digest-b', options, load, { now })
    expect([due.prediction, due.stale, reads]).toEqual([first.prediction, true, 2])
    // The refit runs in a worker thread; once it is in, the same request gets it.
    const refitted = await vi.waitFor(
      async () => {
        const answer = await predictionFor('range-2', 'digest-b', options, load, { now })
        expect(answer.stale).toBe(false)
        return answer
      },
      { timeout: 20_000, interval: 50 },
    )
    expect(refitted.prediction).not.toBe(first.prediction)
    expect([refitted.stale, refitted.fittedAt, reads]).toEqual([false, clock, 2])
  })

  it('keeps no failed fit: the next request with the same digest tries again', async () => {
    let reads = 0
    const few = async () => {
      reads += 1
      return rows.slice(0, 5)
    }
    await expect(predictionFor('range-3', 'digest-few', options, few)).rejects.toThrow(/at least/)
    await expect(predictionFor('range-3', 'digest-few', options, few)).rejects.toThrow(/at least/)
    expect(reads).toBe(2)
  })
})
