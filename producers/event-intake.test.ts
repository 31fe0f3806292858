import { describe, expect, it } from 'vitest'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { deterministicEventId, inferFamily, intakeEvent, type IntakeContext } from './event-intake.ts'
import { createIdentifierHasher } from './identifier-hashing.ts'

const context: IntakeContext = {
  registry: createEmbeddedSchemaRegistry(),
  hasher: createIdentifierHasher('intake-test-secret-0123'),
  source: 'site',
  now: () => Date.parse('2026-11-22T12:00:00Z'),
}

const samples: [string, Record<string, unknown>][] = [
  [
    'web page view',
    {
      channel: 'web',
      event_type: 'page_view',
      page_url: 'https://shop.example.ru/',
      utm: { source: 'yandex', medium: 'cpc' },
      click_ids: { yclid: '123' },
    },
  ],
  ['app install', { channel: 'app', event_type: 'app_install', identifiers: { device_id: 'idfa-1' }, platform: 'ios' }],
  ['social ad click', { channel: 'social', event_type: 'ad_click', platform: 'vk', campaign_id: 'c1' }],
  [
    'messenger bot lead',
    { channel: 'messenger', event_type: 'bot_lead', platform: 'telegram', identifiers: { phone: '8 916 123-45-67' } },
  ],
  [
    'e-mail click',
    { channel: 'email', event_type: 'clicked', campaign_id: 'weekly', identifiers: { email: 'A@B.ru' } },
  ],
  ['push open', { channel: 'push', event_type: 'opened', campaign_id: 'p1' }],
  [
    'call',
    {
      channel: 'call_center',
      event_type: 'call_ended',
      call_id: 'c1',
      duration_seconds: 61,
      outcome: 'answered',
      first_call: true,
    },
  ],
  [
    'store receipt',
    {
      channel: 'store',
      event_type: 'pos_receipt',
      store_id: 'msk-01',
      receipt_number: 'R1',
      total_minor: 199_99,
      currency: 'RUB',
      payment_method: 'sbp',
      acquirer: 'sber',
      identifiers: { loyalty_card: '2770000000001' },
      items: [{ sku: 'A1', quantity: 1, price_minor: 199_99, amount_minor: 199_99, category: 'shoes' }],
    },
  ],
  [
    'store return',
    {
      channel: 'store',
      event_type: 'pos_return',
      store_id: 'msk-01',
      receipt_number: 'R2',
      original_receipt_number: 'R1',
      total_minor: 199_99,
      currency: 'RUB',
      payment_method: 'card',
      items: [],
    },
  ],
  [
    'pickup in store',
    { channel: 'pickup_point', event_type: 'picked_up', pickup_point_id: 'pp-1', identifiers: { order_id: 'O1' } },
  ],
  ['curbside pickup', { channel: 'pickup_point', event_type: 'curbside_pickup', pickup_point_id: 'pp-1' }],
  [
    'courier paid on delivery',
    {
      channel: 'courier',
      event_type: 'paid_on_delivery',
      delivery_id: 'D1',
      amount_minor: 5000_00,
      currency: 'RUB',
      payment_method: 'cash',
    },
  ],
  [
    'partial refusal',
    {
      channel: 'courier',
      event_type: 'partial_refusal',
      delivery_id: 'D1',
      refused_items: [{ sku: 'B2', quantity: 1, price_minor: 1000_00, amount_minor: 1000_00 }],
    },
  ],
  [
    'marketplace order',
    {
      channel: 'marketplace',
      event_type: 'order_paid',
      marketplace: 'ozon',
      marketplace_order_id: 'M1',
      amount_minor: 100_00,
      currency: 'RUB',
    },
  ],
  [
    'order placed by phone, fulfilled in store',
    {
      channel: 'call_center',
      event_type: 'order_created',
      amount_minor: 100_00,
      currency: 'RUB',
      placed_channel: 'call_center',
      fulfilled_channel: 'store',
      fulfilment: 'pickup_point',
    },
  ],
  [
    'ad cost',
    {
      family: 'ad-cost',
      cost_id: 'yandex_direct:c1:20780',
      date: 20780,
      channel: 'ads',
      source: 'yandex_direct',
      campaign: 'autumn',
      spend_minor: 12_345_00,
      currency: 'RUB',
      impressions: 1000,
      clicks: 50,
    },
  ],
]

describe('event intake', () => {
  it.each(samples)('turns a %s into a valid event of its family', async (_name, input) => {
    const outcome = await intakeEvent({ message_id: 'm-1', ...input }, context)
    expect(outcome.ok ? [] : outcome.errors).toEqual([])
  })

  it('infers the family from channel and event type', () => {
    expect(inferFamily('web', 'page_view')).toBe('digital')
    expect(inferFamily('ads', 'ad_click')).toBe('social')
    expect(inferFamily('web', 'order_paid')).toBe('order')
    expect(inferFamily('marketplace', 'order_paid')).toBe('marketplace')
    expect(inferFamily('fax', 'page_view')).toBeUndefined()
  })

  it('hashes raw e-mail and phone and keeps neither', async () => {
    const outcome = await intakeEvent(
      {
        channel: 'web',
        event_type: 'lead_form',
        identifiers: { email: ' Anna@Example.RU ', phone: '+7 (916) 123-45-67' },
      },
      context,
    )
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.errors))
    const text = JSON.stringify(outcome.event)
    expect(text).not.toMatch(/anna|example|916|123-45/i)
    expect(outcome.event.family === 'digital' && outcome.event.value.identifiers).toMatchObject({
      email_hash: context.hasher.email('anna@example.ru'),
      phone_hash: context.hasher.phone('89161234567'),
    })
  })

  it('derives the event id from source and message id, so a resend is the same event', async () => {
    const input = { channel: 'web', event_type: 'page_view', message_id: 'abc' }
    const [one, two] = await Promise.all([intakeEvent(input, context), intakeEvent(input, context)])
    const id = deterministicEventId('site', 'abc')
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(one?.ok && one.event.family === 'digital' && one.event.value.event_id).toBe(id)
    expect(two?.ok && two.event.family === 'digital' && two.event.value.event_id).toBe(id)
    expect(deterministicEventId('app', 'abc')).not.toBe(id)
  })

  it('takes an ISO 8601 event time and stamps the receive time', async () => {
    const outcome = await intakeEvent(
      { channel: 'web', event_type: 'page_view', event_time: '2026-11-21T08:30:00+03:00' },
      context,
    )
    if (!outcome.ok || outcome.event.family !== 'digital') throw new Error('not a digital event')
    expect(outcome.event.value.event_time).toBe(Date.parse('2026-11-21T05:30:00Z'))
    expect(outcome.event.value.received_at).toBe(Date.parse('2026-11-22T12:00:00Z'))
    expect(outcome.event.value.source).toBe('site')
  })

  it.each([
    ['not an object', 'hello', '(event)', /expected a JSON object/],
    ['an unknown family', { family: 'telex' }, 'family', /expected one of/],
    ['an unknown channel', { channel: 'fax', event_type: 'x' }, 'channel', /expected a channel that names/],
    ['a bad time', { channel: 'web', event_type: 'page_view', event_time: 'yesterday' }, 'event_time', /ISO 8601/],
    [
      'a bad phone',
      { channel: 'web', event_type: 'page_view', identifiers: { phone: '12' } },
      'identifiers.phone',
      /10 to 15 digits/,
    ],
    [
      'an unknown event type',
      { channel: 'call_center', event_type: 'call_ended', call_id: 5 },
      'call_id',
      /expected a string \(got 5\)/,
    ],
  ])('rejects %s naming the field', async (_name, input, field, message) => {
    const outcome = await intakeEvent(input, context)
    expect(outcome.ok).toBe(false)
    if (!outcome.ok) {
      expect(outcome.errors[0]?.field).toBe(field)
      expect(outcome.errors[0]?.message).toMatch(message)
    }
  })
})
