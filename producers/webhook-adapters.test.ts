import { describe, expect, it } from 'vitest'
import {
  eventIdOf,
  type CallEvent,
  type CapturedEvent,
  type MarketplaceEvent,
  type MessagingEvent,
  type SocialEvent,
} from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { intakeEvent } from './event-intake.ts'
import { createIdentifierHasher } from './identifier-hashing.ts'
import { roublesToKopecks, webhookAdapters } from './webhook-adapters.ts'

const hasher = createIdentifierHasher('a-test-secret-of-16+chars')
const registry = createEmbeddedSchemaRegistry()
const receivedAt = Date.parse('2026-11-20T12:00:00Z')

interface Families {
  call: CallEvent
  social: SocialEvent
  messaging: MessagingEvent
  marketplace: MarketplaceEvent
}

/** Runs a payload through its adapter and the intake, as `POST /v1/webhooks/:source` does; fails on any rejection. */
async function receive(source: string, payload: unknown): Promise<CapturedEvent[]> {
  const adapter = webhookAdapters[source]
  if (adapter === undefined) throw new Error(`no adapter ${source}`)
  const mapped = adapter(payload)
  if (!mapped.ok) throw new Error(`adapter refused the payload: ${mapped.error}`)
  const events: CapturedEvent[] = []
  for (const input of mapped.events) {
    const outcome = await intakeEvent(input, { registry, hasher, source: `default:${source}`, now: () => receivedAt })
    if (!outcome.ok) throw new Error(`intake refused an event: ${JSON.stringify(outcome.errors)}`)
    events.push(outcome.event)
  }
  return events
}

/** The events of one family, typed; fails if any event is of another family. */
async function receiveAs<F extends keyof Families>(
  family: F,
  source: string,
  payload: unknown,
): Promise<Families[F][]> {
  const events = await receive(source, payload)
  for (const event of events) expect(event.family).toBe(family)
  return events.map((event) => event.value as Families[F])
}

/** What the adapter says about a payload it cannot use. */
function refusal(source: string, payload: unknown): string {
  const outcome = webhookAdapters[source]?.(payload)
  if (outcome === undefined || outcome.ok) throw new Error(`${source} accepted ${JSON.stringify(payload)}`)
  return outcome.error
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const call = {
  call_id: '98431',
  caller_phone: '+7 916 123-45-67',
  tracking_number: '+7 800 555-01-01',
  start_time: '2026-11-20T10:15:00+03:00',
  duration: 184,
  status: 'answered',
  agent_id: 'op-7',
  is_first_call: true,
  utm_source: 'yandex',
  utm_medium: 'cpc',
  utm_campaign: 'autumn',
}

const chat = {
  platform: 'telegram',
  chat_id: '5550001',
  message_id: '77',
  direction: 'inbound',
  time: '2026-11-20T10:20:00Z',
  first_message: true,
  sender_phone: '8 (916) 123-45-67',
  bot_id: 'shop_bot',
}

const deliveries = [
  {
    event: 'opened',
    email: 'Anna.Petrova@Example.ru',
    campaign_id: 'weekly-47',
    message_id: 'msg-1',
    timestamp: '2026-11-20T09:00:00Z',
    provider: 'unisender',
  },
  {
    event: 'clicked',
    email: 'Anna.Petrova@Example.ru',
    campaign_id: 'weekly-47',
    message_id: 'msg-1',
    timestamp: '2026-11-20T09:02:10Z',
    url: 'https://shop.example.ru/sale?utm_source=email',
    provider: 'unisender',
  },
  { event: 'delivered', channel: 'sms', phone: '+79161234567', message_id: 'sms-9', provider: 'smsc' },
]

const order = {
  marketplace: 'ozon',
  order_id: '0112-3345',
  status: 'paid',
  time: '2026-11-20T11:00:00Z',
  items: [
    { sku: 'A-1', name: 'Sneakers', quantity: 1, price: '4999.90' },
    { sku: 'B-2', name: 'Socks', quantity: 2, price: 199.99 },
  ],
  total: '5399.88',
  currency: 'RUB',
  buyer_phone: '+7 (916) 123-45-67',
}

describe('the call-tracking adapter', () => {
  it('turns a finished call into a call_ended event with its number, outcome, agent and campaign', async () => {
    const [event] = await receiveAs('call', 'call-tracking', call)
    expect(event).toMatchObject({
      channel: 'call_center',
      event_type: 'call_ended',
      event_time: Date.parse('2026-11-20T07:15:00Z'),
      received_at: receivedAt,
      source: 'default:call-tracking',
      call_id: '98431',
      tracking_number: '+7 800 555-01-01',
      duration_seconds: 184,
      outcome: 'answered',
      agent_id: 'op-7',
      first_call: true,
      utm: { source: 'yandex', medium: 'cpc', campaign: 'autumn', content: null, term: null },
    })
    expect(event?.event_id).toMatch(uuid)
    expect(event?.identifiers.phone_hash).toBe(hasher.phone('+79161234567'))
  })

  it('turns a call without duration or status into a call_started event, a different event from its end', async () => {
    const [started] = await receiveAs('call', 'call-tracking', { call_id: '98431', caller_phone: '+79161234567' })
    const [ended] = await receiveAs('call', 'call-tracking', call)
    expect(started).toMatchObject({ event_type: 'call_started', duration_seconds: null, outcome: null })
    expect(started?.event_id).not.toBe(ended?.event_id)
  })

  it('refuses a notification without a call id, or with a duration that is not a number', () => {
    expect(refusal('call-tracking', { ...call, call_id: undefined })).toBe('call_id: expected a non-empty string')
    expect(refusal('call-tracking', { ...call, duration: 'long' })).toBe('duration: expected a number (got "long")')
  })
})

describe('the messenger adapter', () => {
  it('turns the first inbound message of a chat into a chat_started event on the messenger channel', async () => {
    const [event] = await receiveAs('social', 'messenger', chat)
    expect(event).toMatchObject({
      channel: 'messenger',
      event_type: 'chat_started',
      event_time: Date.parse('2026-11-20T10:20:00Z'),
      platform: 'telegram',
      conversation_id: '5550001',
      direction: 'inbound',
      account_id: 'shop_bot',
    })
    expect(event?.identifiers.phone_hash).toBe(hasher.phone('+79161234567'))
  })

  it('turns an array of messages into one event each: a reply, a plain message and a bot lead', async () => {
    const events = await receiveAs('social', 'messenger', [
      { platform: 'whatsapp', chat_id: 'c-9', message_id: 'm-1', direction: 'outbound', first_message: false },
      { platform: 'max', chat_id: 'c-10', message_id: 'm-2', direction: 'inbound' },
      { platform: 'vk', chat_id: 'c-11', message_id: 'm-3', direction: 'inbound', lead: true, sender_phone: null },
    ])
    expect(events.map((event) => [event.platform, event.direction, event.event_type])).toEqual([
      ['whatsapp', 'outbound', 'message'],
      ['max', 'inbound', 'message'],
      ['vk', 'inbound', 'bot_lead'],
    ])
    expect(events[2]?.identifiers.phone_hash).toBeNull()
  })

  it('refuses a message without an id, naming the message by its place in the array', () => {
    expect(refusal('messenger', [chat, { platform: 'vk', chat_id: '1' }])).toBe(
      '[1].message_id: expected a non-empty string',
    )
    expect(refusal('messenger', { platform: 'vk', chat_id: '1' })).toBe('message_id: expected a non-empty string')
  })

  it('refuses a direction other than inbound or outbound', () => {
    expect(refusal('messenger', { ...chat, direction: 'sideways' })).toBe(
      'direction: expected one of inbound, outbound (got "sideways")',
    )
  })
})

describe('the email-service adapter', () => {
  it('turns delivery events into messaging events on the e-mail and SMS channels', async () => {
    const events = await receiveAs('messaging', 'email-service', deliveries)
    expect(events.map((event) => [event.channel, event.event_type, event.provider_message_id])).toEqual([
      ['email', 'opened', 'msg-1'],
      ['email', 'clicked', 'msg-1'],
      ['sms', 'delivered', 'sms-9'],
    ])
    expect(events[1]).toMatchObject({
      event_time: Date.parse('2026-11-20T09:02:10Z'),
      campaign_id: 'weekly-47',
      provider: 'unisender',
      link_url: 'https://shop.example.ru/sale?utm_source=email',
    })
    expect(events[0]?.identifiers.email_hash).toBe(hasher.email('anna.petrova@example.ru'))
    expect(events[2]?.identifiers.phone_hash).toBe(hasher.phone('+79161234567'))
  })

  it('gives the open and the click of one message two different events', async () => {
    const [opened, clicked] = await receiveAs('messaging', 'email-service', deliveries)
    expect(opened?.event_id).not.toBe(clicked?.event_id)
  })

  it('refuses an unknown event or channel, naming the delivery it is in', () => {
    expect(refusal('email-service', [{ event: 'exploded', message_id: 'x' }])).toBe(
      '[0].event: expected one of sent, delivered, opened, clicked, unsubscribed, bounced (got "exploded")',
    )
    expect(refusal('email-service', [deliveries[0], { ...deliveries[2], channel: 'fax' }])).toBe(
      '[1].channel: expected one of email, sms, push (got "fax")',
    )
  })
})

describe('the marketplace adapter', () => {
  it('turns a paid order into an order_paid event with prices exact to the kopeck', async () => {
    const [event] = await receiveAs('marketplace', 'marketplace', order)
    expect(event).toMatchObject({
      channel: 'marketplace',
      event_type: 'order_paid',
      event_time: Date.parse('2026-11-20T11:00:00Z'),
      marketplace: 'ozon',
      marketplace_order_id: '0112-3345',
      amount_minor: 539_988,
      currency: 'RUB',
      items: [
        { sku: 'A-1', name: 'Sneakers', quantity: 1, price_minor: 499_990, amount_minor: 499_990 },
        { sku: 'B-2', name: 'Socks', quantity: 2, price_minor: 19_999, amount_minor: 39_998 },
      ],
    })
    expect(event?.identifiers.phone_hash).toBe(hasher.phone('+79161234567'))
  })

  it.each([
    ['created', 'order_created'],
    ['paid', 'order_paid'],
    ['cancelled', 'order_cancelled'],
    ['returned', 'order_returned'],
  ])('turns the status %s into an %s event', async (status, eventType) => {
    const [event] = await receiveAs('marketplace', 'marketplace', { ...order, status })
    expect(event?.event_type).toBe(eventType)
  })

  it('sums the items when there is no total, and takes RUB when there is no currency', async () => {
    const untotalled = { ...order, total: undefined, currency: undefined }
    const [event] = await receiveAs('marketplace', 'marketplace', untotalled)
    expect(event).toMatchObject({ amount_minor: 539_988, currency: 'RUB' })
  })

  it('refuses a price with fractions of a kopeck, an unknown status or a missing order id', () => {
    expect(refusal('marketplace', { ...order, items: [order.items[0], { sku: 'C', price: '12.345' }] })).toBe(
      'items[1].price: expected an amount in roubles such as 199.99 (got "12.345")',
    )
    expect(refusal('marketplace', { ...order, status: 'lost' })).toBe(
      'status: expected one of created, paid, cancelled, returned (got "lost")',
    )
    expect(refusal('marketplace', { ...order, order_id: '' })).toBe('order_id: expected a non-empty string')
  })
})

/** Each source's sample and the raw identifiers in it, in the forms they could leak in. */
const samples: [source: string, payload: unknown, raw: string[]][] = [
  ['call-tracking', call, ['+7 916 123-45-67', '79161234567', '9161234567']],
  ['messenger', chat, ['8 (916) 123-45-67', '89161234567', '9161234567']],
  ['email-service', deliveries, ['Anna.Petrova@Example.ru', 'anna.petrova@example.ru', 'Petrova', '9161234567']],
  ['marketplace', order, ['+7 (916) 123-45-67', '79161234567', '9161234567']],
]

describe('every webhook adapter', () => {
  it('is one of exactly the four documented sources', () => {
    expect(Object.keys(webhookAdapters).sort()).toEqual(['call-tracking', 'email-service', 'marketplace', 'messenger'])
  })

  it.each(samples)('%s keeps no raw phone or e-mail anywhere in its events', async (source, payload, raw) => {
    const text = JSON.stringify(await receive(source, payload))
    for (const value of raw) expect(text, value).not.toContain(value)
  })

  it.each(samples)('%s gives a redelivered payload the same event ids', async (source, payload) => {
    const ids = async () => (await receive(source, payload)).map(eventIdOf)
    const first = await ids()
    expect(first.every((id) => typeof id === 'string' && uuid.test(id))).toBe(true)
    expect(await ids()).toEqual(first)
  })

  it.each(samples)('%s refuses a payload that is not an object', (source) => {
    expect(refusal(source, 'not json')).toMatch(/^\(payload\): expected an object/)
    expect(refusal(source, null)).toMatch(/^\(payload\): expected an object/)
  })
})

describe('roublesToKopecks', () => {
  it.each([
    ['199.99', 19_999],
    [199.99, 19_999],
    [4.35, 435],
    [19.99, 1_999],
    ['4999.9', 499_990],
    ['1 299,50', 129_950],
    ['7', 700],
    [0, 0],
    ['-0.5', -50],
  ])('converts %j roubles to %i kopecks exactly', (value, kopecks) => {
    expect(roublesToKopecks(value, 'price')).toBe(kopecks)
  })

  it.each([[12.345], ['12.345'], ['1e3'], ['abc'], [''], [null], ['99999999999999999']])(
    'refuses %j rather than rounding or guessing',
    (value) => {
      expect(() => roublesToKopecks(value, 'price')).toThrow(/^price: expected an amount in roubles/)
    },
  )
})
