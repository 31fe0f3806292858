import { describe, expect, it } from 'vitest'
import { event } from '../test/fixtures/events.ts'
import { formatMinorUnits, toTouchpointRow } from './touchpoint-row.ts'

describe('touchpoint rows', () => {
  it.each([
    [0, '0.00'],
    [5, '0.05'],
    [123_45, '123.45'],
    [-99, '-0.99'],
    [-1_000_000_01, '-1000000.01'],
  ])('writes %i minor units as %s', (minor, text) => expect(formatMinorUnits(minor)).toBe(text))

  it('maps a touchpoint to a row with its Kafka origin and person key', () => {
    const row = toTouchpointRow(
      event('digital', {
        event_time: Date.parse('2026-03-01T10:00:00.123Z'),
        received_at: Date.parse('2026-03-01T10:00:01Z'),
        utm: { source: 'yandex', medium: 'cpc' },
        page_url: 'https://shop.example.ru/',
      }),
      { topic: 't', partition: 2, offset: '41', schemaId: 1 },
    )
    expect(row).toMatchObject({
      event_time: '2026-03-01 10:00:00.123',
      received_at: '2026-03-01 10:00:01.000',
      person_key: 'anonymous_id:cookie-1',
      family: 'digital',
      utm_source: 'yandex',
      utm_medium: 'cpc',
      device_id: '',
      revenue: '0.00',
      source_partition: 2,
      source_offset: '41',
      schema_id: 1,
    })
  })

  it.each([
    [
      'a receipt',
      event('receipt', {
        channel: 'store',
        event_type: 'pos_receipt',
        store_id: 's',
        receipt_number: 'r',
        items: [],
        total_minor: 1234,
        currency: 'RUB',
        payment_method: 'card',
      }),
      '12.34',
      '12.34',
    ],
    [
      'a return',
      event('receipt', {
        channel: 'store',
        event_type: 'pos_return',
        store_id: 's',
        receipt_number: 'r',
        items: [],
        total_minor: 1234,
        currency: 'RUB',
        payment_method: 'card',
      }),
      '-12.34',
      '12.34',
    ],
    [
      'a paid order',
      event('order', { event_type: 'order_paid', amount_minor: 500, currency: 'RUB', placed_channel: 'web' }),
      '5.00',
      '5.00',
    ],
    [
      'a refund',
      event('order', { event_type: 'order_refunded', amount_minor: 500, currency: 'RUB', placed_channel: 'web' }),
      '-5.00',
      '5.00',
    ],
    [
      'a created order',
      event('order', { event_type: 'order_created', amount_minor: 500, currency: 'RUB', placed_channel: 'web' }),
      '0.00',
      '5.00',
    ],
    [
      'a delivery paid to the courier',
      event('delivery', {
        channel: 'courier',
        event_type: 'paid_on_delivery',
        delivery_id: 'd',
        amount_minor: 700,
        currency: 'RUB',
      }),
      '0.00',
      '7.00',
    ],
  ])('counts the revenue of %s as %s (amount %s)', (_name, item, revenue, amount) => {
    const row = toTouchpointRow(item, { topic: 't', partition: 0, offset: '0', schemaId: 1 })
    expect({ revenue: row.revenue, amount: row.amount }).toEqual({ revenue, amount })
  })

  it('keeps family fields as JSON details and known consent flags', () => {
    const row = toTouchpointRow(
      event('call', {
        channel: 'call_center',
        event_type: 'call_ended',
        call_id: 'c1',
        duration_seconds: 42,
        consent: { marketing_sms: false },
      }),
      { topic: 't', partition: 0, offset: '0', schemaId: 1 },
    )
    expect(JSON.parse(row.details)).toMatchObject({ call_id: 'c1', duration_seconds: 42 })
    expect(JSON.parse(row.consent)).toEqual({ marketing_sms: false })
  })
})
