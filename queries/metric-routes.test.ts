import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { toAdCostRow } from '../consumers/touchpoint-row.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import type { AdCost } from '../schemas/capture-events.ts'
import { eventAt, webOrder } from '../test/fixtures/events.ts'
import { asReader, openTestStore, testHasher, testLogger } from '../test/helpers.ts'
import { expectRowsAsCsvAndArrow, storeEvents, testApiServer } from '../test/api-fixture.ts'
import { attribute, attributionModels } from './models/attribution.ts'
import { attributionColumns, withCosts, type CreditedChannel } from './attribution-route.ts'

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
 * Four people. Anna clicks an e-mail, browses, and orders online (1,000.00, paid): path email > web > web.
 * Boris gets an SMS and buys in a store a day later (500.00): path sms > store. Vera clicks an e-mail and browses, and
 * buys nothing: email > web, not converted. Gleb browses and orders on the web (200.00): web > web, one channel.
 * E-mail cost 300.00 in the range; SMS cost 50.00 on a day outside it.
 */
/** Anna's e-mail as the collector stores it: normalised and hashed. */
const annaEmail = testHasher.email('anna@example.com') as string

const events = [
  touch('messaging', t0, {
    channel: 'email',
    event_type: 'clicked',
    source: 'esp',
    identifiers: { email_hash: annaEmail },
    utm: { source: 'esp', medium: 'email', campaign: 'spring', content: null, term: null },
    consent: {
      analytics: true,
      marketing_email: true,
      marketing_sms: false,
      marketing_push: null,
      personalisation: null,
    },
  }),
  page(t0 + hour, { anonymous_id: 'ck-anna', email_hash: annaEmail }),
  order(t0 + 2 * hour, 'order_created', 100_000, { customer_id: 'C-anna', email_hash: annaEmail, order_id: 'O-1' }),
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
  page(t0 + 3 * day, { anonymous_id: 'ck-gleb', customer_id: 'C-gleb' }),
  order(t0 + 3 * day + hour, 'order_created', 20_000, { customer_id: 'C-gleb', order_id: 'O-2' }),
  order(t0 + 3 * day + hour + 60_000, 'order_paid', 20_000, { customer_id: 'C-gleb', order_id: 'O-2' }),
]
/** The four journeys; `ages` are each touch's days before the journey's end (time decay counts in days). */
const expectedPaths = [
  { channels: ['email', 'web', 'web'], ages: [2 / 24, 1 / 24, 0], conversions: 1, value: 1000, nulls: 0 },
  { channels: ['sms', 'store'], ages: [1, 0], conversions: 1, value: 500, nulls: 0 },
  { channels: ['email', 'web'], ages: [1 / 24, 0], conversions: 0, value: 0, nulls: 1 },
  { channels: ['web', 'web'], ages: [1 / 24, 0], conversions: 1, value: 200, nulls: 0 },
]

describe('metric routes over journeys stored in the real ClickHouse engine', () => {
  let store: Store
  let app: FastifyInstance
  const range = 'from=2026-04-25T00:00:00Z&to=2026-05-10T00:00:00Z'

  beforeAll(async () => {
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    await storeEvents(store, events)
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
    app = await testApiServer(store)
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
    expect([body.journeys, body.conversions, body.value, body.spend]).toEqual([4, 3, 1700, 300])
    expect(body.models.map((entry) => entry.model)).toEqual([...attributionModels])
    const spend = new Map([['email', 300]])
    for (const entry of body.models) {
      const expected = withCosts(
        attribute(expectedPaths, entry.model as (typeof attributionModels)[number], { order: 2 }).channels,
        spend,
        3,
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
    // Last touch by hand: web has Anna's and Gleb's orders (1,200.00), store Boris's receipt (500.00); e-mail gets none
    // of it but spent 300.00: no CPA, ROAS 0, ROMI -1.
    const lastTouch = body.models.find((entry) => entry.model === 'last_touch')?.channels ?? []
    expect(lastTouch.find((credit) => credit.channel === 'web')).toMatchObject({ conversions: 2, value: 1200 })
    expect(lastTouch.find((credit) => credit.channel === 'web')?.share).toBeCloseTo(2 / 3, 12)
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

  it('answers a range of whole days (models worked out in the engine) as a range of hours (paths read) over the same journeys', async () => {
    // Whole days read the daily aggregates and the engine credits them; hours read the events' paths and run the
    // models here. Both ranges hold the same journeys (and the same days of spend).
    const ask = async (query: string) => {
      const response = await app.inject({
        url: `/v1/attribution?${query}&order=3&position_weights=30/50/20`,
        headers: asReader,
      })
      expect(response.statusCode, response.body).toBe(200)
      return response.json<{
        journeys: number
        conversions: number
        models: { model: string; channels: CreditedChannel[] }[]
      }>()
    }
    const [days, hours] = await Promise.all([ask(range), ask('from=2026-04-25T06:00:00Z&to=2026-05-09T18:00:00Z')])
    expect(hours.journeys).toBe(days.journeys)
    expect(hours.conversions).toBe(days.conversions)
    for (const entry of days.models) {
      const other = hours.models.find((item) => item.model === entry.model)?.channels ?? []
      const credits = (channels: CreditedChannel[]) =>
        channels.map((credit) => `${credit.channel} ${credit.conversions.toFixed(9)} ${credit.value.toFixed(6)}`).sort()
      expect(credits(entry.channels), entry.model).toEqual(credits(other))
      expect(
        entry.channels.some((credit) => credit.conversions > 0),
        entry.model,
      ).toBe(true)
    }
  })

  it('gives the same rows as JSON, CSV and an Arrow stream, asked by parameter or by Accept header', async () => {
    const url = `/v1/attribution?${range}&models=last_touch,markov`
    const json = (await app.inject({ url, headers: asReader })).json<{
      models: { model: string; channels: CreditedChannel[] }[]
    }>()
    const expected = json.models.flatMap((entry) => entry.channels.map((credit) => ({ model: entry.model, ...credit })))
    expect(expected.length).toBeGreaterThan(3)
    await expectRowsAsCsvAndArrow(app, url, attributionColumns, expected)
  })

  it('shows channel switching as worked by hand', async () => {
    const response = await app.inject({ url: `/v1/channel-switch?${range}`, headers: asReader })
    expect(response.statusCode).toBe(200)
    const body = response.json<Record<string, unknown>>()
    // Touches: Anna email → web (1 h) → web (1 h); Boris sms → store (24 h); Vera email → web (1 h); Gleb web → web.
    expect(body['transitions']).toEqual([
      { from_channel: 'email', to_channel: 'web', transitions: 2, probability: 1, median_hours: 1 },
      { from_channel: 'web', to_channel: 'web', transitions: 2, probability: 1, median_hours: null },
      { from_channel: 'sms', to_channel: 'store', transitions: 1, probability: 1, median_hours: 24 },
    ])
    expect(body['switches']).toEqual({ total: 3, online_to_offline: 1, offline_to_online: 0, median_hours_between: 1 })
    expect(body['multichannel']).toEqual({
      journeys: 4,
      multichannel_journeys: 3,
      journey_share: 0.75,
      customers: 4,
      multichannel_customers: 3,
      customer_share: 0.75,
    })
    // Anna and Boris converted among the three multichannel customers (1,000 + 500); Gleb alone in one channel (200).
    expect(body['segments']).toEqual([
      {
        segment: 'multichannel',
        customers: 3,
        converted_customers: 2,
        orders: 2,
        revenue: 1500,
        conversion_rate: 2 / 3,
        average_order_value: 750,
        revenue_per_customer: 500,
      },
      {
        segment: 'single_channel',
        customers: 1,
        converted_customers: 1,
        orders: 1,
        revenue: 200,
        conversion_rate: 1,
        average_order_value: 200,
        revenue_per_customer: 200,
      },
    ])
    expect(body['top_paths']).toEqual([
      { path: ['email', 'web'], journeys: 2, conversions: 1, revenue: 1000 },
      { path: ['sms', 'store'], journeys: 1, conversions: 1, revenue: 500 },
    ])
    expect(body['flows']).toEqual([
      { source: '1. email', target: '2. web', value: 2 },
      { source: '1. sms', target: '2. store', value: 1 },
    ])
    const csv = await app.inject({ url: `/v1/channel-switch?${range}&format=csv`, headers: asReader })
    expect(csv.body).toBe(
      'from_channel,to_channel,transitions,probability,median_hours\nemail,web,2,1,1\nweb,web,2,1,\nsms,store,1,1,24\n',
    )
  })

  it('finds a customer by any identifier, a raw e-mail hashed as at capture, and shows their profile', async () => {
    const profile = async (identifier: string) =>
      app.inject({ url: `/v1/persons/${encodeURIComponent(identifier)}`, headers: asReader })
    const byEmail = await profile('email: Anna@Example.com ')
    expect(byEmail.statusCode, byEmail.body).toBe(200)
    const body = byEmail.json<Record<string, unknown>>()
    for (const other of ['customer:C-anna', 'cookie:ck-anna', 'order:O-1', String(body['person_id'])]) {
      expect((await profile(other)).json<{ person_id: string }>().person_id, other).toBe(body['person_id'])
    }
    expect(body).toMatchObject({
      events: 4,
      channels: ['email', 'web'],
      orders: 1,
      revenue: 1000,
      price_band: 'high',
      favourite_categories: [],
      consent: { analytics: true, marketing_email: true, marketing_sms: false },
    })
    expect((body['identifiers'] as { identifier: string }[]).map((entry) => entry.identifier).sort()).toEqual(
      ['anonymous_id:ck-anna', 'customer_id:C-anna', `email_hash:${annaEmail}`, 'order_id:O-1'].sort(),
    )
    expect(
      (body['orders_list'] as { order_key: string; revenue: number }[]).map((order) => [
        order.order_key,
        order.revenue,
      ]),
    ).toEqual([['O-1', 1000]])
    expect((body['timeline'] as { event_type: string }[]).map((event) => event.event_type)).toEqual([
      'order_paid',
      'order_created',
      'page_view',
      'clicked',
    ])
    const unknown = await profile('customer:C-nobody')
    expect(unknown.statusCode).toBe(404)
    const badKind = await profile('passport:123')
    expect(badKind.statusCode).toBe(400)
    expect(badKind.json<{ error: { message: string } }>().error.message).toMatch(/"identifier": expected kind:value/)
    expect((await profile('email:not-an-address')).statusCode).toBe(400)
  })

  it('lists the top paths, all or by outcome', async () => {
    const top = async (query: string) =>
      (await app.inject({ url: `/v1/paths/top?${range}${query}`, headers: asReader })).json<{
        paths: { path: string; journeys: number; conversions: number; conversion_rate: number; revenue: number }[]
      }>().paths
    expect(await top('')).toEqual([
      { path: 'email > web', steps: 2, journeys: 2, conversions: 1, conversion_rate: 0.5, revenue: 1000 },
      { path: 'sms > store', steps: 2, journeys: 1, conversions: 1, conversion_rate: 1, revenue: 500 },
      { path: 'web', steps: 1, journeys: 1, conversions: 1, conversion_rate: 1, revenue: 200 },
    ])
    expect((await top('&outcome=not_converted')).map((row) => [row.path, row.journeys])).toEqual([['email > web', 1]])
    expect((await top('&limit=1')).map((row) => row.path)).toEqual(['email > web'])
  })

  it('counts persons through a funnel of event types, in every channel or one', async () => {
    const funnel = async (query: string) => app.inject({ url: `/v1/funnels?${range}&${query}`, headers: asReader })
    // Anna clicks, views and orders; Vera clicks and views; Boris and Gleb never click: 4 persons, 2 at step 1.
    const all = await funnel('steps=clicked,page_view,order_created')
    expect(all.statusCode, all.body).toBe(200)
    expect(all.json()).toMatchObject({
      persons_with_events: 4,
      steps: [
        { step: 1, event_type: 'clicked', persons: 2, conversion_from_previous: 0.5, conversion_from_first: 1 },
        { step: 2, event_type: 'page_view', persons: 2, conversion_from_previous: 1, conversion_from_first: 1 },
        { step: 3, event_type: 'order_created', persons: 1, conversion_from_previous: 0.5, conversion_from_first: 0.5 },
      ],
    })
    // On the web alone: Anna, Vera and Gleb view; Anna and Gleb order.
    const web = await funnel('steps=page_view,order_created&channel=web&format=csv')
    expect(web.body).toBe(
      'step,event_type,persons,conversion_from_previous,conversion_from_first\n1,page_view,3,1,1\n2,order_created,2,0.6666666666666666,0.6666666666666666\n',
    )
    expect((await funnel('steps=clicked')).statusCode).toBe(400)
    expect((await funnel('steps=clicked,clicked')).json<{ error: { message: string } }>().error.message).toMatch(
      /"steps": a step is repeated/,
    )
  })

  it('gives historical LTV by cohort, acquisition channel and number of channels used', async () => {
    const response = await app.inject({ url: `/v1/ltv?${range}`, headers: asReader })
    expect(response.statusCode, response.body).toBe(200)
    const rows = response.json<{ segments: Record<string, unknown>[] }>().segments
    const at30 = rows.filter((row) => row['horizon_days'] === 30)
    // First purchases: Anna 1,000 (first touch e-mail, two channels), Boris 500 (SMS, two), Gleb 200 (web, one).
    expect(
      at30.map((row) => [row['dimension'], row['segment'], row['customers'], row['ltv_gross'], row['ltv_net']]),
    ).toEqual([
      ['acquisition_channel', 'email', 1, 1000, 1000],
      ['acquisition_channel', 'sms', 1, 500, 500],
      ['acquisition_channel', 'web', 1, 200, 200],
      ['channels_used', 'multichannel', 2, 750, 750],
      ['channels_used', 'single_channel', 1, 200, 200],
      ['cohort', '2026-05-01', 3, 1700 / 3, 1700 / 3],
    ])
    expect(rows.filter((row) => row['segment'] === '2026-05-01').map((row) => row['horizon_days'])).toEqual([
      30, 90, 180, 365,
    ])
    // The newest order is three days after the first: no customer has had 30 days yet.
    expect(rows.every((row) => row['matured'] === 0)).toBe(true)
  })

  it('makes path steps of channel and campaign, or of the channels asked for only', async () => {
    const credits = async (query: string) =>
      Object.fromEntries(
        (await app.inject({ url: `/v1/attribution?${range}&${query}`, headers: asReader }))
          .json<{ models: { channels: CreditedChannel[] }[] }>()
          .models[0]?.channels.map((credit) => [credit.channel, [credit.conversions, credit.value]]) ?? [],
      )
    // The e-mail spend is on campaign "spring": it meets the credit of the same step.
    expect(await credits('models=first_touch&group_by=channel_campaign')).toEqual({
      'email / spring': [1, 1000],
      'sms / (none)': [1, 500],
      'web / (none)': [1, 200],
    })
    // Only e-mail and SMS touches: Anna's journey is [email], Boris's [sms], Vera's [email]; Gleb's has none left.
    const response = await app.inject({
      url: `/v1/attribution?${range}&models=last_touch&channels=email,sms`,
      headers: asReader,
    })
    expect(response.json<{ journeys: number }>().journeys).toBe(3)
    expect(await credits('models=last_touch&channels=email,sms')).toEqual({ email: [1, 1000], sms: [1, 500] })
  })

  it('weighs touches by their age in days under time decay, with repeats kept or collapsed', async () => {
    const decay = async (query: string) =>
      (await app.inject({ url: `/v1/attribution?${range}&models=time_decay&${query}`, headers: asReader })).json<{
        models: { channels: CreditedChannel[] }[]
      }>().models[0]?.channels ?? []
    // Half-life 1 day: Boris's SMS, a day before his receipt, weighs 1/2 against the receipt's 1: a third of it.
    const halfDay = await decay('half_life=1')
    const sms = halfDay.find((credit) => credit.channel === 'sms')
    expect(sms?.conversions).toBeCloseTo(1 / 3, 12)
    expect(sms?.value).toBeCloseTo(500 / 3, 9)
    for (const collapse of [false, true]) {
      const expected = attribute(expectedPaths, 'time_decay', { halfLife: 1, collapseRepeats: collapse }).channels
      const got = await decay(`half_life=1&collapse_repeats=${collapse}`)
      expect(got.map((credit) => credit.channel)).toEqual(expected.map((credit) => credit.channel))
      expected.forEach((credit, i) => {
        expect(got[i]?.conversions).toBeCloseTo(credit.conversions, 9)
        expect(got[i]?.value).toBeCloseTo(credit.value, 6)
      })
    }
  })

  it('builds journeys for the conversion types and lookback window a request asks for', async () => {
    const ask = async (query: string) =>
      (
        await app.inject({ url: `/v1/attribution?${range}&models=first_touch,last_touch&${query}`, headers: asReader })
      ).json<{
        conversion_types: string[]
        lookback_days: number
        journeys: number
        conversions: number
        value: number
        models: { model: string; channels: CreditedChannel[] }[]
      }>()
    const byChannel = (answer: Awaited<ReturnType<typeof ask>>, model: string) =>
      Object.fromEntries(
        (answer.models.find((entry) => entry.model === model)?.channels ?? [])
          .filter((credit) => credit.conversions > 0)
          .map((credit) => [credit.channel, [credit.conversions, credit.value]]),
      )
    // The stored settings: online orders and receipts convert, 30 days back.
    const stored = await ask('')
    expect([stored.conversion_types, stored.lookback_days]).toEqual([['order_created', 'pos_receipt'], 30])
    expect(byChannel(stored, 'first_touch')).toEqual({ email: [1, 1000], sms: [1, 500], web: [1, 200] })
    // Only store receipts: Anna's and Gleb's orders are touches of journeys that did not convert.
    const receipts = await ask('conversion_types=pos_receipt')
    expect([receipts.journeys, receipts.conversions, receipts.value]).toEqual([4, 1, 500])
    expect(byChannel(receipts, 'last_touch')).toEqual({ store: [1, 500] })
    // Half a day back: Boris's SMS, a day before his receipt, falls out of his journey.
    const halfDay = await ask('lookback_days=0.5')
    expect(halfDay.lookback_days).toBe(0.5)
    expect(byChannel(halfDay, 'first_touch')).toEqual({ email: [1, 1000], store: [1, 500], web: [1, 200] })
    // Asked explicitly with the stored values, the built journeys give what the stored ones give.
    const rebuilt = await ask('conversion_types=pos_receipt,order_created&lookback_days=29.9999')
    expect(byChannel(rebuilt, 'first_touch')).toEqual(byChannel(stored, 'first_touch'))
    expect([rebuilt.journeys, rebuilt.conversions, rebuilt.value]).toEqual([4, 3, 1700])
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
