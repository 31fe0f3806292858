import crypto from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createDemoTouchpointGenerator } from '../producers/demo-traffic.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { event } from '../test/fixtures/events.ts'
import { eventProblem, personalDataIn } from './event-checks.ts'

const hasher = createIdentifierHasher('event-checks-test-secret')

describe('personal data in text', () => {
  it.each([
    ['anna@example.ru', 'an e-mail address'],
    ['Write to Anna.Petrova+shop@mail.example.com today', 'an e-mail address'],
    ['https://shop.example.ru/thanks?email=anna%40example.ru&x=1', 'an e-mail address'],
    ['+79161234567', 'a phone number'],
    ['+7 916 123-45-67', 'a phone number'],
    ['8 (916) 123-45-67', 'a phone number'],
    ['89161234567', 'a phone number'],
    ['79161234567', 'a phone number'],
    ['tel:+44 20 7946 0958', 'a phone number'],
    ['call 8-916-123-45-67 now', 'a phone number'],
  ])('finds it in %j', (text, kind) => {
    expect(personalDataIn(text)).toBe(kind)
  })

  it.each([
    'cookie-1',
    '2770123456789',
    'ORD-2026-000123',
    'https://shop.example.ru/catalog/sneakers?size=42&utm_source=vk',
    '6f1c2d3e-8912-4345-9789-0123456789ab',
    'c1-79161234567x',
    '2026-05-10 12:00:00.000',
    'msk-01',
    '@shop_bot',
    'price 7991234.50',
  ])('finds none in %j', (text) => {
    expect(personalDataIn(text)).toBeUndefined()
  })

  it('finds none in 100,000 hashes and UUIDs, whose digit runs a careless pattern would take for numbers', () => {
    for (let n = 0; n < 50_000; n++) {
      const hash = crypto.randomBytes(32).toString('hex')
      const uuid = crypto.randomUUID()
      if (personalDataIn(hash) !== undefined || personalDataIn(uuid) !== undefined) {
        throw new Error(`taken for personal data: ${hash} / ${uuid}`)
      }
    }
  })
})

describe('the checks of an event', () => {
  it('names the field of each problem', () => {
    expect(eventProblem(event('digital', { identifiers: { email_hash: 'anna@example.ru' } }))).toMatchObject({
      code: 'OMNI_ERR_EVENT_PERSONAL_DATA',
      field: 'identifiers.email_hash',
    })
    expect(eventProblem(event('digital', { value_minor: -1 }))).toMatchObject({
      code: 'OMNI_ERR_EVENT_IMPOSSIBLE',
      field: 'value_minor',
    })
    const item = { sku: 'a', name: 'for x@y.ru', quantity: 1, price_minor: 100, amount_minor: 100 }
    const order = event('order', {
      channel: 'web',
      event_type: 'order_paid',
      placed_channel: 'web',
      amount_minor: 100,
      currency: 'RUB',
      items: [item],
    })
    expect(eventProblem(order)).toMatchObject({ field: 'items[0].name' })
    expect(eventProblem(event('digital', { identifiers: { email_hash: hasher.email('a@b.ru') } }))).toBeUndefined()
  })

  it("passes every event of the simulator and of the demo traffic: the project's own data is never refused", () => {
    const refused: string[] = []
    const check = (item: Parameters<typeof eventProblem>[0]) => {
      const problem = eventProblem(item)
      if (problem !== undefined && refused.length < 5) refused.push(`${problem.field}: ${problem.message}`)
    }
    let count = 0
    simulate(
      { customers: 400, days: 120, seed: 7, hasher },
      {
        event: (item) => {
          count += 1
          check(item)
        },
      },
    )
    const demo = createDemoTouchpointGenerator({ hasher, seed: 3, people: 200 })
    for (let n = 0; n < 20_000; n++) check(demo())
    expect(count).toBeGreaterThan(10_000)
    expect(refused).toEqual([])
  })
})
