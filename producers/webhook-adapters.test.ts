import { describe, expect, it } from 'vitest'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { intakeEvent } from './event-intake.ts'
import { createIdentifierHasher } from './identifier-hashing.ts'
import { roublesToKopecks, webhookAdapters } from './webhook-adapters.ts'

const context = {
  registry: createEmbeddedSchemaRegistry(),
  hasher: createIdentifierHasher('webhook-test-secret-0123'),
  source: 'default:webhook',
}

/** Runs a payload through its adapter and the intake, as `POST /v1/webhooks/:source` does. */
async function receive(source: string, payload: unknown): Promise<CapturedEvent[]> {
  const adapter = webhookAdapters[source]
  if (adapter === undefined) throw new Error(`no adapter ${source}`)
  const mapped = adapter(payload)
  if (!mapped.ok) throw new Error(mapped.error)
  const events: CapturedEvent[] = []
  for (const input of mapped.events) {
    const outcome = await intakeEvent(input, context)
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.errors))
    events.push(outcome.event)
  }
  return events
}

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
  sender_phone: '89161234567',
}
const deliveries = [
  {
    event: 'opened',
    email: 'Anna@Example.ru',
    campaign_id: 'weekly-47',
    message_id: 'msg-1',
    timestamp: '2026-11-20T09:00:00Z',
    provider: 'unisender',
  },
  { event: 'clicked', channel: 'sms', phone: '+79161234567', message_id: 'sms-9', url: 'https://shop.local/' },
]
const order = {
  marketplace: 'ozon',
  order_id: '0112-3345',
  status: 'paid',
  created_at: '2026-11-20T11:00:00Z',
  items: [
    { sku: 'A-1', name: 'Sneakers', quantity: 1, price: '4999.90' },
    { sku: 'B-2', quantity: 2, price: 199.99 },
  ],
  total: '5399.88',
  buyer_phone: '+7 (916) 123-45-67',
}

describe('webhook adapters', () => {
  it('turn a call-tracking notification into an ended call with its campaign', async () => {
    const [event] = await receive('call-tracking', call)
    expect(event?.family).toBe('call')
    if (event?.family !== 'call') return
    expect(event.value).toMatchObject({
      channel: 'call_center',
      event_type: 'call_ended',
      event_time: Date.parse('2026-11-20T07:15:00Z'),
      call_id: '98431',
      duration_seconds: 184,
      outcome: 'answered',
      first_call: true,
      utm: { source: 'yandex', medium: 'cpc', campaign: 'autumn' },
    })
    expect(event.value.identifiers.phone_hash).toBe(context.hasher.phone('89161234567'))
  })

  it('turn a messenger message into a chat start on the messenger channel', async () => {
    const [event] = await receive('messenger', chat)
    expect(event?.family === 'social' && event.value).toMatchObject({
      channel: 'messenger',
      event_type: 'chat_started',
      platform: 'telegram',
      conversation_id: '5550001',
      direction: 'inbound',
    })
    const [lead] = await receive('messenger', [{ ...chat, message_id: '78', first_message: false, lead: true }])
    expect(lead?.family === 'social' && lead.value.event_type).toBe('bot_lead')
  })

  it('turn e-mail service events into messaging events of the right channel', async () => {
    const events = await receive('email-service', deliveries)
    expect(
      events.map((event) => event.family === 'messaging' && [event.value.channel, event.value.event_type]),
    ).toEqual([
      ['email', 'opened'],
      ['sms', 'clicked'],
    ])
    expect(events[0]?.family === 'messaging' && events[0].value.identifiers.email_hash).toBe(
      context.hasher.email('anna@example.ru'),
    )
    expect(events[0]?.family === 'messaging' && events[0].value.provider_message_id).toBe('msg-1')
  })

  it('turn a marketplace order into a paid order with prices exact to the kopeck', async () => {
    const [event] = await receive('marketplace', order)
    expect(event?.family === 'marketplace' && event.value).toMatchObject({
      event_type: 'order_paid',
      marketplace: 'ozon',
      marketplace_order_id: '0112-3345',
      amount_minor: 539_988,
      currency: 'RUB',
      items: [
        { sku: 'A-1', quantity: 1, price_minor: 499_990, amount_minor: 499_990 },
        { sku: 'B-2', quantity: 2, price_minor: 19_999, amount_minor: 39_998 },
      ],
    })
  })

  it.each([
    ['call-tracking', call],
    ['messenger', chat],
    ['email-service', deliveries],
    ['marketplace', order],
  ])('%s: keeps no raw phone or e-mail, and a redelivered payload is the same event', async (source, payload) => {
    const first = await receive(source, payload)
    const again = await receive(source, payload)
    const text = JSON.stringify(first)
    for (const raw of ['916', 'Anna', 'anna@', 'example.ru']) expect(text.includes(raw), raw).toBe(false)
    const ids = (events: CapturedEvent[]) =>
      events.map((event) => (event.family === 'ad-cost' ? '' : event.value.event_id))
    expect(ids(again)).toEqual(ids(first))
  })

  it.each([
    ['call-tracking', { duration: 5 }, 'call_id: expected a non-empty string'],
    ['messenger', [{ platform: 'vk', chat_id: '1' }], '[0].message_id: expected a non-empty string'],
    ['email-service', [{ event: 'exploded', message_id: 'x' }], '[0].event: expected one of sent, delivered'],
    [
      'marketplace',
      { ...order, items: [{ sku: 'A', price: '12.345' }] },
      'items[0].price: expected an amount in roubles',
    ],
    ['marketplace', 'not json', '(payload): expected an object'],
  ])('%s: refuses an unusable payload naming the field', (source, payload, message) => {
    const outcome = webhookAdapters[source]?.(payload)
    expect(outcome?.ok).toBe(false)
    if (outcome && !outcome.ok) expect(outcome.error).toContain(message)
  })

  it.each([
    ['199.99', 19_999],
    [199.99, 19_999],
    ['1 299,50', 129_950],
    ['7', 700],
    ['-0.5', -50],
  ])('converts %j roubles to %i kopecks exactly', (value, kopecks) => {
    expect(roublesToKopecks(value, 'price')).toBe(kopecks)
  })
})
